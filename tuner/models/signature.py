"""A model's input signature: the features it reads (names, types, allowed categories) and the
kind of output it gives; rows are checked against it before any model sees them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuner.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

TYPES = ("number", "boolean", "category")
OUTPUTS = ("value", "probability", "label")
_MAX_SHOWN = 10


@dataclass(frozen=True)
class Feature:
    """One input column. ``categories``: the allowed values of a ``category`` feature, in the
    order the model was trained with (its codes); ``pandas_category``: whether the model reads
    it as a pandas ``category`` column (xgboost) rather than as plain values (a Pipeline's
    encoder)."""

    name: str
    type: str = "number"
    categories: tuple[Any, ...] = ()
    pandas_category: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "category":
            out["categories"] = list(self.categories)
            out["pandas_category"] = self.pandas_category
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Feature:
        return cls(
            str(data["name"]),
            str(data.get("type", "number")),
            tuple(data.get("categories", ())),
            bool(data.get("pandas_category", False)),
        )


@dataclass(frozen=True)
class Output:
    """What a prediction is: a ``value`` (regression, a raw score), a ``probability`` (of
    ``classes[1]`` for two classes, one column per class for more) or a ``label``."""

    kind: str = "value"
    classes: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Output:
        return cls(str(data.get("kind", "value")), tuple(data.get("classes", ())))


@dataclass(frozen=True)
class Signature:
    """The features a model reads, in order, and its output."""

    inputs: tuple[Feature, ...]
    output: Output = field(default_factory=Output)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": [f.to_dict() for f in self.inputs], "output": self.output.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        return cls(
            tuple(Feature.from_dict(f) for f in data.get("inputs", ())),
            Output.from_dict(data.get("output", {})),
        )

    @classmethod
    def infer(cls, example: Any, output: Output | None = None) -> Signature:
        """The signature of a training frame (a pandas DataFrame, or a 2-D array whose columns
        are named ``f0, f1...``): numbers, booleans, and categories with every value seen."""
        frame = as_frame(example)
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        features: list[Feature] = []
        for name in frame.columns:
            column = frame[name]
            if str(column.dtype) == "category":
                cats = tuple(_plain(c) for c in column.cat.categories)
                features.append(Feature(str(name), "category", cats, pandas_category=True))
            elif is_bool_dtype(column.dtype):
                features.append(Feature(str(name), "boolean"))
            elif is_numeric_dtype(column.dtype):
                features.append(Feature(str(name), "number"))
            else:
                seen = sorted({_plain(v) for v in column.dropna().tolist()}, key=str)
                features.append(Feature(str(name), "category", tuple(seen)))
        return cls(tuple(features), output or Output())

    @property
    def numeric(self) -> bool:
        """Whether every feature is a number or a boolean (rows can be one float array)."""
        return all(f.type != "category" for f in self.inputs)

    def array(self, rows: Any) -> Any:
        """``rows`` as a float array of the features, in order, when that is quick and every
        value is a finite number; None otherwise (``frame`` then checks them one by one and
        names what does not fit)."""
        import numpy as np

        try:
            if isinstance(rows, Mapping):
                rows = [rows]
            if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
                names = self.names
                array = np.array([[row[n] for n in names] for row in rows], dtype=float)
            elif isinstance(rows, np.ndarray) and rows.dtype.kind in "fiub":
                array = rows.astype(float, copy=False).reshape(-1, len(self.inputs))
            else:
                return None
        except (KeyError, TypeError, ValueError):
            return None
        if array.ndim != 2 or array.shape[1] != len(self.inputs):
            return None
        return array if np.isfinite(array).all() else None

    def values(self, rows: Any) -> Any:
        """``rows`` (one dict, dicts or a 2-D array) as an object array of the features, in
        order, each value checked as ``frame`` checks it (``InvalidInput`` naming the row and
        feature); None for other inputs or a missing feature (``frame`` then says which)."""
        import numpy as np

        if isinstance(rows, Mapping):
            rows = [rows]
        inputs = self.inputs
        if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
            try:
                cells = [[row[f.name] for f in inputs] for row in rows]
            except (KeyError, TypeError):
                return None
        elif isinstance(rows, np.ndarray) and rows.ndim == 2 and rows.shape[1] == len(inputs):
            cells = rows.tolist()
        else:
            return None
        if any(len(r) != len(inputs) for r in cells):
            return None
        out = np.empty((len(cells), len(inputs)), dtype=object)
        for i, row in enumerate(cells):
            out[i] = [_checked_value(f, v, i) for f, v in zip(inputs, row, strict=True)]
        return out

    # -- checking rows ---------------------------------------------------------------------

    def frame(self, rows: Any) -> pd.DataFrame:
        """``rows`` (dicts, one dict, a DataFrame or a 2-D array) as a DataFrame of the
        signature's columns, in order, with the dtypes the model reads; ``InvalidInput`` naming
        the row and feature of the first value that does not fit (missing, wrong type, NaN or
        infinite, an unknown category)."""
        import pandas as pd

        if isinstance(rows, Mapping):
            rows = [rows]
        if isinstance(rows, pd.DataFrame):
            return self._checked_frame(rows)
        if isinstance(rows, Sequence) and not isinstance(rows, str | bytes):
            if all(isinstance(r, Mapping) for r in rows):
                return self._frame_of_dicts(rows)
        import numpy as np

        if isinstance(rows, np.ndarray | Sequence) and not isinstance(rows, str | bytes):
            array = np.asarray(rows, dtype=object if _mixed(rows) else None)
            if array.ndim == 1 and len(self.inputs) == array.shape[0]:
                array = array.reshape(1, -1)
            if array.ndim != 2 or array.shape[1] != len(self.inputs):
                raise InvalidInput(
                    f"expected rows of {len(self.inputs)} values ({_names(self.names)}), "
                    f"got an array of shape {array.shape}",
                    "rows",
                )
            return self._checked_frame(pd.DataFrame(array, columns=self.names))
        raise InvalidInput(
            f"rows must be dicts, a pandas DataFrame or a 2-D array, not {type(rows).__name__}",
            "rows",
        )

    def _frame_of_dicts(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        import pandas as pd

        columns: dict[str, Any] = {}
        for feature in self.inputs:
            values = []
            for i, row in enumerate(rows):
                if feature.name not in row:
                    raise InvalidInput(
                        f"missing feature {feature.name!r}", f"rows[{i}].{feature.name}"
                    )
                values.append(_checked_value(feature, row[feature.name], i))
            columns[feature.name] = self._column(feature, values)
        return pd.DataFrame(columns, index=range(len(rows)))

    def _checked_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        import numpy as np
        import pandas as pd
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        columns: dict[str, Any] = {}
        for feature in self.inputs:
            if feature.name not in frame.columns:
                raise InvalidInput(
                    f"missing feature {feature.name!r} (the rows have "
                    f"{_names([str(c) for c in frame.columns])})",
                    f"rows[0].{feature.name}",
                )
            column = frame[feature.name]
            if feature.type == "category":
                values = column.astype(object) if str(column.dtype) == "category" else column
                known = pd.Series(values).isin(list(feature.categories)).to_numpy()
                if not known.all():
                    i = int(np.argmin(known))
                    _checked_value(feature, values.iloc[i], i)  # raises with the reason
                columns[feature.name] = self._column(feature, values.to_numpy())
                continue
            if is_numeric_dtype(column.dtype) or is_bool_dtype(column.dtype):
                array = column.to_numpy(dtype=float, na_value=np.nan)
            else:
                try:
                    array = column.to_numpy(dtype=float, na_value=np.nan)
                except (TypeError, ValueError):
                    for i, v in enumerate(column.tolist()):
                        _number_or_text_of_one(feature, v, i)
                    raise  # pragma: no cover - a value above raised
            finite = np.isfinite(array)
            if not finite.all():
                i = int(np.argmin(finite))
                _checked_value(feature, float(array[i]), i)
            columns[feature.name] = array
        return pd.DataFrame(columns, index=frame.index)

    @staticmethod
    def _column(feature: Feature, values: Any) -> Any:
        import numpy as np
        import pandas as pd

        if feature.type == "category":
            if feature.pandas_category:
                return pd.Categorical(values, categories=list(feature.categories))
            return np.asarray(values, dtype=object)
        return np.asarray(values, dtype=float)


def _checked_value(feature: Feature, value: Any, row: int) -> Any:
    """``value`` as the model reads it, or ``InvalidInput`` on ``rows[row].feature``."""
    where = f"rows[{row}].{feature.name}"
    if feature.type == "category":
        plain = _plain(value)
        if plain is None or (isinstance(plain, float) and math.isnan(plain)):
            raise InvalidInput(f"{feature.name!r} is missing (null)", where)
        try:
            known = plain in feature.categories
        except TypeError:
            known = False
        if not known:
            shown = ", ".join(repr(c) for c in feature.categories[:_MAX_SHOWN])
            more = ", ..." if len(feature.categories) > _MAX_SHOWN else ""
            raise InvalidInput(
                f"unknown category {plain!r} of {feature.name!r} (known: {shown}{more})", where
            )
        return plain
    if isinstance(value, bool) and feature.type == "boolean":
        return float(value)
    if value is None:
        raise InvalidInput(f"{feature.name!r} is missing (null)", where)
    if isinstance(value, str) or not _is_number(value):
        raise InvalidInput(
            f"{feature.name!r} must be a {feature.type}, not {type(value).__name__} {value!r}",
            where,
        )
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(f"{feature.name!r} is {number}, not a finite number", where)
    return number


def _number_or_text_of_one(feature: Feature, value: Any, row: int) -> None:
    """Check one value of a column that did not convert to numbers as a whole: text that spells
    a number passes (a CSV column holding one bad cell is read as text, every cell of it), other
    text or type raises ``InvalidInput`` on ``rows[row].feature``."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            raise InvalidInput(
                f"{feature.name!r} must be a {feature.type}, not str {value!r}",
                f"rows[{row}].{feature.name}",
            ) from None
        return
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return  # missing: found by the check of finite values, after the conversion
    _checked_value(feature, value, row)


def _is_number(value: Any) -> bool:
    import numpy as np

    return isinstance(value, int | float | np.integer | np.floating | np.bool_)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (JSON-able, comparable with the manifest's)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str) else value


def _mixed(rows: Any) -> bool:
    import numpy as np

    return not isinstance(rows, np.ndarray) and any(
        isinstance(v, str) for r in rows for v in (r if isinstance(r, Sequence) else [r])
    )


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_SHOWN])
    return shown + (", ..." if len(names) > _MAX_SHOWN else "")


def as_frame(example: Any) -> pd.DataFrame:
    """A DataFrame of example rows (an array's columns named ``f0, f1...``)."""
    import numpy as np
    import pandas as pd

    if isinstance(example, pd.DataFrame):
        return example
    if isinstance(example, Mapping):
        return pd.DataFrame([example])
    if isinstance(example, Sequence) and example and isinstance(example[0], Mapping):
        return pd.DataFrame(list(example))
    array = np.asarray(example)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    return pd.DataFrame(array, columns=[f"f{i}" for i in range(array.shape[1])])


def examples_of(frame: pd.DataFrame, signature: Signature, n: int = 5) -> list[dict[str, Any]]:
    """Up to ``n`` rows of ``frame`` as JSON-able dicts of the signature's features (the
    warm-up rows stored in a manifest)."""
    out: list[dict[str, Any]] = []
    for _, row in frame.head(n).iterrows():
        values = {f.name: _plain(row[f.name]) for f in signature.inputs}
        if all(
            not (isinstance(v, float) and not math.isfinite(v)) and v is not None
            for v in values.values()
        ):
            out.append(values)
    return out
