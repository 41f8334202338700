"""``tuner predict --spark``: the same predictions as in-process, as a pandas UDF on Spark
``local[2]``, from CSV and Parquet."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.models import test_bundle
from tuner.commands.predict import predict_file
from tuner.models.spark_batch import predict_on_spark, spark_session
from tuner.models.store import ArtifactStore
from tuner.registry import ModelRegistry
from tuner.storage import Storage
from tuner.testing import FlavorConformance

os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.mark.parametrize("source", ["rows.csv", "rows.parquet"])
def test_spark_and_in_process_predictions_are_the_same(
    spark: Any, tmp_path: Path, source: str
) -> None:
    X, y = FlavorConformance.data(400)
    registry = ModelRegistry(
        Storage(f"sqlite:///{tmp_path / 't.db'}"), ArtifactStore(str(tmp_path / "store"))
    )
    registry.register_model(test_bundle.TestXGBoostFlavor().fit(X, y), "churn", example=X)
    version = registry.resolve("churn")
    predictor = registry.load(version)
    rows = X.astype({"colour": str})
    rows.insert(0, "id", range(len(rows)))
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "rows.parquet")
    predict_file(predictor, str(tmp_path / source), str(tmp_path / "local.parquet"),
                 id_column="id", chunk_rows=64, progress=False)  # fmt: skip
    predict_on_spark(
        spark, predictor.folder, version.digest, str(tmp_path / source),
        str(tmp_path / "spark.parquet"), id_column="id", names=predictor.signature.names,
        output_kind=predictor.signature.output.kind,
    )  # fmt: skip
    local = pd.read_parquet(tmp_path / "local.parquet")
    on_spark = pd.read_parquet(tmp_path / "spark.parquet").sort_values("id")
    assert on_spark["id"].tolist() == local["id"].tolist() == list(range(400))
    np.testing.assert_allclose(on_spark["prediction"], local["prediction"], rtol=1e-6)
    registry.close()
