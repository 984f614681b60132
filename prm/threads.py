"""Torch threads for CPU work: one rule, applied by `prm.cli.main` before any command imports torch.

Why: PyTorch's default is one OpenMP thread per core, and OpenMP threads wait for each other at the
end of every parallel region. When another process holds one of those cores, each region waits for
a thread that is not running, so a step takes many times longer instead of about twice as long.
Measured by `scripts/bench/bench_threads.py` (a policy-sized training step, 2 cores that other users
kept at load ~5, so noisy): torch's default 2 threads 3.1 s per step, this rule's 1 thread 0.31 s;
beside one more busy process 7.3 s vs 0.63 s. The models the toolkit trains and runs on a CPU are
small, so one thread per *free* core loses little when the machine is idle and nothing when it is not.

The rule (`choose`):
1. `PRM_THREADS=N` (a positive integer) wins;
2. else an `OMP_NUM_THREADS` the user set is kept (the user already chose);
3. else the cores this process may use (CPU affinity, and the cgroup quota when there is one)
   minus the load other processes put on them now (1-minute load average, rounded), at least 1.

`apply` sets OMP_NUM_THREADS and MKL_NUM_THREADS, so processes the command starts inherit the same
count, and calls `torch.set_num_threads` when torch is already imported. It also sets
OMP_WAIT_POLICY=PASSIVE (unless the user set it): a thread that waits sleeps instead of spinning, so
a neighbour that starts after the count was chosen slows a step down in proportion, not tenfold
(same benchmark: 2 passive threads 0.41 s per step, 0.75 s beside a busy process, against 3.1 s and
7.3 s spinning). OpenMP reads both variables once, when torch is first imported: hence before any
command.
"""

from __future__ import annotations

import math
import os
import sys

ENV = "PRM_THREADS"


def usable_cpus() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 quota if one is set."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no affinity call
        n = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def choose(env: dict | None = None, cpus: int | None = None, load: float | None = None) -> tuple[int, str]:
    """(threads, why) by the module docstring's rule; pure when `env`, `cpus` and `load` are given."""
    env = os.environ if env is None else env
    if env.get(ENV, "").strip():
        value = env[ENV].strip()
        if not value.isdigit() or int(value) < 1:
            from prm.errors import UserError

            raise UserError(f"{ENV}={value!r}: expected a positive integer (torch threads)")
        return int(value), f"{ENV}={value}"
    if env.get("OMP_NUM_THREADS", "").strip().isdigit() and int(env["OMP_NUM_THREADS"]) >= 1:
        return int(env["OMP_NUM_THREADS"]), f"OMP_NUM_THREADS={env['OMP_NUM_THREADS'].strip()}"
    cpus = usable_cpus() if cpus is None else cpus
    load = os.getloadavg()[0] if load is None else load
    free = max(1, min(cpus, cpus - round(load)))
    return free, f"{cpus} cores, load {load:.1f}: {free} free"


def apply(env: dict | None = None) -> tuple[int, str]:
    """Choose, then make it so for this process and the ones it starts; returns `choose`'s answer."""
    n, why = choose(env)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch = sys.modules.get("torch")
    if torch is not None:  # imported before us (a library caller): OpenMP has read the old value already
        torch.set_num_threads(n)
    return n, why
