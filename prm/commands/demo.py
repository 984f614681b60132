"""Run the whole pipeline on the embedded default tasks, for math and for code, and write a report.

  prm demo                      # default size: about 6-7 minutes on 2 CPU cores (the tiny policies are shipped)
  prm demo --quick              # about 3 minutes: fewer problems, samples and training steps
  prm demo --rm-backbone policy # reward models start from the policy instead of the judge (math)
  prm demo --quick --quick-policy   # smoke test: also the fast-trained tiny policies (their curves are noise)
  prm demo --out runs/mydemo --domains math

Stages per domain: tasks -> tiny policy (trained once, then reused from the cache) -> sample a
training pool -> label it (MC rollouts; math also direct sympy labels) -> train a token-classification
PRM and ORM, and the implicit pair: `iprm` on the verifiers' step labels (process supervision; code's
declared headline) and `iorm` on the same samples' outcomes (all from the shipped judge backbones,
prm/judge.py; plus the zero-training likelihood ratio) -> math: load the shipped learned pair, `lprm`
(step labels, math's declared headline) and `lorm` (outcome labels) trained on 51,200 samples from the
policy against itself, so they rank only by what the labels taught them (prm/learned.py) -> sample a
test pool of N per problem -> judge, score, sympy-check -> best-of-N, weighted vote, majority, sympy
reranking, beam search guided by the headline reward model -> report.

--out receives report.md (tables, plots, a plain-language reading), bon_math.png, bon_code.png,
results.json (schema: docs/results_schema.md), manifest.json (versions, hashes, seeds, backend,
settings, timings), demo.log (tracebacks of failed stages), and per-domain pools, labels and models.
Sampling uses vLLM when it is installed, else transformers; the report says which.
"""

from __future__ import annotations

from prm.commands.argtypes import nonneg_int, positive_int
from prm.errors import UserError


def add_arguments(p):
    g = p.add_argument_group("what to run")
    g.add_argument("--quick", action="store_true", help="the small preset (~2.5 minutes once the policies are cached)")
    g.add_argument("--quick-policy", action="store_true",
                   help="use the fast-trained tiny policies (~1 min each to train, but right on only ~2-3%% of "
                        "problems): a smoke test of the pipeline, not a result")
    g.add_argument("--domains", default="math,code", help="comma-separated: math, code")
    g.add_argument("--out", default=None, help="output folder (default: runs/demo-TIMESTAMP)")
    g = p.add_argument_group("engines")
    g.add_argument("--backend", default="auto", choices=["auto", "vllm", "transformers"],
                   help="sampler backend; auto = vLLM when installed")
    g.add_argument("--math-policy", default=None, help="a causal-LM directory to use as the math policy (and RM backbone) "
                                                        "instead of the tiny default")
    g.add_argument("--code-policy", default=None, help="the same for code")
    g.add_argument("--rm-backbone", default=None, choices=["judge", "policy"],
                   help="what the reward models start from: judge (default; the shipped judge backbones, "
                        "docs/prm_diagnosis.md; the policy where there is none) or policy")
    g.add_argument("--cache-dir", default=None, help="tiny-policy cache (default: $PRM_CACHE_DIR or ~/.cache/prm-toolkit)")
    g.add_argument("--seed", type=nonneg_int, default=None, help="seed for sampling, training and subsampling (default 0)")
    g.add_argument("--threads", type=positive_int, default=None,
                   help="torch threads (default 1: tiny models gain little from more, and threads thrash on shared cores)")


def run(args) -> int:
    from prm.demo import run_demo
    from prm.demo_config import preset

    domains = tuple(d.strip() for d in args.domains.split(",") if d.strip())
    for d in domains:
        if d not in ("math", "code"):
            raise UserError(f"--domains: unknown domain {d!r}; choose from math, code")
    if args.threads is not None and args.threads < 1:
        raise UserError("--threads must be at least 1")
    if not domains:
        raise UserError("--domains: give at least one of math, code")
    policies = tuple((d, p) for d, p in (("math", args.math_policy), ("code", args.code_policy)) if p)
    from prm.paths import check_paths

    check_paths(models={"--math-policy": args.math_policy, "--code-policy": args.code_policy},
                output_dirs={"--out": args.out})
    for d, p in policies:
        from pathlib import Path

        if not (Path(p) / "config.json").exists():
            raise UserError(f"--{d}-policy {p}: not a model directory (no config.json)")
    cfg = preset(args.quick, policies=policies or None, out=args.out, domains=domains, backend=args.backend, cache_dir=args.cache_dir,
                 seed=args.seed, threads=args.threads, quick_policy=args.quick_policy or None,
                 rm_backbone=args.rm_backbone)
    out = run_demo(cfg)
    print(f"wrote {out}/report.md (plus results.json, manifest.json, bon_*.png)")
    return 0
