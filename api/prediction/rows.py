"""Request bodies to model rows and predictions to response bodies, for KServe v1 and the Open
Inference Protocol (v2): one pass per feature column, never per field through pydantic.

Each column is turned into a numpy array at once; only a column that fails that fast path is
walked value by value, to name the row and feature of the first bad value. The signature's own
checks (``Signature.frame``: non-finite numbers, unknown categories) run after, vectorised too.
A bad batch is refused whole with an ``InvalidInput`` whose field is ``rows[i].feature``.
"""

from __future__ import annotations

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
    for categories), and the whole as a float matrix when every feature is a number."""

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


def batch_of_instances(signature: Signature, instances: Any) -> Batch:
    """KServe v1 ``instances``: a list of rows, each an object of features or an array of the
    signature's features in order."""
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("'instances' must be a non-empty list of rows", "instances")
    first = instances[0]
    if isinstance(first, Mapping):
        numbers = _numbers_only(signature, instances)
        if numbers is not None:
            return numbers
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


def _numbers_only(signature: Signature, instances: list[Any]) -> Batch | None:
    """Objects of numbers only, all present: the float matrix in one numpy call; None when any
    row is not so (the column-by-column path then names the first culprit)."""
    import numpy as np

    if any(f.type == "category" for f in signature.inputs):
        return None
    names = signature.names
    try:
        array = np.array([[row[n] for n in names] for row in instances])
    except (KeyError, TypeError, ValueError):
        return None
    if array.dtype.kind not in "fiub" or array.shape != (len(instances), len(names)):
        return None  # a string, a null, a nested value: named column by column
    array = array.astype(float, copy=False)
    return Batch({n: array[:, j] for j, n in enumerate(names)}, len(array), array)


def batch_of_tensors(signature: Signature, inputs: Any) -> Batch:
    """Open Inference Protocol ``inputs``: one tensor per feature (named after it, shape
    ``[n]`` or ``[n, 1]``), or a single ``[n, k]`` tensor of the signature's features in order."""
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
        matrix = _flat(data, datatype, shape, "inputs[0]")
        return _batch_of_matrix(signature, matrix.reshape(shape).tolist())
    columns: dict[str, Any] = {}
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
        columns[feature.name] = _flat(data, datatype, shape, f"inputs.{feature.name}").tolist()
    return _batch(signature, columns, rows)


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
    if all(f.type != "category" for f in signature.inputs):
        try:  # numbers only: the whole matrix in one C call
            array = np.asarray(matrix)
        except ValueError:  # ragged rows: named below
            array = None
        if array is not None and array.dtype.kind in "fiub" and array.shape[1:] == (width,):
            array = array.astype(float, copy=False)
            named = {f.name: array[:, j] for j, f in enumerate(signature.inputs)}
            return Batch(named, len(array), array)
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
    return Batch({f.name: _column(f, columns[f.name]) for f in signature.inputs}, rows)


def _column(feature: Feature, values: Sequence[Any]) -> np.ndarray:
    """The column as an array: floats for numbers and booleans (checked for type here, for
    finiteness by the signature), objects for categories (checked by the signature)."""
    import numpy as np

    if feature.type != "category":
        array = np.asarray(values)
        if array.dtype.kind in "fiub" and array.ndim == 1:
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


def listed(predictions: np.ndarray) -> list[Any]:
    """Predictions as JSON values."""
    return predictions.tolist()  # type: ignore[no-any-return]


def output_tensor(predictions: np.ndarray) -> dict[str, Any]:
    """Predictions as the Open Inference Protocol's output tensor ``predict``."""
    datatype = _V2_TYPES.get(predictions.dtype.name, "BYTES")
    data = predictions.reshape(-1).tolist()
    if datatype == "BYTES":
        data = [str(v) for v in data]
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
