"""PMML export of registered versions (sklearn2pmml, Java): stored beside the immutable bundle with
a checked sidecar manifest, scored with the JPMML evaluator (``runtime="pmml"``) with the native
predictions within tolerance, for numeric and categorical pipelines; the xgboost flavor, a second
export and a changed export are refused naming the flavor, the version or the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tuner.errors import BundleError
from tuner.models.bundle import read_manifest
from tuner.models.onnx_export import EXPORT
from tuner.models.pmml_export import FILE, TOLERANCE
from tuner.models.store import ArtifactStore
from tuner.registry import ModelRegistry
from tuner.storage import Storage
from tuner.testing import FlavorConformance


def numeric_model() -> tuple[Any, pd.DataFrame]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = FlavorConformance.data()
    X = X[["a", "b", "c"]]
    y = (X["a"] + X["b"] > 0).astype(int)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X


def categorical_model() -> tuple[Any, pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(3)
    X = pd.DataFrame(
        {
            "age": rng.normal(40, 12, 200),
            "plan": rng.choice(["basic", "pro", "team"], 200),
        }
    )
    y = X["age"] / 10 + (X["plan"] == "pro") * 2.0
    prep = ColumnTransformer([("num", "passthrough", ["age"]), ("cat", OneHotEncoder(), ["plan"])])
    model = Pipeline([("prep", prep), ("forest", RandomForestRegressor(10, max_depth=4))])
    return model.fit(X, y), X


def open_registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(
        Storage(f"sqlite:///{tmp_path / 'tuner.db'}"),
        ArtifactStore(str(tmp_path / "store"), tmp_path / "cache"),
        actor="alice",
    )


@pytest.mark.parametrize("make", [numeric_model, categorical_model])
def test_an_export_scores_like_the_native_model(tmp_path: Path, make: Any) -> None:
    model, X = make()
    registry = open_registry(tmp_path)
    registry.register_model(model, "m", example=X.head(5))
    version, made = registry.export("m:1", "pmml")
    assert version.version == 1 and made.format == "pmml" and made.rows == 5
    assert made.max_abs_diff <= TOLERANCE and "sklearn2pmml" in made.versions
    folder = Path(version.uri + ".pmml")
    sidecar = json.loads((folder / EXPORT).read_text())
    assert sidecar["source"] == read_manifest(version.uri).digest
    assert (folder / FILE).read_text().lstrip().startswith("<?xml")
    native, pmml = registry.load("m:1", runtime="native"), registry.load("m:1", runtime="pmml")
    assert pmml.runtime == "pmml" and type(pmml.model).__name__ == "PmmlModel"
    rows = X.iloc[20:60]
    expected = native.predict_batch(rows)
    assert np.max(np.abs(pmml.predict_batch(rows) - expected)) <= TOLERANCE
    one = [rows.iloc[0].to_dict()]
    assert abs(float(pmml.predict(one)[0]) - float(expected[0])) <= TOLERANCE
    # auto never picks the PMML export: it is for portability
    assert registry.load("m:1").runtime == "native"
    with pytest.raises(BundleError, match="exported already to pmml"):
        registry.export("m:1", "pmml")
    registry.close()


def test_a_changed_or_missing_export_is_refused(tmp_path: Path) -> None:
    model, X = numeric_model()
    registry = open_registry(tmp_path)
    registry.register_model(model, "m", example=X.head(5))
    with pytest.raises(BundleError, match="no PMML export .*--format pmml") as err:
        registry.load("m", runtime="pmml")
    assert err.value.field == "runtime"
    version, _ = registry.export("m", "pmml")
    path = Path(version.uri + ".pmml") / FILE
    path.chmod(0o644)
    path.write_text(path.read_text().replace("<", " <", 1))
    fresh = ModelRegistry(
        Storage(f"sqlite:///{tmp_path / 'tuner.db'}"), ArtifactStore(str(tmp_path / "store"))
    )
    with pytest.raises(BundleError, match="fails its checksum"):
        fresh.load("m", runtime="pmml")
    fresh.close()
    registry.close()


def test_the_xgboost_flavor_is_refused_naming_it(tmp_path: Path) -> None:
    import xgboost as xgb

    _, X = numeric_model()
    registry = open_registry(tmp_path)
    y = (X["a"] > 0).astype(int)
    registry.register_model(xgb.XGBClassifier(n_estimators=5).fit(X, y), "m", example=X)
    with pytest.raises(BundleError, match="the 'xgboost' flavor has no PMML export") as err:
        registry.export("m", "pmml")
    assert err.value.field == "format"
    assert not [p for p in (tmp_path / "store" / "m").iterdir() if p.name.endswith(".pmml")]
    with pytest.raises(Exception, match="must be one of onnx, pmml"):
        registry.export("m", "h2o")
    registry.close()


def test_a_step_without_a_converter_and_a_missing_java_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    _, X = numeric_model()
    model = make_pipeline(Nystroem(n_components=5), Ridge()).fit(X, X["a"] * 2)
    registry = open_registry(tmp_path)
    registry.register_model(model, "m", example=X)
    with pytest.raises(BundleError, match="sklearn2pmml cannot convert .*Nystroem") as err:
        registry.export("m", "pmml")
    assert err.value.field == "format"
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    with pytest.raises(BundleError, match="PMML needs Java"):
        registry.export("m", "pmml")
    assert not [p for p in (tmp_path / "store" / "m").iterdir() if p.name.endswith(".pmml")]
    registry.close()


def test_the_cli_exports_and_predicts_with_pmml(tmp_path: Path) -> None:
    model, X = categorical_model()
    db, store = f"sqlite:///{tmp_path / 'tuner.db'}", str(tmp_path / "store")
    registry = ModelRegistry(Storage(db), ArtifactStore(store))
    registry.register_model(model, "churn", example=X.head(6))
    registry.close()
    tuner = [sys.executable, "-m", "tuner.cli"]
    env = {**os.environ, "TUNER_MODEL_STORE": store}
    done = subprocess.run(
        [*tuner, "models", "export", "churn:1", "--format", "pmml", "--db", db],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("churn:1 exported to pmml: max abs difference")
    X.to_csv(tmp_path / "rows.csv", index=False)
    scored = subprocess.run(
        [*tuner, "predict", "churn:1", "--runtime", "pmml", "--input", str(tmp_path / "rows.csv"),
         "--output", str(tmp_path / "out.csv"), "--no-progress", "--db", db],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == len(X)
    assert np.max(np.abs(out["prediction"].to_numpy() - model.predict(X))) <= 1e-5
    again = subprocess.run(
        [*tuner, "models", "export", "churn:1", "--format", "pmml", "--db", db],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert again.returncode != 0 and "exported already to pmml" in again.stderr
    assert "Traceback" not in again.stderr
