"""`prm demo --quick` end to end (slow: trains or reuses the tiny policies, trains two reward models
per domain). Checks the outputs a user gets, and that every stage really ran."""

import json

import pytest

from prm.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    # --quick-policy: the fast-trained policies keep this test's first-use cost low (it checks the
    # pipeline, not the numbers)
    rc = main(["demo", "--quick", "--quick-policy", "--out", str(out)])
    assert rc == 0
    return out


def test_outputs_exist(demo_out):
    for name in ("report.md", "results.json", "manifest.json", "bon_math.png", "bon_code.png"):
        assert (demo_out / name).exists(), name
    assert (demo_out / "bon_math.png").stat().st_size > 5000


def test_every_stage_ran(demo_out):
    res = json.loads((demo_out / "results.json").read_text())
    bad = {f"{d}/{s}": st for d, block in res["domains"].items() for s, st in block["stages"].items()
           if st["status"] != "ran"}
    assert not bad, f"stages that did not run: {bad} (tracebacks in {demo_out}/demo.log)"


def test_results_are_complete_and_consistent(demo_out):
    res = json.loads((demo_out / "results.json").read_text())
    man = json.loads((demo_out / "manifest.json").read_text())
    assert man["backend"] in ("vllm", "transformers")
    for domain in ("math", "code"):
        d = res["domains"][domain]
        m = d["bon"]["methods"]
        for name in ("random", "majority", "oracle", "orm", "prm:min", "weighted:prm:min"):
            assert name in m, (domain, name)
        # every method picks the single sample at N=1; oracle bounds every method
        assert len({round(v["mean"][0], 9) for v in m.values()}) == 1
        assert all(v["mean"][-1] <= m["oracle"]["mean"][-1] + 1e-9 for v in m.values())
        assert d["beam"]["tokens_per_problem"] > 0
        assert man["domains"][domain]["policy"]["sha256"]
        assert f"/{domain}-quick-" in man["domains"][domain]["policy"]["path"]   # --quick-policy was used
    assert "sympy" in res["domains"]["math"]["bon"]["methods"]


def test_report_reads_honestly(demo_out):
    text = (demo_out / "report.md").read_text()
    man = json.loads((demo_out / "manifest.json").read_text())
    assert f"backend: **{man['backend']}**" in text
    assert "prm:min** vs **orm**" in text and "prm:min** vs **majority**" in text
    assert any(w in text for w in ("**won**", "**lost**", "**no clear difference**"))
    assert "![math best-of-N](bon_math.png)" in text
