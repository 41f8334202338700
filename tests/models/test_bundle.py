"""Model bundles and the Predictor: both built-in flavors run the flavor conformance suite;
rows that do not fit the signature, changed bundles, unknown flavors, missing packages and
untrusted types are refused with errors naming the row and feature, file, flavor or package."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tuner.errors import BundleError, InvalidInput
from tuner.models import MANIFEST, Lineage, Predictor, write_bundle
from tuner.testing import FlavorConformance


class TestSklearnFlavor(FlavorConformance):
    flavor = "sklearn"

    def fit(self, X: Any, y: Any) -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        encode = ColumnTransformer(
            [("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"])],
            remainder="passthrough",
        )
        return Pipeline([("encode", encode), ("model", LogisticRegression())]).fit(X, y)


class TestXGBoostFlavor(FlavorConformance):
    flavor = "xgboost"

    def fit(self, X: Any, y: Any) -> Any:
        import xgboost as xgb

        return xgb.XGBClassifier(n_estimators=20, max_depth=3, enable_categorical=True).fit(X, y)


def test_a_native_booster_with_plain_rows_and_lineage(tmp_path: Path) -> None:
    import xgboost as xgb

    X, y = FlavorConformance.data()
    numeric = X[["a", "b", "c"]]
    booster = xgb.train(
        {"objective": "reg:squarederror"}, xgb.DMatrix(numeric, label=y), num_boost_round=5
    )
    manifest = write_bundle(
        booster, tmp_path / "b", lineage=Lineage("demo", 7, {"max_depth": 3})
    )  # no example: the booster's own feature names make the signature
    assert manifest.signature.names == ["a", "b", "c"]
    assert manifest.signature.output.kind == "value"
    p = Predictor.load(tmp_path / "b")
    assert p.manifest.lineage == Lineage("demo", 7, {"max_depth": 3})
    expected = booster.inplace_predict(numeric.to_numpy())
    np.testing.assert_allclose(p.predict(numeric.to_numpy()), expected, rtol=1e-6)
    np.testing.assert_allclose(p.predict(numeric.head(1).to_dict("records")), expected[:1])
    # all-numeric rows skip the DataFrame, yet what does not fit is still named
    with pytest.raises(InvalidInput, match="nan, not a finite number") as err:
        p.predict([{"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": float("nan"), "c": 0.0}])
    assert err.value.field == "rows[1].b"
    with pytest.raises(InvalidInput, match="missing feature 'c'"):
        p.predict([{"a": 1.0, "b": 2.0}])


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    X, y = FlavorConformance.data()
    folder = tmp_path_factory.mktemp("p") / "bundle"
    write_bundle(TestXGBoostFlavor().fit(X, y), folder, example=X)
    return Predictor.load(folder)


GOOD = {"a": 0.1, "b": 0.2, "c": 0.3, "colour": "red"}


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({"a": 0.1, "b": 0.2, "c": 0.3}, "rows[1].colour", "missing feature 'colour'"),
        ({**GOOD, "colour": "pink"}, "rows[1].colour", "unknown category 'pink'"),
        ({**GOOD, "colour": None}, "rows[1].colour", "missing"),
        ({**GOOD, "b": "x"}, "rows[1].b", "must be a number, not str"),
        ({**GOOD, "b": float("nan")}, "rows[1].b", "nan, not a finite number"),
        ({**GOOD, "c": float("inf")}, "rows[1].c", "inf, not a finite number"),
        ({**GOOD, "a": None}, "rows[1].a", "missing"),
    ],
)
def test_rows_that_do_not_fit_are_refused_naming_row_and_feature(
    predictor: Predictor, bad: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        predictor.predict([GOOD, bad])
    assert err.value.field == field


def test_a_frame_or_array_that_does_not_fit_is_refused_naming_row_and_feature(
    predictor: Predictor,
) -> None:
    frame = pd.DataFrame([GOOD, GOOD, {**GOOD, "b": np.inf}])
    with pytest.raises(InvalidInput, match="inf") as err:
        predictor.predict_batch(frame)
    assert err.value.field == "rows[2].b"
    with pytest.raises(InvalidInput, match="unknown category 'pink'") as err:
        predictor.predict_batch(pd.DataFrame([GOOD, {**GOOD, "colour": "pink"}]))
    assert err.value.field == "rows[1].colour"
    with pytest.raises(InvalidInput, match="missing feature 'colour'"):
        predictor.predict_batch(frame.head(2).drop(columns=["colour"]))
    with pytest.raises(InvalidInput, match="expected rows of 4 values") as err:
        predictor.predict(np.zeros((2, 3)))
    assert err.value.field == "rows"
    with pytest.raises(InvalidInput, match="must be a number, not str 'x'") as err:
        predictor.predict_batch(pd.DataFrame([GOOD, {**GOOD, "a": "x"}]))
    assert err.value.field == "rows[1].a"
    with pytest.raises(InvalidInput, match="not int"):
        predictor.predict(3)


def test_one_dict_a_frame_and_an_array_give_the_same_predictions(predictor: Predictor) -> None:
    one = predictor.predict(GOOD)
    array = predictor.predict(np.array([[0.1, 0.2, 0.3, "red"]], dtype=object))
    frame = predictor.predict_batch(pd.DataFrame([{**GOOD, "extra": 1}]))
    assert one.shape == (1,) and one[0] == array[0] == frame[0]


def copy_of(predictor: Predictor, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(predictor.folder, copy)
    for p in copy.rglob("*"):
        if p.is_file():
            os.chmod(p, 0o644)
    return copy


def test_a_changed_truncated_or_missing_file_is_refused_naming_it(
    predictor: Predictor, tmp_path: Path
) -> None:
    copy = copy_of(predictor, tmp_path)
    model = copy / "model" / "model.ubj"
    data = model.read_bytes()
    model.write_bytes(data[:10] + bytes([data[10] ^ 1]) + data[11:])
    with pytest.raises(BundleError, match=r"model\.ubj fails its checksum"):
        Predictor.load(copy)
    model.unlink()
    with pytest.raises(BundleError, match=r"model\.ubj is missing"):
        Predictor.load(copy)
    (copy / MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match="MANIFEST.json is not a valid manifest"):
        Predictor.load(copy)
    (copy / MANIFEST).unlink()
    with pytest.raises(BundleError, match="has no MANIFEST.json"):
        Predictor.load(copy)


def test_a_registered_digest_catches_a_changed_manifest(
    predictor: Predictor, tmp_path: Path
) -> None:
    copy = copy_of(predictor, tmp_path)
    digest = predictor.manifest.digest
    assert Predictor.load(copy, digest).manifest.digest == digest
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["metrics"] = {"auc": 1.0}
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="changed after registration"):
        Predictor.load(copy, digest)


def test_an_unknown_flavor_or_a_missing_package_is_refused_naming_it(
    predictor: Predictor, tmp_path: Path
) -> None:
    copy = copy_of(predictor, tmp_path)
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps({**manifest, "flavor": "h2o"}))
    with pytest.raises(BundleError, match="unknown flavor 'h2o' .known: sklearn, spark, xgboost"):
        Predictor.load(copy)
    requires = {**manifest["requires"], "tuner_missing_framework": "tuner-missing-framework"}
    (copy / MANIFEST).write_text(json.dumps({**manifest, "requires": requires}))
    with pytest.raises(BundleError, match="needs the package 'tuner-missing-framework'"):
        Predictor.load(copy)


def triple(x: Any) -> Any:
    return x * 3


def test_types_skops_does_not_trust_are_refused_naming_them(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    model = make_pipeline(FunctionTransformer(triple), LinearRegression()).fit(X, y)
    with pytest.raises(BundleError, match="does not trust.*test_bundle.triple"):
        write_bundle(model, tmp_path / "b", example=X)
    assert not (tmp_path / "b").exists() and not list(tmp_path.iterdir())


def test_a_model_no_flavor_takes_or_an_existing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no flavor takes a builtins.dict") as err:
        write_bundle({"not": "a model"}, tmp_path / "b")
    assert err.value.field == "flavor"
    with pytest.raises(BundleError, match="unknown flavor 'h2o'"):
        write_bundle({}, tmp_path / "b", flavor="h2o")
    (tmp_path / "b").mkdir()
    with pytest.raises(BundleError, match="exists already"):
        write_bundle({}, tmp_path / "b")


def test_an_array_example_names_the_features_f0_f1(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    write_bundle(LinearRegression().fit(X, y), tmp_path / "b", example=X)
    p = Predictor.load(tmp_path / "b")
    assert p.signature.names == ["f0", "f1"] and p.signature.output.kind == "value"
    np.testing.assert_allclose(p.predict([{"f0": 2.0, "f1": 3.0}]), [1.0], atol=1e-9)
