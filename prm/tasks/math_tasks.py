"""Synthetic multi-step arithmetic word problems: the embedded default math tasks.

Each problem is a short story (a shop, a train, a recipe, a farm, savings) about one running
quantity that changes a few times. The reference solution has one step per change: the sentence
restated, then its arithmetic (`It sells 8 apples, so 12 - 8 = 4.`), and ends with
`The answer is N.`; steps are joined by "\\n\\n" (the math separator), so every reference step is
checkable by `verifiers.math.check_steps` and the gold answer by `grade`.

Why this shape: a tiny policy trained for minutes on 2 CPU cores has to be able to learn it
(copy numbers from the question, do 1-2 digit arithmetic digit by digit) and still get it wrong
often enough to be worth reranking. Its natural mistakes are the ones a PRM should catch: a wrong
sum, a wrong operator (adding what was sold), a lost step, a number copied wrongly.

Knobs (`MathTaskConfig`): number of changes per problem and operand size. A "boxes of" change
takes two steps (the product, then the sum), so a problem has between `min_ops` and `2 * max_ops`
arithmetic steps. Everything is drawn from `random.Random(seed)`: same config + seed -> same tasks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from prm.records import Problem
from prm.tasks.distinct import distinct_problems

SEP = "\n\n"


@dataclass(frozen=True)
class MathTaskConfig:
    # defaults sized for the tiny policy: numbers small enough that a model trained for minutes
    # learns the digit arithmetic partly, so it is right often but far from always
    min_ops: int = 2           # changes to the running quantity per problem
    max_ops: int = 3
    max_start: int = 25        # the starting quantity is drawn from [10, max_start]
    max_operand: int = 9       # added / removed amounts are drawn from [2, max_operand]
    max_factor: int = 4        # box counts, box sizes, multipliers and divisors from [2, max_factor]
    max_value: int = 99        # running values stay in [1, max_value]


# scenario -> (opening sentence, question, verbs). {q} is the start value, {item} the unit.
SCENARIOS = {
    "shop": ("A shop has {q} {item}.", "How many {item} does the shop have now?",
             {"add": "It buys {a} more {item}.", "sub": "It sells {a} {item}.",
              "boxes": "It receives {a} boxes with {b} {item} each.",
              "mul": "The number of {item} becomes {a} times as large.",
              "div": "It packs the {item} equally into {a} crates and keeps only one crate."},
             ["apples", "pens", "books", "cups", "hats", "lamps"]),
    "train": ("A train has {q} {item} on board.", "How many {item} are on the train now?",
              {"add": "At the first stop {a} {item} get on.", "sub": "At the next stop {a} {item} get off.",
               "boxes": "Then {a} groups of {b} {item} get on.",
               "mul": "By noon there are {a} times as many {item}.",
               "div": "The {item} split equally into {a} cars and only one car stays on."},
              ["people", "children", "students", "workers"]),
    "recipe": ("A recipe uses {q} grams of {item}.", "How many grams of {item} does the recipe use now?",
               {"add": "The cook adds {a} more grams.", "sub": "The cook removes {a} grams.",
                "boxes": "The cook adds {a} spoons of {b} grams each.",
                "mul": "The cook makes {a} times the amount.",
                "div": "The cook splits it into {a} equal parts and uses one part."},
               ["flour", "sugar", "rice", "butter"]),
    "farm": ("A farm has {q} {item}.", "How many {item} does the farm have now?",
             {"add": "The farmer buys {a} more {item}.", "sub": "The farmer sells {a} {item}.",
              "boxes": "The farmer buys {a} pens with {b} {item} in each.",
              "mul": "The herd grows to {a} times its size.",
              "div": "The farmer splits the {item} equally among {a} fields and keeps one field."},
             ["sheep", "goats", "cows", "hens"]),
    "savings": ("Ana has {q} dollars.", "How many dollars does Ana have now?",
                {"add": "She earns {a} dollars.", "sub": "She spends {a} dollars.",
                 "boxes": "She gets {a} coins worth {b} dollars each.",
                 "mul": "Her money grows to {a} times as much.",
                 "div": "She shares it equally with friends, {a} shares in all, and keeps one share."},
                ["dollars"]),
}

OPS = ("add", "sub", "boxes", "mul", "div")


def _pick_op(rng: random.Random, cur: int, cfg: MathTaskConfig) -> tuple[str, int, int] | None:
    """One change to `cur` that keeps every value a whole number in range, or None."""
    for _ in range(20):
        op = rng.choice(OPS)
        if op == "add":
            a = rng.randint(2, cfg.max_operand)
            if cur + a <= cfg.max_value:
                return op, a, 0
        elif op == "sub":
            if cur > 3:
                return op, rng.randint(2, min(cfg.max_operand, cur - 1)), 0
        elif op == "boxes":
            a, b = rng.randint(2, cfg.max_factor), rng.randint(2, cfg.max_factor)
            if cur + a * b <= cfg.max_value:
                return op, a, b
        elif op == "mul":
            a = rng.randint(2, min(3, cfg.max_factor))  # x2, x3: a growth step, not a times table
            if cur * a <= cfg.max_value:
                return op, a, 0
        else:
            divisors = [d for d in range(2, cfg.max_factor + 1) if cur % d == 0 and cur // d >= 2]
            if divisors:
                return op, rng.choice(divisors), 0
    return None


def make_math_problem(rng: random.Random, pid: str, cfg: MathTaskConfig = MathTaskConfig()) -> Problem:
    """One problem with its reference solution in metadata["reference"] and metadata["steps"]."""
    name = rng.choice(sorted(SCENARIOS))
    opening, question, verbs, items = SCENARIOS[name]
    item = rng.choice(items)
    cur = rng.randint(10, cfg.max_start)
    sentences = [opening.format(q=cur, item=item)]
    steps: list[str] = []
    kinds: list[str] = []
    n_ops = rng.randint(cfg.min_ops, cfg.max_ops)
    while len(kinds) < n_ops:
        pick = _pick_op(rng, cur, cfg)
        if pick is None:  # nothing fits (e.g. a prime at the top of the range): start over smaller
            pick = ("sub", rng.randint(1, max(1, cur // 2)), 0) if cur > 2 else ("add", 2, 0)
        op, a, b = pick
        sentence = verbs[op].format(a=a, b=b, item=item)
        sentences.append(sentence)
        kinds.append(op)
        # each step restates its sentence, then the arithmetic: the numbers to use sit right before
        # the equation, so the model copies locally and what is left to learn is the arithmetic
        said = sentence[:-1]
        if op == "add":
            steps.append(f"{said}, so {cur} + {a} = {cur + a}.")
            cur += a
        elif op == "sub":
            steps.append(f"{said}, so {cur} - {a} = {cur - a}.")
            cur -= a
        elif op == "boxes":
            steps.append(f"{said}, so {a} * {b} = {a * b}.")
            steps.append(f"Then {cur} + {a * b} = {cur + a * b}.")
            cur += a * b
        elif op == "mul":
            steps.append(f"{said}, so {cur} * {a} = {cur * a}.")
            cur *= a
        else:
            steps.append(f"{said}, so {cur} / {a} = {cur // a}.")
            cur //= a
    sentences.append(question.format(item=item))
    steps.append(f"The answer is {cur}.")
    return Problem(
        id=pid, domain="math", question=" ".join(sentences), answer=str(cur),
        metadata={"reference": SEP.join(steps), "steps": steps, "scenario": name, "ops": kinds,
                  "n_steps": len(steps) - 1},
    )


def generate_math_tasks(n: int, seed: int, cfg: MathTaskConfig = MathTaskConfig(), prefix: str = "math",
                        exclude: set[str] | None = None) -> list[Problem]:
    """`n` problems with distinct questions, none of them in `exclude` (e.g. the test questions)."""
    return distinct_problems(lambda rng, pid: make_math_problem(rng, pid, cfg), n, seed, prefix, exclude)
