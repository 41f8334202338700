"""The Spark executor: trials that use Spark, sharing one SparkSession on one cluster.

Each trial runs in a trial process of its own (``executors.trial_process``) that attaches to
the executor's SparkContext and gets it as ``trial.spark``; its jobs form a job group in a FAIR
scheduler pool of their own, so concurrent trials share the cluster and a timeout or a
cancellation ends one trial (its process group and its Spark jobs) and no other.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from tuner.errors import SpecError
from tuner.executor import StopListener, TrialJob, TrialOutcome
from tuner.executors.pool import PooledExecutor, check_positive_int

_CANCELLED = "cancelled: the executor shut down"
_ids = itertools.count()


class SparkExecutor(PooledExecutor):
    """Runs up to ``parallelism`` trials at once against Spark ``master`` (default
    ``local[*]``); a SparkSession already active in this process is reused and left running."""

    name = "spark"
    provides = frozenset({"spark"})

    def __init__(self, *, master: str | None = None, parallelism: int | None = None) -> None:
        from pyspark import SparkContext

        from tuner.executors.spark_session import start_session

        self.check_options({"master": master, "parallelism": parallelism})
        self._owns_session = SparkContext._active_spark_context is None
        self.session = start_session(master or "local[*]")
        self._start_pool(parallelism or 2, "spark")
        self._running: dict[str, Any] = {}  # job group -> TrialProcess
        self._prefix = f"tuner-{id(self):x}-{next(_ids)}"

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        super().check_options(options)
        master = options.get("master")
        if master is not None and (not isinstance(master, str) or not master):
            raise SpecError(
                "master", "must be a Spark master URL: local[N], spark://host:port, yarn, k8s://..."
            )
        check_positive_int(options, "parallelism")

    @classmethod
    def check_environment(cls, options: Mapping[str, Any]) -> None:
        """A cluster ``master`` must answer within seconds."""
        from tuner.executors.reachability import spark_master_reachable

        reason = spark_master_reachable(options.get("master") or "local[*]")
        if reason:
            raise SpecError("master", reason)

    def _cancel_running(self) -> None:
        with self._lock:
            running = list(self._running.items())
        for group, trial in running:
            trial.kill()
            self.session.sparkContext.cancelJobGroup(group)

    def _close(self) -> None:
        if self._owns_session:
            self.session.stop()

    def _run(self, job: TrialJob, listener: StopListener | None) -> TrialOutcome:
        from tuner.executors.spark_session import gateway_env
        from tuner.executors.trial_process import TrialProcess

        group = f"{self._prefix}-{job.study}-{job.number}-{job.attempt}"
        try:
            trial = TrialProcess(job, gateway_env(self.session, group))
            with self._lock:
                if self._cancelling:
                    return TrialOutcome.failure(_CANCELLED)
                self._running[group] = trial
            try:
                return trial.run(listener)
            finally:
                with self._lock:
                    self._running.pop(group, None)
                self.session.sparkContext.cancelJobGroup(group)  # jobs the trial left behind
        except Exception as exc:  # noqa: BLE001 - the future must hold an outcome
            return TrialOutcome.failure(f"spark: {type(exc).__name__}: {exc}")
