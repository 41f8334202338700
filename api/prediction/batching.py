"""Adaptive batching of concurrent small requests: requests for the same served version that
arrive within ``wait`` seconds of the first are scored in one model call, up to ``cap`` rows
(a request of ``cap`` rows or more is scored alone, at once). ``cap`` of 1 turns it off.

Each request's rows were parsed and checked on their own before they join a batch (presence
and type; for a model of numbers, finiteness too), so a malformed request never reaches the
others. The checks made while scoring (an unknown category, which the signature checks as it
builds the model's frame) can refuse the merged call: then every request of the batch is scored
alone, and only the one with the bad row fails, naming its own row.

One policy, two ways to wait: ``AsyncBatcher`` for the REST routes (on the event loop: the
first request arms a timer, the others await their future) and ``ThreadBatcher`` for gRPC's
thread pool (the first thread leads: it waits for the others, scores, and hands out answers).
Both score with ``score_together``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuner.api.prediction.rows import Batch

if TYPE_CHECKING:
    import numpy as np

    from tuner.api.prediction.served import LoadedVersion


@dataclass(frozen=True)
class BatchPolicy:
    """``wait``: seconds the first request of a batch waits for others (0: only those that
    arrived together); ``cap``: the most rows in one batch (1: no batching)."""

    wait: float = 0.0
    cap: int = 1

    @property
    def on(self) -> bool:
        return self.cap > 1

    def joins(self, batch: Batch) -> bool:
        """Whether a request of ``batch`` waits for company (a large one is scored at once)."""
        return self.cap > 1 and batch.size < self.cap


def merge(batches: list[Batch]) -> Batch:
    """The rows of ``batches`` one after the other, as one batch."""
    import numpy as np

    names = list(batches[0].columns)
    columns = {n: np.concatenate([b.columns[n] for b in batches]) for n in names}
    matrices = [b.matrix for b in batches]
    matrix: np.ndarray | None = None
    if all(m is not None for m in matrices):
        matrix = np.concatenate(matrices)  # type: ignore[arg-type]
    return Batch(columns, sum(b.size for b in batches), matrix)


def score_together(loaded: LoadedVersion, batches: list[Batch]) -> list[Any]:
    """Each batch's predictions (an array) or its error (an exception), in order: one model
    call for all of them; if that call fails, one call per batch, so a bad row fails only the
    request that sent it."""
    if len(batches) > 1:
        try:
            merged = loaded.predict(merge(batches))
        except Exception:  # a row of one request refused: find whose, below
            pass
        else:
            out, at = [], 0
            for b in batches:
                out.append(merged[at : at + b.size])
                at += b.size
            return out
    results: list[Any] = []
    for b in batches:
        try:
            results.append(loaded.predict(b))
        except Exception as exc:  # delivered to its own request
            results.append(exc)
    return results


@dataclass
class _Group:
    """Requests waiting to be scored together on ``loaded``."""

    loaded: LoadedVersion
    batches: list[Batch] = field(default_factory=list)
    waiters: list[Any] = field(default_factory=list)
    rows: int = 0
    timer: Any = None

    def add(self, batch: Batch, waiter: Any) -> None:
        self.batches.append(batch)
        self.waiters.append(waiter)
        self.rows += batch.size


Counted = Callable[[str, int], None]  # (model, requests in one model call)


class AsyncBatcher:
    """Batches the requests of one event loop (the REST routes); ``counted`` hears the number
    of requests of every batched model call."""

    def __init__(self, policy: BatchPolicy, counted: Counted | None = None) -> None:
        self.policy = policy
        self.counted = counted
        self._pending: dict[int, _Group] = {}

    async def predict(self, loaded: LoadedVersion, batch: Batch) -> np.ndarray:
        if not self.policy.joins(batch):
            return loaded.predict(batch)
        loop = asyncio.get_running_loop()
        key = id(loaded)  # the group holds ``loaded``: its id is not reused meanwhile
        group = self._pending.get(key)
        if group is None:
            group = self._pending[key] = _Group(loaded)
            if self.policy.wait > 0:
                group.timer = loop.call_later(self.policy.wait, self._flush, key, group)
            else:
                group.timer = loop.call_soon(self._flush, key, group)
        future: asyncio.Future[Any] = loop.create_future()
        group.add(batch, future)
        if group.rows >= self.policy.cap:
            group.timer.cancel()
            self._flush(key, group)
        result = await future
        return result  # type: ignore[no-any-return]

    def _flush(self, key: int, group: _Group) -> None:
        if self._pending.get(key) is group:
            del self._pending[key]
        if self.counted is not None:
            self.counted(group.loaded.version.model, len(group.batches))
        for future, result in zip(
            group.waiters, score_together(group.loaded, group.batches), strict=True
        ):
            if future.done():  # its request was cancelled (the client went away)
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


class _Slot:
    __slots__ = ("done", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None


class ThreadBatcher:
    """Batches the requests of a thread pool (gRPC): the first thread of a group leads."""

    def __init__(self, policy: BatchPolicy, counted: Counted | None = None) -> None:
        self.policy = policy
        self.counted = counted
        self._lock = threading.Lock()
        self._pending: dict[int, _Group] = {}

    def predict(self, loaded: LoadedVersion, batch: Batch) -> np.ndarray:
        if not self.policy.joins(batch):
            return loaded.predict(batch)
        key = id(loaded)
        slot = _Slot()
        with self._lock:
            group = self._pending.get(key)
            leader = group is None
            if group is None:
                group = self._pending[key] = _Group(loaded, timer=threading.Event())
            group.add(batch, slot)
            if group.rows >= self.policy.cap:
                del self._pending[key]  # full: later requests start a new group
                group.timer.set()
        if leader:
            group.timer.wait(self.policy.wait)
            with self._lock:
                if self._pending.get(key) is group:
                    del self._pending[key]
            if self.counted is not None:
                self.counted(loaded.version.model, len(group.batches))
            results = score_together(loaded, group.batches)
            for waiting, result in zip(group.waiters, results, strict=True):
                waiting.result = result
                waiting.done.set()
        else:
            slot.done.wait()
        if isinstance(slot.result, BaseException):
            raise slot.result
        return slot.result  # type: ignore[no-any-return]
