"""The search space: named, typed parameters, their conditions, the unit cube, grids, narrowing.

A parameter is ``float`` or ``int`` (with ``low``/``high``, optional ``log`` and ``step``) or
``categorical`` (``choices``); any of them may be conditional (``when: {booster: dart}``), that is
active only when its parents take one of the given values. Parameter sets (``Params``) hold the
active parameters only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuner.errors import SpecError
from tuner.parameter_spec import parse_parameter
from tuner.parameters import (
    CategoricalParameter,
    Condition,
    FloatParameter,
    IntParameter,
    NumericParameter,
    Parameter,
    ParamValue,
    is_number,
    round_significant,
)

__all__ = [
    "CategoricalParameter",
    "Condition",
    "FloatParameter",
    "IntParameter",
    "ParamValue",
    "Parameter",
    "Params",
    "SearchSpace",
]

Params = dict[str, Any]

_MAX_GRID = 1_000_000


@dataclass(frozen=True)
class SearchSpace:
    """An ordered set of parameters; parents always come before the parameters they condition."""

    parameters: tuple[Parameter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {p.name: p for p in self.parameters})
        # how ``positions`` reads each parameter, decided once (type checks on every trial of
        # a long history were a good part of a suggestion's time)
        object.__setattr__(
            self,
            "_readers",
            tuple(
                (i, p, isinstance(p, CategoricalParameter), isinstance(p, NumericParameter))
                for i, p in enumerate(self.parameters)
            ),
        )

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, spec: object) -> SearchSpace:
        """Parse ``{name: {type: ..., ...}}``; a bad entry raises SpecError naming its field."""
        if not isinstance(spec, Mapping) or not spec:
            raise SpecError("", "must be a non-empty mapping of parameter name to definition")
        params = [parse_parameter(str(name), body) for name, body in spec.items()]
        return cls(_ordered(params))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {p.name: p.to_dict() for p in self.parameters}

    # -- lookup -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def __getitem__(self, name: str) -> Parameter:
        return self._by_name[name]  # type: ignore[attr-defined,no-any-return]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name  # type: ignore[attr-defined]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def is_active(self, parameter: Parameter, params: Mapping[str, Any]) -> bool:
        """Whether ``parameter`` takes part, given the values its parents have in ``params``."""
        for cond in parameter.when:
            if cond.parent not in params:
                return False
            parent = self[cond.parent]
            if not any(_same(params[cond.parent], v, parent) for v in cond.values):
                return False
        return True

    # -- checking -----------------------------------------------------------------------------

    def validate(self, params: object, field_name: str = "params") -> Params:
        """Check a parameter set against the space and return it normalised (ints as int).

        Every active parameter must be present and in range; an inactive or unknown one refused.
        """
        if not isinstance(params, Mapping):
            raise SpecError(field_name, "must be a mapping of parameter name to value")
        unknown = [k for k in params if k not in self]
        if unknown:
            raise SpecError(f"{field_name}.{unknown[0]}", "is not a parameter of the space")
        out: Params = {}
        for p in self.parameters:
            where = f"{field_name}.{p.name}"
            if not self.is_active(p, out):
                if p.name in params:
                    raise SpecError(where, "is inactive under its condition and must be absent")
                continue
            if p.name not in params:
                raise SpecError(where, "is missing")
            value = params[p.name]
            if not p.contains(value):
                raise SpecError(where, f"{value!r} is outside the parameter's domain")
            if isinstance(p, IntParameter):
                value = int(value)
            elif isinstance(p, FloatParameter):
                value = float(value)
            out[p.name] = value
        return out

    def contains(self, params: Mapping[str, Any]) -> bool:
        try:
            self.validate(params)
        except SpecError:
            return False
        return True

    def key(self, params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        """A hashable name for a point, equal for points that differ only in float noise."""
        items = []
        for name in sorted(params):
            v = params[name]
            kind = type(v)
            if kind is float:  # the common cases first, as the general ones below decide them
                items.append((name, ("n", round_significant(v))))
            elif kind is int or kind is str:
                items.append((name, ("n" if kind is int else "str", v)))
            else:
                if isinstance(v, float):
                    v = round_significant(v)
                items.append((name, (type(v).__name__ if not is_number(v) else "n", v)))
        return tuple(items)

    # -- the unit cube ------------------------------------------------------------------------

    def from_unit(self, u: Sequence[float] | np.ndarray) -> Params:
        """The point of the unit cube ``u`` (one coordinate per parameter, in order) as params.

        Coordinates of parameters that end up inactive are ignored.
        """
        out: Params = {}
        for p, x in zip(self.parameters, u, strict=True):
            if self.is_active(p, out):
                out[p.name] = p.from_unit(float(x))
        return out

    def to_unit(self, params: Mapping[str, Any]) -> np.ndarray:
        """Unit-cube coordinates of ``params``; NaN for inactive (absent) parameters."""
        return np.array(
            [p.to_unit(params[p.name]) if p.name in params else np.nan for p in self.parameters],
            dtype=float,
        )

    def positions(self, params: Mapping[str, Any]) -> np.ndarray | None:
        """Unit-scale coordinates of ``params`` like ``to_unit`` but not clipped, for points that
        may lie outside this space's ranges (the history seen from a narrowed space): None if
        ``params`` do not fit the space's structure (a category it lacks, a parameter active
        here but absent there, or the other way round)."""
        if not params.keys() <= self._by_name.keys():  # type: ignore[attr-defined]
            return None
        out = [math.nan] * len(self.parameters)
        for i, p, categorical, numeric in self._readers:  # type: ignore[attr-defined]
            active = not p.when or self.is_active(p, params)
            if active != (p.name in params):
                return None
            if not active:
                continue
            value = params[p.name]
            if categorical:
                if not p.contains(value):
                    return None
                out[i] = p.to_unit(value)
            elif numeric:
                if (type(value) is not float and not is_number(value)) or not math.isfinite(value):
                    return None
                out[i] = p.position(float(value))
        return np.array(out, dtype=float)

    def sample(self, rng: np.random.Generator) -> Params:
        return self.from_unit(rng.random(len(self.parameters)))

    # -- grids --------------------------------------------------------------------------------

    def grid(self, resolution: int) -> Iterator[Params]:
        """Every point of the grid with ``resolution`` values per numeric parameter.

        Conditional parameters are only enumerated under the parent values that activate them.
        """

        def walk(i: int, partial: Params) -> Iterator[Params]:
            if i == len(self.parameters):
                yield dict(partial)
                return
            p = self.parameters[i]
            if not self.is_active(p, partial):
                yield from walk(i + 1, partial)
                return
            for value in p.grid_values(resolution):
                partial[p.name] = value
                yield from walk(i + 1, partial)
            del partial[p.name]

        return walk(0, {})

    def grid_size(self, resolution: int, limit: int = _MAX_GRID) -> int:
        """Number of grid points at ``resolution``, counting stops at ``limit``."""
        return sum(1 for _ in itertools.islice(self.grid(resolution), limit))

    # -- narrowing ----------------------------------------------------------------------------

    def narrow(self, center: Mapping[str, Any], fraction: float) -> SearchSpace:
        """A space whose numeric ranges are ``fraction`` as wide, around the point ``center``.

        Widths are measured in unit space (so log parameters shrink in log scale) and the box is
        shifted, not cut, where it would leave the original range. Categorical parameters and
        parameters that ``center`` does not set are kept as they are.
        """
        if not 0 < fraction <= 1:
            raise SpecError("narrow", "must be in (0, 1]")
        out: list[Parameter] = []
        for p in self.parameters:
            if isinstance(p, NumericParameter) and p.name in center and p.contains(center[p.name]):
                out.append(p.narrowed(center[p.name], fraction))
            else:
                out.append(p)
        return SearchSpace(tuple(out))


def _same(value: object, expected: object, parent: Parameter) -> bool:
    if isinstance(parent, CategoricalParameter):
        return parent.contains(value) and parent.index(value) == parent.index(expected)
    return is_number(value) and is_number(expected) and value == expected


def _ordered(params: Iterable[Parameter]) -> tuple[Parameter, ...]:
    """Check every condition and order parameters so that parents come first (stable)."""
    params = list(params)
    by_name = {p.name: p for p in params}
    for p in params:
        for cond in p.when:
            parent = by_name.get(cond.parent)
            where = f"{p.name}.when.{cond.parent}"
            if parent is None:
                raise SpecError(where, f"names unknown parameter {cond.parent!r}")
            if parent.name == p.name:
                raise SpecError(where, "a parameter cannot depend on itself")
            if isinstance(parent, FloatParameter):
                raise SpecError(where, "a condition's parent must be categorical or int")
            for v in cond.values:
                if not parent.contains(v):
                    raise SpecError(where, f"{v!r} is not a value of {parent.name}")
    done: dict[str, Parameter] = {}
    pending = params
    while pending:
        rest = [p for p in pending if any(c.parent not in done for c in p.when)]
        ready = [p for p in pending if p not in rest]
        if not ready:
            raise SpecError(f"{rest[0].name}.when", "conditions form a cycle")
        for p in ready:
            done[p.name] = p
        pending = rest
    return tuple(done.values())
