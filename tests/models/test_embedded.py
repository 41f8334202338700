"""The embedded predictor picks up a newly promoted version while other threads call predict,
with no call failing; a version that cannot be loaded never replaces the working one."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tuner.embedded import load_model
from tuner.errors import NotFound
from tuner.models.store import ArtifactStore
from tuner.registry import ModelRegistry
from tuner.storage import Storage

ROWS = [{"a": 1.0, "b": 2.0}, {"a": -1.0, "b": 0.5}]


def linear(coef: float) -> Any:
    from sklearn.linear_model import LinearRegression

    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    return LinearRegression().fit(X, X @ [coef, coef])


def test_a_new_production_version_is_swapped_in_while_threads_predict(
    database_url: str, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    registry = ModelRegistry(Storage(database_url), ArtifactStore(store))
    import pandas as pd

    example = pd.DataFrame(ROWS)

    def register(coef: float) -> int:
        reg = registry.register_model(linear(coef), "churn", example=example, alias="production")
        return reg.version.version

    register(1.0)
    model = load_model("churn@production", db=database_url, store=store).refresh_every(0.05)
    seen: set[float] = set()
    errors: list[BaseException] = []
    calls = [0]
    stop = threading.Event()

    def call() -> None:
        while not stop.is_set():
            try:
                seen.add(round(float(model.predict(ROWS)[0]), 6))
                calls[0] += 1
            except BaseException as exc:  # noqa: BLE001 - every failure counts
                errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        assert register(2.0) == 2
        deadline = time.monotonic() + 20
        while model.version.version != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert model.version.version == 2 and model.version.aliases == ("production",)
    assert errors == [] and calls[0] > 10
    assert seen == {3.0, 6.0}  # a + b times coef: both versions answered, nothing else

    # version 3 is promoted, but its bundle was changed in the store: version 2 keeps answering
    model.stop_refreshing()
    register(3.0)
    v3 = registry.resolve("churn:3")
    target = Path(v3.uri) / "model" / "model.skops"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes()[:-3])
    assert model.refresh() is False
    assert model.version.version == 2 and "fails its checksum" in (model.last_error or "")
    np.testing.assert_allclose(model.predict(ROWS), [6.0, -1.0], atol=1e-9)
    registry.set_alias("churn", "production", 1)  # a rollback reaches it too
    assert model.refresh() is True and model.version.version == 1
    model.close()
    pinned = load_model("churn:2", db=database_url, store=store)
    assert pinned.refresh() is False and pinned.version.version == 2
    pinned.close()
    with pytest.raises(NotFound, match="no alias 'canary'"):
        load_model("churn@canary", db=database_url, store=store)
    registry.close()
    shutil.rmtree(tmp_path / "store", ignore_errors=True)
