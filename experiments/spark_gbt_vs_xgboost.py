"""Large-scale training: time to reach the same AUC with xgboost.spark and with Spark ML's own
GBTClassifier, through the ``xgboost-spark`` and ``spark-ml`` trainers, on a generated data set.

    .venv/bin/python -m experiments.spark_gbt_vs_xgboost [--rows 1000000]

GBTClassifier (maxDepth 5, stepSize 0.1, maxIter 20) sets the target AUC on the 20% hold-out;
xgboost.spark (same depth and learning rate, 2 workers) then trains with 10, 20, 40... trees until
it reaches that AUC. Each time is a whole trial: read Parquet, assemble features, split, fit,
evaluate. Prints a table and writes experiments/results/spark_gbt_vs_xgboost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def make_data(path: Path, rows: int, features: int = 10) -> None:
    """A nonlinear binary problem with label noise, written as Parquet."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, features)).astype("float32")
    score = x[:, 0] * x[:, 1] + np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] - 0.3 * x[:, 4] ** 2
    y = (score + rng.normal(scale=0.5, size=rows) > 0).astype("int32")
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(features)])
    frame["label"] = y
    frame.to_parquet(path)


class _Trial:
    study, number, attempt, artifact_dir = "bench", 0, 1, None

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.params: dict[str, Any] = {}

    def report(self, step: int, value: float) -> None:
        pass

    def should_prune(self) -> bool:
        return False


def timed(trainer: Any, params: dict[str, Any], trial: _Trial) -> tuple[float, float]:
    start = time.perf_counter()
    auc = trainer(params, trial)["areaUnderROC"]
    return auc, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers need this venv
    from pyspark.sql import SparkSession

    from tuner import plugins

    data = Path(tempfile.gettempdir()) / f"tuner_gbt_vs_xgb_{args.rows}.parquet"  # not kept
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not data.exists():
        make_data(data, args.rows)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("tuner-bench")
        .config("spark.driver.memory", "6g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    trial = _Trial(spark)
    options = {"data": str(data), "label": "label", "metric": "areaUnderROC"}
    gbt = plugins.trainer("spark-ml")(
        {**options, "estimator": "pyspark.ml.classification.GBTClassifier"}
    )
    xgb = plugins.trainer("xgboost-spark")(options)
    rows: list[dict[str, Any]] = []
    target, seconds = timed(gbt, {"maxDepth": 5, "stepSize": 0.1, "maxIter": 20}, trial)
    rows.append(
        {"trainer": "spark-ml GBTClassifier", "trees": 20, "auc": target, "seconds": seconds}
    )
    print(f"GBTClassifier 20 trees: AUC {target:.4f} in {seconds:.1f} s", flush=True)
    reached = None
    for trees in (10, 20, 40, 80, 160):
        auc, seconds = timed(
            xgb,
            {"max_depth": 5, "learning_rate": 0.1, "n_estimators": trees, "num_workers": 2},
            trial,
        )
        rows.append({"trainer": "xgboost.spark", "trees": trees, "auc": auc, "seconds": seconds})
        print(f"xgboost.spark {trees} trees: AUC {auc:.4f} in {seconds:.1f} s", flush=True)
        if auc >= target:
            reached = rows[-1]
            break
    spark.stop()
    summary = {
        "rows": args.rows,
        "features": 10,
        "master": "local[2]",
        "target_auc": target,
        "gbt_seconds": rows[0]["seconds"],
        "xgboost_seconds_to_target": None if reached is None else reached["seconds"],
        "runs": rows,
    }
    if reached is not None:
        summary["speedup"] = rows[0]["seconds"] / reached["seconds"]
    out = RESULTS / "spark_gbt_vs_xgboost.json"
    out.write_text(json.dumps(summary, indent=2))
    print("| trainer | trees | hold-out AUC | time (s) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['trainer']} | {r['trees']} | {r['auc']:.4f} | {r['seconds']:.1f} |")
    if reached is not None:
        print(f"xgboost.spark reaches GBTClassifier's AUC {summary['speedup']:.2f}x as fast")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
