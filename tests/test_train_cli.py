"""`prm train` flags come from TrainConfig's fields: the help shows each field's default, the flags
alone give TrainConfig's defaults, and each flag sets its own field (and only it)."""

from __future__ import annotations

import re
from dataclasses import MISSING, fields

import pytest

from prm.cli import main
from prm.commands.train import cli_fields, config_from_args, flag_of
from prm.errors import UserError
from prm.train import TrainConfig

from test_cli_vocab import parser_for

REQUIRED = {"model": "m", "train_file": "t.jsonl", "output_dir": "o"}
BASE = ["--model", "m", "--train", "t.jsonl", "--out", "o"]
FLAGGED = [f.name for f in cli_fields()]

# flag and value on the command line -> field and the value it must get (all differ from the default)
CHANGES = [
    (["--model", "m2"], "model", "m2"),
    (["--train", "t2.jsonl"], "train_file", "t2.jsonl"),
    (["--out", "o2"], "output_dir", "o2"),
    (["--objective", "pairwise"], "objective", "pairwise"),
    (["--eval", "e.jsonl"], "eval_file", "e.jsonl"),
    (["--ref-model", "policy"], "ref_model", "policy"),
    (["--sep", "\\n"], "sep", "\n"),
    (["--step-tag", "none"], "step_tag", "none"),
    (["--max-length", "64"], "max_length", 64),
    (["--lr", "1e-3"], "learning_rate", 1e-3),
    (["--epochs", "2.5"], "num_train_epochs", 2.5),
    (["--max-steps", "9"], "max_steps", 9),
    (["--batch-size", "3"], "per_device_train_batch_size", 3),
    (["--eval-batch-size", "5"], "per_device_eval_batch_size", 5),
    (["--grad-accum", "2"], "gradient_accumulation_steps", 2),
    (["--warmup", "0.1"], "warmup_ratio", 0.1),
    (["--weight-decay", "0.01"], "weight_decay", 0.01),
    (["--seed", "7"], "seed", 7),
    (["--beta", "0.5"], "beta", 0.5),
    (["--implicit-labels", "step"], "implicit_labels", "step"),
    (["--max-pairs-per-problem", "3"], "max_pairs_per_problem", 3),
    (["--lora-r", "4"], "lora_r", 4),
    (["--lora-alpha", "8"], "lora_alpha", 8),
    (["--gradient-checkpointing"], "gradient_checkpointing", True),
    (["--no-group-by-length"], "group_by_length", False),
    (["--bf16"], "bf16", True),
    (["--logging-steps", "3"], "logging_steps", 3),
    (["--eval-steps", "5"], "eval_steps", 5),
    (["--save-steps", "11"], "save_steps", 11),
    (["--no-resume"], "resume", False),
    (["--keep-checkpoints"], "keep_checkpoints", True),
    (["--backbone-lr", "0"], "backbone_lr", 0.0),
    (["--best-on-eval"], "best_on_eval", True),
    (["--early-stopping", "2"], "early_stopping", 2),
]
# flags that are only valid with another one: compared against the defaults plus that one
NEEDS = {"best_on_eval": (["--eval", "e.jsonl"], {"eval_file": "e.jsonl"}),
         "early_stopping": (["--eval", "e.jsonl"], {"eval_file": "e.jsonl"}),
         "implicit_labels": (["--objective", "implicit"], {"objective": "implicit"})}


def config(argv: list[str]) -> TrainConfig:
    return config_from_args(parser_for("train").parse_args(argv))


def help_entries(capsys) -> dict[str, str]:
    """`prm train --help` as {flag: its help entry, whitespace folded}."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    entries: dict[str, str] = {}
    flag = None
    for line in capsys.readouterr().out.splitlines():
        m = re.match(r"  (--[\w-]+)", line)
        if m:
            flag = m.group(1)
            entries[flag] = line
        elif flag and line.startswith("      "):
            entries[flag] += line
        else:
            flag = None
    return {k: " ".join(v.split()) for k, v in entries.items()}


def shown_default(f) -> str | None:
    """How --help must state the field's default (None: a required flag, no default)."""
    if f.default is MISSING:
        return None
    if f.default is True:
        return f"(default: {f.name}=True)"       # a --no-X flag names the field it switches off
    if f.metadata.get("escaped"):
        return f"(default: {f.default.encode('unicode_escape').decode()})"
    return f"(default: {f.default})"


def test_the_table_covers_every_flag():
    assert sorted(field for _, field, _ in CHANGES) == sorted(FLAGGED)


@pytest.mark.parametrize("name", FLAGGED)
def test_help_shows_each_flag_with_trainconfigs_default(name, capsys):
    f = next(f for f in fields(TrainConfig) if f.name == name)
    entry = help_entries(capsys).get(flag_of(f))
    assert entry is not None, f"{flag_of(f)} missing from prm train --help"
    assert f.metadata["help"] in entry
    want = shown_default(f)
    if want is None:
        assert "(default: None)" in entry and name in REQUIRED
    else:
        assert want in entry


def test_flags_alone_give_trainconfigs_defaults():
    assert config(BASE) == TrainConfig(**REQUIRED)


@pytest.mark.parametrize("argv,name,want", CHANGES, ids=[c[1] for c in CHANGES])
def test_each_flag_sets_its_field_and_only_it(argv, name, want):
    extra_argv, extra = NEEDS.get(name, ([], {}))
    got = config(BASE + extra_argv + argv)        # a flag given twice (--model): the last one wins
    default = TrainConfig(**REQUIRED, **extra)
    assert getattr(got, name) == want != getattr(default, name)
    rest = lambda c: {k: v for k, v in c.__dict__.items() if k != name}  # noqa: E731
    assert rest(got) == rest(default)


def test_invalid_values_are_user_errors():
    with pytest.raises(UserError, match="max_length 4 is too small"):
        config(BASE + ["--max-length", "4"])
