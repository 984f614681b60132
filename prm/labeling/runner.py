"""Running a labeler over files: streaming, resumable, with a progress bar and a summary.

    summary = run_labeling("problems.jsonl", "samples.jsonl", "labels.jsonl", label_batch,
                           RunConfig(batch_size=32))

- Streams the samples file in batches of `batch_size`; memory is flat in the number of samples
  (apart from one short id per sample, see inputs.py, and the set of ids already done).
- Resumable: records are appended one per line and flushed each (`JsonlAppender`, which also cuts a
  torn last line left by `kill -9`). On start the `sample_id`s already in the output are skipped,
  so rerunning the same command continues where it stopped: nothing lost, nothing twice. A batch
  interrupted midway is redone whole (its records are written only once it is labeled).
- A resume continues the same job or refuses: the output's fingerprint (`prm.resume`: the two input
  files' contents and `settings`, every option that changes a record) must match this run's.
- The output never replaces an input (`prm.paths.check_paths`), checked before `overwrite` deletes.
- Bad input is never dropped silently: each rejected sample is written with its `file:line` and
  reason to `<out>.rejects.jsonl` (rewritten each run, since each run meets the same bad lines),
  the first few are printed, and the summary counts them by kind.
- The summary describes the whole output file (earlier runs included): records, steps, label
  balance, first errors, cost (rollouts, tokens, verifier calls, seconds), plus this run's counts.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from prm import resume
from prm.labeling.inputs import LabelItem, Reject, count_lines, iter_items, load_problems
from prm.labeling.provenance import Cost
from prm.paths import check_paths
from prm.records import JsonlAppender, StepwiseRecord, done_keys, iter_jsonl

LabelBatch = Callable[[list[LabelItem]], list[StepwiseRecord]]


@dataclass(frozen=True)
class RunConfig:
    batch_size: int = 32            # samples per labeler call (MC: all their prefixes in one engine call)
    domains: tuple[str, ...] = ("math", "code")  # what the labeler can label; others are rejected
    limit: int | None = None        # stop after this many new records
    overwrite: bool = False         # start the output afresh instead of resuming
    fsync: bool = False             # fsync each record (survives power loss, not only kill -9)
    progress: bool = True
    show_rejects: int = 10          # rejected lines printed to stderr (all go to the rejects file)


@dataclass
class RunStats:
    new_records: int = 0
    already_done: int = 0
    rejected: Counter = field(default_factory=Counter)
    cost: Cost = field(default_factory=Cost)
    seconds: float = 0.0


def reject_kind(reason: str) -> str:
    for key, kind in (("unknown problem id", "unknown problem id"),
                      ("cannot be labeled against", "problem without gold/tests"),
                      ("empty solution", "empty solution"), ("not supported by this method", "domain not supported"),
                      ("duplicate sample_id", "duplicate sample_id")):
        if key in reason:
            return kind
    return "malformed sample"


def rejects_path(out_path: str | Path) -> Path:
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".rejects.jsonl")


def run_labeling(problems_path: str | Path, samples_path: str | Path, out_path: str | Path,
                 label_batch: LabelBatch, cfg: RunConfig = RunConfig(), settings: dict | None = None) -> dict:
    """Label every sample not yet in `out_path`. `settings`: the options that change a record (the
    labeler's method and its knobs), kept in the output's resume fingerprint."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    out_path = Path(out_path)
    rej_path = rejects_path(out_path)
    check_paths(inputs={"--problems": problems_path, "--samples": samples_path},
                outputs={"--out": out_path, "--out (rejects file)": rej_path,
                         "--out (resume record)": resume.sidecar(out_path)})
    problems = load_problems(problems_path)
    fp = resume.fingerprint("label", {"--problems": problems_path, "--samples": samples_path}, settings or {})
    if cfg.overwrite:
        resume.discard(out_path)
    resume.begin(out_path, fp)
    done = done_keys(out_path, "sample_id")
    stats = RunStats()
    total = count_lines(samples_path)
    bar = tqdm(total=total, unit="sample", desc="label", disable=not cfg.progress, dynamic_ncols=True)
    rej_path.unlink(missing_ok=True)
    rej = None
    batch: list[LabelItem] = []

    def flush(writer: JsonlAppender) -> None:
        if not batch:
            return
        records = label_batch(batch)
        for rec in records:
            writer.write(rec)
            stats.new_records += 1
            stats.cost.add(Cost.from_dict(rec.extra.get("provenance", {}).get("cost")))
        bar.update(len(batch))
        bar.set_postfix(records=stats.new_records, rollouts=stats.cost.rollouts, rejected=sum(stats.rejected.values()))
        batch.clear()

    def reject(entry: Reject) -> None:
        nonlocal rej
        if rej is None:
            rej = JsonlAppender(rej_path)
        rej.write(entry.to_dict())
        stats.rejected[reject_kind(entry.reason)] += 1
        if sum(stats.rejected.values()) <= cfg.show_rejects:
            tqdm.write(f"skipped {entry.where}: {entry.reason}", file=sys.stderr)
        bar.update(1)
        bar.set_postfix(records=stats.new_records, rollouts=stats.cost.rollouts, rejected=sum(stats.rejected.values()))

    seen: set[str] = set()
    try:
        with JsonlAppender(out_path, fsync=cfg.fsync) as writer:
            for entry in iter_items(samples_path, problems, domains=cfg.domains):
                if cfg.limit is not None and stats.new_records + len(batch) >= cfg.limit:
                    break
                if isinstance(entry, Reject):
                    reject(entry)
                    continue
                if entry.sample_id in seen:
                    entry = Reject(entry.where, f"duplicate sample_id {entry.sample_id!r} (labeled once)",
                                   entry.problem.id)
                    reject(entry)
                    continue
                seen.add(entry.sample_id)
                if entry.sample_id in done:
                    stats.already_done += 1
                    bar.update(1)
                    continue
                batch.append(entry)
                if len(batch) >= cfg.batch_size:
                    flush(writer)
            flush(writer)
    finally:
        bar.close()
        if rej is not None:
            rej.close()
    stats.seconds = time.perf_counter() - t0
    summary = summarize_file(out_path)
    summary["run"] = {"new_records": stats.new_records, "already_done": stats.already_done,
                      "rejected": dict(stats.rejected), "rejects_file": str(rej_path) if stats.rejected else None,
                      "cost": stats.cost.to_dict(), "wall_seconds": round(stats.seconds, 3)}
    return summary


def summarize_records(records) -> dict:
    """Pure: counts over record dicts (streamed; nothing kept per record)."""
    s = {"records": 0, "steps": 0, "labels": Counter(), "soft_sum": 0.0, "first_error": Counter(),
         "outcome": Counter(), "labelers": Counter(), "consensus": Counter(), "cost": Cost()}
    for r in records:
        s["records"] += 1
        labels = r.get("labels") or []
        s["steps"] += len(labels)
        for v in labels:
            if v is None:
                s["labels"]["unlabeled"] += 1
            elif isinstance(v, bool):
                s["labels"]["correct" if v else "incorrect"] += 1
            else:
                s["labels"]["soft"] += 1
                s["soft_sum"] += float(v)
        fe = r.get("first_error")
        s["first_error"]["unknown" if fe is None else "none" if fe == -1 else "found"] += 1
        s["outcome"][str(r.get("outcome"))] += 1
        prov = r.get("provenance") or {}
        s["labelers"][prov.get("labeler", "?")] += 1
        for k, v in (prov.get("consensus") or {}).items():   # consensus labels: steps kept of steps
            s["consensus"][k] += int(v or 0)
        s["cost"].add(Cost.from_dict(prov.get("cost")))
    s["soft_mean"] = s["soft_sum"] / s["labels"]["soft"] if s["labels"]["soft"] else None
    if s["consensus"]:
        s["consensus"] = dict(s["consensus"])
    else:
        del s["consensus"]              # only consensus labelings carry these counts
    for k in ("labels", "first_error", "outcome", "labelers"):
        s[k] = dict(s[k])
    s["cost"] = s["cost"].to_dict()
    del s["soft_sum"]
    return s


def summarize_file(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        return summarize_records([])
    return summarize_records(obj for _, obj in iter_jsonl(path, skip_bad=True))


def format_summary(s: dict, out_path: str | Path | None = None) -> str:
    lab = s["labels"]
    n_lab = sum(v for k, v in lab.items() if k != "unlabeled")
    bal = ", ".join(f"{k} {v}" for k, v in sorted(lab.items()))
    if lab.get("correct") is not None or lab.get("incorrect") is not None:
        hard = lab.get("correct", 0) + lab.get("incorrect", 0)
        bal += f" ({100 * lab.get('correct', 0) / hard:.1f}% correct)" if hard else ""
    if s.get("soft_mean") is not None:
        bal += f" (mean soft label {s['soft_mean']:.3f})"
    c = s["cost"]
    lines = [
        f"records: {s['records']}{f' in {out_path}' if out_path else ''} | steps: {s['steps']} ({n_lab} labeled)",
        f"labels: {bal or 'none'}",
        f"first error: {', '.join(f'{k} {v}' for k, v in sorted(s['first_error'].items())) or 'n/a'} | "
        f"outcome: {', '.join(f'{k} {v}' for k, v in sorted(s['outcome'].items())) or 'n/a'}",
        f"cost: {c['rollouts']} rollouts, {c['prompt_tokens']} prompt + {c['completion_tokens']} completion tokens, "
        f"{c['verifier_calls']} verifier calls, {c['seconds']:.1f} s",
    ]
    if s.get("consensus"):
        from prm.labeling.consensus import format_consensus

        lines.append(format_consensus(s["consensus"]))
    run = s.get("run")
    if run:
        rej = run["rejected"]
        kinds = f" ({', '.join(f'{k} {v}' for k, v in rej.items())})" if rej else ""
        lines.append(f"this run: {run['new_records']} new, {run['already_done']} already done (resumed), "
                     f"{sum(rej.values())} rejected{kinds}, {run['wall_seconds']:.1f} s wall")
        if run.get("rejects_file"):
            lines.append(f"rejected lines with reasons: {run['rejects_file']}")
    return "\n".join(lines)
