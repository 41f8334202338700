"""Suggest latency versus history size: ours (a fresh instance, cold cache, as the scheduler
makes one per top-up) beside Optuna's samplers (one ``ask`` on a study holding the history)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from tuner import plugins
from tuner.space import SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

SPACE = {f"x{i}": {"type": "float", "low": -5.0, "high": 5.0} for i in range(5)}


def _history(size: int) -> list[tuple[dict[str, float], float]]:
    rng = np.random.default_rng(size)
    points = [
        {k: float(v) for k, v in zip(SPACE, rng.uniform(-5, 5, 5), strict=True)}
        for _ in range(size)
    ]
    return [(p, sum(v * v for v in p.values())) for p in points]


def ours(name: str, size: int) -> float:
    from tuner.algorithms import bayesian

    space = SearchSpace.from_dict(SPACE)
    history = [
        Trial("lat", i, 0, p, TrialState.COMPLETE, 1, v, {"v": v})
        for i, (p, v) in enumerate(_history(size))
    ]
    bayesian._cache.clear()  # measure the cold path: a new history after every finished trial
    algo = plugins.algorithm(name).create(space, Direction.MINIMIZE, 0, size + 10, {})
    start = time.perf_counter()
    algo.suggest(history, 1)
    return time.perf_counter() - start


def optuna_ask(sampler: str, size: int) -> float:
    import optuna as op

    op.logging.set_verbosity(op.logging.WARNING)
    make = {
        "optuna-tpe": op.samplers.TPESampler,
        "optuna-cmaes": op.samplers.CmaEsSampler,
        "optuna-gp": op.samplers.GPSampler,
    }[sampler]
    study = op.create_study(sampler=make(seed=0))
    dist = {k: op.distributions.FloatDistribution(-5.0, 5.0) for k in SPACE}
    study.add_trials(
        [op.trial.create_trial(params=p, distributions=dist, value=v) for p, v in _history(size)]
    )
    start = time.perf_counter()
    trial = study.ask()
    for k in SPACE:
        trial.suggest_float(k, -5.0, 5.0)
    return time.perf_counter() - start


def latency_table(
    algorithms: Sequence[str], sizes: Sequence[int], repeats: int = 3
) -> dict[str, dict[int, float]]:
    """Median seconds of one suggestion, per contender and history size (5-D, floats)."""
    ours(algorithms[0], 10) if algorithms else None  # imports out of the measurement
    out: dict[str, dict[int, float]] = {}
    for name in [*algorithms, "optuna-tpe", "optuna-cmaes", "optuna-gp"]:
        out[name] = {}
        for size in sizes:
            measure = optuna_ask if name.startswith("optuna") else ours
            out[name][size] = float(np.median([measure(name, size) for _ in range(repeats)]))
            print(f"latency {name:14s} {size:5d}: {out[name][size] * 1000:.1f} ms", flush=True)
    return out
