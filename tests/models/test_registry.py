"""The model registry on SQLite and PostgreSQL, with bundles in a folder and through fsspec's
local and memory file systems: round trips of every flavor, the promotion rule, alias history
and rollback, and nothing half-registered after a failure."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.models import test_bundle
from tuner.errors import BundleError, NotFound, SpecError
from tuner.models import write_bundle
from tuner.models.store import ArtifactStore
from tuner.registry import ModelRegistry, parse_ref
from tuner.storage import Storage
from tuner.testing import FlavorConformance


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    X, y = FlavorConformance.data()
    return {
        "sklearn": test_bundle.TestSklearnFlavor().fit(X, y),
        "xgboost": test_bundle.TestXGBoostFlavor().fit(X, y),
        "X": X,
    }


@pytest.fixture(params=["folder", "fsspec-local", "fsspec-memory"])
def any_store(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[ModelRegistry]:
    """A registry on each database, with bundles in each kind of store."""
    url = {
        "folder": str(tmp_path / "store"),
        "fsspec-local": f"local://{tmp_path / 'store'}",
        "fsspec-memory": f"memory://store-{uuid.uuid4().hex[:8]}",
    }[request.param]
    registry = ModelRegistry(
        Storage(database_url), ArtifactStore(url, tmp_path / "cache"), actor="alice"
    )
    yield registry
    registry.close()


@pytest.fixture
def registry(database_url: str, tmp_path: Path) -> Iterator[ModelRegistry]:
    """A registry on each database, with bundles in a folder."""
    registry = ModelRegistry(Storage(database_url), ArtifactStore(str(tmp_path)), actor="alice")
    yield registry
    registry.close()


@pytest.mark.parametrize("flavor", ["sklearn", "xgboost"])
def test_a_version_round_trips_through_the_registry(
    any_store: ModelRegistry, fitted: dict[str, Any], flavor: str
) -> None:
    X, registry = fitted["X"], any_store
    reg = registry.register_model(
        fitted[flavor], "churn", example=X, metrics={"auc": 0.9}, metric="auc",
        direction="maximize", alias="production",
    )  # fmt: skip
    assert reg.version.version == 1 and reg.version.aliases == ("production",)
    assert reg.moved is not None and reg.moved.from_version is None
    p = registry.load("churn@production")
    assert p.flavor == flavor
    expected = registry.load("churn:1").predict_batch(X)
    np.testing.assert_allclose(p.predict_batch(X), expected)
    np.testing.assert_allclose(registry.load("churn").predict(X.head(2)), expected[:2])
    (summary,) = registry.models()
    assert summary.name == "churn" and summary.aliases == {"production": 1}
    (version,) = registry.versions("churn")
    assert version.flavor == flavor and version.value == 0.9 and version.created_by == "alice"


def register(registry: ModelRegistry, model: Any, X: Any, value: float, **kw: Any) -> Any:
    return registry.register_model(
        model, "churn", example=X, metrics={"auc": value, "logloss": 1 - value}, **kw
    )


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_alias_moves_only_when_better_on_the_same_metric(
    registry: ModelRegistry, fitted: dict[str, Any], direction: str
) -> None:
    model, X = fitted["xgboost"], fitted["X"]
    metric = "auc" if direction == "maximize" else "logloss"
    rule = {"metric": metric, "direction": direction, "alias": "production", "when": "better"}
    first = register(registry, model, X, 0.80, **rule)
    assert first.moved is not None and "first version" in first.reason
    worse = register(registry, model, X, 0.70, **rule)  # auc lower, logloss higher: worse
    assert worse.moved is None and "does not beat" in worse.reason
    assert worse.version.version == 2 and worse.version.aliases == ()
    same = register(registry, model, X, 0.80, **rule)  # a tie is not better
    assert same.moved is None
    best = register(registry, model, X, 0.90, **rule)
    assert best.moved is not None and best.moved.from_version == 1
    assert registry.resolve("churn@production").version == 4
    other = register(registry, model, X, 0.99, metric="auc", direction="minimize",
                     alias="production", when="better")  # fmt: skip
    assert other.moved is None and "not comparable" in other.reason
    assert [v.version for v in registry.versions("churn")] == [5, 4, 3, 2, 1]


def test_alias_history_and_rollback(registry: ModelRegistry, fitted: dict[str, Any]) -> None:
    model, X = fitted["sklearn"], fitted["X"]
    for value in (0.7, 0.8):
        register(registry, model, X, value, metric="auc", direction="maximize",
                 alias="production", when="always")  # fmt: skip
    move = registry.set_alias("churn", "production", 1, reason="v2 misbehaves")
    assert (move.from_version, move.to_version) == (2, 1)
    registry.set_alias("churn", "staging", 2)
    history = registry.history("churn")
    assert [(m.alias, m.from_version, m.to_version) for m in history] == [
        ("production", None, 1), ("production", 1, 2), ("production", 2, 1), ("staging", None, 2)
    ]  # fmt: skip
    assert {m.actor for m in history} == {"alice"} and history[2].reason == "v2 misbehaves"
    assert registry.resolve("churn@production").version == 1
    assert registry.resolve("churn@staging").aliases == ("staging",)
    with pytest.raises(NotFound, match="no version 9"):
        registry.set_alias("churn", "production", 9)
    with pytest.raises(NotFound, match="no alias 'canary' .aliases: production, staging"):
        registry.resolve("churn@canary")
    with pytest.raises(NotFound, match="no model named 'fraud'"):
        registry.resolve("fraud")


def test_projects_do_not_see_each_others_models(
    registry: ModelRegistry, fitted: dict[str, Any]
) -> None:
    register(registry, fitted["xgboost"], fitted["X"], 0.8)
    other = ModelRegistry(registry.storage, registry.store, project="other", actor="bob")
    assert other.models() == []
    with pytest.raises(NotFound):
        other.resolve("churn")
    register(other, fitted["xgboost"], fitted["X"], 0.8)
    assert other.resolve("churn").version == 1 and registry.resolve("churn").version == 1


def test_nothing_half_registered_stays(
    any_store: ModelRegistry, fitted: dict[str, Any], tmp_path: Path
) -> None:
    registry = any_store
    folder = tmp_path / "b"
    write_bundle(fitted["xgboost"], folder, example=fitted["X"], metrics={"auc": 0.8})
    with pytest.raises(SpecError, match="no metric 'rmse'"):
        registry.register("churn", folder, metric="rmse", direction="minimize")
    with pytest.raises(SpecError, match="alias"):
        registry.register("churn", folder, alias="9lives")
    tampered = tmp_path / "t"
    import shutil

    shutil.copytree(folder, tampered)
    target = tampered / "model" / "model.ubj"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes()[:-5])
    with pytest.raises(BundleError, match=r"model\.ubj fails its checksum"):
        registry.register("churn", tampered)
    assert registry.models() == []
    if registry.store.local:
        assert not Path(registry.store.root).exists() or not any(
            Path(registry.store.root).rglob("MANIFEST.json")
        )


def test_model_references() -> None:
    assert parse_ref("churn") == ("churn", None)
    assert parse_ref("churn:3") == ("churn", 3)
    assert parse_ref("churn@production") == ("churn", "production")
    for bad in ("churn:x", "churn:0", "churn@", "bad/name"):
        with pytest.raises(SpecError):
            parse_ref(bad)


@pytest.mark.parametrize(
    "booster", ["GradientBoostingClassifier", "HistGradientBoostingClassifier"]
)
def test_scikit_learns_own_tree_models_round_trip(
    registry: ModelRegistry, fitted: dict[str, Any], booster: str
) -> None:
    """Their trees are types skops does not trust by itself (``sklearn.tree._tree.Tree``, the
    HistGradientBoosting ``TreePredictor``); the flavor trusts scikit-learn's own types."""
    import sklearn.ensemble
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = fitted["X"]
    y = (X["a"] + (X["colour"] == "red") > 0.5).astype(int)
    prepare = ColumnTransformer(
        [("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"])],
        remainder=StandardScaler(),
    )
    estimator = getattr(sklearn.ensemble, booster)(random_state=0)
    model = Pipeline([("prepare", prepare), ("model", estimator)]).fit(X, y)
    registry.register_model(model, "trees", example=X, metrics={"auc": 0.9}, metric="auc")
    p = registry.load("trees:1")
    assert p.flavor == "sklearn"
    np.testing.assert_array_equal(p.predict_batch(X), model.predict_proba(X)[:, 1])
    np.testing.assert_array_equal(p.predict(X.head(3)), model.predict_proba(X.head(3))[:, 1])
