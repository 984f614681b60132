"""The scorer-format flags shared by every command that loads a PRM (score, search, eval).

One definition, so `--format` and `--sep` mean the same thing wherever a user meets them; the
formats themselves are `prm.scoring.formats.FORMATS`.
"""

from __future__ import annotations

from prm.scoring.formats import FORMATS


def add_format_flags(group, prefix: str = "") -> None:
    """`--{prefix}format` and `--{prefix}sep` (search uses prefix "scorer-": its --format-free flags
    are the policy's)."""
    group.add_argument(f"--{prefix}format", choices=tuple(FORMATS), default=None,
                       help="how the scorer checkpoint writes steps and is read (default: from its config.json): "
                            "toolkit = `prm train`; trl = TRL PRMTrainer (needs --sep); qwen2.5-math-prm; "
                            "math-shepherd; rlhflow; value-head = Skywork-o1-Open-PRM (docs/real_models.md)")
    group.add_argument(f"--{prefix}sep", default=None, metavar="SEP",
                       help="trl format only: the step_separator the model was trained with (TRL does not save it; "
                            "its default is a newline, given as $'\\n' in bash)")
