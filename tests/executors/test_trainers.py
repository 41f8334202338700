"""The in-memory trainers (xgboost, sklearn) on small generated CSV, Parquet and LibSVM files, and
the spec checks of every trainer objective."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.specs import runnable, spec_dict
from tuner import plugins
from tuner.errors import ObjectiveError, SpecError
from tuner.executor import TrialJob
from tuner.executors.local import LocalExecutor
from tuner.executors.trainers.dataset import data_format, load_arrays
from tuner.study import ObjectiveSpec, StudySpec, load_spec
from tuner.testing import TrainerConformance
from tuner.testing.executors import outcome_of
from tuner.trial import TrialState


def _problem(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3))
    return x, (x[:, 0] - x[:, 2] + rng.normal(scale=0.3, size=n) > 0).astype(int)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import pandas as pd
    from sklearn.datasets import dump_svmlight_file

    root = tmp_path_factory.mktemp("data")
    x, y = _problem()
    frame = pd.DataFrame(x, columns=["f0", "f1", "f2"]).assign(target=y)
    frame.to_csv(root / "train.csv", index=False)
    frame.to_parquet(root / "train.parquet")
    dump_svmlight_file(x, y, str(root / "train.libsvm"))
    return {
        "csv": root / "train.csv",
        "parquet": root / "train.parquet",
        "libsvm": root / "train.libsvm",
    }


class _Trial:
    study, number, attempt, params = "t", 0, 1, {}  # noqa: RUF012

    def __init__(self, artifact_dir: str | None = None) -> None:
        self.artifact_dir = artifact_dir
        self.reports: list[tuple[int, float]] = []

    def report(self, step: int, value: float) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return False


@pytest.mark.parametrize("fmt", ["csv", "parquet", "libsvm"])
def test_formats_load_the_same_arrays(data: dict[str, Path], fmt: str) -> None:
    assert data_format(str(data[fmt])) == fmt
    x, y = load_arrays(str(data[fmt]), "target")
    x = x.toarray() if hasattr(x, "toarray") else x
    expected_x, expected_y = _problem()
    assert np.allclose(x, expected_x, atol=1e-6) and np.array_equal(y, expected_y)


def test_missing_label_column_says_which(data: dict[str, Path]) -> None:
    with pytest.raises(ObjectiveError, match="no label column 'label'"):
        load_arrays(str(data["csv"]), "label")


def test_xgboost_trainer_cross_validates_and_saves(data: dict[str, Path], tmp_path: Path) -> None:
    trainer = plugins.trainer("xgboost")(
        {"data": str(data["csv"]), "label": "target", "metric": "auc", "cv": 3, "save_model": True}
    )
    trial = _Trial(str(tmp_path / "m"))
    result = trainer({"eta": 0.3, "max_depth": 3, "num_boost_round": 20}, trial)
    assert 0.9 < result["auc"] <= 1.0 and result["rounds"] == 20.0
    assert trial.reports and trial.reports[0][0] == 0
    assert (tmp_path / "m" / "model.json").exists()
    assert (tmp_path / "m" / "bundle" / "MANIFEST.json").exists()


def test_xgboost_trainer_reports_every_round_and_stops_when_told(
    data: dict[str, Path], tmp_path: Path
) -> None:
    trainer = plugins.trainer("xgboost")(
        {"data": str(data["csv"]), "label": "target", "metric": "logloss", "cv": 3}
    )
    trial = _Trial(str(tmp_path / "m"))
    full = trainer({"eta": 0.3, "max_depth": 3, "num_boost_round": 20}, trial)
    assert [s for s, _ in trial.reports] == list(range(20))
    assert full["logloss"] == trial.reports[-1][1]

    class StopsAfterFive(_Trial):
        def should_prune(self) -> bool:
            return len(self.reports) >= 6

    stopped = StopsAfterFive(str(tmp_path / "n"))
    result = trainer({"eta": 0.3, "max_depth": 3, "num_boost_round": 20}, stopped)
    assert [s for s, _ in stopped.reports] == list(range(6)) and result["rounds"] == 6.0
    assert result["logloss"] == stopped.reports[-1][1] == trial.reports[5][1]


def test_sklearn_trainer_through_the_local_executor(data: dict[str, Path], tmp_path: Path) -> None:
    objective = ObjectiveSpec(
        trainer="sklearn",
        options={
            "data": str(data["parquet"]),
            "label": "target",
            "metric": "roc_auc",
            "cv": 3,
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "save_model": True,
        },
    )
    job = TrialJob(
        "t",
        0,
        1,
        {"n_estimators": 20, "max_depth": 4},
        objective,
        metric="roc_auc",
        timeout=120,
        artifact_dir=str(tmp_path / "model"),
    )
    with LocalExecutor(workers=1) as executor:
        outcome = outcome_of(executor.submit(job))
    assert outcome.state is TrialState.COMPLETE, outcome.error
    assert 0.9 < (outcome.value or 0) <= 1.0 and "roc_auc_std" in outcome.values
    # a forest grows a tree at a time (warm start): the folds' mean after each of the 20 trees
    assert [s for s, _ in outcome.intermediate] == list(range(1, 21))
    assert outcome.artifact == str(tmp_path / "model")
    assert (tmp_path / "model" / "bundle" / "MANIFEST.json").exists()  # skops, never pickle


def _trainer_spec(path: Path, **objective: Any) -> dict[str, Any]:
    spec = spec_dict(
        objective={
            "trainer": "xgboost",
            "data": str(path),
            "label": "target",
            "metric": "auc",
            **objective,
        },
        space={"max_depth": {"type": "int", "low": 2, "high": 6}},
    )
    del spec["direction"]  # the trainer knows it: auc is maximised
    return spec


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"trainer": "lightgbm"}, "objective.trainer", "unknown trainer 'lightgbm'"),
        ({"data": "nowhere.csv"}, "objective.data", "no such file"),
        ({"cv": 1}, "objective.cv", "at least 2"),
        ({"estimator": "sklearn.svm.SVC"}, "objective.estimator", "not an option"),
        ({"trainer": "sklearn", "metric": "roc_auc"}, "objective.estimator", "is required"),
        (
            {
                "trainer": "sklearn",
                "metric": "roc_auc",
                "estimator": "sklearn.ensemble.NoSuchForest",
            },
            "objective.estimator",
            "no class 'NoSuchForest'",
        ),
        (
            {"trainer": "sklearn", "metric": "roc_auc", "estimator": "no_such_pkg.Model"},
            "objective.estimator",
            "cannot import",
        ),
        # a new user's mistakes, refused before any trial runs (they used to burn the budget)
        (
            {"trainer": "sklearn", "estimator": "sklearn.ensemble.RandomForestClassifier"},
            "objective.metric",
            "did you mean 'roc_auc'?",
        ),
        ({"metric": "roc_auc"}, "objective.metric", "did you mean 'auc'?"),
        ({"label": "labl"}, "objective.label", "no column 'labl'"),
        ({"layers": 3}, "objective.layers", "not a field"),
    ],
)
def test_spec_errors(data: dict[str, Path], change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        runnable(_trainer_spec(data["csv"], **change))
    assert info.value.field == field and words in info.value.reason, str(info.value)


def test_data_path_is_relative_to_the_study_file(data: dict[str, Path]) -> None:
    study = data["csv"].parent / "study.yaml"
    study.write_text(yaml.safe_dump(_trainer_spec(Path("train.csv"))))
    spec = load_spec(study)
    assert spec.objective.options["data"] == str(data["csv"].resolve())
    assert StudySpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["objective"] == {
        "trainer": "xgboost",
        "data": str(data["csv"]),
        "label": "target",
        "metric": "auc",
    }


class TestXGBoostTrainer(TrainerConformance):
    trainer = "xgboost"
    options = {"metric": "auc", "cv": 3}
    params = {"max_depth": 3, "eta": 0.3, "num_boost_round": 10}


class TestSklearnTrainer(TrainerConformance):
    trainer = "sklearn"
    options = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "metric": "roc_auc",
        "cv": 3,
        "preprocess": ["scale"],
    }
    params = {"C": 0.5}
    text_column = True  # one-hot encoded in its pipeline
