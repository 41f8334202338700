"""Storage of studies and trials (SQLAlchemy 2.0; SQLite by default, PostgreSQL by URL)."""

from tuner.storage.locked import LockedStudy
from tuner.storage.protocol import MAX_LOSSES
from tuner.storage.records import StudyRecord, StudySummary, now
from tuner.storage.repository import Storage

__all__ = ["MAX_LOSSES", "LockedStudy", "Storage", "StudyRecord", "StudySummary", "now"]
