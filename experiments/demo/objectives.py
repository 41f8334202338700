"""Demo objectives: XGBoost cross-validated on data sets that ship with scikit-learn."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import xgboost as xgb  # imported here so that the local executor's worker preloads it once


@cache
def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return data.data, data.target


def xgboost_cv(params: dict[str, Any], trial: Any = None) -> dict[str, float]:
    """5-fold cross-validated AUC of an XGBoost classifier on breast cancer (569 rows)."""
    x, y = _breast_cancer()
    booster_params = {
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "nthread": 1,
        "seed": 0,
        **params,
    }
    rounds = int(booster_params.pop("n_estimators", 60))
    history = xgb.cv(
        booster_params,
        xgb.DMatrix(x, label=y),
        num_boost_round=rounds,
        nfold=5,
        stratified=True,
        seed=0,
        as_pandas=False,
    )
    test_auc = history["test-auc-mean"]
    if trial is not None:
        for step in range(9, rounds, 10):
            trial.report(step + 1, float(test_auc[step]))
    return {
        "auc": float(test_auc[-1]),
        "auc_std": float(history["test-auc-std"][-1]),
        "train_auc": float(history["train-auc-mean"][-1]),
    }


def fit(params: dict[str, Any]) -> tuple[xgb.Booster, Any]:
    """The model of ``params`` trained on all 569 rows, and the rows (for the bundle's input
    signature): what the study's ``promote: {retrain: true}`` registers."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    y = frame.pop("target").to_numpy()
    booster_params = {"objective": "binary:logistic", "nthread": 1, "seed": 0, **params}
    rounds = int(booster_params.pop("n_estimators", 60))
    data = xgb.DMatrix(frame, label=y)
    return xgb.train(booster_params, data, num_boost_round=rounds), frame
