"""The driver's SparkSession, shared with the trial processes of the Spark executor.

The executor's process owns the SparkContext (in its JVM); each trial process attaches to that
same JVM through the Py4J gateway (``PYSPARK_GATEWAY_PORT``/``_SECRET``), so every trial uses the
one cluster, and its jobs carry the trial's job group and FAIR pool (``TUNER_SPARK_GROUP``,
``TUNER_SPARK_POOL``) so that they share it fairly and can be cancelled one trial at a time.
"""

from __future__ import annotations

import os
from typing import Any


def start_session(master: str, app_name: str = "tuner") -> Any:
    """The driver session: ``master`` with the FAIR scheduler (an active one is reused)."""
    os.environ.setdefault("PYSPARK_PYTHON", _python())
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.scheduler.mode", "FAIR")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def gateway_env(session: Any, group: str) -> dict[str, str]:
    """What a trial process needs to attach to ``session`` as job group ``group``."""
    params = session.sparkContext._gateway.gateway_parameters
    return {
        "PYSPARK_GATEWAY_PORT": str(params.port),
        "PYSPARK_GATEWAY_SECRET": str(params.auth_token),
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", _python()),
        "TUNER_SPARK_GROUP": group,
        "TUNER_SPARK_POOL": group,
    }


def attach_session() -> Any:
    """In a trial process: the driver's SparkSession, this thread's jobs in the trial's group
    and pool. Never stop it: the executor owns it (the trial process ends with ``os._exit``)."""
    from pyspark import SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    sc = SparkContext._active_spark_context
    if sc is None:
        gateway = launch_gateway()  # connects to the driver's JVM, given the PYSPARK_GATEWAY_*
        jvm = gateway.jvm
        jsc = jvm.org.apache.spark.api.java.JavaSparkContext.fromSparkContext(
            jvm.org.apache.spark.SparkContext.getOrCreate()
        )
        sc = SparkContext(gateway=gateway, jsc=jsc)
    group = os.environ["TUNER_SPARK_GROUP"]
    sc.setJobGroup(group, f"tuner trial {group}", interruptOnCancel=True)
    sc.setLocalProperty("spark.scheduler.pool", os.environ.get("TUNER_SPARK_POOL", group))
    return SparkSession.builder.getOrCreate()


def _python() -> str:
    import sys

    return sys.executable
