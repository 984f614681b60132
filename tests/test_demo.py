"""`prm demo --quick` end to end (slow: trains or reuses the tiny policies, trains two reward models
per domain). Every stage ran, and the numbers in results.json follow from the run's own files
(pool.jsonl, labels_*.jsonl, beam.jsonl) and reach report.md unchanged. Written against
docs/results_schema.md and the files, not against prm/demo.py's internals."""

import hashlib
import json
import math
from collections import defaultdict

import pytest

from prm.cli import main

pytestmark = pytest.mark.slow
DOMAINS = ("math", "code")
LABEL_KINDS = {"math": {"mc", "direct"}, "code": {"mc"}}  # direct labels need the sympy checker: math only


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    # the full policies and the math judge are shipped (prm/assets), so nothing is trained but the
    # two small reward models per domain; this checks that the numbers are consistent with the
    # run's files, not that they are good
    rc = main(["demo", "--quick", "--out", str(out)])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def results(demo_out):
    return json.loads((demo_out / "results.json").read_text())


@pytest.fixture(scope="module")
def manifest(demo_out):
    return json.loads((demo_out / "manifest.json").read_text())


def jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def by_problem(pool):
    out = defaultdict(list)
    for r in pool:
        out[r["problem_id"]].append(bool(r["correct"]))
    return out


def pct(x):
    return f"{100 * x:.1f}%"  # how report.md writes an accuracy (docs/results_schema.md: every number from results.json)


def test_every_stage_ran(demo_out, results):
    bad = {f"{d}/{s}": st for d, block in results["domains"].items() for s, st in block["stages"].items()
           if st["status"] != "ran"}
    assert not bad, f"stages that did not run: {bad} (tracebacks in {demo_out}/demo.log)"
    assert set(results["domains"]) == set(DOMAINS)


@pytest.mark.parametrize("domain", DOMAINS)
def test_best_of_n_follows_from_the_pool(demo_out, results, domain):
    d = results["domains"][domain]
    bon, m, setup = d["bon"], d["bon"]["methods"], d["setup"]
    pool = jsonl(demo_out / domain / "pool.jsonl")
    problems = by_problem(pool)
    assert bon["n_problems"] == len(problems) == setup["test problems"]
    assert {len(v) for v in problems.values()} == {setup["pool N"]}
    assert bon["ns"] == [1, 2, 4, 8] == [1, 2, 4, setup["pool N"]]
    for name in ("random", "majority", "oracle", "orm", "prm:min", "weighted:prm:min", "iprm:min", "iorm:min",
                 "weighted:iprm:min") + (("sympy", "lprm:min", "lorm:min") if domain == "math" else ()):
        assert name in m, name
    # N=1: every method takes the one drawn sample, so all means are one number, majority == random
    assert m["majority"]["mean"][0] == m["random"]["mean"][0]
    assert len({round(v["mean"][0], 12) for v in m.values()}) == 1
    # ...and it estimates the pool's mean correctness: within 4 standard errors of the draws
    rates = [sum(c) / len(c) for c in problems.values()]
    expected = sum(rates) / len(rates)
    se = math.sqrt(sum(p * (1 - p) for p in rates) / len(rates) ** 2 / bon["repeats"])
    assert abs(m["random"]["mean"][0] - expected) <= 4 * se + 1e-12, (m["random"]["mean"][0], expected, se)
    # at N = the whole pool every draw holds every sample: oracle is exactly "any sample correct"
    assert m["oracle"]["mean"][-1] == pytest.approx(sum(any(c) for c in problems.values()) / len(problems), abs=1e-12)
    # oracle bounds every method at every N
    for name, v in m.items():
        assert all(x <= o + 1e-12 for x, o in zip(v["mean"], m["oracle"]["mean"])), name
        assert v["n"] == bon["ns"] and len(v["mean"]) == len(v["lo"]) == len(v["hi"]) == len(bon["ns"])


@pytest.mark.parametrize("domain", DOMAINS)
def test_label_counts_are_the_label_files(demo_out, results, manifest, domain):
    labels = results["domains"][domain]["labels"]
    assert set(labels) == LABEL_KINDS[domain]
    for kind, counts in labels.items():
        path = demo_out / domain / f"labels_{kind}.jsonl"
        recs = jsonl(path)
        steps = [lab for r in recs for lab in r["labels"]]
        judged = [lab for lab in steps if lab is not None]
        positive = [lab for lab in judged if lab is True or (isinstance(lab, float) and lab >= 0.5)]
        assert counts == {"records": len(recs), "steps": len(steps), "judged": len(judged),
                          "positive": len(positive), "correct_samples": sum(r.get("outcome") is True for r in recs)}
        assert len(recs) == len(path.read_text().splitlines())
        assert manifest["domains"][domain][f"labels_{kind}_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("domain", DOMAINS)
def test_beam_and_quality_numbers_are_the_files(demo_out, results, manifest, domain):
    d = results["domains"][domain]
    pool = jsonl(demo_out / domain / "pool.jsonl")
    assert manifest["domains"][domain]["pool_sha256"] == hashlib.sha256((demo_out / domain / "pool.jsonl").read_bytes()).hexdigest()
    beam = jsonl(demo_out / domain / "beam.jsonl")
    b = d["beam"]
    assert len(beam) == d["setup"]["beam problems"] <= d["setup"]["test problems"]
    assert b["accuracy"] == pytest.approx(sum(bool(r["correct"]) for r in beam) / len(beam), abs=1e-12)
    assert b["tokens_per_problem"] == pytest.approx(sum(r["generated_tokens"] for r in beam) / len(beam))
    assert b["lo"] <= b["accuracy"] <= b["hi"]
    tokens = [r.get("completion_tokens") for r in pool]
    if "tokens_per_sample" in b:
        assert b["tokens_per_sample"] == pytest.approx(sum(tokens) / len(tokens))
    for key, q in d["step_quality"].items():
        if key.endswith("vs sample correctness"):
            assert (q["n"], q["positives"]) == (len(pool), sum(bool(r["correct"]) for r in pool)), key


def _row(text: str, first_cell: str) -> list[str]:
    """The cells of the report's table row whose first cell is `first_cell`."""
    rows = [line for line in text.splitlines() if line.startswith(f"| {first_cell} |")]
    assert rows, f"no report row for {first_cell!r}"
    return [c.strip() for c in rows[0].strip("|").split("|")][1:]


def test_report_states_the_numbers_of_results_json(demo_out, results, manifest):
    text = (demo_out / "report.md").read_text()
    assert f"backend: **{manifest['backend']}**" in text
    assert "![math best-of-N](bon_math.png)" in text and (demo_out / "bon_math.png").stat().st_size > 5000
    assert (demo_out / "bon_code.png").stat().st_size > 5000
    for domain in DOMAINS:
        section = text.split(f"## {domain}\n", 1)[1]
        d = results["domains"][domain]
        # the best-of-N table: one row per method, "mean [lo, hi]" at each N
        for name, v in d["bon"]["methods"].items():
            cells = _row(section, name)
            assert cells == [f"{pct(a)} [{pct(lo)}, {pct(hi)}]" for a, lo, hi in zip(v["mean"], v["lo"], v["hi"])], name
        # the paired differences at the largest N, in points
        for key, v in d["deltas"].items():
            assert _row(section, key)[0] == f"{100 * v['mean'][-1]:+.1f}", key
        assert f"{pct(d['beam']['accuracy'])} [{pct(d['beam']['lo'])}, {pct(d['beam']['hi'])}]" in section
    assert "prm:min** vs **orm**" in text and "prm:min** vs **majority**" in text
    # each declared headline against its outcome-supervised twin and the ratio (math: the learned pair,
    # and the judge-started pair against each other too)
    assert "lprm:min** vs **lorm:min**" in text and "lprm:min** vs **ratio:min**" in text
    assert "iprm:min** vs **iorm:min**" in text and "iprm:min** vs **ratio:min**" in text


def test_manifest_names_the_policies_used(manifest):
    assert manifest["backend"] in ("vllm", "transformers")
    for domain in DOMAINS:
        policy = manifest["domains"][domain]["policy"]
        assert len(policy["sha256"]) == 64
        assert f"/{domain}-" in policy["path"] and "-quick-" not in policy["path"]   # the full policies


def test_headline_and_backbone_are_declared(results, manifest):
    """results.json names each domain's headline method; math's reward models start from the shipped
    judge, and the zero-training likelihood-ratio scorer is reported beside them."""
    for domain, head, twin in (("math", "lprm", "lorm"), ("code", "iprm", "iorm")):
        d = results["domains"][domain]
        assert d["headline"] == f"{head}:min"
        # the headline's outcome-supervised twin and the token-classification PRM are always beside it
        assert {f"{head}:min - {twin}:min", f"{head}:min - prm:min", f"{head}:min - majority"} <= set(d["deltas"])
    math = results["domains"]["math"]
    assert "iprm:min - iorm:min" in math["deltas"]   # the judge-started pair stays reported beside it
    assert {"iprm steps vs direct sympy labels", "lprm steps vs direct sympy labels"} <= set(math["step_quality"])
    # the learned pair is loaded (shipped), never trained by the demo, and named with its hashes
    assert math["setup"]["learned pair"] == "trained from the policy on 51,200 samples"
    assert set(manifest["domains"]["math"]["learned_pair"]) == {"lprm", "lorm"}
    assert "learned pair" not in results["domains"]["code"]["stages"]
    assert results["domains"]["math"]["setup"]["implicit PRM labels"] == "direct"
    assert results["domains"]["code"]["setup"]["implicit PRM labels"] == "mc"
    for domain in DOMAINS:   # both domains ship a judge: the code one continues the code policy on reference programs
        judge = manifest["domains"][domain]["rm_backbone"]
        assert f"/judge/{domain}-" in judge["path"] and len(judge["sha256"]) == 64
        assert results["domains"][domain]["setup"]["RM backbone"] == "judge"
        assert "ratio:min" in results["domains"][domain]["bon"]["methods"]
    assert "ratio steps vs direct sympy labels" in results["domains"]["math"]["step_quality"]


def test_a_second_run_gives_the_same_numbers(demo_out, results, tmp_path_factory):
    """Reproducible: the same settings and seed give the same results.json numbers (timings, dates and
    paths aside; scripts/compare_runs.py decides what is a result). Seeded requests make every draw
    depend on its problem or prefix, not on how the engine batched it."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "compare_runs", Path(__file__).resolve().parents[1] / "scripts" / "compare_runs.py")
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    again = tmp_path_factory.mktemp("demo_again")
    assert main(["demo", "--quick", "--out", str(again)]) == 0
    diffs = compare.differences(results, compare.load(again))
    assert not diffs, compare.table(diffs[:20])
