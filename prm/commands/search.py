"""Search with a policy and reward models: best-of-N pools, or PRM-guided step-level beam search.

  prm search --method bon  --problems data/tasks/math_test.jsonl --model POLICY_DIR \\
             --scorer prm=runs/demo/math/prm --scorer orm=runs/demo/math/orm --n 16 --out pool.jsonl
  prm eval bon --pool pool.jsonl                    # then: curves for every method on that pool

  prm search --method beam --problems data/tasks/math_test.jsonl --policy math \\
             --scorer runs/demo/math/prm --beam-width 4 --expand 4 --out beam.jsonl

--model is a policy model directory; --policy math|code takes the embedded tiny policy instead.
--scorer takes a `prm train` dir or a published PRM (Qwen2.5-Math-PRM, Math-Shepherd, RLHFlow,
Skywork value head, TRL with --scorer-sep), its format read from config.json (--scorer-format
overrides it, for every --scorer).

bon: samples N solutions per problem, judges them (math: the verifier against the gold answer;
code: the unit tests), runs the sympy step checker (math), scores them with every --scorer, and
writes one pool line per sample (`PoolRecord`, prm/records.py), ready for `prm eval bon`.

beam: at each step samples --expand next steps per beam (stopping at the step separator), scores
every prefix with the PRM, aggregates the step scores with --aggregation, keeps the best
--beam-width, until the solution ends or --max-steps; writes the chosen solution per problem as a
pool line (its PRM step scores under the scorer's name, plus `score`, `truncated` and
`generated_tokens` for comparisons at equal compute), so `prm eval bon` reads it too.

dvts: --n / --subtree-width independent subtrees, each keeping its best of --subtree-width next
steps per step; the answer is the best leaf or a weighted vote over the leaves (--select best|vote).
pf: particle filtering (--select weight|vote). --verify-steps prune|weight lets the domain's step
checker (math: sympy) drop or rank last the steps it proves false in beam and dvts.
stepwise: builds each solution a step at a time, sampling one candidate (--step-batch) until one is
accepted (the step checker does not prove it false, its step reward >= --accept), at most --tries
rounds; starts --chains solutions per problem and adds --chains more only while their answers
disagree (--stop-share, --agree), up to --max-chains. Easy problems cost about --chains solutions.

Each strategy is `prm.search.STRATEGIES[METHOD]`; its config's fields are filled from the flags of
the same name.

Not resumable: --out is written once, atomically, when every problem is done; a crash loses the
run (never the old --out). For long runs, split --problems and search each part.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from prm.commands.argtypes import fraction, nonneg_float, nonneg_int, positive_float, positive_int, unit_float
from prm.commands.engine_flags import add_engine_flags, engine_config
from prm.commands.scorer_flags import add_format_flags
from prm.commands.vocab import add_renamed
from prm.errors import UserError
from prm.scoring.remote import is_url
from prm.search.aggregate import AGGREGATIONS
from prm.search.particle import RESAMPLING, ParticleConfig
from prm.search.stepwise import StepwiseConfig

POLICY_NAMES = ("math", "code")
# the step-level strategies: a PRM guides them, and one domain (its separator, its checker) per run
STEP_METHODS = {"beam", "dvts", "pf", "stepwise"}


def add_arguments(p):
    from prm.search import STRATEGIES

    g = p.add_argument_group("inputs")
    g.add_argument("--method", choices=list(STRATEGIES), required=True,
                   help="the search strategy (prm.search.STRATEGIES): bon = sample+score a pool; beam = beam search; "
                        "dvts = diverse verifier tree search; pf = particle filtering; stepwise = step-level rejection "
                        "sampling with adaptive chains")
    g.add_argument("--problems", required=True, help="JSONL of Problem records (math: answer; code: tests)")
    g.add_argument("--model", default=None, help="policy model directory (the sampler)")
    g.add_argument("--policy", default=None, metavar="{math,code}",
                   help="the embedded tiny policy for this domain, instead of --model")
    g.add_argument("--scorer", action="append", default=[],
                   help="reward model dir or `prm serve` URL, optionally NAME=DIR (repeatable; beam uses the first)")
    add_renamed(g, "--out", "--output", required=True, help="output JSONL (overwritten atomically)")
    g.add_argument("--limit", type=positive_int, default=None, help="only the first N problems")
    g = p.add_argument_group("sampling")
    g.add_argument("--n", type=positive_int, default=16,
                   help="bon: samples per problem; dvts: total budget of beams")
    g.add_argument("--temperature", type=nonneg_float, default=1.0)
    g.add_argument("--top-p", type=fraction, default=1.0)
    g.add_argument("--max-tokens", type=positive_int, default=256, help="bon: tokens per sample")
    g.add_argument("--seed", type=nonneg_int, default=0,
                   help="base seed: each request draws with a seed from it and its problem (bon) or prefix and "
                        "depth (beam), so the same seed gives the same samples whatever the order or batching")
    g.add_argument("--scorer-backend", default="auto", help="scorer backend: auto, transformers or vllm")
    add_format_flags(g, prefix="scorer-")
    add_engine_flags(p.add_argument_group("policy engine"))
    g = p.add_argument_group("beam search")
    g.add_argument("--beam-width", type=positive_int, default=4, help="beams kept after each step")
    g.add_argument("--expand", type=positive_int, default=4, help="next steps sampled per beam")
    g.add_argument("--max-steps", type=positive_int, default=12, help="steps per solution")
    g.add_argument("--max-step-tokens", type=positive_int, default=96, help="tokens per step")
    g.add_argument("--aggregation", choices=AGGREGATIONS, default="min", help="how prefix step scores rank beams")
    g.add_argument("--verify-steps", choices=("prune", "weight"), default=None,
                   help="drop (prune) or rank last (weight) steps the domain's step checker proves false; "
                        "pf: weight 0 either way; math only today")
    g.add_argument("--refill", type=nonneg_int, default=None,
                   help="--verify-steps prune: extra sampling rounds when every candidate of a problem is pruned "
                        "(default 2)")
    g = p.add_argument_group("particle filtering")
    pf = ParticleConfig  # the defaults live in the config, once
    g.add_argument("--n-particles", type=positive_int, default=pf.n_particles, help="pf: particles per problem")
    g.add_argument("--softmax-temperature", type=positive_float, default=pf.softmax_temperature,
                   help="pf: weights = softmax(reward / this); lower is greedier")
    g.add_argument("--resampling", choices=RESAMPLING, default=pf.resampling, help="pf: resampling scheme")
    g.add_argument("--ess-threshold", type=unit_float, default=pf.ess_threshold,
                   help="pf: resample when ESS / N falls below it; 1 = every step, 0 = never")
    g.add_argument("--reward", choices=AGGREGATIONS, default=pf.reward,
                   help="pf: a prefix's reward from its step scores: the newest step's (last) or an aggregation")
    g = p.add_argument_group("dvts")
    g.add_argument("--subtree-width", type=positive_int, default=None,
                   help="next steps each subtree samples per step (M, default 4); --n is the total budget, "
                        "n / M subtrees")
    g = p.add_argument_group("stepwise")
    sw = StepwiseConfig
    g.add_argument("--chains", type=positive_int, default=sw.chains, help="stepwise: solutions started per round")
    g.add_argument("--max-chains", type=positive_int, default=sw.max_chains,
                   help="stepwise: solutions per problem at most (the budget)")
    g.add_argument("--tries", type=positive_int, default=sw.tries,
                   help="stepwise: sampling rounds for one step before the chain takes the best candidate it saw")
    g.add_argument("--step-batch", type=positive_int, default=sw.step_batch,
                   help="stepwise: candidates sampled per round (1: stop at the first accepted)")
    g.add_argument("--accept", type=unit_float, default=sw.accept,
                   help="stepwise: the step reward a candidate needs (0: only the step checker rejects)")
    g.add_argument("--stop-share", type=unit_float, default=sw.stop_share,
                   help="stepwise: stop adding chains when the leading answer holds this share of the weighted vote")
    g.add_argument("--agree", type=positive_int, default=sw.agree,
                   help="stepwise: ... and at least this many chains")
    g = p.add_argument_group("final answer")
    g.add_argument("--select", choices=("best", "weight", "vote"), default=None,
                   help="how a step-level search picks its answer: dvts best (default) | vote; "
                        "pf weight | vote; stepwise vote (default) | best")


def _scorer_specs(specs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, spec in enumerate(specs):
        name, _, path = spec.partition("=") if "=" in spec else (f"rm{k}" if k else "prm", "", spec)
        if not is_url(path) and not Path(path).exists():  # a `prm serve` URL is not a path
            raise UserError(f"--scorer {spec}: no such model directory: {path}")
        if name in out:
            raise UserError(f"--scorer: name {name!r} given twice")
        out[name] = path
    return out


def policy_dir(args) -> str:
    """--model DIR, or the embedded policy named by --policy (trained once, then cached). `--policy DIR`
    was this command's old spelling of --model: still accepted, with a deprecation note."""
    policy = args.policy
    if policy is not None and policy not in POLICY_NAMES:
        if not Path(policy).exists():
            raise UserError(f"--policy must be one of {', '.join(POLICY_NAMES)} (an embedded policy), got {policy!r}; "
                            f"give a model directory with --model")
        print(f"prm search: --policy DIR is deprecated; use --model {policy}", file=sys.stderr)
        args.model, policy = args.model or policy, None
    if bool(args.model) == bool(policy):
        raise UserError("give exactly one of --model DIR or --policy math|code")
    if policy:
        from prm.policy import ensure_policy

        return str(ensure_policy(policy))
    return args.model


def strategy_config(strategy, args):
    """The strategy's config from the flags that share its fields' names, --seed included: requests are
    seeded per problem / prefix as in `prm sample` and the demo (an unseeded request's draw depends on
    how the engine batched it, so a rerun or a --limit changed the samples)."""
    given = {f.name: getattr(args, f.name) for f in fields(strategy.config)
             if getattr(args, f.name, None) is not None}
    return strategy.config(**given)


def run(args) -> int:
    from prm.records import read_problems, write_jsonl_atomic
    from prm.sampler import make_sampler
    from prm.scoring import load_scorer
    from prm.search import STRATEGIES

    from prm.paths import check_paths

    check_paths(inputs={"--problems": args.problems},
                models={"--model": args.model, "--scorer": [s.partition("=")[2] or s for s in args.scorer]},
                outputs={"--out": args.out}, lock=args.out)
    problems = list(read_problems(args.problems).values())[: args.limit]
    if not problems:
        raise UserError(f"{args.problems}: no problems")
    strategy = STRATEGIES[args.method]
    cfg = strategy_config(strategy, args)
    specs = _scorer_specs(args.scorer)
    if args.method in STEP_METHODS and not specs:
        raise UserError(f"--method {args.method} needs a PRM: --scorer DIR")
    if args.method in STEP_METHODS and len({p.domain for p in problems}) > 1:
        raise UserError(f"{args.problems}: {args.method} searches one domain per run, found "
                        f"{sorted({p.domain for p in problems})}")
    model = policy_dir(args)
    sampler = make_sampler(engine_config(args, model, seed=args.seed))
    print(f"sampler backend: {sampler.backend}", file=sys.stderr)
    scorers = {}
    try:
        scorers = {name: load_scorer(path, backend=args.scorer_backend, format=args.scorer_format, sep=args.scorer_sep)
                   for name, path in specs.items()}
        results = strategy.run(problems, sampler, scorers, cfg, progress=True)
    finally:
        for s in scorers.values():
            s.close()
        sampler.close()
    rows = [s for r in results for s in r.samples]
    write_jsonl_atomic(args.out, rows)
    acc = sum(r.correct for r in rows) / len(rows)
    toks = sum(r.generated_tokens for r in results) / len(results)
    what = f"{len(problems)} problems x {args.n}" if args.method == "bon" else f"{len(problems)} problems"
    print(f"{args.method}: {len(rows)} solutions ({what}), {100 * acc:.1f}% correct, {toks:.0f} generated tokens "
          f"per problem; wrote {args.out}\nnext: prm eval bon --pool {args.out}")
    return 0
