"""prm.rewards: shapes and guards (table-driven, adversarial completions), the trainer signatures (TRL's
installed one called the way it calls, veRL's and OpenRLHF's by their documented contracts), the
OpenRLHF payload round trip, a real scorer, and a GRPO smoke run of scripts/grpo_demo.py."""

from __future__ import annotations

import inspect
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from fakes import FakeScorer, length_scorer
from prm.domains import DOMAINS
from prm.eval.hacking import training_drift
from prm.rewards import Reward, RewardConfig, RewardFunction, min_form, step_spans, trl_reward, verl_compute_score
from prm.rewards.openrlhf import BadRequest, handle, question_of, split_query
from prm.rewards.trainers import completion_text, message_text

ROOT = Path(__file__).resolve().parents[1]
GOOD = "It sells 5 cups, so 23 - 5 = 18.\n\nIt sells 2 cups, so 18 - 2 = 16.\n\nThe answer is 16."
WRONG = "It sells 5 cups, so 23 - 5 = 18.\n\nIt sells 2 cups, so 18 - 2 = 18.\n\nThe answer is 18."


def eq_scorer() -> FakeScorer:
    """0.9 for a step whose arithmetic holds (or has none), 0.1 for one that does not."""
    def one(step: str) -> float:
        if "=" not in step:
            return 0.9
        lhs, _, rhs = step.rpartition("so ")[2].rstrip(".").partition("=")
        try:
            return 0.9 if eval(lhs) == float(rhs) else 0.1  # noqa: S307 - the test's own fixed strings
        except Exception:  # noqa: BLE001
            return 0.5
    return FakeScorer(lambda q, steps: [one(s) for s in steps])


# ----------------------------------------------------------------------------- steps and offsets
@pytest.mark.parametrize("text", [
    GOOD, WRONG, "", "\n\n", "one step", "  lead\n\n\n\n  mid  \n\ntrail\n\n", "a\r\n\r\nb", "é 🙂\n\n中文 = 2",
    "x\n\n" * 50, "\n\n\n\nonly after blanks",
])
@pytest.mark.parametrize("domain", ["math", "code"])
def test_step_spans_give_the_domains_steps_at_exact_offsets(text, domain):
    d = DOMAINS[domain]
    spans = step_spans(text, d)
    assert [text[a:b] for a, b in spans] == d.steps(text)
    assert all(0 <= a <= b <= len(text) for a, b in spans)
    assert [a for a, _ in spans] == sorted(a for a, _ in spans)


def test_step_spans_with_the_prms_own_separator():
    text = "a = 1\nb = 2\n\nc = 3"
    assert [text[a:b] for a, b in step_spans(text, DOMAINS["math"], sep="\n")] == ["a = 1", "b = 2", "c = 3"]


# ----------------------------------------------------------------------------- the shapes, table-driven
@pytest.mark.parametrize("cfg,text,gold,score,correct", [
    (RewardConfig(shape="outcome"), GOOD, "16", 1.0, True),
    (RewardConfig(shape="outcome"), WRONG, "16", 0.0, False),
    (RewardConfig(shape="outcome", outcome_unknown=0.3), GOOD, None, 0.3, None),
    (RewardConfig(shape="prm"), GOOD, "16", 0.9, True),
    (RewardConfig(shape="prm"), WRONG, "16", 0.1, False),             # the verifier still runs: correct is known
    (RewardConfig(shape="prm", aggregation="mean"), WRONG, "16", (0.9 + 0.1 + 0.9) / 3, False),
    (RewardConfig(shape="prm", aggregation="prod"), GOOD, None, 0.9 ** 3, None),
    (RewardConfig(shape="prm", aggregation="last"), WRONG, None, 0.9, None),
    (RewardConfig(shape="outcome+prm", prm_weight=0.5), GOOD, "16", 1.45, True),
    (RewardConfig(shape="outcome+prm", prm_weight=0.5), WRONG, "16", 0.05, False),
    (RewardConfig(shape="outcome+prm", prm_weight=2.0), WRONG, "18", 1.2, True),
    (RewardConfig(shape="dense"), GOOD, "16", 0.9 * 3 + 1.0, True),
    (RewardConfig(shape="dense"), WRONG, None, 0.9 + 0.1 + 0.9, None),  # no gold: no outcome added
    (RewardConfig(shape="dense", clip=0.5), WRONG, "16", -0.4, False),
])
def test_shapes(cfg, text, gold, score, correct):
    r = RewardFunction(cfg, scorer=eq_scorer()).reward("q", text, gold)
    assert r.score == pytest.approx(score) and r.correct is correct
    assert r.n_steps == 3


def test_dense_rewards_sit_where_each_step_ends():
    r = RewardFunction(RewardConfig(shape="dense"), scorer=eq_scorer()).reward("q", "  " + WRONG + "\n", "18")
    text = "  " + WRONG + "\n"
    assert len(r.step_rewards) == len(r.step_ends) == 3
    assert [text[:e].endswith(s) for e, s in zip(r.step_ends, DOMAINS["math"].steps(text))] == [True] * 3
    assert r.step_rewards == pytest.approx((0.9, 0.1, 0.9 + 1.0))  # the outcome on the last step
    assert sum(r.step_rewards) == pytest.approx(r.score)


def test_an_orm_scores_the_whole_solution_once():
    orm = FakeScorer(lambda q, steps: [0.7], kind="orm")
    r = RewardFunction(RewardConfig(shape="dense"), scorer=orm).reward("q", GOOD, None)
    assert r.step_rewards == (0.7,) and r.step_ends == (len(GOOD),) and r.prm == pytest.approx(0.7)
    assert orm.batches == [1]


def test_one_scorer_batch_for_the_whole_batch_and_none_for_empty_completions():
    sc = eq_scorer()
    fn = RewardFunction(RewardConfig(shape="prm"), scorer=sc)
    fn.rewards(["q"] * 4, [GOOD, "", WRONG, None], None)
    assert sc.batches == [2]


# ----------------------------------------------------------------------------- guards
def test_min_step_length_turns_filler_into_the_floor():
    fn = RewardFunction(RewardConfig(shape="prm", aggregation="mean", min_step_chars=5, filler_reward=0.0),
                        scorer=FakeScorer(lambda q, steps: [1.0] * len(steps)))
    r = fn.reward("q", "ok\n\nA real step here.\n\n.", None)
    assert r.n_filler == 2 and r.score == pytest.approx(1 / 3)


def test_filler_steps_stop_paying_under_the_guards():
    """A PRM that likes short steps (1 / (1 + len)): unguarded, many tiny steps beat a real solution
    on the dense return; with the minimum step length they earn nothing, and under Gao et al.'s clip
    no extra step can raise the return."""
    filler = "\n\n".join(["ok"] * 40)
    loose = RewardFunction(RewardConfig(shape="dense"), scorer=length_scorer("prm"), verifier=lambda c, g: None)
    assert loose.reward("q", filler).score > loose.reward("q", GOOD).score
    guarded = RewardFunction(RewardConfig(shape="dense", min_step_chars=8), scorer=length_scorer("prm"),
                             verifier=lambda c, g: None)
    assert guarded.reward("q", filler).score == 0.0
    clipped = RewardFunction(RewardConfig(shape="dense", clip=0.5), scorer=length_scorer("prm"),
                             verifier=lambda c, g: None)
    returns = [clipped.reward("q", "\n\n".join(["ok"] * k)).score for k in range(1, 12)]
    assert all(b <= a for a, b in zip(returns, returns[1:])) and max(returns) <= 0.0


@pytest.mark.parametrize("rewards,temperature", [([0.9, 0.3, 0.8], 1e-3), ([0.2], 0.1), ([0.5, 0.5], 0.1),
                                                  ([1.0, -1.0, 0.0, 0.4], 1e-2)])
def test_min_form_is_a_soft_minimum(rewards, temperature):
    out = min_form(rewards, temperature)
    assert len(out) == len(rewards)
    assert sum(out) == pytest.approx(min(rewards), abs=1e-3)
    assert min(rewards) <= sum(min_form(rewards, 10.0)) <= max(rewards)


def test_min_form_return_does_not_grow_with_more_good_steps():
    fn = RewardFunction(RewardConfig(shape="dense", min_form=True, min_form_temperature=0.01),
                        scorer=FakeScorer(lambda q, steps: [0.9] * (len(steps) - 1) + [0.2]), verifier=lambda c, g: None)
    returns = [fn.reward("q", "\n\n".join(["a step"] * k)).score for k in (2, 5, 20)]
    assert returns == pytest.approx([0.2] * 3, abs=1e-3)


@pytest.mark.parametrize("kw,msg", [
    (dict(shape="sum"), "shape must be"), (dict(aggregation="max"), "aggregation must be"),
    (dict(shape="prm", min_form=True), "min_form"), (dict(min_step_chars=-1), "min_step_chars"),
    (dict(clip=float("nan")), "clip"), (dict(prm_weight=float("inf")), "prm_weight"),
    (dict(min_form_temperature=0.0), "temperature"), (dict(sep=""), "sep"),
])
def test_config_refuses_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg):
        RewardConfig(**kw)


def test_reward_function_refuses_missing_parts():
    with pytest.raises(ValueError, match="needs a scorer"):
        RewardFunction(RewardConfig(shape="prm"))
    with pytest.raises(ValueError, match="needs a verifier"):
        RewardFunction(RewardConfig(shape="outcome", domain="code"))
    with pytest.raises(ValueError, match="callable"):
        RewardFunction(RewardConfig(shape="outcome"), verifier="math")
    with pytest.raises(ValueError, match="same length"):
        RewardFunction(RewardConfig(shape="outcome")).rewards(["q"], ["a", "b"], ["1", "2"])


# ----------------------------------------------------------------------------- adversarial completions
ADVERSARIAL = {
    "empty": "", "none": None, "number": 12, "list": ["The answer is 3."], "blank": "\n\n\n\n   \n\n",
    "no answer": "I am not sure what to do here.",
    "giant filler step": "blah " * 40_000 + "\n\nThe answer is 3.",
    "many tiny steps": "a\n\n" * 3_000 + "The answer is 3.",
    "unicode": "Tres = 3 ✓ 🙂\n\nالجواب 3\n\nThe answer is $\\boxed{3}$.",
    "lone surrogate": "so 1 + 2 = 3 \ud800\n\nThe answer is 3.",
    "nul and controls": "1 + 2 = 3\x00\x1b[31m\n\nThe answer is 3.",
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
@pytest.mark.parametrize("cfg", [RewardConfig(shape="outcome"), RewardConfig(shape="prm"),
                                 RewardConfig(shape="outcome+prm", min_step_chars=4, clip=0.5),
                                 RewardConfig(shape="dense", min_form=True)], ids=["outcome", "prm", "guarded", "pure"])
def test_adversarial_completions_get_a_defined_reward(name, cfg):
    fn = RewardFunction(cfg, scorer=FakeScorer(lambda q, steps: [0.6] * len(steps)))
    r = fn.reward("What is 1 + 2?", ADVERSARIAL[name], "3")
    assert isinstance(r, Reward) and math.isfinite(r.score)
    assert len(r.step_rewards) == len(r.step_ends) and all(math.isfinite(x) for x in r.step_rewards)
    if name in ("empty", "none", "number", "list", "blank"):
        assert r.n_steps == 0 and r.correct is False and r.score == 0.0
    if name in ("giant filler step", "many tiny steps", "unicode", "lone surrogate"):
        assert r.correct is True
    if name == "many tiny steps" and cfg.min_step_chars:
        assert r.n_filler == 3_000


# ----------------------------------------------------------------------------- TRL
def _trl_kwargs(n, **cols):
    metrics, extra = {}, {}
    return dict(cols, trainer_state=SimpleNamespace(global_step=3), log_extra=lambda c, v: extra.setdefault(c, v),
                log_metric=lambda k, v: metrics.setdefault(k, v)), metrics


def test_trl_reward_plain_and_conversational():
    fn = trl_reward(RewardFunction(RewardConfig(shape="outcome+prm"), scorer=eq_scorer()))
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params[:2]] == ["prompts", "completions"] and params[-1].kind is inspect.Parameter.VAR_KEYWORD
    kwargs, metrics = _trl_kwargs(2, answer=["16", "16"], question=["Q1", "Q2"])
    plain = fn(prompts=["Question: Q1\nAnswer:\n"] * 2, completions=[GOOD, WRONG], completion_ids=[[1], [2]], **kwargs)
    assert plain == pytest.approx([1.45, 0.05]) and all(type(x) is float for x in plain)
    assert set(metrics) == {"prm/prm", "prm/correct", "prm/filler"} and metrics["prm/correct"] == 0.5
    conv_prompts = [[{"role": "system", "content": "be brief"}, {"role": "user", "content": "Q1"}]] * 2
    conv = [[{"role": "assistant", "content": GOOD}],
            [{"role": "assistant", "content": [{"type": "text", "text": WRONG}]}]]
    kwargs, _ = _trl_kwargs(2, answer=["16", "16"])
    assert fn(prompts=conv_prompts, completions=conv, completion_ids=[[1], [2]], **kwargs) == pytest.approx(plain)


def test_trl_reward_takes_the_question_from_the_dataset_column_else_the_user_turn():
    seen = []
    sc = FakeScorer(lambda q, steps: seen.append(q) or [0.5] * len(steps))
    fn = trl_reward(RewardFunction(RewardConfig(shape="prm"), scorer=sc))
    fn(prompts=["templated Q"], completions=[GOOD], question=["plain Q"])
    fn(prompts=[[{"role": "user", "content": "user Q"}, {"role": "assistant", "content": "x"}]], completions=[GOOD])
    assert seen == ["plain Q", "user Q"]


@pytest.mark.parametrize("c,text", [
    ("plain", "plain"), ([{"role": "assistant", "content": "a"}, {"role": "tool", "content": "t"},
                         {"role": "assistant", "content": "b"}], "ab"),
    ([{"role": "assistant", "content": None, "tool_calls": [{}]}], ""), ([], ""), (None, None), (7, 7),
])
def test_completion_text(c, text):
    assert completion_text(c) == text


def test_message_text_odd_inputs():
    assert message_text([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}], "user") == "hi"
    assert message_text([{"role": "assistant", "content": "x"}], "user") is None
    assert message_text(5) is None


def test_trl_calls_the_reward_the_way_grpo_trainer_does():
    """trl's own GRPOTrainer._calculate_rewards, on a stand-in for the trainer: the dataset columns come
    in kwargs, one float per completion comes back into the rewards tensor."""
    trl = pytest.importorskip("trl")
    import torch

    fn = trl_reward(RewardFunction(RewardConfig(shape="outcome+prm"), scorer=eq_scorer()))
    logged = {}
    host = SimpleNamespace(accelerator=SimpleNamespace(device=torch.device("cpu"), is_main_process=True),
                           args=SimpleNamespace(report_to=[]), reward_funcs=[fn], reward_processing_classes=[None],
                           reward_func_names=[fn.__name__], state=SimpleNamespace(global_step=0),
                           _log_completion_extra=lambda c, v: None, _log_metric=lambda k, v: logged.setdefault(k, v),
                           environments=None, chat_template_kwargs={})
    inputs = [{"prompt": "Question: Q\nAnswer:\n", "question": "Q", "answer": "16"}] * 2
    got = trl.GRPOTrainer._calculate_rewards(host, inputs, [i["prompt"] for i in inputs], [GOOD, WRONG], [[1], [2]])
    assert got.shape == (2, 1) and got[:, 0].tolist() == pytest.approx([1.45, 0.05])
    assert "prm/correct" in logged


# ----------------------------------------------------------------------------- veRL
def test_verl_compute_score_contract():
    fn = verl_compute_score(RewardFunction(RewardConfig(shape="outcome+prm"), scorer=eq_scorer()))
    assert list(inspect.signature(fn).parameters)[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    out = fn(data_source="math", solution_str=GOOD, ground_truth="16", extra_info={"question": "Q", "index": 3})
    assert out["score"] == pytest.approx(1.45) and out["acc"] == 1.0
    assert all(isinstance(v, (int, float)) for v in out.values())  # veRL collects every key as a scalar column
    assert fn("math", None, "16")["score"] == 0.0 and fn("math", WRONG, "16", None)["acc"] == 0.0


# ----------------------------------------------------------------------------- OpenRLHF
def test_openrlhf_round_trip_through_json():
    prompts = ["<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n", "Question: Q2\nAnswer:\n", "P3"]
    payload = {"query": ["<s>" + prompts[0] + GOOD + "<|im_end|><|endoftext|>", prompts[1] + WRONG + "</s><pad><pad>",
                         "unrelated text"], "prompts": prompts, "labels": ["16", "16", ""]}
    seen = []
    sc = FakeScorer(lambda q, steps: seen.append((q, steps)) or eq_scorer().fn(q, steps))
    out = json.loads(json.dumps(handle(json.loads(json.dumps(payload)), sc,
                                       config=RewardConfig(shape="outcome+prm"))))
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert out["rewards"][:2] == pytest.approx([1.45, 0.05])
    assert out["scores"][:2] == [1.0, 0.0] and out["extra_logs"]["correct"] == [1.0, 0.0, -1.0]
    assert all(len(v) == 3 for v in out["extra_logs"].values())
    assert seen[0] == ("Q1", DOMAINS["math"].steps(GOOD)) and seen[1][0] == "Question: Q2\nAnswer:"


def test_openrlhf_default_is_the_prm_reward_and_old_clients_work():
    out = handle({"query": ["Q" + GOOD]}, eq_scorer())
    assert out["rewards"] == pytest.approx([0.9]) and out["scores"] == pytest.approx([0.9])
    assert handle({"query": []}, eq_scorer()) == {"rewards": [], "scores": [], "extra_logs":
                                                  {"prm": [], "correct": [], "n_steps": [], "n_filler": []}}


@pytest.mark.parametrize("payload,msg", [
    ([1, 2], "JSON object"), ({}, "'query'"), ({"query": "text"}, "'query'"), ({"query": [1]}, "'query'"),
    ({"query": ["a"], "prompts": ["a", "b"]}, "'prompts'"), ({"query": ["a"], "prompts": [3]}, "'prompts'"),
    ({"query": ["a"], "labels": "x"}, "'labels'"), ({"query": ["a"], "labels": [{"a": 1}]}, "'labels'"),
])
def test_openrlhf_bad_requests(payload, msg):
    with pytest.raises(BadRequest, match=msg):
        handle(payload, eq_scorer())


@pytest.mark.parametrize("query,prompt,response", [
    ("PQ rest", "PQ", " rest"), ("<s>PQ rest</s>", "PQ", " rest"), ("PQ rest<|im_end|>\n<|endoftext|>", "PQ", " rest"),
    ("no prompt here", "PQ", "no prompt here"), ("PQ a <|x|> b", "PQ", " a <|x|> b"), ("PQ", "PQ", ""),
])
def test_split_query(query, prompt, response):
    assert split_query(query, prompt)[0] == response


@pytest.mark.parametrize("prompt,question", [
    ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat?<|im_end|>\n<|im_start|>assistant\n", "What?"),
    ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHow?<|eot_id|><|start_header_id|>assistant"
     "<|end_header_id|>\n\n", "How?"),
    ("<s>plain question</s>", "plain question"), ("", ""), (None, ""),
])
def test_question_of(prompt, question):
    assert question_of(prompt) == question


# ----------------------------------------------------------------------------- a real scorer
def test_reward_with_a_trained_prm_matches_the_scorer(trained_prm_dir):
    from prm.scoring import load_scorer

    scorer = load_scorer(trained_prm_dir, backend="transformers")
    fn = RewardFunction(RewardConfig(shape="prm", aggregation="mean"), scorer=scorer)
    text = "we add the numbers\n\noops a wrong guess\n\nso the total is ten"
    r = fn.reward("Problem 1: add 1 and 2.", text, None)
    direct = scorer.score("Problem 1: add 1 and 2.", DOMAINS["math"].steps(text))
    assert r.step_rewards == pytest.approx(tuple(direct)) and r.score == pytest.approx(sum(direct) / 3)


# ----------------------------------------------------------------------------- drift diagnostics
@pytest.mark.parametrize("after,flags", [
    (dict(accuracy=0.30, proxy=0.50, length=100, steps=4), ["proxy up while accuracy down"]),
    (dict(accuracy=0.45, proxy=0.50, length=100, steps=4), []),
    (dict(accuracy=0.395, proxy=0.50, length=100, steps=4), []),        # within one sample's worth
    (dict(accuracy=0.40, proxy=0.30, length=130, steps=4), ["length up 30%"]),
    (dict(accuracy=0.20, proxy=0.60, length=50, steps=2), ["proxy up while accuracy down", "length down 50%"]),
])
def test_training_drift(after, flags):
    before = dict(accuracy=0.40, proxy=0.40, length=100, steps=4, n=100)
    assert training_drift(before, {**after, "n": 100})["flags"] == flags


# ----------------------------------------------------------------------------- GRPO smoke
def test_grpo_smoke(tmp_path):
    pytest.importorskip("trl")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import grpo_demo
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    import torch

    cfg = replace(grpo_demo.GrpoDemoConfig(), **grpo_demo.SMOKE, out=str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as `prm` and the script do on a shared CPU: spinning OpenMP threads stall it
    try:
        r = grpo_demo.run(cfg, log=lambda *a: None)
    finally:
        torch.set_num_threads(threads)
    assert set(r["settings"]) == {"outcome", "prm", "outcome+prm"}
    for s in r["settings"].values():
        assert len(s["log"]) == cfg.steps and s["after"]["n"] == cfg.eval_problems * cfg.eval_samples
        assert all(math.isfinite(h["reward"]) for h in s["log"]) and "flags" in s["drift"]
    assert json.loads((tmp_path / "results.json").read_text())["before"] == r["before"]


# ----------------------------------------------------------------------------- over HTTP, against `prm serve`
def test_openrlhf_route_and_remote_scorer_over_http():
    """OpenRLHF's POST /get_reward on the serving app, and a RewardFunction whose scorer is a
    RemoteScorer on a live loopback server: the same rewards as in process."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from prm.scoring.remote import RemoteScorer
    from prm.serve import ServeConfig, create_app
    from prm.serve.server import ServerThread

    payload = {"query": ["Question: Q\nAnswer:\n" + GOOD + "</s>", "Question: Q\nAnswer:\n" + WRONG],
               "prompts": ["Question: Q\nAnswer:\n"] * 2, "labels": ["16", "16"]}
    app = create_app(eq_scorer(), ServeConfig(batch_window_ms=0), model_name="eq")
    got = TestClient(app).post("/get_reward", json=payload)
    assert got.status_code == 200 and got.json() == handle(payload, eq_scorer())
    assert TestClient(app).post("/get_reward", json={"query": "x"}).status_code == 400
    cfg = RewardConfig(shape="dense", min_step_chars=4)
    local = RewardFunction(cfg, scorer=eq_scorer()).rewards(["Q", "Q", "Q"], [GOOD, WRONG, ""], ["16", "16", "16"])
    with ServerThread(create_app(eq_scorer(), ServeConfig(batch_window_ms=0), model_name="eq")) as url:
        remote = RewardFunction(cfg, scorer=RemoteScorer(url)).rewards(["Q", "Q", "Q"], [GOOD, WRONG, ""],
                                                                      ["16", "16", "16"])
    for r, want in zip(remote, local):
        assert r.step_rewards == pytest.approx(want.step_rewards, abs=1e-5) and r.step_ends == want.step_ends
    assert [r.score for r in remote] == pytest.approx([r.score for r in local], abs=1e-5)
