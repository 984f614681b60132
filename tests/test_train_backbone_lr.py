"""`--backbone-lr`: the score head at --lr, everything else at its own rate; 0 is a linear probe.

Checked on the saved weights, not on the optimizer object: a frozen backbone comes out byte-equal to
the causal LM it was loaded from while the head moved; a tiny backbone rate moves the backbone by at
most that rate's worth while a full-rate run moves it far more."""

from __future__ import annotations

import pytest
import torch
from fixtures_scoring import first_error_records, write_jsonl

from prm.errors import UserError
from prm.train import TrainConfig, train_rm
from prm.train.trainer import is_head, load_backbone, load_tokenizer


def _weights(d):
    from safetensors.torch import load_file

    return load_file(str(d / "model.safetensors"))


def _initial_head(cfg: TrainConfig):
    # train_rm seeds torch with cfg.seed right before building the model, so the same call here
    # draws the same freshly initialised head
    from transformers import set_seed

    set_seed(cfg.seed)
    return {n: p.detach().clone() for n, p in load_backbone(cfg, load_tokenizer(cfg.model)).named_parameters()
            if is_head(n)}


def _run(tmp_path, model, name, **kw) -> tuple[TrainConfig, dict]:
    data = write_jsonl(tmp_path / "train.jsonl", first_error_records(48))
    cfg = TrainConfig(model=str(model), train_file=str(data), output_dir=str(tmp_path / name), max_steps=6,
                      per_device_train_batch_size=8, save_steps=1000, step_tag="none", **kw)
    return cfg, _weights(train_rm(cfg, progress=False))


@pytest.mark.parametrize("name,want", [
    ("score.weight", True), ("score.bias", True), ("classifier.weight", True),
    ("base_model.model.score.modules_to_save.default.weight", True),
    ("model.layers.0.mlp.down_proj.weight", False), ("model.embed_tokens.weight", False),
    ("model.norm.weight", False), ("scorer_layer.weight", False),
])
def test_is_head_reads_module_names_not_substrings(name, want):
    assert is_head(name) is want


def test_backbone_lr_zero_trains_the_head_only(tmp_path, tiny_lm_dir):
    cfg, after = _run(tmp_path, tiny_lm_dir, "probe", learning_rate=1e-2, backbone_lr=0.0)
    before = _weights(tiny_lm_dir)
    shared = [k for k in after if k in before]
    assert len(shared) > 10                       # the whole backbone is compared, not a few tensors
    for k in shared:
        assert torch.equal(after[k], before[k]), k
    init = _initial_head(cfg)
    assert init and all((after[n] - p).abs().max() > 1e-3 for n, p in init.items())


def test_a_small_backbone_rate_moves_the_backbone_only_that_much(tmp_path, tiny_lm_dir):
    _, slow = _run(tmp_path, tiny_lm_dir, "slow", learning_rate=1e-2, backbone_lr=1e-7)
    _, full = _run(tmp_path, tiny_lm_dir, "full", learning_rate=1e-2)
    before = _weights(tiny_lm_dir)
    moved = {name: max((w[k] - before[k]).abs().max().item() for k in w if k in before)
             for name, w in (("slow", slow), ("full", full))}
    # AdamW moves a weight by about the rate per step: 6 steps at 1e-7 stay under 1e-5
    assert moved["slow"] < 1e-5 < 1e-3 < moved["full"], moved


@pytest.mark.parametrize("kw,msg", [
    (dict(backbone_lr=-1e-4), "backbone_lr must be"),
    (dict(backbone_lr=float("nan")), "backbone_lr must be"),
    (dict(backbone_lr=1e-5, objective="implicit"), "implicit"),
    (dict(backbone_lr=1e-5, lora_r=4), "LoRA"),
])
def test_backbone_lr_settings_that_cannot_work_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(model="m", train_file="t", output_dir="o", **kw)


def test_freezing_a_backbone_that_needs_a_new_step_tag_is_a_user_error(tmp_path, synth_dir):
    # the synthetic tokenizer merges "\n\n" with text, so `auto` adds a tag whose embedding is new
    cfg = TrainConfig(model=str(synth_dir / "lm"), train_file=str(synth_dir / "train.jsonl"),
                      output_dir=str(tmp_path / "o"), backbone_lr=0.0, max_steps=1)
    with pytest.raises(UserError, match="--backbone-lr 0 freezes the embeddings"):
        train_rm(cfg, progress=False)


def test_cli_flag_reaches_the_config_and_rejects_negatives(capsys):
    import argparse

    from prm.commands.train import add_arguments, config_from_args

    p = argparse.ArgumentParser()
    add_arguments(p)
    base = ["--model", "m", "--train", "t", "--out", "o"]
    assert config_from_args(p.parse_args(base)).backbone_lr is None
    assert config_from_args(p.parse_args(base + ["--backbone-lr", "0"])).backbone_lr == 0.0
    assert config_from_args(p.parse_args(base + ["--backbone-lr", "3e-5"])).backbone_lr == 3e-5
    with pytest.raises(SystemExit) as e:
        p.parse_args(base + ["--backbone-lr", "-1"])
    assert e.value.code == 2 and "--backbone-lr" in capsys.readouterr().err


# ----------------------------------------------------------------------------- --best-on-eval / --early-stopping
def _flipped(tmp_path, tiny_lm_dir, name, **kw):
    """Train labels say "we add" steps are right and "oops" steps wrong; the eval file says the opposite,
    so training soon raises the held-out loss: the best checkpoint is an early one, never the last."""
    A, B = "we add the numbers", "oops a wrong guess"

    def rows(n, flip, off):
        return [{"prompt": f"Problem {off + i}:", "completions": [A, B], "labels": [not flip, flip]} for i in range(n)]
    train = write_jsonl(tmp_path / "tr.jsonl", rows(64, False, 0))
    ev = write_jsonl(tmp_path / "ev.jsonl", rows(16, True, 1000))
    cfg = TrainConfig(model=str(tiny_lm_dir), train_file=str(train), eval_file=str(ev), output_dir=str(tmp_path / name),
                      max_steps=8, eval_steps=2, learning_rate=3e-3, per_device_train_batch_size=8, step_tag="none",
                      logging_steps=1, **kw)
    out = train_rm(cfg, progress=False)
    import json

    return json.loads((out / "train_report.json").read_text())


def test_best_on_eval_saves_the_checkpoint_with_the_lowest_held_out_loss(tmp_path, tiny_lm_dir):
    rep = _flipped(tmp_path, tiny_lm_dir, "best", best_on_eval=True)
    evals = [(h["step"], h["eval_loss"]) for h in rep["log_history"] if "eval_loss" in h]
    by_step = dict(evals[:-1])                        # the last entry is the final evaluate() of the saved model
    assert sorted(by_step) == [2, 4, 6, 8]
    best_step = min(by_step, key=by_step.get)
    assert rep["best"]["step"] == best_step < 8 and by_step[8] > by_step[best_step]
    # the saved weights are the best step's: evaluating them again gives that step's loss, not the last one's
    assert rep["eval"]["eval_loss"] == pytest.approx(by_step[best_step], rel=1e-5)


def test_early_stopping_ends_the_run_when_the_held_out_loss_stops_falling(tmp_path, tiny_lm_dir):
    rep = _flipped(tmp_path, tiny_lm_dir, "stop", early_stopping=1)
    steps = [h["step"] for h in rep["log_history"] if "loss" in h and "eval_loss" not in h]
    evals = dict((h["step"], h["eval_loss"]) for h in rep["log_history"] if "eval_loss" in h)
    best = rep["best"]["step"]
    # patience 1: the first evaluation after the best that is not lower ends the run, before step 8
    assert max(steps) == best + 2 < 8 and evals[best + 2] >= evals[best]


def test_last_checkpoint_is_kept_without_best_on_eval(tmp_path, tiny_lm_dir):
    rep = _flipped(tmp_path, tiny_lm_dir, "last")
    evals = [(h["step"], h["eval_loss"]) for h in rep["log_history"] if "eval_loss" in h]
    assert rep["best"] is None and rep["eval"]["eval_loss"] == pytest.approx(dict(evals[:-1])[8], rel=1e-5)


@pytest.mark.parametrize("kw,msg", [
    (dict(best_on_eval=True), "need an eval file"),
    (dict(early_stopping=2), "need an eval file"),
    (dict(early_stopping=-1, eval_file="e"), "early_stopping must be"),
])
def test_best_on_eval_settings_that_cannot_work_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(model="m", train_file="t", output_dir="o", **kw)


@pytest.mark.parametrize("kw,strategy,steps", [
    (dict(best_on_eval=True, eval_steps=25), "steps", 25),
    (dict(early_stopping=3, eval_steps=10), "steps", 10),
    (dict(best_on_eval=True), "epoch", None),
])
def test_best_on_eval_saves_at_every_evaluation(kw, strategy, steps):
    args = TrainConfig(model="m", train_file="t", output_dir="o", eval_file="e", **kw).training_arguments("ck", True)
    assert args.load_best_model_at_end and args.metric_for_best_model == "eval_loss" and not args.greater_is_better
    assert str(args.save_strategy.value if hasattr(args.save_strategy, "value") else args.save_strategy) == strategy
    assert str(args.eval_strategy.value if hasattr(args.eval_strategy, "value") else args.eval_strategy) == strategy
    if steps:
        assert args.save_steps == args.eval_steps == steps
