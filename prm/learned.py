"""The learned pair: a process and an outcome reward model whose ranking comes from the labels alone.

Both are implicit reward models (beta * log pi_theta / pi_policy per step, `prm/train/implicit.py`)
started from the policy against itself, so the reward is exactly zero before training and whatever
ranks was learned from the verifiers' labels. They see the same 51,200 policy samples of train-split
problems (8 per problem, the validation problems 320-399 left out): the process model (`lprm`) every
step prefix's first-error label from the sympy step checker, the outcome model (`lorm`) only each
sample's final-answer label. Recipe: beta 0.05, lr 5e-4, batch 16, 3,200 steps (one epoch), warm-up 5%
(`scripts/bench/bench_prm_supervision.py`, the learning curve's recipe from the policy, fixed before
this size was run).

Why it exists: from the judge (the strong start the demo's `iprm` uses) no label kind can beat another,
because the judge's likelihood ratio already picks a sound solution almost wherever the pool holds one
(docs/prm_diagnosis.md section 11). From zero, process supervision is what Lightman et al. found at
scale: on the learning curve's test pool (200 x 16) the process model picks 65.5% at best-of-16, the
outcome model 50.2%, majority vote 52.9% (BENCHMARKS.md `prm_supervision`).

Training it takes about 35 minutes on 2 CPU cores (12 minutes of vLLM sampling, 2 x 11 of training), so
the pair is shipped for the math policy (`prm/assets/learned/<domain>-<labels>-<policy key>`) and
`prm demo` only loads it. Rebuild and ship it:

    python scripts/bench/bench_prm_supervision.py --sizes 51200 --starts policy --no-save
    python -m prm.learned runs/bench_prm_supervision/policy-step-51200 runs/bench_prm_supervision/policy-outcome-51200

A shipped copy names its reference relative to itself (`../../policy/<name>`), and the scorer checks the
reference's sha256 at load, so the pair is found only beside the very policy it was trained against.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from prm import shipped
from prm.errors import UserError

LABELS = {"step": "lprm", "outcome": "lorm"}     # implicit_labels -> the scorer's name in `prm demo`
FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def asset_name(domain: str, labels: str, policy_dir: str | Path) -> str:
    """`learned/<domain>-<labels>-<key>`: the key is the policy's own (its directory name ends in it)."""
    return f"learned/{domain}-{labels}-{Path(policy_dir).name.rsplit('-', 1)[-1]}"


def find_pair(policy_dir: str | Path, domain: str, root: Path | None = None) -> tuple[dict[str, Path] | None, str]:
    """({"lprm": dir, "lorm": dir}, note) of the shipped pair trained against the policy in `policy_dir`,
    or (None, why not). Each file is checked against SHA256SUMS (`shipped.find`)."""
    out, notes = {}, []
    for labels, name in LABELS.items():
        path, note = shipped.find(asset_name(domain, labels, policy_dir), root)
        if path is None:
            return None, note
        out[name] = path
        notes.append(note.split(" (")[0])
    return out, "; ".join(notes)


def ship(step_dir: str | Path, outcome_dir: str | Path, root: Path | None = None) -> list[str]:
    """Copy a trained (step, outcome) pair into prm/assets/learned/, with the reference written relative
    to the copy, and append its files to SHA256SUMS. Returns the asset names."""
    root = shipped.ROOT if root is None else root
    names = []
    for labels, src in (("step", Path(step_dir)), ("outcome", Path(outcome_dir))):
        cfg = json.loads((src / "config.json").read_text())
        s = cfg.get("prm_toolkit") or {}
        if s.get("objective") != "implicit" or s.get("implicit_labels") != labels:
            raise UserError(f"{src / 'config.json'}: not an implicit reward model trained on {labels} labels "
                            f"(objective {s.get('objective')!r}, implicit_labels {s.get('implicit_labels')!r})")
        policy = Path(s["ref_model"])
        name = asset_name(policy.name.split("-")[0], labels, policy)
        dest = root / name
        if dest.exists():
            raise UserError(f"{dest} exists: remove it and its lines in {root / shipped.SUMS} to ship another")
        dest.mkdir(parents=True)
        for f in FILES:
            shutil.copy2(src / f, dest / f)
        # the reference by a path the copy can follow from wherever the package is installed
        s["ref_model"] = f"../../policy/{policy.name}"
        s["base_model"] = s["ref_model"]
        (dest / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        with open(root / shipped.SUMS, "a", encoding="utf-8") as fh:
            for f in FILES:
                fh.write(f"{shipped.sha256_file(dest / f)}  {name}/{f}\n")
        names.append(name)
    return names


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m prm.learned STEP_MODEL_DIR OUTCOME_MODEL_DIR")
    print("\n".join(ship(*sys.argv[1:])))
