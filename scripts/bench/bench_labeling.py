"""Binary search vs Monte-Carlo step labeling on the embedded tasks with the tiny policy.

    .venv/bin/python scripts/bench/bench_labeling.py                  # math, then code
    .venv/bin/python scripts/bench/bench_labeling.py --domain math --problems 40 --samples-per-problem 2 -k 8
    .venv/bin/python scripts/bench/bench_labeling.py --domain code --problems 30 --quick

What it does, in one run:
1. draws samples from the embedded policy (`prm.policy.ensure_policy`) on the first N problems of
   `data/tasks/<domain>_test.jsonl` (temperature 1, so some are wrong), and splits them into steps;
2. labels the same samples with `mc` (K rollouts from every prefix) and `binary` (binary search for
   the first prefix from which no rollout is correct), with the same sampler, K and seed;
3. prints, for both sides and their ratio: rollouts per labeled sample (all samples, and the
   incorrect ones binary search actually searches), generated tokens, wall seconds (median of
   --repeats runs); then first-error agreement binary vs mc, and for math also `direct` (sympy per
   step) vs mc agreement (steps and first errors);
4. prints machine, date and library versions. Rollout counts are exact; seconds depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--domain", choices=("math", "code", "both"), default="both",
                   help="both: math then code, one report each")
    d.add_argument("--problems", type=int, default=40, help="first N test problems")
    d.add_argument("--samples-per-problem", type=int, default=2)
    d.add_argument("--sample-temperature", type=float, default=1.0)
    m = p.add_argument_group("policy and rollouts")
    m.add_argument("--model", default=None, help="policy directory (default: embedded tiny policy)")
    m.add_argument("--quick", action="store_true", help="use the quick embedded policy")
    m.add_argument("--backend", choices=("auto", "vllm", "transformers"), default="auto")
    m.add_argument("-k", type=int, default=8, help="rollouts per prefix")
    m.add_argument("--temperature", type=float, default=0.7, help="rollout temperature")
    m.add_argument("--max-tokens", type=int, default=192)
    m.add_argument("--seed", type=int, default=0, help="engine seed and base of the per-prefix rollout seeds")
    r = p.add_argument_group("run")
    r.add_argument("--repeats", type=int, default=3, help="timing repeats (median reported)")
    r.add_argument("--workers", type=int, default=None)
    r.add_argument("--json", default=None, help="also write the numbers as JSON")
    return p.parse_args(argv)


def versions() -> str:
    out = []
    for mod in ("torch", "transformers", "vllm", "sympy"):
        try:
            out.append(f"{mod} {__import__(mod).__version__}")
        except Exception:  # noqa: BLE001 - a missing library is just reported
            out.append(f"{mod} -")
    return ", ".join(out)


def draw_samples(sampler, model_dir, problems, args):
    from prm.records import Sample
    from prm.sampler import SamplingConfig, build_prompt
    from prm.domains import DOMAINS

    prompts = [build_prompt(model_dir, p.question) for p in problems]
    outs = sampler.generate(prompts, SamplingConfig(n=args.samples_per_problem, temperature=args.sample_temperature,
                                                    max_tokens=args.max_tokens))
    pairs = []
    for p, comps in zip(problems, outs):
        for c in comps:
            steps = DOMAINS[p.domain].segment(c.text)
            pairs.append((p, Sample(problem_id=p.id, text=c.text, steps=steps)))
    return pairs


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.domain == "both":
        return max(main([*(argv if argv is not None else sys.argv[1:]), "--domain", d]) for d in ("math", "code"))
    from prm.labeling import (BinaryConfig, JudgeConfig, MCConfig, RolloutConfig, compare, label_binary,
                              label_direct, label_mc, make_items)
    from prm.labeling.inputs import steps_for
    from prm.records import read_problems
    from prm.sampler import EngineConfig, build_prompt, make_sampler

    if args.model:
        model_dir = args.model
    else:
        from prm.policy import ensure_policy

        model_dir = str(ensure_policy(args.domain, quick=args.quick))
    problems = list(read_problems(ROOT / "data" / "tasks" / f"{args.domain}_test.jsonl").values())[:args.problems]
    sampler = make_sampler(EngineConfig(model=model_dir, backend=args.backend, seed=args.seed))
    judge = JudgeConfig(workers=args.workers)
    # per-prefix request seeds: mc and binary draw the very same K rollouts from any prefix both visit,
    # so where they disagree it is the method (binary search assumes monotone prefixes), not sampling noise
    rollout = RolloutConfig(k=args.k, temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed)
    prompt_fn = lambda q: build_prompt(model_dir, q)  # noqa: E731
    try:
        pairs = [(p, s) for p, s in draw_samples(sampler, model_dir, problems, args) if steps_for(s, p.domain)]
        items = make_items(pairs)
        runs = {"mc": [], "binary": []}
        recs = {}
        for rep in range(args.repeats):
            for name in ("mc", "binary"):  # alternate so load drifts hit both sides alike
                t0 = time.perf_counter()
                if name == "mc":
                    out = label_mc(items, sampler, prompt_fn, MCConfig(rollout=rollout), judge)
                else:
                    out = label_binary(items, sampler, prompt_fn, BinaryConfig(rollout=rollout), judge)
                runs[name].append(time.perf_counter() - t0)
                recs[name] = [r.to_dict() for r in out]
        direct = [r.to_dict() for r in label_direct(items, judge=judge)] if args.domain == "math" else None
    finally:
        sampler.close()

    def cost(rs, key):
        return sum(r["provenance"]["cost"][key] for r in rs)

    wrong = {r["sample_id"] for r in recs["mc"] if r["outcome"] is not True}
    n, n_wrong = len(items), len(wrong)
    res = {"domain": args.domain, "samples": n, "incorrect_samples": n_wrong, "k": args.k,
           "steps_mean": statistics.mean(len(it.steps) for it in items) if items else 0}
    for name in ("mc", "binary"):
        rs = recs[name]
        res[name] = {"rollouts": cost(rs, "rollouts"), "per_sample": cost(rs, "rollouts") / max(1, n),
                     "per_incorrect_sample": sum(r["provenance"]["cost"]["rollouts"] for r in rs
                                                 if r["sample_id"] in wrong) / max(1, n_wrong),
                     "completion_tokens": cost(rs, "completion_tokens"),
                     "seconds_median": statistics.median(runs[name]), "seconds_all": [round(x, 2) for x in runs[name]]}
    res["binary_vs_mc"] = compare(recs["binary"], recs["mc"])
    res["binary_vs_mc_incorrect"] = compare([r for r in recs["binary"] if r["sample_id"] in wrong], recs["mc"])
    if direct is not None:
        res["direct_vs_mc"] = compare(direct, recs["mc"])

    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    ratio = lambda a, b: f"{a / b:.2f}x" if b else "n/a"  # noqa: E731
    print(f"# bench_labeling  {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}; {versions()}")
    print(f"policy: {model_dir} (backend {getattr(sampler, 'backend', '?')}); K={args.k}, T={args.temperature}, "
          f"max_tokens={args.max_tokens}, seed={args.seed}")
    print(f"samples: {n} ({n_wrong} with a wrong final answer), {res['steps_mean']:.1f} steps on average")
    print(f"{'':28}{'mc':>12}{'binary':>12}{'mc/binary':>12}")
    for key, label in (("per_sample", "rollouts / sample"), ("per_incorrect_sample", "rollouts / incorrect sample"),
                       ("rollouts", "rollouts total"), ("completion_tokens", "generated tokens"),
                       ("seconds_median", f"seconds (median of {args.repeats})")):
        a, b = res["mc"][key], res["binary"][key]
        fmt = (lambda v: f"{v:12.1f}") if isinstance(a, float) else (lambda v: f"{v:12d}")
        print(f"{label:28}{fmt(a)}{fmt(b)}{ratio(a, b):>12}")
    bm, bmi = res["binary_vs_mc"], res["binary_vs_mc_incorrect"]
    print(f"first-error agreement binary vs mc: {pct(bm['first_error_agreement'])} of {bm['first_error_pairs']} "
          f"samples "
          f"({pct(bmi['first_error_agreement'])} of {bmi['first_error_pairs']} incorrect ones); "
          f"step labels {pct(bm['step_agreement'])} of {bm['steps']}")
    if direct is not None:
        dm = res["direct_vs_mc"]
        c = dm["confusion"]
        print(f"direct vs mc (math): step labels {pct(dm['step_agreement'])} of {dm['steps']} steps both labeled "
              f"(both correct {c['TT']}, direct-only correct {c['TF']}, mc-only correct {c['FT']}, both incorrect "
              f"{c['FF']}); first error {pct(dm['first_error_agreement'])} of {dm['first_error_pairs']}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")

    from common import Row, report

    pct100 = lambda x: None if x is None else 100 * x  # noqa: E731
    rows = [Row("rollouts per labeled sample", res["binary"]["per_sample"], res["mc"]["per_sample"], "", "lower"),
            Row("rollouts per incorrect sample", res["binary"]["per_incorrect_sample"],
                res["mc"]["per_incorrect_sample"], "", "lower"),
            Row("generated tokens", res["binary"]["completion_tokens"], res["mc"]["completion_tokens"], "", "lower"),
            Row(f"wall time (median of {args.repeats})", res["binary"]["seconds_median"], res["mc"]["seconds_median"],
                "s", "lower"),
            Row("first-error agreement with mc, all samples", pct100(bm["first_error_agreement"]), 100.0, "%", "",
                note=f"{bm['first_error_pairs']} samples; mc is the reference"),
            Row("first-error agreement with mc, incorrect samples", pct100(bmi["first_error_agreement"]), 100.0, "%",
                "", note=f"{bmi['first_error_pairs']} samples"),
            Row("step-label agreement with mc", pct100(bm["step_agreement"]), 100.0, "%", "",
                note=f"{bm['steps']} steps")]
    notes = [f"{args.domain}: {n} samples of the embedded policy on the first {args.problems} test problems "
             f"({n_wrong} with a wrong final answer), {res['steps_mean']:.1f} steps on average",
             f"K={args.k} rollouts per judged prefix, temperature {args.temperature}, max_tokens {args.max_tokens}, "
             f"per-prefix seeds from base {args.seed}: both methods draw the same rollouts from a shared prefix",
             f"policy {model_dir}, sampler backend {getattr(sampler, 'backend', '?')}; {versions()}"]
    if direct is not None:
        notes.append(f"direct (sympy per step) vs mc: step labels {pct(dm['step_agreement'])} of {dm['steps']} "
                     f"steps both labeled (both correct {c['TT']}, direct-only correct {c['TF']}, mc-only correct "
                     f"{c['FT']}, both incorrect {c['FF']}); first error {pct(dm['first_error_agreement'])} of "
                     f"{dm['first_error_pairs']}")
    notes.append("no FLOP bound row: the cost is counted in rollouts and tokens, which the sampling benchmark "
                 "puts against the FLOP bound")
    report("labeling", f"Labeling ({args.domain}): binary search vs Monte-Carlo rollouts", rows, ours="binary",
           theirs="mc", notes=notes, extra=res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
