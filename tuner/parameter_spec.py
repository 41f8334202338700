"""A search-space parameter from its plain-dict form (the study file's ``space`` entries):
``parse_parameter`` checks every field and names the culprit in a SpecError."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from tuner.errors import SpecError
from tuner.parameters import (
    CategoricalParameter,
    Condition,
    FloatParameter,
    IntParameter,
    Parameter,
    on_step,
)
from tuner.spec_values import number

_MAX_STEPS = 1e15  # a step grid finer than this is not a grid (and overflows the arithmetic)

_TYPES = {"float": FloatParameter, "int": IntParameter, "categorical": CategoricalParameter}


KEYS: dict[str, set[str]] = {
    "float": {"type", "low", "high", "log", "step", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when"},
}


def parse_parameter(name: str, body: object) -> Parameter:
    if not name.isidentifier():
        raise SpecError(name, "a parameter name must be an identifier (letters, digits, _)")
    if isinstance(body, list):  # shorthand: a list of choices
        body = {"type": "categorical", "choices": body}
    if not isinstance(body, Mapping):
        raise SpecError(name, "must be a mapping with a 'type'")
    kind = body.get("type")
    if kind not in _TYPES:
        raise SpecError(
            f"{name}.type", f"unknown parameter type {kind!r}; use float, int or categorical"
        )
    extra = sorted(set(body) - KEYS[kind])
    if extra:
        raise SpecError(f"{name}.{extra[0]}", f"is not an option of a {kind} parameter")
    when = _parse_when(name, body.get("when"))
    if kind == "categorical":
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices:
            raise SpecError(f"{name}.choices", "must be a non-empty list")
        for i, c in enumerate(choices):
            if not (c is None or isinstance(c, str | bool | int | float)) or (
                isinstance(c, float) and not math.isfinite(c)
            ):
                raise SpecError(f"{name}.choices[{i}]", "must be a string, number, boolean or null")
        probe = CategoricalParameter(name, choices=tuple(choices))
        if len({probe.index(c) for c in choices}) != len(choices):
            raise SpecError(f"{name}.choices", "must not repeat a choice")
        return CategoricalParameter(name, when=when, choices=tuple(choices))
    return _parse_numeric(name, kind, body, when)


def _parse_numeric(
    name: str, kind: Literal["float", "int"], body: Mapping[str, Any], when: tuple[Condition, ...]
) -> Parameter:
    bounds: dict[str, Any] = {}
    for key in ("low", "high"):
        if body.get(key) is None:
            raise SpecError(f"{name}.{key}", "is required and must be a finite number")
        v = bounds[key] = number(body[key], f"{name}.{key}")
        if kind == "int" and float(v) != int(v):
            raise SpecError(f"{name}.{key}", "must be an integer for an int parameter")
    low, high = bounds["low"], bounds["high"]
    if low == high:  # a user fixing a value: say how
        raise SpecError(
            f"{name}.low",
            f"must be below high ({low} = {high}); a fixed value is a one-choice categorical:"
            f" {{type: categorical, choices: [{low}]}}",
        )
    if low > high:
        raise SpecError(f"{name}.low", f"must be below high ({low} >= {high})")
    if not math.isfinite(float(high) - float(low)):
        raise SpecError(f"{name}.high", "the range is too wide: high - low must be finite")
    log = body.get("log", False)
    if not isinstance(log, bool):
        raise SpecError(f"{name}.log", "must be true or false")
    if log and low <= 0:
        raise SpecError(f"{name}.low", "must be positive on a log scale")
    step = body.get("step")
    if step is not None:
        step = number(step, f"{name}.step", "a positive number")
        if step <= 0:
            raise SpecError(f"{name}.step", "must be a positive number")
        if kind == "int" and float(step) != int(step):
            raise SpecError(f"{name}.step", "must be an integer for an int parameter")
        if log and (kind == "float" or step != 1):
            raise SpecError(f"{name}.step", "cannot be combined with log")
        if step > high - low:
            raise SpecError(f"{name}.step", f"is wider than the range ({step} > {high - low})")
        if (high - low) / step > _MAX_STEPS:
            raise SpecError(
                f"{name}.step", f"is too fine: more than {_MAX_STEPS:.0e} steps from low to high"
            )
    if kind == "int":
        istep = int(step) if step is not None else 1
        ihigh = int(low) + (int(high) - int(low)) // istep * istep
        return IntParameter(name, when=when, low=int(low), high=ihigh, log=log, step=istep)
    if step is not None:
        high = on_step(low, step, math.floor((high - low) / step + 1e-9))
        return FloatParameter(name, when=when, low=float(low), high=high, step=float(step))
    return FloatParameter(name, when=when, low=float(low), high=float(high), log=log)


def _parse_when(name: str, when: object) -> tuple[Condition, ...]:
    if when is None:
        return ()
    if not isinstance(when, Mapping) or not when:
        raise SpecError(f"{name}.when", "must be a mapping of parent parameter to value(s)")
    out = []
    for parent, values in when.items():
        vals = tuple(values) if isinstance(values, list) else (values,)
        if not vals:
            raise SpecError(f"{name}.when.{parent}", "must name at least one value")
        out.append(Condition(str(parent), vals))
    return tuple(out)
