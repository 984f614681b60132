"""scripts/bench/run_all.py: the report keeps every benchmark, and `--only` reruns some and keeps the rest."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))

import run_all  # noqa: E402


def fake_run(outputs: dict):
    def run_one(name, script, *, quick, timeout, extra):
        status, value = outputs[name]
        res = {"title": f"{name} title", "ours": "A", "theirs": "B", "header": {"date_utc": "D"},
               "rows": [{"metric": "speed", "ours": value, "theirs": 1.0, "unit": "x", "better": "higher"}], "notes": []}
        return {"name": name, "command": f"bench_{name}.py", "status": status, "wall_s": 1.0, "output": "out",
                "results": [res] if status == "ok" else []}
    return run_one


def test_only_reruns_some_and_keeps_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr(run_all, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(run_all, "LAST_RUN", tmp_path / "results" / "last_run.json")
    monkeypatch.setattr(run_all, "discover", lambda: {"alpha": Path("bench_alpha.py"), "beta": Path("bench_beta.py")})
    out = tmp_path / "B.md"

    monkeypatch.setattr(run_all, "run_one", fake_run({"alpha": ("ok", 2.0), "beta": ("ok", 3.0)}))
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--out", str(out)])
    assert run_all.main() == 0
    first = out.read_text()
    assert "| speed (x) | 2.000 | 1.000 | 2.00x |" in first and "| speed (x) | 3.000 | 1.000 | 3.00x |" in first

    # rerun alpha only, and it fails: its failure is shown, beta's earlier result is kept and marked
    monkeypatch.setattr(run_all, "run_one", fake_run({"alpha": ("failed (exit 1)", 0.0)}))
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--only", "alpha", "--out", str(out)])
    assert run_all.main() == 1
    second = out.read_text()
    assert "| [alpha](#alpha) | failed (exit 1) |" in second
    assert "| [beta](#beta) | ok (earlier run) |" in second
    assert "| speed (x) | 3.000 | 1.000 | 3.00x |" in second          # beta kept
    assert "| speed (x) | 2.000 | 1.000 | 2.00x |" not in second      # alpha's old success is not shown
    assert "kept from an earlier run" in second


def test_keep_long_copies_long_sections_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(run_all, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(run_all, "LAST_RUN", tmp_path / "results" / "last_run.json")
    monkeypatch.setattr(run_all, "discover", lambda: {"alpha": Path("bench_alpha.py"), "prm_size": Path("bench_prm_size.py")})
    out = tmp_path / "B.md"
    out.write_text("# Benchmarks\n\n## alpha\n\nold alpha\n\n## prm_size\n\n### the size curve\n\nmeasured at git abc1234\n")
    calls = []

    def run_one(name, script, *, quick, timeout, extra):
        calls.append(name)
        return fake_run({"alpha": ("ok", 2.0)})(name, script, quick=quick, timeout=timeout, extra=extra)

    monkeypatch.setattr(run_all, "run_one", run_one)
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--keep-long", "--out", str(out)])
    assert run_all.main() == 0
    text = out.read_text()
    assert calls == ["alpha"]                                   # the long one is not rerun
    assert "old alpha" not in text                              # the short one is measured anew
    assert "measured at git abc1234" in text and "--keep-long" in text and run_all.LONG["prm_size"] in text
    assert "| [prm_size](#prm_size) | kept (long, see its section) | - |" in text   # GitHub keeps `_` in anchors
    assert text.count("## prm_size") == 1

    # a second --keep-long run keeps the section once, with one reason line, not one per run
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--keep-long", "--out", str(out)])
    assert run_all.main() == 0
    again = out.read_text()
    assert again.count(run_all.LONG["prm_size"]) == 1 and again.count("measured at git abc1234") == 1


def test_keep_long_reruns_a_long_one_named_in_only_and_keeps_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr(run_all, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(run_all, "LAST_RUN", tmp_path / "results" / "last_run.json")
    monkeypatch.setattr(run_all, "discover", lambda: {n: Path(f"bench_{n}.py") for n in ("alpha", "prm_size", "search")})
    out = tmp_path / "B.md"
    out.write_text("# Benchmarks\n\n## alpha\n\nold alpha\n\n## prm_size\n\nsize curve at git abc1234\n\n"
                   "## search\n\nold search at git abc1234\n")
    calls = []

    def run_one(name, script, *, quick, timeout, extra):
        calls.append(name)
        return fake_run({"search": ("ok", 5.0)})(name, script, quick=quick, timeout=timeout, extra=extra)

    monkeypatch.setattr(run_all, "run_one", run_one)
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--keep-long", "--only", "search", "--out", str(out)])
    assert run_all.main() == 0
    text = out.read_text()
    assert calls == ["search"]
    assert "size curve at git abc1234" in text and "old search" not in text and "| 5.000 | 1.000 |" in text
    assert text.count("\n## search\n") == 1 and text.count("\n## prm_size\n") == 1


def test_clean_output_drops_engine_logs_and_progress_bars():
    raw = ("(EngineCore pid=12) INFO 12-07 05:57:03 [core.py:1] started\n"
           "WARNING 12-07 05:57:03 [cpu.py:2] triton\n"
           "Loading weights: 100%|##| 38/38 [00:00<00:00, 9511.46it/s]\n"
           "search:  10%|#| 1/10 [00:01<00:12,  1.34s/step]\rsearch: 100%|#| 10/10 [00:10<00:00,  1.00step/s]\n"
           "(VllmWorker-0 pid=748) WARNING 12-07 07:10:13 [vllm.py:725] Model Runner V2 requires Triton\n"
           "/x/vllm/dispatcher.py:138: FutureWarning: `reduce_op` is deprecated\n"
           "  if hasattr(value, '__dict__'):\n"
           "[transformers] Passing `generation_config` together with ... is deprecated and will be removed\n"
           "accuracy 55.0%\n"
           "  indented result line\n")
    assert run_all.clean_output(raw) == "accuracy 55.0%\n  indented result line"
