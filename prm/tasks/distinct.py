"""Draw generated problems until `n` have distinct questions: the loop both task generators share."""

from __future__ import annotations

import random
from typing import Callable

from prm.records import Problem


def distinct_problems(make: Callable[[random.Random, str], Problem], n: int, seed: int, prefix: str,
                      exclude: set[str] | None = None) -> list[Problem]:
    """`n` problems from `make(rng, id)` with distinct questions, none of them in `exclude` (e.g. the
    test questions, so that no training problem leaks into the test set). Ids run `prefix-00000`,
    ... in order, with no gaps where a repeat was drawn and thrown away."""
    rng = random.Random(seed)
    seen = set(exclude or ())
    out: list[Problem] = []
    while len(out) < n:
        p = make(rng, f"{prefix}-{len(out):05d}")
        if p.question in seen:
            continue
        seen.add(p.question)
        out.append(p)
    return out
