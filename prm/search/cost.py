"""What a search spent, per problem: the one compute ledger every strategy fills (issue 26).

Strategies are compared at equal *generated* tokens (`generated_tokens`: every sampled token, kept
or not). The other columns say what that comparison leaves out:

- `scored_tokens`: tokens the scorer read. A step-level search rescoring every prefix reads the
  shared prefix again at every depth; best-of-N reads each sample once. Counted with the scorer's
  tokenizer where it has one (`tokenizer` attribute), else as whitespace-separated words -- then
  `scored_unit` says "words", so nobody compares the two units by accident.
- `prompt_tokens`: tokens the policy read (prompts, continuation prefixes included). vLLM's prefix
  caching makes most of them free on a step-level search; this column is the cost without it.
- `engine_calls` / `scorer_calls`: requests sent (one per prompt, one per scored item), the count
  a remote server bills and the count a batching engine amortises.

A `Cost` is a value: strategies add to one per problem and put `as_dict()` into
`SearchResult.extra["cost"]`, so a pool line carries it and `prm eval` can sum it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Cost:
    generated_tokens: int = 0
    prompt_tokens: int = 0
    scored_tokens: int = 0
    engine_calls: int = 0
    scorer_calls: int = 0
    scored_unit: str = "tokens"

    def add(self, other: "Cost") -> "Cost":
        """Sum in place (units must agree: a word count is not added to a token count)."""
        if other.scored_unit != self.scored_unit and other.scored_tokens and self.scored_tokens:
            raise ValueError(f"cannot add scorer cost in {other.scored_unit} to one in {self.scored_unit}")
        self.generated_tokens += other.generated_tokens
        self.prompt_tokens += other.prompt_tokens
        self.scored_tokens += other.scored_tokens
        self.engine_calls += other.engine_calls
        self.scorer_calls += other.scorer_calls
        if other.scored_tokens:
            self.scored_unit = other.scored_unit
        return self

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "Cost":
        d = d or {}
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _tokenizer(obj):
    tok = getattr(obj, "tokenizer", None)
    return tok if callable(getattr(tok, "encode", None)) else None


def count_tokens(obj, text: str) -> tuple[int, str]:
    """(length of `text`, unit) with `obj`'s tokenizer, or in words when it has none (fakes, remote)."""
    tok = _tokenizer(obj)
    if tok is None:
        return len(text.split()), "words"
    try:
        return len(tok.encode(text, add_special_tokens=False)), "tokens"
    except Exception:  # noqa: BLE001 - accounting must never stop a search
        return len(text.split()), "words"


def scoring_cost(scorer, items, sep: str = "\n\n") -> Cost:
    """The cost of one `scorer.score_batch(items)` call, items being (question, steps)."""
    cost = Cost(scorer_calls=len(items))
    for question, steps in items:
        n, unit = count_tokens(scorer, question + sep + sep.join(steps))
        cost.scored_tokens += n
        cost.scored_unit = unit
    return cost


def sampling_cost(sampler, prompt: str, completions) -> Cost:
    """The cost of one prompt's `generate` answer: its completions' tokens, the prompt read once."""
    n, _ = count_tokens(sampler, prompt)
    return Cost(generated_tokens=sum(int(getattr(c, "completion_tokens", 0) or 0) for c in completions or ()),
                prompt_tokens=n, engine_calls=1)
