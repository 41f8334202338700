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
from tuner.executor import TrialJob, TrialOutcome
from tuner.executors.spark import SparkExecutor
from tuner.models.predictor import Predictor
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


# trainers fit at several checkpoints, and each xgboost.spark fit is a barrier job of its own:
# tens of seconds each on the loaded machine (a deadline, not a measurement)
TRAINER_TIMEOUT = 600.0


def trainer_outcome(executor: SparkExecutor, job: TrialJob) -> TrialOutcome:
    return executor.submit(job).result(timeout=TRAINER_TIMEOUT + 60)


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
        timeout=TRAINER_TIMEOUT,
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
    outcome = trainer_outcome(executor, job)
    assert outcome.state is TrialState.COMPLETE, outcome.error
    assert 0.85 < (outcome.value or 0) <= 1.0
    assert outcome.artifact == str(tmp_path / "model")
    # a spark bundle whose pipeline assembles the raw columns itself
    predictor = Predictor.load(tmp_path / "model" / "bundle")
    assert predictor.manifest.flavor == "spark"
    assert predictor.signature.names == ["a", "b", "c", "d"]
    assert predictor.manifest.lineage.params == {"maxDepth": 3, "maxIter": 5}
    import pandas as pd

    rows = pd.read_parquet(parquet_data).drop(columns="label").head(50)
    p = predictor.predict_batch(rows)
    assert p.shape == (50,) and ((p >= 0) & (p <= 1)).all()


def test_xgboost_spark_trainer(executor: SparkExecutor, parquet_data: Path, tmp_path: Path) -> None:
    job = _trainer_job(
        "xgboost-spark",
        parquet_data,
        {"max_depth": 3, "n_estimators": 20},
        tmp_path,
        save_model=True,
    )
    outcome = trainer_outcome(executor, job)
    assert outcome.state is TrialState.COMPLETE, outcome.error
    assert 0.85 < (outcome.value or 0) <= 1.0
    predictor = Predictor.load(tmp_path / "model" / "bundle")
    assert predictor.manifest.flavor == "spark"
    import pandas as pd

    rows = pd.read_parquet(parquet_data).drop(columns="label").head(50)
    assert predictor.predict_batch(rows).shape[0] == 50


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


def test_a_spark_bundle_needs_named_columns(tmp_path: Path) -> None:
    from tuner.space import SearchSpace

    data = tmp_path / "train.libsvm"
    data.write_text("1 1:0.5 2:0.1\n0 1:-0.5 2:0.2\n")
    options = {"data": str(data), "estimator": "pyspark.ml.classification.GBTClassifier"}
    space = SearchSpace.from_dict({"maxDepth": {"type": "int", "low": 1, "high": 3}})
    trainer = plugins.trainer("spark-ml")
    trainer.check_study(options, space)
    with pytest.raises(SpecError) as info:
        trainer.check_study({**options, "save_model": True}, space)
    assert info.value.field == "save_model" and "LibSVM" in info.value.reason


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


@pytest.mark.parametrize(
    ("trainer", "options", "params", "counter"),
    [
        ("spark-ml", {"estimator": "pyspark.ml.classification.GBTClassifier"},
         {"maxDepth": 2}, "maxIter"),
        ("spark-ml", {"estimator": "pyspark.ml.classification.RandomForestClassifier"},
         {"maxDepth": 3}, "numTrees"),
        ("xgboost-spark", {}, {"max_depth": 2}, "n_estimators"),
    ],
)  # fmt: skip
def test_spark_ensembles_report_each_checkpoint_with_the_score_of_one_fit(
    spark: Any,
    parquet_data: Path,
    trainer: str,
    options: dict[str, Any],
    params: dict[str, Any],
    counter: str,
) -> None:
    """Steps 1, 3 and the total (the round's resource here); the last report is the score
    of the estimator fitted once with that total (xgboost.spark continues from the booster
    before, Spark ML fits again)."""
    objective = {"data": str(parquet_data), "label": "label", "metric": "logLoss", **options}
    context = RecordingContext(spark=spark)
    context.resource = 10
    result = plugins.trainer(trainer)(objective)(dict(params), context)
    assert [s for s, _ in context.reports] == [1, 3, 10]
    assert result == {"logLoss": context.reports[-1][1]}
    last = context.reports[-1][1]
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator

    from tuner.executors.trainers.dataset import load_frame
    from tuner.executors.trainers.spark_ml import HOLDOUT, SEED

    frame, assembler = load_frame(spark, str(parquet_data), "label")
    train, test = (
        assembler.transform(frame)
        .select("features", "label")
        .randomSplit([1 - HOLDOUT, HOLDOUT], seed=SEED)
    )
    model = plugins.trainer(trainer)(objective).estimator_for({**params, counter: 10}).fit(train)
    once = MulticlassClassificationEvaluator(metricName="logLoss").evaluate(model.transform(test))
    assert once == pytest.approx(last, rel=1e-6)


def test_spark_ensembles_fit_once_without_a_pruner(spark: Any, parquet_data: Path) -> None:
    """In a study without a pruner nothing could stop the trial, so a Spark ML ensemble is
    fitted once (no stages, no reports) and scores what a staged fit's last report would."""
    objective = {
        "data": str(parquet_data),
        "label": "label",
        "metric": "logLoss",
        "estimator": "pyspark.ml.classification.GBTClassifier",
    }
    staged = RecordingContext(spark=spark)
    staged.resource = 10
    once = RecordingContext(spark=spark, prunes=False)
    once.resource = 10
    trainer = plugins.trainer("spark-ml")(objective)
    assert trainer({"maxDepth": 2}, staged) == {"logLoss": staged.reports[-1][1]}
    result = trainer({"maxDepth": 2}, once)
    assert once.reports == []
    assert result["logLoss"] == pytest.approx(staged.reports[-1][1], rel=1e-6)


def test_only_ensembles_grow_at_powers_of_three(spark: Any) -> None:
    from pyspark.ml.classification import GBTClassifier, LogisticRegression
    from pyspark.ml.regression import RandomForestRegressor
    from xgboost.spark import SparkXGBRegressor

    from tuner.executors.trainers.spark_stages import Growth, checkpoints, growth_of

    assert checkpoints(1) == [1] and checkpoints(3) == [1, 3] and checkpoints(8) == [1, 8]
    assert checkpoints(81) == [1, 3, 9, 27, 81] and checkpoints(80) == [1, 3, 9, 80]
    assert max(sum(checkpoints(n)) / n for n in range(1, 3000)) <= 1.5  # refits cost
    assert growth_of(GBTClassifier(), {}, None) == Growth("maxIter", 20, False)
    assert growth_of(GBTClassifier(), {"maxIter": 7}, 40) == Growth("maxIter", 7, False)
    assert growth_of(RandomForestRegressor(), {}, 40) == Growth("numTrees", 40, False)
    assert growth_of(SparkXGBRegressor(), {}, None) == Growth("n_estimators", 100, True)
    assert growth_of(LogisticRegression(), {}, 40) is None  # maxIter bounds a solver


def test_a_spark_ml_trainer_study_with_the_median_pruner_prunes(
    spark: Any, parquet_data: Path, tmp_path: Path
) -> None:
    """The trainer's checkpoint reports reach the pruner from the trial process, its stop ends
    the training: some trials pruned before their last checkpoint, none lost."""
    from tests.tuner.test_pruning_runs import run
    from tuner.storage import Storage

    trials = 10
    data = {
        "name": "spark-pruned",
        "objective": {
            "trainer": "spark-ml",
            "estimator": "pyspark.ml.classification.GBTClassifier",
            "data": str(parquet_data),
            "label": "label",
            "metric": "logLoss",
        },
        "space": {
            "stepSize": {"type": "float", "low": 0.01, "high": 0.5, "log": True},
            "maxDepth": {"type": "int", "low": 1, "high": 4},
        },
        "plan": [{"algorithm": "random", "trials": trials, "resource": {"min": 1, "max": 27}}],
        "executor": {"type": "spark", "master": "local[2]", "parallelism": 2},
        "pruner": {"type": "median", "n_startup_trials": 2},
        "seed": 1,
        "retries": 3,
    }
    done = run(Storage(f"sqlite:///{tmp_path / 'tuner.db'}"), data, tmp_path)
    assert len(done) == trials
    assert {t.state for t in done} <= {TrialState.COMPLETE, TrialState.PRUNED}, [
        (t.number, t.state.value, (t.error or "")[-300:]) for t in done
    ]
    pruned = [t for t in done if t.state is TrialState.PRUNED]
    assert pruned, [(t.params, t.intermediate) for t in done]
    assert any(max(t.intermediate)[0] < 27 for t in pruned)  # stopped before its last fit
    for t in done:
        assert [s for s, _ in t.intermediate] == [1, 3, 9, 27][: len(t.intermediate)]
        if t.state is TrialState.COMPLETE:
            assert max(t.intermediate) == (27, t.value)
