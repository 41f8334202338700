"""Parallel workers (issue 16): how pending points are believed while a batch is filled, measured
against one worker at a time at the same number of evaluations; and the warm-up's sequence.

A study runs the default plan (``default_plan(budget)``) with ``w`` workers as the scheduler runs
it: ``w`` trials in flight, the oldest finishes, the queue is topped up with one suggestion from a
fresh algorithm whose history holds the ``w - 1`` trials still running (the first top-up asks
for ``w`` at once). Variants:

- ``sequential``: one worker (nothing pending);
- ``liar-w``: the constant liar (pending points count as the best value so far);
- ``believer-w``: the kriging believer (pending points count as the model's mean there, the
  hyperparameters kept);
- ``sobol`` / ``uniform``: one worker, the warm-up drawn from a scrambled Sobol sequence or
  uniformly (the default plan's random round and the Bayesian round's own start-up).

Scores are the log10 regret of the best value at the budget, per BBOB problem (median of the
seeds), and the mean rank of the variants over problems (1 = best); results JSON under
experiments/results/.

    OMP_NUM_THREADS=1 python -m experiments.batch_fantasy --functions 1,8,15,21 --dims 2,5 \\
        --seeds 5 --budget 40
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from experiments.contenders import plan_spec
from experiments.problems import Problem, bbob
from tuner.algorithm import as_suggestion
from tuner.plan import Round
from tuner.scheduler import round_algorithm
from tuner.study import default_plan
from tuner.trial import Trial, TrialState


def run_workers(problem: Problem, plan: tuple[Round, ...], seed: int, workers: int) -> list[float]:
    """The values of a study of ``plan`` run by ``workers`` workers, in the order they finished."""
    spec = plan_spec(problem, plan, seed)
    trials: list[Trial] = []  # finished ones first, then those in flight, oldest first
    running: list[Trial] = []
    budget = sum(r.trials for r in spec.plan)
    asked = 0
    while len(trials) < budget:
        # top up: the round of the next trial, as many as free workers (the round's end caps it)
        while len(running) < workers and asked < budget:
            r, before = 0, asked
            while before >= spec.plan[r].trials:
                before -= spec.plan[r].trials
                r += 1
            if any(t.round < r for t in running):
                break  # a round starts when the one before it is done
            rnd = spec.plan[r]
            want = min(workers - len(running), rnd.trials - before)
            algo = round_algorithm(spec, r, trials)
            got = algo.suggest(trials + running, want)
            if not got:
                return [t.value for t in trials if t.value is not None]
            for item in map(as_suggestion, got):
                number = len(trials) + len(running)
                running.append(
                    Trial("batch", number, r, item.params, TrialState.RUNNING, 1, None, {})
                )
                asked += 1
        done = running.pop(0)
        value = problem.evaluate(done.params)
        trials.append(replace(done, state=TrialState.COMPLETE, value=value, values={"v": value}))
    return [t.value for t in trials if t.value is not None]


def plan_with(budget: int, **options: dict[str, Any]) -> tuple[Round, ...]:
    return tuple(
        replace(r, options={**r.options, **options.get(r.algorithm, {})})
        for r in default_plan(budget)
    )


VARIANTS: dict[str, tuple[int, dict[str, dict[str, Any]]]] = {
    "sequential": (1, {}),
    "liar-2": (2, {"bayesian": {"fantasy": "liar"}}),
    "believer-2": (2, {"bayesian": {"fantasy": "believer"}}),
    "liar-4": (4, {"bayesian": {"fantasy": "liar"}}),
    "believer-4": (4, {"bayesian": {"fantasy": "believer"}}),
    "uniform": (1, {"random": {"sequence": "uniform"}, "bayesian": {"sequence": "uniform"}}),
    "sobol": (1, {"random": {"sequence": "sobol"}, "bayesian": {"sequence": "sobol"}}),
}


def regret(problem: Problem, values: Sequence[float]) -> float:
    assert problem.optimum is not None
    return math.log10(max(min(values) - problem.optimum, 1e-8))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    parser.add_argument("--functions", type=ints, default=[1, 8, 15, 21])
    parser.add_argument("--dims", type=ints, default=[2, 5])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--variants", type=lambda s: s.split(","), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("experiments/results/batch_fantasy.json"))
    a = parser.parse_args(argv)
    runs = []
    medians: dict[str, dict[str, float]] = {}
    for dim in a.dims:
        for f in a.functions:
            problem = bbob(f, dim)
            for name in a.variants:
                workers, options = VARIANTS[name]
                scores = []
                for seed in range(a.seeds):
                    start = time.perf_counter()
                    values = run_workers(problem, plan_with(a.budget, **options), seed, workers)
                    scores.append(regret(problem, values))
                    runs.append(
                        {
                            "problem": problem.name,
                            "variant": name,
                            "seed": seed,
                            "log10_regret": scores[-1],
                            "evaluations": len(values),
                            "seconds": time.perf_counter() - start,
                        }
                    )
                medians.setdefault(problem.name, {})[name] = float(np.median(scores))
                median = medians[problem.name][name]
                print(f"{problem.name:14s} {name:11s} median log10 regret {median:.3f}", flush=True)
    ranks = {name: 0.0 for name in a.variants}
    for by in medians.values():
        for name, rank in zip(a.variants, rankdata([by[v] for v in a.variants]), strict=True):
            ranks[name] += float(rank) / len(medians)
    print("| variant | mean rank | " + " | ".join(medians) + " |")
    print("|---|---|" + "---|" * len(medians))
    for name in a.variants:
        cells = " | ".join(f"{medians[p][name]:.2f}" for p in medians)
        print(f"| {name} | {ranks[name]:.2f} | {cells} |")
    meta = {"argv": list(argv) if argv is not None else None, **vars(a), "out": str(a.out)}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(
        json.dumps({"meta": meta, "medians": medians, "mean_ranks": ranks, "runs": runs}, indent=1)
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
