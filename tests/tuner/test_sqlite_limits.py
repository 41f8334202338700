"""SQLite full or locked: a clear error that callers may retry (``Unavailable``), nothing
half-written, and the file passes PRAGMA integrity_check afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.specs import make_spec
from tuner.errors import Unavailable
from tuner.executor import TrialOutcome
from tuner.scheduler import Scheduler
from tuner.storage import Storage
from tuner.trial import TrialState


def _pragma(storage: Storage, statement: str) -> None:
    """Run ``statement`` on every new connection of ``storage`` (and drop the old ones)."""

    def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute(statement)

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()


def _integrity(file: Path) -> str:
    with sqlite3.connect(file) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_a_full_disk_is_a_clear_error_and_corrupts_nothing(tmp_path: Path) -> None:
    file = tmp_path / "t.db"
    storage = Storage(f"sqlite:///{file}")
    storage.create_study(make_spec("full"))
    pages = sqlite3.connect(file).execute("PRAGMA page_count").fetchone()[0]
    _pragma(storage, f"PRAGMA max_page_count = {pages + 2}")
    scheduler = Scheduler(storage)
    with pytest.raises(Unavailable) as info:
        for _ in range(200):  # big trials until the file may not grow
            scheduler.top_up("full", want=64)
            t = storage.claim("full", "w" * 200, 60)
            storage.finish("full", t.number, t.attempt, TrialOutcome.failure("x" * 4000), 1)
    assert "full" in str(info.value)
    assert _integrity(file) == "ok"
    for t in storage.trials("full"):  # each trial whole: its row and its log agree
        if t.state is TrialState.FAILED:
            assert len(t.attempts) == 1 and t.error == "x" * 4000
        else:
            assert t.state in (TrialState.WAITING, TrialState.RUNNING) and not t.attempts


def test_a_locked_database_is_a_clear_error_then_works(tmp_path: Path) -> None:
    file = tmp_path / "t.db"
    storage = Storage(f"sqlite:///{file}")
    storage.create_study(make_spec("locked"))
    _pragma(storage, "PRAGMA busy_timeout = 200")
    other = sqlite3.connect(file, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Unavailable) as info:
            Scheduler(storage).top_up("locked", want=2)
        assert "locked" in str(info.value)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert Scheduler(storage).top_up("locked", want=2).waiting >= 2
    assert _integrity(file) == "ok"
