"""Evaluate reward models and search methods.

  prm eval bon --pool pool.jsonl --out runs/bon           # accuracy-vs-N curves for a scored pool
  prm eval processbench --data olympiadbench.json --scorer sympy
  prm eval processbench --data omnimath.json --scorer runs/demo/math/prm --threshold 0.5
  prm eval steps --data labeled.jsonl --scorer runs/demo/math/prm   # step AUROC and ECE

`bon`: the pool is one JSON line per sample with `problem_id`, `correct` and `scores` ({rm: float
for an outcome score, or a list of step scores}); see prm/eval/pool.py for the optional fields.
Curves use Lightman's protocol: N drawn from the fixed pool `--repeats` times per N; 95% intervals
also resample problems. Writes results.json, report.md and bon.png to --out.

`processbench`: predicted first error = first step the scorer rejects (sympy: proven false; a PRM:
P(correct) < --threshold). Accuracy on erroneous samples, on correct samples, and their F1 (the
harmonic mean). For a PRM, `--threshold-from gsm8k` chooses the threshold that maximises F1 on
gsm8k.json and applies it to the other files (gsm8k itself is marked, never reported as a result);
`--threshold-sweep` writes F1 against the threshold to OUT/sweep.csv. results.json records the
threshold used and where it was chosen. Published PRMs (Qwen2.5-Math-PRM, Math-Shepherd, RLHFlow,
Skywork, TRL) are read their own way (`--format`, docs/real_models.md section 7):

  prm eval processbench --scorer Qwen2.5-Math-PRM-7B --data gsm8k.json --data math.json --out runs/pb
  prm eval processbench --scorer math-shepherd-mistral-7b-prm --threshold-from gsm8k \
      --data gsm8k.json --data math.json --data olympiadbench.json --data omnimath.json --out runs/pb

`compute-optimal` (Snell et al. 2024): bins problems by a difficulty read without ground truth (the
scorer's mean over each problem's first --probe pool samples), chooses per bin and per token budget
the best configuration -- best-of-n / weighted vote / majority at every n of the pool, and every
--run (a beam, DVTS or particle-filtering output) -- on the validation problems, and reports the
frontier on the test problems against best-of-N (--reference), with a paired 95% interval:

  prm eval compute-optimal --val-pool val_bon.jsonl --test-pool test_bon.jsonl --scorer ratio:min \
      --run pf@8=val_pf8.jsonl,test_pf8.jsonl --run dvts@16=val_dvts16.jsonl,test_dvts16.jsonl --out runs/co

`steps`: step AUROC and expected calibration error of a scorer on stepwise records (labels True/
1.0 = correct; floats are thresholded at 0.5 for AUROC and ECE; null labels are skipped).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from prm.commands.argtypes import nonneg_int, open_fraction, positive_int
from prm.commands.scorer_flags import add_format_flags
from prm.errors import UserError
from prm.paths import check_paths


def add_arguments(p):
    sub = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    b = sub.add_parser("bon", help="best-of-N / majority / weighted-vote curves from a scored pool")
    b.add_argument("--pool", required=True, help="JSONL, one scored sample per line (prm/eval/pool.py)")
    b.add_argument("--out", default=None, help="output folder (default: runs/eval-bon-TIMESTAMP)")
    b.add_argument("--repeats", type=positive_int, default=200, help="subsample draws per N")
    b.add_argument("--seed", type=nonneg_int, default=0, help="seed for the draws")
    b.add_argument("--min-pool", type=positive_int, default=None, metavar="K",
                   help="drop problems with fewer than K samples (reported), so a smaller pool does not cap "
                        "every curve; default: keep all, curves stop at the smallest pool (said on stderr)")
    b.add_argument("--ns", default=None, help="comma-separated N values (default: 1,2,4,... up to the smallest pool)")
    b.add_argument("--aggregations", default="min,prod,last,mean", help="PRM step aggregations to report")
    b.add_argument("--methods", default=None,
                   help="comma-separated method names (e.g. prm:min,orm,majority,oracle); default: all that apply")
    b.add_argument("--no-sympy", action="store_true", help="do not run the sympy step checker on pool steps")
    b.add_argument("--title", default=None, help="plot title (default: the pool file name)")

    q = sub.add_parser("processbench", help="first-error identification on ProcessBench-format data")
    q.add_argument("--data", required=True, action="append", help="ProcessBench JSON/JSONL file (repeatable)")
    q.add_argument("--scorer", required=True,
                   help="'sympy', a PRM directory (from `prm train`, or a published PRM: Qwen2.5-Math-PRM, Math-Shepherd, "
                        "RLHFlow, Skywork value head, TRL; its format is read from config.json, --format overrides), "
                        "or a `prm serve` URL")
    q.add_argument("--threshold", type=open_fraction, default=None,
                   help="a step with P(correct) below this is an error (default 0.5, fixed before looking at the data)")
    q.add_argument("--threshold-from", default=None, metavar="SPLIT",
                   help="choose the threshold that maximises F1 on SPLIT (the stem of one --data file, e.g. gsm8k, or "
                        "another ProcessBench file) and apply it to the other files; SPLIT itself is not reported as "
                        "a result (marked, and left out of the average)")
    q.add_argument("--threshold-sweep", action="store_true",
                   help="also write each file's F1-vs-threshold curve (0.01..0.99) to --out/sweep.csv and results.json; "
                        "a curve, not a result: its best point is tuned on the split it is drawn on")
    add_format_flags(q)
    q.add_argument("--limit", type=positive_int, default=None,
                   help="evaluate a seeded random subset of N records of each file (files are often sorted by label, "
                        "so the first N would be one class)")
    q.add_argument("--seed", type=nonneg_int, default=0, help="seed for --limit")
    q.add_argument("--backend", default="auto", help="scorer backend: auto, transformers or vllm")
    q.add_argument("--out", default=None, help="write results.json here (optional)")

    s = sub.add_parser("steps", help="step AUROC and calibration (ECE) on labeled stepwise records")
    s.add_argument("--data", required=True, help="stepwise JSONL (prompt, completions, labels)")
    s.add_argument("--scorer", required=True, help="a trained PRM directory or a `prm serve` URL")
    s.add_argument("--backend", default="auto", help="scorer backend: auto, transformers or vllm")
    s.add_argument("--limit", type=positive_int, default=None, help="only the first N records")
    add_format_flags(s)
    c = sub.add_parser("compute-optimal", help="per-difficulty-bin strategy and budget, chosen on validation; "
                                               "the frontier on test against best-of-N")
    c.add_argument("--val-pool", required=True, help="best-of-N pool JSONL of the validation problems (prm search --method bon)")
    c.add_argument("--test-pool", required=True, help="best-of-N pool JSONL of the test problems, same scorer")
    c.add_argument("--scorer", default=None, metavar="RM[:AGG]",
                   help="the pool's reward model that ranks best-of-n and rates difficulty (default: the first; "
                        "a PRM's steps aggregated by AGG, default min)")
    c.add_argument("--run", action="append", default=[], metavar="NAME=VAL_FILE,TEST_FILE",
                   help="a step-level search output (prm search --method beam|dvts|pf) on the validation and the "
                        "test problems; its tokens read from extra.cost (repeatable)")
    c.add_argument("--probe", type=positive_int, default=4,
                   help="difficulty = the scorer's mean over the first K samples of a problem's pool; those K "
                        "samples are charged to every configuration (best-of-n reuses them)")
    c.add_argument("--bins", type=positive_int, default=4, help="difficulty bins (validation quantiles)")
    c.add_argument("--ns", default=None, help="best-of-n sizes taken from the pools (default 1,2,4,... up to the smallest pool)")
    c.add_argument("--reference", default=None,
                   help="the configuration to reach (default: bon-naive at the largest n)")
    c.add_argument("--seed", type=nonneg_int, default=0, help="seed of the bootstrap interval")
    c.add_argument("--out", default=None, help="write results.json here (optional)")
    for sp in (b, q, s, c):
        sp.set_defaults(_sub=sp)


BON_FILES = ("results.json", "manifest.json", "report.md", "bon.png")  # what `prm eval bon` writes in --out


def load_model_scorer(path: str, backend: str = "auto", format: str | None = None, sep: str | None = None):
    try:
        from prm.scoring import load_scorer
        from prm.scoring.remote import is_url
    except ImportError as e:
        raise UserError(f"--scorer: model scoring is not available in this install ({e})") from None
    if not is_url(path) and not Path(path).exists():  # a `prm serve` URL is not a path
        raise UserError(f"--scorer: no such model directory: {path}")
    return load_scorer(path, backend=backend, format=format, sep=sep)


def _bon(args) -> int:
    from prm.eval.bon import CurveConfig, bon_curves, default_methods, describe_cap, pool_cap
    from prm.eval.hacking import diagnostics
    from prm.eval.plots import plot_bon
    from prm.eval.pool import build_pools, read_pool
    from prm.eval.report import comparisons, pct, write_outputs
    from prm.search.aggregate import AGGREGATIONS
    from prm.search.select import Method

    aggs = [a.strip() for a in args.aggregations.split(",") if a.strip()]
    for a in aggs:
        if a not in AGGREGATIONS:
            raise UserError(f"--aggregations: unknown {a!r}; choose from {', '.join(AGGREGATIONS)}")
    try:
        ns = tuple(int(x) for x in args.ns.split(",")) if args.ns else None
    except ValueError:
        raise UserError(f"--ns: expected comma-separated integers, got {args.ns!r}") from None
    if ns and min(ns) < 1:
        raise UserError("--ns: N must be at least 1")
    out = Path(args.out or f"runs/eval-bon-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    # the pool may sit in --out (runs/x/pool.jsonl, --out runs/x): only the files written must differ
    check_paths(inputs={"--pool": args.pool}, outputs={"--out": [out / f for f in BON_FILES]})
    t0 = time.time()
    samples = read_pool(args.pool)
    if not samples:
        raise UserError(f"{args.pool}: no samples")
    check = (lambda steps: [None] * len(steps)) if args.no_sympy else None
    pools = build_pools(samples, aggregations=aggs, check=check, progress=True)
    dropped = []
    if args.min_pool:
        dropped = [p.problem_id for p in pools if len(p) < args.min_pool]
        pools = [p for p in pools if len(p) >= args.min_pool]
        if not pools:
            raise UserError(f"--min-pool {args.min_pool}: no problem has that many samples")
        if dropped:
            print(f"prm eval bon: --min-pool {args.min_pool} dropped {len(dropped)} problem(s) with smaller pools: "
                  f"{', '.join(map(str, dropped[:10]))}{' ...' if len(dropped) > 10 else ''}", file=sys.stderr)
    cap = pool_cap(pools)
    if cap:
        print(f"prm eval bon: note: {describe_cap(cap)}", file=sys.stderr)
    if args.methods:
        try:
            methods = [Method.parse(m.strip()) for m in args.methods.split(",") if m.strip()]
        except ValueError as e:
            raise UserError(f"--methods: {e}") from None
        known = {k for p in pools for k in p.scores}
        for m in methods:
            if m.rm is not None and m.score_key not in known:
                raise UserError(f"--methods: {m.name!r} needs scores {m.score_key}, the pool has "
                                f"{sorted(f'{r}:{a}' if a else r for r, a in known)}")
    else:
        methods = default_methods(pools, aggregations=aggs, gated=False if args.no_sympy else None)
    smallest = min(len(p) for p in pools)
    if ns and max(ns) > smallest:
        raise UserError(f"--ns: N={max(ns)} exceeds the smallest pool ({smallest} samples)")
    curves = bon_curves(pools, methods, CurveConfig(ns=ns, repeats=args.repeats, seed=args.seed), progress=True)
    bon = curves.to_dict()
    plot = plot_bon(bon, out / "bon.png", args.title or f"best-of-N on {Path(args.pool).name}")

    domain = pools[0].domain
    d = {"stages": {"curves": {"status": "ran", "seconds": time.time() - t0, "detail": f"{len(samples)} samples"}},
         "setup": {"pool": args.pool, "problems": len(pools), "smallest_pool": smallest, "pool_cap": cap,
                   "dropped_by_min_pool": dropped},
         "bon": bon, "deltas": comparisons(curves), "plot": plot.name,
         "hacking": diagnostics(curves, pools, domain)}
    results = {"command": f"prm eval bon --pool {args.pool}", "created": datetime.now(timezone.utc).isoformat(),
               "domains": {domain: d}}
    manifest = {"backend": "none (pool given)", "pool": str(args.pool), "seed": args.seed, "repeats": args.repeats,
                "aggregations": aggs}
    write_outputs(out, results, manifest)
    n = bon["ns"][-1]
    width = max(len(k) for k in bon["methods"])
    print(f"{len(pools)} problems, N up to {n}, {args.repeats} draws per N")
    for k, s in bon["methods"].items():
        print(f"  {k:<{width}}  N=1 {pct(s['mean'][0]):>6}   N={n} {pct(s['mean'][-1]):>6} "
              f"[{pct(s['lo'][-1])}, {pct(s['hi'][-1])}]")
    print(f"wrote {out}/report.md, results.json, bon.png")
    return 0


def _processbench(args) -> int:
    from prm.eval.processbench import (best_threshold, collect_scores, evaluate, precomputed_predictor,
                                       read_processbench, sympy_predictor, threshold_curve)
    from prm.eval.report import pct, write_json

    sympy = args.scorer == "sympy"
    model_only = [f for f, v in (("--threshold", args.threshold), ("--threshold-from", args.threshold_from),
                                 ("--threshold-sweep", args.threshold_sweep), ("--format", args.format),
                                 ("--sep", args.sep)) if v not in (None, False)]
    if sympy and model_only:
        raise UserError(f"{', '.join(model_only)}: for a model scorer; sympy gives verdicts, not scores")
    if args.threshold is not None and args.threshold_from:
        raise UserError("give --threshold or --threshold-from, not both")
    if args.threshold_sweep and not args.out:
        raise UserError("--threshold-sweep writes OUT/sweep.csv: give --out")
    stems = [Path(f).stem for f in args.data]
    if len(set(stems)) < len(stems):
        twice = sorted({s for s in stems if stems.count(s) > 1})
        raise UserError(f"--data: two files share a name ({', '.join(twice)}); results are keyed by file name")
    tune_file = None
    if args.threshold_from and args.threshold_from not in stems:
        if not Path(args.threshold_from).is_file():
            raise UserError(f"--threshold-from {args.threshold_from}: neither the name of a --data file "
                            f"({', '.join(stems)}) nor a ProcessBench file")
        tune_file = args.threshold_from
    tune = Path(tune_file).stem if tune_file else args.threshold_from
    if tune and tune_file is None and len(stems) == 1:
        raise UserError(f"--threshold-from {tune}: it is the only --data file, and a threshold tuned on a split is "
                        "never reported on it; add the files to apply it to")
    check_paths(inputs={"--data": args.data, "--threshold-from": tune_file},
                models={"--scorer": None if sympy else args.scorer},
                outputs={"--out": args.out and [Path(args.out) / "results.json", Path(args.out) / "sweep.csv"]})
    datasets = {Path(f).stem: read_processbench(f) for f in args.data + ([tune_file] if tune_file else [])}
    if args.limit:
        import random

        for name, items in datasets.items():
            if args.limit < len(items):
                keep = sorted(random.Random(args.seed).sample(range(len(items)), args.limit))
                datasets[name] = [items[i] for i in keep]
    results, sweeps, threshold = {}, {}, None
    if sympy:
        for name, items in datasets.items():
            r = evaluate(items, sympy_predictor(), progress=True)
            results[name] = {**r, "scorer": args.scorer, "threshold": None}
    else:
        scorer = load_model_scorer(args.scorer, args.backend, args.format, args.sep)
        try:
            scores = {name: collect_scores(scorer, items, progress=True) for name, items in datasets.items()}
        finally:
            scorer.close()
        if tune:
            chosen = best_threshold(datasets[tune], scores[tune])
            threshold = {"value": chosen["threshold"], "chosen_on": tune, "f1_on_choice_split": chosen["f1"]}
            print(f"threshold {chosen['threshold']:.4f}: maximises F1 on {tune} ({pct(chosen['f1'])}); "
                  "applied to the others")
        else:
            threshold = {"value": 0.5 if args.threshold is None else args.threshold, "chosen_on": None}
        for name, items in datasets.items():
            r = evaluate(items, precomputed_predictor(items, scores[name], threshold["value"]))
            results[name] = {**r, "scorer": args.scorer, "format": getattr(scorer, "format", None),
                             "threshold": threshold["value"], "threshold_chosen_on": threshold["chosen_on"]}
            if name == tune:
                results[name]["tuned_on_this_split"] = True   # a threshold's own split: not a result
            if args.threshold_sweep:
                sweeps[name] = threshold_curve(items, scores[name])
    for name, r in results.items():
        extra = f"  step AUROC {r['step_auroc']:.3f}" if r.get("step_auroc") is not None else ""
        if r.get("checked_step_fraction") is not None:
            extra += f"  steps checkable {pct(r['checked_step_fraction'])}"
        mark = "  (threshold tuned on this split: not a result)" if r.get("tuned_on_this_split") else ""
        print(f"{name}: n={r['n']} acc(erroneous) {pct(r['acc_error'])}  acc(correct) {pct(r['acc_correct'])}  "
              f"F1 {pct(r['f1'])}{extra}{mark}")
    f1s = [r["f1"] for r in results.values() if r["f1"] is not None and not r.get("tuned_on_this_split")]
    if len(f1s) > 1:
        print(f"average F1 {pct(sum(f1s) / len(f1s))}" + (f" (without {tune})" if tune in results else ""))
    if args.out:
        out = {"processbench": results, "threshold": threshold}
        if sweeps:
            out["sweep"] = sweeps
            cols = ("threshold", "acc_error", "acc_correct", "f1")
            rows = ["split," + ",".join(cols)] + [
                ",".join([name] + ["" if c[k] is None else str(c[k]) for k in cols])
                for name, curve in sweeps.items() for c in curve]
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "sweep.csv").write_text("\n".join(rows) + "\n")
            print(f"wrote {args.out}/sweep.csv (F1 against threshold per split; a curve, not a result)")
        write_json(Path(args.out) / "results.json", out)
        print(f"wrote {args.out}/results.json")
    return 0


def _steps(args) -> int:
    from tqdm import tqdm

    from prm.eval.metrics import auroc, ece
    from prm.records import iter_records

    check_paths(inputs={"--data": args.data})
    recs = []
    for rec in iter_records(args.data, "stepwise"):
        recs.append(rec)
        if args.limit and len(recs) >= args.limit:
            break
    scorer = load_model_scorer(args.scorer, args.backend, args.format, args.sep)
    scores, labels = [], []
    try:
        for rec in tqdm(recs, desc="score steps", unit="rec"):
            s = scorer.score(rec.prompt, rec.completions)
            for sc, lab in zip(s, rec.labels):
                if lab is not None:
                    scores.append(sc)
                    labels.append(float(lab) >= 0.5)
    finally:
        scorer.close()
    a, e = auroc(scores, labels), ece(scores, labels)
    print(f"{len(recs)} records, {len(scores)} labeled steps: step AUROC "
          f"{'n/a (one class)' if a is None else f'{a:.3f}'}, ECE {'n/a' if e is None else f'{e:.3f}'}")
    return 0


def _compute_optimal(args) -> int:
    import json

    from prm.eval import compute_optimal as co
    from prm.eval.pool import build_pools, read_pool
    from prm.records import iter_records, write_text_atomic

    runs: dict[str, tuple[str, str]] = {}
    for spec in args.run:
        name, eq, files = spec.partition("=")
        val_file, comma, test_file = files.partition(",")
        if not eq or not comma or not name or not val_file or not test_file:
            raise UserError(f"--run {spec!r}: expected NAME=VAL_FILE,TEST_FILE")
        if name in runs or name.startswith("bon-"):
            raise UserError(f"--run {spec!r}: name {name!r} is taken (given twice, or a best-of-n name)")
        runs[name] = (val_file, test_file)
    files = [args.val_pool, args.test_pool] + [f for pair in runs.values() for f in pair]
    out = Path(args.out) if args.out else None
    check_paths(inputs={"--val-pool/--test-pool/--run": files}, outputs={"--out": [out / "results.json"]} if out else {})
    splits = {}
    for split, pool_file, k in (("val", args.val_pool, 0), ("test", args.test_pool, 1)):
        pools = build_pools(read_pool(pool_file), progress=True)
        if not pools:
            raise UserError(f"{pool_file}: no samples")
        names = sorted({k2 for p in pools for k2 in p.scores})
        rm, _, agg = (args.scorer or "").partition(":")
        key = next((kk for kk in names if kk[0] == (rm or names[0][0]) and kk[1] in (agg or "min", None)), None)
        if key is None:
            raise UserError(f"--scorer {args.scorer}: {pool_file} has {sorted({n[0] for n in names})}")
        smallest = min(len(p) for p in pools)
        try:
            ns = [int(x) for x in args.ns.split(",")] if args.ns else [2 ** i for i in range(8) if 2 ** i <= smallest]
        except ValueError:
            raise UserError(f"--ns: expected comma-separated integers, got {args.ns!r}") from None
        if max(ns) > smallest or min(ns) < 1:
            raise UserError(f"--ns: every n must be between 1 and the smallest pool ({smallest} in {pool_file})")
        outcomes = {}
        for name, pair in runs.items():
            try:
                outcomes[name] = co.search_outcomes(iter_records(pair[k], "pool"))
            except ValueError as e:
                raise UserError(f"--run {name}: {e}") from None
        try:
            splits[split] = co.prepare(pools, key, probe=args.probe, ns=ns, runs=outcomes)
        except ValueError as e:
            raise UserError(f"{pool_file}: {e}") from None
    val, test = splits["val"], splits["test"]
    for name, sp in splits.items():
        if not sp.problems():
            raise UserError(f"{name}: no problem is answered by every configuration (do the --run files and the pool "
                            f"cover the same problems?)")
    front = co.frontier(val, test, n_bins=args.bins)
    reference = args.reference or f"bon-naive@{max(ns)}"
    try:
        vs = co.versus(val, test, front, reference, seed=args.seed)
    except KeyError:
        raise UserError(f"--reference {reference}: no such configuration; have {', '.join(sorted(val.table))}") from None
    print(f"{len(val.problems())} validation / {len(test.problems())} test problems, {args.bins} difficulty bins, "
          f"probe {args.probe} samples, {len(val.table)} configurations")
    print(f"{'budget':>9} {'val acc':>8} {'test acc':>9} {'test tokens':>12}  choice per bin (easy -> hard)")
    for pt in front["points"]:
        print(f"{pt['budget']:>9.1f} {pt['val_accuracy']:>8.1%} {pt['test_accuracy']:>9.1%} {pt['test_tokens']:>12.1f}  "
              f"{' | '.join(pt['choice'].values())}")
    if vs["reached"]:
        print(f"{reference}: {vs['reference_test_accuracy']:.1%} at {vs['reference_test_tokens']:.0f} tokens; "
              f"compute-optimal {vs['test_accuracy']:.1%} at {vs['test_tokens']:.0f} tokens "
              f"({vs['token_ratio']:.2f}x), difference {vs['delta']:+.1%} [{vs['lo']:+.1%}, {vs['hi']:+.1%}]")
    else:
        print(f"{reference}: no budget reaches its validation accuracy ({vs['reference_val_accuracy']:.1%})")
    if out:
        write_text_atomic(out / "results.json", json.dumps({"frontier": front, "versus": vs, "probe": args.probe,
                                                           "val_pool": args.val_pool, "test_pool": args.test_pool,
                                                           "runs": runs}, indent=2))
        print(f"wrote {out}/results.json")
    return 0


def run(args) -> int:
    return {"bon": _bon, "processbench": _processbench, "steps": _steps,
            "compute-optimal": _compute_optimal}[args.what](args)
