"""The one sequence builder: (prompt, steps) -> token ids + the position that carries each step's label.

Training (`prm.train`) and scoring (`prm.scoring`, both engines) call `build_sequence` and nothing
else, so the position a label is trained on is the position a score is read from (ANCHORS.md).

Layout, with S = sep + (step_tag or ""):

    prompt S step_1 S step_2 S ... step_n S

The prompt is followed by S too (TRL trained without it and scored with it: a known bug). The whole
text is tokenized ONCE, then each step's position is found from the character offsets: the last
token that starts before the end of that step's S. So a BPE merge across a step boundary
("6.\\n\\nThe" as one token) can never move a label relative to scoring; tokenizing steps one by one
and concatenating (another known bug) is exactly what this avoids.

Step tags. The label sits on the last token of the separator (one token or several). When the
tokenizer merges the separator with the text that follows, that token would also contain the next step's first characters, and scoring a prefix
of the steps would then tokenize differently from scoring the whole (a GPT-2 style pre-tokenizer
does this too: "\n\n" before a word becomes "\n" "\n", at the end of a text one "\n\n" token).
`resolve_step_tag("auto")` checks that every prefix of a few training samples tokenizes as a prefix
(`prefix_stable`) and otherwise adds a special token (`DEFAULT_STEP_TAG`) after every separator:
added tokens are split out before BPE runs, so the tag is always exactly one token and nothing
merges across it. The chosen tag is saved in the model config; scorers read it from there.
Without a tag a big BPE can even swallow a whole short step with both of its separators, putting
two step boundaries in one token; training drops such samples (counted as "merged").

Truncation (`truncate_left`): the prompt is cut from the left first (leading special tokens such as
BOS are kept); if the steps still do not fit, the sample does not fit and the caller decides
(training drops and counts it; the scorer marks the steps that fall outside the window).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Iterable

DEFAULT_STEP_TAG = "<|prm_step|>"


@dataclass(frozen=True)
class Encoded:
    """A built sequence. `prompt_end` = number of tokens up to and including the prompt's separator;
    `n_lead` = leading special tokens (BOS) that truncation keeps."""

    input_ids: list[int]
    step_positions: list[int]
    prompt_end: int
    n_lead: int


def effective_sep(sep: str, step_tag: str | None) -> str:
    if not sep and not step_tag:
        raise ValueError("the separator must be a non-empty string (or give a step tag)")
    return sep + (step_tag or "")


def sequence_text(prompt: str, steps: list[str], sep: str, step_tag: str | None = None) -> tuple[str, list[int]]:
    """The joined text and the character offset where each S ends (prompt's first, then one per step)."""
    s = effective_sep(sep, step_tag)
    parts, ends, n = [], [], 0
    for piece in [prompt, *steps]:
        parts.append(piece)
        parts.append(s)
        n += len(piece) + len(s)
        ends.append(n)
    return "".join(parts), ends


def encode(tokenizer, prompt: str, steps: list[str], sep: str, step_tag: str | None = None) -> Encoded:
    """Tokenize the joined text once and locate each label position. Needs a fast tokenizer."""
    text, ends = sequence_text(prompt, steps, sep, step_tag)
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("build_sequence needs a fast (Rust) tokenizer: it reads character offsets")
    enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True,
                    return_special_tokens_mask=True)
    ids = list(enc["input_ids"])
    # special tokens added by the post-processor (BOS/EOS) have empty offsets: skip them when mapping
    # characters to tokens. Tokens written in the text (a step tag) are not in this mask.
    real = [i for i, m in enumerate(enc["special_tokens_mask"]) if not m]
    starts = [enc["offset_mapping"][i][0] for i in real]
    positions = []
    for c in ends:
        k = bisect_left(starts, c) - 1          # last real token starting before the end of S
        if k < 0:
            raise ValueError("empty token sequence for a non-empty text")
        positions.append(real[k])
    n_lead = 0
    while n_lead < len(ids) and enc["special_tokens_mask"][n_lead]:
        n_lead += 1
    return Encoded(ids, positions[1:], positions[0] + 1, n_lead)


def build_sequence(tokenizer, prompt: str, steps: list[str], sep: str,
                   step_tag: str | None = None) -> tuple[list[int], list[int]]:
    """(input_ids, step_positions): one position per step, the last token of the separator (or tag)
    that ends it. The single builder used by training and scoring.

    >>> from prm.sequence import build_sequence  # doctest: +SKIP
    >>> ids, pos = build_sequence(tok, "1+1?", ["1+1=2", "The answer is 2."], "\\n\\n")  # doctest: +SKIP
    >>> len(pos)  # doctest: +SKIP
    2
    """
    e = encode(tokenizer, prompt, steps, sep, step_tag)
    return e.input_ids, e.step_positions


def truncate_left(e: Encoded, max_length: int) -> Encoded | None:
    """Cut prompt tokens from the left (after BOS) until the sequence fits; None if the steps alone
    do not fit. At least the prompt's last token (the end of its separator) is kept."""
    over = len(e.input_ids) - max_length
    if over <= 0:
        return e
    cuttable = e.prompt_end - e.n_lead - 1
    if over > cuttable:
        return None
    ids = e.input_ids[:e.n_lead] + e.input_ids[e.n_lead + over:]
    return Encoded(ids, [p - over for p in e.step_positions], e.prompt_end - over, e.n_lead)


def prefix_stable(tokenizer, prompt: str, steps: list[str], sep: str, step_tag: str | None) -> bool:
    """True when encoding steps[:k] gives exactly the first tokens (through step k's position) of
    encoding all steps, for every k: the property step-level search relies on. A separator that is
    one token can still fail it (a pre-tokenizer that splits "\n\n" differently before a word)."""
    full = encode(tokenizer, prompt, steps, sep, step_tag)
    for k in range(len(steps)):
        part = encode(tokenizer, prompt, steps[:k + 1], sep, step_tag)
        end = full.step_positions[k] + 1
        if part.step_positions != full.step_positions[:k + 1] or part.input_ids[:end] != full.input_ids[:end]:
            return False
    return True


def sep_is_one_token(tokenizer, sep: str) -> bool:
    return len(tokenizer.encode(sep, add_special_tokens=False)) == 1


def resolve_step_tag(tokenizer, sep: str, step_tag: str | None,
                     probe: Iterable[tuple[str, list[str]]] = ()) -> str | None:
    """Decide the step tag. `step_tag`: "auto" | "none"/None | an explicit token string.

    "auto" keeps the bare separator (one token or several) when every (prompt, steps) pair in
    `probe` (use the first training records) is `prefix_stable`, i.e. no BPE merge or pre-tokenizer
    split crosses a step boundary; otherwise it returns DEFAULT_STEP_TAG. With an empty probe it
    keeps only a one-token separator.
    """
    if step_tag in (None, "", "none"):
        return None
    if step_tag != "auto":
        return step_tag
    # A separator of several tokens is fine when it is prefix-stable: the label then sits on its
    # last token, a token the backbone saw in pre-training. Adding a tag there instead put a freshly
    # initialised embedding at every label position and a foreign token into every separator
    # (docs/prm_diagnosis.md: on the tiny math policy, "\n\n" is two "\n" tokens and the tag cost
    # within-problem AUROC 0.57 -> 0.47). With no probe there is no evidence of stability: tag.
    probe = list(probe)[:64]   # O(steps^2) tokenizations each; a few dozen records show the behaviour
    if not probe:
        return None if sep_is_one_token(tokenizer, sep) else DEFAULT_STEP_TAG
    for prompt, steps in probe:
        if not prefix_stable(tokenizer, prompt, steps, sep, None):
            return DEFAULT_STEP_TAG
    return None


def add_step_tag(tokenizer, step_tag: str | None) -> int | None:
    """Make `step_tag` one special token of `tokenizer` (in place); return its id (None if no tag)."""
    if not step_tag:
        return None
    from tokenizers import AddedToken

    ids = tokenizer.encode(step_tag, add_special_tokens=False)
    if len(ids) != 1 or tokenizer.convert_ids_to_tokens(ids[0]) != step_tag:
        # normalized=False: the tag must match literally; special: never merged, dropped on decode
        tokenizer.add_tokens([AddedToken(step_tag, special=True, normalized=False)], special_tokens=True)
        ids = tokenizer.encode(step_tag, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"step tag {step_tag!r} did not become a single token")
    return ids[0]
