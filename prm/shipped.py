"""Models shipped inside the package (prm/assets/): where they are and whether their files are intact.

A fresh clone (or `pip install`) has the trained tiny policies, so its first run samples at once
instead of training for minutes. Each shipped model is one directory `prm/assets/<kind>/<name>/`
(a normal HF model directory) plus one line per file in `prm/assets/SHA256SUMS`, in `sha256sum`'s
own format, so anyone can check them with `cd prm/assets && sha256sum -c SHA256SUMS`.

Shipping another model is data, not code: copy its directory under prm/assets/<kind>/ and append
`sha256sum <kind>/<name>/*` to SHA256SUMS. Its user looks it up by `<kind>/<name>`; a policy's name
carries its cache key (`prm.policy`), so weights trained by another recipe are never picked up.

`find` refuses a copy whose files do not match SHA256SUMS (a partial checkout, a Git LFS pointer, an
edit) and says why, so the caller falls back to training instead of loading damaged weights.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "assets"
SUMS = "SHA256SUMS"


def sha256_file(path: Path) -> str:
    """`sha256sum`'s digest: the one file hash of the toolkit (prm.eval.manifest re-exports it)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(root: Path | None = None) -> dict[str, dict[str, str]]:
    """Shipped models by `<kind>/<name>` -> {file name: sha256}, from SHA256SUMS (empty if none)."""
    root = ROOT if root is None else root
    out: dict[str, dict[str, str]] = {}
    try:
        lines = (root / SUMS).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        if line.strip():
            digest, rel = line.split(maxsplit=1)
            model, _, name = rel.lstrip("*").rpartition("/")
            out.setdefault(model, {})[name] = digest
    return out


def find(model: str, root: Path | None = None) -> tuple[Path | None, str]:
    """(directory, note) for shipped model `<kind>/<name>`: the directory when every listed file is
    there with its recorded sha256, else None and why not (the note names what to expect)."""
    root = ROOT if root is None else root
    shipped = manifest(root)
    files = shipped.get(model)
    if files is None:  # name the shipped ones of the same family (same name but the key), if any
        family = model.rsplit("-", 1)[0]
        same = sorted(m.rpartition("/")[2] for m in shipped if m.rsplit("-", 1)[0] == family)
        return None, f"none shipped is {model} (shipped: {', '.join(same) or 'none of its kind'})"
    for fname, digest in sorted(files.items()):
        path = root / model / fname
        if not path.is_file():
            return None, f"the shipped {model} lacks {fname}"
        if sha256_file(path) != digest:
            return None, f"the shipped {model}/{fname} does not match its sha256 in {SUMS}"
    return root / model, f"shipped {model} (model.safetensors sha256 {files.get('model.safetensors', '?')})"


def find_trained(model: str, cached: Path, done: str, root: Path | None = None) -> tuple[Path | None, str]:
    """The shipped copy of `<kind>/<name>`, else the cache directory `cached` when its `done` file
    exists (a finished build), else (None, why the shipped one is not there)."""
    path, note = find(model, root)
    if path is not None:
        return path, note
    if (Path(cached) / done).exists():
        return Path(cached), f"reused from cache {cached}"
    return None, note
