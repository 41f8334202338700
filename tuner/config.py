"""Settings from ``TUNER_*`` environment variables, read and checked in one place.

Every setting has one variable; a bad value (``TUNER_LEASE_SECONDS=abc``) is a ``SettingsError``
naming the variable, which the CLI prints in one line (exit 2). Command-line flags override
the variables (``dataclasses.replace``). The client reads its own two variables (``TUNER_URL``,
``TUNER_TOKEN``) itself: it imports nothing of the server.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from tuner.errors import TunerError
from tuner.run_policy import RunPolicy

DEFAULT_DATABASE_URL = "sqlite:///tuner.db"


class SettingsError(TunerError):
    """An environment variable holds a value its setting cannot take."""

    code = "invalid_setting"


@dataclass(frozen=True)
class Limits:
    """What one study may ask of a server (a study past one is refused, naming the field)."""

    trials: int = 1_000_000  # a study's whole budget, and each round's
    workers: int = 256  # an executor's ``workers`` / ``parallelism``
    parallelism: int = 4096  # a round's ``parallelism``
    trial_timeout: float = 30 * 86400.0  # seconds
    retries: int = 100


def _env(name: str, **kw: Any) -> Any:
    return field(metadata={"env": name}, **kw)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, each field read from the variable in its metadata."""

    database_url: str = _env("TUNER_DATABASE_URL", default=DEFAULT_DATABASE_URL)
    lease_seconds: float = _env("TUNER_LEASE_SECONDS", default=60.0)
    artifacts_dir: str = _env("TUNER_ARTIFACTS_DIR", default="artifacts")
    host: str = _env("TUNER_HOST", default="127.0.0.1")
    port: int = _env("TUNER_PORT", default=8000)
    max_body_bytes: int = _env("TUNER_MAX_BODY_BYTES", default=1 << 20)
    allow_runs: bool = _env("TUNER_ALLOW_RUNS", default=False)
    allow_functions: tuple[str, ...] = _env("TUNER_ALLOW_FUNCTIONS", default=())
    allow_commands: tuple[str, ...] = _env("TUNER_ALLOW_COMMANDS", default=())
    allow_data: tuple[str, ...] = _env("TUNER_ALLOW_DATA", default=())
    allow_executors: tuple[str, ...] = _env("TUNER_ALLOW_EXECUTORS", default=("local", "command"))
    max_trials: int = _env("TUNER_MAX_TRIALS", default=Limits.trials)
    max_workers: int = _env("TUNER_MAX_WORKERS", default=Limits.workers)
    max_parallelism: int = _env("TUNER_MAX_PARALLELISM", default=Limits.parallelism)
    max_trial_timeout: float = _env("TUNER_MAX_TRIAL_TIMEOUT", default=Limits.trial_timeout)
    max_retries: int = _env("TUNER_MAX_RETRIES", default=Limits.retries)
    access_log: bool = _env("TUNER_ACCESS_LOG", default=False)
    ssl_certfile: str = _env("TUNER_SSL_CERTFILE", default="")
    ssl_keyfile: str = _env("TUNER_SSL_KEYFILE", default="")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment gives; SettingsError names a variable with a bad value."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"], "")
            if raw.strip():
                values[f.name] = _PARSERS[f.name](f.metadata["env"], raw.strip())
        return cls(**values)

    @property
    def limits(self) -> Limits:
        return Limits(
            trials=self.max_trials,
            workers=self.max_workers,
            parallelism=self.max_parallelism,
            trial_timeout=self.max_trial_timeout,
            retries=self.max_retries,
        )

    @property
    def run_policy(self) -> RunPolicy:
        return RunPolicy(
            enabled=self.allow_runs,
            functions=self.allow_functions,
            commands=self.allow_commands,
            data=tuple(os.path.realpath(d) for d in self.allow_data),
            executors=self.allow_executors,
        )


def variables() -> list[str]:
    """Every variable ``Settings`` reads, for the documentation."""
    return [f.metadata["env"] for f in fields(Settings)]


def _text(name: str, raw: str) -> str:
    return raw


def _positive(kind: Callable[[str], Any]) -> Callable[[str, str], Any]:
    def parse(name: str, raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or value <= 0 or (isinstance(value, float) and not math.isfinite(value)):
            what = "integer" if kind is int else "number"
            raise SettingsError(f"{name}: must be a positive {what}, not {raw!r}", field=name)
        return value

    return parse


def _port(name: str, raw: str) -> int:
    value: int = _positive(int)(name, raw)
    if value > 65535:
        raise SettingsError(f"{name}: must be a port number (1-65535), not {raw!r}", field=name)
    return value


def _flag(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: must be true or false (1/0, yes/no), not {raw!r}", field=name)


def _file(name: str, raw: str) -> str:
    if not os.path.isfile(raw):
        raise SettingsError(f"{name}: no such file: {raw}", field=name)
    return raw


def _names(name: str, raw: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not items:
        raise SettingsError(f"{name}: must be a comma-separated list, not {raw!r}", field=name)
    return items


def _database(name: str, raw: str) -> str:
    from tuner.storage.engine import check_url

    try:
        check_url(raw)
    except TunerError as exc:
        raise SettingsError(f"{name}: {exc}", field=name) from None
    return raw


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "database_url": _database,
    "lease_seconds": _positive(float),
    "artifacts_dir": _text,
    "host": _text,
    "port": _port,
    "max_body_bytes": _positive(int),
    "allow_runs": _flag,
    "allow_functions": _names,
    "allow_commands": _names,
    "allow_data": _names,
    "allow_executors": _names,
    "max_trials": _positive(int),
    "max_workers": _positive(int),
    "max_parallelism": _positive(int),
    "max_trial_timeout": _positive(float),
    "max_retries": _positive(int),
    "access_log": _flag,
    "ssl_certfile": _file,
    "ssl_keyfile": _file,
}
