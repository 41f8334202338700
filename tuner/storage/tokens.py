"""API tokens: random secrets shown once, stored as SHA-256 digests, each with a project and
a role (``read`` < ``write`` < ``admin``), maybe an expiry; revoked ones are kept, marked."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tuner.errors import NotFound, SpecError
from tuner.projects import valid_project
from tuner.storage.base import unavailable
from tuner.storage.schema import TokenRow

ROLES = ("read", "write", "admin")
_PREFIX = "tnr_"
_CHANNEL = "tuner_tokens"  # PostgreSQL: a revocation is announced here to every replica
log = logging.getLogger("tuner.tokens")


@dataclass(frozen=True)
class Token:
    """Who a presented token says the caller is."""

    id: int
    project: str
    role: str
    label: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def live(self, at: datetime) -> bool:
        """Neither revoked nor expired at ``at``."""
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if not self.live(datetime.now(UTC)) else "live"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# tokens as stored, for a migration (an alias: ``list`` is a method name in TokenStore)
TokenRows = list[dict[str, object]]


class TokenStore:
    """Tokens in the study database (the ``tokens`` table).

    ``verify`` remembers what it found for ``CACHE_SECONDS``, so that a busy worker does not cost
    a query per request; an expiry is checked on every request against the remembered token. A
    revocation clears the cache of this process at once, and of every server on the same
    PostgreSQL database at once too (``listen``: LISTEN/NOTIFY); another process on an SQLite
    file (``tuner token revoke`` beside ``tuner serve``) is heard within ``CACHE_SECONDS``.
    ``last_used_at`` is written at most once a ``LAST_USED_EVERY`` per token.
    """

    CACHE_SECONDS = 5.0
    LAST_USED_EVERY = 60.0

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._cache: dict[str, tuple[float, Token | None]] = {}

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise unavailable(exc) from exc

    def create(
        self, project: str, role: str, label: str = "", expires_in: timedelta | None = None
    ) -> tuple[str, Token]:
        """A new token; the secret is returned here and never again."""
        if not valid_project(project):
            raise SpecError("project", "letters, digits, '.', '_' or '-', at most 64 characters")
        if role not in ROLES:
            raise SpecError("role", f"must be one of {', '.join(ROLES)}")
        if expires_in is not None and expires_in <= timedelta(0):
            raise SpecError("expires", "must be a positive duration")
        secret = _PREFIX + secrets.token_urlsafe(32)
        t = datetime.now(UTC)
        row = TokenRow(
            digest=digest(secret),
            project=project,
            role=role,
            label=label[:128],
            created_at=t,
            expires_at=None if expires_in is None else t + expires_in,
        )
        with self._transaction() as s:
            s.add(row)
        return secret, _token(row)

    def verify(self, secret: str) -> Token | None:
        """The live token of ``secret``, else None (unknown, revoked or expired)."""
        if not secret.startswith(_PREFIX):
            return None
        key = digest(secret)
        now = datetime.now(UTC)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            token = hit[1]
            return token if token is not None and token.live(now) else None
        with self._transaction() as s:
            row = s.scalars(select(TokenRow).where(TokenRow.digest == key)).first()
            token = _token(row) if row is not None else None
            if (
                token is not None
                and token.live(now)
                and (
                    token.last_used_at is None
                    or (now - token.last_used_at).total_seconds() > self.LAST_USED_EVERY
                )
            ):
                row.last_used_at = now  # type: ignore[union-attr]
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self.CACHE_SECONDS, token)
        return token if token is not None and token.live(now) else None

    def count(self) -> int:
        with self._transaction() as s:
            return int(s.scalar(select(func.count()).select_from(TokenRow)) or 0)

    def list(self) -> list[Token]:
        with self._transaction() as s:
            return [_token(r) for r in s.scalars(select(TokenRow).order_by(TokenRow.id))]

    def rows(self) -> TokenRows:
        """Every token as stored (its digest, never a secret), for a migration."""
        columns = (
            "digest",
            "project",
            "role",
            "label",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        )
        with self._transaction() as s:
            return [
                {c: getattr(r, c) for c in columns}
                for r in s.scalars(select(TokenRow).order_by(TokenRow.id))
            ]

    def restore(self, rows: TokenRows) -> int:
        """Store tokens as ``rows`` gave them (skipping digests already here); how many."""
        with self._transaction() as s:
            known = set(s.scalars(select(TokenRow.digest)))
            new = [TokenRow(**row) for row in rows if row["digest"] not in known]
            s.add_all(new)
        self._cache.clear()
        return len(new)

    def revoke(self, token_id: int) -> Token:
        """Mark a token revoked (kept for the record); NotFound if there is none of that id."""
        with self._transaction() as s:
            row = s.get(TokenRow, token_id)
            if row is None:
                raise NotFound(f"no token {token_id}")
            if row.revoked_at is None:
                s.execute(
                    update(TokenRow)
                    .where(TokenRow.id == token_id)
                    .values(revoked_at=datetime.now(UTC))
                )
                if self._engine.dialect.name == "postgresql":
                    s.execute(text(f"NOTIFY {_CHANNEL}"))
            s.refresh(row)
            token = _token(row)
        self._cache.clear()
        return token

    def listen(self, stop: threading.Event) -> None:
        """On PostgreSQL, until ``stop``: clear the cache whenever any server revokes a token
        (run in a thread of each server). Elsewhere it returns at once."""
        if self._engine.dialect.name != "postgresql":
            return
        import psycopg

        url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        said = False
        while not stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {_CHANNEL}")
                    self._cache.clear()  # anything revoked while we were not listening
                    said = False
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._cache.clear()
            except psycopg.Error as exc:  # the database went away: listen again when it is back
                if not said:
                    log.warning(
                        "token revocations: not listening (%s); retrying", str(exc).splitlines()[0]
                    )
                    said = True
                self._cache.clear()
                stop.wait(2.0)


def _aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def _token(row: TokenRow) -> Token:
    return Token(
        row.id,
        row.project,
        row.role,
        row.label,
        _aware(row.created_at),  # type: ignore[arg-type]
        _aware(row.expires_at),
        _aware(row.last_used_at),
        _aware(row.revoked_at),
    )
