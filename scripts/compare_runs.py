"""Compare the numbers of two demo runs: every numeric leaf of their results.json, by JSON path.

    .venv/bin/python scripts/compare_runs.py runs/demo-A runs/demo-B             # exact
    .venv/bin/python scripts/compare_runs.py runs/demo-A/results.json B --tol 1e-9

Each run is a run folder (holding results.json) or the results.json file itself. Compared: numbers
(ints and floats, equal when |a - b| <= --tol), booleans and null against a number (null means "not
measured", so null vs 0.3 is a difference). A path present in one run only is a difference. Ignored:
what legitimately differs between two runs of the same settings -- timings (`seconds`, `timings`,
`total_seconds`), dates (`created`, `started`), paths and commands (`path`, `command`, `argv`,
`plot`), versions -- wherever they sit, and all strings (stage details, notes with the total time).

Prints a table of the differences with both values; exit 0 when the runs are equal, 1 when they
differ, 2 on bad input (a missing file or bad JSON: one line naming the file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# keys whose whole subtree differs between two runs for reasons that are not results
IGNORED_KEYS = {"seconds", "total_seconds", "timings", "created", "started", "date", "command", "argv",
                "path", "paths", "plot", "versions", "toolkit", "workdir"}
IGNORED_SUFFIXES = ("_seconds", "_time", "_path")
MISSING = object()  # a path present in the other run only


class BadInput(Exception):
    """A run that cannot be read: the message names the file."""


def load(run: str | Path) -> dict:
    path = Path(run)
    if path.is_dir():
        path = path / "results.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror or type(err).__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInput(f"{path}:{err.lineno}: bad JSON ({err.msg})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object at the top, got {type(data).__name__}")
    return data


def ignored(key: str) -> bool:
    k = key.lower()
    return k in IGNORED_KEYS or k.endswith(IGNORED_SUFFIXES)


def leaves(obj, path: str = "") -> dict:
    """{json path: value} for every number, boolean and null, skipping ignored keys and strings."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not ignored(str(k)):
                out.update(leaves(v, f"{path}.{k}" if path else str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(leaves(v, f"{path}[{i}]"))
    elif obj is None or isinstance(obj, (bool, int, float)):
        out[path] = obj
    return out


def same(a, b, tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or a is MISSING or b is MISSING:
        return a is b or (type(a) is type(b) and a == b)
    return abs(a - b) <= tol


def differences(a: dict, b: dict, tol: float = 0.0) -> list[tuple[str, object, object]]:
    """(path, value in A, value in B) for every compared leaf that differs, in path order."""
    la, lb = leaves(a), leaves(b)
    paths = sorted(set(la) | set(lb))
    return [(p, la.get(p, MISSING), lb.get(p, MISSING)) for p in paths
            if not same(la.get(p, MISSING), lb.get(p, MISSING), tol)]


def show(v) -> str:
    return "(missing)" if v is MISSING else json.dumps(v)


def table(diffs: list[tuple[str, object, object]]) -> str:
    rows = [("path", "A", "B", "B - A")]
    for p, a, b in diffs:
        num = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
        rows.append((p, show(a), show(b), f"{b - a:+.6g}" if num else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_argument_group("runs")
    g.add_argument("run_a", metavar="RUN_A", help="run folder or its results.json")
    g.add_argument("run_b", metavar="RUN_B", help="run folder or its results.json")
    g = ap.add_argument_group("comparison")
    g.add_argument("--tol", type=float, default=0.0, help="numbers equal when |a - b| <= TOL (default 0: exact)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        a, b = load(args.run_a), load(args.run_b)
    except BadInput as err:
        print(f"compare_runs: {err}", file=sys.stderr)
        return 2
    diffs = differences(a, b, args.tol)
    n = len(leaves(a).keys() | leaves(b).keys())
    if not diffs:
        print(f"equal: {n} numbers compared (tolerance {args.tol:g})")
        return 0
    print(table(diffs))
    print(f"{len(diffs)} of {n} numbers differ (tolerance {args.tol:g})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
