"""The ``tuner`` command as a user runs it: real processes, a real SQLite file (and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.specs import spec_dict
from tuner.storage import Storage

TUNER = [sys.executable, "-m", "tuner.cli"]


def tuner(*args: str, db: str, timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TUNER, *args, "--db", db],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TUNER_TEST_SLEEP": "0.3"},
        **kw,
    )


def write_spec(tmp_path: Path, **overrides) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec_dict(**overrides)))
    return path


def test_run_then_list_leaderboard_trials_and_resume(database_url: str, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, name="cli")
    out = tuner("run", str(spec), "--no-progress", db=database_url)
    assert out.returncode == 0, out.stderr
    assert "study cli: 10 trials done" in out.stdout and "rank" in out.stdout

    board = json.loads(tuner("leaderboard", "cli", "--json", "--top", "3", db=database_url).stdout)
    assert len(board) == 3
    for row in board:
        assert {"number", "round", "state", "value", "params", "attempts"} <= set(row)
    values = [r["value"] for r in board]
    assert values == sorted(values)

    listing = tuner("studies", db=database_url).stdout
    assert "cli" in listing and "complete" in listing and "10/10" in listing

    trials = json.loads(tuner("trials", "cli", "--json", db=database_url).stdout)
    assert sorted(t["number"] for t in trials) == list(range(10))
    assert {t["round"] for t in trials} == {1, 2}  # rounds count from 1 wherever users see them
    assert all(t["state"] == "complete" for t in trials)

    again = tuner("run", str(spec), "--no-progress", db=database_url)  # resume: nothing to do
    assert again.returncode == 0
    assert len(json.loads(tuner("trials", "cli", "--json", db=database_url).stdout)) == 10


def test_failing_objective_fails_attempts_with_reasons_and_study_goes_on(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    spec = write_spec(
        tmp_path,
        name="flaky",
        objective={"function": "tests.objectives:flaky"},
        metric="loss",
        retries=1,
        plan=[{"algorithm": "random", "trials": 12}],
    )
    out = tuner("run", str(spec), "--no-progress", db=db)
    assert out.returncode == 0, out.stderr
    trials = json.loads(tuner("trials", "flaky", "--json", db=db).stdout)
    assert len(trials) == 12 and all(t["state"] in ("complete", "failed") for t in trials)
    for t in trials:
        x, n = t["params"]["x"], t["params"]["n"]
        if x < -3:
            assert t["state"] == "failed" and "x too small" in t["error"] and t["attempts"] == 2
        elif x > 3:
            assert t["state"] == "failed" and "nan" in t["error"].lower()
        elif n == 8:
            assert t["state"] == "failed" and "no metric 'loss'" in t["error"]
        else:
            assert t["state"] == "complete"
    assert any(t["state"] == "failed" for t in trials) and any(
        t["state"] == "complete" for t in trials
    )


BAD_SPECS = [
    ({"space": {"x": {"type": "double", "low": 0, "high": 1}}}, "space.x.type"),
    ({"space": {"x": {"type": "float", "low": 1, "high": 1}}}, "space.x.low"),
    ({"space": {"c": {"type": "categorical", "choices": []}}}, "space.c.choices"),
    (
        {"space": {"x": {"type": "float", "low": 0, "high": 1, "when": {"nope": "a"}}}},
        "space.x.when.nope",
    ),
    ({"plan": [{"algorithm": "simulated-annealing", "trials": 3}]}, "plan[0].algorithm"),
    ({"executor": {"type": "kubernetes"}}, "executor.type"),
    ({"objective": {"function": "tests.no_such_module:fn"}}, "objective.function"),
    ({"objective": {"function": "tests.objectives:no_such_fn"}}, "objective.function"),
    ({"plan": [{"algorithm": "random", "trials": -4}]}, "plan[0].trials"),
]


@pytest.mark.parametrize(("override", "field"), BAD_SPECS)
def test_malformed_spec_is_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, override: dict, field: str
) -> None:
    db_file = tmp_path / "t.db"
    spec = write_spec(tmp_path, **override)
    out = tuner("run", str(spec), db=f"sqlite:///{db_file}")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:"), out.stderr
    assert "Traceback" not in out.stderr
    assert not db_file.exists()


def test_unreadable_or_invalid_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    for path in (bad, tmp_path / "missing.yaml"):
        out = tuner("run", str(path), db=f"sqlite:///{tmp_path / 't.db'}")
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert out.stderr.startswith(f"error: {path}:")


def test_unknown_study_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    Storage(f"sqlite:///{tmp_path / 't.db'}").close()
    out = tuner("leaderboard", "ghost", db=f"sqlite:///{tmp_path / 't.db'}")
    assert out.returncode == 1 and out.stderr.strip() == "error: no study named 'ghost'"


@pytest.mark.parametrize(
    "command",
    [["studies"], ["leaderboard", "x"], ["trials", "x"], ["export", "x"], ["token", "list"]],
)
def test_a_command_that_reads_never_makes_a_new_database(tmp_path: Path, command: list) -> None:
    db_file = tmp_path / "typo.db"
    out = tuner(*command, db=f"sqlite:///{db_file}")
    assert out.returncode == 1 and not db_file.exists()
    assert out.stderr.strip().startswith(f"error: no database at {db_file}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (not yet reaped by its parent) is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _wait_for_complete(db_file: Path, at_least: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        try:
            with sqlite3.connect(db_file) as conn:
                n = conn.execute("SELECT count(*) FROM trials WHERE state='complete'").fetchone()
            if n[0] >= at_least:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.1)
    raise AssertionError("no progress")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_with_every_trial_done_exactly_once(
    tmp_path: Path, how: signal.Signals
) -> None:
    db_file = tmp_path / "t.db"
    db = f"sqlite:///{db_file}"
    spec = write_spec(
        tmp_path,
        name="killme",
        objective={"function": "tests.objectives:slow_quadratic"},
        plan=[
            {"algorithm": "random", "trials": 10},
            {"algorithm": "random", "trials": 6, "narrow": 0.5},
        ],
    )
    proc = subprocess.Popen(
        [*TUNER, "run", str(spec), "--no-progress", "--db", db],
        cwd=REPO,
        env={**os.environ, "TUNER_TEST_SLEEP": "0.3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_complete(db_file, 3, proc)
    proc.send_signal(how)
    _, err = proc.communicate(timeout=60)
    if how == signal.SIGINT:
        assert proc.returncode == 130 and "again" in err and "Traceback" not in err
    out = tuner("run", str(spec), "--no-progress", db=db)
    assert out.returncode == 0, out.stderr
    trials = json.loads(tuner("trials", "killme", "--json", db=db).stdout)
    assert sorted(t["number"] for t in trials) == list(range(16))
    assert all(t["state"] == "complete" for t in trials)
    assert [t["round"] for t in trials].count(2) == 6
    interrupted = [t for t in trials if len(t["attempt_log"]) > 1]
    expected = "interrupted" if how == signal.SIGINT else "lost"
    assert all(t["attempt_log"][0]["outcome"] == expected for t in interrupted)


ORPHAN_OBJECTIVES = {
    "function": ({"function": "tests.objectives:slow_quadratic"}, "local"),
    # $$ is the shell, which leads the trial's process group (sleep is in it too)
    "command": ({"command": 'echo > "$TUNER_TEST_PIDS/$$"; sleep 120; echo 1'}, "command"),
}


@pytest.mark.parametrize("kind", sorted(ORPHAN_OBJECTIVES))
def test_no_trial_process_outlives_a_runner_killed_outright(tmp_path: Path, kind: str) -> None:
    objective, executor = ORPHAN_OBJECTIVES[kind]
    spec = write_spec(
        tmp_path,
        name="orphans",
        objective=objective,
        executor={"type": executor, "workers": 2},
    )
    pids = tmp_path / "pids"
    pids.mkdir()
    proc = subprocess.Popen(
        [*TUNER, "run", str(spec), "--no-progress", "--db", f"sqlite:///{tmp_path / 't.db'}"],
        cwd=REPO,
        env={**os.environ, "TUNER_TEST_SLEEP": "120", "TUNER_TEST_PIDS": str(pids)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    started = [int(p.name) for p in pids.iterdir()]
    assert len(started) == 2 and all(_alive(pid) for pid in started)
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if _alive(pid)]
