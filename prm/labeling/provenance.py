"""What a label cost and where it came from: `Cost` counters and the `provenance` column.

Every labeled record carries a `provenance` dict so a PRM trained on it can be traced back:

    {"labeler": "mc", "toolkit": "0.1.0", "settings": {"k": 8, "label": "hard", ...},
     "verifier": {"name": "verifiers.math.grade", "version": "..."},
     "sampler": {"model": "...", "backend": "vllm", "temperature": 0.7, ...} | None,
     "cost": {"rollouts": 56, "prompt_tokens": ..., "completion_tokens": ...,
              "verifier_calls": 57, "seconds": 1.9}}

`cost.seconds` of one record is its share of a batch's wall time: generation time is split by the
record's share of the batch's rollouts (records without rollouts share the rest evenly), because
one engine call serves many records and cannot be timed per record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import prm


@dataclass
class Cost:
    rollouts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    verifier_calls: int = 0
    seconds: float = 0.0

    def add(self, other: "Cost") -> "Cost":
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["seconds"] = round(d["seconds"], 4)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "Cost":
        d = d or {}
        return cls(**{f.name: d.get(f.name, 0) or 0 for f in fields(cls)})


def verifier_info(domain: str, what: str | None = None) -> dict:
    """Name and version of the verifier used (`what`: its function; None: the domain's judge)."""
    from prm.domains import DOMAINS

    return DOMAINS[domain].verifier_info(what)


def sampler_info(sampler: Any, params: Any) -> dict | None:
    """The sampler's model and backend and the sampling settings used for rollouts."""
    if sampler is None:
        return None
    # prm.sampler keeps the model path in `cfg.model` (its `model` attribute may be the loaded network)
    model = getattr(getattr(sampler, "cfg", None), "model", None)
    if model is None and isinstance(getattr(sampler, "model", None), str):
        model = sampler.model
    info = {"model": model, "backend": getattr(sampler, "backend", None)}
    for name in ("n", "temperature", "top_p", "max_tokens", "stop", "seed"):
        if hasattr(params, name):
            v = getattr(params, name)
            info[name] = list(v) if isinstance(v, tuple) else v
    return info


def make_provenance(labeler: str, settings: dict, verifier: dict, cost: Cost,
                    sampler: dict | None = None) -> dict:
    return {"labeler": labeler, "toolkit": prm.__version__, "settings": dict(settings),
            "verifier": verifier, "sampler": sampler, "cost": cost.to_dict()}


def apportion_seconds(costs: list[Cost], seconds: float) -> None:
    """Spread one batch's wall time over its records by their share of rollouts (evenly if none)."""
    if not costs:
        return
    total = sum(c.rollouts for c in costs)
    for c in costs:
        c.seconds += seconds * (c.rollouts / total if total else 1 / len(costs))
