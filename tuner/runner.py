"""Runs a stored study to the end of its plan on an executor, as one worker of its queue."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass

from tuner.errors import Conflict, SpecError, Unavailable
from tuner.executor import Executor, StopListener, TrialJob, TrialOutcome
from tuner.objective import missing_metrics
from tuner.scheduler import Progress, Scheduler, worker_id
from tuner.storage import Storage, now
from tuner.study import ObjectiveSpec, StudySpec, StudyState
from tuner.trial import Trial, TrialState

log = logging.getLogger("tuner.runner")
_POLL = 0.5  # seconds between looks at the queue (and at a stop request) while nothing ends
_LOOK = 1.0  # seconds between looks at the study's state (stopped by someone else?)


@dataclass(frozen=True)
class RunEvent:
    """What the runner tells its observer (the CLI's progress bar) after each finished attempt."""

    trial: Trial
    progress: Progress


class Stopped(Exception):
    """``StudyRunner.run`` ended because ``stop`` was called or the study was stopped (``tuner
    stop``, ``POST .../stop``); its running trials wait again."""


class StudyRunner:
    """Claims trials of one study for an executor, reports their outcomes, keeps their leases.

    ``stop()`` (from a signal handler or another thread) ends ``run`` at the next safe point,
    never in the middle of a database write: the running trials are stopped and put back to
    waiting at no cost. A runner killed outright leaves leases that expire, or that the next
    runner on this host reclaims at once because the process is gone. While the database is
    unavailable the trials go on and their outcomes wait in memory until it is back: an hour of
    training is not run again because the database blinked.
    """

    def __init__(
        self,
        storage: Storage,
        study: str,
        executor: Executor,
        lease: float = 60.0,
        on_event: Callable[[RunEvent], None] | None = None,
        artifacts_dir: str | None = None,
        paths: tuple[str, ...] = (),
    ) -> None:
        self.storage = storage
        self.study = study
        self.executor = executor
        self.lease = lease
        self.on_event = on_event
        self.artifacts_dir = artifacts_dir  # trials may save models below it
        self.paths = paths  # where the objective's modules are looked for
        self.scheduler = Scheduler(storage)
        self.worker = worker_id()
        self._running: dict[Future[TrialOutcome], Trial] = {}
        self._unreported: list[tuple[Trial, TrialOutcome]] = []  # ended, not yet recorded
        self._stop_requested = threading.Event()
        self._last_look = self._last_beat = time.monotonic()
        self._outage_since: float | None = None  # when the database became unavailable
        self._pause = _POLL
        self._metrics: list[str] = []  # a multi-objective study's metrics, each one required

    def stop(self) -> None:
        """Ask ``run`` to stop soon; safe from a signal handler."""
        self._stop_requested.set()

    @property
    def stop_requested(self) -> bool:
        """Whether ``stop`` was called (rather than the study stopped by someone else)."""
        return self._stop_requested.is_set()

    def run(self) -> Progress:
        spec = self.storage.get_study(self.study).spec
        objective = spec.objective
        if objective is None:
            raise SpecError("objective", "the study has no objective: remote workers run it")
        self._metrics = [m.name for m in spec.metrics]
        self._recover()
        try:
            while True:
                if self._stop_requested.is_set():
                    raise Stopped
                try:
                    progress = self._step(spec, objective)
                    if self._outage_since is not None:
                        self._back()
                except Unavailable as exc:
                    self._outage(exc)
                    continue
                if progress is not None:
                    return progress
        except BaseException:
            self._stop()
            raise

    def _step(self, spec: StudySpec, objective: ObjectiveSpec) -> Progress | None:
        """One turn of the loop: record what ended, look at the study, fill the executor, wait
        a little for trials to end; the final progress once the plan is done."""
        self._report_unreported(spec.max_attempts)
        if time.monotonic() - self._last_look > _LOOK:
            if self.storage.study_state(self.study) is StudyState.STOPPED:
                raise Stopped
            self._last_look = time.monotonic()
        free = self.executor.capacity - len(self._running)
        progress = self.scheduler.top_up(self.study, want=free) if free > 0 else None
        if progress is not None and progress.stopped:
            raise Stopped
        for _ in range(max(free, 0)):
            trial = self.storage.claim(self.study, self.worker, self.lease)
            if trial is None:
                break
            self._submit(trial, spec, objective)
        if not self._running:
            progress = progress or self.scheduler.progress(self.study)
            if progress.complete and not self._unreported:
                return progress
            # Other workers hold the remaining trials: wait, and take back lost ones.
            self._stop_requested.wait(_POLL)
            self._recover()
            return None
        done, _ = wait(list(self._running), timeout=_POLL, return_when=FIRST_COMPLETED)
        for future in done:
            self._unreported.append(self._outcome_of(future))
        self._report_unreported(spec.max_attempts)
        if time.monotonic() - self._last_beat > self.lease / 3:
            self._heartbeat()
            self._last_beat = time.monotonic()
        return None

    def _submit(self, trial: Trial, spec: StudySpec, objective: ObjectiveSpec) -> None:
        job = TrialJob(
            study=self.study,
            number=trial.number,
            attempt=trial.attempt,
            params=trial.params,
            objective=objective,
            metric=spec.metric,
            timeout=spec.trial_timeout,
            workdir=self.paths[0] if self.paths else os.getcwd(),
            paths=self.paths,
            artifact_dir=None
            if self.artifacts_dir is None
            else os.path.join(self.artifacts_dir, self.study, f"{trial.number}-{trial.attempt}"),
            resource=trial.resource,
            prunes=spec.pruner.type != "none",
        )
        self._running[self.executor.submit(job, self._listener(trial))] = trial

    def _outcome_of(self, future: Future[TrialOutcome]) -> tuple[Trial, TrialOutcome]:
        trial = self._running.pop(future)
        try:
            return trial, future.result()
        except BaseException as exc:  # noqa: BLE001 - the executor broke its contract
            return trial, TrialOutcome.failure(f"executor error: {type(exc).__name__}: {exc}")

    def _report_unreported(self, max_attempts: int) -> None:
        """Record the outcomes of ended attempts, oldest first; while the database is
        unavailable an outcome stays in memory, first in line (``Unavailable`` goes up)."""
        while self._unreported:
            trial, outcome = self._unreported[0]
            if self._metrics and outcome.state is TrialState.COMPLETE:
                missing = missing_metrics(self._metrics, outcome.values)
                if missing:
                    outcome = TrialOutcome.failure(missing, outcome.intermediate)
            try:
                finished = self.storage.finish(
                    self.study, trial.number, trial.attempt, outcome, max_attempts
                )
            except Conflict:  # the attempt was taken from us (lease expired): its new one counts
                self._unreported.pop(0)
                continue
            self._unreported.pop(0)
            if self.on_event is not None:
                self.on_event(RunEvent(finished, self.scheduler.progress(self.study)))

    def _outage(self, exc: Unavailable) -> None:
        """The database is unavailable: trials go on, their outcomes wait in memory, and the
        runner looks again after a growing pause (at most 5 s)."""
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self._pause = _POLL
            log.warning("%s: trials go on, their outcomes wait here until it is back", exc)
        if self._running:
            done, _ = wait(list(self._running), timeout=self._pause, return_when=FIRST_COMPLETED)
            for future in done:
                self._unreported.append(self._outcome_of(future))
        else:
            self._stop_requested.wait(self._pause)
        self._pause = min(self._pause * 2, 5.0)

    def _back(self) -> None:
        """The database answers again: renew the running trials' leases at once, and take no
        trial of another worker back for a lease (that worker may be renewing it too)."""
        assert self._outage_since is not None
        log.warning("the database is back after %.0f s", time.monotonic() - self._outage_since)
        self._outage_since = None
        self.scheduler.pause_recovery(self.lease)
        self._heartbeat()
        self._last_beat = time.monotonic()

    def _recover(self) -> None:
        self.scheduler.recover(self.study, now())

    def _listener(self, trial: Trial) -> StopListener:
        """What hears ``trial``'s intermediate values while it runs: each reaches the database
        at once (so curves are live), and the study's pruner's answer goes back to the trial."""

        def hear(step: int, value: float) -> bool:
            try:
                return self.storage.report(self.study, trial.number, trial.attempt, step, value)
            except (Conflict, Unavailable):  # taken from us, or out of reach: a point of a curve
                pass
            except Exception:  # noqa: BLE001 - a report lost is a curve point, not the trial
                log.warning("cannot store a report of trial %d", trial.number, exc_info=True)
            return False

        return hear

    def _heartbeat(self) -> None:
        for future, trial in list(self._running.items()):
            try:
                self.storage.heartbeat(self.study, trial.number, trial.attempt, self.lease)
            except Conflict:
                future.cancel()
                self._running.pop(future, None)

    def _stop(self) -> None:
        """Stop every running trial and hand it back to the queue for a later run (with the
        database out of reach their leases expire instead); record what already ended."""
        self.executor.shutdown(cancel_running=True)
        for trial in self._running.values():
            try:
                self.storage.requeue(
                    self.study, trial.number, trial.attempt, "interrupted", lost=False
                )
            except (Conflict, Unavailable):
                pass
        self._running.clear()
        try:
            self._report_unreported(self.storage.get_study(self.study).spec.max_attempts)
        except Unavailable:
            if self._unreported:
                log.warning(
                    "the database is unavailable: %d outcomes are lost with this "
                    "runner (their trials run again)",
                    len(self._unreported),
                )
