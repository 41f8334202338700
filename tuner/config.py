"""Settings from ``TUNER_*`` environment variables, read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///tuner.db"
DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    lease_seconds: float = 60.0  # a running trial whose worker is silent this long runs again
    artifacts_dir: str = "artifacts"  # trials save models under <this>/<study>/<trial>-<attempt>
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1 << 20

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=env.get("TUNER_DATABASE_URL") or DEFAULT_DATABASE_URL,
            lease_seconds=float(env.get("TUNER_LEASE_SECONDS") or 60.0),
            host=env.get("TUNER_HOST") or "127.0.0.1",
            port=int(env.get("TUNER_PORT") or 8000),
            max_body_bytes=int(env.get("TUNER_MAX_BODY_BYTES") or 1 << 20),
        )


def config_dir() -> Path:
    """Where the CLI and the client keep the local credentials (``$TUNER_CONFIG_DIR``, else
    ``$XDG_CONFIG_HOME/tuner``, else ``~/.config/tuner``)."""
    if env := os.environ.get("TUNER_CONFIG_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tuner"
