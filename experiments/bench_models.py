"""Model serving without a server: the embedded Predictor's one-row latency against the
framework's own predict on the same row (native and onnxruntime), and batch prediction
(``tuner predict``'s chunked loop) against a plain pandas-chunk loop calling the model directly,
with each side's peak RSS; on Spark ``local[2]``, ``tuner predict --spark`` (a pandas UDF) beside
``mlflow.pyfunc.spark_udf`` (mlflow from its own virtual environment: see
experiments/mlflow_spark_peer.py).

    .venv/bin/python -m experiments.bench_models                 # 1M rows, 2000 one-row calls
    .venv/bin/python -m experiments.bench_models --rows 200000 --mlflow-venv /tmp/mlflow-spark

Models: xgboost (``XGBClassifier``, 100 trees of depth 6) and sklearn (a ``StandardScaler`` +
``LogisticRegression`` Pipeline) on 10 numeric features. Each batch side runs in a fresh
process, so that its peak RSS is its own (not reported for Spark: the work is in the JVM and
its Python workers). Writes experiments/results/bench_models.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
FEATURES = [f"x{i}" for i in range(10)]


def train(flavor: str) -> tuple[Any, Any]:
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(20_000, 10)), columns=FEATURES)
    y = ((X["x0"] + X["x1"] * X["x2"] - X["x3"]) > 0).astype(int)
    if flavor == "xgboost":
        import xgboost as xgb

        model: Any = xgb.XGBClassifier(n_estimators=100, max_depth=6, n_jobs=1).fit(X, y)
    else:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    return model, X


def native_one_row(flavor: str, model: Any) -> Any:
    """The framework's own fastest call on one row (what a hand-written service would do)."""
    if flavor == "xgboost":
        booster = model.get_booster()
        booster.set_param({"nthread": 1})
        return lambda row: booster.inplace_predict(row)
    return lambda row: model.predict_proba(row)[:, 1]


def latency(call: Any, arg: Any, n: int) -> dict[str, float]:
    for _ in range(50):
        call(arg)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call(arg)
        times.append(time.perf_counter() - t)
    times.sort()
    return {
        "p50_us": 1e6 * statistics.median(times),
        "p99_us": 1e6 * times[int(0.99 * (len(times) - 1))],
    }


def one_row(flavor: str, bundle: Path, n: int) -> dict[str, Any]:
    import pandas as pd

    from tuner.models import Predictor

    model, X = train(flavor)
    predictor = Predictor.load(bundle)
    predictor.warm_up()
    row = X.iloc[[0]]
    array = row.to_numpy()
    as_dict = {k: float(v) for k, v in row.iloc[0].items()}
    native = native_one_row(flavor, model)
    import warnings

    with warnings.catch_warnings():  # a model fitted on named columns warns about arrays
        warnings.simplefilter("ignore")
        numpy_row = latency(native, array, n)
    out = {
        "native (numpy row)": numpy_row,
        "native (1-row DataFrame)": latency(
            (lambda r: model.predict_proba(r)[:, 1]), pd.DataFrame(row), n
        ),
        "Predictor (dict)": latency(predictor.predict, [as_dict], n),
        "Predictor (numpy row)": latency(predictor.predict, array, n),
    }
    from tuner.models.onnx_export import FILE, write_export

    export = write_export(bundle, f"{bundle}.onnx")
    onnx = Predictor.load(bundle, onnx=f"{bundle}.onnx")
    onnx.warm_up()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(f"{bundle}.onnx/{FILE}", options)
    name = session.get_inputs()[0].name
    out["onnxruntime session (float32 row)"] = latency(
        lambda r: session.run(None, {name: r}), array.astype(np.float32), n
    )
    out["Predictor onnx (dict)"] = latency(onnx.predict, [as_dict], n)
    out["Predictor onnx (numpy row)"] = latency(onnx.predict, array, n)
    out["auto"] = {"row": export.runtime("row"), "batch": export.runtime("batch")}  # type: ignore[dict-item]
    if flavor == "sklearn":  # the PMML export, in the JPMML evaluator: portability, not speed
        out.update(pmml_latency(bundle, as_dict, n))
    return out


def pmml_latency(bundle: Path, row: dict[str, float], n: int) -> dict[str, dict[str, float]]:
    """One row (a dict) and one 10,000-row DataFrame through a Predictor on the PMML export."""
    import pandas as pd

    from tuner.models import Predictor
    from tuner.models.pmml_export import write_export

    write_export(bundle, f"{bundle}.pmml")
    pmml = Predictor.load(bundle, pmml=f"{bundle}.pmml")
    pmml.warm_up()
    frame = pd.DataFrame([row] * 10_000)
    return {
        "Predictor pmml (dict)": latency(pmml.predict, [row], n),
        "Predictor pmml (10,000-row DataFrame)": latency(pmml.predict_batch, frame, 5),
    }


def _batch(kind: str, flavor: str, bundle: str, source: str, target: str, queue: Any) -> None:
    """In a fresh process: score ``source`` one way; rows/s and the process's peak RSS."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tuner.commands.predict import predict_file
    from tuner.models import Predictor

    spark = None
    if kind.startswith("tuner predict --spark"):
        from tuner.models.spark_batch import spark_session

        spark = spark_session("local[2]")  # started before the clock, as on the mlflow side
    start = time.perf_counter()
    if spark is not None:
        from tuner.models.bundle import read_manifest
        from tuner.models.spark_batch import predict_on_spark

        digest = read_manifest(bundle).digest
        predict_on_spark(spark, bundle, digest, source, target, names=FEATURES,
                         output_kind="probability", flavor=flavor)  # fmt: skip
        seconds = time.perf_counter() - start
        rows = spark.read.parquet(target).count()
        spark.stop()
        queue.put({"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds})
        return
    if kind.startswith("tuner predict"):
        onnx = f"{bundle}.onnx" if kind == ONNX else None  # the export one_row made
        rows = predict_file(Predictor.load(bundle, onnx=onnx), source, target, progress=False)
    else:  # the plain loop: read a chunk, call the model, write the predictions
        import skops.io as sio
        import xgboost as xgb

        if flavor == "xgboost":
            booster = xgb.Booster()
            booster.load_model(f"{bundle}/model/model.ubj")

            def predict(frame: Any) -> Any:
                return booster.inplace_predict(frame.to_numpy(dtype=np.float32))
        else:
            path = f"{bundle}/model/model.skops"
            model = sio.load(path, trusted=sio.get_untrusted_types(file=path))

            def predict(frame: Any) -> Any:
                return model.predict_proba(frame)[:, 1]

        rows, writer = 0, None
        for batch in pq.ParquetFile(source).iter_batches(batch_size=100_000):
            frame = batch.to_pandas()
            table = pa.table({"prediction": predict(frame[FEATURES])})
            writer = writer or pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
            rows += len(frame)
        assert writer is not None
        writer.close()
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "peak_rss_mb": rss})


ONNX = "tuner predict --runtime onnx"
SPARK = "tuner predict --spark (local[2])"
MLFLOW = "mlflow.pyfunc.spark_udf (local[2])"


def batch(
    flavor: str, bundle: Path, source: Path, folder: Path, spark: bool, mlflow_venv: str | None
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out: dict[str, Any] = {}
    kinds = ["plain pandas-chunk loop", "tuner predict --runtime native", ONNX]
    kinds += [SPARK] if spark else []
    for kind in kinds:
        queue = ctx.Queue()
        target = str(folder / f"{flavor}-{kind.split()[0]}-{len(out)}.parquet")
        proc = ctx.Process(
            target=_batch, args=(kind, flavor, str(bundle), str(source), target, queue)
        )
        proc.start()
        out[kind] = queue.get()
        proc.join()
    if spark and mlflow_venv:
        peer = Path(__file__).resolve().parent / "mlflow_spark_peer.py"
        target = str(folder / f"{flavor}-mlflow.parquet")
        done = subprocess.run(
            [f"{mlflow_venv}/bin/python", str(peer), flavor, str(bundle), str(source), target],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"the mlflow side failed:\n{done.stderr[-3000:]}")
        out[MLFLOW] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the batch file")
    parser.add_argument("--calls", type=int, default=2000, help="one-row calls per variant")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark sides")
    parser.add_argument("--mlflow-venv", help="a virtual environment with mlflow and pyspark")
    args = parser.parse_args()
    import pandas as pd

    from tuner.models import write_bundle

    results: dict[str, Any] = {"rows": args.rows, "calls": args.calls, "flavors": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rng = np.random.default_rng(1)
        source = folder / "rows.parquet"
        pd.DataFrame(rng.normal(size=(args.rows, 10)), columns=FEATURES).to_parquet(source)
        for flavor in ("xgboost", "sklearn"):
            model, X = train(flavor)
            bundle = folder / f"{flavor}-bundle"
            write_bundle(model, bundle, example=X)
            results["flavors"][flavor] = {
                "one_row": one_row(flavor, bundle, args.calls),
                "batch": batch(flavor, bundle, source, folder, not args.no_spark, args.mlflow_venv),
            }
            print(json.dumps({flavor: results["flavors"][flavor]}, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_models.json").write_text(json.dumps(results, indent=2))
    (RESULTS / "bench_models.md").write_text(report(results))
    print(report(results))


def report(results: dict[str, Any]) -> str:
    lines = [
        f"One-row latency ({results['calls']} calls, after 50 warm-up calls):",
        "",
        "| flavor | call | p50 (µs) | p99 (µs) |",
        "|---|---|---|---|",
    ]
    for flavor, r in results["flavors"].items():
        for call, t in r["one_row"].items():
            if call != "auto":
                lines.append(f"| {flavor} | {call} | {t['p50_us']:.0f} | {t['p99_us']:.0f} |")
    lines += ["", "runtime=auto picks (raced at export, one row / 10,000 rows):", ""]
    for flavor, r in results["flavors"].items():
        auto = r["one_row"]["auto"]
        lines.append(f"- {flavor}: one row {auto['row']}, batch {auto['batch']}")
    lines += [
        "",
        f"Batch: {results['rows']:,} rows of 10 features, Parquet in, Parquet out:",
        "",
        "| flavor | how | rows/s | seconds | peak RSS (MB) |",
        "|---|---|---|---|---|",
    ]
    for flavor, r in results["flavors"].items():
        for how, b in r["batch"].items():
            rss = f"{b['peak_rss_mb']:.0f}" if "peak_rss_mb" in b else "-"
            lines.append(
                f"| {flavor} | {how} | {b['rows_per_s']:,.0f} | {b['seconds']:.1f} | {rss} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
