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
``polished``, ``polish_steps``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from experiments.contenders import run_plan
from experiments.problems import bbob
from tuner.algorithms import acquisition_search, gaussian_process
from tuner.study import default_plan

KNOBS = {
    "ftol": (gaussian_process, "_FIT_FTOL"),
    "points": (gaussian_process, "_FIT_POINTS"),
    "random_candidates": (acquisition_search, "_RANDOM_CANDIDATES"),
    "polished": (acquisition_search, "_POLISHED"),
    "polish_steps": (acquisition_search, "_POLISH_STEPS"),
}


def apply(setting: dict[str, Any], defaults: dict[str, Any]) -> None:
    for knob, (module, name) in KNOBS.items():
        setattr(module, name, setting.get(knob, defaults[knob]))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    parser.add_argument("--settings", type=json.loads, required=True)
    parser.add_argument("--dims", type=ints, default=[5])
    parser.add_argument("--functions", type=ints, default=[1, 8, 15, 21])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=50)
    a = parser.parse_args(argv)
    defaults = {knob: getattr(module, name) for knob, (module, name) in KNOBS.items()}
    names = list(a.settings)
    scores: dict[str, dict[str, list[float]]] = {}
    for dim in a.dims:
        for f in a.functions:
            problem = bbob(f, dim)
            assert problem.optimum is not None
            by = scores.setdefault(problem.name, {n: [] for n in names})
            for seed in range(a.first_seed, a.first_seed + a.seeds):
                for name in names:
                    apply(a.settings[name], defaults)
                    values = run_plan(problem, default_plan(a.budget), seed)
                    by[name].append(math.log10(max(min(values) - problem.optimum, 1e-8)))
            ref = by[names[0]]
            counts = " ".join(
                f"{n} {sum(x < r for x, r in zip(by[n], ref, strict=True))}/{len(ref)}"
                for n in names[1:]
            )
            medians = " ".join(f"{n} {np.median(by[n]):.3f}" for n in names)
            print(f"{problem.name} {medians} | better than {names[0]}: {counts}", flush=True)
    apply({}, defaults)
    totals = {}
    for n in names[1:]:
        pairs = [(x, r) for v in scores.values() for x, r in zip(v[n], v[names[0]], strict=True)]
        totals[n] = (sum(x < r for x, r in pairs), sum(x > r for x, r in pairs))
    print(f"better/worse than {names[0]}", totals)


if __name__ == "__main__":
    main()
