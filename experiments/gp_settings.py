"""Paired runs of the default plan under settings of the Bayesian search's effort (issue 16: what
suggest time may be traded for): the kernel fit's tolerance and points, the random candidates,
the polished candidates and their L-BFGS-B steps.

Each setting runs the same BBOB problems with the same seeds; the first setting is the reference
and every other is counted better or worse than it seed by seed (log10 regret at the budget).
The settings are module constants of ``tuner.algorithms.gaussian_process`` and
``tuner.algorithms.acquisition_search``, set here between runs (an experiment's knob, not an
option).

    OMP_NUM_THREADS=1 python -m experiments.gp_settings --dims 5,10 --functions 1,8,15,21 \\
        --seeds 4 --first-seed 40 --budget 100 --settings '{"main": {"ftol": 1e-7, "polish_steps":
        30}, "taken": {"ftol": 1e-4, "polish_steps": 12}}'

Setting keys (defaults: the code's): ``ftol``, ``points`` (kernel fit), ``random_candidates``,
``polished``, ``polish_steps``, ``noise_prior`` (centre and spread of the log noise variance's
normal prior), ``noise_bounds`` (of the log noise variance), ``signal_bounds`` (of the log signal
variance).

``--ml breast_cancer,digits,diabetes`` adds the XGBoost tasks (their best value compared, as they
have no known optimum); ``--at 30,60`` compares at those numbers of evaluations too (a prefix of
each run). The fitted-model cache is emptied between settings, so no setting reuses another's fit.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from experiments.contenders import run_plan
from experiments.problems import Problem, bbob, xgboost_task
from tuner.algorithms import acquisition_search, bayesian, gaussian_process
from tuner.study import default_plan

KNOBS = {
    "ftol": (gaussian_process, "_FIT_FTOL"),
    "points": (gaussian_process, "_FIT_POINTS"),
    "random_candidates": (acquisition_search, "_RANDOM_CANDIDATES"),
    "polished": (acquisition_search, "_POLISHED"),
    "polish_steps": (acquisition_search, "_POLISH_STEPS"),
    "noise_prior": (gaussian_process, "_NOISE_PRIOR"),
    "noise_bounds": (gaussian_process, "_LOG_NOISE"),
    "signal_bounds": (gaussian_process, "_LOG_SIGNAL"),
}


def apply(setting: dict[str, Any], defaults: dict[str, Any]) -> None:
    for knob, (module, name) in KNOBS.items():
        value = setting.get(knob, defaults[knob])
        setattr(module, name, tuple(value) if isinstance(value, list) else value)
    with bayesian._cache_lock:
        bayesian._cache.clear()


def score(problem: Problem, values: list[float], at: int) -> float:
    """log10 regret after ``at`` evaluations where the optimum is known, else the best value."""
    best = min(values[:at])
    if problem.optimum is None:
        return best
    return math.log10(max(best - problem.optimum, 1e-8))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    parser.add_argument("--settings", type=json.loads, required=True)
    parser.add_argument("--dims", type=ints, default=[5])
    parser.add_argument("--functions", type=ints, default=[1, 8, 15, 21])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--ml", type=lambda s: [x for x in s.split(",") if x], default=[])
    parser.add_argument("--at", type=ints, default=[], help="also compare at these evaluations")
    a = parser.parse_args(argv)
    defaults = {knob: getattr(module, name) for knob, (module, name) in KNOBS.items()}
    names = list(a.settings)
    problems = [bbob(f, dim) for dim in a.dims for f in a.functions]
    problems += [xgboost_task(name) for name in a.ml]
    budgets = sorted({*a.at, a.budget})
    scores: dict[str, dict[str, list[float]]] = {}
    for problem in problems:
        runs: dict[str, list[list[float]]] = {n: [] for n in names}
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            for name in names:
                apply(a.settings[name], defaults)
                runs[name].append(run_plan(problem, default_plan(a.budget), seed))
        for at in budgets:
            by = scores.setdefault(f"{problem.name}@{at}", {})
            for name in names:
                by[name] = [score(problem, values, at) for values in runs[name]]
            ref = by[names[0]]
            counts = " ".join(
                f"{n} {sum(x < r for x, r in zip(by[n], ref, strict=True))}"
                f"/{sum(x > r for x, r in zip(by[n], ref, strict=True))}"
                for n in names[1:]
            )
            medians = " ".join(f"{n} {np.median(by[n]):.5g}" for n in names)
            print(
                f"{problem.name}@{at} {medians} | better/worse than {names[0]}: {counts}",
                flush=True,
            )
    apply({}, defaults)
    totals = {}
    for at in budgets:
        for n in names[1:]:
            pairs = [
                (x, r)
                for key, v in scores.items()
                if key.endswith(f"@{at}")
                for x, r in zip(v[n], v[names[0]], strict=True)
            ]
            totals[f"{n}@{at}"] = (sum(x < r for x, r in pairs), sum(x > r for x, r in pairs))
    print(f"better/worse than {names[0]}", totals)


if __name__ == "__main__":
    main()
