"""The scheduler: keeps a study's queue of waiting trials topped up, round by round.

It is the only place that asks algorithms for points. Whoever runs trials (the local runner, the
API on behalf of remote workers) calls ``top_up`` before claiming, so all workers share one queue
and one plan. Everything it decides is a function of the database, so it holds no state.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tuner import plugins
from tuner.algorithm import Suggestion, as_suggestion
from tuner.errors import Conflict
from tuner.pareto import constrained_cost
from tuner.space import SearchSpace
from tuner.storage import LockedStudy, Storage
from tuner.study import Direction, StudySpec, StudyState
from tuner.trial import Trial, TrialState

if TYPE_CHECKING:
    from tuner.algorithm import Algorithm
    from tuner.plan import Resource
    from tuner.space import Params


def with_resource(
    points: Sequence[Params | Suggestion], resource: Resource | None
) -> list[Params | Suggestion]:
    """The points with their round's resource in their meta (``trial.resource`` reads it there:
    a trial says what it may spend to the runner, the pruner and a remote worker alike)."""
    if resource is None:
        return list(points)
    out: list[Params | Suggestion] = []
    for p in points:
        s = as_suggestion(p)
        out.append(Suggestion(s.params, {**s.meta, "resource": resource.to_dict()}))
    return out


@dataclass(frozen=True)
class Progress:
    """Where a study's plan stands."""

    round: int  # index of the current round; == rounds when the plan is done
    rounds: int
    done: int  # trials in a final state
    planned: int
    waiting: int
    running: int
    best: Trial | None
    stopped: bool = False  # asked to stop: no trial is handed out until it runs again

    @property
    def complete(self) -> bool:
        return self.round >= self.rounds and self.waiting == 0 and self.running == 0


def best_trial(trials: Sequence[Trial], spec: StudySpec) -> Trial | None:
    """The complete trial with the best value (the lowest number among ties), a feasible one
    before any that broke a constraint (``tuner.pareto.constrained_cost``)."""
    done = [
        t
        for t in trials
        if t.state is TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
    ]
    cost = constrained_cost(done, spec.direction)
    return min(done, key=lambda t: (cost(t), t.number), default=None)


def round_space(spec: StudySpec, round_index: int, history: Sequence[Trial]) -> SearchSpace:
    """The space a round searches: the full space, or narrowed around the best earlier trial."""
    rnd = spec.plan[round_index]
    if rnd.narrow is None:
        return spec.space
    best = best_trial([t for t in history if t.round < round_index], spec)
    if best is None:
        return spec.space
    return spec.space.narrow(best.params, rnd.narrow)


def round_options(spec: StudySpec, cls: type[Algorithm], options: dict[str, Any]) -> dict[str, Any]:
    """A round's options, with the study's ``metrics`` for an algorithm that takes them (a
    multi-objective one such as ``nsga2``)."""
    if spec.metrics and "metrics" in cls.option_names() and "metrics" not in options:
        return {**options, "metrics": [[m.name, m.direction.value] for m in spec.metrics]}
    return options


def round_algorithm(spec: StudySpec, round_index: int, history: Sequence[Trial]) -> Algorithm:
    """The algorithm that tops up round ``round_index`` after ``history``: a fresh instance on
    the round's (maybe narrowed) space with the round's seed, budget and options. The scheduler
    makes one per top-up; benchmarks and tests call it to run a plan exactly as it does."""
    rnd = spec.plan[round_index]
    cls = plugins.algorithm(rnd.algorithm)
    return cls.create(
        round_space(spec, round_index, history),
        spec.direction,
        _round_seed(spec.seed, round_index),
        rnd.trials,
        round_options(spec, cls, rnd.options),
    )


def worker_id() -> str:
    """``host:pid`` of this process: how trials record who runs them."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_is_dead(worker: str | None) -> bool:
    """Whether ``worker`` is a process of this host that no longer exists."""
    if not worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Scheduler:
    """Tops up studies' queues from their rounds' algorithms and moves their plans along."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._recovery_paused_until = 0.0

    def pause_recovery(self, seconds: float) -> None:
        """Take no trial back for ``seconds``: after the database was out of reach, the workers
        could not heart-beat either, and are renewing their leases now."""
        self._recovery_paused_until = max(self._recovery_paused_until, time.monotonic() + seconds)

    def top_up(self, study: str, want: int = 1) -> Progress:
        """Make up to ``want`` trials wait in the current round (within its budget and
        parallelism), advancing to the next round when the current one is finished."""
        with self.storage.locked(study) as locked:
            return self._top_up(locked, want)

    def progress(self, study: str) -> Progress:
        return self.top_up(study, want=0)

    def _top_up(self, locked: LockedStudy, want: int) -> Progress:
        # Counts decide everything but the points: the history is read only when an algorithm
        # is asked, so a claim that finds the queue already refilled (by a worker that was first
        # to find it empty) costs one aggregate query, not a read of the whole study.
        record = locked.record
        spec = record.spec
        counts = locked.counts()
        history: list[Trial] | None = None
        r = record.round
        stopped = record.state is StudyState.STOPPED
        if spec.stop.any and not stopped and record.state is not StudyState.COMPLETE:
            reason = _stop_reason(locked, spec, counts)
            if reason is not None:  # waiting trials are cancelled, running ones finish
                locked.cancel_waiting(f"cancelled: the study stopped ({reason})")
                locked.set_state(StudyState.COMPLETE, len(spec.plan), reason)
                counts = locked.counts()
                r = len(spec.plan)
        while r < len(spec.plan) and not stopped:
            rnd = spec.plan[r]
            states = counts.setdefault(r, {})
            in_round = sum(states.values())
            waiting = states.get(TrialState.WAITING, 0)
            unfinished = waiting + states.get(TrialState.RUNNING, 0)
            room = rnd.trials - in_round
            if room <= 0:
                if unfinished:
                    break
                r += 1
                continue
            if want <= 0:  # progress only: never ask an algorithm for points nobody wants
                break
            cls = plugins.algorithm(rnd.algorithm)
            ahead = cls.prefetch * (1 + _total(counts) // 512) if cls.prefetch > 1 else 1
            n = min(room, max(want - waiting, ahead - waiting)) if want > waiting else 0
            if rnd.parallelism is not None:
                n = min(n, rnd.parallelism - unfinished)
            if n <= 0:
                break
            if history is None:
                history = locked.trials()
            algorithm = round_algorithm(spec, r, history)
            params = algorithm.suggest(history, n)
            if params:
                added = locked.add_trials(r, with_resource(params, rnd.resource))
                history += added
                states[TrialState.WAITING] = waiting + len(added)
                break
            if unfinished:
                break
            r += 1  # the algorithm is exhausted and nothing of the round is in flight
        state = StudyState.COMPLETE if r >= len(spec.plan) else StudyState.RUNNING
        if not stopped and (_total(counts) or state == StudyState.COMPLETE):
            if (r, state) != (record.round, record.state):
                locked.set_state(state, r)
        return Progress(
            round=r,
            rounds=len(spec.plan),
            done=sum(n for c in counts.values() for s, n in c.items() if s.finished),
            planned=spec.total_trials,
            waiting=sum(c.get(TrialState.WAITING, 0) for c in counts.values()),
            running=sum(c.get(TrialState.RUNNING, 0) for c in counts.values()),
            best=locked.best(spec.direction is Direction.MAXIMIZE),
            stopped=stopped,
        )

    def claim(self, study: str, worker: str, lease: float) -> tuple[Trial | None, Progress | None]:
        """Claim a trial for ``worker``, asking the round's algorithm for one if none waits
        and taking back lost trials; no trial with a complete progress means the plan is done."""
        trial = self.storage.claim(study, worker, lease)
        if trial is not None:
            return trial, None
        progress = self.top_up(study, want=1)
        trial = self.storage.claim(study, worker, lease)
        if trial is None and self.recover(study, datetime.now(UTC)):
            trial = self.storage.claim(study, worker, lease)
        return trial, progress

    def recover(self, study: str, now: datetime) -> list[Trial]:
        """Put back to waiting the running trials whose worker is gone (lease expired, or a
        process of this host that died); they run again as new attempts. Nothing while
        recovery is paused (``pause_recovery``)."""
        if time.monotonic() < self._recovery_paused_until:
            return []
        lost = []
        for t in self.storage.trials(study, states=[TrialState.RUNNING]):
            expired = t.lease_expires_at is not None and t.lease_expires_at < now
            if expired or worker_is_dead(t.worker):
                why = "its worker died" if not expired else "its worker stopped heart-beating"
                try:
                    lost.append(
                        self.storage.requeue(
                            study, t.number, t.attempt, f"lost: {why} ({t.worker})", lost=True
                        )
                    )
                except Conflict:  # raced with its worker finishing it: nothing was lost
                    pass
        return lost


def _stop_reason(
    locked: LockedStudy, spec: StudySpec, counts: dict[int, dict[TrialState, int]]
) -> str | None:
    """The stop condition the study meets now, if any (``tuner.stop_conditions``)."""
    stop = spec.stop
    maximize = spec.direction is Direction.MAXIMIZE
    best = locked.best(maximize)
    elapsed = None
    if stop.time_budget is not None:
        first = locked.first_start()
        elapsed = None if first is None else (datetime.now(UTC) - first).total_seconds()
    failed = sum(c.get(TrialState.FAILED, 0) for c in counts.values())
    since_best = None
    if stop.patience is not None and best is not None:
        since_best = sum(1 for t in locked.trials() if t.state.finished and t.number > best.number)
    return stop.reason(None if best is None else best.value, maximize, elapsed, failed, since_best)


def _round_seed(seed: int | None, round_index: int) -> int | None:
    return None if seed is None else seed * 1000 + round_index


def _total(counts: dict[int, dict[TrialState, int]]) -> int:
    """How many trials the study has, from its per-round state counts."""
    return sum(sum(c.values()) for c in counts.values())
