"""Search with a policy and reward models: best-of-N pools, or PRM-guided step-level beam search.

  prm search --method bon  --problems data/tasks/math_test.jsonl --policy POLICY_DIR \\
             --scorer prm=runs/demo/math/prm --scorer orm=runs/demo/math/orm --n 16 --out pool.jsonl
  prm eval bon --pool pool.jsonl                    # then: curves for every method on that pool

  prm search --method beam --problems data/tasks/math_test.jsonl --policy POLICY_DIR \\
             --scorer runs/demo/math/prm --beam-width 4 --expand 4 --out beam.jsonl

bon: samples N solutions per problem, judges them (math: the verifier against the gold answer;
code: the unit tests), runs the sympy step checker (math), scores them with every --scorer, and
writes one pool line per sample (prm/eval/pool.py), ready for `prm eval bon`.

beam: at each step samples --expand next steps per beam (stopping at the step separator), scores
every prefix with the PRM, aggregates the step scores with --aggregation, keeps the best
--beam-width, until the solution ends or --max-steps; writes the chosen solution per problem with its
correctness and the generated-token count (for comparisons at equal compute).
"""

from __future__ import annotations

import sys
from pathlib import Path

from prm.commands.engine_flags import add_engine_flags, engine_config
from prm.errors import UserError
from prm.search.aggregate import AGGREGATIONS


def add_arguments(p):
    g = p.add_argument_group("inputs")
    g.add_argument("--method", choices=["bon", "beam"], required=True, help="bon: sample+score a pool; beam: beam search")
    g.add_argument("--problems", required=True, help="JSONL of Problem records (math: answer; code: tests)")
    g.add_argument("--policy", required=True, help="policy model directory (sampler)")
    g.add_argument("--scorer", action="append", default=[],
                   help="reward model dir, optionally NAME=DIR (repeatable; beam uses the first)")
    g.add_argument("--out", required=True, help="output JSONL (overwritten atomically)")
    g.add_argument("--limit", type=int, default=None, help="only the first N problems")
    g = p.add_argument_group("sampling")
    g.add_argument("--n", type=int, default=16, help="bon: samples per problem")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--max-tokens", type=int, default=256, help="bon: tokens per sample")
    g.add_argument("--seed", type=int, default=0, help="engine seed: same seed, problems and flags, same samples")
    g.add_argument("--scorer-backend", default="auto", help="scorer backend: auto, transformers or vllm")
    add_engine_flags(p.add_argument_group("policy engine"))
    g = p.add_argument_group("beam search")
    g.add_argument("--beam-width", type=int, default=4, help="beams kept after each step")
    g.add_argument("--expand", type=int, default=4, help="next steps sampled per beam")
    g.add_argument("--max-steps", type=int, default=12, help="steps per solution")
    g.add_argument("--max-step-tokens", type=int, default=96, help="tokens per step")
    g.add_argument("--aggregation", choices=AGGREGATIONS, default="min", help="how prefix step scores rank beams")


def _scorer_specs(specs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, spec in enumerate(specs):
        name, _, path = spec.partition("=") if "=" in spec else (f"rm{k}" if k else "prm", "", spec)
        if not Path(path).exists():
            raise UserError(f"--scorer {spec}: no such model directory: {path}")
        if name in out:
            raise UserError(f"--scorer: name {name!r} given twice")
        out[name] = path
    return out


def run(args) -> int:
    from prm.records import read_problems, write_jsonl_atomic
    from prm.sampler import SamplingConfig, build_prompt, make_sampler
    from prm.scoring import load_scorer
    from prm.steps import DEFAULT_SEP

    problems = list(read_problems(args.problems).values())[: args.limit]
    if not problems:
        raise UserError(f"{args.problems}: no problems")
    domains = {p.domain for p in problems}
    if args.method == "beam" and len(domains) > 1:
        raise UserError(f"{args.problems}: beam search needs one domain per run, found {sorted(domains)}")
    specs = _scorer_specs(args.scorer)
    if args.method == "beam" and not specs:
        raise UserError("--method beam needs a PRM: --scorer DIR")
    sampler = make_sampler(engine_config(args, args.policy, seed=args.seed))
    print(f"sampler backend: {sampler.backend}", file=sys.stderr)
    scorers = {}
    try:
        scorers = {name: load_scorer(path, backend=args.scorer_backend) for name, path in specs.items()}
        prompt_fn = lambda q: build_prompt(args.policy, q)  # noqa: E731
        if args.method == "bon":
            from prm.search.pool import judge_rows, sample_problems, score_rows

            rows = sample_problems(sampler, problems, prompt_fn, SamplingConfig(
                n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=None))
            judge_rows(problems, rows)
            score_rows(problems, rows, scorers)
            flat = [r for rs in rows for r in rs]
            for r in flat:
                r.setdefault("scores", {})
            write_jsonl_atomic(args.out, flat)
            acc = sum(r["correct"] for r in flat) / len(flat)
            print(f"wrote {len(flat)} samples ({len(problems)} problems x {args.n}) to {args.out}; "
                  f"policy accuracy {100 * acc:.1f}%.\nnext: prm eval bon --pool {args.out}")
            return 0
        from prm.search.beam import BeamConfig, beam_search
        from prm.search.pool import judge_rows

        domain = problems[0].domain
        sep = DEFAULT_SEP[domain]
        is_done = None
        if domain == "math":
            from verifiers.math import extract_answer

            # a marked final answer ("The answer is", \\boxed): without the last-number fallback,
            # which would call every "a + b = c" step an answer
            is_done = lambda steps: extract_answer(steps[-1], last_number_fallback=False) is not None  # noqa: E731
        cfg = BeamConfig(beam_width=args.beam_width, expand=args.expand, max_steps=args.max_steps,
                         max_step_tokens=args.max_step_tokens, temperature=args.temperature, top_p=args.top_p,
                         aggregation=args.aggregation, seed=None)
        first = next(iter(scorers.values()))
        results = beam_search(sampler, first, [(p.question, prompt_fn(p.question)) for p in problems], cfg,
                              sep=sep, is_done=is_done, progress=True)
        rows = [[{"text": sep.join(b.steps), "steps": b.steps}] for b in results]
        judge_rows(problems, rows)
        out = [{"problem_id": p.id, "text": rs[0]["text"], "steps": b.steps, "step_scores": b.step_scores,
                "score": b.score, "correct": rs[0]["correct"], "generated_tokens": b.generated_tokens,
                "truncated": b.truncated} for p, b, rs in zip(problems, results, rows)]
        write_jsonl_atomic(args.out, out)
        acc = sum(r["correct"] for r in out) / len(out)
        toks = sum(r["generated_tokens"] for r in out) / len(out)
        print(f"beam search: {100 * acc:.1f}% correct on {len(out)} problems, {toks:.0f} generated tokens per "
              f"problem; wrote {args.out}")
        return 0
    finally:
        for s in scorers.values():
            s.close()
        sampler.close()
