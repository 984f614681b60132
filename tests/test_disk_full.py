"""Fault 2 of #27: the disk fills up mid-run. `prm label` writing onto a small tmpfs stops with one
line saying the disk is full and where, leaves only whole records (no partial line), and after
space is freed the same command resumes and ends with exactly the records of an uninterrupted run.

Needs `mount -t tmpfs` (root, or a container that allows it); skipped cleanly otherwise. The
writers' own guarantee (cut back to the last whole record, `DiskFull`) is also tested without a
mount, with a file whose writes fail like a full disk's."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from prm.errors import DiskFull
from prm.paths import lock_path
from prm.records import JsonlAppender, write_text_atomic


def _inputs(d, n_problems=60, per_problem=4):
    problems, samples = d / "p.jsonl", d / "s.jsonl"
    with problems.open("w") as fh:
        for i in range(n_problems):
            fh.write(json.dumps({"id": f"m{i}", "domain": "math", "question": f"What is {i} + {i}?",
                                 "answer": str(2 * i)}) + "\n")
    with samples.open("w") as fh:
        for i in range(n_problems):
            for k in range(per_problem):
                ans = 2 * i + (k % 2)                      # half right, half wrong
                steps = [f"We add {i} and {i} (try {k}): " + "x" * 60, f"{i} + {i} = {ans}", f"The answer is {ans}."]
                fh.write(json.dumps({"problem_id": f"m{i}", "text": "\n\n".join(steps), "steps": steps}) + "\n")
    return problems, samples


def _label(problems, samples, out):
    return subprocess.run([sys.executable, "-m", "prm", "label", "--method", "outcome", "--problems", str(problems),
                           "--samples", str(samples), "--out", str(out), "--no-progress", "--batch-size", "8"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PRM_THREADS": "1"})


def _records(raw: bytes) -> list[dict]:
    """The records, without the one field that differs between two identical runs: the wall time a
    label took (provenance.cost.seconds)."""
    out = []
    for line in raw.decode("utf-8").splitlines():
        rec = json.loads(line)
        rec.get("provenance", {}).get("cost", {}).pop("seconds", None)
        out.append(rec)
    return out


def _mount(d, size: str) -> None:
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode})")


def test_label_on_a_full_disk_stops_cleanly_and_resumes_exactly(tmp_path):
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    problems, samples = _inputs(tmp_path)
    ref = tmp_path / "ref.jsonl"
    r = _label(problems, samples, ref)
    assert r.returncode == 0, r.stderr
    want = ref.read_bytes()
    assert len(want) > 64 * 1024                           # the run needs more room than the small disk has

    small = tmp_path / "small"
    small.mkdir()
    _mount(small, "32k")                                   # a few pages: resume record, lock, some records
    try:
        out = small / "o.jsonl"
        r = _label(problems, samples, out)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "disk full" in lines[0] and str(out) in lines[0] and "Traceback" not in r.stderr
        got = out.read_bytes()
        assert got.endswith(b"\n")                         # whole records only: every line parses ...
        assert 0 < len(_records(got)) < len(_records(want))
        assert _records(got) == _records(want)[:len(_records(got))]     # ... and they are the first ones
        assert not lock_path(out).exists()
        subprocess.run(["mount", "-o", "remount,size=4m", str(small)], check=True, timeout=30)   # space freed
        r = _label(problems, samples, out)
        assert r.returncode == 0, r.stderr
        assert _records(out.read_bytes()) == _records(want)   # exactly the uninterrupted run's: none lost or doubled
    finally:
        subprocess.run(["umount", str(small)], capture_output=True, timeout=30)


class _FullAfter:
    """os.write that takes `room` more bytes, then fails like a full disk (part of a write lands first)."""

    def __init__(self, room: int):
        self.room, self.real = room, os.write

    def __call__(self, fd, data):
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = self.real(fd, bytes(data[:self.room]))
        self.room -= n
        return n


@pytest.mark.parametrize("room, whole", [(0, 0), (10, 0), (30, 1), (59, 1), (60, 2), (75, 2)])
def test_a_failed_append_leaves_only_whole_records(tmp_path, monkeypatch, room, whole):
    out = tmp_path / "o.jsonl"
    out.write_text('{"old": 1}\n')
    row = {"k": "v" * 20}                                  # 30 bytes a line with its newline
    monkeypatch.setattr(os, "write", _FullAfter(room))
    with JsonlAppender(out) as w, pytest.raises(DiskFull, match=r"o\.jsonl: disk full \(No space left on device\)"):
        for _ in range(5):
            w.write(row)
    monkeypatch.undo()
    assert out.read_text() == '{"old": 1}\n' + (json.dumps(row) + "\n") * whole


def test_a_failed_atomic_write_is_disk_full_and_keeps_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "state.json"
    out.write_text("old\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFull, match="state.json: disk full"):
        write_text_atomic(out, "new\n")
    monkeypatch.undo()
    assert out.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_sample_on_a_full_disk_stops_cleanly_and_resumes_exactly(tmp_path, tiny_lm_dir, capsys):
    """`prm sample` appends through the same JsonlAppender: the same one line, whole records only,
    and an exact resume (per-problem seeds make the resumed samples the uninterrupted run's)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    from prm.cli import main
    from prm.tasks import TASKS_DIR

    problems = tmp_path / "problems.jsonl"
    problems.write_text("\n".join((TASKS_DIR / "math_test.jsonl").read_text().splitlines()[:40]) + "\n")

    def sample(out):
        return main(["sample", "--problems", str(problems), "--model", str(tiny_lm_dir), "--backend", "transformers",
                     "-n", "2", "--max-tokens", "6", "--batch-size", "4", "--out", str(out)])

    ref = tmp_path / "ref.jsonl"
    assert sample(ref) == 0
    want = ref.read_bytes()
    assert len(want) > 16 * 1024                           # more than the small disk holds
    capsys.readouterr()
    small = tmp_path / "small"
    small.mkdir()
    _mount(small, "16k")
    try:
        out = small / "o.jsonl"
        assert sample(out) == 2
        lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("prm")]
        assert len(lines) == 1 and "disk full" in lines[0] and str(out) in lines[0], lines
        got = out.read_bytes()
        assert 0 < len(got) < len(want) and want.startswith(got) and got.endswith(b"\n")   # whole first records
        assert not lock_path(out).exists()
        subprocess.run(["mount", "-o", "remount,size=4m", str(small)], check=True, timeout=30)   # space freed
        assert sample(out) == 0
        assert out.read_bytes() == want                    # exactly the uninterrupted run's
    finally:
        subprocess.run(["umount", str(small)], capture_output=True, timeout=30)
