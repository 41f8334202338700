"""A multi-objective study through the API: remote workers return several metrics and
constraints; the leaderboard is the Pareto front first (each trial with its front) and the
study reports its hypervolume."""

from __future__ import annotations

import uuid

import httpx

from tests.api.server import ServerProcess
from tuner.client import TunerClient
from tuner.testing.objectives import two_metrics


def test_remote_workers_fill_a_pareto_leaderboard(server: ServerProcess) -> None:
    name = f"mo-{uuid.uuid4().hex[:6]}"
    study = {
        "name": name,
        "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)},
        "metrics": [{"name": "f1"}, {"name": "f2", "direction": "minimize"}],
        "trials": 20,
        "seed": 4,
    }
    with TunerClient(server.url, server.token) as client:
        handle = client.create_study(study)
        assert handle.optimize(two_metrics, workers=2) == 20
        board = handle.leaderboard()
    headers = {"Authorization": f"Bearer {server.token}"}
    info = httpx.get(f"{server.url}/api/v1/studies/{name}", headers=headers).json()
    assert info["state"] == "complete" and info["hypervolume"] > 0
    assert len(board) == 20
    fronts = [t["front"] for t in board]
    feasible = [f for f in fronts if f is not None]
    assert feasible == sorted(feasible) and feasible[0] == 0
    assert fronts[len(feasible) :] == [None] * (len(fronts) - len(feasible))
    for t in board:
        assert {"f1", "f2", "constraint.0"} <= set(t["values"])
        assert (t["front"] is None) == (t["values"]["constraint.0"] > 0)
    # a worker whose result lacks a metric fails its attempt, naming it
    missing = client_fail_missing(server, name)
    assert "f2" in missing


def client_fail_missing(server: ServerProcess, name: str) -> str:
    with TunerClient(server.url, server.token) as client:
        handle = client.create_study(
            {
                "name": f"{name}-b",
                "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
                "metrics": ["f1", "f2"],
                "trials": 1,
            }
        )
        try:
            with handle.next_trial() as trial:
                trial.complete({"f1": 1.0})
        except Exception as exc:  # noqa: BLE001 - the server's refusal, read below
            return str(exc)
    return ""
