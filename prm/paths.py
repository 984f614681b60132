"""The output-path guard: no command writes over, into or around its own inputs.

Every command that writes calls `check_paths` first, before it reads a record, loads a model or
deletes anything (`--overwrite` included):

    check_paths(inputs={"--problems": args.problems, "--samples": args.samples},
                outputs={"--out": args.out, "--out (rejects)": rejects_path(args.out)})

It refuses, with one line naming both flags:
- an input file that does not exist or is a directory (a clean error, not a traceback later);
- an output that is an input: the same path, a symlink to it, or a hard link of it;
- an output directory that holds an input (`prm train --out` = `--model`, or a parent of it), or an
  output inside an input directory (`--out MODEL/sub`): writing it could replace the input;
- an output file that is an existing directory, and two outputs that are the same file.

Paths are compared after resolving symlinks and `..`. The message never suggests `--overwrite`:
no flag makes writing over an input safe; the fix is another output path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Union

from prm.errors import UserError

PathArg = Union[str, os.PathLike, None]
Paths = Mapping[str, Union[PathArg, Iterable[PathArg]]]


def _each(named: Paths) -> list[tuple[str, Path]]:
    """(flag, path) for every path given, a list value giving one entry per item; None is skipped."""
    out = []
    for flag, value in named.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        out += [(flag, Path(v).expanduser()) for v in values if v is not None and str(v) != ""]
    return out


def _resolved(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _same(a: Path, b: Path) -> bool:
    if _resolved(a) == _resolved(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links: two names, one file
    except OSError:
        return False


def _within(inner: Path, outer: Path) -> bool:
    return _resolved(outer) in _resolved(inner).parents


def check_paths(*, inputs: Paths = {}, models: Paths = {}, outputs: Paths = {}, output_dirs: Paths = {}) -> None:
    """Refuse (UserError) paths that would make a command read or write the wrong thing; see the module doc.

    `inputs`: files read (must exist, not directories). `models`: model or data directories read
    (compared only: a name that is not a local path, like a hub id, is allowed). `outputs`: files
    written. `output_dirs`: directories written into. Keys are the flags, as the user typed them."""
    files, dirs = _each(inputs), _each(models)
    outs, out_dirs = _each(outputs), _each(output_dirs)
    for flag, p in files:
        if p.is_dir():
            raise UserError(f"{flag} {p}: is a directory; expected a file")
        if not p.exists():
            raise UserError(f"{flag} {p}: no such file")
    for flag, p in outs:
        if p.is_dir():
            raise UserError(f"{flag} {p}: is a directory; expected a file path")
    written = outs + out_dirs
    for oflag, o in written:
        for iflag, i in files + dirs:
            if _same(o, i):
                raise UserError(f"{oflag} {o} is the input {iflag} {i}: a command never writes over its own "
                                f"input; choose another {oflag.split()[0]}")
            if _within(i, o):
                raise UserError(f"{oflag} {o} contains the input {iflag} {i}: writing it could replace the input; "
                                f"choose another {oflag.split()[0]}")
            if _within(o, i) and (iflag, i) in dirs:
                raise UserError(f"{oflag} {o} is inside the input {iflag} {i}: writing it would change the input; "
                                f"choose another {oflag.split()[0]}")
    for k, (aflag, a) in enumerate(outs):
        for bflag, b in outs[k + 1:]:
            if _same(a, b):
                raise UserError(f"{aflag} and {bflag} are the same file ({a}): one would replace the other")
