"""One CLI vocabulary across commands, and the one way to rename a flag without breaking scripts.

The words every command uses:
  --out      every output path (file or folder)
  --model    a model directory (or a hub id already in the local cache)
  --policy   the name of an embedded tiny policy: math | code

A renamed flag keeps its old spelling for a while: `add_renamed` adds the new flag and accepts the old
spellings as hidden aliases of the SAME argparse action, so `required=True`, defaults, `type`,
`choices` and `dest` behave exactly as before; using an old spelling prints one line on stderr:

    prm sample: --output is deprecated; use --out

Usage (in a command's `add_arguments`):

    from prm.commands.vocab import add_renamed

    add_renamed(io, "--out", "--output", required=True, help="Sample JSONL")
    add_renamed(g, "--model", "--policy", required=True, help="policy model directory")
    add_renamed(g, "--out", "--output-dir", dest="output_dir", required=True, help="...")

`add_renamed(group, new, *old, **kwargs)` takes `add_argument`'s keyword arguments unchanged (any
`action`: store, append, store_true, ...) and returns the action. `--help`, the usage line and
argparse's error messages show only the new spelling. Works on Python 3.10+ (argparse's own
`deprecated=` is 3.13 only, and warns about a whole flag rather than one of its spellings).
"""

from __future__ import annotations

import argparse
import sys

_CLASSES: dict[type, type] = {}


class RenamedAction(argparse.Action):
    """Mixed in before an action's own class: warns when it is invoked through an old spelling."""

    old_spellings: tuple[str, ...] = ()

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string in self.old_spellings:
            print(f"{parser.prog}: {option_string} is deprecated; use {self.option_strings[0]}", file=sys.stderr)
        super().__call__(parser, namespace, values, option_string)


def _renamed_class(cls: type) -> type:
    # One subclass per action class (store, append, store_true, ...), so any action can be renamed.
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"Renamed{cls.__name__}", (RenamedAction, cls), {})
    return _CLASSES[cls]


def add_renamed(group, new: str, *old: str, **kwargs) -> argparse.Action:
    """`group.add_argument(new, **kwargs)`, also accepting each of `old` (hidden, with a deprecation note).

    `dest` defaults to the one argparse derives from `new` (e.g. "--out" -> "out").
    """
    if not old:
        raise ValueError(f"add_renamed({new!r}): give at least one old spelling")
    kwargs.setdefault("dest", new.lstrip("-").replace("-", "_"))
    action = group.add_argument(new, *old, **kwargs)
    # The parser already maps every spelling to this action (argparse registers them in
    # add_argument); listing only the new one hides the old ones from --help, usage and errors.
    action.option_strings = [new]
    action.old_spellings = tuple(old)
    action.__class__ = _renamed_class(type(action))
    return action
