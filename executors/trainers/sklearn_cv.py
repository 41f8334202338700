"""The ``sklearn`` trainer: any scikit-learn estimator, cross-validated with a scorer name, with
its preprocessing in one Pipeline (text columns one-hot encoded; scaling, imputation if asked)."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any

from tuner.errors import SpecError
from tuner.executor import TrialContext
from tuner.executors.trainers.dataset import load_table
from tuner.space import Params
from tuner.trainer import Trainer, load_class

PREPROCESS = ("scale", "impute")


class SklearnTrainer(Trainer):
    """``estimator: sklearn.ensemble.RandomForestClassifier``, ``metric``: a scikit-learn scoring
    name (``roc_auc``, ``accuracy``, ``neg_mean_squared_error``...; every scorer is better
    higher), ``cv`` folds (default 5), ``preprocess``: any of ``scale`` (standardise numeric
    columns, what a LogisticRegression or an SVM needs to converge) and ``impute`` (fill missing
    values: median, most frequent for text). Text columns are always one-hot encoded. An
    estimator that grows (boosting and forest ensembles by warm start, SGD or MLP by
    ``partial_fit`` epochs) reports the folds' mean score after every stage and stops when the
    pruner says (``sklearn_stages``); others report each fold's score."""

    name = "sklearn"
    options = frozenset({"data", "label", "metric", "cv", "estimator", "save_model", "preprocess"})
    default_metric = "accuracy"
    needs_estimator = True
    estimator_modules = ("sklearn.", "xgboost.", "lightgbm.", "catboost.")
    preload = (
        "numpy",
        "pandas",
        "sklearn.model_selection",
        "sklearn.pipeline",
        "sklearn.compose",
        "sklearn.preprocessing",
    )

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        steps = options.get("preprocess", [])
        self.preprocess: list[str] = [steps] if isinstance(steps, str) else list(steps)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        super().check_options(options)
        steps = options.get("preprocess", [])
        if isinstance(steps, str):
            steps = [steps]
        if not isinstance(steps, list) or any(s not in PREPROCESS for s in steps):
            raise SpecError(
                "preprocess",
                f"must be a list of {', '.join(PREPROCESS)}, not {options.get('preprocess')!r}",
            )

    @classmethod
    def metrics(cls) -> Collection[str]:
        from sklearn.metrics import get_scorer_names

        return set(get_scorer_names())

    @classmethod
    def maximized(cls) -> Collection[str]:
        return cls.metrics()  # scikit-learn's scorers are better higher (neg_* are negated)

    @classmethod
    def parameters(cls, options: Mapping[str, Any]) -> Collection[str]:
        from sklearn.base import BaseEstimator

        estimator: Any = load_class(options["estimator"], BaseEstimator)
        return set(estimator._get_param_names())

    def __call__(self, params: Params, trial: TrialContext) -> dict[str, float]:
        import numpy as np
        from sklearn.model_selection import cross_validate

        from tuner.executors.trainers.sklearn_stages import growth_of, staged_cross_validate

        X, y = load_table(self.data, self.label)
        model = self.pipeline(params, X)
        growth = growth_of(model.named_steps["model"], params, getattr(trial, "resource", None))
        if growth is not None:  # reports per stage, so the study's pruner can stop it early
            staged = staged_cross_validate(model, growth, X, y, self.cv or 5, self.metric, trial)
            scores = np.asarray(staged)
        else:
            scores = cross_validate(model, X, y, cv=self.cv or 5, scoring=self.metric)["test_score"]
            for fold, score in enumerate(scores):
                trial.report(fold, float(score))
        if self.save_model and trial.artifact_dir:
            from tuner.models.trial_model import save_trial_model

            os.makedirs(trial.artifact_dir, exist_ok=True)
            model, example = self.refit(params)
            save_trial_model(trial, model, "sklearn", example)
        return {self.metric: float(scores.mean()), f"{self.metric}_std": float(scores.std())}

    def refit(self, params: Params) -> tuple[Any, Any]:
        """The Pipeline fitted on all the data, and the data's feature columns."""
        X, y = load_table(self.data, self.label)
        return self.pipeline(params, X).fit(X, y), X

    def pipeline(self, params: Params, X: Any) -> Any:
        """The estimator with ``params`` behind the preprocessing of ``X``'s columns."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline, make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        steps = self.preprocess
        from pandas.api.types import is_numeric_dtype

        text = [c for c in X.columns if not is_numeric_dtype(X[c])]
        numeric = [c for c in X.columns if c not in text]
        numeric_steps: list[Any] = []
        if "impute" in steps:
            numeric_steps.append(SimpleImputer(strategy="median"))
        if "scale" in steps:
            numeric_steps.append(StandardScaler())
        text_steps: list[Any] = []
        if "impute" in steps:
            text_steps.append(SimpleImputer(strategy="most_frequent"))
        text_steps.append(OneHotEncoder(handle_unknown="ignore"))
        parts: list[Any] = []
        if numeric:
            parts.append(
                (
                    "numeric",
                    make_pipeline(*numeric_steps) if numeric_steps else "passthrough",
                    numeric,
                )
            )
        if text:
            parts.append(("text", make_pipeline(*text_steps), text))
        estimator: Any = load_class(self.estimator or "")(**params)
        columns = ColumnTransformer(parts, remainder="drop")
        return Pipeline([("preprocess", columns), ("model", estimator)])
