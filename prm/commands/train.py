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
resumes from OUT/checkpoints when started again with the same arguments.
"""

from __future__ import annotations

import typing
from dataclasses import MISSING, Field, fields

from prm.commands.vocab import add_renamed
from prm.errors import UserError
from prm.train.config import TrainConfig


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
    g.add_argument("--shards", type=int, default=None, help="K members on K disjoint problem shards")


def cli_fields() -> list[Field]:
    """The TrainConfig fields that are `prm train` flags, in declaration order."""
    return [f for f in fields(TrainConfig) if "help" in f.metadata]


def flag_of(f: Field) -> str:
    return f.metadata.get("flag", "--" + f.name.replace("_", "-"))


def escaped_text(s: str) -> str:
    """A flag value typed with backslash escapes ("\\n\\n") -> the text it stands for."""
    return s.encode().decode("unicode_escape")


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
            kw["type"], kw["default"] = escaped_text, f.default.encode("unicode_escape").decode()
        else:
            kw["type"] = next(t for t in typing.get_args(hint) or (hint,) if t is not type(None))
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
    from prm.train import train_ensemble, train_rm

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
        if args.shards < 2:
            raise UserError("--shards needs at least 2")
        dirs = train_ensemble(cfg, shards=args.shards)
    else:
        dirs = [train_rm(cfg)]
    for d in dirs:
        print(f"saved {cfg.objective} model to {d}")
    return 0
