"""The client as a training script uses it: create a study twice, optimize() in threads and in
processes (and what it says when its workers cannot start), the best trial, a dead server."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.api.server import ServerProcess
from tests.conftest import REPO
from tests.specs import spec_dict
from tuner.client import TrialLost, TunerAPIError, TunerClient


def random_spec(name: str, trials: int) -> dict:
    return spec_dict(name, plan=[{"algorithm": "random", "trials": trials}])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_creating_a_study_twice_is_a_conflict_unless_loaded_if_it_exists(
    server: ServerProcess,
) -> None:
    name = unique("twice")
    with TunerClient(server.url, server.token) as client:
        client.create_study(random_spec(name, 4))
        with pytest.raises(TunerAPIError) as info:
            client.create_study(random_spec(name, 4))
        assert info.value.status == 409 and not isinstance(info.value, TrialLost)
        again = client.create_study(random_spec(name, 4), load_if_exists=True)
        assert again.name == name
        with pytest.raises(TunerAPIError) as info:
            client.create_study(random_spec(name, 2), load_if_exists=True)  # a smaller plan
        assert info.value.status == 409 and info.value.field == "plan"


def test_optimize_in_threads_takes_any_function_and_finds_the_best(server: ServerProcess) -> None:
    name = unique("threads")
    seen: list[int] = []

    def objective(params: dict) -> float:  # nested: threads need no pickling
        seen.append(1)
        return (params["x"] - 1) ** 2

    with TunerClient(server.url, server.token) as client:
        study = client.create_study(random_spec(name, 12))
        with pytest.raises(ValueError, match="no complete trial"):
            study.best_params  # noqa: B018 - the property raises
        assert study.optimize(objective, workers=4) == 12 == len(seen)
        best = study.best_trial
        assert (
            study.best_value
            == best["value"]
            == min(t["value"] for t in study.trials(state="complete"))
        )
        assert study.best_params == best["params"]
        assert study.optimize(lambda p: 0.0, workers=2) == 0  # complete: nothing more


def test_the_best_trial_is_feasible(server: ServerProcess) -> None:
    """With constraints the best trial is the best feasible one, as Optuna's; while every
    complete trial broke one there is none (ValueError saying so)."""
    name = unique("feasible")
    with TunerClient(server.url, server.token) as client:
        study = client.create_study(random_spec(name, 6))
        broken = iter([True, True, False, True, False, True])

        def objective(params: dict) -> dict:
            value = (params["x"] - 1) ** 2
            return {"value": value, "constraints": [1.0 if next(broken) else -1.0]}

        assert study.optimize(objective, n_trials=2) == 2  # both broke the constraint
        with pytest.raises(ValueError, match="no feasible trial"):
            study.best_value  # noqa: B018 - the property raises
        assert study.optimize(objective) == 4
        feasible = [
            t["value"] for t in study.trials(state="complete") if t["values"]["constraint.0"] < 0
        ]
        assert study.best_value == min(feasible) and study.best_trial["front"] == 0


def test_optimize_in_processes_says_why_its_workers_cannot_start(server: ServerProcess) -> None:
    with TunerClient(server.url, server.token) as client:
        study = client.create_study(random_spec(unique("procs"), 4))
        with pytest.raises(TypeError, match="define it at module level"):
            study.optimize(lambda p: 1.0, workers=2, processes=True)


def test_an_unguarded_script_with_worker_processes_fails_with_the_reason(
    server: ServerProcess,
    tmp_path: Path,
) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(f"""
        from tuner.client import TunerClient

        def objective(params):
            return params["x"] ** 2

        study = TunerClient({server.url!r}, {server.token!r}).create_study(
            {random_spec(unique("unguarded"), 6)!r})
        study.optimize(objective, workers=2, processes=True)
    """)
    )
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0
    assert "WorkersFailed" in out.stderr and "__main__" in out.stderr, out.stderr


def test_an_unreachable_server_is_retried_then_named(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    caplog.set_level(logging.WARNING, logger="tuner.client")
    with TunerClient(dead, "tnr_x", retry_for=1.0) as client:
        with pytest.raises(TunerAPIError) as info:
            client.study("anything")
    assert info.value.code == "unreachable" and dead in str(info.value)
    retries = [r for r in caplog.records if "cannot reach" in r.getMessage()]
    assert len(retries) == 1  # said once, not once per retry


def test_the_client_installs_and_works_alone_with_httpx(
    server: ServerProcess, tmp_path: Path
) -> None:
    """``pip install ./client`` in a fresh virtualenv that has nothing else, then a worker with
    ``python -m tuner.client worker`` against the server."""
    venv = tmp_path / "venv"
    uv = Path(sys.executable).with_name("uv")
    source = tmp_path / "client"  # a copy: building leaves build/ and egg-info beside the code
    shutil.copytree(REPO / "client", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([str(uv), "venv", "-q", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(uv), "pip", "install", "-q", "--python", str(python), str(source)],
        check=True,
        timeout=300,
    )
    listed = subprocess.run(
        [str(uv), "pip", "list", "--python", str(python)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    packages = {line.split()[0].lower() for line in listed.splitlines()[2:]}
    assert "tuner-client" in packages and "tuner" not in packages
    assert not packages & {"fastapi", "sqlalchemy", "numpy", "pyyaml", "scikit-optimize"}
    (tmp_path / "objectives.py").write_text("def f(params):\n    return params['x'] ** 2\n")
    (tmp_path / "client.py").write_text("raise SystemExit('a user module named client')\n")
    name = unique("alone")
    with TunerClient(server.url, server.token) as client:
        client.create_study(random_spec(name, 5))
        out = subprocess.run(
            [
                str(python),
                "-m",
                "tuner.client",
                "worker",
                name,
                "--objective",
                "objectives:f",
                "--url",
                server.url,
                "--token",
                server.token,
                "--workers",
                "2",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        assert out.returncode == 0, out.stderr
        assert "worker: 5 trials" in out.stdout
        assert client.study(name).info()["state"] == "complete"
