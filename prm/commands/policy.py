"""The embedded tiny policy: train it (or reuse the cached one), or show what is cached.

  prm policy train --domain math            # trains once (~3 min on 2 CPU cores), then cached
  prm policy train --domain code --quick    # the smaller one used by `prm demo --quick`
  prm policy info --domain math             # where it is, how it was trained, its held-out accuracy
  prm policy info --domain math --eval 50   # also sample 50 held-out problems x 8 and grade them

The cache lives in $PRM_CACHE_DIR/policy (default ~/.cache/prm-toolkit/policy), keyed by a hash of
the training data, the config and the training code's version: changing any of them trains anew.
"""

from __future__ import annotations

import json
import sys

from prm.errors import UserError


def add_arguments(p):
    p.add_argument("action", choices=["train", "info"], help="train: ensure it exists; info: describe it")
    p.add_argument("--domain", choices=["math", "code"], required=True)
    p.add_argument("--quick", action="store_true", help="the small, fast-trained variant")
    p.add_argument("--cache-dir", default=None, help="default: $PRM_CACHE_DIR/policy or ~/.cache/prm-toolkit/policy")
    p.add_argument("--eval", type=int, default=0, metavar="N",
                   help="after train/info: sample N held-out test problems and report accuracy")
    p.add_argument("--eval-n", type=int, default=8, help="samples per problem for --eval")
    p.add_argument("--backend", choices=["auto", "vllm", "transformers"], default="transformers",
                   help="sampler backend for --eval")


def run(args) -> int:
    from pathlib import Path

    from prm.policy import cache_key, default_cache_dir, ensure_policy, policy_info, preset, training_pairs

    if args.action == "train":
        path = ensure_policy(args.domain, args.cache_dir, quick=args.quick)
    else:
        cfg = preset(args.domain, args.quick)
        root = Path(args.cache_dir) if args.cache_dir else default_cache_dir() / "policy"
        path = root / f"{args.domain}{'-quick' if args.quick else ''}-{cache_key(cfg, training_pairs(cfg))}"
        if not (path / "policy.json").exists():
            raise UserError(f"no cached {args.domain} policy at {path}; run `prm policy train --domain {args.domain}"
                            f"{' --quick' if args.quick else ''}`")
    info = policy_info(path)
    print(f"policy: {path}")
    print(json.dumps(info, indent=2))
    if args.eval:
        from prm.policy import evaluate_policy

        report = evaluate_policy(path, args.domain, n_problems=args.eval, n=args.eval_n, backend=args.backend)
        print(json.dumps({k: v for k, v in report.items() if k != "examples"}, indent=2))
        for ex in report["examples"][:3]:
            print("--- mistake on:", ex["question"], "\n", ex["text"], file=sys.stderr)
    return 0
