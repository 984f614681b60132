"""Choose one sample per problem from a pool of N: the selection methods, and answer grouping.

Selection names (ANCHORS.md):
- `naive`    -- best-of-N: the sample with the highest reward-model score.
- `weighted` -- weighted majority vote: sum the scores of the samples in each answer group, take the
                group with the largest sum, and return its best-scoring member.
- `majority` -- self-consistency: the largest answer group; no reward model.
- `oracle`   -- pass@N: a correct sample whenever the pool holds one (an upper bound, not a method).
- `random`   -- one sample at random: the policy's own accuracy, the floor every method must beat.

A method may be *gated* by the sympy step checker (`prm.search.verified`): samples with a step the
checker proves false are dropped before selecting, unless every sample is flagged.

Answer groups are computed once per problem over the whole pool (`group_answers`), never by string
equality: math answers are grouped by `verifiers.math.verify` equivalence ("1/2" and "0.5" vote
together); code samples are grouped by their *behaviour on the problem's tests* (the tuple of
pass/fail outcomes, `code_group_key`), falling back to program identity (whitespace-normalised text)
when no per-test outcomes exist. Behaviour on the grading tests is optimistic for a deployment that
has no tests at selection time; reports say so. A sample with no answer (group -1) never receives
votes; when no sample has an answer, majority returns the first sample, i.e. a random one.

Ties: the subsample arrives in random order (`prm.eval.bon` permutes it), so "first among equals"
is a uniformly random tie-break.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from prm.domains import code_group_key  # noqa: F401 - the code domain's answer key, re-exported

SELECTIONS = ("naive", "weighted", "majority", "oracle", "random")
NEEDS_RM = ("naive", "weighted")


@dataclass(frozen=True)
class Method:
    """One selection method: `selection`, the reward model `rm` it ranks by (None for majority,
    oracle, random), the step `aggregation` for PRM scores (None for ORM scores), and `gated`."""

    selection: str
    rm: str | None = None
    aggregation: str | None = None
    gated: bool = False

    def __post_init__(self):
        if self.selection not in SELECTIONS:
            raise ValueError(f"unknown selection {self.selection!r}; choose from {SELECTIONS}")
        if (self.selection in NEEDS_RM) != (self.rm is not None):
            raise ValueError(f"selection {self.selection!r} {'needs' if self.selection in NEEDS_RM else 'takes no'} reward model")

    @property
    def score_key(self) -> tuple[str, str | None] | None:
        return None if self.rm is None else (self.rm, self.aggregation)

    @property
    def name(self) -> str:
        """Readable, parseable name: `prm:min`, `weighted:prm:min`, `orm`, `majority`,
        `sympy+prm:min` (gated), `sympy` (gated random: the checker alone)."""
        if self.selection == "random" and self.gated:
            return "sympy"
        base = self.selection if self.rm is None else ":".join(
            p for p in (("weighted" if self.selection == "weighted" else None), self.rm, self.aggregation) if p)
        return f"sympy+{base}" if self.gated else base

    @classmethod
    def parse(cls, name: str, prm_names: Sequence[str] = ()) -> "Method":
        """Inverse of `name`. A bare RM name is best-of-N; `rm:agg` names a PRM aggregation."""
        gated = False
        if name == "sympy":
            return cls("random", gated=True)
        if name.startswith("sympy+"):
            gated, name = True, name[len("sympy+"):]
        if name in ("majority", "oracle", "random"):
            return cls(name, gated=gated)
        selection = "naive"
        if name.startswith("weighted:"):
            selection, name = "weighted", name[len("weighted:"):]
        rm, _, agg = name.partition(":")
        return cls(selection, rm=rm, aggregation=agg or None, gated=gated)


def choose(method: Method, idx: Sequence[int], *, correct: Sequence[bool], groups: Sequence[int],
           scores: Sequence[float] | None = None, flagged: Sequence[bool] | None = None) -> int:
    """Index (into the pool) of the sample `method` selects from the subsample `idx`.

    This is the one place the selection name is read. `scores` are the method's per-sample scores
    (already aggregated), `groups` answer-group ids (-1 = no answer), `flagged` the sympy flags.
    """
    idx = list(idx)
    if not idx:
        raise ValueError("empty subsample")
    if method.gated and flagged is not None:
        kept = [i for i in idx if not flagged[i]]
        idx = kept or idx  # every sample flagged: the gate cannot help, fall back to all
    sel = method.selection
    if sel == "random":
        return idx[0]
    if sel == "oracle":
        return next((i for i in idx if correct[i]), idx[0])
    if sel == "naive":
        return max(idx, key=lambda i: scores[i])  # max() keeps the first of equals
    votes: dict[int, float] = {}
    for i in idx:
        if groups[i] >= 0:
            votes[groups[i]] = votes.get(groups[i], 0.0) + (1.0 if sel == "majority" else max(scores[i], 0.0))
    if not votes:
        return idx[0]
    best = max(votes, key=votes.get)  # dict order = first appearance, so ties go to the earlier group
    members = [i for i in idx if groups[i] == best]
    return members[0] if sel == "majority" else max(members, key=lambda i: scores[i])


# ----------------------------------------------------------------------------- grouping
def group_answers(answers: Sequence[str | None], same: Callable[[str, str], bool]) -> list[int]:
    """Group ids for answers under the equivalence `same(representative, answer)`; None -> -1.

    Each answer joins the first group whose representative (its first member) it matches, so the
    number of `same` calls is at most N x groups. Equal strings skip the call.
    """
    reps: list[str] = []
    out: list[int] = []
    for a in answers:
        if a is None or not str(a).strip():
            out.append(-1)
            continue
        a = str(a)
        gid = next((g for g, r in enumerate(reps) if r.strip() == a.strip() or same(r, a)), None)
        if gid is None:
            reps.append(a)
            gid = len(reps) - 1
        out.append(gid)
    return out


def math_same(a: str, b: str) -> bool:
    """Math equivalence through the verifier, in both directions: `verify(gold, pred)` is
    deliberately asymmetric (gold is trusted), and two model answers are both untrusted."""
    from verifiers.math import verify

    return verify(a, b).correct is True or verify(b, a).correct is True
