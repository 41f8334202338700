"""The sklearn flavor's array fast path answers exactly what the DataFrame path answers, for
numeric and categorical signatures, and checks rows as strictly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tuner.errors import InvalidInput
from tuner.models import Predictor, write_bundle
from tuner.models.flavors import sklearn_arrays


def data(rows: int = 400) -> tuple[Any, Any]:
    import pandas as pd

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"])
    X["plan"] = rng.choice(["basic", "plus", "pro"], rows)
    X["region"] = pd.Categorical(rng.choice(["north", "south"], rows))
    y = ((X["a"] - X["b"] * X["c"] + (X["plan"] == "pro")) > 0.2).astype(int)
    return X, y


def numeric_pipeline(X: Any, y: Any) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)


def categorical_pipeline(X: Any, y: Any) -> Any:
    """What the sklearn trainer builds: numeric columns scaled, text columns one-hot encoded,
    here with a remainder passed through."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("numeric", make_pipeline(StandardScaler()), ["a", "b", "c"]),
            ("text", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        ],
        remainder="passthrough",
    )
    model = GradientBoostingClassifier(n_estimators=20, random_state=0)
    return Pipeline([("preprocess", columns), ("model", model)]).fit(X, y)


@pytest.fixture(scope="module")
def numeric(tmp_path_factory: pytest.TempPathFactory) -> tuple[Predictor, Any]:
    X, y = data()
    X = X[["a", "b", "c", "d"]]
    folder = tmp_path_factory.mktemp("numeric") / "bundle"
    write_bundle(numeric_pipeline(X, y), folder, example=X)
    return Predictor.load(folder), X


@pytest.fixture(scope="module")
def categorical(tmp_path_factory: pytest.TempPathFactory) -> tuple[Predictor, Any]:
    X, y = data()
    folder = tmp_path_factory.mktemp("categorical") / "bundle"
    write_bundle(categorical_pipeline(X, y), folder, example=X)
    return Predictor.load(folder), X


def test_numeric_rows_take_the_array_path_with_identical_predictions(
    numeric: tuple[Predictor, Any],
) -> None:
    predictor, X = numeric
    assert predictor.model.predict_array is not None  # type: ignore[attr-defined]
    slow = predictor.predict_batch(X)  # the DataFrame path
    rows = X.astype(object).to_dict("records")
    np.testing.assert_array_equal(predictor.predict(rows), slow)
    np.testing.assert_array_equal(predictor.predict(X.to_numpy()), slow)
    for i in (0, 17, 399):  # one row at a time, as the embedded predictor is called
        np.testing.assert_array_equal(predictor.predict(rows[i]), slow[i : i + 1])
    assert float(slow.min()) < 0.5 < float(slow.max())  # both classes predicted


def test_categorical_rows_take_the_array_path_with_identical_predictions(
    categorical: tuple[Predictor, Any],
) -> None:
    predictor, X = categorical
    assert predictor.model.predict_array is not None  # type: ignore[attr-defined]
    slow = predictor.predict_batch(X)
    rows = X.astype(object).to_dict("records")
    np.testing.assert_array_equal(predictor.predict(rows), slow)
    np.testing.assert_array_equal(predictor.predict(X.to_numpy(dtype=object)), slow)
    for i in (0, 5, 250):
        np.testing.assert_array_equal(predictor.predict([rows[i]]), slow[i : i + 1])
    for plan in ("basic", "plus", "pro"):  # every category reaches the encoder
        row = {**rows[0], "plan": plan}
        np.testing.assert_array_equal(
            predictor.predict(row), predictor.predict_batch(X.head(1).assign(plan=plan))
        )


def test_the_array_path_refuses_what_the_dataframe_path_refuses(
    categorical: tuple[Predictor, Any],
) -> None:
    predictor, X = categorical
    row = X.astype(object).to_dict("records")[0]
    with pytest.raises(InvalidInput, match="unknown category 'gold' of 'plan'") as caught:
        predictor.predict([row, {**row, "plan": "gold"}])
    assert caught.value.field == "rows[1].plan"
    with pytest.raises(InvalidInput, match="'a' must be a number") as caught:
        predictor.predict({**row, "a": "x"})
    assert caught.value.field == "rows[0].a"
    with pytest.raises(InvalidInput, match="missing feature 'd'"):
        predictor.predict({k: v for k, v in row.items() if k != "d"})
    with pytest.raises(InvalidInput, match="not a finite number"):
        predictor.predict({**row, "b": float("nan")})


def test_a_fast_path_that_differs_by_one_bit_is_not_used(
    numeric: tuple[Predictor, Any],
) -> None:
    predictor, X = numeric
    model: Any = predictor.model
    rows = X.head(5).astype(object).to_dict("records")
    signature = predictor.signature
    exact = model.predict_array
    assert sklearn_arrays.same_predictions(model.predict, exact, signature, rows)

    def off_by_one_ulp(array: Any) -> Any:
        return np.nextafter(exact(array), 2.0)

    assert not sklearn_arrays.same_predictions(model.predict, off_by_one_ulp, signature, rows)
    assert not sklearn_arrays.same_predictions(model.predict, exact, signature, [])
