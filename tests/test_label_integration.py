"""Labelers with the real pieces: the code sandbox (verifiers.code), the embedded tasks, and the real
sampler on a tiny random model (plumbing: prompts, token counts, provenance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import prompt_fn, rollout_sampler
from prm.labeling import (BinaryConfig, JudgeConfig, MCConfig, RolloutConfig, label_binary, label_direct, label_mc,
                          label_outcome, make_items)
from prm.labeling.verify import judge_many
from prm.records import Problem, Sample, read_problems
from prm.steps import split_code_steps

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "data" / "tasks"
JUDGE = JudgeConfig(workers=2, code_timeout=10.0)


@pytest.fixture(scope="module")
def code_problem() -> Problem:
    probs = read_problems(TASKS / "code_test.jsonl")
    return next(p for p in probs.values() if p.metadata["reference"].count("\n") >= 4)


def code_sample(problem: Problem, mutate_line: int | None = None) -> Sample:
    lines = problem.metadata["reference"].split("\n")
    if mutate_line is not None:
        # break one statement: "x = x + 2" -> "x = x + 2 + 1"-style, always a different result
        lines[mutate_line] = lines[mutate_line].rstrip() + (" + 1" if "=" in lines[mutate_line] and
                                                             "[" not in lines[mutate_line] else "")
        if "[" in lines[mutate_line]:
            lines[mutate_line] = lines[mutate_line].replace("[", "[0] + [", 1)
    program = "\n".join(lines)
    return Sample(problem_id=problem.id, text=program, steps=split_code_steps(program), answer=program)


def test_code_outcome_runs_the_unit_tests(code_problem):
    good, bad = code_sample(code_problem), code_sample(code_problem, mutate_line=1)
    recs = label_outcome(make_items([(code_problem, good), (code_problem, bad)]), JUDGE)
    assert [r.extra["outcome"] for r in recs] == [True, False], [r.extra["outcome_reason"] for r in recs]
    assert recs[0].labels[-1] is True and recs[1].labels[-1] is False
    assert recs[0].extra["provenance"]["verifier"]["name"] == "verifiers.code.run_tests"
    assert recs[0].extra["provenance"]["verifier"]["version"]
    # code steps keep their indentation (the program is the steps joined by "\n")
    assert recs[0].completions[1].startswith("    ")


def test_code_mc_and_binary_locate_the_broken_statement(code_problem):
    ref_steps = split_code_steps(code_problem.metadata["reference"])
    bad = code_sample(code_problem, mutate_line=2)
    bad_steps = [s.rstrip() for s in bad.steps if s.strip()]

    def complete(question, prefix):
        # a "policy" that always writes the reference's remaining statements after the prefix
        done = prefix.count("\n")  # the prefix ends with the "\n" separator: one per step
        return "\n".join(ref_steps[done:])

    items = make_items([(code_problem, bad), (code_problem, code_sample(code_problem))])
    mc = label_mc(items, rollout_sampler(complete_fn=complete), prompt_fn, MCConfig(rollout=RolloutConfig(k=2)), JUDGE)
    assert mc[0].extra["first_error"] == 2 and mc[0].extra["mc_values"][:2] == [1.0, 1.0]
    assert mc[0].extra["mc_values"][2:] == [0.0] * (len(bad_steps) - 2)
    assert mc[1].extra["first_error"] == -1
    bi = label_binary(items, rollout_sampler(complete_fn=complete), prompt_fn, BinaryConfig(rollout=RolloutConfig(k=2)),
                      JUDGE)
    assert [r.extra["first_error"] for r in bi] == [2, -1]
    assert bi[0].extra["provenance"]["cost"]["rollouts"] < mc[0].extra["provenance"]["cost"]["rollouts"]


def test_code_sandbox_verdicts_for_hostile_rollouts(code_problem):
    hostile = ["import sys\nsys.exit(0)", "import os\nos._exit(0)", "while True:\n    pass",
               "raise SystemExit", "def check(c):\n    return True"]
    js = judge_many([(code_problem, h) for h in hostile], JudgeConfig(workers=2, code_timeout=2.0))
    assert all(j.correct is not True for j in js), js


def test_embedded_math_tasks_reference_solutions_label_clean(tmp_path):
    probs = list(read_problems(TASKS / "math_test.jsonl").values())[:30]
    items = make_items([(p, Sample(problem_id=p.id, text=p.metadata["reference"],
                                   steps=p.metadata["reference"].split("\n\n"))) for p in probs])
    direct = label_direct(items, judge=JUDGE)
    outcome = label_outcome(items, JUDGE)
    assert all(r.extra["outcome"] is True for r in outcome)
    assert all(r.extra["first_error"] == -1 and all(v is True for v in r.labels) for r in direct)


def test_real_sampler_on_a_tiny_model(tiny_lm_dir):
    """Real prompts through prm.sampler (transformers backend): counts and provenance are real."""
    from prm.sampler import EngineConfig, build_prompt, make_sampler

    sampler = make_sampler(EngineConfig(model=str(tiny_lm_dir), backend="transformers"))
    calls, drawn = [], []  # drawn: (prompt, its completions) as the engine returned them
    real_generate = sampler.generate

    def counting(prompts, params):
        calls.append(len(prompts))
        outs = real_generate(prompts, params)
        drawn.extend(zip(prompts, outs))
        return outs

    sampler.generate = counting
    try:
        p = Problem(id="t", domain="math", question="Tom has 3 apples and buys 4 more. How many?", answer="7")
        s = Sample(problem_id="t", text="3 + 4 = 7\n\nThe answer is 7.", steps=["3 + 4 = 7", "The answer is 7."])
        s2 = Sample(problem_id="t", text="3 + 4 = 8\n\n8 - 0 = 8\n\nThe answer is 8.",
                    steps=["3 + 4 = 8", "8 - 0 = 8", "The answer is 8."])
        recs = label_mc(make_items([(p, s), (p, s2)]), sampler, lambda q: build_prompt(tiny_lm_dir, q),
                        MCConfig(rollout=RolloutConfig(k=2, max_tokens=8)), JUDGE)
    finally:
        sampler.close()
    assert calls == [3]  # 1 + 2 prefixes, one engine call
    # the second sample's cost is what the engine reported for its two prefixes' rollouts, and the
    # prompt counts are the tokenizer's (each of the K=2 rollouts pays its prompt)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    mine = [(prompt, cs) for prompt, cs in drawn if "3 + 4 = 8" in prompt]
    assert len(mine) == 2 and all(len(cs) == 2 for _, cs in mine)
    cost = recs[1].extra["provenance"]["cost"]
    assert cost["rollouts"] == 4
    assert cost["prompt_tokens"] == sum(2 * len(tok(prompt).input_ids) for prompt, _ in mine)
    assert cost["completion_tokens"] == sum(len(c.token_ids) for _, cs in mine for c in cs)
    assert all(len(c.token_ids) <= 8 for _, cs in mine for c in cs)  # max_tokens
    prov = recs[0].extra["provenance"]["sampler"]
    assert prov["model"] == str(tiny_lm_dir) and prov["backend"] == "transformers" and prov["n"] == 2
    assert recs[0].extra["mc_values"][-1] == 1.0 and recs[1].extra["mc_values"][-1] == 0.0


@pytest.mark.parametrize("method", ["mc", "binary"])
def test_cli_rollout_methods_with_a_real_model(tiny_lm_dir, tmp_path, capsys, method):
    import json

    from prm.cli import main

    pf = tmp_path / "p.jsonl"
    pf.write_text(json.dumps({"id": "t", "domain": "math", "question": "Tom has 3 apples and buys 4. How many?",
                              "answer": "7"}) + "\n")
    sf = tmp_path / "s.jsonl"
    steps = [["3 + 4 = 7", "The answer is 7."], ["3 + 4 = 8", "8 + 0 = 8", "The answer is 8."]]
    sf.write_text("".join(json.dumps({"problem_id": "t", "text": "\n\n".join(s), "steps": s}) + "\n" for s in steps))
    out = tmp_path / "o.jsonl"
    assert main(["label", "--method", method, "--problems", str(pf), "--samples", str(sf), "--out", str(out),
                 "--model", str(tiny_lm_dir), "--backend", "transformers", "-k", "2", "--max-tokens", "6",
                 "--no-progress", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 2 and all(r["provenance"]["labeler"] == method for r in recs)
    assert recs[0]["provenance"]["sampler"]["backend"] == "transformers"
    assert f"agreement direct vs {method}: 2 samples matched" in printed
    if method == "binary":
        assert "binary search:" in printed and "mc on the same samples would draw up to 6" in printed
