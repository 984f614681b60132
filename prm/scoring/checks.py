"""The generative verifier's sequence: checks found in a step's text, and the layout both training
(`prm.train.generative`) and scoring (`prm.scoring.generative`) read, built by one function (`layout`).

    find_checks("The herd grows to 2 times its size, so 16 * 2 = 32.")
    # [Check(at=47, value=Fraction(32), written=Fraction(32))]: after "16 * 2 =" the value is 32

Layout, per step (the verifier writes what is in brackets; everything else is the sample as written):

    The herd grows to 2 times its size, so 16 * 2 = [calc 32] 32. [ok]

A CHECK (" [calc V]") sits right after each checked "=": V is the exact value of the left side,
computed by exact Fraction arithmetic (`verifiers.math.arith`). It comes BEFORE the step's own value,
so the verifier cannot copy that value into its check: it has to compute it. The VERDICT (" [ok]" /
" [bad]") comes after the whole step, when the check and the written value are both in context; the
step score is P(ok) / (P(ok) + P(bad)) read at the first token where the two verdicts differ. An
earlier try put the check after the step ("check <left side> = V |") and the verifier learned to
repeat the step's own value: that is the copying this order rules out.

Which "=" is checked: its left side is a run of arithmetic tokens (numbers, operators, brackets)
that is not a bare number, does not start or end with an operator (`3 boxes * 12 = 36`: an operand
is a word) and is not the operand of a word (`half of 8 = 4`); its right side starts with a number
(or a minus sign and a number).
A step may hold several (`4 * 2 = 8 and 8 + 3 = 11`, chains `2 * 3 + 4 = 6 + 4 = 10`): each gets a
check. Looser than `verifiers.math.check_steps`, which decides True/False: here a check is only a
value written in the middle of the step, and the verdict's label comes from the record.

Values are written the way the steps write them: integers as digits, fractions with a finite decimal
expansion as decimals (2.5), others as a/b (7/3); negative with a leading "-".
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from verifiers.math.arith import EXPR_KINDS, NotArithmetic, TooComplex, evaluate_tokens, tokenize

CALC_OPEN = " [calc"                 # what the scorer writes; the verifier writes the rest: " V]"
CALC_CLOSE = "]"
VERDICTS = (" [ok]", " [bad]")       # index 0: the step is correct
MAX_DECIMALS = 6                     # a finite decimal longer than this is written as a/b
_OPERAND_WORDS = frozenset("of times by per half twice double triple each every than into from".split())


@dataclass(frozen=True)
class Check:
    at: int                    # character offset in the step right after the checked "="
    value: Fraction            # exact value of the left side
    written: Fraction | None   # the right side's value as written (None: not plain arithmetic)


def render(v: Fraction) -> str:
    """`Fraction(32)` -> "32", `Fraction(5, 2)` -> "2.5", `Fraction(7, 3)` -> "7/3", `Fraction(-1, 4)` -> "-0.25"."""
    v = Fraction(v)
    if v.denominator == 1:
        return str(v.numerator)
    d, twos, fives = v.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    places = max(twos, fives)
    if d == 1 and places <= MAX_DECIMALS:
        sign, a = ("-" if v < 0 else ""), abs(v)
        whole, frac = divmod(a.numerator * 10 ** places // a.denominator, 10 ** places)
        return f"{sign}{whole}.{frac:0{places}d}"
    return f"{v.numerator}/{v.denominator}"


def parse_value(text: str) -> Fraction | None:
    """The value a check wrote ("32", "2.5", "7/3", "-4"), or None when it is not one number."""
    try:
        toks = tokenize(text.strip())
        if not toks or any(t.kind not in EXPR_KINDS for t in toks):
            return None
        return evaluate_tokens(toks)
    except (NotArithmetic, TooComplex, RecursionError, ZeroDivisionError, OverflowError, ValueError):
        return None


def _trim(toks: list, lo: int, hi: int) -> tuple[int, int]:
    """Drop unmatched brackets at the ends of toks[lo:hi]."""
    while lo < hi:
        depth = sum((t.kind in ("LP", "LB")) - (t.kind in ("RP", "RB")) for t in toks[lo:hi])
        if depth > 0 and toks[lo].kind in ("LP", "LB"):
            lo += 1
        elif depth < 0 and toks[hi - 1].kind in ("RP", "RB"):
            hi -= 1
        else:
            break
    return lo, hi


def _value(toks: list) -> Fraction | None:
    try:
        return evaluate_tokens(toks)
    except (NotArithmetic, TooComplex, RecursionError, ZeroDivisionError, OverflowError):
        return None


def find_checks(step: str) -> list[Check]:
    """Every checkable "=" of `step`, left to right (see the module docstring). Never raises."""
    if not isinstance(step, str) or len(step) > 20_000:
        return []
    try:
        toks = tokenize(step)
    except (RecursionError, ValueError):
        return []
    out = []
    for k, tok in enumerate(toks):
        if tok.kind != "EQ" or k + 1 >= len(toks) or toks[k + 1].kind == "EQ" or (k and toks[k - 1].kind == "EQ"):
            continue
        lo = k
        while lo > 0 and toks[lo - 1].kind in EXPR_KINDS:
            lo -= 1
        hi = k + 1
        while hi < len(toks) and toks[hi].kind in EXPR_KINDS:
            hi += 1
        lo, _ = _trim(toks, lo, k)
        _, hi = _trim(toks, k + 1, hi)
        left, right = toks[lo:k], toks[k + 1:hi]
        if not left or not right or left[0].kind == "OP" or left[-1].kind == "OP":
            continue
        if not (right[0].kind == "NUM" or right[0].text == "-" and len(right) > 1 and right[1].kind == "NUM"):
            continue                                   # the step's own value must follow the "="
        if len(left) == 1 and left[0].kind == "NUM":
            continue                                   # a bare number: nothing to compute
        before = toks[lo - 1] if lo else None
        if before is not None and before.kind == "WORD" and (before.text.lower() in _OPERAND_WORDS
                                                            or before.end == left[0].start):
            continue                                   # `half of 8 = 4`, `x2 = 4`
        value = _value(left)
        if value is None:
            continue
        out.append(Check(at=tok.end, value=value, written=_value(right)))
    return out


def calc_text(value: str) -> str:
    """The check span as written in the sequence: `calc_text("32")` -> " [calc 32]"."""
    return f"{CALC_OPEN} {value}{CALC_CLOSE}"


@dataclass(frozen=True)
class Piece:
    """One span of the sequence: "text" (the sample as written), "calc" (a check: `text` is its value,
    "" where the scorer has the verifier write it) or "verdict" (`label` True / False / None)."""

    kind: str
    text: str
    step: int
    label: bool | None = None
    check: Check | None = None


# Where a check goes: "before_value" (the design: right after its "=", before the step's own value) or
# "after_step" (the ablation the bench measures: after the whole step, when the written value is in context).
CHECK_POSITIONS = ("before_value", "after_step")


def layout(steps: list[str], sep: str, labels: list | None = None, position: str = "before_value") -> list[Piece]:
    """The pieces of a completion, in order (training: with labels; scoring: labels None).

    Step k: the separator (k > 0) and its text cut at each check, a calc piece at each cut, then its
    verdict piece ("after_step": the whole text, then its checks, then the verdict). Every step has a
    verdict piece, so a sequence reads the same at training and at scoring; a step labelled None
    trains nothing at its verdict (`prm.train.generative`)."""
    if position not in CHECK_POSITIONS:
        raise ValueError(f"position must be one of {CHECK_POSITIONS}, got {position!r}")
    out = []
    for k, step in enumerate(steps):
        pos, head, checks = 0, (sep if k else ""), []
        for c in find_checks(step):
            calc = Piece("calc", render(c.value) if labels is not None else "", k, check=c)
            if position == "after_step":
                checks.append(calc)
                continue
            out += [Piece("text", head + step[pos:c.at], k), calc]
            pos, head = c.at, ""
        if head + step[pos:]:
            out.append(Piece("text", head + step[pos:], k))
        out += checks
        out.append(Piece("verdict", "", k, label=None if labels is None else labels[k]))
    return out


def verdict_ids(tokenizer) -> tuple[list[int], int, int, list[int], list[int]]:
    """(shared prefix ids, ok's deciding id, bad's deciding id, ok ids, bad ids) of the two verdicts,
    derived from the tokenizer: the score is read where the two first differ."""
    ok = tokenizer(VERDICTS[0], add_special_tokens=False)["input_ids"]
    bad = tokenizer(VERDICTS[1], add_special_tokens=False)["input_ids"]
    n = 0
    while n < min(len(ok), len(bad)) and ok[n] == bad[n]:
        n += 1
    if n == min(len(ok), len(bad)):
        raise ValueError(f"the verdicts {VERDICTS} do not differ in a token of this tokenizer")
    return ok[:n], ok[n], bad[n], ok, bad


def prompt_ids(tokenizer, question: str) -> list[int]:
    """The prompt as sampling laid it out (`prm.scoring.logratio.encode_completion`): tokenized alone."""
    from prm.sampler import build_prompt

    ids = tokenizer(build_prompt(tokenizer, question), add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError("empty prompt: the first completion token needs a position before it")
    return list(ids)


def piece_ids(tokenizer, piece: Piece, written: str | bool) -> list[int]:
    """A piece's token ids, each piece tokenized alone (so a generated check drops into the same ids):
    text as is; calc: `calc_text(written)`; verdict: " [ok]" if `written` else " [bad]"."""
    if piece.kind == "text":
        text = piece.text
    elif piece.kind == "calc":
        text = calc_text(str(written))
    else:
        text = VERDICTS[0] if written else VERDICTS[1]
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_training(tokenizer, question: str, steps: list[str], labels: list, sep: str,
                    position: str = "before_value") -> tuple[list[int], list[bool], int]:
    """(ids, loss mask, prompt length) of one labelled sample: the mask is True on exactly the calc and
    verdict tokens of labelled steps. A verdict whose label is None is written for context only (what a
    greedy verifier writes there: " [ok]" before any bad step, " [bad]" after one) and trains nothing."""
    ids = prompt_ids(tokenizer, question)
    n_prompt, mask, bad_seen = len(ids), [False] * len(ids), False
    for p in layout(steps, sep, labels, position):
        if p.kind == "verdict":
            ok = (not bad_seen) if p.label is None else bool(p.label)
            bad_seen = bad_seen or not ok
            new, train = piece_ids(tokenizer, p, ok), p.label is not None
        else:
            new, train = piece_ids(tokenizer, p, p.text), p.kind == "calc"
        ids += new
        mask += [train] * len(new)
    return ids, mask, n_prompt
