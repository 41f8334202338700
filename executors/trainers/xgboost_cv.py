"""The ``xgboost`` trainer: native XGBoost with k-fold cross-validation (``xgboost.cv``)."""

from __future__ import annotations

import os
from typing import Any

from executors.trainers.dataset import load_arrays
from tuner.executor import TrialContext
from tuner.space import Params
from tuner.trainer import Trainer

_ROUNDS = ("num_boost_round", "n_estimators")  # a space parameter of either name sets rounds


class XGBoostTrainer(Trainer):
    """Space params are XGBoost's booster params (``eta``, ``max_depth``...); ``metric`` an XGBoost
    eval metric (``auc``, ``logloss``, ``rmse``...), the mean over ``cv`` folds (default 5) at
    the last round. The learning task follows from the labels unless ``objective`` is a param."""

    name = "xgboost"
    options = frozenset({"data", "label", "metric", "cv", "save_model"})
    default_metric = "auc"

    def __call__(self, params: Params, trial: TrialContext) -> dict[str, float]:
        import numpy as np
        import xgboost as xgb

        X, y = load_arrays(self.data, self.label)
        booster: dict[str, Any] = {k: v for k, v in params.items() if k not in _ROUNDS}
        rounds = int(next((params[k] for k in _ROUNDS if k in params), 100))
        if "objective" not in booster:
            classes = np.unique(y)
            if len(classes) == 2:
                booster["objective"] = "binary:logistic"
            elif np.all(np.equal(np.mod(classes, 1), 0)) and len(classes) <= 50:
                booster.update(objective="multi:softprob", num_class=len(classes))
            else:
                booster["objective"] = "reg:squarederror"
        booster.setdefault("nthread", 1)
        booster["eval_metric"] = self.metric
        data = xgb.DMatrix(X, label=y)
        history = xgb.cv(booster, data, num_boost_round=rounds, nfold=self.cv or 5, seed=0)
        column = f"test-{self.metric}-mean"
        curve = np.asarray(history[column], dtype=float)
        for step in range(0, len(curve), max(1, len(curve) // 20)):
            trial.report(step, float(curve[step]))
        if self.save_model and trial.artifact_dir:
            os.makedirs(trial.artifact_dir, exist_ok=True)
            model = xgb.train(booster, data, num_boost_round=rounds)
            model.save_model(os.path.join(trial.artifact_dir, "model.json"))
        return {self.metric: float(curve[-1]), "rounds": float(len(curve))}
