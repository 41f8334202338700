"""Settings from ``TUNER_*`` environment variables, read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///tuner.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    lease_seconds: float = 60.0  # a running trial whose worker is silent this long runs again

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("TUNER_DATABASE_URL") or DEFAULT_DATABASE_URL,
            lease_seconds=float(os.environ.get("TUNER_LEASE_SECONDS") or 60.0),
        )
