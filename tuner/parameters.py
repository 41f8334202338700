"""Typed parameters of a search space: float, int and categorical, each maybe conditional.

Every parameter maps to and from ``[0, 1]`` so that algorithms can work on the unit cube without
knowing the types; ``tuner.parameter_spec.parse_parameter`` reads one from its plain-dict form.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tuner.spec_values import is_number

ParamValue = float | int | str | bool | None

_FLOAT_DIGITS = 12  # significant digits kept when a float names a point (see SearchSpace.key)


def round_significant(x: float, digits: int = _FLOAT_DIGITS) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def on_step(low: float, step: float, k: int) -> float:
    """``low + k * step`` without its rounding noise (0.0, not 5.5e-17, for -0.3 + 3 * 0.1)."""
    x = low + k * step
    return 0.0 if abs(x) < 1e-9 * step else round_significant(x)


@dataclass(frozen=True)
class Condition:
    """Active only while parameter ``parent`` takes one of ``values``."""

    parent: str
    values: tuple[ParamValue, ...]


@dataclass(frozen=True)
class Parameter(ABC):
    """Common part of all parameter types: a name and the conditions that make it active."""

    name: str
    when: tuple[Condition, ...] = field(default=(), kw_only=True)

    kind: str = field(default="", init=False, repr=False)

    @abstractmethod
    def contains(self, value: object) -> bool:
        """Whether ``value`` is a legal value of this parameter."""

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """The value at position ``u`` of ``[0, 1]``; uniform ``u`` gives the prior."""

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """The position in ``[0, 1]`` of a legal value (inverse of ``from_unit``)."""

    @abstractmethod
    def grid_values(self, resolution: int) -> list[Any]:
        """At most ``resolution`` distinct values spread evenly over the range (all choices)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The plain-dict form that ``SearchSpace.from_dict`` reads back."""

    def _when_dict(self) -> dict[str, Any]:
        if not self.when:
            return {}
        return {
            "when": {
                c.parent: (c.values[0] if len(c.values) == 1 else list(c.values)) for c in self.when
            }
        }


@dataclass(frozen=True)
class NumericParameter(Parameter):
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    step: float | None = None

    def _raw_from_unit(self, u: float) -> float:
        if u <= 0.0:
            return self.low
        if u >= 1.0:
            return self.high
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def _raw_to_unit(self, x: float) -> float:
        return min(max(self.position(x), 0.0), 1.0)

    def position(self, x: float) -> float:
        """Where ``x`` lies on this parameter's unit scale, not clipped: below 0 or above 1 for
        a value outside the range (a trial of the full space seen from a narrowed one)."""
        if self.log:
            span = math.log(self.high) - math.log(self.low)
            return (math.log(max(x, 1e-300)) - math.log(self.low)) / span
        return (x - self.low) / (self.high - self.low)

    @abstractmethod
    def _snap(self, x: float) -> float | int:
        """The nearest legal value to ``x``."""

    def from_unit(self, u: float) -> float | int:
        return self._snap(self._raw_from_unit(u))

    def snapped_units(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``from_unit`` of every element of ``u`` and ``to_unit`` of the value, as two arrays,
        for a parameter on a grid (an int, a stepped float; ValueError on NaN): each element's
        grid index computed at once with the same arithmetic as ``from_unit``, each value met
        and its position then found once (a Bayesian suggestion snaps thousands of candidates)."""
        u = np.asarray(u, dtype=float)
        if np.isnan(u).any():
            raise ValueError("cannot snap NaN")
        index = self._grid_index(u)
        met, inverse = np.unique(index, return_inverse=True)
        values = [self._on_grid(int(k)) for k in met]
        units = [self.to_unit(v) for v in values]
        return (
            np.array(values, dtype=float)[inverse].reshape(u.shape),
            np.array(units, dtype=float)[inverse].reshape(u.shape),
        )

    def _grid_index(self, u: np.ndarray) -> np.ndarray:
        """The grid index ``_snap(_raw_from_unit(u))`` lands on, element by element."""
        raise TypeError(f"{self.name} is not on a grid")

    def _on_grid(self, k: int) -> float | int:
        """The value at grid index ``k``."""
        raise TypeError(f"{self.name} is not on a grid")

    def to_unit(self, value: Any) -> float:
        return self._raw_to_unit(float(value))

    def grid_values(self, resolution: int) -> list[Any]:
        if resolution <= 1:
            return [self.from_unit(0.5)]
        seen: dict[Any, None] = {}
        for i in range(resolution):
            seen.setdefault(self.from_unit(i / (resolution - 1)), None)
        return list(seen)

    def narrowed(self, center: float | int, fraction: float) -> NumericParameter:
        """The same parameter on a range ``fraction`` as wide (in unit space) around ``center``."""
        c = self.to_unit(center)
        lo, hi = c - fraction / 2, c + fraction / 2
        if lo < 0:
            lo, hi = 0.0, min(1.0, hi - lo)
        if hi > 1:
            lo, hi = max(0.0, lo - (hi - 1)), 1.0
        return self._with_bounds(self._raw_from_unit(lo), self._raw_from_unit(hi))

    @abstractmethod
    def _with_bounds(self, low: float, high: float) -> NumericParameter:
        """A copy on ``[low, high]`` widened to legal bounds."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None and not (self.kind == "int" and self.step == 1):
            out["step"] = self.step
        return out | self._when_dict()


@dataclass(frozen=True)
class FloatParameter(NumericParameter):
    """A real number in ``[low, high]``, on a log scale or on a ``step`` grid if asked."""

    kind: str = field(default="float", init=False, repr=False)

    def contains(self, value: object) -> bool:
        if not is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
            return False
        x = float(value)  # type: ignore[arg-type]
        tol = 1e-9 * max(1.0, abs(self.high) + abs(self.low))
        if not (self.low - tol <= x <= self.high + tol):
            return False
        if self.step is not None:
            k = (x - self.low) / self.step
            return abs(k - round(k)) < 1e-6
        return True

    def _snap(self, x: float) -> float:
        if self.step is not None:
            k = round((x - self.low) / self.step)
            k = min(max(k, 0), int(math.floor((self.high - self.low) / self.step + 1e-9)))
            return on_step(self.low, self.step, k)
        return min(max(x, self.low), self.high)

    def _grid_index(self, u: np.ndarray) -> np.ndarray:
        if self.step is None:
            return super()._grid_index(u)
        # _raw_from_unit (a stepped float is never on a log scale), then _snap's index
        x = np.where(
            u <= 0.0, self.low, np.where(u >= 1.0, self.high, self.low + u * (self.high - self.low))
        )
        last = int(math.floor((self.high - self.low) / self.step + 1e-9))
        return np.clip(np.rint((x - self.low) / self.step), 0, last)

    def _on_grid(self, k: int) -> float:
        assert self.step is not None
        return on_step(self.low, self.step, k)

    def _with_bounds(self, low: float, high: float) -> FloatParameter:
        if self.step is not None:
            k_lo = math.floor((low - self.low) / self.step + 1e-9)
            k_hi = math.ceil((high - self.low) / self.step - 1e-9)
            if k_hi <= k_lo:
                k_hi = k_lo + 1
            low = on_step(self.low, self.step, k_lo)
            high = min(on_step(self.low, self.step, k_hi), self.high)
        if high <= low:
            return self
        return replace(self, low=low, high=high)


@dataclass(frozen=True)
class IntParameter(NumericParameter):
    """An integer in ``[low, high]`` (both included), on a log scale or every ``step`` if asked."""

    low: int = 0
    high: int = 1
    step: int = 1
    kind: str = field(default="int", init=False, repr=False)

    @property
    def size(self) -> int:
        return (self.high - self.low) // self.step + 1

    def contains(self, value: object) -> bool:
        if not is_number(value):
            return False
        number: float = value  # type: ignore[assignment]
        if not math.isfinite(number) or float(number) != int(number):
            return False
        x = int(number)
        return self.low <= x <= self.high and (x - self.low) % self.step == 0

    def _raw_from_unit(self, u: float) -> float:
        # Each integer owns an equal share of the unit interval (of its log in log scale).
        u = min(max(u, 0.0), 1.0)
        lo, hi = self.low - 0.5 * self.step, self.high + 0.5 * self.step
        if self.log:
            lo, hi = max(lo, self.low * 0.5), hi
            return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        return lo + u * (hi - lo)

    def position(self, x: float) -> float:
        lo, hi = self.low - 0.5 * self.step, self.high + 0.5 * self.step
        if self.log:
            lo = max(lo, self.low * 0.5)
            return (math.log(max(x, 1e-300)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (x - lo) / (hi - lo)

    def _snap(self, x: float) -> int:
        k = round((x - self.low) / self.step)
        k = min(max(k, 0), self.size - 1)
        return int(self.low + k * self.step)

    def _grid_index(self, u: np.ndarray) -> np.ndarray:
        # _raw_from_unit, then _snap's index (np.rint rounds half to even, as round does)
        u = np.minimum(np.maximum(u, 0.0), 1.0)
        lo, hi = self.low - 0.5 * self.step, self.high + 0.5 * self.step
        if self.log:
            lo, hi = max(lo, self.low * 0.5), hi
            x = np.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        else:
            x = lo + u * (hi - lo)
        return np.clip(np.rint((x - self.low) / self.step), 0, self.size - 1)

    def _on_grid(self, k: int) -> int:
        return int(self.low + k * self.step)

    def grid_values(self, resolution: int) -> list[Any]:
        if self.size <= resolution:
            return list(range(self.low, self.high + 1, self.step))
        return super().grid_values(resolution)

    def _with_bounds(self, low: float, high: float) -> IntParameter:
        lo = self._snap(low)
        hi = self._snap(high)
        if hi <= lo:
            hi = min(lo + self.step, self.high)
            lo = max(hi - self.step, self.low)
        if hi <= lo:
            return self
        return replace(self, low=lo, high=hi)


@dataclass(frozen=True)
class CategoricalParameter(Parameter):
    """One of a fixed tuple of JSON scalars (strings, numbers, booleans, null)."""

    choices: tuple[ParamValue, ...] = ()
    kind: str = field(default="categorical", init=False, repr=False)

    def index(self, value: object) -> int:
        for i, choice in enumerate(self.choices):
            if choice == value and type(choice) is type(value):
                return i
            if is_number(choice) and is_number(value) and choice == value:
                return i
        raise ValueError(f"{value!r} is not one of {list(self.choices)}")

    def contains(self, value: object) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def from_unit(self, u: float) -> ParamValue:
        n = len(self.choices)
        return self.choices[min(int(min(max(u, 0.0), 1.0) * n), n - 1)]

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def grid_values(self, resolution: int) -> list[Any]:
        return list(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)} | self._when_dict()
