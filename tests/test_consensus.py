"""Consensus labels (Qwen, 2501.07301): a step keeps its label only where two labelers agree. The
pure rule table-driven, then `label_pairs("consensus")` with a fake policy whose reachability is
known, then `prm label --method consensus` through the CLI."""

from __future__ import annotations

import json

import pytest

from fakes import prompt_fn, rollout_sampler
from prm.labeling import ConsensusConfig, JudgeConfig, RolloutConfig, label_pairs, label_summary
from prm.labeling.consensus import consensus_labels, default_pair
from prm.labeling.runner import format_summary, summarize_records
from prm.records import Problem, Sample

T, F, N = True, False, None


# ----------------------------------------------------------------------------- the pure rule
@pytest.mark.parametrize("a,b,after,labels,counts", [
    # agree-correct: kept
    ([T, T], [T, T], "incorrect", [T, T], (2, 0, 0, 2)),
    # agree-wrong at step 1: the first error, later steps by the after-error policy
    ([T, F, F], [T, F, T], "incorrect", [T, F, F], (2, 1, 0, 3)),
    ([T, F, F], [T, F, T], "unlabeled", [T, F, N], (2, 1, 0, 2)),
    # disagree: unlabeled
    ([T, F], [T, T], "incorrect", [T, N], (1, 1, 0, 1)),
    ([F, T], [T, T], "incorrect", [N, T], (1, 1, 0, 1)),
    # one side None: unlabeled
    ([N, T], [T, T], "incorrect", [N, T], (1, 0, 1, 1)),
    ([T, N], [N, N], "incorrect", [N, N], (0, 0, 2, 0)),
    # soft values read with the hard rule (> 0 is correct, 0.0 an error)
    ([0.25, 0.0], [T, F], "incorrect", [T, F], (2, 0, 0, 2)),
    ([0.0, 1.0], [T, T], "incorrect", [N, T], (1, 1, 0, 1)),
    # after an agreed error a disagreement no longer matters under "incorrect"
    ([F, T, F], [F, F, T], "incorrect", [F, F, F], (1, 2, 0, 3)),
    ([], [], "incorrect", [], (0, 0, 0, 0)),
])
def test_step_consensus(a, b, after, labels, counts):
    got, c = consensus_labels(a, b, ConsensusConfig(after_error=after))
    assert got == labels
    assert (c["agreed"], c["disagreed"], c["one_side_unlabeled"], c["kept"]) == counts and c["steps"] == len(a)
    assert all(isinstance(x, bool) or x is None for x in got)      # hard labels only


@pytest.mark.parametrize("a,b,labels", [
    ([T, F, F], [T, F, T], [T, F, F]),          # first errors agree (1 and 1)
    ([T, T, F], [T, F, F], [N, N, N]),          # 2 vs 1: the sample is dropped
    ([T, T], [T, 0.5], [T, T]),                 # both "no error"
    ([T, N, F], [T, T, F], [N, N, N]),          # one side's first error unknown
])
def test_sample_consensus_is_the_papers_filter(a, b, labels):
    assert consensus_labels(a, b, ConsensusConfig(unit="sample"))[0] == labels


def test_step_counts_mismatch_is_an_error():
    with pytest.raises(ValueError, match="steps"):
        consensus_labels([T], [T, T])


@pytest.mark.parametrize("kw", [{"pair": ("mc", "mc")}, {"pair": ("mc", "judge")}, {"pair": ("mc",)},
                                {"unit": "problem"}, {"after_error": "wrong"}])
def test_bad_settings(kw):
    with pytest.raises(ValueError):
        ConsensusConfig(**kw)


@pytest.mark.parametrize("domain,pair", [("math", ("mc", "direct")), ("code", ("mc", "binary"))])
def test_default_pair_per_domain(domain, pair):
    assert default_pair(domain) == pair == ConsensusConfig().pair_for(domain)
    assert ConsensusConfig(pair=("direct", "outcome")).pair_for(domain) == ("direct", "outcome")


# ----------------------------------------------------------------------------- with a fake policy
Q = "A farm has 59 cows. It buys 6 pens with 2 cows each, then 10 more cows. How many?"
GOOD = ["6 * 2 = 12", "59 + 12 = 71", "71 + 10 = 81", "The answer is 81."]
SLIP = ["6 * 2 = 12", "59 + 12 = 72", "72 + 10 = 82", "The answer is 82."]        # rollouts recover: mc disagrees
MARKED = ["6 * 2 = 12", "BAD 59 + 12 = 72", "72 + 10 = 82", "The answer is 82."]  # rollouts fail too: agree


def test_label_pairs_consensus_mc_and_direct():
    p = Problem(id="p1", domain="math", question=Q, answer="81")
    pairs = [(p, Sample(problem_id="p1", text="\n\n".join(s), steps=list(s))) for s in (GOOD, SLIP, MARKED)]
    sampler = rollout_sampler({Q: "The answer is 81."}, {Q: "The answer is 80."})
    recs = label_pairs("consensus", pairs, sampler=sampler, prompt_fn=prompt_fn, rollout=RolloutConfig(k=2),
                       judge=JudgeConfig(workers=1))
    good, slip, marked = recs
    assert good.labels == [T, T, T, T] and good.extra["first_error"] == -1
    # direct: 59 + 12 = 72 is wrong and poisons what follows; mc: every prefix but the last recovers
    assert slip.extra["direct_labels"] == [T, F, F, F] and slip.extra["mc_labels"] == [T, T, T, F]
    assert slip.labels == [T, N, N, F] and slip.extra["first_error"] is None
    assert marked.labels == [T, F, F, F] and marked.extra["first_error"] == 1
    prov = slip.extra["provenance"]
    assert prov["labeler"] == "consensus" and prov["settings"]["pair"] == ["mc", "direct"]
    assert prov["consensus"] == {"steps": 4, "agreed": 2, "disagreed": 2, "one_side_unlabeled": 0, "kept": 2}
    assert [m["labeler"] for m in prov["members"]] == ["mc", "direct"]
    assert prov["cost"]["rollouts"] == prov["members"][0]["cost"]["rollouts"] > 0    # direct draws none
    assert prov["cost"]["verifier_calls"] == sum(m["cost"]["verifier_calls"] for m in prov["members"])
    kept = {"steps": 12, "agreed": 10, "disagreed": 2, "one_side_unlabeled": 0, "kept": 10}
    assert label_summary(recs)["consensus"] == kept
    s = summarize_records(r.to_dict() for r in recs)
    assert s["consensus"] == kept and "consensus: 10 of 12 steps kept (83.3%)" in format_summary(s)
    with pytest.raises(ValueError, match="rollouts"):
        label_pairs("consensus", pairs)                      # mc needs a sampler
    no_rollouts = label_pairs("consensus", pairs, consensus=ConsensusConfig(pair=("direct", "outcome")))
    assert no_rollouts[2].extra["provenance"]["settings"]["pair"] == ["direct", "outcome"]


# ----------------------------------------------------------------------------- the CLI
def test_cli_label_consensus_on_the_fixtures(tmp_path, capsys, tiny_lm_dir):
    from prm.cli import main

    fx = "tests/fixtures"
    out, sj = tmp_path / "c.jsonl", tmp_path / "summary.json"
    assert main(["label", "--method", "consensus", "--problems", f"{fx}/label_problems.jsonl", "--samples",
                 f"{fx}/label_samples.jsonl", "--out", str(out), "--model", str(tiny_lm_dir), "--backend",
                 "transformers", "-k", "2", "--max-tokens", "6", "--no-progress", "--workers", "1",
                 "--summary-json", str(sj)]) == 0
    printed = capsys.readouterr().out
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert {r["domain"] for r in rows} == {"math", "code"}
    for r in rows:
        prov = r["provenance"]
        pair = tuple(prov["settings"]["pair"])
        assert prov["labeler"] == "consensus" and pair == default_pair(r["domain"])
        want, counts = consensus_labels(r[f"{pair[0]}_labels"], r[f"{pair[1]}_labels"])
        assert r["labels"] == want and prov["consensus"] == counts
    summary = json.loads(sj.read_text())
    total = sum(r["provenance"]["consensus"]["kept"] for r in rows)
    assert summary["consensus"]["kept"] == total and f"consensus: {total} of " in printed
    # a pair without rollouts needs no model; code samples have no step checker and are rejected
    assert main(["label", "--method", "consensus", "--pair", "direct,outcome", "--problems",
                 f"{fx}/label_problems.jsonl", "--samples", f"{fx}/label_samples.jsonl", "--out",
                 str(tmp_path / "d.jsonl"), "--no-progress", "--workers", "1"]) == 0
    rows = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert rows and {r["domain"] for r in rows} == {"math"}
    assert main(["label", "--method", "consensus", "--pair", "mc", "--problems", f"{fx}/label_problems.jsonl",
                 "--samples", f"{fx}/label_samples.jsonl", "--out", str(tmp_path / "e.jsonl")]) == 2
