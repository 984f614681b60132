"""`run_many`: many programs through the sandbox on a thread pool, results in input order.

Threads are enough: each run_tests call only waits on its own sandbox server process, which does
the work; the GIL is released while waiting. One server per worker is started on first use and
reused for later jobs, so the per-program cost is a fork in a warm interpreter.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed

from verifiers.code.result import CodeResult
from verifiers.code.sandbox import run_tests


def _run_one(job: dict) -> CodeResult:
    try:
        return run_tests(**job)
    except (TypeError, ValueError) as e:  # a malformed job is reported in its slot, the batch goes on
        return CodeResult(passed=False, status="sandbox_error", tests=[], reason=f"bad job: {e}")


def run_many(jobs: list[dict], workers: int | None = None, progress: bool = True,
             desc: str = "sandbox") -> list[CodeResult]:
    """Run each job (a dict of run_tests keyword arguments, including `program` and `tests`).

    workers: concurrent runs (default: the number of CPUs). A job whose arguments are malformed
    gets a `sandbox_error` result naming the problem instead of stopping the batch.
    """
    jobs = list(jobs)
    if not jobs:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    results: list[CodeResult | None] = [None] * len(jobs)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=desc, unit="prog")
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prm-sandbox") as pool:
            futures = {pool.submit(_run_one, job): i for i, job in enumerate(jobs)}
            n_passed = 0
            for fut in as_completed(futures):
                result = results[futures[fut]] = fut.result()
                n_passed += result.passed
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(passed=n_passed, refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return results  # type: ignore[return-value]

