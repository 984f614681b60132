"""Request batching: concurrent requests coalesced into one `score_batch` call on one worker thread.

    batcher = Batcher(scorer.score_batch, window_s=0.005, max_items=512, max_queue=256)
    fut = batcher.submit([(prompt, steps), ...])     # concurrent.futures.Future -> list of step scores
    batcher.close()                                  # refuse new work, finish what is queued, stop

Why: the transformers scorer runs one padded forward pass per length batch, so 16 requests of 4
inputs cost about what one request of 64 costs; scoring them one by one wastes most of the pass.
The worker takes the first waiting request, then gathers more for up to `window_s` (or until
`max_items` inputs), scores them in ONE call and hands each request its own slice back, in order.
A request is never split across calls. While a call runs, new requests queue up and form the next
batch, so under load the window costs nothing; idle, it adds `window_s` to a lone request.

One thread owns the scorer: neither a torch model nor a `vllm.LLM` is safe to call from two threads,
so every caller (the HTTP routes, the OpenRLHF handler through `QueuedScorer`) goes through here.
vLLM: the synchronous `LLM` runs behind this same batcher; on a GPU vLLM's async engine (which
schedules requests itself, continuous batching) would be the better engine, not built yet.

Bounded: at most `max_queue` requests wait; `submit` raises `QueueFull` beyond (the app answers 503
with Retry-After) rather than letting latency grow without bound. A request whose caller went away
(its future cancelled before the call started) is dropped from the batch. A scorer exception in a
call of several requests is retried one request per call, so it fails only the request whose input
raises, not the other clients' requests that happened to share its batch (issue 27); the worker
goes on with the next batch.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable

Item = tuple[str, list[str]]
_STOP = object()


class QueueFull(Exception):
    """Too many requests waiting: retry later."""


class Closed(Exception):
    """The server is shutting down: no new work is taken."""


class Batcher:
    def __init__(self, score_batch: Callable[[list[Item]], list[list[float]]], *, window_s: float = 0.005,
                 max_items: int = 512, max_queue: int = 256):
        self.score_batch, self.window_s, self.max_items = score_batch, window_s, max_items
        self._q: queue.Queue = queue.Queue(maxsize=max_queue)
        self._closed = threading.Event()
        self._submit_lock = threading.Lock()   # close() vs submit(): nothing enters after the stop mark
        self.stats = {"requests": 0, "calls": 0, "items": 0, "largest_call": 0, "rejected": 0, "isolated": 0}
        self._thread = threading.Thread(target=self._loop, name="prm-serve-batcher", daemon=True)
        self._thread.start()

    def submit(self, items: list[Item]) -> Future:
        fut: Future = Future()
        if not items:
            fut.set_result([])
            return fut
        with self._submit_lock:
            if self._closed.is_set():
                raise Closed("the server is shutting down")
            try:
                self._q.put_nowait((list(items), fut))
            except queue.Full:
                self.stats["rejected"] += 1
                raise QueueFull(f"{self._q.maxsize} requests already waiting") from None
        return fut

    def _gather(self, first) -> tuple[list, object | None, bool]:
        """The batch that starts with `first`; the request that did not fit (next batch's first); stop."""
        batch, n = [first], len(first[0])
        deadline = time.monotonic() + self.window_s
        while n < self.max_items:
            left = deadline - time.monotonic()
            try:
                nxt = self._q.get(timeout=left) if left > 0 else self._q.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return batch, None, True
            if n + len(nxt[0]) > self.max_items:
                return batch, nxt, False
            batch.append(nxt)
            n += len(nxt[0])
        return batch, None, False

    def _run(self, batch) -> None:
        live = [(items, fut) for items, fut in batch if fut.set_running_or_notify_cancel()]
        if not live:
            return
        flat = [it for items, _ in live for it in items]
        try:
            scores = self._call(flat)
        except BaseException as err:  # noqa: BLE001 - handed to the waiting request(s); the worker lives on
            if len(live) == 1:
                live[0][1].set_exception(err)
                return
            for items, fut in live:   # which request's input raised? each alone, so only it fails
                try:
                    fut.set_result(self._call(items))
                except BaseException as one:  # noqa: BLE001
                    fut.set_exception(one)
            self.stats["isolated"] += 1   # batches retried request by request
            return
        self.stats["calls"] += 1
        self.stats["requests"] += len(live)
        self.stats["items"] += len(flat)
        self.stats["largest_call"] = max(self.stats["largest_call"], len(flat))
        k = 0
        for items, fut in live:
            fut.set_result(scores[k:k + len(items)])
            k += len(items)

    def _call(self, items: list[Item]) -> list[list[float]]:
        scores = self.score_batch(items)
        if len(scores) != len(items):
            raise RuntimeError(f"the scorer returned {len(scores)} results for {len(items)} inputs")
        return scores

    def _loop(self) -> None:
        carried = None
        while True:
            first = carried if carried is not None else self._q.get()
            if first is _STOP:
                return
            batch, carried, stop = self._gather(first)
            self._run(batch)
            if stop:
                if carried is not None:
                    self._run([carried])
                return

    def close(self, timeout: float | None = 60.0) -> None:
        """Refuse new requests, score the ones already queued, stop the worker. Idempotent."""
        with self._submit_lock:
            if self._closed.is_set():
                return
            self._closed.set()
        self._q.put(_STOP)          # after every accepted request: the queue is FIFO
        self._thread.join(timeout)

    @property
    def waiting(self) -> int:
        return self._q.qsize()


class QueuedScorer:
    """A `ScorerLike` view of a scorer whose every call goes through the batcher (for code that wants
    a scorer, such as the OpenRLHF reward handler, running beside the HTTP routes). Blocking."""

    def __init__(self, scorer, batcher: Batcher):
        self._scorer, self._batcher = scorer, batcher
        self.backend, self.kind = scorer.backend, scorer.kind
        self.sep = getattr(scorer, "sep", None)
        self.step_tag = getattr(scorer, "step_tag", None)
        self.stats = getattr(scorer, "stats", {})
        self.tokenizer = _own_copy(getattr(scorer, "tokenizer", None))   # cost accounting (prm.search.cost)

    def score(self, question: str, steps: list[str]) -> list[float]:
        return self.score_batch([(question, steps)])[0]

    def score_batch(self, items: list[Item], *, progress: bool = False) -> list[list[float]]:
        return self._batcher.submit(list(items)).result()

    def close(self) -> None:
        pass  # the server owns the scorer


def _own_copy(tokenizer):
    """A copy of the scorer's tokenizer for the caller's thread: a fast tokenizer whose settings the
    scoring thread changes (truncation, padding) raises "Already borrowed" when another thread
    encodes with it at the same moment. None when there is none or it cannot be copied."""
    if tokenizer is None:
        return None
    import copy

    try:
        return copy.deepcopy(tokenizer)
    except Exception:  # noqa: BLE001 - accounting then counts words, never stops the server
        return None
