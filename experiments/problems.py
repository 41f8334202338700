"""Benchmark problems: BBOB functions (``cocoex``) with known optima, and XGBoost tuning tasks on
data sets that ship with scikit-learn (scored by their best cross-validated score)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

# BBOB groups: separable, low/moderate conditioning, high conditioning, multi-modal (adequate
# structure), multi-modal (weak structure)
BBOB_GROUPS = {
    1: "separable",
    2: "separable",
    3: "separable",
    4: "separable",
    5: "separable",
    6: "moderate",
    7: "moderate",
    8: "moderate",
    9: "moderate",
    10: "ill-conditioned",
    11: "ill-conditioned",
    12: "ill-conditioned",
    13: "ill-conditioned",
    14: "ill-conditioned",
    15: "multi-modal",
    16: "multi-modal",
    17: "multi-modal",
    18: "multi-modal",
    19: "multi-modal",
    20: "weak-structure",
    21: "weak-structure",
    22: "weak-structure",
    23: "weak-structure",
    24: "weak-structure",
}


@dataclass(frozen=True)
class Problem:
    """A function to minimise over a search space (our spec form), with its optimum if known."""

    name: str
    group: str
    space: dict[str, dict[str, Any]]
    evaluate: Callable[[dict[str, Any]], float]
    optimum: float | None = None


def bbob(function: int, dim: int, instance: int = 1) -> Problem:
    """BBOB function ``function`` in ``dim`` dimensions on its domain ``[-5, 5]^dim``."""
    import cocoex

    bare = cocoex.BareProblem("bbob", function, dim, instance)
    names = [f"x{i}" for i in range(dim)]

    def evaluate(params: dict[str, Any]) -> float:
        return float(bare(np.array([params[n] for n in names], dtype=float)))

    return Problem(
        name=f"bbob-f{function}-d{dim}",
        group=f"bbob-{dim}d",
        space={n: {"type": "float", "low": -5.0, "high": 5.0} for n in names},
        evaluate=evaluate,
        optimum=float(bare.best_value()),
    )


XGB_SPACE: dict[str, dict[str, Any]] = {
    "eta": {"type": "float", "low": 0.005, "high": 0.5, "log": True},
    "max_depth": {"type": "int", "low": 2, "high": 10},
    "min_child_weight": {"type": "float", "low": 0.1, "high": 20.0, "log": True},
    "subsample": {"type": "float", "low": 0.5, "high": 1.0},
    "colsample_bytree": {"type": "float", "low": 0.3, "high": 1.0},
    "lambda": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
}


@cache
def bundled_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and target of a data set that ships with scikit-learn (no download)."""
    from sklearn import datasets

    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }[name]
    data = loader()
    return data.data, data.target


def xgboost_task(name: str, rounds: int = 40) -> Problem:
    """3-fold cross-validated loss of XGBoost on a scikit-learn data set (to minimise):
    1 - AUC (breast cancer), multi-class error (digits), RMSE (diabetes)."""
    import xgboost as xgb

    objective, metric = {
        "breast_cancer": ("binary:logistic", "auc"),
        "digits": ("multi:softprob", "merror"),
        "diabetes": ("reg:squarederror", "rmse"),
    }[name]

    def evaluate(params: dict[str, Any]) -> float:
        x, y = bundled_data(name)
        booster = {
            "objective": objective,
            "eval_metric": metric,
            "nthread": 1,
            "seed": 0,
            "verbosity": 0,
            **params,
        }
        if name == "digits":
            booster["num_class"] = 10
        history = xgb.cv(
            booster,
            xgb.DMatrix(x, label=y),
            num_boost_round=rounds,
            nfold=3,
            stratified=name != "diabetes",
            seed=0,
            as_pandas=False,
        )
        score = float(history[f"test-{metric}-mean"][-1])
        return 1.0 - score if metric == "auc" else score

    return Problem(name=f"xgb-{name}", group="xgboost", space=XGB_SPACE, evaluate=evaluate)
