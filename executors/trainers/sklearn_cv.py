"""The ``sklearn`` trainer: any scikit-learn estimator, cross-validated with a scorer name."""

from __future__ import annotations

import os
from typing import Any

from executors.trainers.dataset import load_arrays
from tuner.executor import TrialContext
from tuner.space import Params
from tuner.trainer import Trainer, load_class


class SklearnTrainer(Trainer):
    """``estimator: sklearn.ensemble.RandomForestClassifier``, ``metric``: a scikit-learn scoring
    name (``roc_auc``, ``accuracy``, ``neg_mean_squared_error``...), ``cv`` folds (default 5)."""

    name = "sklearn"
    options = frozenset({"data", "label", "metric", "cv", "estimator", "save_model"})
    default_metric = "accuracy"
    needs_estimator = True

    def __call__(self, params: Params, trial: TrialContext) -> dict[str, float]:
        from sklearn.model_selection import cross_validate

        X, y = load_arrays(self.data, self.label)
        estimator_cls: Any = load_class(self.estimator or "")
        scores = cross_validate(estimator_cls(**params), X, y, cv=self.cv or 5,
                                scoring=self.metric)["test_score"]
        for fold, score in enumerate(scores):
            trial.report(fold, float(score))
        if self.save_model and trial.artifact_dir:
            import joblib

            os.makedirs(trial.artifact_dir, exist_ok=True)
            model = estimator_cls(**params).fit(X, y)
            joblib.dump(model, os.path.join(trial.artifact_dir, "model.joblib"))
        return {self.metric: float(scores.mean()), f"{self.metric}_std": float(scores.std())}


