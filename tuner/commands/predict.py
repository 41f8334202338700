"""``tuner predict NAME[@alias|:version] --input rows.csv|.parquet --output scored.parquet|.csv``:
batch prediction in chunks (memory bounded by ``--chunk-rows``, whatever the file's size), with
an id column kept beside the predictions and a progress bar. The output is written to a
temporary file and renamed when complete: a failed run leaves no half-written output."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuner.cli import database_option
from tuner.commands.models import open_registry, store_option
from tuner.commands.studies import positive
from tuner.errors import InvalidInput, SpecError
from tuner.models.predictor import Predictor

_ROW = re.compile(r"^rows\[(\d+)\]")


def file_format(path: str, field: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".parquet", ".pq"):
        return "csv" if suffix == ".csv" else "parquet"
    if Path(path).is_dir():
        return "parquet"
    raise SpecError(field, f"{path!r}: expected a .csv or .parquet file")


def chunks(path: str, rows: int) -> tuple[Iterator[Any], int | None]:
    """DataFrames of at most ``rows`` rows read from a CSV or Parquet file, and the total number
    of rows when the file says it (Parquet) without reading it."""
    import pandas as pd

    if file_format(path, "input") == "csv":
        return iter(pd.read_csv(path, chunksize=rows)), None
    import pyarrow.dataset as ds

    data = ds.dataset(path, format="parquet")
    batches = (b.to_pandas() for b in data.to_batches(batch_size=rows))
    return batches, data.count_rows()


def predictions_frame(predictor: Predictor, chunk: Any, id_column: str | None) -> Any:
    """The output rows of ``chunk``: its id column (if asked) and the predictions (one column,
    or one per class for the probabilities of more than two classes)."""
    import pandas as pd

    values = predictor.predict_batch(chunk)
    out = pd.DataFrame(index=chunk.index)
    if id_column is not None:
        out[id_column] = chunk[id_column].to_numpy()
    if values.ndim == 2:
        classes = predictor.signature.output.classes or tuple(range(values.shape[1]))
        for i, c in enumerate(classes):
            out[f"prediction_{c}"] = values[:, i]
    else:
        out["prediction"] = values
    return out


def predict_file(
    predictor: Predictor,
    source: str,
    target: str,
    *,
    id_column: str | None = None,
    chunk_rows: int = 100_000,
    progress: bool = True,
) -> int:
    """Score every row of ``source`` into ``target``, chunk by chunk; the number of rows.
    ``InvalidInput`` names the row by its position in the file (from 0)."""
    from tqdm import tqdm

    out_format = file_format(target, "output")
    batches, total = chunks(source, chunk_rows)
    staging = Path(target).with_name(f".{Path(target).name}.partial")
    writer: Any = None
    done = 0
    # shown once scoring has taken half a second: a small file, or one refused at its first
    # rows, prints its result or its error alone (not "0row [00:00, ?row/s]" before it)
    bar = tqdm(total=total, unit="row", disable=not progress, dynamic_ncols=True, delay=0.5)
    try:
        for chunk in batches:
            if id_column is not None and id_column not in chunk.columns:
                raise SpecError("id-column", f"the input has no column {id_column!r}")
            chunk = chunk.reset_index(drop=True)
            try:
                frame = predictions_frame(predictor, chunk, id_column)
            except InvalidInput as exc:
                raise _at_offset(exc, done) from None
            if out_format == "csv":
                frame.to_csv(staging, mode="a", header=done == 0, index=False)
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(staging, table.schema)
                writer.write_table(table)
            done += len(chunk)
            bar.update(len(chunk))
        if writer is not None:
            writer.close()
            writer = None
        if done == 0 and out_format == "csv":
            staging.write_text("")
        os.replace(staging, target)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        staging.unlink(missing_ok=True)
    return done


def _at_offset(exc: InvalidInput, offset: int) -> InvalidInput:
    """The same error with its row counted from the start of the file."""
    field = exc.field or ""
    match = _ROW.match(field)
    if match is None:
        return exc
    row = int(match.group(1)) + offset
    return InvalidInput(f"row {row}: {exc}", f"rows[{row}]" + field[match.end() :])


class PredictCommand:
    help = "score a CSV or Parquet file with a registered model, in chunks"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        store_option(parser)
        parser.add_argument("model", metavar="NAME[@alias|:version]")
        parser.add_argument("--input", required=True, help="rows to score: .csv or .parquet")
        parser.add_argument("--output", required=True, help="where to write: .parquet or .csv")
        parser.add_argument("--id-column", default=None, help="a column copied to the output")
        parser.add_argument(
            "--chunk-rows",
            type=positive,
            default=100_000,
            help="rows read, scored and written at a time (bounds the memory)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--runtime",
            choices=["auto", "native", "onnx", "pmml"],
            default="auto",
            help="onnx: score in-process with the version's ONNX export (tuner models export); "
            "pmml: with its PMML export in the JPMML evaluator (portability, not speed); "
            "auto (the default): onnx when the export gave the same predictions and was the "
            "faster on a batch when exported, else native",
        )
        parser.add_argument(
            "--spark",
            nargs="?",
            const="local[2]",
            default=None,
            metavar="MASTER",
            help="score as a Spark job (a pandas UDF) on MASTER (default local[2]); the output "
            "is then a folder of part files",
        )

    def __call__(self, args: argparse.Namespace) -> int:
        if not os.path.exists(args.input):
            raise SpecError("input", f"no such file: {args.input}")
        file_format(args.output, "output")
        registry = open_registry(args)
        version = registry.resolve(args.model)
        if args.spark and args.runtime in ("onnx", "pmml"):
            raise SpecError("runtime", "--spark scores with the native runtime only")
        runtime = "native" if args.spark else args.runtime
        predictor = registry.load(version, runtime, use="batch")
        if args.spark:
            from tuner.models.spark_batch import predict_on_spark, spark_session

            outputs = predictor.signature.output
            multi = outputs.kind == "probability" and len(outputs.classes) > 2
            predict_on_spark(
                spark_session(args.spark),
                predictor.folder,
                version.digest,
                args.input,
                args.output,
                id_column=args.id_column,
                names=predictor.signature.names,
                output_kind="probability_per_class" if multi else outputs.kind,
                flavor=predictor.flavor,
            )
            print(
                f"scored {args.input} with {version.model}:{version.version} on Spark into "
                f"{args.output}"
            )
            return 0
        rows = predict_file(
            predictor,
            args.input,
            args.output,
            id_column=args.id_column,
            chunk_rows=args.chunk_rows,
            progress=not args.no_progress,
        )
        print(f"scored {rows} rows with {version.model}:{version.version} into {args.output}")
        return 0
