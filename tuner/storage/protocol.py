"""The worker protocol in the database: claim a trial, keep its lease, report along the way,
finish it (and claim the next in the same transaction), or put it back to waiting.

Every call is one short transaction; the hot path's statements are built once
(``tuner/storage/statements.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from tuner.errors import NotFound
from tuner.executor import TrialOutcome
from tuner.pareto import violation_of
from tuner.pruner import Pruner
from tuner.storage import statements as sql
from tuner.storage.base import StorageBase
from tuner.storage.locked import LockedStudy
from tuner.storage.records import aware, db_text, now, parsed_spec, trial_of
from tuner.storage.schema import TrialRow
from tuner.study import StudySpec, StudyState
from tuner.trial import Attempt, Trial, TrialState

# A trial lost this many times (its worker died or stopped heart-beating) fails for good.
MAX_LOSSES = 5


class WorkerProtocol(StorageBase):
    """Claims, leases, reports and ends of attempts, for runners and remote workers alike."""

    def claim(self, study: str, worker: str, lease: float) -> Trial | None:
        """Atomically take the lowest-numbered waiting trial of ``study`` for ``worker`` (none
        while the study is stopped).

        Two workers never get the same trial: the claim is one ``UPDATE ... RETURNING`` on a row
        picked with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) or under SQLite's single writer.
        """
        with self._session() as s:
            return self._claim(s, study, None, worker, lease)

    def _claim(
        self, s: Session, study: str, study_id: int | None, worker: str, lease: float
    ) -> Trial | None:
        """One statement: by ``study_id`` when the transaction knows it, else by name."""
        t = now()
        params = {
            "new_worker": db_text(worker),
            "new_started_at": t,
            "new_lease_expires_at": t + timedelta(seconds=lease),
        }
        if study_id is None:
            row = s.execute(sql.CLAIM_BY_NAME, {"name": study, **params}).first()
        else:
            row = s.execute(sql.CLAIM, {"of_study": study_id, **params}).first()
        return trial_of(study, row) if row is not None else None

    def heartbeat(self, study: str, number: int, attempt: int, lease: float) -> datetime:
        """Extend the lease of a running attempt to ``lease`` seconds from now and return its
        new end; Conflict if that attempt is no longer current. An attempt taken back as lost
        that nobody claimed since runs on (its worker was out of reach, not gone)."""
        expires = now() + timedelta(seconds=lease)
        with self._session() as s:
            result = s.execute(
                update(TrialRow)
                .where(
                    TrialRow.study_id == self._study_id(study),
                    TrialRow.number == number,
                    TrialRow.attempt == attempt,
                    TrialRow.state == TrialState.RUNNING,
                )
                .values(lease_expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                row = self._trial_row(s, study, number, for_update=True)
                if not _lost_but_untaken(row, attempt):
                    self._stale(s, study, number, attempt, row)
                # its worker is alive after all (it, or the database, was out of reach): the
                # attempt runs on as if never lost
                row.state = TrialState.RUNNING
                row.lease_expires_at = expires
                row.losses -= 1
                row.attempt_log = row.attempt_log[:-1]
                row.error = None
        return expires

    def report(self, study: str, number: int, attempt: int, step: int, value: float) -> bool:
        """Add an intermediate value to a running attempt and answer whether it should stop:
        the study's pruner decides from the history with this value in it, and a stop once
        answered stays the answer for this attempt (kept in the trial's meta, so that how it
        ends, ``finish``, knows it was pruned). Conflict if the attempt is not running."""
        with self._session() as s:
            row = self._trial_row(s, study, number, for_update=True)
            if row.attempt != attempt or row.state != TrialState.RUNNING:
                self._stale(s, study, number, attempt, row)
            # keyed by step, so that a report sent twice (a retried request) counts once
            kept = [x for x in row.intermediate if x[0] != int(step)]
            row.intermediate = [*kept, [int(step), float(value)]]
            if prune_asked(row.meta, attempt):
                return True
            study_row = self._study_row(s, study)
            pruner = study_pruner(study_row.spec)
            if pruner is None:
                return False
            history = LockedStudy(s, study_row).trials()  # this report included (autoflush)
            trial = next(t for t in history if t.number == number)
            if not pruner.prune(trial, history):
                return False
            row.meta = {**row.meta, "prune": {"attempt": attempt, "step": int(step)}}
            return True

    def finish(
        self, study: str, number: int, attempt: int, outcome: TrialOutcome, max_attempts: int
    ) -> Trial:
        """Record how an attempt ended. A failure below ``max_attempts`` failures waits again.

        Finishing the same attempt twice with the same result is a no-op; anything else on an
        attempt that is no longer running is a Conflict.
        """
        with self._session() as s:
            study_id = s.execute(sql.STUDY_ID, {"name": study}).scalar()
            if study_id is None:
                raise NotFound(f"no study named {study!r}")
            finished, _ = self._finish(s, study, study_id, number, attempt, outcome, max_attempts)
            return finished

    def finish_and_claim(
        self,
        study: str,
        number: int,
        attempt: int,
        outcome: Callable[[StudySpec], TrialOutcome],
        worker: str | None = None,
        lease: float = 0.0,
    ) -> tuple[Trial, Trial | None]:
        """``finish`` with an outcome built against the study's spec (which says how to read a
        value and how many failures a trial may have), and, for ``worker``, ``claim`` the next
        waiting trial: both in one transaction, a remote worker's whole round trip (four
        prepared statements, tuner/storage/statements.py, and a commit).

        Idempotent like ``finish``: the same call again (a retried request whose answer was lost)
        answers the trial claimed the first time, if ``worker`` still holds it, rather than
        taking a second one that nobody would run until its lease expired."""
        with self._session() as s:
            found = s.execute(sql.STUDY, {"name": study}).first()
            if found is None:
                raise NotFound(f"no study named {study!r}")
            study_id, spec_text, state = found
            spec = parsed_spec(spec_text)
            then_claim = (worker, lease) if worker and state != StudyState.STOPPED else None
            return self._finish(
                s, study, study_id, number, attempt, outcome(spec), spec.max_attempts, then_claim
            )

    def _finish(
        self,
        s: Session,
        study: str,
        study_id: int,
        number: int,
        attempt: int,
        outcome: TrialOutcome,
        max_attempts: int,
        then_claim: tuple[str, float] | None = None,
    ) -> tuple[Trial, Trial | None]:
        if outcome.error is not None:
            outcome = replace(outcome, error=db_text(outcome.error))
        row = s.execute(sql.TRIAL_FOR_UPDATE, {"of_study": study_id, "of_number": number}).first()
        if row is None:
            raise NotFound(f"study {study!r} has no trial {number}")
        if outcome.state == TrialState.COMPLETE and prune_asked(row.meta, attempt):
            # told to stop, it returned what it had: pruned all the same
            outcome = replace(outcome, state=TrialState.PRUNED)
        late = _lost_but_untaken(row, attempt)
        if (row.attempt != attempt or row.state != TrialState.RUNNING) and not late:
            last = row.attempt_log[-1] if row.attempt_log else {}
            same_end = (
                last.get("number") == attempt
                and last.get("outcome") == str(outcome.state)
                and (last.get("error") or None) == (outcome.error or None)
                and (outcome.state != TrialState.COMPLETE or row.value == outcome.value)
            )
            if not same_end:
                self._stale(s, study, number, attempt, row)
            # the same attempt reported the same end twice: a retry, answered as the first time
            held = None
            if then_claim is not None:
                held = self._held(s, study, study_id, last.get("next"), then_claim[0])
            return trial_of(study, row), held
        claimed = self._claim(s, study, study_id, *then_claim) if then_claim else None
        t = now()
        entry = Attempt(
            attempt, row.worker, aware(row.started_at), t, str(outcome.state), outcome.error
        ).to_dict()
        if claimed is not None:  # what this round trip claimed, for a retry of it
            entry["next"] = [claimed.number, claimed.attempt]
        new: dict[str, Any] = {
            "state": outcome.state,
            "value": row.value,
            "values": row.values,
            "violation": row.violation,
            "error": None,
            "failures": row.failures,
            # a late result of an attempt taken for lost that nobody ran since: not a loss
            "losses": row.losses - 1 if late else row.losses,
            # reported along the way, unless the outcome brings its own
            "intermediate": [list(x) for x in outcome.intermediate] or row.intermediate,
            "attempt_log": [*(row.attempt_log[:-1] if late else row.attempt_log), entry],
            "meta": row.meta,
            "lease_expires_at": None,
            "finished_at": t,
        }
        if outcome.state == TrialState.FAILED:
            new["failures"] += 1
            new["error"] = outcome.error
            if new["failures"] < max_attempts:
                new["state"] = TrialState.WAITING
        else:
            new["value"] = outcome.value
            new["values"] = dict(outcome.values)
            new["violation"] = violation_of(new["values"])
            if outcome.state == TrialState.PRUNED and new["intermediate"]:
                # pruned with the last value it reported (what the pruner judged)
                new["value"] = float(max(new["intermediate"])[1])
            if outcome.artifact:  # where the trainer saved the model of this trial
                new["meta"] = {**row.meta, "artifact": outcome.artifact}
        done = s.execute(
            sql.FINISH, {"trial_id": row.id, **{f"new_{k}": v for k, v in new.items()}}
        ).one()
        return trial_of(study, done), claimed

    def _held(
        self, s: Session, study: str, study_id: int, claimed: Any, worker: str
    ) -> Trial | None:
        """The trial ``[number, attempt]`` if ``worker`` still runs that attempt of it."""
        if not isinstance(claimed, list) or len(claimed) != 2:
            return None
        row = s.execute(
            sql.TRIAL_FOR_UPDATE, {"of_study": study_id, "of_number": claimed[0]}
        ).first()
        if (
            row is None
            or row.state != TrialState.RUNNING
            or row.attempt != claimed[1]
            or row.worker != db_text(worker)
        ):
            return None
        return trial_of(study, row)

    def requeue(self, study: str, number: int, attempt: int, reason: str, lost: bool) -> Trial:
        """Put a running attempt back to waiting: ``lost`` (its worker died) or interrupted.

        Interruptions (a clean stop) cost nothing; losses count, and a trial lost
        ``MAX_LOSSES`` times fails for good.
        """
        with self._session() as s:
            row = self._trial_row(s, study, number, for_update=True)
            if row.attempt != attempt or row.state != TrialState.RUNNING:
                self._stale(s, study, number, attempt, row)
            t = now()
            entry = Attempt(
                attempt,
                row.worker,
                aware(row.started_at),
                t,
                "lost" if lost else "interrupted",
                reason,
            )
            row.attempt_log = [*row.attempt_log, entry.to_dict()]
            row.lease_expires_at = None
            if lost:
                row.losses += 1
                row.error = db_text(reason)
            if lost and row.losses >= MAX_LOSSES:
                row.state = TrialState.FAILED
                row.finished_at = t
            else:
                row.state = TrialState.WAITING
            return trial_of(study, row)


def prune_asked(meta: dict[str, Any] | None, attempt: int) -> bool:
    """Whether the pruner told ``attempt`` to stop (``report`` answered True to it)."""
    asked = (meta or {}).get("prune")
    return isinstance(asked, dict) and asked.get("attempt") == attempt


@lru_cache(maxsize=256)
def _pruner_of(text: str) -> Pruner | None:
    spec = parsed_spec(text)
    if spec.pruner.type == "none":
        return None
    from tuner import plugins

    return plugins.pruner(spec.pruner.type).create(spec.direction, spec.pruner.options)


def study_pruner(spec: dict[str, Any]) -> Pruner | None:
    """The pruner a stored study names (None when it prunes nothing); pruners keep no state,
    so one per distinct spec is built and kept."""
    return _pruner_of(json.dumps(spec))


def _lost_but_untaken(row: Any, attempt: int) -> bool:
    """Whether ``attempt`` is the trial's last attempt, taken back as lost (its lease expired:
    the worker, or the database, was out of reach) and not claimed by anyone since: then its
    worker's late heartbeat or result still counts, and nothing runs twice."""
    last = row.attempt_log[-1] if row.attempt_log else {}
    return bool(
        row.state == TrialState.WAITING
        and row.attempt == attempt
        and last.get("number") == attempt
        and last.get("outcome") == "lost"
    )
