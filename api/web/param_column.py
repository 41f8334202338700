"""A study's parameter as a column of the web leaderboard's in-memory table (``table.py``):
numbers as floats, categories as indices into the choices, so that sorting and filtering by a
parameter are array operations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tuner.errors import SpecError
from tuner.space import CategoricalParameter, IntParameter, Parameter


class ParamColumn:
    """One parameter of the space: numbers as floats (NaN where inactive), or the index of the
    choice (-1 where inactive; a value the space does not list gets an index of its own)."""

    def __init__(
        self,
        parameter: Parameter,
        numeric: np.ndarray | None,
        codes: np.ndarray | None,
        labels: list[Any],
    ) -> None:
        self.parameter = parameter
        self.numeric = numeric
        self.codes = codes
        self.labels = labels

    @property
    def kind(self) -> str:
        return "numeric" if self.numeric is not None else "categorical"

    @classmethod
    def of(cls, parameter: Parameter, params: Sequence[dict[str, Any]]) -> ParamColumn:
        name = parameter.name
        if not isinstance(parameter, CategoricalParameter):
            return cls(
                parameter, float_array([_number_or_none(p.get(name)) for p in params]), None, []
            )
        column = cls(parameter, None, np.zeros(0, dtype=np.int32), list(parameter.choices))
        column.codes = column._codes(params)
        return column

    def _codes(self, params: Sequence[dict[str, Any]]) -> np.ndarray:
        index = {repr(v): i for i, v in enumerate(self.labels)}
        codes = np.full(len(params), -1, dtype=np.int32)
        name = self.parameter.name
        for i, p in enumerate(params):
            v = p.get(name)
            if v is None:
                continue
            key = repr(v)
            if key not in index:
                index[key] = len(self.labels)
                self.labels.append(v)
            codes[i] = index[key]
        return codes

    def updated(
        self, params: Sequence[dict[str, Any]], known: np.ndarray, where: np.ndarray
    ) -> ParamColumn:
        """This column with the rows ``known`` written at ``where``, the others appended."""
        name = self.parameter.name
        if self.numeric is not None:
            values = float_array([_number_or_none(p.get(name)) for p in params])
            out = np.concatenate([self.numeric, values[~known]])
            out[where] = values[known]
            return ParamColumn(self.parameter, out, None, [])
        assert self.codes is not None
        column = ParamColumn(self.parameter, None, None, list(self.labels))
        codes = column._codes(params)
        merged = np.concatenate([self.codes, codes[~known]])
        merged[where] = codes[known]
        column.codes = merged
        return column

    def describe(self) -> dict[str, Any]:
        if self.numeric is not None:
            finite = self.numeric[~np.isnan(self.numeric)]
            if len(finite) == 0:
                return {"min": None, "max": None}
            return {"min": float(finite.min()), "max": float(finite.max())}
        return {"choices": [_label(v) for v in self.labels]}

    def at(self, i: int) -> Any:
        """Trial ``i``'s value as the study has it (None where inactive)."""
        if self.numeric is not None:
            x = self.numeric[i]
            if math.isnan(x):
                return None
            return int(x) if isinstance(self.parameter, IntParameter) else float(x)
        assert self.codes is not None
        return self.labels[self.codes[i]] if self.codes[i] >= 0 else None

    def sort_key(self) -> np.ndarray:
        if self.numeric is not None:
            return self.numeric
        assert self.codes is not None
        order = np.argsort([_label(v) for v in self.labels], kind="stable")
        position = np.empty(len(order), dtype=float)
        position[order] = np.arange(len(order))
        return np.where(self.codes < 0, math.nan, position[np.maximum(self.codes, 0)])

    def matches(self, choice: str) -> np.ndarray:
        """Rows whose value reads ``choice`` (the label the page shows)."""
        if self.codes is None:
            assert self.numeric is not None
            try:
                return self.numeric == float(choice)
            except ValueError:
                raise SpecError("param", f"{choice!r} is not a number") from None
        hits = [c for c, v in enumerate(self.labels) if _label(v) == choice]
        return np.isin(self.codes, hits)

    def value_of(self, i: int) -> float | int | None:
        """A position on a plot axis: the number, or the choice's index."""
        if self.numeric is not None:
            return float_or_none(self.numeric[i])
        assert self.codes is not None
        return int(self.codes[i]) if self.codes[i] >= 0 else None


def _number_or_none(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _label(v: object) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or v is None:
        return "true" if v is True else "false" if v is False else "null"
    return str(v)


def float_or_none(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def float_array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=float)
