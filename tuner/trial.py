"""Trials: one evaluation of the objective at one point of the space, with its attempts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tuner.space import Params


class TrialState(enum.StrEnum):
    """``waiting -> running -> complete | failed | pruned``; a failed attempt may wait again."""

    WAITING = "waiting"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    PRUNED = "pruned"

    @property
    def finished(self) -> bool:
        return self in (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)


@dataclass(frozen=True)
class Attempt:
    """What became of one try of a trial (kept for every attempt that did not succeed too)."""

    number: int
    worker: str | None
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str  # a TrialState value, or "interrupted"/"lease expired"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "worker": self.worker,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "outcome": self.outcome,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Attempt:
        return cls(
            number=d["number"],
            worker=d.get("worker"),
            started_at=datetime.fromisoformat(d["started_at"]) if d.get("started_at") else None,
            finished_at=datetime.fromisoformat(d["finished_at"]) if d.get("finished_at") else None,
            outcome=d["outcome"],
            error=d.get("error"),
        )


@dataclass(frozen=True)
class Trial:
    """A trial as stored: ``attempt`` counts the claims so far (0 while never started).

    ``value`` is the optimised metric; ``values`` every number the objective returned;
    ``intermediate`` the ``(step, value)`` pairs reported along the way.
    """

    study: str
    number: int
    round: int
    params: Params
    state: TrialState
    attempt: int = 0
    value: float | None = None
    values: dict[str, float] = field(default_factory=dict)
    intermediate: tuple[tuple[int, float], ...] = ()
    worker: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_expires_at: datetime | None = None
    attempts: tuple[Attempt, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)  # the algorithm's notes on this point

    @property
    def resource(self) -> int | None:
        """What this trial may spend (its round's ``resource.max``: boosting rounds, epochs),
        None when its round gives no resource."""
        got = (self.meta or {}).get("resource")
        return int(got["max"]) if isinstance(got, dict) and "max" in got else None

    @property
    def min_resource(self) -> int | None:
        """Its round's ``resource.min`` (the first rung of a halving pruner), if any."""
        got = (self.meta or {}).get("resource")
        return int(got.get("min", 1)) if isinstance(got, dict) and "max" in got else None

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (CLI ``--json`` and the API)."""
        return {
            "study": self.study,
            "number": self.number,
            "round": self.round + 1,  # rounds are counted from 1 wherever users see them
            "state": self.state.value,
            "value": self.value,
            "values": self.values,
            "params": self.params,
            "attempts": self.attempt,
            "intermediate": [list(x) for x in self.intermediate],
            "worker": self.worker,
            "error": self.error,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration": self.duration,
            "attempt_log": [a.to_dict() for a in self.attempts],
            "meta": self.meta,
            "lease_expires_at": _iso(self.lease_expires_at),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trial:
        """The trial ``to_dict`` wrote (an exported study read back)."""
        return cls(
            study=d["study"],
            number=int(d["number"]),
            round=int(d["round"]) - 1,
            params=dict(d["params"]),
            state=TrialState(d["state"]),
            attempt=int(d["attempts"]),
            value=d.get("value"),
            values=dict(d.get("values") or {}),
            intermediate=tuple((int(a), float(b)) for a, b in d.get("intermediate") or ()),
            worker=d.get("worker"),
            error=d.get("error"),
            created_at=_time(d.get("created_at")),
            started_at=_time(d.get("started_at")),
            finished_at=_time(d.get("finished_at")),
            lease_expires_at=_time(d.get("lease_expires_at")),
            attempts=tuple(Attempt.from_dict(a) for a in d.get("attempt_log") or ()),
            meta=dict(d.get("meta") or {}),
        )


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
