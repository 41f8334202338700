"""API tokens: random secrets shown once, stored as SHA-256 digests, each with a project and
a role (``read`` < ``write`` < ``admin``)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import sessionmaker

from tuner.errors import SpecError
from tuner.projects import valid_project
from tuner.storage.schema import TokenRow

ROLES = ("read", "write", "admin")
_PREFIX = "tnr_"


@dataclass(frozen=True)
class Token:
    """Who a presented token says the caller is."""

    id: int
    project: str
    role: str
    label: str
    created_at: datetime

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """Tokens in the study database (the ``tokens`` table).

    ``verify`` remembers what it found for ``CACHE_SECONDS``, so that a busy worker does not cost
    a query per request; a revoked token stops working within that time (at once in this
    process).
    """

    CACHE_SECONDS = 5.0

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._cache: dict[str, tuple[float, Token | None]] = {}

    def create(self, project: str, role: str, label: str = "") -> tuple[str, Token]:
        """A new token; the secret is returned here and never again."""
        if not valid_project(project):
            raise SpecError("project", "letters, digits, '.', '_' or '-', at most 64 characters")
        if role not in ROLES:
            raise SpecError("role", f"must be one of {', '.join(ROLES)}")
        secret = _PREFIX + secrets.token_urlsafe(32)
        row = TokenRow(
            digest=digest(secret),
            project=project,
            role=role,
            label=label[:128],
            created_at=datetime.now(UTC),
        )
        with self._sessions.begin() as s:
            s.add(row)
        return secret, _token(row)

    def verify(self, secret: str) -> Token | None:
        if not secret.startswith(_PREFIX):
            return None
        key = digest(secret)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self._sessions.begin() as s:
            row = s.scalars(select(TokenRow).where(TokenRow.digest == key)).first()
            token = _token(row) if row is not None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self.CACHE_SECONDS, token)
        return token

    def count(self) -> int:
        with self._sessions.begin() as s:
            return int(s.scalar(select(func.count()).select_from(TokenRow)) or 0)

    def list(self) -> list[Token]:
        with self._sessions.begin() as s:
            return [_token(r) for r in s.scalars(select(TokenRow).order_by(TokenRow.id))]

    def revoke(self, token_id: int) -> bool:
        self._cache.clear()
        with self._sessions.begin() as s:
            return bool(s.execute(delete(TokenRow).where(TokenRow.id == token_id)).rowcount)  # type: ignore[attr-defined]


def _token(row: TokenRow) -> Token:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return Token(row.id, row.project, row.role, row.label, created)
