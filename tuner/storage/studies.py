"""Studies in the database: create, read, update the spec or state, list with progress, delete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tuner.errors import Conflict, NotFound
from tuner.projects import DEFAULT_PROJECT, qualified
from tuner.storage.base import StorageBase
from tuner.storage.records import StudyRecord, StudySummary, aware, now, study_record
from tuner.storage.schema import StudyRow, TrialRow
from tuner.study import StudySpec, StudyState
from tuner.trial import TrialState

_FINISHED = (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)
# the trials a listing's best value is of: complete, no constraint broken (as the leaderboard's
# first feasible row)
_FEASIBLE = and_(TrialRow.state == TrialState.COMPLETE, TrialRow.violation == 0)


class StudyRepository(StorageBase):
    """The study rows: a study's spec, state and current round."""

    def create_study(self, spec: StudySpec, project: str = DEFAULT_PROJECT) -> StudyRecord:
        """Store a new study of ``project``; Conflict if the project has one of that name."""
        t = now()
        row = StudyRow(
            name=qualified(project, spec.name),
            spec=spec.to_dict(),
            state=StudyState.CREATED,
            round=0,
            revision=0,
            created_at=t,
            updated_at=t,
        )
        try:
            with self._session() as s:
                s.add(row)
        except IntegrityError:
            raise Conflict(f"study {spec.name!r} already exists", field="name") from None
        return study_record(row)

    def get_study(self, name: str) -> StudyRecord:
        with self._session() as s:
            return study_record(self._study_row(s, name))

    def study_state(self, name: str) -> StudyState:
        """A study's state alone (what a runner looks at to learn it was asked to stop)."""
        with self._session() as s:
            state = s.scalar(select(StudyRow.state).where(StudyRow.name == name))
            if state is None:
                raise NotFound(f"no study named {name!r}")
            return StudyState(state)

    def update_spec(self, name: str, spec: StudySpec, round: int) -> StudyRecord:
        """Replace a study's spec (a resumed study's longer plan, a new executor) and set the
        round it is in; a complete study whose plan grew runs again."""
        with self._session() as s:
            row = self._lock_study(s, name)
            row.spec = spec.to_dict()
            row.round = round
            if round < len(spec.plan) and row.state == StudyState.COMPLETE:
                row.state = StudyState.RUNNING
                row.stop_reason = None
            return study_record(row)

    def set_state(self, name: str, state: StudyState) -> StudyRecord:
        """Stop a study or let it run again (``stopped`` <-> ``running``); a complete study stays
        complete, and one never started stays ``created`` when asked to run."""
        with self._session() as s:
            row = self._lock_study(s, name)
            if row.state != StudyState.COMPLETE and not (
                state == StudyState.RUNNING and row.state == StudyState.CREATED
            ):
                row.state = state
            return study_record(row)

    def delete_study(self, name: str) -> None:
        with self._session() as s:
            row = self._study_row(s, name)
            s.execute(delete(TrialRow).where(TrialRow.study_id == row.id))
            s.delete(row)

    def list_studies(self, project: str | None = None) -> list[StudySummary]:
        """Every study (of ``project``, if given) with its progress, in two queries."""
        q = select(StudyRow).order_by(StudyRow.created_at, StudyRow.id)
        if project == DEFAULT_PROJECT:
            q = q.where(StudyRow.name.not_like("%/%"))
        elif project is not None:
            q = q.where(StudyRow.name.startswith(f"{project}/", autoescape=True))
        with self._session() as s:
            return _summaries(s, s.scalars(q).all(), all_studies=True)

    def study_summary(self, name: str) -> StudySummary:
        """One study's listing row, counting its trials alone."""
        with self._session() as s:
            return _summaries(s, [self._study_row(s, name)])[0]

    def studies_with_expired_leases(self, at: datetime) -> list[str]:
        """Names of the studies that have a running trial whose lease ended before ``at``."""
        with self._session() as s:
            return list(
                s.scalars(
                    select(StudyRow.name)
                    .join(TrialRow, TrialRow.study_id == StudyRow.id)
                    .where(TrialRow.state == TrialState.RUNNING, TrialRow.lease_expires_at < at)
                    .distinct()
                )
            )


def stored_direction(spec: dict[str, Any]) -> str:
    """The direction of a stored spec: its own, or its first metric's (several metrics)."""
    if "direction" in spec:
        return str(spec["direction"])
    metrics = spec.get("metrics") or [{}]
    first = metrics[0] if isinstance(metrics[0], dict) else {}
    return str(first.get("direction", "minimize"))


def _summaries(
    s: Session, rows: Sequence[StudyRow], all_studies: bool = False
) -> list[StudySummary]:
    """The listing rows of ``rows``, their trials counted in one aggregate query."""
    q = select(
        TrialRow.study_id,
        func.sum(case((TrialRow.state.in_(_FINISHED), 1), else_=0)),
        func.sum(case((TrialRow.state == TrialState.RUNNING, 1), else_=0)),
        func.min(case((_FEASIBLE, TrialRow.value))),
        func.max(case((_FEASIBLE, TrialRow.value))),
    ).group_by(TrialRow.study_id)
    if not all_studies:
        q = q.where(TrialRow.study_id.in_([r.id for r in rows]))
    by_id = {r[0]: r[1:] for r in s.execute(q).all()}
    out = []
    for row in rows:
        done, running, lo, hi = by_id.get(row.id, (0, 0, None, None))
        direction = stored_direction(row.spec)
        out.append(
            StudySummary(
                name=row.name,
                state=StudyState(row.state),
                round=row.round,
                rounds=len(row.spec["plan"]),
                done=int(done or 0),
                planned=sum(r["trials"] for r in row.spec["plan"]),
                running=int(running or 0),
                best_value=hi if direction == "maximize" else lo,
                direction=direction,
                created_at=aware(row.created_at),
                updated_at=aware(row.updated_at),
                stop_reason=row.stop_reason,
                objectives=_objectives(row.spec),
            )
        )
    return out


def _objectives(spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """A stored multi-objective spec's (metric, direction) pairs (empty for one metric), read
    as ``stored_direction`` reads the first."""
    metrics = [m for m in spec.get("metrics") or [] if isinstance(m, dict)]
    pairs = tuple((str(m.get("name")), str(m.get("direction", "minimize"))) for m in metrics)
    return pairs if len(pairs) > 1 else ()
