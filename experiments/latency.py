"""Suggest latency versus history size: ours (a fresh instance, cold cache, as the scheduler
makes one per top-up) beside Optuna's samplers (one ``ask`` on a study holding the history).

Run on its own it prints and saves the suggest-time table of issue 16 (5-D and 10-D, 100 and
1,000 trials, ours against Optuna's GPSampler), measured side by side in one run:

    OMP_NUM_THREADS=1 python -m experiments.latency --dims 5,10 --sizes 100,1000

in two ways: ``cold``, one suggestion on a history of that size by a contender that has seen
nothing before (our fitted-model cache emptied, a new Optuna sampler), and ``study``, the mean
of the ``--steps`` suggestions of a running study from that size on (each suggested point
evaluated on the same sphere and added to the history; our scheduler's fresh instance per
suggestion with the process's cache, Optuna's one sampler with its own cache of kernel
parameters), the cost a study of that length pays per trial.

Each contender is timed in turn at each size, ``--repeats`` times, interleaved, and the median
kept; ``--clock cpu`` counts the process's CPU time instead of the wall clock (on a loaded
machine the wall clock of a 10 ms call mostly measures the other processes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tuner import plugins
from tuner.space import SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

DIMS = 5
Clock = Callable[[], float]


def space_of(dims: int) -> dict[str, dict[str, object]]:
    return {f"x{i}": {"type": "float", "low": -5.0, "high": 5.0} for i in range(dims)}


SPACE = space_of(DIMS)


def _sphere(params: dict[str, float]) -> float:
    return sum(float(v) ** 2 for v in params.values())


def _history(size: int, dims: int = DIMS) -> list[tuple[dict[str, float], float]]:
    rng = np.random.default_rng(size)
    names = list(space_of(dims))
    points = [
        {k: float(v) for k, v in zip(names, rng.uniform(-5, 5, dims), strict=True)}
        for _ in range(size)
    ]
    return [(p, _sphere(p)) for p in points]


def _our_history(size: int, dims: int) -> tuple[SearchSpace, list[Trial]]:
    """The space and the history of ``size`` trials, the fitted-model cache emptied (the cold
    path: a new history after every finished trial)."""
    from tuner.algorithms import bayesian

    history = [
        Trial("lat", i, 0, p, TrialState.COMPLETE, 1, v, {"v": v})
        for i, (p, v) in enumerate(_history(size, dims))
    ]
    bayesian._cache.clear()
    return SearchSpace.from_dict(space_of(dims)), history


def _fresh(name: str, space: SearchSpace, budget: int) -> Any:
    """A new instance, as the scheduler makes one for every top-up."""
    return plugins.algorithm(name).create(space, Direction.MINIMIZE, 0, budget, {})


def ours(name: str, size: int, dims: int = DIMS, clock: Clock = time.perf_counter) -> float:
    space, history = _our_history(size, dims)
    algo = _fresh(name, space, size + 10)
    start = clock()
    algo.suggest(history, 1)
    return clock() - start


def ours_study(
    name: str, size: int, dims: int = DIMS, clock: Clock = time.perf_counter, steps: int = 10
) -> float:
    """Mean seconds of the ``steps`` suggestions of a running study from ``size`` trials on:
    a fresh instance for each, the process's cache of fitted models kept between them."""
    from tuner.algorithm import as_suggestion

    space, history = _our_history(size, dims)
    spent = 0.0
    for _ in range(steps):
        algo = _fresh(name, space, size + steps)
        start = clock()
        got = algo.suggest(history, 1)
        spent += clock() - start
        params = dict(as_suggestion(got[0]).params)
        v = _sphere(params)
        history.append(Trial("lat", len(history), 0, params, TrialState.COMPLETE, 1, v, {"v": v}))
    return spent / steps


def _optuna_start(sampler: str, size: int, dims: int) -> tuple[Any, list[str]]:
    """A study of Optuna's ``sampler`` holding the history of ``size`` trials."""
    import optuna as op

    op.logging.set_verbosity(op.logging.ERROR)
    make = {
        "optuna-tpe": op.samplers.TPESampler,
        "optuna-cmaes": op.samplers.CmaEsSampler,
        "optuna-gp": op.samplers.GPSampler,
    }[sampler]
    study = op.create_study(sampler=make(seed=0))
    names = list(space_of(dims))
    dist: dict[str, Any] = {k: op.distributions.FloatDistribution(-5.0, 5.0) for k in names}
    study.add_trials(
        [
            op.trial.create_trial(params=p, distributions=dist, value=v)
            for p, v in _history(size, dims)
        ]
    )
    return study, names


def optuna_ask(
    sampler: str, size: int, dims: int = DIMS, clock: Clock = time.perf_counter
) -> float:
    study, names = _optuna_start(sampler, size, dims)
    start = clock()
    trial = study.ask()
    for k in names:
        trial.suggest_float(k, -5.0, 5.0)
    return clock() - start


def optuna_study(
    sampler: str, size: int, dims: int = DIMS, clock: Clock = time.perf_counter, steps: int = 10
) -> float:
    """As ``ours_study``, one sampler object asked and told ``steps`` times."""
    study, names = _optuna_start(sampler, size, dims)
    spent = 0.0
    for _ in range(steps):
        start = clock()
        trial = study.ask()
        params = {k: trial.suggest_float(k, -5.0, 5.0) for k in names}
        spent += clock() - start
        study.tell(trial, _sphere(params))
    return spent / steps


def latency_table(
    algorithms: Sequence[str],
    sizes: Sequence[int],
    repeats: int = 3,
    dims: int = DIMS,
    peers: Sequence[str] = ("optuna-tpe", "optuna-cmaes", "optuna-gp"),
    clock: Clock = time.perf_counter,
    mode: str = "cold",
) -> dict[str, dict[int, float]]:
    """Median seconds of one suggestion, per contender and history size (floats in ``dims``
    dimensions); at each size the contenders take turns, ``repeats`` rounds. ``mode``: ``cold``
    (one suggestion by a contender that has seen nothing) or ``study`` (the mean over ten
    suggestions of a running study)."""
    names = [*algorithms, *peers]
    measures = {"cold": (optuna_ask, ours), "study": (optuna_study, ours_study)}[mode]

    def measure(name: str, size: int) -> float:
        return measures[0 if name.startswith("optuna") else 1](name, size, dims, clock)

    for name in names:  # imports and first-call set-up out of the measurement
        measure(name, 10)
    times: dict[str, dict[int, list[float]]] = {name: {} for name in names}
    for size in sizes:
        for _ in range(repeats):
            for name in names:
                times[name].setdefault(size, []).append(measure(name, size))
    out = {name: {s: float(np.median(v)) for s, v in by.items()} for name, by in times.items()}
    for name, by in out.items():
        for size, seconds in by.items():
            print(
                f"latency {mode} {dims}-D {name:14s} {size:5d}: {seconds * 1000:.1f} ms",
                flush=True,
            )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    parser.add_argument("--dims", type=ints, default=[5, 10])
    parser.add_argument("--sizes", type=ints, default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="cpu")
    parser.add_argument("--peers", type=lambda s: s.split(","), default=["optuna-gp"])
    parser.add_argument("--modes", type=lambda s: s.split(","), default=["cold", "study"])
    parser.add_argument("--out", type=Path, default=Path("experiments/results/suggest_time.json"))
    a = parser.parse_args(argv)
    clock = time.process_time if a.clock == "cpu" else time.perf_counter
    rows = []
    for mode in a.modes:
        for dims in a.dims:
            table = latency_table(["bayesian"], a.sizes, a.repeats, dims, a.peers, clock, mode)
            for size in a.sizes:
                ours_s = table["bayesian"][size]
                row = {"mode": mode, "dims": dims, "trials": size, "bayesian_s": ours_s}
                for peer in a.peers:
                    row[f"{peer}_s"] = table[peer][size]
                    row[f"{peer}_over_ours"] = table[peer][size] / ours_s
                rows.append(row)
    heads = " | ".join(f"{p} (ms) | ratio" for p in a.peers)
    print(f"| mode | dims | trials | bayesian (ms) | {heads} |")
    print("|---|---|---|---|" + "---|---|" * len(a.peers))
    for row in rows:
        peers = " | ".join(
            f"{row[f'{p}_s'] * 1000:.1f} | {row[f'{p}_over_ours']:.1f}" for p in a.peers
        )
        print(
            f"| {row['mode']} | {row['dims']} | {row['trials']} | "
            f"{row['bayesian_s'] * 1000:.1f} | {peers} |"
        )
    argv = list(sys.argv[1:] if argv is None else argv)
    omp = os.environ.get("OMP_NUM_THREADS")
    meta = {"clock": a.clock, "repeats": a.repeats, "argv": argv, "OMP_NUM_THREADS": omp}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
