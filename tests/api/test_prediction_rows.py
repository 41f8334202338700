"""The prediction server's row checks (``rows``): a signature of numbers gets its batch as one
float matrix checked in one vectorised pass, and a bad value anywhere in it is refused naming
its row and feature, whichever way the rows came (v1 arrays or objects, a v2 tensor of every
feature, a tensor per feature, gRPC's raw bytes as a numpy array)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson
import pytest

from tuner.api.prediction import rows
from tuner.errors import InvalidInput
from tuner.models import Feature, Signature

NUMBERS = Signature((Feature("a"), Feature("b"), Feature("flag", "boolean")))
MIXED = Signature((Feature("a"), Feature("colour", "category", ("red", "blue"))))


def grid(n: int = 300) -> np.ndarray:
    """``n`` rows of the numbers signature: a, b as floats, flag as 0/1."""
    rng = np.random.default_rng(0)
    return np.column_stack([rng.normal(size=n), rng.uniform(size=n), rng.integers(0, 2, n)])


def as_objects(matrix: np.ndarray) -> list[dict[str, Any]]:
    return [{"a": r[0], "b": r[1], "flag": bool(r[2])} for r in matrix.tolist()]


def one_tensor(matrix: np.ndarray, raw: bool = False) -> list[dict[str, Any]]:
    """One ``[n, 3]`` tensor: FP64 values in a flat list (REST), or FP32 as the numpy array
    gRPC's raw bytes become."""
    shape = [len(matrix), 3]
    if raw:
        return [
            {
                "name": "x",
                "shape": shape,
                "datatype": "FP32",
                "data": matrix.astype(np.float32).reshape(-1),
            }
        ]
    return [{"name": "x", "shape": shape, "datatype": "FP64", "data": matrix.reshape(-1).tolist()}]


def per_feature(matrix: np.ndarray) -> list[dict[str, Any]]:
    return [
        {"name": n, "shape": [len(matrix)], "datatype": "FP64", "data": matrix[:, j].tolist()}
        for j, n in enumerate(NUMBERS.names)
    ]


def shapes() -> dict[str, Any]:
    """Each way of sending a matrix, as a function of it, to the batch it makes."""
    return {
        "v1 arrays": lambda m: rows.batch_of_instances(NUMBERS, m.tolist()),
        "v1 objects": lambda m: rows.batch_of_instances(NUMBERS, as_objects(m)),
        "v2 tensor": lambda m: rows.batch_of_tensors(NUMBERS, one_tensor(m)),
        "v2 tensor per feature": lambda m: rows.batch_of_tensors(NUMBERS, per_feature(m)),
        "gRPC raw FP32": lambda m: rows.batch_of_tensors(NUMBERS, one_tensor(m, raw=True)),
    }


@pytest.mark.parametrize("how", list(shapes()))
def test_numbers_arrive_as_one_checked_float_matrix(how: str) -> None:
    matrix = grid()
    batch = shapes()[how](matrix)
    assert batch.size == len(matrix) and batch.matrix is not None
    assert batch.matrix.dtype == np.float64 and batch.matrix.shape == (len(matrix), 3)
    expected = matrix.astype(np.float32) if "FP32" in how else matrix
    assert np.array_equal(batch.matrix, expected.astype(np.float64))
    for j, name in enumerate(NUMBERS.names):  # the columns are the matrix's
        assert np.array_equal(batch.columns[name], batch.matrix[:, j])


@pytest.mark.parametrize("how", list(shapes()))
@pytest.mark.parametrize(
    ("row", "col", "value", "says"),
    [
        (217, 1, math.nan, "'b' is nan, not a finite number"),
        (3, 0, math.inf, "'a' is inf, not a finite number"),
        (299, 1, -math.inf, "'b' is -inf, not a finite number"),
    ],
)
def test_a_non_finite_number_anywhere_is_named_by_row_and_feature(
    how: str, row: int, col: int, value: float, says: str
) -> None:
    matrix = grid()
    matrix[row, col] = value
    with pytest.raises(InvalidInput) as caught:
        shapes()[how](matrix)
    assert caught.value.field == f"rows[{row}].{NUMBERS.names[col]}"
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("bad", "field", "says"),
    [
        ({"b": "0.5"}, "rows[41].b", "'b' must be a number, not str '0.5'"),
        ({"b": None}, "rows[41].b", "'b' is missing (null)"),
        ({"a": [1, 2]}, "rows[41].a", "'a' must be a number, not list"),
        ({"flag": "yes"}, "rows[41].flag", "'flag' must be a boolean, not str 'yes'"),
    ],
)
def test_a_wrong_type_is_found_after_the_vectorised_pass_fails(
    bad: dict[str, Any], field: str, says: str
) -> None:
    objects = as_objects(grid(100))
    objects[41] = {**objects[41], **bad}
    arrays = [[r["a"], r["b"], r["flag"]] for r in objects]
    for send in (
        lambda: rows.batch_of_instances(NUMBERS, objects),
        lambda: rows.batch_of_instances(NUMBERS, arrays),
        lambda: rows.batch_of_tensors(NUMBERS, one_tensor_of_lists(arrays)),
    ):
        with pytest.raises(InvalidInput) as caught:
            send()
        assert caught.value.field == field and says in str(caught.value)


def one_tensor_of_lists(arrays: list[list[Any]]) -> list[dict[str, Any]]:
    """A v2 tensor whose data is the rows nested as they came (Triton accepts nested data)."""
    return [{"name": "x", "shape": [len(arrays), 3], "datatype": "FP64", "data": arrays}]


def test_a_missing_feature_and_a_short_row_are_named() -> None:
    objects = as_objects(grid(50))
    del objects[7]["b"]
    with pytest.raises(InvalidInput) as caught:
        rows.batch_of_instances(NUMBERS, objects)
    assert caught.value.field == "rows[7].b" and "missing feature 'b'" in str(caught.value)
    arrays = grid(50).tolist()
    arrays[9] = arrays[9][:2]
    with pytest.raises(InvalidInput) as caught:
        rows.batch_of_instances(NUMBERS, arrays)
    assert caught.value.field == "rows[9]"


def test_what_python_sends_for_nan_reaches_the_checks() -> None:
    """orjson refuses ``NaN`` (not JSON); the server falls back to the standard parser for it,
    so the row check names the value instead of calling the body malformed."""
    from tuner.api.prediction.app import _body

    body = json.dumps({"instances": [[1.0, float("nan"), True]]}).encode()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    with pytest.raises(InvalidInput) as caught:
        rows.batch_of_instances(NUMBERS, _body(body)["instances"])
    assert caught.value.field == "rows[0].b"
    with pytest.raises(InvalidInput) as caught:
        _body(b'{"instances": [[1, 2')
    assert caught.value.field == "body"


def test_a_signature_with_categories_keeps_columns_for_the_signature_to_check() -> None:
    batch = rows.batch_of_instances(MIXED, [{"a": 1, "colour": "red"}, {"a": 2.5, "colour": "x"}])
    assert batch.matrix is None
    assert batch.columns["a"].dtype == np.float64
    assert batch.columns["colour"].dtype == object


def test_predictions_are_written_as_the_float64_values_a_client_parses() -> None:
    """float32 predictions (XGBoost's) are widened before orjson writes them, so the JSON holds
    what ``tolist`` held: the embedded predictor's values to the last bit."""
    from tuner.api.prediction.app import _json

    predictions = np.random.default_rng(1).uniform(size=64).astype(np.float32)
    body = _json({"predictions": rows.encodable(predictions)}).body
    assert json.loads(body)["predictions"] == predictions.tolist()
    labels = np.array([0, 1, 1])
    assert json.loads(_json({"p": rows.encodable(labels)}).body)["p"] == [0, 1, 1]
    tensor = rows.output_tensor(predictions.reshape(32, 2)[:, 1])  # a strided view
    assert json.loads(_json(tensor).body)["data"] == predictions.reshape(32, 2)[:, 1].tolist()
