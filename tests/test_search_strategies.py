"""Search strategies share one signature and one dispatch (`prm.search.STRATEGIES`); `prm search`
runs each end to end on a tiny policy and a tiny trained PRM, and a new strategy is one function
plus one dict entry."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from fakes import FakeSampler, canned_sampler, good_bad_scorer, length_scorer, menu_sampler
from prm.cli import main
from prm.records import PoolRecord, Problem, SearchResult
from prm.sampler import Completion
from prm.search import STRATEGIES, Strategy
from prm.search.beam import BeamConfig
from prm.search.best_of_n import BestOfNConfig

MATH = [Problem(id="m1", domain="math", question="3 + 4?", answer="7"),
        Problem(id="m2", domain="math", question="2 + 2?", answer="4")]
TEXTS = ["3 + 4 = 7\n\nThe answer is 7.", "2 + 2 = 4\n\nThe answer is 4."]


def test_the_dispatch_is_one_dict():
    assert list(STRATEGIES)[:3] == ["bon", "beam", "dvts"]  # later strategies (pf, ...) follow
    assert STRATEGIES["bon"].config is BestOfNConfig and STRATEGIES["beam"].config is BeamConfig


def test_best_of_n_returns_a_judged_scored_pool_per_problem():
    pytest.importorskip("verifiers.math")
    out = STRATEGIES["bon"].run(MATH, canned_sampler(TEXTS), {"prm": length_scorer("prm")}, BestOfNConfig(n=2))
    assert [r.problem_id for r in out] == ["m1", "m2"] and all(r.strategy == "bon" for r in out)
    # sample k of each prompt is TEXTS[k]: m1 is right with sample 0 only, m2 with sample 1 only
    assert [[s.correct for s in r.samples] for r in out] == [[True, False], [False, True]]
    assert [[s.answer for s in r.samples] for r in out] == [["7", "4"], ["7", "4"]]
    assert out[0].samples[0].scores["prm"] == [1 / 10, 1 / 17]
    assert [r.generated_tokens for r in out] == [10, 10]  # 2 samples x 5 tokens (canned sampler)


def test_beam_returns_the_chosen_solution_as_a_pool_record():
    pytest.importorskip("verifiers.math")
    [r] = STRATEGIES["beam"].run(MATH[:1], menu_sampler(), {"prm": good_bad_scorer()},
                                 BeamConfig(beam_width=2, expand=2, max_steps=6))
    [rec] = r.samples
    assert rec.steps == ["good 0.0", "good 1.0", "good 2.0"] and rec.extra["text"] == "good 0.0\n\ngood 1.0\n\ngood 2.0"
    assert rec.scores == {"prm": [0.9, 0.9, 0.9]} and rec.extra["score"] == pytest.approx(0.9)
    # tokens: 4 first steps x 3, then 2 beams x 2 x 3 at depths 1 and 2, then 2 x 2 EOS tokens
    assert rec.extra["truncated"] is False and r.generated_tokens == rec.extra["generated_tokens"] == 40
    # judged by the math judge on its own text: the last number, 2.0, is not the gold 7
    assert rec.correct is False and rec.answer == "2.0"


def test_beam_refuses_mixed_domains_and_a_missing_guide():
    from prm.errors import UserError

    mixed = MATH[:1] + [Problem(id="c", domain="code", question="q", test_format="mbpp", tests=["assert 1"])]
    with pytest.raises(UserError, match="one domain"):
        STRATEGIES["beam"].run(mixed, menu_sampler(), {"prm": good_bad_scorer()}, BeamConfig())
    with pytest.raises(UserError, match="no scorer named 'x'"):
        STRATEGIES["beam"].run(MATH, menu_sampler(), {"prm": good_bad_scorer()}, BeamConfig(guide="x"))


# ----------------------------------------------------------------------------- a new strategy
@dataclass(frozen=True)
class FirstConfig:
    n: int = 2


def first_of_n(problems, sampler, scorers, cfg: FirstConfig = FirstConfig(), *, progress=False):
    """A toy strategy: sample n, keep the first (what a new strategy module would hold)."""
    from prm.search.pool import judge_records, sample_records
    from prm.sampler import SamplingConfig

    records = sample_records(sampler, problems, [p.question for p in problems], SamplingConfig(n=cfg.n))
    judge_records(problems, records)
    return [SearchResult(p.id, "first", rs[:1], 0) for p, rs in zip(problems, records)]


def test_a_new_strategy_is_one_function_plus_one_dict_entry(monkeypatch, tmp_path):
    pytest.importorskip("verifiers.math")
    monkeypatch.setitem(STRATEGIES, "first", Strategy(first_of_n, FirstConfig))
    # `prm search` offers it and fills its config from the flags of the same name
    monkeypatch.setattr("prm.sampler.make_sampler", lambda cfg: canned_sampler(TEXTS))
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in MATH))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    out = tmp_path / "first.jsonl"
    assert main(["search", "--method", "first", "--problems", str(problems), "--model", str(tmp_path / "m"),
                 "--n", "2", "--out", str(out)]) == 0
    rows = [PoolRecord.from_dict(json.loads(line)) for line in out.read_text().splitlines()]
    assert [(r.problem_id, r.correct, r.answer) for r in rows] == [("m1", True, "7"), ("m2", False, "7")]


# ----------------------------------------------------------------------------- prm search, end to end
@pytest.fixture(scope="module")
def math_problems(tmp_path_factory):
    path = tmp_path_factory.mktemp("search") / "problems.jsonl"
    rows = [{"id": f"p{i}", "domain": "math", "question": f"Tom has {i} apples and buys 3 more. How many?",
             "answer": str(i + 3)} for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("method,extra", [("bon", ["--n", "3"]), ("beam", ["--beam-width", "2", "--expand", "2",
                                                                         "--max-steps", "2"]),
                                           ("stepwise", ["--max-chains", "2", "--tries", "2", "--max-steps", "2"])])
def test_prm_search_success_path(method, extra, math_problems, tiny_lm_dir, trained_prm_dir, tmp_path, capsys):
    from verifiers.math import grade

    out = tmp_path / f"{method}.jsonl"
    rc = main(["search", "--method", method, "--problems", str(math_problems), "--model", str(tiny_lm_dir),
               "--scorer", f"prm={trained_prm_dir}", "--backend", "transformers", "--scorer-backend", "transformers",
               "--max-tokens", "24", "--max-step-tokens", "12", "--out", str(out), *extra])
    assert rc == 0, capsys.readouterr().err
    rows = [PoolRecord.from_dict(json.loads(line), f"{out}:{i}") for i, line in enumerate(out.read_text().splitlines())]
    per_problem = 3 if method == "bon" else 1
    assert [r.problem_id for r in rows] == [f"p{i}" for i in range(3) for _ in range(per_problem)]
    golds = {f"p{i}": str(i + 3) for i in range(3)}
    for r in rows:
        # the verdict is the verifier's on the record's own text, and every step has a PRM score in [0, 1]
        assert r.correct is (grade(r.extra["text"], golds[r.problem_id]).correct is True)
        if r.steps:
            assert len(r.scores["prm"]) == len(r.steps) and all(0.0 <= x <= 1.0 for x in r.scores["prm"])
    assert main(["eval", "bon", "--pool", str(out), "--out", str(tmp_path / f"eval-{method}")]) == 0


@pytest.mark.parametrize("model,policy,expected,note", [
    ("m_dir", None, "m_dir", ""),
    (None, "OLD_DIR", "OLD_DIR", "--policy DIR is deprecated; use --model"),   # the old spelling still works
    (None, "math", "embedded:math", ""),
    (None, None, "error:exactly one", ""),
    ("m_dir", "math", "error:exactly one", ""),
    (None, "chemistry", "error:must be one of math, code", ""),
])
def test_search_model_and_policy_vocabulary(model, policy, expected, note, monkeypatch, tmp_path, capsys):
    from types import SimpleNamespace

    from prm.commands.search import policy_dir
    from prm.errors import UserError

    (tmp_path / "OLD_DIR").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("prm.policy.ensure_policy", lambda name, *a, **k: f"embedded:{name}")
    args = SimpleNamespace(model=model, policy=policy)
    if expected.startswith("error:"):
        with pytest.raises(UserError, match=expected[len("error:"):]):
            policy_dir(args)
    else:
        assert policy_dir(args) == expected
        assert note in capsys.readouterr().err


def test_prm_search_seeds_each_request_by_its_problem_not_its_position(monkeypatch, tmp_path):
    """`--seed` reaches every request as request_seed(seed, problem id), as in `prm sample` and the demo:
    the same problem draws with the same seed whether it is first or last, alone or in a batch. Before,
    requests went unseeded, so the engine's batching decided the draws."""
    pytest.importorskip("verifiers.math")
    from prm.sampler.base import request_seed

    seen: dict[str, list] = {}

    def sampler(_cfg):
        def complete(prompt, params):
            seen.setdefault(prompt, []).append(params.seed)
            return [Completion("The answer is 7.", [1] * 5, None, "stop", 3, 5) for _ in range(params.n)]
        return FakeSampler(complete)

    monkeypatch.setattr("prm.sampler.make_sampler", sampler)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    for order in (MATH, MATH[::-1], MATH[1:]):
        problems = tmp_path / "p.jsonl"
        problems.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in order))
        assert main(["search", "--method", "bon", "--problems", str(problems), "--model", str(tmp_path / "m"),
                     "--n", "2", "--seed", "5", "--out", str(tmp_path / "o.jsonl")]) == 0
    by_question = {p.question: p.id for p in MATH}
    for prompt, seeds in seen.items():
        pid = next(i for q, i in by_question.items() if q in prompt)
        assert seeds and set(seeds) == {request_seed(5, pid)}, (pid, seeds)
    assert len(seen) == len(MATH) and len({s[0] for s in seen.values()}) == len(MATH)


@pytest.mark.parametrize("method", ["bon", "beam"])
def test_search_seed_flag_fills_the_strategy_seed(method):
    from prm.commands.search import strategy_config
    from prm.search import STRATEGIES

    from test_cli_vocab import parser_for

    args = parser_for("search").parse_args(["--method", method, "--problems", "p", "--model", "m", "--out", "o",
                                            "--seed", "9"])
    assert strategy_config(STRATEGIES[method], args).seed == 9
