"""The ``spark-ml`` and ``xgboost-spark`` trainers: fit on Spark, evaluate on a 20% hold-out.

They run on the Spark executor and take its session from ``trial.spark``; space params are the
estimator's params (``maxDepth``, ``stepSize``... for Spark ML; ``max_depth``, ``learning_rate``...
for ``xgboost.spark.SparkXGBClassifier``). Ensembles (boosted trees, random forests, XGBoost)
train in stages and report the hold-out score after each (``spark_stages``), so they prune with
no user code; ``save_model`` saves a ``spark`` bundle fitted on all the data.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from tuner.data_files import data_format
from tuner.errors import ObjectiveError, SpecError
from tuner.executor import TrialContext
from tuner.executors.trainers.dataset import load_frame
from tuner.space import Params, SearchSpace
from tuner.trainer import Trainer, load_class

_BINARY = {"areaUnderROC", "areaUnderPR"}
_MULTICLASS = {"f1", "accuracy", "weightedPrecision", "weightedRecall", "logLoss"}
_REGRESSION = {"rmse", "mse", "r2", "mae", "var"}
_MAXIMIZED = {
    "areaUnderROC",
    "areaUnderPR",
    "f1",
    "accuracy",
    "weightedPrecision",
    "weightedRecall",
    "r2",
    "var",
}
HOLDOUT = 0.2
NO_COLUMNS = "needs CSV or Parquet data: a model bundle names its input columns, LibSVM has none"
SEED = 7


class SparkMLTrainer(Trainer):
    """``estimator``: a Spark ML estimator class such as
    ``pyspark.ml.classification.GBTClassifier``; ``metric``: a Spark evaluator metric."""

    name = "spark-ml"
    requires = "spark"
    options = frozenset({"data", "label", "metric", "estimator", "save_model"})
    default_metric = "areaUnderROC"
    needs_estimator = True
    estimator_modules = ("pyspark.ml.",)
    default_estimator: ClassVar[str | None] = None

    @classmethod
    def metrics(cls) -> Collection[str]:
        return _BINARY | _MULTICLASS | _REGRESSION

    @classmethod
    def maximized(cls) -> Collection[str]:
        return _MAXIMIZED

    @classmethod
    def parameters(cls, options: Mapping[str, Any]) -> Collection[str] | None:
        """The estimator's Spark ML params, read off the class (no JVM needed)."""
        from pyspark.ml.param import Param

        ref = options.get("estimator") or cls.default_estimator or ""
        estimator = load_class(ref)
        names = {n for n in dir(estimator) if isinstance(getattr(estimator, n, None), Param)}
        return names or None

    @classmethod
    def check_study(cls, options: Mapping[str, Any], space: SearchSpace) -> None:
        """Also: ``save_model`` needs named columns (CSV or Parquet) for its bundle."""
        super().check_study(options, space)
        if options.get("save_model") and data_format(options["data"]) == "libsvm":
            raise SpecError("save_model", NO_COLUMNS)

    def estimator_for(self, params: Params) -> Any:
        return load_class(self.estimator or self.default_estimator or "")(
            featuresCol="features", labelCol="label", **params
        )

    def __call__(self, params: Params, trial: TrialContext) -> dict[str, float]:
        from tuner.executors.trainers.spark_stages import growth_of, staged_fit

        spark = getattr(trial, "spark", None)
        if spark is None:
            raise ObjectiveError(f"trainer {self.name!r} runs on the spark executor only")
        frame, assembler = load_frame(spark, self.data, self.label)
        features = assembler.transform(frame) if assembler is not None else frame
        train, test = features.select("features", "label").randomSplit(
            [1 - HOLDOUT, HOLDOUT], seed=SEED
        )
        evaluator = _evaluator(self.metric)

        def score(model: Any) -> float:
            return float(evaluator.evaluate(model.transform(test)))

        growth = growth_of(self.estimator_for(params), params, getattr(trial, "resource", None))
        if growth is not None:  # its size: the space's, else the round's resource, else default
            params = {**params, growth.counter: growth.total}
        # in stages only when a pruner may stop it: a Spark ML ensemble is fitted again at each
        # checkpoint (1.5 fits in all), xgboost.spark runs a Spark job per checkpoint
        if growth is None or not getattr(trial, "prunes", True):
            value = score(self.estimator_for(params).fit(train))
        else:  # reports per checkpoint, so the study's pruner can stop it early
            fixed = params
            train.persist()
            test.persist()
            try:
                _, value = staged_fit(
                    lambda changes: self.estimator_for({**fixed, **changes}),
                    growth,
                    train,
                    score,
                    trial,
                )
            finally:
                train.unpersist()
                test.unpersist()
            if trial.should_prune():  # stopped early: no model of its total to keep
                return {self.metric: value}
        if self.save_model and trial.artifact_dir:
            self.save(trial, params, frame, assembler)
        return {self.metric: value}

    def save(self, trial: TrialContext, params: Params, frame: Any, assembler: Any) -> None:
        """The estimator fitted on all the data, saved as a ``spark`` bundle: a PipelineModel
        that assembles the feature columns itself, so raw rows go in."""
        from pyspark.ml import Pipeline

        if assembler is None:
            raise ObjectiveError(f"save_model {NO_COLUMNS}")
        pipeline = Pipeline(stages=[assembler, self.estimator_for(params)]).fit(frame)
        example = frame.drop("label").limit(100).toPandas()
        trial.save_model(pipeline, "spark", example)


class XGBoostSparkTrainer(SparkMLTrainer):
    """Distributed XGBoost through ``xgboost.spark``; ``estimator`` defaults to
    ``SparkXGBClassifier`` (``SparkXGBRegressor`` for regression metrics)."""

    name = "xgboost-spark"
    options = frozenset({"data", "label", "metric", "estimator", "save_model"})
    needs_estimator = False
    estimator_modules = ("xgboost.spark",)
    default_estimator = "xgboost.spark.SparkXGBClassifier"

    @classmethod
    def parameters(cls, options: Mapping[str, Any]) -> Collection[str] | None:
        return None  # xgboost.spark passes any XGBoost parameter through

    def estimator_for(self, params: Params) -> Any:
        ref = self.estimator or (
            "xgboost.spark.SparkXGBRegressor"
            if self.metric in _REGRESSION
            else self.default_estimator
        )
        params = {"num_workers": 1, **params}
        return load_class(ref or "")(features_col="features", label_col="label", **params)


def _evaluator(metric: str) -> Any:
    from pyspark.ml import evaluation

    name: Any = metric
    if metric in _BINARY:
        return evaluation.BinaryClassificationEvaluator(metricName=name)
    if metric in _MULTICLASS:
        return evaluation.MulticlassClassificationEvaluator(metricName=name)
    return evaluation.RegressionEvaluator(metricName=name)
