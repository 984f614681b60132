"""Write the embedded default tasks to data/tasks/*.jsonl, byte for byte reproducible.

  .venv/bin/python scripts/make_tasks.py            # (re)write all four files
  .venv/bin/python scripts/make_tasks.py --check    # exit 1 if a file differs from what it would write

Sizes and seeds live in `prm.tasks.SPLITS`; the generators in `prm/tasks/math_tasks.py` and
`prm/tasks/code_tasks.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prm.tasks import SPLITS, TASKS_DIR, generate_split  # noqa: E402

NL = b"\n"


def render(name: str) -> bytes:
    # sort_keys + ensure_ascii: the bytes depend on the data only, not on dict order or locale
    rows = [json.dumps(p.to_dict(), sort_keys=True, ensure_ascii=True) for p in generate_split(name)]
    return ("\n".join(rows) + "\n").encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    ap.add_argument("--out-dir", default=str(TASKS_DIR), help="where to write the files")
    args = ap.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name in SPLITS:
        path, data = out / f"{name}.jsonl", render(name)
        if args.check:
            same = path.exists() and path.read_bytes() == data
            print(f"{path}: {'ok' if same else 'DIFFERS'}")
            bad += not same
        else:
            path.write_bytes(data)
            print(f"wrote {path} ({data.count(NL)} problems)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
