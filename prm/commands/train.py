"""Train a process reward model (per-step) or an outcome reward model on stepwise records.

  prm train --model path/to/causal-lm --train labels.jsonl --out prm-out
  prm train --model M --train labels.jsonl --eval dev.jsonl --objective orm --out orm-out
  prm train --model M --train pairs.jsonl --objective pairwise --out bt-out
  prm train --model M --train labels.jsonl --seeds 0,1,2 --out ens      # 3-member ensemble
  accelerate launch --config_file scripts/accelerate/ddp_cpu.yaml -m prm train ...   # multi-process

Input: stepwise JSONL (`{"prompt", "completions", "labels"}`, TRL's format): labels true/false (hard,
cross-entropy), floats in [0, 1] (soft, e.g. MC values: binary cross-entropy on the float, never
rounded) or null (not judged: no loss). Sequence = prompt + sep + steps joined by sep; the label
sits on the last token of each step's separator. If the separator is not one token, or BPE merges
it with neighbouring text, a step tag token is added (--step-tag auto). Samples whose steps do not
fit --max-length after left-truncating the prompt are dropped and counted.

Output: a normal HF model directory (LoRA merged) whose config.json carries `prm_toolkit`
(separator, step tag, objective, label semantics, training-data hash, verifier versions), so
`prm score` and `prm.scoring.load_scorer` need nothing else; plus train_report.json. A crashed run
(SIGKILL, even mid-checkpoint, or a full disk) resumes from the newest complete checkpoint in
OUT/checkpoints when started again with the same arguments; a half-written one is removed, never
loaded (prm/train/checkpoints.py; the implicit and generative objectives' own loops do not use it
yet). OUT.lock keeps a second trainer off the same --out.
"""

from __future__ import annotations

import os
import typing
from dataclasses import MISSING, Field, fields

from prm.commands import argtypes
from prm.commands.vocab import add_renamed
from prm.errors import UserError
from prm.train.config import TrainConfig

# field -> the argtype that checks its flag at parse time; a field not here gets int or
# finite_float by its type hint (max_steps: -1 = use epochs; eval_steps: None = per epoch)
_TYPES = {
    "learning_rate": argtypes.positive_float,  # max_length: TrainConfig checks it (>= 8)
    "backbone_lr": argtypes.nonneg_float,
    "num_train_epochs": argtypes.positive_float, "per_device_train_batch_size": argtypes.positive_int,
    "per_device_eval_batch_size": argtypes.positive_int, "gradient_accumulation_steps": argtypes.positive_int,
    "warmup_ratio": argtypes.unit_float, "weight_decay": argtypes.nonneg_float, "seed": argtypes.nonneg_int,
    "max_pairs_per_problem": argtypes.positive_int, "lora_r": argtypes.nonneg_int, "lora_alpha": argtypes.positive_int,
    "logging_steps": argtypes.positive_int, "early_stopping": argtypes.nonneg_int, "eval_steps": argtypes.positive_int, "save_steps": argtypes.positive_int,
}
_BY_HINT = {int: argtypes.at_least(-1), float: argtypes.finite_float}


def add_arguments(p):
    # One flag per TrainConfig field that has a "help" (TRL's way): its default, type and text come
    # from the field, so the CLI and the library cannot drift apart.
    groups: dict[str, object] = {}
    hints = typing.get_type_hints(TrainConfig)
    for f in cli_fields():
        title = f.metadata["group"]
        if title not in groups:
            groups[title] = p.add_argument_group(title)
        _add_flag(groups[title], f, hints[f.name])
    g = p.add_argument_group("ensembles")
    g.add_argument("--seeds", default=None, help="comma list: one member per seed, in OUT/seed{S}")
    g.add_argument("--shards", type=argtypes.at_least(2), default=None, help="K members on K disjoint problem shards")


def cli_fields() -> list[Field]:
    """The TrainConfig fields that are `prm train` flags, in declaration order."""
    return [f for f in fields(TrainConfig) if "help" in f.metadata]


def flag_of(f: Field) -> str:
    return f.metadata.get("flag", "--" + f.name.replace("_", "-"))


def escaped_text(s: str) -> str:
    """A flag value typed with backslash escapes ("\\n\\n") -> the text it stands for; non-ASCII
    is kept as typed (`--sep ки`), a bad escape is a usage error (prm/commands/argtypes.py)."""
    return argtypes.separator(s)


def _add_flag(group, f: Field, hint) -> None:
    flag, meta = flag_of(f), f.metadata
    kw = {"dest": f.name, "help": meta["help"]}
    if f.default is MISSING:
        kw["required"] = True
    else:
        kw["default"] = f.default
    if hint is bool:
        # a True-by-default field is switched off by a --no-X flag; its help names the field so
        # "(default: ...)" is not read as the flag's own state
        kw["action"] = "store_false" if f.default else "store_true"
        if f.default:
            kw["help"] += f" (default: {f.name}=%(default)s)"
    else:
        if "choices" in meta:
            kw["choices"] = meta["choices"]
        else:
            kw["metavar"] = flag.lstrip("-").replace("-", "_").upper()   # --lr LR, not LEARNING_RATE
        if meta.get("escaped"):
            # typed and shown escaped; argparse runs the type on a string default, so the field
            # receives the real text either way
            kw["type"], kw["default"] = escaped_text, argtypes.shown_escaped(f.default)
        else:
            base = next(t for t in typing.get_args(hint) or (hint,) if t is not type(None))
            kw["type"] = _TYPES.get(f.name, _BY_HINT.get(base, base))
    if meta.get("old"):
        add_renamed(group, flag, *meta["old"], **kw)
    else:
        group.add_argument(flag, **kw)


def config_from_args(args) -> TrainConfig:
    try:
        return TrainConfig(**{f.name: getattr(args, f.name) for f in cli_fields()})
    except ValueError as e:
        raise UserError(str(e)) from None


def run(args) -> int:
    from prm.paths import check_paths
    from prm.train import train_ensemble, train_rm

    # the base model is an input: `--out` = `--model` (or a folder around or inside it) would replace it
    check_paths(inputs={"--train": args.train_file, "--eval": args.eval_file}, models={"--model": args.model},
                output_dirs={"--out": args.output_dir},
                # one trainer per --out; under torchrun / accelerate launch the main process holds it for all
                lock=args.output_dir if os.environ.get("RANK", "0") == "0" else None)
    cfg = config_from_args(args)
    if args.seeds and args.shards:
        raise UserError("give --seeds or --shards, not both")
    if args.seeds:
        try:
            seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            raise UserError(f"--seeds must be a comma list of integers, got {args.seeds!r}") from None
        dirs = train_ensemble(cfg, seeds=seeds)
    elif args.shards:
        dirs = train_ensemble(cfg, shards=args.shards)
    else:
        dirs = [train_rm(cfg)]
    for d in dirs:
        print(f"saved {cfg.objective} model to {d}")
    return 0
