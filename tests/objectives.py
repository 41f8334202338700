"""Objectives used by the tests that run whole studies (imported by worker processes)."""

from __future__ import annotations

import os
import time
from typing import Any


def quadratic(params: dict[str, Any]) -> float:
    """Minimum 0 at x = 1, n = 3, kind = a."""
    value = (params["x"] - 1.0) ** 2 + (params["n"] - 3) ** 2
    return value + (0.0 if params["kind"] == "a" else 1.0 + params.get("extra", 0.0))


def slow_quadratic(params: dict[str, Any]) -> float:
    """``quadratic`` after a sleep; writes its pid into ``$TUNER_TEST_PIDS`` when set."""
    pids = os.environ.get("TUNER_TEST_PIDS")
    if pids:
        with open(os.path.join(pids, str(os.getpid())), "w"):
            pass
    time.sleep(float(os.environ.get("TUNER_TEST_SLEEP", "0.3")))
    return quadratic(params)


def flaky(params: dict[str, Any]) -> dict[str, float]:
    """Fails in interesting ways depending on x, so that retries and reasons can be checked."""
    if params["x"] < -3:
        raise ValueError("x too small for this model")
    if params["x"] > 3:
        return {"loss": float("nan")}
    if params["n"] == 8:
        return {"other": 1.0}
    return {"loss": quadratic(params)}


def sleepy_quadratic(params: dict[str, Any]) -> float:
    """``quadratic`` after 0.3 s, whatever the environment says."""
    time.sleep(0.3)
    return quadratic(params)


def saves_model(params: dict[str, Any], trial: Any) -> float:
    """Saves a "model" (its params) in the trial's artifact folder, as a trainer would."""
    import json

    os.makedirs(trial.artifact_dir, exist_ok=True)
    with open(os.path.join(trial.artifact_dir, "model.json"), "w") as fh:
        json.dump(params, fh)
    return quadratic(params)


def saves_bundle(params: dict[str, Any], trial: Any) -> float:
    """Fits y = x * a + n * b and saves it as a model bundle through ``trial.save_model``."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    X = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 1.0], [3.0, 5.0]])
    model = LinearRegression().fit(X, X @ [params["x"], float(params["n"])])
    trial.save_model(model, example=X)
    return quadratic(params)


def slow_two_metrics(params: dict[str, Any]) -> dict[str, Any]:
    """``tuner.testing.objectives.two_metrics`` (ZDT1, a constraint) after a sleep of
    ``$TUNER_TEST_SLEEP`` seconds."""
    from tuner.testing.objectives import two_metrics

    time.sleep(float(os.environ.get("TUNER_TEST_SLEEP", "0.3")))
    return two_metrics(params)
