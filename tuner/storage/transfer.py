"""Whole studies in and out of the database as they are (an import, a migration)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from tuner.errors import Conflict
from tuner.pareto import violation_of
from tuner.storage.base import StorageBase
from tuner.storage.records import StudyRecord, db_text, now, study_record
from tuner.storage.schema import StudyRow, TrialRow
from tuner.study import StudySpec, StudyState
from tuner.trial import Trial, TrialState


class StudyTransfer(StorageBase):
    """``import_study``: a study written with its trials exactly as they were elsewhere."""

    def import_study(
        self,
        key: str,
        spec: StudySpec,
        state: StudyState,
        round: int,
        created_at: datetime,
        trials: Sequence[Trial],
    ) -> StudyRecord:
        """Store study ``key`` and its ``trials`` in one transaction (all or nothing); Conflict
        if the name is taken. A running trial keeps its lease, which expires as usual."""
        t = now()
        row = StudyRow(
            name=key,
            spec=spec.to_dict(),
            state=state,
            round=round,
            revision=0,
            created_at=created_at,
            updated_at=t,
        )
        try:
            with self._session() as s:
                s.add(row)
                s.flush()
                s.add_all(_row(row.id, trial) for trial in trials)
        except IntegrityError:
            raise Conflict(f"study {key!r} already exists", field="name") from None
        return study_record(row)


def _row(study_id: int, t: Trial) -> TrialRow:
    log = [a.to_dict() for a in t.attempts]
    return TrialRow(
        study_id=study_id,
        number=t.number,
        round=t.round,
        params=dict(t.params),
        state=t.state,
        attempt=t.attempt,
        # counted from the attempts, as the worker protocol counted them
        failures=sum(a.outcome == TrialState.FAILED for a in t.attempts),
        losses=sum(a.outcome == "lost" for a in t.attempts),
        value=t.value,
        values=dict(t.values),
        violation=violation_of(t.values),
        intermediate=[list(x) for x in t.intermediate],
        attempt_log=log,
        meta=dict(t.meta),
        worker=t.worker,
        error=None if t.error is None else db_text(t.error),
        created_at=t.created_at or now(),
        started_at=t.started_at,
        finished_at=t.finished_at,
        lease_expires_at=t.lease_expires_at,
    )
