"""A study held alone inside one transaction, for the scheduler's read-decide-write steps."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tuner.algorithm import Suggestion, as_suggestion
from tuner.space import Params
from tuner.storage.base import StorageBase
from tuner.storage.records import STATES, StudyRecord, aware, now, study_record, trial_of
from tuner.storage.schema import StudyRow, TrialRow
from tuner.study import StudyState
from tuner.trial import Trial, TrialState


class StudyLocking(StorageBase):
    """``locked(study)``: the study row locked for the rest of one transaction."""

    @contextmanager
    def locked(self, study: str) -> Iterator[LockedStudy]:
        """Hold a study alone for a read-decide-write step (the scheduler's top-up)."""
        with self._session() as s:
            row = self._lock_study(s, study)
            yield LockedStudy(s, row)


class LockedStudy:
    """A study held alone inside one transaction: read its state and trials, add trials."""

    def __init__(self, session: Session, row: StudyRow) -> None:
        self._session = session
        self._row = row

    @property
    def record(self) -> StudyRecord:
        return study_record(self._row)

    def trials(self) -> list[Trial]:
        """The history as algorithms see it, in number order: each trial's number, round,
        params, state, attempt, value(s), intermediate values and meta. Attempt logs, workers
        and times are left out: a top-up reads the whole study, so it reads only these columns.
        """
        rows = self._session.execute(
            select(
                TrialRow.number,
                TrialRow.round,
                TrialRow.params,
                TrialRow.state,
                TrialRow.attempt,
                TrialRow.value,
                TrialRow.values,
                TrialRow.intermediate,
                TrialRow.meta,
            )
            .where(TrialRow.study_id == self._row.id)
            .order_by(TrialRow.number)
        )
        name = self._row.name
        return [
            Trial(
                study=name,
                number=number,
                round=round,
                params=params,
                state=STATES[state],
                attempt=attempt,
                value=value,
                values=values or {},
                intermediate=tuple((int(a), float(b)) for a, b in intermediate or ()),
                meta=meta or {},
            )
            for number, round, params, state, attempt, value, values, intermediate, meta in rows
        ]

    def counts(self) -> dict[int, dict[TrialState, int]]:
        """How many trials each round has in each state, in one aggregate query."""
        out: dict[int, dict[TrialState, int]] = {}
        rows = self._session.execute(
            select(TrialRow.round, TrialRow.state, func.count())
            .where(TrialRow.study_id == self._row.id)
            .group_by(TrialRow.round, TrialRow.state)
        )
        for round, state, n in rows:
            out.setdefault(round, {})[STATES[state]] = int(n)
        return out

    def best(self, maximize: bool) -> Trial | None:
        """The feasible complete trial with the best value (the lowest number among ties): a
        trial that broke a constraint reaches no target and sets no patience."""
        value = TrialRow.value.desc() if maximize else TrialRow.value.asc()
        row = self._session.scalars(
            select(TrialRow)
            .where(
                TrialRow.study_id == self._row.id,
                TrialRow.state == TrialState.COMPLETE,
                TrialRow.value.is_not(None),
                TrialRow.violation == 0,
            )
            .order_by(value, TrialRow.number)
            .limit(1)
        ).first()
        return trial_of(self._row.name, row) if row is not None else None

    def add_trials(self, round: int, points: Sequence[Params | Suggestion]) -> list[Trial]:
        """New waiting trials of ``round`` at ``points``, numbered after the last one."""
        s, row = self._session, self._row
        last = s.scalar(select(func.max(TrialRow.number)).where(TrialRow.study_id == row.id))
        start = 0 if last is None else last + 1
        t = now()
        rows = [
            TrialRow(
                study_id=row.id,
                number=start + i,
                round=round,
                params=dict(p.params),
                meta=dict(p.meta),
                state=TrialState.WAITING,
                attempt=0,
                failures=0,
                losses=0,
                values={},
                intermediate=[],
                attempt_log=[],
                created_at=t,
            )
            for i, p in enumerate(as_suggestion(x) for x in points)
        ]
        s.add_all(rows)
        if row.state == StudyState.CREATED and rows:
            row.state = StudyState.RUNNING
        s.flush()
        return [trial_of(row.name, r) for r in rows]

    def set_state(self, state: str, round: int | None = None, reason: str | None = None) -> None:
        self._row.state = state
        if round is not None:
            self._row.round = round
        if reason is not None:
            self._row.stop_reason = reason

    def first_start(self) -> datetime | None:
        """When the study's first trial started (the clock of a time budget)."""
        first = self._session.scalar(
            select(func.min(TrialRow.started_at)).where(TrialRow.study_id == self._row.id)
        )
        return aware(first)

    def cancel_waiting(self, reason: str) -> int:
        """End every waiting trial as failed with ``reason`` (the study stopped before them)."""
        rows = self._session.scalars(
            select(TrialRow).where(
                TrialRow.study_id == self._row.id, TrialRow.state == TrialState.WAITING
            )
        ).all()
        t = now()
        for row in rows:
            row.state = TrialState.FAILED
            row.error = reason
            row.finished_at = t
        return len(rows)
