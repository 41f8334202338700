"""What a new user does with the ``tuner`` command: grow a budget, stop and go on, mistype a
database or a flag, run a study file from another folder, pipe the output, delete, export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.specs import spec_dict

TUNER = [sys.executable, "-m", "tuner.cli"]


def tuner(
    *args: str,
    db: str | None = None,
    cwd: Path = REPO,
    env: dict | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TUNER, *args, *(["--db", db] if db else [])],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TUNER_TEST_SLEEP": "0", **(env or {})},
    )


def study_file(path: Path, **overrides) -> Path:
    data = spec_dict(**overrides)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def summary(db: str, name: str) -> dict:
    listing = json.loads(tuner("studies", "--json", db=db).stdout)
    return next(s for s in listing if s["name"] == name)


def test_a_larger_budget_runs_the_extra_trials(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    spec = study_file(
        tmp_path / "s.yaml",
        name="grow",
        plan=None,
        trials=12,
        executor={"type": "local", "workers": 2},
    )
    assert tuner("run", str(spec), "--no-progress", db=db).returncode == 0
    assert (summary(db, "grow")["done"], summary(db, "grow")["planned"]) == (12, 12)
    study_file(spec, name="grow", plan=None, trials=15, executor={"type": "local", "workers": 2})
    out = tuner("run", str(spec), "--no-progress", db=db)
    assert out.returncode == 0 and "15 trials done" in out.stdout, out.stdout + out.stderr
    assert (summary(db, "grow")["done"], summary(db, "grow")["planned"]) == (15, 15)
    study_file(spec, name="grow", plan=None, trials=10)
    smaller = tuner("run", str(spec), "--no-progress", db=db)
    assert smaller.returncode == 2 and smaller.stderr.startswith("error: trials:")
    assert "smaller" in smaller.stderr


def test_a_longer_last_round_runs_its_extra_trials(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    plan = [{"algorithm": "random", "trials": 6}, {"algorithm": "random", "trials": 3}]
    spec = study_file(tmp_path / "s.yaml", name="longer", plan=plan)
    assert tuner("run", str(spec), "--no-progress", db=db).returncode == 0
    plan[1]["trials"] = 5
    study_file(spec, name="longer", plan=plan)
    out = tuner("run", str(spec), "--no-progress", db=db)
    assert out.returncode == 0 and "11 trials done" in out.stdout, out.stdout + out.stderr
    rounds = [t["round"] for t in json.loads(tuner("trials", "longer", "--json", db=db).stdout)]
    assert rounds.count(2) == 5


def test_a_study_whose_every_trial_failed_exits_1(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(params):\n    raise ValueError('no data')\n")
    spec = study_file(
        tmp_path / "s.yaml",
        name="allfail",
        objective={"function": "broken:f"},
        plan=[{"algorithm": "random", "trials": 3}],
    )
    out = tuner("run", str(spec), "--no-progress", db=f"sqlite:///{tmp_path / 't.db'}")
    assert out.returncode == 1 and "no trial of allfail completed" in out.stderr


def test_a_study_file_runs_from_anywhere_with_its_code_and_data_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "qs"
    folder.mkdir()
    (folder / "train.py").write_text(
        "import pathlib\n"
        "def objective(params):\n"
        "    offset = float(pathlib.Path('offset.txt').read_text())\n"
        "    return (params['x'] - 2) ** 2 + params['depth'] + offset\n"
    )
    (folder / "offset.txt").write_text("0.5")
    (folder / "study.yaml").write_text(
        textwrap_yaml("""
        name: first
        objective: {function: "train:objective"}
        space:
          x:     {type: float, low: -10, high: 10}
          depth: {type: int, low: 1, high: 6}
          lr:    {type: float, low: 1e-4, high: 1e-1, log: true}
        trials: 8
    """)
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tuner("run", "../qs/study.yaml", "--no-progress", "--db", "sqlite:///t.db", cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    assert "8 trials done" in out.stdout and "failed" not in out.stdout


def textwrap_yaml(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).lstrip()


def test_a_command_objective_needs_no_executor(tmp_path: Path) -> None:
    spec = study_file(
        tmp_path / "s.yaml",
        name="cmd",
        executor=None,
        objective={"command": "python3 -c 'print({x} ** 2)'"},
        plan=[{"algorithm": "random", "trials": 2}],
    )
    data = yaml.safe_load(spec.read_text())
    del data["executor"]
    spec.write_text(yaml.safe_dump(data))
    out = tuner("run", str(spec), "--no-progress", db=f"sqlite:///{tmp_path / 't.db'}")
    assert out.returncode == 0 and "2 trials done" in out.stdout, out.stderr


def test_stop_from_another_terminal_then_go_on(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    spec = study_file(
        tmp_path / "s.yaml",
        name="halt",
        objective={"function": "tests.objectives:slow_quadratic"},
        plan=[{"algorithm": "random", "trials": 30}],
        executor={"type": "local", "workers": 1},
    )
    proc = subprocess.Popen(
        [*TUNER, "run", str(spec), "--no-progress", "--db", db],
        cwd=REPO,
        env={**os.environ, "TUNER_TEST_SLEEP": "1.0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while summary(db, "halt")["done"] < 1 if (tmp_path / "t.db").exists() else True:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    stop = tuner("stop", "halt", db=db)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    stopped = summary(db, "halt")
    assert stopped["state"] == "stopped" and stopped["running"] == 0 and stopped["done"] < 30
    out = tuner("run", str(spec), "--no-progress", db=db, env={"TUNER_TEST_SLEEP": "0"})
    assert out.returncode == 0 and summary(db, "halt")["state"] == "complete"


def test_mistakes_with_flags_and_databases_are_one_line(tmp_path: Path) -> None:
    for args, db, words in (
        (["leaderboard", "x", "--top", "0"], None, "must be a positive integer"),
        (["studies"], "mysql://u@h/db", "SQLite or PostgreSQL"),
        (["studies"], f"sqlite:///{tmp_path / 'typo.db'}", "no database at"),
    ):
        out = tuner(*args, db=db)
        assert out.returncode in (1, 2) and words in out.stderr and "Traceback" not in out.stderr
    bad_env = tuner("studies", env={"TUNER_LEASE_SECONDS": "abc"})
    assert bad_env.returncode == 2
    assert (
        bad_env.stderr.strip() == "error: TUNER_LEASE_SECONDS: must be a positive number, not 'abc'"
    )
    assert not (tmp_path / "typo.db").exists()


def test_piped_output_delete_and_export(tmp_path: Path) -> None:
    db_file = tmp_path / "t.db"
    db = f"sqlite:///{db_file}"
    spec = study_file(
        tmp_path / "s.yaml", name="pipe", plan=[{"algorithm": "random", "trials": 30}]
    )
    head = subprocess.run(
        f"{sys.executable} -m tuner.cli run {spec} --no-progress --db {db} --top 30 | head -1",
        shell=True,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in head.stderr and "BrokenPipe" not in head.stderr
    exported = tuner("export", "pipe", "-o", str(tmp_path / "pipe.jsonl"), db=db)
    assert exported.returncode == 0
    lines = [json.loads(x) for x in (tmp_path / "pipe.jsonl").read_text().splitlines()]
    assert lines[0]["kind"] == "study" and lines[0]["spec"]["name"] == "pipe"
    assert len(lines) == 31 and {x["kind"] for x in lines[1:]} == {"trial"}
    refused = tuner("delete", "pipe", db=db)  # no terminal to ask on
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert tuner("delete", "pipe", "--yes", db=db).returncode == 0
    assert json.loads(tuner("studies", "--json", db=db).stdout) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".lock")] == []


@pytest.fixture(scope="module")
def breast_cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "label"})
    path = tmp_path_factory.mktemp("data") / "train.csv"
    frame.to_csv(path, index=False)
    return path


def trainer_study(path: Path, data: Path, **changes: Any) -> Path:
    study: dict[str, Any] = {
        "name": "xgb",
        "objective": {"trainer": "xgboost", "data": str(data), "label": "label", "cv": 3},
        "space": {
            "max_depth": {"type": "int", "low": 2, "high": 4},
            "num_boost_round": {"type": "int", "low": 5, "high": 10},
        },
        "trials": 2,
    }
    for key, value in changes.items():
        if key.startswith("objective_"):
            study["objective"][key.removeprefix("objective_")] = value
        else:
            study[key] = value
    path.write_text(yaml.safe_dump(study))
    return path


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"direction": "minimize"}, "direction"),
        ({"objective_label": "lable"}, "objective.label"),
        ({"space": {"max_dept": {"type": "int", "low": 2, "high": 4}}}, "space.max_dept"),
        ({"objective_metric": "roc_auc"}, "objective.metric"),
        ({"metric": "accuracy"}, "metric"),
    ],
)
def test_a_trainer_study_that_can_only_fail_is_refused_before_it_starts(
    tmp_path: Path,
    breast_cancer_csv: Path,
    changes: dict,
    field: str,
) -> None:
    spec = trainer_study(tmp_path / "s.yaml", breast_cancer_csv, **changes)
    out = tuner("run", str(spec), "--no-progress", db=f"sqlite:///{tmp_path / 't.db'}")
    assert out.returncode == 2 and out.stderr.startswith(f"error: {field}:"), out.stderr
    assert not (tmp_path / "t.db").exists()


def test_a_trainer_study_needs_no_metric_nor_direction(
    tmp_path: Path, breast_cancer_csv: Path
) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    spec = trainer_study(tmp_path / "s.yaml", breast_cancer_csv)
    out = tuner("run", str(spec), "--no-progress", db=db)
    assert out.returncode == 0, out.stderr
    listed = summary(db, "xgb")
    assert listed["direction"] == "maximize" and listed["best_value"] > 0.9  # AUC, maximised
