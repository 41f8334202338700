"""What the storage hands out: frozen records built from the ORM rows, which stay inside."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row

from tuner.storage.schema import StudyRow, TrialRow
from tuner.study import StudySpec, StudyState
from tuner.trial import Attempt, Trial, TrialState


@dataclass(frozen=True)
class StudyRecord:
    """A stored study: its spec and where its plan stands."""

    name: str
    spec: StudySpec
    state: StudyState
    round: int
    created_at: datetime
    updated_at: datetime | None = None
    stop_reason: str | None = None  # the stop condition that ended it, if one did


@dataclass(frozen=True)
class StudySummary:
    """A study's line in a listing: where its plan stands and its best value."""

    name: str
    state: StudyState
    round: int
    rounds: int
    done: int
    planned: int
    running: int
    best_value: float | None
    direction: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    stop_reason: str | None = None
    # several metrics: each one's (name, direction); ``best_value`` and ``direction`` are the
    # first one's
    objectives: tuple[tuple[str, str], ...] = ()


def now() -> datetime:
    return datetime.now(UTC)


def db_text(s: str) -> str:
    """``s`` as PostgreSQL stores it: text there cannot hold NUL characters."""
    return s.replace("\x00", "\\0")


def aware(t: datetime | None) -> datetime | None:
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t


def study_record(row: StudyRow) -> StudyRecord:
    """The dataclass of a study row."""
    return StudyRecord(
        name=row.name,
        spec=parsed_spec(json.dumps(row.spec)),  # key order is the space order
        state=STUDY_STATES[row.state],
        round=row.round,
        created_at=aware(row.created_at) or now(),
        updated_at=aware(row.updated_at),
        stop_reason=row.stop_reason,
    )


@lru_cache(maxsize=512)
def parsed_spec(text: str) -> StudySpec:
    """Specs are parsed once per distinct text: every claim and report reads its study's."""
    return StudySpec.from_dict(json.loads(text), check=False)


# TrialState(text) goes through EnumMeta.__call__, slow enough to show when a study is read
STATES = {s.value: s for s in TrialState}
STUDY_STATES = {s.value: s for s in StudyState}


def trial_of(study: str, r: TrialRow | Row[Any]) -> Trial:
    """The dataclass of a trial row of ``study`` (an ORM row, or a row of the trials table)."""
    return Trial(
        study=study,
        number=r.number,
        round=r.round,
        params=dict(r.params),
        state=STATES[r.state],
        attempt=r.attempt,
        value=r.value,
        values=dict(r.values or {}),
        intermediate=tuple((int(a), float(b)) for a, b in (r.intermediate or [])),
        worker=r.worker,
        error=r.error,
        created_at=aware(r.created_at),
        started_at=aware(r.started_at),
        finished_at=aware(r.finished_at),
        lease_expires_at=aware(r.lease_expires_at),
        attempts=tuple(Attempt.from_dict(a) for a in (r.attempt_log or [])),
        meta=dict(r.meta or {}),
    )
