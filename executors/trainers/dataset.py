"""Reading a trainer's data set: CSV with a header, Parquet, or LibSVM, chosen by extension."""

from __future__ import annotations

from typing import Any

from tuner.data_files import data_format
from tuner.errors import ObjectiveError


def load_arrays(path: str, label: str) -> tuple[Any, Any]:
    """Features ``X`` and labels ``y`` in memory (numpy or a sparse matrix for LibSVM)."""
    if data_format(path) == "libsvm":
        from sklearn.datasets import load_svmlight_file

        X, y = load_svmlight_file(path)
        return X, y
    from pandas.api.types import is_numeric_dtype

    frame, y = load_table(path, label)
    text = [str(c) for c in frame.columns if not is_numeric_dtype(frame[c])]
    if text:
        raise ObjectiveError(
            f"column {text[0]!r} holds text: this trainer takes numbers only "
            "(the sklearn trainer one-hot encodes text columns)"
        )
    return frame.to_numpy(dtype=float), y


def load_table(path: str, label: str) -> tuple[Any, Any]:
    """The features as a pandas DataFrame and the labels as an array (CSV or Parquet)."""
    import pandas as pd

    frame = pd.read_parquet(path) if data_format(path) == "parquet" else pd.read_csv(path)
    if label not in frame.columns:
        raise ObjectiveError(
            f"the data set has no label column {label!r} "
            f"(columns: {', '.join(map(str, frame.columns[:20]))})"
        )
    y = frame.pop(label).to_numpy()
    return frame, y


def load_frame(spark: Any, path: str, label: str) -> tuple[Any, Any | None]:
    """The data set as a Spark DataFrame with its label as the double column ``label``, and the
    stage that assembles its other columns into the vector column ``features`` (None for
    LibSVM, read with its ``features`` vector already)."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    fmt = data_format(path)
    if fmt == "libsvm":
        return spark.read.format("libsvm").load(path), None
    reader = spark.read
    frame = (
        reader.parquet(path)
        if fmt == "parquet"
        else reader.csv(path, header=True, inferSchema=True)
    )
    if label not in frame.columns:
        raise ObjectiveError(
            f"the data set has no label column {label!r} (columns: {', '.join(frame.columns[:20])})"
        )
    inputs = [c for c in frame.columns if c != label]
    assembler = VectorAssembler(inputCols=inputs, outputCol="features", handleInvalid="keep")
    return frame.withColumn(label, F.col(label).cast("double")).withColumnRenamed(
        label, "label"
    ), assembler
