"""Storage of studies and trials (SQLAlchemy 2.0; SQLite by default, PostgreSQL by URL)."""

from tuner.storage.repository import (
    MAX_LOSSES,
    LockedStudy,
    Storage,
    StudyRecord,
    StudyState,
    StudySummary,
    now,
)

__all__ = [
    "MAX_LOSSES",
    "LockedStudy",
    "Storage",
    "StudyRecord",
    "StudyState",
    "StudySummary",
    "now",
]
