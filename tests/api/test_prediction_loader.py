"""Swaps through the loader process (``api/prediction/loader.py``): a scikit-learn pipeline
loaded there and handed over serves exactly what the embedded Predictor answers; a corrupt
bundle is refused with the old version still serving; a loader that dies is replaced; the
hand-over's unpickler takes classes from its allow-list only; an idle loader exits and the next
load starts another."""

from __future__ import annotations

import decimal
import logging
import multiprocessing
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.api.prediction_server import corrupt_version
from tuner.api.prediction.loader import Loader, unpickle
from tuner.api.prediction.metrics import PredictionMetrics
from tuner.api.prediction.rows import batch_of_instances
from tuner.api.prediction.served import ServedModels
from tuner.errors import BundleError
from tuner.models.store import ArtifactStore
from tuner.registry import ModelRegistry
from tuner.storage import Storage


def pipeline(seed: int, X: Any, y: Any) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(), GradientBoostingClassifier(n_estimators=10 * (seed + 1), random_state=0)
    )
    return model.fit(X, y)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedModels, Any]]:
    """``gbm`` versions 1 (production), 2 and 3 (a scaler and 10, 20, 30 boosted trees),
    served through the loader process."""
    import pandas as pd
    from sklearn.datasets import make_classification

    home: Path = tmp_path_factory.mktemp("loader")
    features, y = make_classification(n_samples=300, n_features=6, random_state=0)
    X = pd.DataFrame(features, columns=[f"f{i}" for i in range(6)])
    registry = ModelRegistry(
        Storage(f"sqlite:///{home / 'r.db'}"), ArtifactStore(str(home / "store"))
    )
    for seed in (0, 1, 2):
        alias = "production" if seed == 0 else None
        registry.register_model(pipeline(seed, X, y), "gbm", example=X, alias=alias)
    models = ServedModels(registry, ["gbm"], PredictionMetrics())
    assert models.refresh("gbm") == "loaded"
    try:
        yield models, X
    finally:
        models.close()


def served_predictions(models: ServedModels, X: Any) -> np.ndarray:
    current = models.get("gbm").current
    assert current is not None
    rows = X.to_dict(orient="records")
    return current.predict(batch_of_instances(current.predictor.signature, rows))


def embedded(models: ServedModels, version: int, X: Any) -> np.ndarray:
    return np.asarray(models.registry.load(f"gbm:{version}").predict(X))


def test_a_pipeline_swapped_through_the_loader_serves_identical_predictions(
    served: tuple[ServedModels, Any], caplog: pytest.LogCaptureFixture
) -> None:
    models, X = served
    assert multiprocessing.active_children(), "the loader process runs beside this one"
    with caplog.at_level(logging.INFO, logger="tuner.serving"):
        models.registry.set_alias("gbm", "production", 2)
        assert models.refresh("gbm") == "swapped"
    assert "loaded here" not in caplog.text  # handed over, not loaded in this process
    assert models.get("gbm").describe()["version"] == 2
    np.testing.assert_array_equal(served_predictions(models, X), embedded(models, 2, X))
    assert not np.array_equal(embedded(models, 1, X), embedded(models, 2, X))


def test_a_corrupt_bundle_is_refused_and_the_old_version_keeps_serving(
    served: tuple[ServedModels, Any],
) -> None:
    models, X = served
    before = models.get("gbm").describe()["version"]
    answers = served_predictions(models, X)
    bad = corrupt_version(models.registry, "gbm")
    models.registry.set_alias("gbm", "production", bad)
    assert models.refresh("gbm") == "refused"
    state = models.get("gbm").describe()
    assert state["version"] == before and state["refused"]["version"] == bad
    assert "checksum" in state["refused"]["reason"]
    np.testing.assert_array_equal(served_predictions(models, X), answers)


def test_a_loader_that_died_is_replaced_and_the_swap_happens(
    served: tuple[ServedModels, Any],
) -> None:
    models, X = served
    for child in multiprocessing.active_children():
        child.kill()
        child.join()
    target = 3 if models.get("gbm").describe()["version"] != 3 else 1
    models.registry.set_alias("gbm", "production", target)
    assert models.refresh("gbm") == "swapped"
    assert models.get("gbm").describe()["version"] == target
    np.testing.assert_array_equal(served_predictions(models, X), embedded(models, target, X))


def test_the_hand_over_is_unpickled_from_the_allow_list_only() -> None:
    with pytest.raises(BundleError, match="decimal.Decimal"):
        unpickle(pickle.dumps(decimal.Decimal(1)), "sklearn")
    with pytest.raises(BundleError, match="handed over a list"):
        unpickle(pickle.dumps([1, 2]), "sklearn")


def test_an_idle_loader_exits_and_the_next_load_starts_another(
    served: tuple[ServedModels, Any],
) -> None:
    models, X = served
    version = models.registry.storage.model_version(models.project, "gbm", 1)
    loader = Loader(idle=0.1)
    try:
        first = loader.load(models.registry.locate(version), "sklearn")
        deadline = time.monotonic() + 120  # a bound on waiting, not a timing assertion
        while loader.running and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not loader.running
        second = loader.load(models.registry.locate(version), "sklearn")
        assert loader.running
        np.testing.assert_array_equal(first.predict(X), second.predict(X))
        np.testing.assert_array_equal(first.predict(X), embedded(models, 1, X))
    finally:
        loader.close()
    assert not loader.running
