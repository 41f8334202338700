"""ONNX export of registered versions, for the sklearn and xgboost flavors: stored beside the
immutable bundle with a checked sidecar manifest, scored with onnxruntime (``runtime="onnx"``)
with the native predictions within tolerance; a changed export, a missing one, a categorical
signature and a second export are refused naming the file or field."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tuner.errors import BundleError
from tuner.models.bundle import read_manifest
from tuner.models.onnx_export import EXPORT, FILE, TOLERANCE
from tuner.models.store import ArtifactStore
from tuner.registry import ModelRegistry
from tuner.storage import Storage
from tuner.testing import FlavorConformance


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any]:
    X, y = FlavorConformance.data()
    numeric = X[["a", "b", "c"]]
    return numeric, (numeric["a"] + numeric["b"] > 0).astype(int)


def sklearn_model(X: Any, y: Any) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=20)).fit(X, y)


def xgboost_model(X: Any, y: Any) -> Any:
    import xgboost as xgb

    return xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)


def xgboost_regressor(X: Any, y: Any) -> Any:
    import xgboost as xgb

    return xgb.XGBRegressor(n_estimators=20, max_depth=3).fit(X, X["c"])


@pytest.fixture(params=["folder", "fsspec-memory"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModelRegistry]:
    url = str(tmp_path / "store") if request.param == "folder" else f"memory://{tmp_path.name}"
    registry = ModelRegistry(
        Storage(f"sqlite:///{tmp_path / 'tuner.db'}"),
        ArtifactStore(url, tmp_path / "cache"),
        actor="alice",
    )
    yield registry
    registry.close()


@pytest.mark.parametrize("make", [sklearn_model, xgboost_model, xgboost_regressor])
def test_an_export_scores_like_the_native_model(
    registry: ModelRegistry, data: tuple[Any, Any], make: Any
) -> None:
    X, y = data
    registry.register_model(make(X, y), "m", example=X, metrics={"auc": 0.9}, metric="auc")
    version, made = registry.export("m:1", "onnx")
    assert version.version == 1 and made.format == "onnx" and made.rows == 5
    assert (
        made.max_abs_diff <= TOLERANCE
        and made.source == read_manifest(registry.store.fetch(version.uri, version.digest)).digest
    )
    native, onnx = registry.load("m:1"), registry.load("m:1", runtime="onnx")
    assert type(onnx.model).__name__ == "OnnxModel"
    np.testing.assert_allclose(onnx.predict_batch(X), native.predict_batch(X), atol=TOLERANCE)
    row = X.iloc[0].to_dict()
    np.testing.assert_allclose(onnx.predict([row]), native.predict([row]), atol=TOLERANCE)
    registry.load("m:1")  # the version's own bundle is untouched: its checksums still hold
    with pytest.raises(BundleError, match="exported already"):
        registry.export("m:1")


def test_an_export_that_is_missing_or_changed_is_refused(
    tmp_path: Path, data: tuple[Any, Any]
) -> None:
    X, y = data
    registry = ModelRegistry(
        Storage(f"sqlite:///{tmp_path / 'tuner.db'}"), ArtifactStore(str(tmp_path / "store"))
    )
    registry.register_model(xgboost_model(X, y), "m", example=X)
    with pytest.raises(BundleError, match="no ONNX export") as err:
        registry.load("m", runtime="onnx")
    assert err.value.field == "runtime"
    version, _ = registry.export("m")
    folder = Path(version.uri + ".onnx")
    (folder / FILE).chmod(0o644)
    (folder / FILE).write_bytes((folder / FILE).read_bytes()[:-10])
    with pytest.raises(BundleError, match=f"{FILE} fails its checksum"):
        registry.load("m", runtime="onnx")
    registry.close()


def test_an_export_beyond_tolerance_is_refused(tmp_path: Path, data: tuple[Any, Any]) -> None:
    X, y = data
    registry = ModelRegistry(
        Storage(f"sqlite:///{tmp_path / 'tuner.db'}"), ArtifactStore(str(tmp_path / "store"))
    )
    registry.register_model(sklearn_model(X, y), "m", example=X)
    version, _ = registry.export("m")
    sidecar = Path(version.uri + ".onnx") / EXPORT
    found = json.loads(sidecar.read_text())
    found["max_abs_diff"] = 0.5
    sidecar.chmod(0o644)
    sidecar.write_text(json.dumps(found))
    with pytest.raises(BundleError, match="differs from the native model by 0.5"):
        registry.load("m", runtime="onnx")
    assert registry.load("m").runtime == "native"  # auto never picks it
    registry.close()


def test_a_dart_booster_is_refused_naming_it(
    registry: ModelRegistry, data: tuple[Any, Any]
) -> None:
    import xgboost as xgb

    X, y = data
    dart = xgb.XGBClassifier(n_estimators=5, max_depth=3, booster="dart").fit(X, y)
    registry.register_model(dart, "d", example=X)
    with pytest.raises(BundleError, match="'gbtree' boosters only, this one is 'dart'") as err:
        registry.export("d")
    assert err.value.field == "format"
    assert registry.load("d").runtime == "native"  # still scored, with XGBoost


def test_categorical_features_and_other_formats_are_refused(tmp_path: Path) -> None:
    from tests.models.test_bundle import TestXGBoostFlavor

    X, y = FlavorConformance.data()
    registry = ModelRegistry(
        Storage(f"sqlite:///{tmp_path / 'tuner.db'}"), ArtifactStore(str(tmp_path / "store"))
    )
    registry.register_model(TestXGBoostFlavor().fit(X, y), "m", example=X)
    with pytest.raises(BundleError, match="numeric features only; colour") as err:
        registry.export("m")
    assert err.value.field == "format"
    assert not [p for p in (tmp_path / "store" / "m").iterdir() if p.name.endswith(".onnx")]
    with pytest.raises(Exception, match="must be one of onnx, pmml"):
        registry.export("m", "h2o")
    with pytest.raises(Exception, match="runtime"):
        registry.load("m", runtime="tensorrt")
    registry.close()


def test_the_cli_exports_a_version(tmp_path: Path, data: tuple[Any, Any]) -> None:
    import subprocess
    import sys

    X, y = data
    db, store = f"sqlite:///{tmp_path / 'tuner.db'}", str(tmp_path / "store")
    registry = ModelRegistry(Storage(db), ArtifactStore(store))
    registry.register_model(sklearn_model(X, y), "churn", example=X)
    registry.close()
    tuner = [sys.executable, "-m", "tuner.cli"]
    env = {**os.environ, "TUNER_MODEL_STORE": store}
    done = subprocess.run(
        [*tuner, "models", "export", "churn:1", "--format", "onnx", "--db", db],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("churn:1 exported to onnx: max abs difference")
    assert "one row: native" in done.stdout and "(auto: " in done.stdout
    again = subprocess.run(
        [*tuner, "models", "export", "churn:1", "--db", db],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert again.returncode != 0 and "exported already" in again.stderr
    assert "Traceback" not in again.stderr


def test_the_embedded_predictor_scores_with_the_export(
    tmp_path: Path, data: tuple[Any, Any]
) -> None:
    from tuner.embedded import load_model

    X, y = data
    db, store = f"sqlite:///{tmp_path / 'tuner.db'}", str(tmp_path / "store")
    registry = ModelRegistry(Storage(db), ArtifactStore(store))
    registry.register_model(xgboost_model(X, y), "churn", example=X, alias="production")
    registry.export("churn@production")
    expected = registry.load("churn:1").predict_batch(X)
    registry.close()
    with load_model("churn@production", db=db, store=store, runtime="onnx") as m:
        assert type(m.predictor.model).__name__ == "OnnxModel"
        np.testing.assert_allclose(m.predict(X), expected, atol=TOLERANCE)


@pytest.mark.parametrize("make", [sklearn_model, xgboost_model])
def test_auto_picks_the_runtime_that_was_faster_at_export(
    tmp_path: Path, data: tuple[Any, Any], make: Any
) -> None:
    X, y = data
    registry = ModelRegistry(
        Storage(f"sqlite:///{tmp_path / 'tuner.db'}"), ArtifactStore(str(tmp_path / "store"))
    )
    registry.register_model(make(X, y), "m", example=X)
    assert registry.load("m").runtime == "native"  # no export: nothing to choose from
    _, made = registry.export("m")
    assert set(made.timings) == {"native_row", "onnx_row", "native_batch", "onnx_batch"}
    assert all(t > 0 for t in made.timings.values())
    for use in ("row", "batch"):
        faster = "onnx" if made.timings[f"onnx_{use}"] < made.timings[f"native_{use}"] else "native"
        assert made.runtime(use) == faster
        assert registry.load("m", use=use).runtime == faster
    assert registry.load("m", runtime="native").runtime == "native"
    forced = registry.load("m", runtime="onnx")
    assert forced.runtime == "onnx" and type(forced.model).__name__ == "OnnxModel"
    sidecar = json.loads((Path(registry.resolve("m").uri + ".onnx") / EXPORT).read_text())
    assert sidecar["timings"] == made.timings  # recorded beside the version
    registry.close()


def test_the_choice_needs_the_same_predictions_and_a_faster_time() -> None:
    from tuner.models.onnx_export import OnnxExport
    from tuner.models.runtimes import choose

    def export(diff: float, timings: dict[str, float]) -> OnnxExport:
        return OnnxExport("onnx", "x", FILE, "y", diff, 5, {}, "2026-01-01", timings)

    fast_onnx = {"native_row": 200.0, "onnx_row": 50.0, "native_batch": 9e3, "onnx_batch": 1e4}
    assert choose(export(1e-7, fast_onnx), "row", TOLERANCE) == "onnx"
    assert choose(export(1e-7, fast_onnx), "batch", TOLERANCE) == "native"  # slower there
    assert choose(export(1e-3, fast_onnx), "row", TOLERANCE) == "native"  # not the same
    assert choose(export(float("nan"), fast_onnx), "row", TOLERANCE) == "native"
    assert choose(export(1e-7, {}), "row", TOLERANCE) == "native"  # an export without times
    assert choose(None, "row", TOLERANCE) == "native"
    from tuner.models.runtimes import checked

    with pytest.raises(Exception, match="runtime"):
        checked("tensorrt")
