"""Shared test fixtures.

- `shared_data`: the read-only public data beside the project (../shared/data); tests that use it
  skip on a user's machine, where it does not exist.
- `tiny_lm_dir`: a tiny random Llama + BPE tokenizer built offline once per test session.

Area-specific fixtures live in `tests/fixtures_*.py` modules listed in `pytest_plugins`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PRM_SHARED_DATA", ROOT.parent / "shared" / "data"))

pytest_plugins: list[str] = ["fixtures_sampler", "fixtures_scoring"]  # tests/ is on sys.path (no __init__.py), so plain names

TINY_TEXTS = [
    f"Tom has {i} apples and buys {i + 3} more, so {i} + {i + 3} = {2 * i + 3} apples.\n\n"
    f"He gives away {i % 5} apples, so {2 * i + 3} - {i % 5} = {2 * i + 3 - i % 5}.\n\n"
    f"The answer is {2 * i + 3 - i % 5}."
    for i in range(300)
] + ["def add(a, b):\n    total = a + b\n    return total\n", "x = [1, 2, 3]\nprint(sum(x))\n"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~30 s (still part of `make test`)")
    config.addinivalue_line("markers", "vllm: starts a vLLM engine")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory) -> Path:
    from prm.tiny import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny_lm"), TINY_TEXTS)
