"""Reading a trainer's data set: CSV with a header, Parquet, or LibSVM, chosen by extension."""

from __future__ import annotations

import os
from typing import Any

from tuner.errors import ObjectiveError

_LIBSVM = (".libsvm", ".svm", ".svmlight")


def data_format(path: str) -> str:
    """``csv``, ``parquet`` or ``libsvm``; a directory is Parquet (as Spark writes it)."""
    lower = path.lower()
    if lower.endswith(_LIBSVM):
        return "libsvm"
    if lower.endswith(".parquet") or lower.endswith(".pq") or os.path.isdir(path):
        return "parquet"
    return "csv"


def load_arrays(path: str, label: str) -> tuple[Any, Any]:
    """Features ``X`` and labels ``y`` in memory (numpy or a sparse matrix for LibSVM)."""
    fmt = data_format(path)
    if fmt == "libsvm":
        from sklearn.datasets import load_svmlight_file

        X, y = load_svmlight_file(path)
        return X, y
    import pandas as pd

    frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
    if label not in frame.columns:
        raise ObjectiveError(f"the data set has no label column {label!r} "
                             f"(columns: {', '.join(map(str, frame.columns[:20]))})")
    y = frame.pop(label).to_numpy()
    return frame.to_numpy(dtype=float), y


def load_frame(spark: Any, path: str, label: str, features: str = "features") -> Any:
    """A Spark DataFrame with a vector column ``features`` and a double column ``label``."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    fmt = data_format(path)
    if fmt == "libsvm":
        frame = spark.read.format("libsvm").load(path)
        return frame.withColumnRenamed("label", label) if label != "label" else frame
    reader = spark.read
    frame = reader.parquet(path) if fmt == "parquet" else reader.csv(
        path, header=True, inferSchema=True)
    if label not in frame.columns:
        raise ObjectiveError(f"the data set has no label column {label!r} "
                             f"(columns: {', '.join(frame.columns[:20])})")
    inputs = [c for c in frame.columns if c != label]
    assembler = VectorAssembler(inputCols=inputs, outputCol=features, handleInvalid="keep")
    return assembler.transform(frame.withColumn(label, F.col(label).cast("double"))).select(
        features, label)
