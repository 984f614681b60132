"""A `RewardFunction` in the shape each trainer calls: TRL's GRPOTrainer and veRL's custom reward.
(OpenRLHF's remote reward-model protocol is an HTTP handler: `prm/rewards/openrlhf.py`.)

TRL (checked against trl 1.13's `GRPOTrainer._calculate_rewards`, which calls
`reward_func(prompts=..., completions=..., completion_ids=..., **reward_kwargs)` where reward_kwargs
holds every dataset column except "prompt" / "completion" / "completion_ids", repeated per
generation, plus `trainer_state`, `log_extra`, `log_metric`):

    from trl import GRPOTrainer
    reward = trl_reward(RewardFunction(cfg, scorer=scorer))   # dataset columns "question" and "answer"
    GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=ds, ...)

Prompts and completions are plain text, or conversational (lists of {"role", "content"} messages;
content may be a string or a list of {"type": "text", "text"} parts). What the PRM sees as the
question: the dataset's `question_column` when the dataset has it (a PRM is trained on the plain
question, not the policy's templated prompt), else the last user message / the prompt text. The gold
answer: `answer_column`. The function never returns None (TRL would exclude the sample): every
completion gets a number. With `log_metric`, the batch's mean PRM value, accuracy and filler-step
fraction are logged beside TRL's own metrics (as `prm/<name>`).

veRL (by its documented contract, `verl/workers/reward_manager/naive.py`: `compute_score(
data_source=, solution_str=, ground_truth=, extra_info=)` per response; a dict's "score" is the
reward, placed on the last response token, and every other key is collected into
`reward_extra_info`, so only scalars are returned):

    # my_reward.py, given to veRL as custom_reward_function.path=my_reward.py (name: compute_score)
    compute_score = verl_compute_score(RewardFunction(cfg, scorer=load_scorer("prm-out")))

The question comes from `extra_info["question"]` (veRL's own math preprocessing scripts store it
there), else "". veRL scores one response per call; a remote scorer (`prm serve`) batches across
calls on the server side.

Both take one number per completion: with the "dense" shape they get its return (the sum of the step
rewards). The per-step rewards and their character offsets (`RewardFunction.rewards`) are for a
trainer that places rewards on its own tokens.
"""

from __future__ import annotations

from typing import Any, Callable

from prm.rewards.reward import RewardFunction

LOGGED = ("prm", "correct", "filler")


def message_text(x: Any, role: str | None = None) -> str | None:
    """The text of a plain string, or of a conversation: the last message with `role` (any role when
    None), its content joined when it is a list of text parts. None when there is no such text."""
    if isinstance(x, str):
        return x
    if not isinstance(x, (list, tuple)):
        return None
    for m in reversed(x):
        if isinstance(m, dict) and (role is None or m.get("role") == role):
            content = m.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
            return None
    return None


def completion_text(c: Any) -> Any:
    """A TRL completion as text: a string as is, a conversation's assistant turns joined (a tool call
    turn has no text and adds nothing). Anything else is passed on as is (the reward gives its value)."""
    if isinstance(c, (list, tuple)):
        parts = [message_text([m], "assistant") for m in c if isinstance(m, dict)]
        return "".join(p for p in parts if p)
    return c


def trl_reward(fn: RewardFunction, *, question_column: str = "question", answer_column: str = "answer",
               name: str | None = None) -> Callable[..., list[float]]:
    """A TRL `reward_funcs` entry: `(prompts, completions, **kwargs) -> list[float]`."""

    def reward(prompts, completions, completion_ids=None, **kwargs) -> list[float]:
        n = len(completions)
        cols = kwargs.get(question_column)
        questions = [cols[i] if cols is not None and isinstance(cols[i], str)
                     else (message_text(prompts[i], "user") or "") for i in range(n)]
        golds = kwargs.get(answer_column)
        got = fn.rewards(questions, [completion_text(c) for c in completions],
                         list(golds) if golds is not None else None)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and got:
            for key, value in batch_stats(got).items():
                if value is not None:
                    log_metric(f"prm/{key}", value)
        return [float(r.score) for r in got]

    reward.__name__ = name or f"reward_{fn.config.shape.replace('+', '_')}"
    return reward


def batch_stats(rewards) -> dict:
    """Mean PRM value, accuracy (among judged) and filler-step fraction of a batch of `Reward`s."""
    prm = [r.prm for r in rewards if r.prm is not None]
    judged = [r.correct for r in rewards if r.correct is not None]
    steps = sum(r.n_steps for r in rewards)
    return {"prm": sum(prm) / len(prm) if prm else None,
            "correct": sum(judged) / len(judged) if judged else None,
            "filler": sum(r.n_filler for r in rewards) / steps if steps else None}


def verl_compute_score(fn: RewardFunction) -> Callable[..., dict]:
    """veRL's `compute_score(data_source, solution_str, ground_truth, extra_info=None) -> dict`."""

    def compute_score(data_source=None, solution_str=None, ground_truth=None, extra_info=None, **kwargs) -> dict:
        question = extra_info.get("question") if isinstance(extra_info, dict) else None
        r = fn.reward(question if isinstance(question, str) else "", solution_str, ground_truth)
        return {"score": float(r.score), "acc": float(r.correct is True),
                "prm": float(r.prm) if r.prm is not None else 0.0,
                "n_steps": r.n_steps, "n_filler": r.n_filler}

    return compute_score
