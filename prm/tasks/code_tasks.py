"""Synthetic Python function tasks: the embedded default code tasks.

Three families, each a pipeline of 2-5 small operations described in words:

- `arith`:  a number goes through add / subtract / multiply / floor-divide / modulo steps;
- `list`:   a list of ints is filtered, mapped, then reduced (sum, max, min, len);
- `string`: a string is reversed, case-changed, stripped of a letter, repeated, suffixed.

The reference solution is one statement per operation inside one function, so
`prm.steps.split_code_steps` gives one step per operation (plus the `def` line and the `return`).
Tests are 3-5 MBPP-style assert lines whose expected values come from running the reference here,
in-process (the code is our own, not a model's), so every reference passes by construction;
`tests/test_tasks.py` also checks them with `verifiers.code.run_tests`.

The descriptions name every constant, so a tiny policy can solve them by copying; its natural
mistakes are a wrong constant, a wrong operator, a dropped or repeated step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from prm.records import Problem
from prm.tasks.distinct import distinct_problems


@dataclass(frozen=True)
class CodeTaskConfig:
    min_ops: int = 2
    max_ops: int = 4
    max_const: int = 9       # constants in the descriptions are drawn from [2, max_const]
    n_tests: tuple[int, int] = (3, 5)


NAMES = {
    "arith": ["transform", "compute", "adjust", "convert", "scale", "process"],
    "list": ["summarize", "reduce_list", "score", "collect", "measure", "tally"],
    "string": ["format_text", "rewrite", "clean", "encode", "mangle", "shape"],
}

# op -> (description, statement). {c} is the constant, {v} the variable.
ARITH_OPS = {
    "add": ("adds {c}", "{v} = {v} + {c}"),
    "sub": ("subtracts {c}", "{v} = {v} - {c}"),
    "mul": ("multiplies by {c}", "{v} = {v} * {c}"),
    "div": ("floor-divides by {c}", "{v} = {v} // {c}"),
    "mod": ("takes the remainder modulo {c}", "{v} = {v} % {c}"),
    "sq": ("squares the value", "{v} = {v} * {v}"),
}
LIST_FILTERS = {
    "gt": ("keeps the numbers greater than {c}", "nums = [n for n in nums if n > {c}]"),
    "lt": ("keeps the numbers less than {c}", "nums = [n for n in nums if n < {c}]"),
    "even": ("keeps the even numbers", "nums = [n for n in nums if n % 2 == 0]"),
    "odd": ("keeps the odd numbers", "nums = [n for n in nums if n % 2 == 1]"),
}
LIST_MAPS = {
    "add": ("adds {c} to each number", "nums = [n + {c} for n in nums]"),
    "mul": ("multiplies each number by {c}", "nums = [n * {c} for n in nums]"),
    "sub": ("subtracts {c} from each number", "nums = [n - {c} for n in nums]"),
}
LIST_REDUCE = {
    "sum": ("returns their sum", "total = sum(nums)"),
    "len": ("returns how many there are", "total = len(nums)"),
    "max": ("returns the largest, or 0 if there are none", "total = max(nums, default=0)"),
    "min": ("returns the smallest, or 0 if there are none", "total = min(nums, default=0)"),
}
STRING_OPS = {
    "rev": ("reverses it", "s = s[::-1]"),
    "upper": ("converts it to upper case", "s = s.upper()"),
    "lower": ("converts it to lower case", "s = s.lower()"),
    "drop": ("removes every letter '{ch}'", "s = s.replace('{ch}', '')"),
    "rep": ("repeats it {c} times", "s = s * {c}"),
    "suffix": ("appends '{w}'", "s = s + '{w}'"),
    "prefix": ("puts '{w}' in front", "s = '{w}' + s"),
    "first": ("keeps the first {c} characters", "s = s[:{c}]"),
}
WORDS = ["ab", "xy", "ok", "zz", "hi", "qq", "end", "go"]
LETTERS = "abcdeinorst"


def _arith(rng: random.Random, cfg: CodeTaskConfig, name: str):
    ops = [rng.choice(sorted(ARITH_OPS)) for _ in range(rng.randint(cfg.min_ops, cfg.max_ops))]
    descs, lines = [], []
    for op in ops:
        c = rng.randint(2, cfg.max_const)
        d, s = ARITH_OPS[op]
        descs.append(d.format(c=c))
        lines.append("    " + s.format(c=c, v="x"))
    question = (f"Write a Python function `{name}(x)` that takes an integer x, "
                f"{_and(descs)}, and returns the result.")
    code = f"def {name}(x):\n" + "\n".join(lines) + "\n    return x"
    inputs = [(v,) for v in rng.sample(range(-20, 60), 5)]
    return question, code, inputs, ops


def _list(rng: random.Random, cfg: CodeTaskConfig, name: str):
    n_ops = rng.randint(cfg.min_ops, cfg.max_ops)
    kinds = [("filter", rng.choice(sorted(LIST_FILTERS)))]
    for _ in range(max(0, n_ops - 2)):
        kinds.append(("map", rng.choice(sorted(LIST_MAPS))))
    rng.shuffle(kinds)
    kinds.append(("reduce", rng.choice(sorted(LIST_REDUCE))))
    table = {"filter": LIST_FILTERS, "map": LIST_MAPS, "reduce": LIST_REDUCE}
    descs, lines = [], []
    for kind, op in kinds:
        c = rng.randint(2, cfg.max_const)
        d, s = table[kind][op]
        descs.append(d.format(c=c))
        lines.append("    " + s.format(c=c))
    question = (f"Write a Python function `{name}(nums)` that takes a list of integers, "
                f"{_and(descs)}.")
    code = f"def {name}(nums):\n" + "\n".join(lines) + "\n    return total"
    inputs = [([rng.randint(0, 12) for _ in range(rng.randint(0, 6))],) for _ in range(5)]
    return question, code, inputs, [op for _, op in kinds]


def _string(rng: random.Random, cfg: CodeTaskConfig, name: str):
    ops = rng.sample(sorted(STRING_OPS), rng.randint(cfg.min_ops, cfg.max_ops))
    descs, lines = [], []
    for op in ops:
        c, ch, w = rng.randint(2, min(4, cfg.max_const)), rng.choice(LETTERS), rng.choice(WORDS)
        d, s = STRING_OPS[op]
        descs.append(d.format(c=c, ch=ch, w=w))
        lines.append("    " + s.format(c=c, ch=ch, w=w))
    question = f"Write a Python function `{name}(s)` that takes a string s, {_and(descs)}, and returns it."
    code = f"def {name}(s):\n" + "\n".join(lines) + "\n    return s"
    words = ["banana", "Robot", "stone", "Data", "tree", "Ocean", "riser", "cat", "", "Noon"]
    inputs = [(w,) for w in rng.sample(words, 5)]
    return question, code, inputs, ops


FAMILIES = {"arith": _arith, "list": _list, "string": _string}


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", then ".join(parts[:-1]) + ", then " + parts[-1]


def _run_reference(code: str, name: str, inputs: list[tuple]) -> list:
    # our own generated code, run in-process to compute expected outputs (never a model's output)
    env: dict = {}
    exec(compile(code, f"<reference {name}>", "exec"), env)  # noqa: S102
    return [env[name](*args) for args in inputs]


def make_code_problem(rng: random.Random, pid: str, cfg: CodeTaskConfig = CodeTaskConfig()) -> Problem:
    while True:
        family = rng.choice(sorted(FAMILIES))
        name = rng.choice(NAMES[family])
        question, code, inputs, ops = FAMILIES[family](rng, cfg, name)
        outputs = _run_reference(code, name, inputs)
        k = rng.randint(*cfg.n_tests)
        # tests that all expect the same value (e.g. "mod 3, then floor-divide by 3") would pass a
        # program that returns a constant: draw again
        if len({repr(o) for o in outputs[:k]}) >= 2:
            break
    tests = [f"assert {name}({', '.join(map(repr, args))}) == {out!r}" for args, out in zip(inputs[:k], outputs)]
    return Problem(
        id=pid, domain="code", question=question, tests=tests, entry_point=name, test_format="mbpp",
        metadata={"reference": code, "family": family, "ops": ops},
    )


def generate_code_tasks(n: int, seed: int, cfg: CodeTaskConfig = CodeTaskConfig(), prefix: str = "code",
                        exclude: set[str] | None = None) -> list[Problem]:
    """`n` problems with distinct questions, none of them in `exclude`."""
    return distinct_problems(lambda rng, pid: make_code_problem(rng, pid, cfg), n, seed, prefix, exclude)
