"""Storage of studies and trials (SQLAlchemy 2.0; SQLite by default, PostgreSQL by URL)."""

from tuner.storage.records import StudyRecord, StudyState, StudySummary, now
from tuner.storage.repository import MAX_LOSSES, LockedStudy, Storage

__all__ = [
    "MAX_LOSSES",
    "LockedStudy",
    "Storage",
    "StudyRecord",
    "StudyState",
    "StudySummary",
    "now",
]
