"""Built-in trainers prune with no user code: real studies with the xgboost and sklearn trainers
and a pruner end with some trials pruned and none lost; the sklearn trainer's stage-by-stage
cross-validation gives the scores plain cross-validation gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.tuner.test_pruning_runs import run
from tuner import plugins
from tuner.executors.trainers.sklearn_stages import checkpoints, growth_of
from tuner.storage import Storage
from tuner.testing.trainers import RecordingContext, write_data
from tuner.trial import TrialState

TRIALS = 12


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(f"sqlite:///{tmp_path / 'tuner.db'}")


def trainer_study(tmp_path: Path, objective: dict[str, Any], space: dict[str, Any], pruner: Any):  # noqa: ANN201
    data = write_data(tmp_path / "train.csv", rows=300)
    return {
        "name": "trainer-pruned",
        "objective": {**objective, "data": str(data), "cv": 3},
        "space": space,
        "plan": [{"algorithm": "random", "trials": TRIALS, "resource": {"min": 1, "max": 40}}],
        "executor": {"type": "local", "workers": 2},
        "pruner": pruner,
        "seed": 1,
        "retries": 3,
    }


def check(trials: list[Any]) -> None:
    assert len(trials) == TRIALS
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert pruned, [(t.params, len(t.intermediate)) for t in trials]
    assert any(max(t.intermediate)[0] < 39 for t in pruned)  # stopped before the last round
    for t in trials:
        assert max(t.intermediate)[0] <= 40
        if t.state is TrialState.COMPLETE:  # the round's resource: 40 boosting rounds (from 0
            assert max(t.intermediate)[0] in (39, 40)  # for xgboost, from 1 for stages)


def test_an_xgboost_trainer_study_with_the_median_pruner_prunes(
    storage: Storage, tmp_path: Path
) -> None:
    data = trainer_study(
        tmp_path,
        {"trainer": "xgboost", "metric": "logloss"},
        {
            "eta": {"type": "float", "low": 0.005, "high": 0.5, "log": True},
            "max_depth": {"type": "int", "low": 1, "high": 6},
        },
        {"type": "median", "n_startup_trials": 3},
    )
    check(run(storage, data, tmp_path))


def test_an_sklearn_boosting_study_with_asha_prunes(storage: Storage, tmp_path: Path) -> None:
    data = trainer_study(
        tmp_path,
        {
            "trainer": "sklearn",
            "estimator": "sklearn.ensemble.GradientBoostingClassifier",
            "metric": "neg_log_loss",
        },
        {
            "learning_rate": {"type": "float", "low": 0.005, "high": 0.5, "log": True},
            "max_depth": {"type": "int", "low": 1, "high": 4},
        },
        {"type": "asha", "reduction_factor": 2},
    )
    check(run(storage, data, tmp_path))


@pytest.mark.parametrize(
    ("estimator", "params", "stages"),
    [
        ("sklearn.ensemble.GradientBoostingClassifier", {"n_estimators": 15}, 15),
        ("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 12}, 12),
        ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 8}, 8),
        ("sklearn.linear_model.SGDClassifier", {"max_iter": 6}, 6),
        ("sklearn.linear_model.LogisticRegression", {}, None),
    ],
)
def test_the_sklearn_trainer_reports_each_stage_with_the_scores_of_plain_cv(
    tmp_path: Path, estimator: str, params: dict[str, Any], stages: int | None
) -> None:
    from sklearn.model_selection import cross_validate

    path = write_data(tmp_path / "train.csv")
    options = {"data": str(path), "estimator": estimator, "metric": "accuracy", "cv": 3}
    trainer = plugins.trainer("sklearn")(options)
    fixed = {**params, "random_state": 0}
    context = RecordingContext()
    result = trainer(fixed, context)
    if stages is None:  # it does not grow: one report per fold
        assert [s for s, _ in context.reports] == [0, 1, 2]
        return
    assert [s for s, _ in context.reports] == list(range(1, stages + 1))
    assert result["accuracy"] == pytest.approx(context.reports[-1][1])
    if "SGD" not in estimator:  # partial_fit epochs are not fit's (no tolerance, no shuffle)
        from tuner.executors.trainers.dataset import load_table

        X, y = load_table(str(path), "label")
        plain = cross_validate(trainer.pipeline(fixed, X), X, y, cv=3, scoring="accuracy")
        assert result["accuracy"] == pytest.approx(float(np.mean(plain["test_score"])))


def test_stages_follow_the_rounds_resource_and_thin_out_past_a_hundred() -> None:
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, SGDRegressor

    assert growth_of(GradientBoostingRegressor(), {}, 40).total == 40  # type: ignore[union-attr]
    assert growth_of(GradientBoostingRegressor(), {"n_estimators": 7}, 40).total == 7  # type: ignore[union-attr]
    assert growth_of(SGDRegressor(), {}, None).warm is False  # type: ignore[union-attr]
    assert growth_of(LogisticRegression(), {}, 40) is None  # max_iter is not a stage count
    marks = checkpoints(1000)
    assert len(marks) == 20 and marks[0] == 50 and marks[-1] == 1000
    assert checkpoints(3) == [1, 2, 3]
