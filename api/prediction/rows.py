"""Request bodies to model rows and predictions to response bodies, for KServe v1 and the Open
Inference Protocol (v2): rows are checked against the signature in one vectorised pass, never
per field through pydantic.

A model of numbers only gets its rows as ONE float matrix, built by one numpy call from the
parsed body (rows as arrays or objects, a v2 tensor of every feature, a tensor per feature,
gRPC's raw bytes), its types checked by the array's dtype and its values checked finite by one
``isfinite`` over the whole matrix. Only when that fails is the batch walked value by value, to
name the row and feature of the first bad value. A model with categories gets one array per
feature (objects for the categories, whose values the signature checks as it builds the model's
frame, vectorised per column). A bad batch is refused whole with an ``InvalidInput`` whose
field is ``rows[i].feature``.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuner.errors import InvalidInput
from tuner.models import Feature, Signature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_MISSING = object()


@dataclass(frozen=True)
class Batch:
    """Rows checked for presence and type: one array per feature (floats for numbers, objects
    for categories) and, for a signature of numbers only, the whole as a float matrix whose
    every value is finite (``matrix``: what the model's array path is fed)."""

    columns: dict[str, np.ndarray]
    size: int
    matrix: np.ndarray | None = None

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.columns, index=range(self.size))


# Open Inference Protocol datatypes of numpy dtypes (the output tensor's)
_V2_TYPES = {
    "float64": "FP64",
    "float32": "FP32",
    "int64": "INT64",
    "int32": "INT32",
    "uint64": "UINT64",
    "bool": "BOOL",
}
_V2_NUMBER = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
}
_NUMBER_KINDS = "fiub"  # numpy dtype kinds a float matrix is made of


def checked_numbers(signature: Signature, matrix: np.ndarray) -> Batch:
    """A signature of numbers only: ``matrix`` (rows x features, numbers or booleans) as a
    float batch, every value checked finite in one pass; ``InvalidInput`` naming the row and
    feature of the first value that is not."""
    import numpy as np

    matrix = matrix.astype(float, copy=False)
    names = signature.names
    if not np.isfinite(matrix).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(matrix))[0])
        raise InvalidInput(
            f"{names[col]!r} is {matrix[row, col]}, not a finite number",
            f"rows[{row}].{names[col]}",
        )
    return Batch({n: matrix[:, j] for j, n in enumerate(names)}, len(matrix), matrix)


def batch_of_instances(signature: Signature, instances: Any) -> Batch:
    """KServe v1 ``instances``: a list of rows, each an object of features or an array of the
    signature's features in order."""
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("'instances' must be a non-empty list of rows", "instances")
    first = instances[0]
    if isinstance(first, Mapping):
        if signature.numeric:
            matrix = _matrix_of_objects(signature, instances)
            if matrix is not None:
                return checked_numbers(signature, matrix)
        columns: dict[str, list[Any]] = {}
        for feature in signature.inputs:
            name = feature.name
            try:
                columns[name] = [row.get(name, _MISSING) for row in instances]
            except AttributeError:
                bad = next(i for i, r in enumerate(instances) if not isinstance(r, Mapping))
                raise InvalidInput(
                    "every row must be an object when the first one is", f"rows[{bad}]"
                ) from None
        return _batch(signature, columns, len(instances))
    if isinstance(first, list):
        return _batch_of_matrix(signature, instances)
    if len(signature.inputs) == 1 and not isinstance(first, Mapping | list):
        return _batch(signature, {signature.inputs[0].name: instances}, len(instances))
    raise InvalidInput(
        "each instance must be an object of features or an array of "
        f"{len(signature.inputs)} values, not {type(first).__name__}",
        "rows[0]",
    )


def _matrix_of_objects(signature: Signature, instances: list[Any]) -> np.ndarray | None:
    """Objects of numbers, every feature present: their values in the signature's order as
    one numeric array (one C-level ``itemgetter`` per row, one numpy call); None when any row
    is not so (the column-by-column path then names the first culprit)."""
    import numpy as np

    names = signature.names
    values = operator.itemgetter(*names)
    try:
        array = np.array(list(map(values, instances)))
    except (KeyError, TypeError, ValueError):
        return None
    if len(names) == 1:
        array = array.reshape(-1, 1)
    if array.dtype.kind not in _NUMBER_KINDS or array.shape != (len(instances), len(names)):
        return None  # a string, a null, a nested value: named column by column
    return array


def batch_of_tensors(signature: Signature, inputs: Any) -> Batch:
    """Open Inference Protocol ``inputs``: one tensor per feature (named after it, shape
    ``[n]`` or ``[n, 1]``), or a single ``[n, k]`` tensor of the signature's features in order.
    A tensor's ``data`` is a (nested) list of values, or a numpy array (gRPC's raw bytes)."""
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("'inputs' must be a non-empty list of tensors", "inputs")
    tensors: dict[str, tuple[list[int], str, Any]] = {}
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, Mapping):
            raise InvalidInput(
                "a tensor is an object {name, shape, datatype, data}", f"inputs[{i}]"
            )
        for key in ("name", "shape", "datatype", "data"):
            if key not in tensor:
                raise InvalidInput(f"the tensor has no {key!r}", f"inputs[{i}].{key}")
        shape = tensor["shape"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise InvalidInput("'shape' must be a list of sizes", f"inputs[{i}].shape")
        tensors[str(tensor["name"])] = (shape, str(tensor["datatype"]), tensor["data"])
    names = signature.names
    if len(tensors) == 1 and next(iter(tensors)) not in names:
        shape, datatype, data = next(iter(tensors.values()))
        if len(shape) != 2 or shape[1] != len(names):
            raise InvalidInput(
                f"one tensor holds every feature: its shape must be [rows, {len(names)}], "
                f"not {shape}",
                "inputs[0].shape",
            )
        matrix = _flat(data, datatype, shape, "inputs[0]").reshape(shape)
        if signature.numeric and matrix.dtype.kind in _NUMBER_KINDS:
            return checked_numbers(signature, matrix)
        return _batch_of_matrix(signature, matrix.tolist())
    columns: dict[str, np.ndarray] = {}
    rows = -1
    for feature in signature.inputs:
        if feature.name not in tensors:
            raise InvalidInput(
                f"missing feature {feature.name!r}: no tensor of that name",
                f"rows[0].{feature.name}",
            )
        shape, datatype, data = tensors[feature.name]
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInput(
                f"a feature's tensor has shape [rows] or [rows, 1], not {shape}",
                f"inputs.{feature.name}.shape",
            )
        if rows not in (-1, shape[0]):
            raise InvalidInput(
                f"every feature's tensor must have the same rows ({rows}), not {shape[0]}",
                f"inputs.{feature.name}.shape",
            )
        rows = shape[0]
        columns[feature.name] = _flat(data, datatype, shape, f"inputs.{feature.name}")
    if signature.numeric and all(c.dtype.kind in _NUMBER_KINDS for c in columns.values()):
        import numpy as np

        return checked_numbers(signature, np.column_stack(list(columns.values())))
    return _batch(signature, {n: c.tolist() for n, c in columns.items()}, rows)


def _flat(data: Any, datatype: str, shape: list[int], where: str) -> np.ndarray:
    import numpy as np

    if datatype == "BYTES":
        array = np.asarray(data, dtype=object).reshape(-1)
        array = np.array(
            [v.decode() if isinstance(v, bytes) else v for v in array.tolist()], dtype=object
        )
    elif datatype in _V2_NUMBER:
        array = np.asarray(data, dtype=object if _has_text(data) else None).reshape(-1)
    else:
        raise InvalidInput(f"unknown datatype {datatype!r}", f"{where}.datatype")
    count = int(np.prod(shape)) if shape else 1
    if array.size != count:
        raise InvalidInput(
            f"the data holds {array.size} values, its shape {shape} says {count}", f"{where}.data"
        )
    return array


def _has_text(data: Any) -> bool:
    return isinstance(data, list) and any(isinstance(v, str | list | dict) for v in data[:1])


def _batch_of_matrix(signature: Signature, matrix: Sequence[Any]) -> Batch:
    import numpy as np

    width = len(signature.inputs)
    if signature.numeric:
        try:  # numbers only: the whole matrix in one C call
            array = np.asarray(matrix)
        except ValueError:  # ragged rows: named below
            array = None
        if array is not None and array.dtype.kind in _NUMBER_KINDS and array.ndim == 2:
            if array.shape[1] == width:
                return checked_numbers(signature, array)
    for i, row in enumerate(matrix):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(
                f"each row must be an array of {width} values (the features "
                f"{', '.join(signature.names[:10])}{', ...' if width > 10 else ''})",
                f"rows[{i}]",
            )
    columns = {f.name: [row[j] for row in matrix] for j, f in enumerate(signature.inputs)}
    return _batch(signature, columns, len(matrix))


def _batch(signature: Signature, columns: dict[str, Any], rows: int) -> Batch:
    """The value-by-value path: each column checked for presence and type, naming the first
    value that fails; a signature of numbers only then gets its matrix checked as a whole."""
    checked = {f.name: _column(f, columns[f.name]) for f in signature.inputs}
    if signature.numeric:
        import numpy as np

        return checked_numbers(signature, np.column_stack(list(checked.values())))
    return Batch(checked, rows)


def _column(feature: Feature, values: Sequence[Any]) -> np.ndarray:
    """The column as an array: floats for numbers and booleans (checked for type here, for
    finiteness by ``checked_numbers`` or the signature), objects for categories (checked by the
    signature)."""
    import numpy as np

    if feature.type != "category":
        try:
            array = np.asarray(values)
        except ValueError:  # a nested value among them: named below
            array = np.empty(0, dtype=object)
        if array.dtype.kind in _NUMBER_KINDS and array.ndim == 1:
            return array.astype(float, copy=False)
    for i, value in enumerate(values):
        where = f"rows[{i}].{feature.name}"
        if value is _MISSING:
            raise InvalidInput(f"missing feature {feature.name!r}", where)
        if feature.type == "category":
            if isinstance(value, list | dict):
                raise InvalidInput(
                    f"{feature.name!r} must be one category, not {type(value).__name__}", where
                )
            continue
        if value is None:
            raise InvalidInput(f"{feature.name!r} is missing (null)", where)
        if not isinstance(value, int | float):  # a bool is an int: 1.0 or 0.0
            raise InvalidInput(
                f"{feature.name!r} must be a {feature.type}, not {type(value).__name__} {value!r}",
                where,
            )
    if feature.type == "category":
        return np.asarray(values, dtype=object)
    return np.asarray(values, dtype=float)


def encodable(predictions: np.ndarray) -> Any:
    """Predictions as what the JSON encoder writes straight from memory (orjson's numpy
    support): a contiguous float64 array (float32 widened, so the text is the float64 a client
    parses, the embedded predictor's value), an integer or boolean array, else a list."""
    import numpy as np

    kind = predictions.dtype.kind
    if kind == "f":
        return predictions.astype(np.float64)  # a contiguous copy
    if kind in "iub":
        return np.ascontiguousarray(predictions)
    return predictions.tolist()


def output_tensor(predictions: np.ndarray) -> dict[str, Any]:
    """Predictions as the Open Inference Protocol's output tensor ``predict``."""
    datatype = _V2_TYPES.get(predictions.dtype.name, "BYTES")
    flat = predictions.reshape(-1)
    data = [str(v) for v in flat.tolist()] if datatype == "BYTES" else encodable(flat)
    return {"name": "predict", "shape": list(predictions.shape), "datatype": datatype, "data": data}


def input_metadata(signature: Signature) -> list[dict[str, Any]]:
    """The signature as Open Inference Protocol tensor metadata, one tensor per feature."""
    return [
        {
            "name": f.name,
            "datatype": "BYTES"
            if f.type == "category"
            else "BOOL"
            if f.type == "boolean"
            else "FP64",
            "shape": [-1],
        }
        for f in signature.inputs
    ]
