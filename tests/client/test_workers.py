"""Remote workers through the Python client against a real server (SQLite and PostgreSQL):
exactly-once under concurrency, killed workers, a killed and restarted server."""

from __future__ import annotations

import json
import math
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.api.server import ServerProcess
from tests.specs import spec_dict
from tuner.client import StudyComplete, TrialLost, TunerAPIError, TunerClient


def random_spec(name: str, trials: int, **overrides) -> dict:
    return spec_dict(name, plan=[{"algorithm": "random", "trials": trials}], **overrides)


def all_trials(client: TunerClient, name: str) -> list[dict]:
    return list(client.study(name).trials())


def assert_exactly_once(trials: list[dict], planned: int) -> None:
    assert sorted(t["number"] for t in trials) == list(range(planned))
    assert all(t["state"] == "complete" for t in trials), [t["state"] for t in trials]


def test_several_worker_processes_finish_a_study_each_trial_once(
    server: ServerProcess, tmp_path: Path
) -> None:
    name = f"many-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(random_spec(name, 24)))
    with TunerClient(server.url, server.token) as client:
        study = client.create_study(path)
        workers = [
            server.worker(name, "tests.objectives:slow_quadratic", env={"TUNER_TEST_SLEEP": "0.05"})
            for _ in range(3)
        ]
        outputs = [w.communicate(timeout=180) for w in workers]
        assert all(w.returncode == 0 for w in workers), outputs
        ran = [int(out.split("worker: ")[1].split()[0]) for out, _ in outputs]
        assert sum(ran) == 24 and sum(1 for r in ran if r) >= 2
        trials = all_trials(client, name)
        assert_exactly_once(trials, 24)
        assert all(t["attempt"] == 1 for t in trials)
        assert study.info()["state"] == "complete"
        with pytest.raises(StudyComplete):
            study.next_trial()


def test_by_hand_reports_and_failures_and_optimize(server: ServerProcess) -> None:
    name = f"hand-{uuid.uuid4().hex[:6]}"
    with TunerClient(server.url, server.token) as client:
        study = client.create_study(random_spec(name, 6, retries=1))
        with study.next_trial() as trial:
            for epoch in range(3):
                trial.report(epoch, 1.0 / (epoch + 1))
            trial.report(3, math.nan)  # skipped, not an error
            trial.complete(0.25)
        first = client.http.request("GET", f"/api/v1/studies/{name}/trials/{trial.number}")
        assert first["value"] == 0.25 and [s for s, _ in first["intermediate"]] == [0, 1, 2]
        with pytest.raises(ZeroDivisionError), study.next_trial() as trial:
            raise ZeroDivisionError("division by zero")
        failed = client.http.request("GET", f"/api/v1/studies/{name}/trials/{trial.number}")
        assert failed["state"] == "waiting" and "ZeroDivisionError" in failed["error"]
        with study.next_trial() as trial:  # a NaN result fails the attempt, with the reason
            trial.complete(math.nan)
        nan = client.http.request("GET", f"/api/v1/studies/{name}/trials/{trial.number}")
        assert "non-finite" in nan["error"]
        ran = study.optimize(_objective, workers=2)
        assert ran >= 3
        trials = all_trials(client, name)
        assert len(trials) == 6 and all(t["state"] in ("complete", "failed") for t in trials)


def _objective(params: dict, trial) -> float:
    trial.report(0, params["x"])
    return (params["x"] - 1) ** 2


def test_errors_from_the_server_name_the_field(server: ServerProcess) -> None:
    with TunerClient(server.url, server.token) as client:
        with pytest.raises(TunerAPIError) as info:
            client.create_study(
                {
                    "name": "bad",
                    "space": {"x": {"type": "float", "low": 1, "high": 0}},
                    "trials": 1,
                    "objective": "m:f",
                }
            )
        assert info.value.status == 422 and info.value.field == "space.x.low"
        with pytest.raises(TunerAPIError) as info:
            client.study("ghost")
        assert info.value.status == 404


def test_a_killed_worker_s_trial_runs_again_after_its_lease(server: ServerProcess) -> None:
    name = f"killw-{uuid.uuid4().hex[:6]}"
    with TunerClient(server.url, server.token) as client:
        client.create_study(random_spec(name, 4))
        slow = server.worker(
            name, "tests.objectives:slow_quadratic", env={"TUNER_TEST_SLEEP": "60"}
        )
        deadline = time.monotonic() + 60
        while not [t for t in all_trials(client, name) if t["state"] == "running"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        (victim,) = [t for t in all_trials(client, name) if t["state"] == "running"]
        slow.kill()
        slow.wait(timeout=30)
        fast = server.worker(name, "tests.objectives:slow_quadratic", env={"TUNER_TEST_SLEEP": "0"})
        out, err = fast.communicate(timeout=120)
        assert fast.returncode == 0, err
        trials = all_trials(client, name)
        assert_exactly_once(trials, 4)
        again = next(t for t in trials if t["number"] == victim["number"])
        assert again["attempt"] == 2
        # the killed attempt's late result is refused, never double-counted
        with pytest.raises(TrialLost):
            client.http.request(
                "POST",
                f"/api/v1/studies/{name}/trials/{victim['number']}/complete",
                json={"attempt": 1, "value": 123.0},
                conflict=TrialLost,
            )
        assert (
            next(t for t in all_trials(client, name) if t["number"] == victim["number"])["value"]
            != 123.0
        )


def test_server_killed_and_restarted_mid_study_loses_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    # a server of its own, on the same kind of database as the module's one
    own = ServerProcess(server.db, server.config_dir, lease=2.0).start()
    name = f"restart-{uuid.uuid4().hex[:6]}"
    try:
        with TunerClient(own.url, own.token) as client:
            client.create_study(random_spec(name, 30))
            workers = [
                own.worker(name, "tests.objectives:slow_quadratic", env={"TUNER_TEST_SLEEP": "0.1"})
                for _ in range(2)
            ]
            deadline = time.monotonic() + 60
            while len([t for t in all_trials(client, name) if t["state"] == "complete"]) < 6:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            own.kill()
            time.sleep(1.5)
            own.start()
            outputs = [w.communicate(timeout=180) for w in workers]
            assert all(w.returncode == 0 for w in workers), outputs
            trials = all_trials(client, name)
            assert_exactly_once(trials, 30)
    finally:
        own.stop()
    (tmp_path / "trials.json").write_text(json.dumps(trials))
