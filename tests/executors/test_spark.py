"""The Spark executor on a real Spark (``local[2]``), one SparkSession for the module; the
Spark trainers (Spark ML's GBTClassifier and xgboost.spark) on a small generated data set."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.specs import runnable, spec_dict
from tuner import plugins
from tuner.errors import SpecError
from tuner.executor import TrialJob
from tuner.executors.spark import SparkExecutor
from tuner.study import ObjectiveSpec, StudySpec
from tuner.testing.executors import ExecutorConformance, make_job, outcome_of, wait_until
from tuner.testing.trainers import RecordingContext, TrainerConformance
from tuner.trial import TrialState

os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"


def repo_job(name: str, params: dict, **kw: Any) -> TrialJob:
    """A job running ``tests.executors.objectives:<name>``, found from the repository root."""
    return make_job(f"tests.executors.objectives:{name}", params, workdir=str(REPO), **kw)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from tuner.executors.spark_session import start_session

    session = start_session("local[2]", "tuner-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


class TestSparkExecutor(ExecutorConformance):
    @pytest.fixture(autouse=True)
    def _session(self, spark: Any) -> None:
        """Every executor of the suite shares the module's session."""

    def make_executor(self, workers: int) -> SparkExecutor:
        return SparkExecutor(master="local[2]", parallelism=workers)


@pytest.fixture
def executor(spark: Any) -> Iterator[SparkExecutor]:
    executor = SparkExecutor(master="local[2]", parallelism=2)
    yield executor
    executor.shutdown(cancel_running=True)


def test_trials_get_the_session_in_their_own_group_and_pool(
    executor: SparkExecutor, tmp_path: Path
) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    futures = [
        executor.submit(repo_job("uses_spark", {"n": 100, "out": str(out)}, number=i))
        for i, out in enumerate(outs)
    ]
    for future in futures:
        outcome = outcome_of(future)
        assert outcome.state is TrialState.COMPLETE, outcome.error
        assert outcome.values == {"sum": 4950.0}
    seen = [out.read_text().split() for out in outs]
    assert seen[0][0] != seen[1][0] and seen[0][0].endswith("-conformance-0-1")
    assert all(group == pool for group, pool in seen)
    assert executor.session.sparkContext.getConf().get("spark.scheduler.mode") == "FAIR"


def test_timeout_cancels_the_trials_spark_jobs(executor: SparkExecutor, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    start = time.monotonic()
    job = repo_job("spark_forever", {"pidfile": str(pidfile)}, timeout=8.0)
    outcome = outcome_of(executor.submit(job))
    assert outcome.state is TrialState.FAILED and outcome.error == "timed out after 8.0 s"
    assert time.monotonic() - start < 30
    tracker = executor.session.sparkContext.statusTracker()
    assert wait_until(lambda: not tracker.getActiveJobsIds(), 20), "the trial's job runs on"
    again = outcome_of(
        executor.submit(repo_job("uses_spark", {"n": 10, "out": str(tmp_path / "o")}))
    )
    assert again.values == {"sum": 45.0}, again.error


def test_found_by_name_and_checks_options() -> None:
    assert plugins.executor("spark") is SparkExecutor
    with pytest.raises(SpecError) as info:
        SparkExecutor.check_options({"parallelism": 0})
    assert info.value.field == "parallelism"


def test_unreachable_master_is_a_spec_error() -> None:
    start = time.monotonic()
    with pytest.raises(SpecError) as info:
        runnable(spec_dict(executor={"type": "spark", "master": "spark://127.0.0.1:1"}))
    assert info.value.field == "executor.master" and "does not answer" in info.value.reason
    assert time.monotonic() - start < 10


@pytest.fixture(scope="module")
def parquet_data(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small separable binary problem written as Parquet (by pandas)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["label"] = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.3, size=600) > 0).astype(int)
    path = tmp_path_factory.mktemp("data") / "train.parquet"
    frame.to_parquet(path)
    return path


def _trainer_job(
    trainer: str, data: Path, params: dict[str, Any], tmp_path: Path, **options: Any
) -> TrialJob:
    objective = ObjectiveSpec(
        trainer=trainer,
        options={"data": str(data), "label": "label", "metric": "areaUnderROC", **options},
    )
    return TrialJob(
        "trainers",
        0,
        1,
        params,
        objective,
        metric="areaUnderROC",
        timeout=120,
        artifact_dir=str(tmp_path / "model"),
    )


def test_spark_ml_trainer_fits_evaluates_and_saves(
    executor: SparkExecutor, parquet_data: Path, tmp_path: Path
) -> None:
    job = _trainer_job(
        "spark-ml",
        parquet_data,
        {"maxDepth": 3, "maxIter": 5},
        tmp_path,
        estimator="pyspark.ml.classification.GBTClassifier",
        save_model=True,
    )
    outcome = outcome_of(executor.submit(job))
    assert outcome.state is TrialState.COMPLETE, outcome.error
    assert 0.85 < (outcome.value or 0) <= 1.0
    assert outcome.artifact == str(tmp_path / "model")
    assert (tmp_path / "model" / "model" / "metadata").exists()


def test_xgboost_spark_trainer(executor: SparkExecutor, parquet_data: Path, tmp_path: Path) -> None:
    job = _trainer_job(
        "xgboost-spark", parquet_data, {"max_depth": 3, "n_estimators": 20}, tmp_path
    )
    outcome = outcome_of(executor.submit(job))
    assert outcome.state is TrialState.COMPLETE, outcome.error
    assert 0.85 < (outcome.value or 0) <= 1.0


def test_spark_trainer_needs_the_spark_executor(parquet_data: Path) -> None:
    objective = {
        "trainer": "spark-ml",
        "data": str(parquet_data),
        "label": "label",
        "estimator": "pyspark.ml.classification.GBTClassifier",
    }
    with pytest.raises(SpecError) as info:
        StudySpec.from_dict(spec_dict(objective=objective, direction="maximize"))  # local
    assert info.value.field == "objective.trainer" and "spark executor" in info.value.reason
    bad = {**objective, "estimator": "pyspark.ml.classification.NoSuchClassifier"}
    with pytest.raises(SpecError) as info:
        runnable(spec_dict(objective=bad, executor={"type": "spark"}, direction="maximize"))
    assert info.value.field == "objective.estimator" and "NoSuchClassifier" in info.value.reason


class TestSparkMLTrainer(TrainerConformance):
    trainer = "spark-ml"
    options = {"estimator": "pyspark.ml.classification.LogisticRegression"}
    params = {"regParam": 0.01}

    @pytest.fixture(autouse=True)
    def _session(self, spark: Any) -> None:
        self.session = spark

    def context(self, artifact_dir: str | None = None) -> Any:
        return RecordingContext(artifact_dir, spark=self.session)


def test_a_study_on_spark_prunes_trials_while_they_run(spark: Any, tmp_path: Path) -> None:
    """The trial process's channel carries reports up and the pruner's stop down."""
    from tests.tuner.test_pruning_runs import check_pruned, pruning_study, run
    from tuner.storage import Storage

    storage = Storage(f"sqlite:///{tmp_path / 'tuner.db'}")
    data = pruning_study(
        {"type": "median", "n_startup_trials": 2},
        executor={"type": "spark", "master": "local[2]", "parallelism": 2},
    )
    check_pruned(run(storage, data))
