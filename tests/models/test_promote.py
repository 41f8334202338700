"""From trial to version, as a user does it with the ``tuner`` command: a study saves models
through ``trial.save_model`` and its ``promote:`` block registers the best one at the end;
``tuner promote`` (a chosen trial, ``--retrain``), ``tuner models`` (versions, ``--history``,
``alias``) and ``tuner predict`` in chunks, to Parquet and CSV, equal to the Predictor."""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.specs import make_spec
from tests.tuner.test_cli_use import breast_cancer_csv, trainer_study, tuner  # noqa: F401
from tuner.cli import main
from tuner.errors import Conflict
from tuner.executor import TrialOutcome
from tuner.models.store import ArtifactStore
from tuner.promotion import promote
from tuner.registry import ModelRegistry
from tuner.storage import Storage
from tuner.trial import TrialState

OBJECTIVE = """
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.normal(40, 10, 300), "plan": rng.choice(["a", "b", "c"], 300)})
    y = ((X["age"] > 40) ^ (X["plan"] == "a")).astype(int)
    X["plan"] = X["plan"].astype("category")
    return X, y


def model(params):
    import xgboost as xgb

    return xgb.XGBClassifier(n_estimators=params["n"], max_depth=2, enable_categorical=True)


def objective(params, trial):
    X, y = data()
    fitted = model(params).fit(X, y)
    trial.save_model(fitted, example=X)
    return {"score": float(params["n"]), "accuracy": float((fitted.predict(X) == y).mean())}


def fit(params):
    X, y = data()
    return model(params).fit(X, y), X
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study of three trials that save models; its promote block ran at the end."""
    root = tmp_path_factory.mktemp("project")
    (root / "churn_model.py").write_text(OBJECTIVE)
    study = {
        "name": "churn-study",
        "objective": {"function": "churn_model:objective"},
        "metric": "score",
        "direction": "maximize",
        "space": {"n": {"type": "categorical", "choices": [3, 5, 8]}},
        "plan": [{"algorithm": "grid", "trials": 3}],
        "executor": {"type": "local", "workers": 1},
        "promote": {"model": "churn", "alias": "production"},
    }
    (root / "study.yaml").write_text(yaml.safe_dump(study))
    rows = pd.DataFrame(
        {"id": range(23), "age": np.linspace(20, 60, 23), "plan": ["a", "b"] * 11 + ["c"]}
    )
    rows.to_csv(root / "rows.csv", index=False)
    rows.to_parquet(root / "rows.parquet")
    done = run_study(root)
    assert done.returncode == 0, done.stderr
    assert "promote: registered churn:1 -> production" in done.stdout, done.stdout
    return root


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def run(root: Path, *args: str) -> Done:
    """``tuner ARGS`` in this process (the study's run is a subprocess: ``run_study``)."""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*args, "--db", f"sqlite:///{root / 'tuner.db'}", *store(root, args)])
    finally:
        os.chdir(cwd)
    return Done(code, out.getvalue(), err.getvalue())


def store(root: Path, args: tuple[str, ...]) -> list[str]:
    return ["--store", str(root / "artifacts" / "models")] if args[0] != "run" else []


def run_study(root: Path) -> Done:
    done = tuner(
        "run",
        str(root / "study.yaml"),
        "--no-progress",
        db=f"sqlite:///{root / 'tuner.db'}",
        cwd=root,
        env={"TUNER_ARTIFACTS_DIR": str(root / "artifacts")},
    )
    return Done(done.returncode, done.stdout, done.stderr)


def registry_of(root: Path) -> ModelRegistry:
    store = ArtifactStore(str(root / "artifacts" / "models"))
    return ModelRegistry(Storage(f"sqlite:///{root / 'tuner.db'}"), store)


def test_the_promote_block_registered_the_best_trial_once(project: Path) -> None:
    again = run_study(project)
    assert "is trial" in again.stdout and "already" in again.stdout, again.stdout
    versions = json.loads(run(project, "models", "churn", "--json").stdout)
    (v1,) = [v for v in versions if v["version"] == 1]
    assert v1["aliases"] == ["production"] and v1["value"] == 8.0
    assert v1["study"] == "churn-study" and v1["params"] == {"n": 8}
    assert v1["metrics"]["accuracy"] > 0.5 and v1["flavor"] == "xgboost"


def test_promote_a_chosen_trial_retrain_move_and_roll_back(project: Path) -> None:
    worse = run(project, "promote", "churn-study", "--model", "churn", "--trial", "0",
                "--alias", "production", "--json")  # fmt: skip
    assert worse.returncode == 0, worse.stderr
    body = json.loads(worse.stdout)
    assert body["moved"] is None and "does not beat" in body["reason"]
    retrained = run(project, "promote", "churn-study", "--model", "churn", "--retrain",
                    "--alias", "staging")  # fmt: skip
    assert retrained.returncode == 0 and "-> staging" in retrained.stdout, retrained.stderr
    new = json.loads(run(project, "models", "churn", "--json").stdout)[0]["version"]
    moved = run(project, "models", "alias", "churn", "production", str(new), "--reason", "test")
    assert moved.returncode == 0 and f"-> version {new} (was 1)" in moved.stdout
    back = run(project, "models", "alias", "churn", "production", "1")
    assert back.returncode == 0, back.stderr
    history = json.loads(run(project, "models", "churn", "--history", "--json").stdout)
    production = [
        (m["from_version"], m["to_version"]) for m in history if m["alias"] == "production"
    ]
    assert production == [(None, 1), (1, new), (new, 1)]
    listing = run(project, "models")
    assert "churn" in listing.stdout and "production=1" in listing.stdout
    text = run(project, "models", "churn", "--history")
    assert "test" in text.stdout and "production" in text.stdout
    for args, field in [
        (("models", "alias", "churn", "production", "x"), "version"),
        (("models", "alias", "churn", "production", "99"), "no version 99"),
        (("promote", "churn-study", "--model", "bad/name"), "model"),
        (("promote", "nope", "--model", "churn"), "no study named 'nope'"),
    ]:
        bad = run(project, *args)
        assert bad.returncode != 0 and field in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("output", ["scored.parquet", "scored.csv"])
@pytest.mark.parametrize("source", ["rows.csv", "rows.parquet"])
def test_predict_a_file_in_chunks(project: Path, source: str, output: str) -> None:
    done = run(
        project, "predict", "churn@production", "--input", str(project / source),
        "--output", str(project / output), "--id-column", "id", "--chunk-rows", "5",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "scored 23 rows with churn:1" in done.stdout
    scored = (pd.read_csv if output.endswith(".csv") else pd.read_parquet)(project / output)
    rows = pd.read_csv(project / "rows.csv")
    expected = registry_of(project).load("churn@production").predict_batch(rows)
    assert list(scored.columns) == ["id", "prediction"]
    assert scored["id"].tolist() == list(range(23))
    np.testing.assert_allclose(scored["prediction"], expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("plan", "z", "unknown category 'z'"),
        ("age", "abc", "'age' must be a number, not str 'abc'"),  # the column is read as text
    ],
)
def test_a_bad_row_is_named_by_its_place_in_the_file_and_no_output_is_left(
    project: Path, column: str, value: str, message: str
) -> None:
    rows = pd.read_csv(project / "rows.csv")
    rows[column] = rows[column].astype(object)
    rows.loc[17, column] = value
    rows.to_csv(project / "bad.csv", index=False)
    done = run(project, "predict", "churn", "--input", str(project / "bad.csv"),
               "--output", str(project / "bad.parquet"), "--chunk-rows", "5")  # fmt: skip
    assert done.returncode == 1 and "row 17" in done.stderr and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (project / "bad.parquet").exists()
    missing = run(project, "predict", "churn", "--input", "nope.csv", "--output", "x.parquet")
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_a_trainer_saves_and_retrains_for_promotion(
    tmp_path: Path,
    breast_cancer_csv: Path,  # noqa: F811
) -> None:
    path = trainer_study(tmp_path / "s.yaml", breast_cancer_csv, objective_save_model=True)
    promote = {"model": "cancer", "alias": "production", "retrain": True}
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, "promote": promote}))
    env = {"TUNER_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    db = f"sqlite:///{tmp_path / 't.db'}"
    done = tuner("run", str(path), "--no-progress", db=db, cwd=tmp_path, env=env)
    assert done.returncode == 0 and "registered cancer:1 -> production" in done.stdout, done.stderr
    saved = tuner("promote", "xgb", "--model", "cancer", db=db, cwd=tmp_path, env=env)
    assert saved.returncode == 0 and "registered cancer:2" in saved.stdout, saved.stderr
    registry = ModelRegistry(Storage(db), ArtifactStore(str(tmp_path / "artifacts" / "models")))
    frame = pd.read_csv(breast_cancer_csv).drop(columns=["label"])
    one, two = registry.load("cancer:1"), registry.load("cancer:2")
    assert one.signature.names == list(frame.columns)
    np.testing.assert_allclose(one.predict_batch(frame), two.predict_batch(frame), rtol=1e-6)


def test_the_best_trial_to_promote_is_a_feasible_one(tmp_path: Path) -> None:
    """A study whose every complete trial broke a constraint has no best model to promote: a
    Conflict names the least infeasible trial; choosing a trial by number still works."""
    storage = Storage(f"sqlite:///{tmp_path / 'tuner.db'}")
    storage.create_study(make_spec("c"))
    with storage.locked("c") as locked:
        locked.add_trials(0, [{"x": 0.5, "n": 1, "kind": "a"}] * 2)
    for broken in (0.5, 0.2):
        trial = storage.claim("c", "w", 60)
        assert trial is not None
        values = {"value": 1.0, "constraint.0": broken}
        outcome = TrialOutcome(TrialState.COMPLETE, 1.0, values)
        storage.finish("c", trial.number, trial.attempt, outcome, 1)
    registry = ModelRegistry(storage, ArtifactStore(str(tmp_path / "models")))
    with pytest.raises(Conflict, match="no feasible trial to promote.*trial 1, by 0.2") as err:
        promote(storage, registry, "c", "m")
    assert err.value.field == "trial"
    with pytest.raises(Conflict, match="saved no model"):  # by number: past the check
        promote(storage, registry, "c", "m", trial=0)
    storage.close()
