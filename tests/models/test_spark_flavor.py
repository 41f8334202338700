"""The ``spark`` flavor on real Spark ``local[2]`` (one session for the module): the flavor
conformance suite, registry round trips on SQLite and PostgreSQL, and ``tuner predict --spark``
transforming with the saved pipeline itself, with the in-process predictions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tuner.commands.predict import predict_file
from tuner.models.flavors.spark import SparkModel
from tuner.models.spark_batch import predict_on_spark, spark_session
from tuner.models.store import ArtifactStore
from tuner.registry import ModelRegistry
from tuner.storage import Storage
from tuner.testing import FlavorConformance

os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"


@pytest.fixture(scope="module", autouse=True)
def spark() -> Iterator[Any]:
    session = spark_session("local[2]")
    yield session
    session.stop()


def spark_frame(X: Any, y: Any = None) -> Any:
    rows = X.astype({"colour": str})
    if y is not None:
        rows = rows.assign(label=np.asarray(y, dtype=float))
    return spark_session("local[2]").createDataFrame(rows)


class TestSparkFlavor(FlavorConformance):
    flavor = "spark"

    def fit(self, X: Any, y: Any) -> Any:
        from pyspark.ml import Pipeline
        from pyspark.ml.classification import LogisticRegression
        from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler

        stages: list[Any] = [
            StringIndexer(inputCol="colour", outputCol="colour_index"),
            OneHotEncoder(inputCols=["colour_index"], outputCols=["colour_vector"]),
            VectorAssembler(inputCols=["a", "b", "c", "colour_vector"], outputCol="features"),
            LogisticRegression(maxIter=20),
        ]
        return Pipeline(stages=stages).fit(spark_frame(X, y))

    def own_predictions(self, model: Any, X: Any) -> Any:
        from pyspark.ml.functions import vector_to_array

        scored = model.transform(spark_frame(X))
        column = vector_to_array(scored["probability"])[1].alias("p")
        return scored.select(column).toPandas()["p"].to_numpy()


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, Any]:
    X, y = FlavorConformance.data(300)
    return TestSparkFlavor().fit(X, y), X


@pytest.mark.parametrize("store", ["folder", "fsspec-memory"])
def test_a_spark_version_round_trips_through_the_registry(
    database_url: str, tmp_path: Path, fitted: tuple[Any, Any], store: str
) -> None:
    model, X = fitted
    url = str(tmp_path / "store") if store == "folder" else f"memory://spark-{tmp_path.name}"
    registry = ModelRegistry(Storage(database_url), ArtifactStore(url, tmp_path / "cache"))
    reg = registry.register_model(model, "churn", example=X, alias="production")
    assert reg.version.flavor == "spark"
    predictor = registry.load("churn@production")
    assert isinstance(predictor.model, SparkModel) and predictor.runtime == "native"
    assert predictor.signature.output.kind == "probability"
    assert predictor.signature.output.classes == (0, 1)
    got = predictor.predict_batch(X)
    np.testing.assert_allclose(got, TestSparkFlavor().own_predictions(model, X), rtol=1e-12)
    rows = X.head(4).astype(object).to_dict("records")
    np.testing.assert_allclose(predictor.predict(rows), got[:4], rtol=1e-12)
    with pytest.raises(Exception, match="unknown category 'purple' of 'colour'"):
        predictor.predict({**rows[0], "colour": "purple"})
    registry.close()


@pytest.mark.parametrize("source", ["rows.csv", "rows.parquet"])
def test_predict_on_spark_uses_the_pipeline_and_answers_as_in_process(
    tmp_path: Path, fitted: tuple[Any, Any], source: str
) -> None:
    model, X = fitted
    registry = ModelRegistry(
        Storage(f"sqlite:///{tmp_path / 't.db'}"), ArtifactStore(str(tmp_path / "store"))
    )
    registry.register_model(model, "churn", example=X)
    version = registry.resolve("churn")
    predictor = registry.load(version)
    rows = X.astype({"colour": str})
    rows.insert(0, "id", range(len(rows)))
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "rows.parquet")
    predict_file(predictor, str(tmp_path / source), str(tmp_path / "local.parquet"),
                 id_column="id", chunk_rows=128, progress=False)  # fmt: skip
    predict_on_spark(
        spark_session("local[2]"), predictor.folder, version.digest, str(tmp_path / source),
        str(tmp_path / "spark.parquet"), id_column="id", names=predictor.signature.names,
        output_kind=predictor.signature.output.kind, flavor="spark",
    )  # fmt: skip
    local = pd.read_parquet(tmp_path / "local.parquet")
    on_spark = pd.read_parquet(tmp_path / "spark.parquet").sort_values("id")
    assert on_spark["id"].tolist() == local["id"].tolist() == list(range(len(X)))
    np.testing.assert_allclose(on_spark["prediction"], local["prediction"], rtol=1e-12)
    assert float(local["prediction"].min()) < 0.5 < float(local["prediction"].max())
    registry.close()
