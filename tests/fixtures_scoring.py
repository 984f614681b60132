"""Fixtures for training and scoring tests: a learnable synthetic labeling, a tiny trained PRM, and
one vLLM pooling engine per session.

Synthetic labeling ("first error"): each step is drawn from GOOD or BAD phrases; a step is correct
iff no BAD step occurred at or before it. A step after an error carries no BAD phrase itself, so the
model must look back across steps: it is learnable by a causal tiny Llama, and far above chance only
if labels sit on the right tokens.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

GOOD = ["we add the numbers", "we carry the one", "so the total is ten", "check the sum again",
        "write the digits in a row"]
BAD = ["oops a wrong guess", "we skip a digit badly"]


def first_error_record(i: int, rng: random.Random, p_bad: float = 0.3) -> dict:
    steps, labels, bad = [], [], False
    for _ in range(rng.randint(2, 5)):
        if rng.random() < p_bad:
            steps.append(rng.choice(BAD))
            bad = True
        else:
            steps.append(rng.choice(GOOD))
        labels.append(not bad)
    return {"prompt": f"Problem {i}: add {i} and {i + 1}.", "completions": steps, "labels": labels,
            "problem_id": str(i % 40)}


def first_error_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [first_error_record(i, rng) for i in range(n)]


def texts_for(records: list[dict]) -> list[str]:
    return [r["prompt"] + "\n\n" + "\n\n".join(r["completions"]) + "\n\n" for r in records]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    """train.jsonl / eval.jsonl of the first-error labeling + a tiny causal LM (BPE merging across
    whitespace, so step boundaries fall inside tokens) in one folder."""
    from prm.tiny import TinyConfig, build_tiny_causal_lm

    d = tmp_path_factory.mktemp("synth")
    recs = first_error_records(360)
    write_jsonl(d / "train.jsonl", recs[:300])
    write_jsonl(d / "eval.jsonl", recs[300:])
    build_tiny_causal_lm(d / "lm", texts_for(recs), TinyConfig(regex_pretokenize=False))
    return d


@pytest.fixture(scope="session")
def trained_prm_dir(synth_dir, tmp_path_factory) -> Path:
    """A tiny PRM trained on the first-error labeling (~10 s on 2 CPU cores)."""
    from prm.train import TrainConfig, train_rm

    out = tmp_path_factory.mktemp("prm") / "model"
    return train_rm(TrainConfig(model=str(synth_dir / "lm"), train_file=str(synth_dir / "train.jsonl"),
                                eval_file=str(synth_dir / "eval.jsonl"), output_dir=str(out),
                                learning_rate=3e-3, num_train_epochs=2, per_device_train_batch_size=16,
                                logging_steps=2, save_steps=1000), progress=False)


@pytest.fixture(scope="session")
def vllm_scorer(trained_prm_dir):
    """One vLLM pooling engine for the whole session (start-up ~30-60 s on CPU)."""
    pytest.importorskip("vllm")
    from prm.scoring import load_scorer

    scorer = load_scorer(trained_prm_dir, backend="vllm", gpu_memory_utilization=0.3)
    yield scorer
    scorer.close()
