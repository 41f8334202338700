"""Objectives particular to the Ray and Spark tests (the conformance suite's are in
``tuner.testing.objectives``); the tests name them ``tests.executors.objectives:<name>``."""

from __future__ import annotations

import os
import time
from typing import Any

from tuner.testing.objectives import _write


def sleeps_under_worker(params: dict[str, Any]) -> float:
    """Writes its own pid and its parent's (the worker that runs the trial), then sleeps."""
    _write(params["pidfile"], f"{os.getpid()} {os.getppid()}")
    time.sleep(params.get("seconds", 60))
    return 0.0


def uses_spark(params: dict[str, Any], trial: Any) -> dict[str, float]:
    """Counts with the trial's SparkSession, and says which job group and pool it ran in."""
    spark = trial.spark
    total = spark.range(int(params["n"])).selectExpr("sum(id) as s").collect()[0]["s"]
    sc = spark.sparkContext
    _write(
        params["out"],
        f"{sc.getLocalProperty('spark.jobGroup.id')} {sc.getLocalProperty('spark.scheduler.pool')}",
    )
    return {"sum": float(total)}


def spark_forever(params: dict[str, Any], trial: Any) -> float:
    """A Spark job that would run for minutes; its pid goes to ``params["pidfile"]``."""
    spark = trial.spark
    _write(params["pidfile"], str(os.getpid()))
    spark.sparkContext.parallelize(range(4), 2).map(lambda x: time.sleep(120) or x).count()
    return 0.0
