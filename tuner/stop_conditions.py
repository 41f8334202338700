"""A study's stop conditions: ``stop: {target: 0.99, time_budget: 2h, max_failed: 20,
patience: 50}``; the first one met ends the study (its waiting trials are cancelled, running ones
finish) and its name is the study's ``stop_reason``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuner.errors import SpecError
from tuner.spec_values import integer, number, positive

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
KEYS = ("target", "time_budget", "max_failed", "patience")


def seconds(value: object, where: str) -> float:
    """A duration: a number of seconds, or ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"``."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise SpecError(
                where, f"must be seconds or a duration such as 30m or 2h, not {value!r}"
            )
        value = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    return positive(value, where, unit=" of seconds")


@dataclass(frozen=True)
class StopConditions:
    """When a study ends before its plan does (None: that condition is off).

    ``target``: the best value reaches it (at or below when minimising, at or above when
    maximising); ``time_budget``: seconds since the study's first trial started;
    ``max_failed``: this many trials failed for good; ``patience``: this many trials finished
    (complete, pruned or failed) after the best one without beating it.
    """

    target: float | None = None
    time_budget: float | None = None
    max_failed: int | None = None
    patience: int | None = None

    @property
    def any(self) -> bool:
        return any(getattr(self, k) is not None for k in KEYS)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in KEYS if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, raw: object) -> StopConditions:
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise SpecError("", f"must be a mapping of conditions ({', '.join(KEYS)})")
        unknown = sorted(set(map(str, raw)) - set(KEYS))
        if unknown:
            raise SpecError(unknown[0], f"is not a stop condition (they are {', '.join(KEYS)})")
        get = raw.get
        return cls(
            target=None if get("target") is None else float(number(get("target"), "target")),
            time_budget=None
            if get("time_budget") is None
            else seconds(get("time_budget"), "time_budget"),
            max_failed=None
            if get("max_failed") is None
            else integer(get("max_failed"), "max_failed", 1),
            patience=None if get("patience") is None else integer(get("patience"), "patience", 1),
        )

    def reason(
        self,
        best: float | None,
        maximize: bool,
        elapsed: float | None,
        failed: int,
        since_best: int | None,
    ) -> str | None:
        """The first condition met (``target``, ``time_budget``, ``max_failed``,
        ``patience``), or None. ``since_best``: trials finished after the best one."""
        if self.target is not None and best is not None:
            if (best >= self.target) if maximize else (best <= self.target):
                return "target"
        if self.time_budget is not None and elapsed is not None and elapsed >= self.time_budget:
            return "time_budget"
        if self.max_failed is not None and failed >= self.max_failed:
            return "max_failed"
        if self.patience is not None and since_best is not None and since_best >= self.patience:
            return "patience"
        return None
