"""The embedded tiny policy: rebuild it from scratch and compare with the shipped one, or describe it.

  prm policy info --domain math             # which copy is used (shipped / cached), how it was trained
  prm policy info --domain math --eval 50   # also sample 50 held-out problems x 8 and grade them
  prm policy train --domain math            # rebuild from scratch (~3 min on 2 idle CPU cores) into
                                            # the cache, then: identical to the shipped copy, or both
                                            # held-out accuracies side by side
  prm policy train --domain code --quick    # the smaller one used by `prm demo --quick`

The package ships the trained default policies (prm/assets/policy, checked against
prm/assets/SHA256SUMS), so nothing trains on a fresh clone. A policy's name carries a hash of the
training data, the config and the training code's version: a shipped copy is used only when its
name is the current recipe's; otherwise the policy is trained into $PRM_CACHE_DIR/policy (default
~/.cache/prm-toolkit/policy) on first use. A rebuild stays in the cache; the shipped copy is still
the one used (pass its path, e.g. `prm demo --math-policy DIR`, to use the rebuild).
"""

from __future__ import annotations

import json
import sys

from prm.commands.argtypes import nonneg_int, positive_int
from prm.errors import UserError


def add_arguments(p):
    p.add_argument("action", choices=["train", "info"], help="train: ensure it exists; info: describe it")
    p.add_argument("--domain", choices=["math", "code"], required=True)
    p.add_argument("--quick", action="store_true", help="the small, fast-trained variant")
    p.add_argument("--cache-dir", default=None, help="default: $PRM_CACHE_DIR/policy or ~/.cache/prm-toolkit/policy")
    p.add_argument("--eval", type=nonneg_int, default=0, metavar="N",
                   help="after train/info: sample N held-out test problems and report accuracy")
    p.add_argument("--compare-problems", type=positive_int, default=30, metavar="N",
                   help="train: when the rebuild differs from the shipped copy, held-out problems to compare "
                        "both on (x --eval-n samples each)")
    p.add_argument("--eval-n", type=positive_int, default=8, help="samples per problem for --eval")
    p.add_argument("--backend", choices=["auto", "vllm", "transformers"], default="transformers",
                   help="sampler backend for --eval")


def run(args) -> int:
    from prm.policy import compare_with_shipped, find_policy, policy_info, rebuild_policy

    if args.action == "train":
        path = rebuild_policy(args.domain, args.cache_dir, quick=args.quick)
        note = f"rebuilt from scratch: {path}"
    else:
        path, note = find_policy(args.domain, args.cache_dir, quick=args.quick)
        if path is None:
            raise UserError(f"no {args.domain} policy for the current recipe ({note}); run `prm policy train "
                            f"--domain {args.domain}{' --quick' if args.quick else ''}`")
    info = policy_info(path)
    print(f"policy: {note}")
    print(json.dumps(info, indent=2))
    if args.action == "train":
        cmp = compare_with_shipped(path, args.domain, quick=args.quick, n_problems=args.compare_problems,
                                   n=args.eval_n)
        print(_comparison(cmp))
    if args.eval:
        from prm.policy import evaluate_policy

        report = evaluate_policy(path, args.domain, n_problems=args.eval, n=args.eval_n, backend=args.backend)
        print(json.dumps({k: v for k, v in report.items() if k != "examples"}, indent=2))
        for ex in report["examples"][:3]:
            print("--- mistake on:", ex["question"], "\n", ex["text"], file=sys.stderr)
    return 0


def _comparison(cmp: dict) -> str:
    """One line: the rebuild next to the shipped copy."""
    if cmp["shipped"] is None:
        return f"compared with the shipped copy: nothing to compare ({cmp['note']})"
    if cmp["identical"]:
        return f"compared with the shipped copy: identical (model.safetensors sha256 {cmp['sha256']['shipped']})"
    acc = cmp["accuracy"]
    return (f"compared with the shipped copy: different weights (sha256 {cmp['sha256']['rebuilt'][:12]} vs "
            f"{cmp['sha256']['shipped'][:12]}); held-out accuracy rebuilt {acc['rebuilt']:.1%} vs shipped "
            f"{acc['shipped']:.1%} ({cmp['held_out']}, temperature 1)")
