"""The Ray executor: every trial a Ray task with its own resources, on a local Ray or a cluster.

The task runs the objective in a trial process of its own (``executors.trial_process``), so a
crash, a timeout or a cancellation ends the trial's whole process group on its node; a worker or
node that dies makes that attempt fail with Ray's reason, and the retry policy takes over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from tuner.errors import SpecError
from tuner.executor import StopListener, TrialJob, TrialOutcome
from tuner.executors.pool import PooledExecutor, check_positive_int

_RESOURCES = {"num_cpus", "num_gpus", "memory"}  # other keys are Ray custom resources
_CANCELLED = "cancelled: the executor shut down"
_RELAY_POLL = 0.1  # seconds between looks at a running trial's reports
# after a forced cancel, Ray failed the next tasks this process submitted with WORKER_DIED up to
# 1.6 s later (seen in Ray's logs, under load, twice in four runs of the suite; the cause in Ray
# not found): a shutdown that killed trials on a shared Ray waits this long before it returns
_AFTER_FORCED_CANCEL = 2.0


class RayExecutor(PooledExecutor):
    """Runs up to ``workers`` trials at once as Ray tasks needing ``resources`` each.

    ``address``: ``auto``, ``host:port`` or ``ray://host:port`` of a running cluster; omitted, a
    local Ray is started on demand (or the one this process already runs is used). ``workers``
    defaults to as many trials as the cluster's CPUs fit.
    """

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        resources: Mapping[str, Any] | None = None,
        workers: int | None = None,
    ) -> None:
        import ray

        self.check_options({"address": address, "resources": resources, "workers": workers})
        self._resources = {"num_cpus": 1, **dict(resources or {})}
        self._started_ray = False
        if not ray.is_initialized():
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=True,
                configure_logging=False,
            )
            self._started_ray = True
        if workers is None:
            cpus = float(ray.cluster_resources().get("CPU", 1))
            per_trial = float(self._resources.get("num_cpus") or 0)
            workers = max(1, math.floor(cpus / per_trial)) if per_trial > 0 else int(cpus) or 1
        self._start_pool(workers, "ray")
        self._refs: set[Any] = set()
        self._task = ray.remote(max_retries=0)(_run_trial).options(**_task_options(self._resources))
        self._relay: Any = None  # the actor that carries reports up and stops down, made on use
        self._forced = False  # a running task was cancelled by force (its worker killed)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        super().check_options(options)
        address = options.get("address")
        if address is not None and (not isinstance(address, str) or not address):
            raise SpecError("address", "must be 'auto', 'host:port' or 'ray://host:port'")
        check_positive_int(options, "workers")
        resources = options.get("resources")
        if resources is None:
            return
        if not isinstance(resources, Mapping):
            raise SpecError("resources", "must be a mapping such as {num_cpus: 1, num_gpus: 0}")
        for key, value in resources.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise SpecError(f"resources.{key}", "must be a non-negative number")

    @classmethod
    def check_environment(cls, options: Mapping[str, Any]) -> None:
        """An ``address`` must answer within seconds (``auto``: a cluster must run here)."""
        address = options.get("address")
        if address is None:
            return
        from tuner.executors.reachability import ray_address_reachable

        reason = ray_address_reachable(address)
        if reason:
            raise SpecError("address", reason)

    def _cancel_running(self) -> None:
        import ray

        with self._lock:
            refs = list(self._refs)
        for ref in refs:  # the worker dies; its trial process group dies with it
            ray.cancel(ref, force=True)
        self._forced = self._forced or bool(refs)

    def _close(self) -> None:
        import ray

        if self._relay is not None and ray.is_initialized():
            ray.kill(self._relay)
            self._relay = None
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        elif self._forced:
            time.sleep(_AFTER_FORCED_CANCEL)

    def _run(self, job: TrialJob, listener: StopListener | None) -> TrialOutcome:
        import ray
        from ray.exceptions import RayError, TaskCancelledError

        key = f"{job.study}/{job.number}/{job.attempt}"
        with self._lock:
            if self._cancelling:
                return TrialOutcome.failure(_CANCELLED)
            relay = self._relay_actor() if listener is not None else None
            ref = self._task.remote(job, relay, key)
            self._refs.add(ref)
        try:
            if relay is not None and listener is not None:
                _relay_reports(ref, relay, key, listener)
            outcome = ray.get(ref)
            return (
                outcome
                if isinstance(outcome, TrialOutcome)
                else TrialOutcome.failure(
                    f"the Ray task returned {type(outcome).__name__}, not an outcome"
                )
            )
        except TaskCancelledError:
            return TrialOutcome.failure(_CANCELLED)
        except RayError as exc:  # a dead worker or node, an object lost with it
            if self._cancelling:
                return TrialOutcome.failure(_CANCELLED)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return TrialOutcome.failure(f"ray: {type(exc).__name__}: {first}")
        except Exception as exc:  # noqa: BLE001 - the future must hold an outcome
            return TrialOutcome.failure(f"ray: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._refs.discard(ref)

    def _relay_actor(self) -> Any:
        """The relay between trials' tasks and this runner (one per executor, no CPU)."""
        import ray

        if self._relay is None:
            self._relay = ray.remote(num_cpus=0)(ReportRelay).remote()
        return self._relay


class ReportRelay:
    """A Ray actor between running trials and the runner: a trial's task puts each report and
    learns whether it was told to stop; the runner takes the reports and sets the stops."""

    def __init__(self) -> None:
        self._reports: dict[str, list[tuple[int, float]]] = {}
        self._stops: set[str] = set()

    def put(self, key: str, step: int, value: float) -> bool:
        self._reports.setdefault(key, []).append((step, value))
        return key in self._stops

    def take(self, key: str) -> list[tuple[int, float]]:
        return self._reports.pop(key, [])

    def stop(self, key: str) -> None:
        self._stops.add(key)

    def forget(self, key: str) -> None:
        self._reports.pop(key, None)
        self._stops.discard(key)


def _relay_reports(ref: Any, relay: Any, key: str, listener: StopListener) -> None:
    """Until the task ends: hand its reports to ``listener`` and relay a stop it answers (the
    trial hears it with its next report)."""
    import ray

    stopped = False
    try:
        while True:
            done, _ = ray.wait([ref], timeout=_RELAY_POLL)
            for step, value in ray.get(relay.take.remote(key)):
                if not stopped and listener(step, value):
                    stopped = True
                    ray.get(relay.stop.remote(key))
            if done:
                return
    finally:
        relay.forget.remote(key)


def _task_options(resources: Mapping[str, Any]) -> dict[str, Any]:
    options = {k: v for k, v in resources.items() if k in _RESOURCES}
    custom = {k: float(v) for k, v in resources.items() if k not in _RESOURCES}
    if custom:
        options["resources"] = custom
    return options


def _run_trial(job: TrialJob, relay: Any = None, key: str = "") -> TrialOutcome:
    """The Ray task: one trial process, killed with its group if the task is cancelled. Its
    intermediate values go up through ``relay`` while it runs (the runner may be on another
    node), and a stop comes back with the answer to a report."""
    import ray

    from tuner.executors.trial_process import TrialProcess

    def report(step: int, value: float) -> bool:
        return bool(ray.get(relay.put.remote(key, step, value)))

    trial = TrialProcess(job)
    try:
        return trial.run(report if relay is not None else None)
    finally:
        trial.kill_group()
