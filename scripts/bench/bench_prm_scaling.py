"""PRM learning curve: best-of-16 and step/sample AUROC against training-set size, PRM vs ORM vs majority.

    python scripts/bench/bench_prm_scaling.py                      # sizes 256,1024,4096,12800 (~40 min, 2 cores)
    python scripts/bench/bench_prm_scaling.py --quick              # sizes 256,1024 on smaller pools (~8 min)
    python scripts/bench/bench_prm_scaling.py --sizes 256,4096 --backbone policy
    python scripts/bench/bench_prm_scaling.py --binary-max 12800 --mc-max 4096 --implicit-max 4096   # this session's run
    python scripts/bench/bench_prm_scaling.py --domain code --sizes 256,1024,4096

What it does, on the embedded math tasks with the shipped tiny policy (vLLM when installed):
1. pools, cached under --work: a TEST pool (the math_test split, 200 problems x 16 samples), a
   VALIDATION pool (problems 320-399 of the train split, x 16) and a TRAIN pool (the rest of the
   train stream, 8 samples each, up to the largest size); train samples are labeled `direct` (the
   sympy step checker: no rollouts) and `outcome` (the ORM's label) on the very same samples;
2. for each size: a token-classification PRM on the first SIZE direct-labeled samples and an ORM on
   their outcome labels, both from --backbone (the judge by default, prm/judge.py), at the fixed
   recipe below; every model is scored on the validation and the test pool;
3. reported per size: best-of-16 accuracy of the PRM (min aggregation) and the ORM next to majority
   vote, with the paired 95% interval of PRM - majority; step AUROC against the sympy verdicts; pooled
   sample AUROC and the within-problem AUROC (correct vs wrong samples of the same problem, averaged
   over problems: what best-of-N needs); plus the zero-training likelihood ratio judge / policy.

The recipe (lr 1e-3, batch 16, max(600, 2 epochs) steps, bare "\\n\\n" separator) was fixed on the
validation pool before the test pool was scored (docs/prm_diagnosis.md); nothing here is chosen on
the test pool. Validation numbers are printed beside the test numbers, apart.

Other label sources on the very same train samples (`--sources`): binary search and MC (K=4 policy
rollouts per prefix, seeded; binary to 12,800 samples in 269 s, MC capped by --mc-max), consensus
(a step kept only where MC and the sympy checker agree, Qwen's filtering; no new rollouts), and the
implicit PRM (outcome labels, from the policy against itself, the recipe chosen on validation).
`--domain code` runs the same curve on the code tasks (unit tests; binary labels, ORM, implicit PRM;
no step checker, so no direct or consensus labels and no step AUROC).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import Row, report  # noqa: E402

TEST_N, VAL_N, TRAIN_N = 16, 16, 8
VAL = (320, 400)            # train-stream indices held out for validation


def sample_pools(work: Path, n_train_problems: int, n_test: int, domain: str = "math") -> None:
    """Sample and label the three pools into `work` (skipped when present)."""
    from prm.labeling import label_pairs
    from prm.policy import ensure_policy
    from prm.records import Sample, write_jsonl_atomic
    from prm.sampler import EngineConfig, make_sampler
    from prm.search import STRATEGIES
    from prm.search.best_of_n import BestOfNConfig
    from prm.tasks import generate_split, load_tasks

    stream = generate_split(f"{domain}_train", max(VAL[1], n_train_problems + (VAL[1] - VAL[0])))
    train = stream[:VAL[0]] + stream[VAL[1]:][: max(0, n_train_problems - VAL[0])]
    todo = [(name, probs, n) for name, probs, n in (("test", load_tasks(f"{domain}_test")[:n_test], TEST_N),
                                                     ("val", stream[VAL[0]:VAL[1]], VAL_N), ("train", train, TRAIN_N))
            if not (work / f"{name}_outcome.jsonl").exists()]
    # a train pool sampled for fewer problems is topped up, never resampled: requests are seeded per
    # problem, so the new problems' samples are the ones a single larger run would have drawn, and the
    # first records (what every smaller size trains on) stay byte for byte
    have = _pool_problems(work / "train_outcome.jsonl")
    if "train" not in {t[0] for t in todo} and len(have) < len(train):
        todo.append(("train", [p for p in train if p.id not in have], TRAIN_N))
    if not todo:
        return
    sampler = make_sampler(EngineConfig(model=str(ensure_policy(domain)), seed=0))
    try:
        for name, probs, n in todo:
            res = STRATEGIES["bon"].run(probs, sampler, {}, BestOfNConfig(n=n, temperature=1.0, max_tokens=160))
            pairs = [(p, Sample(p.id, s.extra["text"], s.steps)) for p, r in zip(probs, res) for s in r.samples
                     if s.steps]
            # each file is whole before the next is touched; outcome last, since it marks the pool done
            files = {"": [s for r in res for s in r.samples], "_outcome": label_pairs("outcome", pairs)}
            if domain == "math":   # the sympy step checker; code has no per-step checker
                files["_direct"] = label_pairs("direct", pairs)
            done = _pool_problems(work / f"{name}_outcome.jsonl")
            for suffix in ("", "_direct", "_outcome"):
                if suffix in files:
                    extend_pool_file(work / f"{name}{suffix}.jsonl", files[suffix], done)
            print(f"pool {name}: {len(probs)} problems x {n}", flush=True)
    finally:
        sampler.close()


def extend_pool_file(path: Path, records, done: set) -> None:
    """Rewrite `path` as its records of the problems in `done` (the outcome file, written last, lists
    the problems whose pool is complete) followed by `records`. A run killed between two files leaves
    records of unfinished problems in the first; they are dropped here, so the rerun that samples those
    problems again does not double them."""
    from prm.records import write_jsonl_atomic

    old = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    write_jsonl_atomic(path, [r for r in old if r["problem_id"] in done] + list(records))


def _pool_problems(path: Path) -> set:
    """The problem ids a labelled pool file holds (empty when it is absent)."""
    if not path.exists():
        return set()
    return {json.loads(x)["problem_id"] for x in path.read_text().splitlines() if x.strip()}


def questions(domain: str = "math") -> dict:
    from prm.tasks import generate_split, load_tasks

    return {p.id: p.question for p in [*load_tasks(f"{domain}_test"), *generate_split(f"{domain}_train", 4000)]}


def train_pairs(work: Path, n: int, domain: str = "math") -> list:
    """(problem, sample) pairs of the first `n` labeled train-pool samples, in the order of the
    direct/outcome files (samples without steps were never labeled)."""
    from prm.records import PoolRecord, Sample
    from prm.tasks import generate_split

    probs = {p.id: p for p in generate_split(f"{domain}_train", 4000)}
    out = []
    for line in (work / "pools" / "train.jsonl").read_text().splitlines():
        r = PoolRecord.from_dict(json.loads(line))
        if r.steps:
            out.append((probs[r.problem_id], Sample(r.problem_id, r.extra["text"], r.steps)))
        if len(out) == n:
            return out
    raise SystemExit(f"the train pool has {len(out)} labeled samples < {n}")


def rollout_labels(work: Path, method: str, n: int, k: int, domain: str = "math") -> Path:
    """mc / binary labels (rollouts by the policy, K per prefix) of the first `n` train samples;
    cached as pools/train_{method}_k{K}_{n}.jsonl and reused for any smaller size."""
    from prm.labeling import RolloutConfig, label_pairs
    from prm.policy import ensure_policy
    from prm.records import write_jsonl_atomic
    from prm.sampler import EngineConfig, build_prompt, make_sampler

    have = sorted((int(f.stem.rsplit("_", 1)[1]), f) for f in (work / "pools").glob(f"train_{method}_k{k}_*.jsonl"))
    for m, f in have:
        if m >= n:
            return f
    dest = work / "pools" / f"train_{method}_k{k}_{n}.jsonl"
    policy = ensure_policy(domain)
    sampler = make_sampler(EngineConfig(model=str(policy), seed=0))
    t = time.time()
    try:
        recs = label_pairs(method, train_pairs(work, n, domain), sampler=sampler,
                           prompt_fn=lambda q: build_prompt(str(policy), q),
                           rollout=RolloutConfig(k=k, temperature=0.7, max_tokens=160, seed=0))
    finally:
        sampler.close()
    write_jsonl_atomic(dest, recs)
    print(f"labels {method} (K={k}): {n} samples in {time.time() - t:.0f} s", flush=True)
    return dest


def consensus_file(direct: Path, mc: Path, n: int, dest: Path) -> tuple[Path, dict]:
    """Consensus labels (Qwen's filtering: a step kept only where MC and the sympy checker agree) of
    the first `n` samples, from the two cached labelings (no new rollouts), and how many steps survive."""
    from prm.labeling.consensus import consensus_labels

    out, total = [], {"steps": 0, "agreed": 0, "disagreed": 0, "one_side_unlabeled": 0, "kept": 0}
    d_lines, m_lines = direct.read_text().splitlines()[:n], mc.read_text().splitlines()[:n]
    for dl, ml in zip(d_lines, m_lines):
        d, m = json.loads(dl), json.loads(ml)
        if d["problem_id"] != m["problem_id"] or d["completions"] != m["completions"]:
            raise SystemExit(f"{direct} and {mc} are not the same samples in the same order")
        labels, counts = consensus_labels(m["labels"], d["labels"])
        for key in total:
            total[key] += counts[key]
        if any(v is not None for v in labels):   # a record with no kept step teaches nothing
            out.append(json.dumps({**d, "labels": labels}))
    dest.write_text("\n".join(out) + "\n")
    return dest, {**total, "records": len(out)}


def first_error(verdicts) -> list:
    out, bad = [], False
    for v in verdicts or []:
        bad = bad or v is False
        out.append(None if (v is None and not bad) else not bad)
    return out


def evaluate(recs, step_scores, *, seed: int = 0, domain: str = "math") -> dict:
    """The numbers best-of-N needs, from a pool and per-step scores in (0, 1)."""
    from prm.eval.metrics import auroc
    from prm.eval.summary import pool_summary
    from prm.records import PoolRecord
    from prm.search.aggregate import aggregate

    agg = [aggregate(s, "min") for s in step_scores]
    pairs = [(s, bool(v)) for r, sc in zip(recs, step_scores) for s, v in zip(sc, r.step_verdicts or [])
             if v is not None and not math.isnan(s)]
    ss, ll = [p[0] for p in pairs], [p[1] for p in pairs]   # none for code: no step checker
    by = defaultdict(list)
    for r, a in zip(recs, agg):
        by[r.problem_id].append((a, r.correct))
    within = [x for x in (auroc([a for a, _ in v], [c for _, c in v]) for v in by.values()) if x is not None]
    scored = [PoolRecord.from_dict({**r.to_dict(), "scores": {"rm": [float(x) for x in sc] or [0.0]}})
              for r, sc in zip(recs, step_scores)]
    curves, _, block = pool_summary(scored, domain, repeats=200, seed=seed, aggregation="min")
    m, d = block["bon"]["methods"], curves.paired_delta("rm:min", "majority")
    # every method at N=16 (each aggregation, weighted vote, sympy-gated, oracle) and, for each of the
    # RM's selections, the paired 95% interval against majority vote
    every = {k: v["mean"][-1] for k, v in m.items()}
    paired = {k: [x[-1] for x in (dd["mean"], dd["lo"], dd["hi"])]
              for k in m if k.startswith(("rm:", "weighted:rm:")) for dd in [curves.paired_delta(k, "majority")]}
    return {"methods": every, "paired_vs_majority": paired, "bo16": m["rm:min"]["mean"][-1], "majority": m["majority"]["mean"][-1], "random": m["random"]["mean"][-1],
            "oracle": m["oracle"]["mean"][-1], "weighted": m["weighted:rm:min"]["mean"][-1],
            "delta_vs_majority": [d["mean"][-1], d["lo"][-1], d["hi"][-1]],
            "step_auroc": auroc(list(ss), list(ll)), "sample_auroc": auroc(agg, [r.correct for r in recs]),
            "within_auroc": sum(within) / len(within) if within else None}


def score(scorer, recs, qs) -> list[list[float]]:
    out = scorer.score_batch([(qs[r.problem_id], r.steps or [""]) for r in recs])
    if scorer.kind == "orm":   # one score per sample: as a one-step PRM, so min/prod/last are that score
        out = [[s[0]] for s in out]
    return out


def fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def subset(path: Path, size: int, dest: Path) -> Path:
    lines = path.read_text().splitlines()
    if size > len(lines):
        raise SystemExit(f"{path}: {len(lines)} records < size {size}; give fewer/smaller --sizes")
    dest.write_text("\n".join(lines[:size]) + "\n")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="256,1024,4096,12800", help="training-set sizes (samples), comma-separated")
    ap.add_argument("--domain", default="math", choices=("math", "code"),
                    help="math (sympy step checker, judge backbone) or code (unit tests; policy backbone)")
    ap.add_argument("--backbone", default="auto", help="auto (math: judge, code: policy) | judge | policy | a model dir")
    ap.add_argument("--work", default=None,
                    help="pools, models and results, reused (default runs/bench_prm_scaling, code: ..._code)")
    ap.add_argument("--quick", action="store_true", help="sizes 256,1024; 60 test problems")
    ap.add_argument("--no-save", action="store_true", help="print only (no scripts/bench/results line)")
    ap.add_argument("--sources", default=None,
                    metavar="LIST (math default: direct,binary,mc,consensus,implicit; code: binary,implicit)",
                    help="label sources beside the ORM: direct (sympy), binary / mc (policy rollouts, K per prefix), "
                         "consensus (mc and direct agree), implicit (implicit PRM on outcome labels, from the policy)")
    ap.add_argument("--rollout-k", type=int, default=4, help="rollouts per prefix for mc and binary labels")
    ap.add_argument("--binary-max", type=int, default=4096, help="largest size labeled by binary search (rollout CPU)")
    ap.add_argument("--mc-max", type=int, default=1024, help="largest size labeled by mc, and so by consensus")
    ap.add_argument("--implicit-max", type=int, default=4096, help="largest size the implicit PRM is trained at")
    a = ap.parse_args()
    import torch

    from prm.eval.plots import plt   # matplotlib with the Agg backend chosen
    from prm.judge import ensure_judge
    from prm.policy import ensure_policy
    from prm.records import PoolRecord
    from prm.scoring import load_scorer
    from prm.scoring.implicit import write_ratio_settings
    from prm.train import TrainConfig, train_rm

    torch.set_num_threads(1)
    from prm.domains import DOMAINS

    domain, sep = a.domain, DOMAINS[a.domain].sep
    sizes = [256, 1024] if a.quick else [int(x) for x in a.sizes.split(",")]
    work = Path(a.work or ("runs/bench_prm_scaling" if domain == "math" else "runs/bench_prm_scaling_code"))
    a.sources = a.sources or ("direct,binary,mc,consensus,implicit" if domain == "math" else "binary,implicit")
    if domain == "code" and {"direct", "consensus"} & set(a.sources.split(",")):
        raise SystemExit("--sources: direct and consensus need the math step checker")
    (work / "pools").mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    sample_pools(work / "pools", n_train_problems=math.ceil(max(sizes) / TRAIN_N) + VAL[1] - VAL[0],
                 n_test=60 if a.quick else 200, domain=domain)
    policy = ensure_policy(domain)
    choice = a.backbone if a.backbone != "auto" else ("judge" if domain == "math" else "policy")
    backbone = {"judge": lambda: ensure_judge(domain, policy_dir=policy), "policy": lambda: policy}.get(
        choice, lambda: Path(a.backbone))()
    qs = questions(domain)
    pools = {k: [PoolRecord.from_dict(json.loads(x)) for x in (work / "pools" / f"{k}.jsonl").read_text().splitlines()]
             for k in ("val", "test")}
    results: dict = {"domain": domain, "sizes": sizes, "backbone": str(backbone), "pools": {k: len(v) for k, v in pools.items()}, "runs": {}}
    if Path(backbone) != Path(policy):
        write_ratio_settings(work / "ratio", model=str(backbone), ref_model=str(policy), beta=1.0, sep=sep,
                             step_score="r")
        sc = load_scorer(str(work / "ratio"))
        results["runs"]["ratio"] = {k: evaluate(v, score(sc, v, qs), domain=domain) for k, v in pools.items()}
    for size in sizes:
        for kind, labels in ((("prm", "direct"),) if domain == "math" else ()) + (("orm", "outcome"),):
            out = work / f"{kind}-{size}"
            if not (out / "config.json").exists():
                train_file = subset(work / "pools" / f"train_{labels}.jsonl", size, work / f"train_{labels}_{size}.jsonl")
                train_rm(TrainConfig(model=str(backbone), train_file=str(train_file), output_dir=str(out), objective=kind,
                                     sep=sep, max_steps=max(600, math.ceil(2 * size / 16)),
                                     per_device_train_batch_size=16, learning_rate=1e-3, warmup_ratio=0.05,
                                     resume=False, save_steps=10 ** 6, logging_steps=100), progress=False)
            sc = load_scorer(str(out), backend="transformers")
            results["runs"][f"{kind}-{size}"] = {k: evaluate(v, score(sc, v, qs), domain=domain) for k, v in pools.items()}
            t = results["runs"][f"{kind}-{size}"]["test"]
            print(f"{kind} n={size}: test best-of-16 {t['bo16']:.3f} (majority {t['majority']:.3f}), "
                  f"within-problem AUROC {t['within_auroc']:.3f}, step AUROC {t['step_auroc']}", flush=True)
    sources = [x for x in a.sources.split(",") if x]
    unknown = set(sources) - {"direct", "binary", "mc", "consensus", "implicit"}
    if unknown:
        raise SystemExit(f"--sources: unknown {sorted(unknown)}")
    caps = {"binary": a.binary_max, "mc": a.mc_max, "consensus": a.mc_max, "implicit": a.implicit_max}
    results["labels"] = {}
    for source in [x for x in sources if x != "direct"]:
        todo = [n for n in sizes if n <= caps[source]]
        if not todo:
            continue
        if source in ("binary", "mc", "consensus"):
            full = rollout_labels(work, "binary" if source == "binary" else "mc", max(todo), a.rollout_k, domain)
        for size in todo:
            out = work / f"prm-{source}-{size}"
            if source == "consensus":
                direct = subset(work / "pools" / "train_direct.jsonl", size, work / f"train_direct_{size}.jsonl")
                train_file, kept = consensus_file(direct, full, size, work / f"train_consensus_{size}.jsonl")
                results["labels"][f"consensus-{size}"] = kept
            elif source == "implicit":
                train_file = subset(work / "pools" / "train_outcome.jsonl", size, work / f"train_outcome_{size}.jsonl")
            else:
                train_file = subset(full, size, work / f"train_{source}_k{a.rollout_k}_{size}.jsonl")
            if not (out / "config.json").exists():
                # implicit: the paper's set-up (policy against itself, starts at zero reward) with the recipe
                # chosen on validation (docs/prm_diagnosis.md section 5); the others: the direct-label recipe
                cfg = (TrainConfig(model=str(policy), ref_model=str(policy), train_file=str(train_file), output_dir=str(out),
                                   objective="implicit", beta=0.05, sep=sep, max_steps=max(300, math.ceil(size / 16)),
                                   per_device_train_batch_size=16, learning_rate=5e-4, warmup_ratio=0.05, resume=False,
                                   save_steps=10 ** 6, logging_steps=100)
                       if source == "implicit" else
                       TrainConfig(model=str(backbone), train_file=str(train_file), output_dir=str(out), objective="prm",
                                   sep=sep, max_steps=max(600, math.ceil(2 * size / 16)), per_device_train_batch_size=16,
                                   learning_rate=1e-3, warmup_ratio=0.05, resume=False, save_steps=10 ** 6,
                                   logging_steps=100))
                train_rm(cfg, progress=False)
            sc = load_scorer(str(out), backend="transformers")
            results["runs"][f"prm-{source}-{size}"] = {k: evaluate(v, score(sc, v, qs), domain=domain)
                                                       for k, v in pools.items()}
            t = results["runs"][f"prm-{source}-{size}"]["test"]
            print(f"prm[{source}] n={size}: test best-of-16 {t['bo16']:.3f} (majority {t['majority']:.3f}), "
                  f"within-problem AUROC {t['within_auroc']:.3f}, step AUROC {t['step_auroc']}", flush=True)
    results["seconds"] = round(time.time() - t0)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    fig, ax = plt.subplots(figsize=(6, 4))
    for kind, style in (("prm", "o-"), ("orm", "s--")):
        if f"{kind}-{sizes[0]}" not in results["runs"]:
            continue
        ax.plot(sizes, [results["runs"][f"{kind}-{n}"]["test"]["bo16"] for n in sizes], style,
                label="PRM (direct labels)" if kind == "prm" else "ORM (outcome labels)")
    for source, style in (("binary", "^-"), ("mc", "v-"), ("consensus", "D-"), ("implicit", "x-")):
        xs = [n for n in sizes if f"prm-{source}-{n}" in results["runs"]]
        if xs:
            ax.plot(xs, [results["runs"][f"prm-{source}-{n}"]["test"]["bo16"] for n in xs], style,
                    label=f"implicit PRM (outcome labels)" if source == "implicit" else f"PRM ({source} labels)")
    t0r = results["runs"][f"orm-{sizes[0]}"]["test"]
    for name, y, style in (("majority", t0r["majority"], ":"), ("random sample", t0r["random"], "-."),
                           ("pass@16", t0r["oracle"], "-")):
        ax.axhline(y, linestyle=style, color="grey", label=name)
    if "ratio" in results["runs"]:
        ax.axhline(results["runs"]["ratio"]["test"]["bo16"], color="green", label="likelihood ratio (no training)")
    ax.set_xscale("log"), ax.set_xlabel("training samples"), ax.set_ylabel("accuracy (test, N=16)"), ax.legend(fontsize=7)
    fig.savefig(work / "prm_scaling.png", dpi=120)
    rows = []
    for n in sizes if domain == "math" else []:
        t, v = results["runs"][f"prm-{n}"]["test"], results["runs"][f"prm-{n}"]["val"]
        o = results["runs"][f"orm-{n}"]["test"]
        d = t["delta_vs_majority"]
        rows += [Row(f"n={n}: PRM best-of-16 vs majority (test)", t["bo16"], t["majority"],
                     note=f"paired diff {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]; val {v['bo16']:.3f} vs {v['majority']:.3f}"),
                 Row(f"n={n}: PRM vs ORM best-of-16 (test)", t["bo16"], o["bo16"]),
                 Row(f"n={n}: PRM within-problem AUROC vs 0.5 (test)", t["within_auroc"], 0.5,
                     note=f"step AUROC {t['step_auroc']:.3f}, sample AUROC {t['sample_auroc']:.3f}")]
    for n in sizes if domain == "code" else []:
        t = results["runs"][f"orm-{n}"]["test"]
        rows.append(Row(f"n={n}: ORM best-of-16 vs majority (test)", t["bo16"], t["majority"],
                        note=f"within-problem AUROC {fmt(t['within_auroc'])}"))
    for key, run in results["runs"].items():
        if key.count("-") == 2:   # prm-{source}-{size}
            t, v, d = run["test"], run["val"], run["test"]["delta_vs_majority"]
            rows.append(Row(f"{key}: best-of-16 vs majority (test)", t["bo16"], t["majority"],
                            note=f"paired diff {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]; within-problem AUROC "
                                 f"{t['within_auroc']:.3f}, step AUROC {fmt(t['step_auroc'])}; val {v['bo16']:.3f}"))
    if "ratio" in results["runs"]:
        r = results["runs"]["ratio"]["test"]
        rows.append(Row("likelihood ratio judge/policy, no training: best-of-16 vs majority (test)", r["bo16"],
                        r["majority"], note=f"within-problem AUROC {r['within_auroc']:.3f}, step AUROC {r['step_auroc']:.3f}"))
    report("prm_scaling" if domain == "math" else "prm_scaling_code",
           f"PRM learning curve: best-of-16 vs training-set size ({domain}, tiny policy)", rows,
           ours="reward model", theirs="baseline", save=not a.no_save, extra=results,
           notes=[f"backbone {Path(backbone).name}; test pool {len(pools['test'])} samples, validation "
                  f"{len(pools['val'])}; plot {work / 'prm_scaling.png'}; {results['seconds']} s"])


if __name__ == "__main__":
    main()
