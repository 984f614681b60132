"""The stepwise format itself (TRL's `prompt` / `completions` / `labels`, extra columns kept)."""

from __future__ import annotations

from prm.records import StepwiseRecord


def from_row(row: dict, where: str) -> list[StepwiseRecord]:
    return [StepwiseRecord.from_dict(row, where=where)]


def to_row(rec: StepwiseRecord) -> dict:
    return rec.to_dict()
