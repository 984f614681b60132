"""`RewardFunction`: a verifier, a PRM / ORM scorer, or both, turned into rewards for policy training.

    from prm.rewards import RewardConfig, RewardFunction
    from prm.scoring import load_scorer
    fn = RewardFunction(RewardConfig(shape="outcome+prm", prm_weight=0.5), scorer=load_scorer("prm-out"))
    fn.rewards(["What is 2+3?"], ["2 + 3 = 5.\\n\\nThe answer is 5."], golds=["5"])
    # [Reward(score=1 + 0.5 x the PRM's min step score, step_rewards=(...), step_ends=(10, 28), correct=True, ...)]

The scorer is anything `ScorerLike` (`prm.scoring.load_scorer`: transformers, vLLM, an ensemble, the
likelihood-ratio scorer; or `prm.scoring.RemoteScorer` against `prm serve`). The completion is split
into steps here, in text (`prm.rewards.shapes.step_spans`), and the scorer builds its own token
sequence from (question, steps) with the function training used (`prm.sequence.encode`): the policy's
tokenizer never meets the PRM's, which is the mismatch users of PRM rewards keep hitting (TRL #2577,
OpenRLHF #633). Dense rewards come back as character offsets for the trainer to map onto its tokens.

The verifier is the domain's in `VERIFIERS` (math: `verifiers.math.grade` against the gold answer)
or any callable `(completion, gold) -> Verdict | bool | None`. It runs whenever a gold answer is
given, whatever the shape, so `Reward.correct` is there to log; only the shapes that use the outcome
put it into the score (dense: added to the last step, and only for a completion that has a gold).

Model output never raises: a completion that is not a string, is empty, has no answer, holds lone
surrogates or a million tiny steps gets a defined `Reward` with the reason. A scorer that fails (a
server down, a model missing) does raise: a silent zero reward would train the policy on nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from prm.domains import domain_of
from prm.rewards.shapes import Reward, RewardConfig, shape, step_spans, steps_of


def _math_verdict(completion: str, gold: Any, cfg: RewardConfig):
    from verifiers.math import grade

    return grade(completion, str(gold), timeout=cfg.math_timeout)


# The verifier each domain gives an outcome reward with, by `RewardConfig.domain`. Code has none by
# name: its gold is a test suite, so pass a callable (e.g. one around `verifiers.code.run_tests`).
VERIFIERS: dict[str, Callable[[str, Any, RewardConfig], Any]] = {"math": _math_verdict}


def as_text(completion: Any) -> tuple[str, str]:
    """(text, note): a model's completion as a string the scorer and verifier can take. Not a string:
    "" and a note. Lone surrogates (not encodable, a tokenizer would raise) become "?": one character
    for one, so character offsets still index the caller's string."""
    if not isinstance(completion, str):
        return "", f"completion is {type(completion).__name__}, not text"
    try:
        completion.encode("utf-8")
        return completion, ""
    except UnicodeEncodeError:
        return completion.encode("utf-8", "replace").decode("utf-8"), "unencodable characters replaced"


def _verdict(verifier, completion: str, gold: Any) -> tuple[bool | None, str]:
    if gold is None:
        return None, "no gold answer"
    try:
        v = verifier(completion, gold)
    except Exception as err:  # noqa: BLE001 - verifiers promise not to raise; a user's callable might
        return None, f"verifier error: {type(err).__name__}: {err}"
    if v is None or isinstance(v, bool):
        return v, "" if v is not None else "verifier could not tell"
    correct = getattr(v, "correct", None)
    return (correct if correct in (True, False) else None), str(getattr(v, "reason", ""))


class RewardFunction:
    """Rewards for a batch of completions; see the module docstring and `prm.rewards.shapes`."""

    def __init__(self, config: RewardConfig = RewardConfig(), *, scorer=None, verifier=None):
        self.config = config
        self.domain = domain_of(config.domain)
        if verifier is None and config.uses_verifier:
            if config.domain not in VERIFIERS:
                raise ValueError(f"shape {config.shape!r} needs a verifier and domain {config.domain!r} has none "
                                 f"by name (named: {', '.join(VERIFIERS)}); pass verifier=callable(completion, gold)")
        # the domain's verifier runs whenever a gold answer is given, whatever the shape: `Reward.correct`
        # is then known for logging (training accuracy) even where the score ignores it ("prm")
        if verifier is None and config.domain in VERIFIERS:
            named = VERIFIERS[config.domain]
            verifier = lambda completion, gold: named(completion, gold, config)  # noqa: E731
        if verifier is not None and not callable(verifier):
            raise ValueError(f"verifier must be callable(completion, gold), got {type(verifier).__name__}")
        if config.uses_scorer and scorer is None:
            raise ValueError(f"shape {config.shape!r} needs a scorer (a PRM or ORM: prm.scoring.load_scorer)")
        self.scorer = scorer if config.uses_scorer else None
        self.verifier = verifier
        self.sep = config.sep

    # -- one batch
    def rewards(self, questions: Sequence[str], completions: Sequence[Any], golds: Sequence[Any] | None = None
                ) -> list[Reward]:
        """One `Reward` per completion, in order. `questions[i]` is what the PRM sees as the prompt (the
        plain question it was trained with, not a chat-templated prompt); `golds[i]` the gold answer
        (None: the outcome is unknown)."""
        n = len(completions)
        if len(questions) != n or (golds is not None and len(golds) != n):
            raise ValueError(f"questions ({len(questions)}), completions ({n}) and golds "
                             f"({None if golds is None else len(golds)}) must have the same length")
        cfg = self.config
        texts, notes = zip(*(as_text(c) for c in completions)) if n else ((), ())
        spans = [step_spans(t, self.domain, self.sep) for t in texts]
        steps = [steps_of(t, s) for t, s in zip(texts, spans)]
        scores = self._scores([q if isinstance(q, str) else "" for q in questions], steps)
        out = []
        for i in range(n):
            correct, why = None, ""
            if self.verifier is not None:
                correct, why = _verdict(self.verifier, texts[i], None if golds is None else golds[i])
            st, sp, sc = steps[i], spans[i], scores[i]
            if self.scorer is not None and getattr(self.scorer, "kind", "prm") == "orm" and st:
                # an ORM scores the whole solution: one "step" from the first step's start to the last's end
                sp = [(sp[0][0], sp[-1][1])]
                st = [texts[i][sp[0][0]:sp[0][1]]]
            reason = "; ".join(r for r in (notes[i], "no steps" if not st else "", why) if r)
            judged = self.verifier is not None and golds is not None and golds[i] is not None
            out.append(shape(cfg, correct=correct, steps=st, step_scores=sc, spans=sp, text_len=len(texts[i]),
                             has_outcome=judged, reason=reason))
        return out

    def reward(self, question: str, completion: Any, gold: Any = None) -> Reward:
        return self.rewards([question], [completion], None if gold is None else [gold])[0]

    def _scores(self, questions: list[str], steps: list[list[str]]) -> list[list[float]]:
        """The scorer's step scores, one batch call for every completion that has steps."""
        if self.scorer is None:
            return [[] for _ in steps]
        todo = [i for i, s in enumerate(steps) if s]
        got = self.scorer.score_batch([(questions[i], steps[i]) for i in todo]) if todo else []
        out: list[list[float]] = [[] for _ in steps]
        for i, g in zip(todo, got):
            out[i] = list(g)
        return out
