"""What every part of the storage shares: the engine, one transaction at a time, and the row
lookups and locks its methods begin with. ORM rows stay inside the storage package."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tuner.errors import Conflict, NotFound, Unavailable
from tuner.storage.engine import make_engine
from tuner.storage.records import now
from tuner.storage.schema import StudyRow, TrialRow


class StorageBase:
    """A database named by a SQLAlchemy URL; every method of the storage is one short
    transaction (``_session``).

    Writers that must be alone on a study begin with ``_lock_study`` (a write to the study row),
    which on PostgreSQL locks the row and on SQLite takes the database write lock before anything
    is read, so that no two writers interleave.
    """

    def __init__(self, url: str, must_exist: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, must_exist=must_exist)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time, and its busy handler waits in sleeps of up to 100 ms:
        # threads of one process (the API's) take turns here instead, without sleeping.
        self._turn: contextlib.AbstractContextManager[object] = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    @property
    def serial(self) -> bool:
        """Whether the database runs one transaction at a time (SQLite): callers gain nothing by
        calling from several threads at once."""
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """Reach the database once (``Unavailable`` if it cannot be reached)."""
        with self._session() as s:
            s.execute(select(1))

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """One transaction; the database out of reach (down, a dropped connection, SQLite locked
        or full) is ``Unavailable``, which callers may retry, never a driver's error."""
        try:
            with self._turn, self._sessions.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise unavailable(exc) from exc

    @staticmethod
    def _study_id(name: str) -> Any:
        return select(StudyRow.id).where(StudyRow.name == name).scalar_subquery()

    def _study_row(self, s: Session, name: str) -> StudyRow:
        row = s.scalars(select(StudyRow).where(StudyRow.name == name)).first()
        if row is None:
            raise NotFound(f"no study named {name!r}")
        return row

    def _lock_study(self, s: Session, name: str) -> StudyRow:
        s.execute(
            update(StudyRow)
            .where(StudyRow.name == name)
            .values(revision=StudyRow.revision + 1, updated_at=now())
            .execution_options(synchronize_session=False)
        )
        return self._study_row(s, name)

    def _trial_row(self, s: Session, study: str, number: int, for_update: bool = False) -> TrialRow:
        q = select(TrialRow).where(
            TrialRow.study_id == self._study_id(study), TrialRow.number == number
        )
        if for_update:
            q = q.with_for_update()
        row = s.scalars(q).first()
        if row is None:
            self._study_row(s, study)  # NotFound for the study first
            raise NotFound(f"study {study!r} has no trial {number}")
        return row

    def _stale(self, s: Session, study: str, number: int, attempt: int, row: Any = None) -> None:
        row = row or self._trial_row(s, study, number)
        raise Conflict(
            f"trial {number} of {study!r}: attempt {attempt} is not the running attempt "
            f"(the trial is {row.state}, attempt {row.attempt})"
        )


def unavailable(exc: Exception) -> Unavailable:
    """The ``Unavailable`` error of a driver's error, with its first line."""
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return Unavailable(f"the database is unavailable: {first[0] if first else type(exc).__name__}")
