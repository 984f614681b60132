"""Ensembles of reward models: member scores combined per step with `min` or `mean`.

`min` is pessimistic: a step scores well only if every member likes it, the mitigation for reward
hacking. Members are given as several model dirs, or as one dir holding `ensemble.json`
(`{"members": [subdir, ...]}`, written by `prm train` with several seeds).
"""

from __future__ import annotations

import json
from pathlib import Path

from prm.errors import UserError
from prm.scoring.base import Scorer

ENSEMBLES = {"min": min, "mean": lambda xs: sum(xs) / len(xs)}


class EnsembleScorer:
    """Members' scores combined per step with min or mean; members must agree on kind and separator.
    A member is a Scorer, or anything with its `kind`, `sep`, `stats`, `score_batch` and `close`."""

    def __init__(self, members: list[Scorer], how: str = "min"):
        if how not in ENSEMBLES:
            raise UserError(f"ensemble must be one of {tuple(ENSEMBLES)}, got {how!r}")
        kinds = {m.kind for m in members}
        seps = {m.sep for m in members}
        if len(kinds) > 1 or len(seps) > 1:
            raise UserError(f"ensemble members disagree: kinds {sorted(kinds)}, separators {sorted(map(repr, seps))}")
        self.members, self.how = members, how
        self.kind, self.sep = members[0].kind, members[0].sep
        self.backend = f"ensemble({self.how}) of {getattr(members[0], 'backend', '?')}"
        self.stats = members[0].stats

    def score(self, question, steps):
        return self.score_batch([(question, steps)])[0]

    def score_batch(self, items, *, progress: bool = False):
        per = [m.score_batch(items, progress=progress) for m in self.members]
        combine = ENSEMBLES[self.how]
        return [[combine([p[i][j] for p in per]) for j in range(len(per[0][i]))] for i in range(len(items))]

    def close(self):
        for m in self.members:
            m.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def expand_dirs(model_dirs: str | Path | list) -> list[str]:
    """The member model dirs: each given dir, or the members listed in its ensemble.json."""
    dirs = [model_dirs] if isinstance(model_dirs, (str, Path)) else list(model_dirs)
    out = []
    for d in dirs:
        ens = Path(d) / "ensemble.json"
        if ens.exists() and not (Path(d) / "config.json").exists():
            out += [str(Path(d) / m) for m in json.loads(ens.read_text())["members"]]
        else:
            out.append(str(d))
    if not out:
        raise UserError("no model directory given")
    return out
