"""Print the project's file tree, one line per file, for the README.

  python scripts/tree.py            # prints the markdown block
  python scripts/tree.py --check    # exit 1 if README.md misses a file or lists one that is gone

Each line is the path and the first line of the file's docstring (Python) or a fixed note.
`tests/test_readme_tree.py` runs --check so the README's tree stays true.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTED_DIRS = ("prm", "verifiers", "scripts", "examples")
NOTES = {"pyproject.toml": "package metadata, dependencies and extras (vllm, cpu, dev, bench)",
         "Makefile": "`make venv`, `make test`, `make demo`, `make bench`",
         ".ci/run": "CI entry point: runs `make test` on a fresh clone"}


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    return sorted(f for f in out if f.endswith(".py") and f.split("/")[0] in LISTED_DIRS
                  and not f.endswith("__init__.py") and (ROOT / f).exists())


def summary(path: str) -> str:
    try:
        doc = ast.get_docstring(ast.parse((ROOT / path).read_text(encoding="utf-8"))) or ""
    except SyntaxError:
        doc = ""
    return doc.strip().splitlines()[0].rstrip(".") if doc.strip() else ""


def render() -> str:
    lines = [f"{name:<40} {note}" for name, note in NOTES.items()]
    lines += [f"{f:<40} {summary(f)}" for f in tracked_files()]
    return "\n".join(lines)


def check(readme: str) -> list[str]:
    problems = [f"README.md does not list {f}" for f in tracked_files() if f not in readme]
    listed = set(re.findall(r"^((?:prm|verifiers|scripts|examples)/\S+\.py)\b", readme, flags=re.M))
    problems += [f"README.md lists {f}, which does not exist" for f in sorted(listed) if not (ROOT / f).exists()]
    return problems


if __name__ == "__main__":
    if "--check" in sys.argv:
        problems = check((ROOT / "README.md").read_text(encoding="utf-8"))
        print("\n".join(problems) or "README tree ok")
        sys.exit(1 if problems else 0)
    print(render())
