"""Engines for SQLite (WAL, the embedded default) and PostgreSQL, and schema migrations."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import StaticPool

from tuner.errors import TunerError

HEAD = "0012"  # the newest migration in migrations/versions
_MIGRATIONS = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` (and ``postgres://``) and use psycopg 3 for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


SUPPORTED = "sqlite:///path/to/file.db or postgresql://user@host:port/database"


def check_url(url: str) -> URL:
    """The parsed URL of a database Tuner supports (SQLite or PostgreSQL), else a TunerError
    that names the supported kinds."""
    try:
        parsed = make_url(normalise_url(url))
    except Exception:  # SQLAlchemy's ArgumentError
        raise TunerError(f"bad database URL {url!r}: expected {SUPPORTED}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise TunerError(
            f"unsupported database {parsed.get_backend_name()!r} in {url!r}: "
            f"Tuner keeps studies in SQLite or PostgreSQL ({SUPPORTED})"
        )
    return parsed


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for PostgreSQL or an in-memory SQLite)."""
    parsed = check_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()  # type: ignore[arg-type]


def make_engine(url: str, must_exist: bool = False) -> Engine:
    """An engine with the settings Tuner relies on; the schema is brought up to date.

    ``must_exist``: an SQLite file that does not exist is an error instead of a new database
    (for commands that only read, so that a mistyped path says so)."""
    parsed = check_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        file = sqlite_file(url)
        if file is None:
            kwargs["poolclass"] = StaticPool
        elif must_exist and not file.exists():
            raise TunerError(
                f"no database at {file} (a mistyped --db? a new database is made "
                "only by commands that write, such as 'tuner run')"
            )
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
    elif parsed.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
        kwargs["pool_size"] = 5
        kwargs["max_overflow"] = 10
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        upgrade(engine)
    except TunerError:
        raise
    except Exception as exc:
        raise TunerError(f"cannot open database {parsed.render_as_string()}: {exc}") from None
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    # A study of 10,000 trials is tens of MB: keep it in memory rather than in SQLite's default
    # 2 MB page cache, so that claims do not slow down as the study grows.
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA mmap_size=268435456")
    cur.close()


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Run pending migrations, one process at a time; a no-op (one query) when up to date."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return
    with _migration_lock(engine):
        from alembic import command
        from alembic.config import Config

        with engine.begin() as conn:
            if current_revision(conn) == HEAD:
                return
            cfg = Config()
            cfg.set_main_option("script_location", str(_MIGRATIONS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        key = zlib.crc32(b"tuner-migrations")
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    # A lock file in the temporary folder, named after the database's path: never next to the
    # database, and never the database file itself (closing another descriptor of it would drop
    # the POSIX locks SQLite holds on it in this process).
    path = os.path.realpath(Path(database).expanduser())
    name = f"tuner-{hashlib.sha256(path.encode()).hexdigest()[:16]}.migrate.lock"
    with open(os.path.join(tempfile.gettempdir(), name), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
