"""Batch prediction as a Spark job, for data too big for one machine: the bundle is shipped to
the executors (``SparkContext.addFile``), each Python worker loads the Predictor once, and a
pandas UDF scores the rows batch by batch, so that Spark and in-process prediction answer the
same (both are ``Predictor.predict_batch``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd  # at module level: the pandas UDF's type hints are read from its globals

from tuner.errors import SpecError

_LOADED: dict[str, Any] = {}  # per Python worker: the bundle's name -> its Predictor


def spark_session(master: str) -> Any:
    """A session on ``master`` (``local[2]``, ``spark://host:7077``...), Arrow on."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName("tuner-predict")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def predict_on_spark(
    spark: Any,
    bundle: str | os.PathLike[str],
    digest: str,
    source: str,
    target: str,
    *,
    id_column: str | None = None,
    names: list[str],
    output_kind: str,
    flavor: str = "",
) -> None:
    """Score the CSV or Parquet ``source`` with the bundle at ``bundle`` into ``target`` (a
    Parquet or CSV folder of part files, as Spark writes): the id column, if asked, and
    ``prediction``. A ``spark`` flavor bundle's pipeline transforms the rows itself (read from
    the bundle's folder, which the executors must see: a local path on ``local[N]``, shared
    storage on a cluster); any other flavor's Predictor runs in a pandas UDF."""
    from pyspark import SparkFiles
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    folder = Path(bundle)
    name = folder.name
    is_csv = source.lower().endswith(".csv")
    frame = (
        spark.read.csv(source, header=True, inferSchema=True)
        if is_csv
        else spark.read.parquet(source)
    )
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise SpecError("input", f"the input has no column {missing[0]!r}")
    if id_column is not None and id_column not in frame.columns:
        raise SpecError("id-column", f"the input has no column {id_column!r}")
    if output_kind == "probability_per_class":
        raise SpecError("spark", "Spark scoring writes one prediction per row: not multi-class")

    id_columns = [F.col(f"`{id_column}`")] if id_column else []
    if flavor == "spark":
        from pyspark.ml import PipelineModel

        from tuner.models.flavors.spark import FOLDER, prediction, uri
        from tuner.models.signature import Output

        pipeline = PipelineModel.load(uri(folder / "model" / FOLDER))
        output = Output(output_kind, (0, 1) if output_kind == "probability" else ())
        scored, column = prediction(frame, pipeline, output)
        _write(scored.select(*id_columns, column.alias("prediction")), target)
        return

    spark.sparkContext.addFile(str(folder), recursive=True)

    @pandas_udf("double")  # type: ignore[call-overload, misc]
    def score(rows: pd.DataFrame) -> pd.Series:
        predictor = _LOADED.get(name)
        if predictor is None:
            from tuner.models.predictor import Predictor

            predictor = _LOADED[name] = Predictor.load(SparkFiles.get(name), digest)
        return pd.Series(predictor.predict_batch(rows), dtype="float64")

    columns = [F.col(f"`{n}`") for n in names]
    _write(frame.select(*id_columns, score(F.struct(*columns)).alias("prediction")), target)


def _write(out: Any, target: str) -> None:
    writer = out.write.mode("overwrite")
    if target.lower().endswith(".csv"):
        writer.option("header", "true").csv(target)
    else:
        writer.parquet(target)
