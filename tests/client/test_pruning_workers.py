"""Pruning for remote workers: ``trial.report`` reaches the server while the trial runs and its
answer is ``trial.should_prune()``; an objective told to stop returns (or raises
``TrialPruned``) and its trial ends ``pruned`` with its last step and value; none is lost."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.api.server import ServerProcess
from tuner.client import TrialPruned, TunerClient
from tuner.client.trial import Trial

STEPS = 10
TRIALS = 12


def study(name: str, pruner: Any = None) -> dict[str, Any]:
    return {
        "name": name,
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "plan": [{"algorithm": "random", "trials": TRIALS}],
        "pruner": pruner or {"type": "median", "n_startup_trials": 2},
        "seed": 5,
    }


def curve(raise_pruned: bool):  # noqa: ANN201 - a test objective
    def objective(params: dict[str, Any], trial: Trial) -> float | None:
        value = 0.0
        for step in range(trial.resource or STEPS):
            value = params["x"] + 1.0 / (step + 1)
            trial.report(step, value)
            if trial.should_prune():
                if raise_pruned:
                    raise TrialPruned()
                return None
            time.sleep(0.01)
        return value

    return objective


@pytest.mark.parametrize("raise_pruned", [False, True], ids=["returns", "raises"])
def test_remote_workers_prune_through_the_client(server: ServerProcess, raise_pruned: bool) -> None:
    name = f"prune-{uuid.uuid4().hex[:6]}"
    with TunerClient(server.url, server.token) as client:
        handle = client.create_study(study(name))
        assert handle.optimize(curve(raise_pruned), workers=2) == TRIALS
        trials = list(handle.trials())
    assert sorted(t["number"] for t in trials) == list(range(TRIALS))
    assert {t["state"] for t in trials} <= {"complete", "pruned"}
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned
    for t in pruned:
        # the objective stopped at once: the report told it, and it reported nothing after
        assert t["intermediate"][-1][0] == t["meta"]["prune"]["step"]
        assert t["value"] == t["intermediate"][-1][1]
    for t in trials:
        if t["state"] == "complete":
            assert len(t["intermediate"]) == STEPS


@pytest.mark.parametrize(
    "pruner",
    [
        {"type": "percentile", "percentile": 40, "n_startup_trials": 2},
        {"type": "asha", "min_resource": 1, "reduction_factor": 2},
        {"type": "hyperband", "min_resource": 1, "max_resource": STEPS, "reduction_factor": 2},
    ],
    ids=lambda p: p["type"],
)
def test_each_pruner_prunes_remote_workers(server: ServerProcess, pruner: Any) -> None:
    name = f"prune-{uuid.uuid4().hex[:6]}"
    with TunerClient(server.url, server.token) as client:
        handle = client.create_study(study(name, pruner))
        assert handle.optimize(curve(False), workers=2) == TRIALS
        trials = list(handle.trials())
    assert sorted(t["number"] for t in trials) == list(range(TRIALS))
    assert {t["state"] for t in trials} <= {"complete", "pruned"}
    assert any(t["state"] == "pruned" for t in trials)


def test_a_remote_worker_reads_its_rounds_resource(server: ServerProcess) -> None:
    """``trial.resource`` is the round's ``resource.max``: the objective spends that much."""
    name = f"prune-{uuid.uuid4().hex[:6]}"
    plan = [
        {"algorithm": "random", "trials": 6, "resource": {"min": 1, "max": 3}},
        {"algorithm": "random", "trials": 2, "resource": {"max": 7}},
    ]
    with TunerClient(server.url, server.token) as client:
        handle = client.create_study({**study(name), "plan": plan, "pruner": "none"})
        assert handle.optimize(curve(False), workers=2) == 8
        trials = list(handle.trials())
    assert sorted(len(t["intermediate"]) for t in trials) == [3] * 6 + [7] * 2
    assert all(t["meta"]["resource"]["max"] == len(t["intermediate"]) for t in trials)


def test_a_block_raising_trial_pruned_ends_the_trial_pruned(server: ServerProcess) -> None:
    name = f"prune-{uuid.uuid4().hex[:6]}"
    with TunerClient(server.url, server.token) as client:
        handle = client.create_study({**study(name), "pruner": "none"})
        with handle.next_trial() as trial:
            trial.report(0, 0.5)
            assert trial.should_prune() is False
            raise TrialPruned()  # the objective's own decision (as Optuna users write it)
        got = next(t for t in handle.trials() if t["number"] == trial.number)
    assert got["state"] == "pruned" and got["value"] == 0.5 and got["intermediate"] == [[0, 0.5]]
