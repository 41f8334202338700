"""The statements of a worker's round trip, built once with bound parameters.

Building a SQLAlchemy statement (coercing every clause, computing its cache key) costs more than
running it on SQLite: a finish-and-claim built per call spent most of its ~1 ms doing that. These
are built at import and executed with parameter dicts; their compiled forms are cached by the
engine like any other statement's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, Text, bindparam, cast, select, update

from tuner.storage.schema import StudyRow, TrialRow
from tuner.study import StudyState
from tuner.trial import TrialState

TRIALS: Table = TrialRow.__table__  # type: ignore[assignment]
_c = TRIALS.c

# A study's id, its spec as stored text (parsed once per distinct text, see parsed_spec) and its
# state (a stopped study hands out no trial).
STUDY = select(StudyRow.id, cast(StudyRow.spec, Text), StudyRow.state).where(
    StudyRow.name == bindparam("name")
)

STUDY_ID = select(StudyRow.id).where(StudyRow.name == bindparam("name"))
# The id of a study that may hand out trials (not stopped), for a bare claim.
CLAIMABLE_ID = STUDY_ID.where(StudyRow.state != StudyState.STOPPED)

# One trial, locked for the rest of the transaction (PostgreSQL; SQLite has one writer).
TRIAL_FOR_UPDATE = (
    select(TRIALS)
    .where(_c.study_id == bindparam("of_study"), _c.number == bindparam("of_number"))
    .with_for_update()
)


def _new(column: str) -> Any:
    """A parameter ``new_<column>`` of the column's type (a column's own name is reserved)."""
    return bindparam(f"new_{column}", type_=_c[column].type)


# How an attempt ends: every column it may change (as ``new_<column>``), the unchanged ones
# given their old values.
FINISH = (
    update(TRIALS)
    .where(_c.id == bindparam("trial_id"))
    .values(
        {
            name: _new(name)
            for name in (
                "state",
                "value",
                "values",
                "violation",
                "error",
                "failures",
                "losses",
                "intermediate",
                "attempt_log",
                "meta",
                "lease_expires_at",
                "finished_at",
            )
        }
    )
    .returning(*_c)
)


def _claim(study_id: Any) -> Any:
    """Take the lowest-numbered waiting trial of the study ``study_id`` (skipping rows other
    claims hold, on PostgreSQL); the state test in the WHERE makes a lost race update nothing
    instead of twice."""
    next_waiting = (
        select(_c.id)
        .where(_c.study_id == study_id, _c.state == TrialState.WAITING)
        .order_by(_c.number)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(TRIALS)
        .where(_c.id == next_waiting, _c.state == TrialState.WAITING)
        .values(
            state=TrialState.RUNNING,
            attempt=_c.attempt + 1,
            worker=_new("worker"),
            started_at=_new("started_at"),
            finished_at=None,
            lease_expires_at=_new("lease_expires_at"),
        )
        .returning(*_c)
    )


# By the study's id (known in a round trip) or by its name (a bare claim: one statement).
CLAIM = _claim(bindparam("of_study"))
CLAIM_BY_NAME = _claim(CLAIMABLE_ID.scalar_subquery())
