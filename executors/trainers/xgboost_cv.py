"""The ``xgboost`` trainer: native XGBoost with k-fold cross-validation (``xgboost.cv``)."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any

from tuner.executor import TrialContext
from tuner.executors.trainers.dataset import load_arrays
from tuner.space import Params
from tuner.trainer import Trainer

ROUNDS = ("num_boost_round", "n_estimators")  # a space parameter of either name sets the rounds
DEFAULT_ROUNDS = 100

# XGBoost's evaluation metrics (``name@k`` forms are read by their name), those better higher
METRICS = frozenset({
    "rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss", "auc",
    "aucpr", "pre", "ndcg", "map", "poisson-nloglik", "gamma-nloglik", "cox-nloglik",
    "gamma-deviance", "tweedie-nloglik", "aft-nloglik", "interval-regression-accuracy",
})  # fmt: skip
MAXIMIZED = frozenset({"auc", "aucpr", "pre", "ndcg", "map", "interval-regression-accuracy"})

# Booster parameters (with their aliases) of XGBoost's tree, dart and linear boosters
PARAMETERS = frozenset({
    "eta", "learning_rate", "gamma", "min_split_loss", "max_depth", "min_child_weight",
    "max_delta_step", "subsample", "sampling_method", "colsample_bytree", "colsample_bylevel",
    "colsample_bynode", "lambda", "reg_lambda", "alpha", "reg_alpha", "tree_method",
    "scale_pos_weight", "updater", "refresh_leaf", "process_type", "grow_policy", "max_leaves",
    "max_bin", "num_parallel_tree", "monotone_constraints", "interaction_constraints",
    "multi_strategy", "max_cached_hist_node", "booster", "device", "verbosity", "nthread",
    "seed", "random_state", "objective", "base_score", "num_class", "tweedie_variance_power",
    "huber_slope", "quantile_alpha", "aft_loss_distribution", "aft_loss_distribution_scale",
    "sample_type", "normalize_type", "rate_drop", "one_drop", "skip_drop", "feature_selector",
    "top_k", "max_cat_to_onehot", "max_cat_threshold", *ROUNDS,
})  # fmt: skip


class XGBoostTrainer(Trainer):
    """Space params are XGBoost's booster params (``eta``, ``max_depth``...) and
    ``num_boost_round`` (default: the round's ``resource``, else 100 rounds); ``metric`` an
    XGBoost eval metric (``auc``, ``logloss``, ``rmse``...), the mean over ``cv`` folds (default
    5) at the last round; the
    learning task follows from the labels unless ``objective`` is a param. Fixed: one thread per
    trial (``nthread: 1``, trials run side by side), fold split seed 0."""

    name = "xgboost"
    options = frozenset({"data", "label", "metric", "cv", "save_model"})
    default_metric = "auc"
    preload = ("numpy", "pandas", "xgboost", "sklearn.datasets")

    @classmethod
    def direction_of(cls, metric: str) -> str:
        return super().direction_of(metric.partition("@")[0])

    @classmethod
    def metrics(cls) -> Collection[str]:
        return METRICS

    @classmethod
    def maximized(cls) -> Collection[str]:
        return MAXIMIZED

    @classmethod
    def parameters(cls, options: Mapping[str, Any]) -> Collection[str]:
        return PARAMETERS

    def __call__(self, params: Params, trial: TrialContext) -> dict[str, float]:
        import numpy as np
        import xgboost as xgb

        X, y = load_arrays(self.data, self.label)
        booster, rounds = self.booster_params(params, y, getattr(trial, "resource", None))
        data = xgb.DMatrix(X, label=y)
        per_round = RoundReports(trial, self.metric)
        try:
            xgb.cv(
                booster,
                data,
                num_boost_round=rounds,
                nfold=self.cv or 5,
                seed=0,
                callbacks=[per_round.callback()],
            )
        except PrunedHere:  # the study's pruner stopped it: it returns what it has
            pass
        curve = np.asarray(per_round.curve, dtype=float)
        if self.save_model and trial.artifact_dir:
            from tuner.models.trial_model import save_trial_model

            model, example = self.refit(params)
            os.makedirs(trial.artifact_dir, exist_ok=True)
            model.save_model(os.path.join(trial.artifact_dir, "model.json"))
            save_trial_model(trial, model, "xgboost", example)
        return {self.metric: float(curve[-1]), "rounds": float(len(curve))}

    def booster_params(
        self, params: Params, y: Any, resource: int | None = None
    ) -> tuple[dict[str, Any], int]:
        """XGBoost's parameters for ``params`` (the task from the labels unless set), and the
        number of boosting rounds: a space parameter's, else the round's ``resource``, else
        100."""
        import numpy as np

        booster: dict[str, Any] = {k: v for k, v in params.items() if k not in ROUNDS}
        rounds = int(next((params[k] for k in ROUNDS if k in params), resource or DEFAULT_ROUNDS))
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
        return booster, rounds

    def refit(self, params: Params) -> tuple[Any, Any]:
        """A booster trained on all the data (its features named after the columns)."""
        import xgboost as xgb

        from tuner.data_files import data_format
        from tuner.executors.trainers.dataset import load_table

        if data_format(self.data) == "libsvm":
            X, y = load_arrays(self.data, self.label)
            example = None
            data = xgb.DMatrix(X, label=y)
        else:
            example, y = load_table(self.data, self.label)
            X, _ = load_arrays(self.data, self.label)  # refuses text columns, as training does
            data = xgb.DMatrix(X, label=y, feature_names=[str(c) for c in example.columns])
        booster, rounds = self.booster_params(params, y)
        return xgb.train(booster, data, num_boost_round=rounds), example


class PrunedHere(Exception):
    """Raised from XGBoost's callback to end a cross-validation the pruner stopped."""


class RoundReports:
    """Reports the mean test metric of every boosting round as it ends (step = round), and ends
    training when ``trial.should_prune()`` says so: trainer studies prune with no user code."""

    def __init__(self, trial: TrialContext, metric: str) -> None:
        self.trial = trial
        self.metric = metric
        self.curve: list[float] = []

    def callback(self) -> Any:
        import xgboost as xgb

        reports = self

        class Reporter(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                return reports.after_round(epoch, evals_log)

        return Reporter()

    def after_round(self, epoch: int, evals_log: Mapping[str, Mapping[str, Any]]) -> bool:
        last = evals_log["test"][self.metric][-1]
        value = float(last[0] if isinstance(last, tuple) else last)  # cv gives (mean, std)
        self.curve.append(value)
        self.trial.report(epoch, value)
        if self.trial.should_prune():
            raise PrunedHere
        return False
