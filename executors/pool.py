"""What every executor here shares: a pool of threads, one per running trial, and a shutdown
that first stops the running trials (how is each executor's own ``_cancel_running``)."""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tuner.errors import SpecError
from tuner.executor import Executor, StopListener, TrialJob, TrialOutcome


def check_positive_int(options: Mapping[str, Any], key: str) -> None:
    """Refuse ``options[key]`` unless it is absent, None or a positive integer."""
    value = options.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise SpecError(key, "must be a positive integer")


class PooledExecutor(Executor):
    """An executor whose ``_run(job)`` runs a job to its outcome on a pool thread."""

    def _start_pool(self, workers: int, name: str) -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"tuner-{name}")
        self._lock = threading.Lock()
        self._cancelling = False

    @property
    def capacity(self) -> int:
        return self._workers

    def submit(self, job: TrialJob, listener: StopListener | None = None) -> Future[TrialOutcome]:
        return self._pool.submit(self._run, job, listener)

    def shutdown(self, cancel_running: bool = False) -> None:
        if cancel_running:
            with self._lock:
                self._cancelling = True
            self._cancel_running()
        self._pool.shutdown(wait=True, cancel_futures=cancel_running)
        self._close()

    @abstractmethod
    def _run(self, job: TrialJob, listener: StopListener | None) -> TrialOutcome:
        """Run ``job`` to its outcome (on a pool thread), never raising; ``listener`` hears its
        intermediate values as they come."""

    @abstractmethod
    def _cancel_running(self) -> None:
        """Stop every running trial (``_cancelling`` is already set)."""

    def _close(self) -> None:
        """Release what the executor holds once its pool is done (nothing by default)."""
