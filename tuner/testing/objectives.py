"""The objectives the executor conformance suite runs, as ``tuner.testing.objectives:<name>``.

Files named in ``params`` let a test see what happened inside the worker.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from tuner.executor import TrialContext


def quadratic(params: dict[str, Any]) -> float:
    return float((params["x"] - 2.0) ** 2)


def metrics(params: dict[str, Any]) -> dict[str, Any]:
    return {"loss": params["x"] / 10, "accuracy": 0.75, "model": "not a number"}


def with_reports(params: dict[str, Any], trial: TrialContext) -> float:
    for step in range(3):
        trial.report(step, step * params["x"])
    assert not trial.should_prune()
    return float(trial.number * 100 + trial.attempt)


def reports_until_stopped(params: dict[str, Any], trial: TrialContext) -> float:
    """Reports steps 0, 1, 2... until ``trial.should_prune()`` says stop (or ``steps`` ran); the
    value is the number of steps it reported."""
    for step in range(int(params["steps"])):
        trial.report(step, float(step))
        if trial.should_prune():
            return float(step + 1)
        time.sleep(params.get("pause", 0.0))
    return float(params["steps"])


def raises(params: dict[str, Any]) -> float:
    raise ValueError(f"x={params['x']} is not welcome here")


def returns_nan(params: dict[str, Any]) -> float:
    return float("nan")


def exits(params: dict[str, Any]) -> float:
    os._exit(3)


def segfaults(params: dict[str, Any]) -> float:
    ctypes.string_at(0)
    return 0.0


def reports_then_exits(params: dict[str, Any], trial: TrialContext) -> float:
    trial.report(0, 1.5)
    trial.report(1, 0.5)
    os._exit(3)


def spawns_and_sleeps(params: dict[str, Any]) -> float:
    """Leaves a grandchild (``sleep 60``) whose pid goes to ``params["pidfile"]``."""
    child = subprocess.Popen(["sleep", "60"])
    _write(params["pidfile"], str(child.pid))
    time.sleep(params.get("seconds", 60))
    return 0.0


def sleeps(params: dict[str, Any]) -> float:
    """Sleeps ``params["seconds"]`` and writes its start and end times to ``params["log"]``."""
    start = time.time()
    _write(params["log"], f"{start}\n", mode="a")
    if "pidfile" in params:
        _write(params["pidfile"], str(os.getpid()))
    time.sleep(params["seconds"])
    _write(params["log"], f"{time.time()}\n", mode="a")
    return float(params["seconds"])


def env_value(params: dict[str, Any]) -> float:
    return float(os.environ[params["name"]])


def _write(path: str, text: str, mode: str = "w") -> None:
    with Path(path).open(mode) as f:
        f.write(text)


def learning_curve(params: dict[str, Any], trial: TrialContext) -> float:
    """Reports ``x + 1 / (step + 1)`` for ``steps`` steps (else the trial's ``resource``, else
    20; lower is better), returning what it has as soon as ``trial.should_prune()`` says stop;
    ``raise_pruned`` raises ``TrialPruned`` instead, as Optuna users do."""
    from tuner import TrialPruned

    value = float("inf")
    steps = params.get("steps", getattr(trial, "resource", None) or 20)
    for step in range(int(steps)):
        value = params["x"] + 1.0 / (step + 1)
        trial.report(step, value)
        if trial.should_prune():
            if params.get("raise_pruned"):
                raise TrialPruned()
            return value
        time.sleep(float(params.get("pause", 0.01)))
    return value


def two_metrics(params: dict[str, Any]) -> dict[str, Any]:
    """ZDT1 over ``x0..x3`` as ``f1``, ``f2`` (both minimised), with the constraint
    ``x0 - 0.8 <= 0``: trials past it are infeasible."""
    x = [float(params[f"x{i}"]) for i in range(4)]
    g = 1 + 9 * sum(x[1:]) / 3
    return {"f1": x[0], "f2": g * (1 - (x[0] / g) ** 0.5), "constraints": [x[0] - 0.8]}
