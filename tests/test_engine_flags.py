"""Every command that starts a policy engine takes the same engine flags and builds the same EngineConfig."""

from __future__ import annotations

import argparse
import importlib

import pytest

from prm.commands.engine_flags import engine_config
from prm.errors import UserError

def parse(command: str, argv: list[str]) -> argparse.Namespace:
    """Parse as `prm COMMAND ...` does: the command module adds its own options."""
    p = argparse.ArgumentParser(prog=f"prm {command}")
    importlib.import_module(f"prm.commands.{command}").add_arguments(p)
    return p.parse_args(argv)


# the minimal required arguments of each command that starts a sampler
COMMANDS = {
    "sample": ["--problems", "p.jsonl", "--out", "o.jsonl", "--model", "m"],
    "label": ["--method", "mc", "--problems", "p.jsonl", "--samples", "s.jsonl", "--out", "o.jsonl"],
    "search": ["--method", "bon", "--problems", "p.jsonl", "--model", "m", "--out", "o.jsonl"],
}
FLAGS = ["--backend", "transformers", "--dtype", "float32", "--gpu-memory-utilization", "0.5",
         "--tensor-parallel-size", "4", "--max-model-len", "2048"]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_engine_flags_reach_the_engine_config(command):
    args = parse(command, [*COMMANDS[command], *FLAGS])
    cfg = engine_config(args, "some/model", seed=7)
    assert (cfg.model, cfg.backend, cfg.dtype, cfg.gpu_memory_utilization, cfg.tensor_parallel_size,
            cfg.max_model_len, cfg.seed) == ("some/model", "transformers", "float32", 0.5, 4, 2048, 7)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_engine_flag_defaults_are_the_same_everywhere(command):
    cfg = engine_config(parse(command, COMMANDS[command]), "m")
    assert (cfg.backend, cfg.dtype, cfg.gpu_memory_utilization, cfg.tensor_parallel_size, cfg.max_model_len) == \
        ("auto", "auto", 0.3, 1, None)


@pytest.mark.parametrize("flag, value", [("--tensor-parallel-size", "0"), ("--gpu-memory-utilization", "1.5"),
                                         ("--max-model-len", "1")])
def test_bad_engine_flags_are_user_errors(flag, value, capsys):
    try:
        args = parse("sample", [*COMMANDS["sample"], flag, value])
    except SystemExit:  # refused by the flag's type when parsed (prm/commands/argtypes.py)
        assert f"argument {flag}: must be" in capsys.readouterr().err
        return
    with pytest.raises(UserError, match=flag.lstrip("-").replace("-", "_")):
        engine_config(args, "m")
