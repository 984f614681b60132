"""The embedded default tasks: synthetic math word problems and Python function tasks.

`SPLITS` says how each file under `data/tasks/` is made (generator, size, seed); the files are
written by `scripts/make_tasks.py` and reproduced byte for byte from this table. The test split is
drawn first and the train split excludes its questions, so no test question is trained on.

`training_problems(domain, n)` extends the train split with more problems from the same seeded
stream (the first `SPLITS[...]["n"]` of them are exactly the train file): the tiny policy trains on
that longer stream, because a few hundred problems are too few for a model to learn arithmetic from
without memorizing them.
"""

from __future__ import annotations

from pathlib import Path

from prm.records import Problem, read_problems
from prm.tasks.code_tasks import CodeTaskConfig, generate_code_tasks
from prm.tasks.math_tasks import MathTaskConfig, generate_math_tasks

TASKS_DIR = Path(__file__).resolve().parents[2] / "data" / "tasks"
GENERATORS = {"math": generate_math_tasks, "code": generate_code_tasks}
SPLITS = {
    "math_test": {"domain": "math", "n": 200, "seed": 1001},
    "math_train": {"domain": "math", "n": 400, "seed": 2002},
    "code_test": {"domain": "code", "n": 200, "seed": 3003},
    "code_train": {"domain": "code", "n": 400, "seed": 4004},
}

__all__ = ["SPLITS", "TASKS_DIR", "generate_split", "training_problems", "load_tasks",
           "MathTaskConfig", "CodeTaskConfig", "generate_math_tasks", "generate_code_tasks"]


def generate_split(name: str, n: int | None = None) -> list[Problem]:
    """The problems of split `name` ("math_train", ...); `n` > the default extends the same stream."""
    spec = SPLITS[name]
    domain, kind = spec["domain"], name.split("_")[1]
    exclude = None
    if kind == "train":
        exclude = {p.question for p in generate_split(f"{domain}_test")}
    return GENERATORS[domain](spec["n"] if n is None else n, spec["seed"], prefix=name.replace("_", "-"),
                              exclude=exclude)


def training_problems(domain: str, n: int) -> list[Problem]:
    """The train split's stream, `n` long (>= the file's size to include every train problem)."""
    return generate_split(f"{domain}_train", n)


def load_tasks(name: str) -> list[Problem]:
    """Read `data/tasks/<name>.jsonl` (e.g. "math_test")."""
    return list(read_problems(TASKS_DIR / f"{name}.jsonl").values())
