"""The ``mlflow.pyfunc.spark_udf`` side of ``experiments.bench_models``, run by the Python of a
separate virtual environment with mlflow (never Tuner's dependencies)::

    uv venv /tmp/mlflow-spark && uv pip install --python /tmp/mlflow-spark/bin/python \\
        mlflow==3.17.2 xgboost-cpu==3.2.0 pyspark==4.3.0 skops==0.16.0 pyarrow
    /tmp/mlflow-spark/bin/python experiments/mlflow_spark_peer.py FLAVOR BUNDLE SOURCE TARGET

Loads the model of a Tuner bundle (``FLAVOR`` xgboost: the booster's ``model.ubj``; sklearn:
the skops file), saves it as an MLflow model (the scikit-learn one predicting with
``predict_proba``), then scores the Parquet ``SOURCE`` into ``TARGET`` on Spark ``local[2]``
through ``mlflow.pyfunc.spark_udf`` and prints one JSON line: rows, seconds (the UDF's creation
and the job, after the session started), rows/s.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def save(flavor: str, bundle: str, out: str) -> None:
    if flavor == "xgboost":
        import mlflow.xgboost
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(f"{bundle}/model/model.ubj")
        mlflow.xgboost.save_model(booster, out)
    else:
        import mlflow.sklearn
        import skops.io as sio

        path = f"{bundle}/model/model.skops"
        model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        mlflow.sklearn.save_model(model, out, pyfunc_predict_fn="predict_proba")


def main(flavor: str, bundle: str, source: str, target: str) -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import mlflow.pyfunc
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    folder = tempfile.mkdtemp()
    model_dir = os.path.join(folder, "model")
    save(flavor, bundle, model_dir)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("mlflow-spark-udf")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    start = time.perf_counter()
    frame = spark.read.parquet(source)
    if flavor == "xgboost":
        udf = mlflow.pyfunc.spark_udf(spark, model_dir, result_type="double", env_manager="local")
        column = udf(F.struct(*frame.columns))
    else:  # predict_proba: one column per class
        udf = mlflow.pyfunc.spark_udf(
            spark, model_dir, result_type="array<double>", env_manager="local"
        )
        column = udf(F.struct(*frame.columns))[1]
    frame.select(column.alias("prediction")).write.mode("overwrite").parquet(target)
    seconds = time.perf_counter() - start
    rows = spark.read.parquet(target).count()
    spark.stop()
    print(json.dumps({"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
