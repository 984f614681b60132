"""`prm demo`: the whole pipeline on the embedded default tasks, for math and for code.

    tasks -> tiny policy (trained once, cached) -> sample a training pool -> label it (MC rollouts;
    math also direct sympy labels) -> train a token-classification PRM and ORM, and the implicit pair
    (iprm on the verifiers' step labels, iorm on the same samples' outcomes, both log-ratio rewards
    from the judge against the policy) -> load the shipped learned pair (math: lprm / lorm, the same
    two label kinds on 51,200 samples from the policy against itself; prm/learned.py) -> best-of-N
    pool of N per test problem (judged, scored,
    sympy-checked) -> curves for every selection method -> beam search guided by the headline RM at
    matched compute -> reward-model quality -> report.md, bon_<domain>.png, results.json, manifest.json

A straight-line driver: each stage is one library call into its own package (tasks, policy,
search, labeling, train, eval), wrapped by `Stages` (prm/eval/manifest.py), which records its
status and time and lets the run go on past a failure. The small `_name` helpers below only
record what a stage produced (files, hashes, results.json blocks) and say it in one line.

Honesty rules (see also prm/eval/report.py):
- sizes, label source, headline aggregation and beam settings come from `DemoConfig`, fixed before
  the run; nothing is retried or re-seeded to improve a result;
- a stage that fails or whose module is missing is reported as such in report.md, and results
  depending on it are absent (never estimated);
- the reading of the results is generated from paired intervals by fixed rules.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from prm.demo_config import DemoConfig
from prm.eval.manifest import Stages, hash_dir, sha256_file, versions


def run_domain(domain: str, cfg: DemoConfig, out: Path, manifest: dict) -> dict:
    from prm.domains import DOMAINS
    from prm.eval.summary import pool_summary, scorer_quality
    from prm.labeling import label_pairs
    from prm.policy import resolve_policy
    from prm.sampler import EngineConfig, build_prompt, make_sampler
    from prm.scoring import load_scorer
    from prm.search import STRATEGIES
    from prm.tasks import load_tasks
    from prm.train import train_rm

    ddir, agg, bon = out / domain, cfg.headline_aggregation, STRATEGIES["bon"]
    ddir.mkdir(parents=True, exist_ok=True)
    st, man = Stages(out / "demo.log", domain), manifest.setdefault("domains", {}).setdefault(domain, {})
    res: dict = {"stages": st.table}
    tasks = st.run("tasks", lambda: _tasks(load_tasks(f"{domain}_train")[: cfg.n_train_problems],
                                           load_tasks(f"{domain}_test")[: cfg.n_test_problems], domain, man))
    train, test = tasks or (None, None)
    policy = st.run("policy", lambda: _policy(resolve_policy(domain, dict(cfg.policies).get(domain), cfg.cache_dir,
                                                             quick=cfg.quick_policy), man))
    sampler = st.run("sampler", lambda: _sampler(make_sampler(EngineConfig(model=str(policy), backend=cfg.backend,
                                                                           seed=cfg.seed)), man, manifest),
                     needs=(("policy", policy),))
    backbone = st.run("RM backbone", lambda: _backbone(cfg, domain, policy, man), needs=(("policy", policy),))
    prompt_fn = lambda q: build_prompt(str(policy), q)  # noqa: E731
    scorers: dict = {}
    try:
        pairs = st.run("sample train pool", lambda: _pairs(bon.run(train, sampler, {}, cfg.train_pool()), train, cfg),
                       needs=(("sampler", sampler), ("tasks", tasks)))
        labels = {m: st.run(f"label {m}", lambda m=m: _labels(m, label_pairs(m, pairs, sampler=sampler, prompt_fn=prompt_fn,
                                                                             rollout=cfg.rollout()), ddir, res, man),
                            needs=(("sample train pool", pairs),)) for m in cfg.label_methods(domain)}
        if labels.get("direct") and labels.get("mc"):
            res["label_agreement"] = _agreement(labels["direct"][1], labels["mc"][1])
        for kind, src in (("prm", cfg.prm_label_source(domain)), ("orm", "mc")):
            path = st.run(f"train {kind.upper()}", lambda kind=kind, src=src: _trained(train_rm(
                cfg.train_config(kind, str(backbone), labels[src][0], ddir / kind, DOMAINS[domain].sep), progress=False),
                kind, labels[src][0], cfg, man), needs=((f"label {src}", labels.get(src)), ("RM backbone", backbone)))
            scorers[kind] = st.run(f"load {kind.upper()} scorer", lambda path=path: _loaded(
                load_scorer(str(path), backend=cfg.scorer_backend), path), needs=((f"train {kind.upper()}", path),))
        # the implicit pair: step labels (iprm) and outcome labels (iorm) of the same samples, same start
        src = cfg.implicit_label_source(domain)
        for kind, lab in (("iprm", "step"), ("iorm", "outcome")):
            path = st.run(f"train {kind.upper()}", lambda kind=kind, lab=lab: _trained(train_rm(
                cfg.implicit_config(lab, str(backbone), str(policy), labels[src][0], ddir / kind, DOMAINS[domain].sep),
                progress=False), kind, labels[src][0], cfg, man, f"{lab} labels, {cfg.implicit_max_steps}"),
                needs=((f"label {src}", labels.get(src)), ("RM backbone", backbone)))
            scorers[kind] = st.run(f"load {kind.upper()} scorer", lambda path=path: _loaded(load_scorer(str(path)), path),
                                   needs=((f"train {kind.upper()}", path),))
        if cfg.learned_pair and policy is not None and (cfg.headline_rm(domain) in LEARNED
                                                        or _learned(policy, domain) is not None):
            got = st.run("learned pair", lambda: _learned_pair(policy, domain, man), needs=(("policy", policy),)) or {}
            scorers.update(got)
        if backbone is not None and backbone != policy:
            scorers["ratio"] = st.run("likelihood-ratio scorer", lambda: _ratio(backbone, policy, cfg, domain, ddir))
        scorers = {k: s for k, s in scorers.items() if s is not None}
        pool = st.run("best-of-N test pool", lambda: _pool(bon.run(test, sampler, scorers, cfg.test_pool()), ddir, man),
                      needs=(("sampler", sampler), ("tasks", tasks)))
        curves = st.run("best-of-N curves", lambda: _curves(pool_summary(pool, domain, repeats=cfg.repeats,
                                                                         seed=cfg.seed, aggregation=agg,
                                                                         pairs=cfg.declared_pairs(domain)), res),
                        needs=(("best-of-N test pool", pool),))
        head = cfg.headline_rm(domain)     # beam search is guided by the headline reward model
        st.run("beam search", lambda: _beam(STRATEGIES["beam"].run(test[: cfg.beam_problems], sampler,
                                                                    {head: scorers.get(head)}, cfg.beam_config()),
                                            cfg, head, curves, ddir, res),
               needs=(("learned pair" if head in LEARNED else f"load {head.upper()} scorer", scorers.get(head)),
                      ("sampler", sampler), ("tasks", tasks)))
        st.run("step quality", lambda: _quality(scorer_quality(pool, {k: s.kind for k, s in scorers.items()}, agg,
                                                               _step_labels(test, pool, domain)), res),
               needs=(("best-of-N test pool", pool), ("a reward model", scorers or None)))
        st.run("plot", lambda: _plot(res, curves, out, domain, agg), needs=(("best-of-N curves", curves),))
    finally:
        for closable in [*scorers.values(), *([sampler] if sampler else [])]:
            closable.close()
    res["setup"] = {**cfg.setup(domain), "RM backbone": "judge" if backbone is not None and backbone != policy
                    else "policy"}   # what ran: the policy where no judge was found or a policy was given
    if "lprm" in scorers:
        res["setup"]["learned pair"] = st.table["learned pair"]["detail"].rsplit("; ", 1)[-1]
    res["headline"] = cfg.headline(domain)
    man["timings"] = st.timings()
    return res


# ----------------------------------------------------------------------------- what each stage leaves behind
def _tasks(train, test, domain: str, man: dict):
    from prm.tasks import TASKS_DIR

    man["tasks"] = {f.name: sha256_file(f) for f in (TASKS_DIR / f"{domain}_train.jsonl", TASKS_DIR / f"{domain}_test.jsonl")}
    return (train, test), f"{len(train)} train / {len(test)} test problems from data/tasks"


def _policy(resolved, man: dict):
    path, detail, given = resolved
    man["policy"] = {"path": str(path), "sha256": hash_dir(path), **({"given": True} if given else {})}
    return path, detail


def _backbone(cfg: DemoConfig, domain: str, policy: Path, man: dict):
    """What the reward models start from: the judge (shipped for both embedded policies) or the policy."""
    from prm.judge import find_judge

    if cfg.rm_backbone != "judge":
        return policy, "the policy (asked for)"
    # never trained here (about 25 minutes): the demo's time budget holds only with a shipped or cached judge
    path, note = find_judge(policy, domain, cfg.cache_dir and Path(cfg.cache_dir) / "judge")
    if path is None:
        man["rm_backbone"] = {"path": str(policy), "note": note}
        return policy, f"the policy (no judge: {note})"
    man["rm_backbone"] = {"path": str(path), "sha256": hash_dir(path), "source": note}
    return path, f"judge: {note}"


LEARNED = ("lprm", "lorm")


def _learned(policy: Path, domain: str):
    """The shipped learned pair's directories for this policy (prm/learned.py), or None."""
    from prm.learned import find_pair

    found, _ = find_pair(policy, domain)
    return found


def _learned_pair(policy: Path, domain: str, man: dict):
    """Load the learned pair: never trained here (~35 minutes), so a policy without one fails this
    stage with the reason, and the results that need it are absent."""
    from prm.errors import UserError
    from prm.learned import find_pair
    from prm.scoring import load_scorer
    from prm.scoring.base import read_settings

    found, note = find_pair(policy, domain)
    if found is None:
        raise UserError(f"no learned pair for this policy ({note}); prm/learned.py says how to train and ship one")
    man["learned_pair"] = {name: {"path": str(path), "sha256": hash_dir(path)} for name, path in found.items()}
    data = read_settings(found["lprm"]).get("data", {})
    return ({name: load_scorer(str(path)) for name, path in found.items()},
            f"{note}; trained from the policy on {data.get('read', '?'):,} samples")


def _ratio(judge: Path, policy: Path, cfg: DemoConfig, domain: str, ddir: Path):
    from prm.domains import DOMAINS
    from prm.scoring import load_scorer
    from prm.scoring.implicit import write_ratio_settings

    # step_score "r": each step's own log-ratio, so `min` finds the worst step (chosen on validation)
    write_ratio_settings(ddir / "ratio", model=str(judge), ref_model=str(policy), beta=cfg.ratio_beta,
                         sep=DOMAINS[domain].sep, step_score="r")
    scorer = load_scorer(str(ddir / "ratio"))
    return scorer, f"beta {cfg.ratio_beta} x log pi_judge / pi_policy per step, no training"


def _sampler(sampler, man: dict, manifest: dict):
    manifest.setdefault("backend", sampler.backend)
    man["sampler_backend"] = sampler.backend
    return sampler, f"backend {sampler.backend}" + (
        " (vLLM installed)" if sampler.backend == "vllm" else " (vLLM not installed or not chosen)")


def _pairs(results, problems, cfg: DemoConfig):
    from prm.records import Sample

    by_id = {p.id: p for p in problems}
    pairs = [(by_id[r.problem_id], Sample(problem_id=r.problem_id, text=s.extra["text"], steps=s.steps))
             for r in results for s in r.samples if s.steps]
    return pairs, f"{len(pairs)} non-empty samples ({cfg.n_train_samples} per problem)"


def _labels(kind: str, records, ddir: Path, res: dict, man: dict):
    from prm.labeling import label_summary
    from prm.records import write_jsonl_atomic

    path = ddir / f"labels_{kind}.jsonl"
    write_jsonl_atomic(path, records)
    man[f"labels_{kind}_sha256"] = sha256_file(path)
    c = res.setdefault("labels", {})[kind] = label_summary(records)
    return (path, records), f"{c['records']} records, {c['judged']}/{c['steps']} steps judged, {c['positive']} positive"


def _agreement(direct, mc) -> dict:
    try:
        from prm.labeling.agreement import compare

        return compare([r.to_dict() for r in direct], [r.to_dict() for r in mc])
    except Exception as err:  # noqa: BLE001 - a summary, not a stage
        return {"error": f"{type(err).__name__}: {err}"}


def _trained(path: Path, kind: str, labels: Path, cfg: DemoConfig, man: dict, how: str | None = None):
    man[f"{kind}_sha256"] = hash_dir(path)
    return path, f"{kind.upper()} on {labels.name}, {how or cfg.rm_max_steps} steps"


def _loaded(scorer, path: Path):
    return scorer, f"{path.parent.name}/{path.name} ({scorer.kind})"


def _pool(results, ddir: Path, man: dict):
    from prm.records import write_jsonl_atomic

    records = [r for x in results for r in x.samples]
    write_jsonl_atomic(ddir / "pool.jsonl", records)
    man["pool_sha256"] = sha256_file(ddir / "pool.jsonl")
    scored = ", ".join(sorted(records[0].scores)) if records and records[0].scores else "no reward model"
    return records, (f"{len(results)} problems x {len(records) // max(1, len(results))} samples, "
                     f"{sum(r.correct for r in records)}/{len(records)} correct; scored by {scored}")


def _curves(summary, res: dict):
    curves, pools, block = summary
    res.update(block)
    return (curves, pools), f"N = {curves.ns}, {curves.repeats} draws, {len(curves.methods)} methods"


def _beam(results, cfg: DemoConfig, head: str, curves, ddir: Path, res: dict):
    from prm.eval.report import pct
    from prm.eval.summary import beam_summary
    from prm.records import write_jsonl_atomic

    b = cfg.beam
    res["beam"] = beam_summary(results, settings=f"width {b.beam_width}, expand {b.expand}, agg {b.aggregation}, "
                                                 f"guided by {head}",
                               compared_to=f"{head}:{b.aggregation}", seed=cfg.seed,
                               curves=curves[0] if curves else None, pools=curves[1] if curves else None)
    write_jsonl_atomic(ddir / "beam.jsonl", [s for r in results for s in r.samples])
    return res["beam"], f"{pct(res['beam']['accuracy'])} correct, {res['beam']['tokens_per_problem']:.0f} tokens/problem"


def _step_labels(problems, pool, domain: str) -> dict | None:
    """The direct sympy labels of every pool sample (domains with a step checker), by sample."""
    from prm.domains import DOMAINS
    from prm.eval.summary import sample_key
    from prm.labeling import label_pairs
    from prm.records import Sample

    if not pool or DOMAINS[domain].check_steps is None:
        return None
    by_id = {p.id: p for p in problems}
    kept = [r for r in pool if r.steps]
    recs = label_pairs("direct", [(by_id[r.problem_id], Sample(problem_id=r.problem_id, text=r.extra["text"],
                                                               steps=r.steps)) for r in kept])
    return {sample_key(r): rec.labels for r, rec in zip(kept, recs)}


def _quality(q: dict, res: dict):
    res["step_quality"] = q
    return q, f"{len(q)} scorer rows"


def _plot(res: dict, curves, out: Path, domain: str, agg: str):
    import numpy as np

    from prm.eval.plots import plot_bon

    points, b = [], res.get("beam")
    if b and b.get("bon_at_equal_compute"):
        n_eq = float(np.clip(b["bon_at_equal_compute"]["n_equivalent"], 1, curves[0].ns[-1]))
        points.append({"label": "PRM beam search (at equal tokens)", "n": n_eq, "mean": b["accuracy"],
                       "lo": b["lo"], "hi": b["hi"]})
    path = plot_bon(res["bon"], out / f"bon_{domain}.png", f"{domain}: accuracy vs N, tiny policy on embedded "
                    f"{domain} tasks", points=points, aggregation=agg)
    res["plot"] = path.name
    return path, path.name


# ----------------------------------------------------------------------------- the run
def run_demo(cfg: DemoConfig) -> Path:
    import torch

    from prm import __version__
    from prm.eval.report import write_outputs

    out = Path(cfg.out or f"runs/demo-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)  # why: prm/demo_config.py
    t0 = time.time()
    manifest: dict = {"toolkit": __version__, "versions": versions(), "seed": cfg.seed, "settings": cfg.to_dict(),
                      "argv": sys.argv, "started": datetime.now(timezone.utc).isoformat()}
    results: dict = {"command": " ".join(["prm", *sys.argv[1:]]) if sys.argv[1:2] == ["demo"] else "prm demo (library call)",
                     "created": manifest["started"], "headline_aggregation": cfg.headline_aggregation,
                     "domains": {}, "notes": []}
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
