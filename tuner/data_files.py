"""Data files as Tuner reads them: CSV with a header, Parquet (a file or a directory), LibSVM;
the format is told by the name."""

from __future__ import annotations

import csv
import os

_LIBSVM = (".libsvm", ".svm", ".svmlight")


def data_format(path: str) -> str:
    """``csv``, ``parquet`` or ``libsvm``; a directory is Parquet (as Spark writes it)."""
    lower = path.lower()
    if lower.endswith(_LIBSVM):
        return "libsvm"
    if lower.endswith(".parquet") or lower.endswith(".pq") or os.path.isdir(path):
        return "parquet"
    return "csv"


def columns(path: str) -> list[str] | None:
    """The column names of a data file, read from its header or schema alone (None for LibSVM,
    whose columns have no names)."""
    fmt = data_format(path)
    if fmt == "libsvm":
        return None
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return (
            list(pq.read_schema(path).names)
            if os.path.isfile(path)
            else list(pq.ParquetDataset(path).schema.names)
        )
    with open(path, newline="") as fh:
        header = next(csv.reader(fh), [])
    return [h.strip() for h in header]
