"""Pruning benchmark: best final score against compute (steps trained) on a synthetic
learning-curve problem, our pruners beside Optuna's with TPE at the same number of trials.

The problem: ``x, y`` in [0, 1] and a learning rate ``lr`` in [1e-3, 1] (log); the curve at step
``t`` of ``T`` is ``final + exp(-6 lr (t + 1) / T)`` with ``final = (x - .3)^2 + (y - .7)^2 +
.3 lr``: a high rate looks best early and ends worse, so curves cross (as real ones do).

Ours: the default plan's algorithms (10 random, then ``bayesian``) in this process, each trial
reporting step by step and asking the pruner (``tuner.pruner``) after each report, exactly what a
study does through the database. Optuna: ``TPESampler`` with ``NopPruner``, ``MedianPruner``,
``SuccessiveHalvingPruner`` and ``HyperbandPruner`` (their defaults; Hyperband with
``max_resource = T``). Run ``python -m experiments.bench_pruning [--trials N --seeds K]``; it
writes ``experiments/results/bench_pruning.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tuner import plugins
from tuner.space import SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

STEPS = 27
SPACE = {
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "y": {"type": "float", "low": 0.0, "high": 1.0},
    "lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
}
PRUNERS: dict[str, dict[str, Any]] = {
    "none": {},
    "median": {},
    "asha": {},
    "hyperband": {"max_resource": STEPS},
}


def final(p: dict[str, float]) -> float:
    return (p["x"] - 0.3) ** 2 + (p["y"] - 0.7) ** 2 + 0.3 * p["lr"]


def curve(p: dict[str, float], t: int) -> float:
    return final(p) + math.exp(-6.0 * p["lr"] * (t + 1) / STEPS)


def ours(pruner_name: str, trials: int, seed: int) -> tuple[float, int]:
    """(best final value of a complete trial, steps spent)."""
    space = SearchSpace.from_dict(SPACE)
    pruner = plugins.pruner(pruner_name).create(Direction.MINIMIZE, PRUNERS[pruner_name])
    history: list[Trial] = []
    spent = 0
    for n in range(trials):
        name = "random" if n < 10 else "bayesian"
        algorithm = plugins.algorithm(name).create(
            space, Direction.MINIMIZE, seed * 1000 + (0 if n < 10 else 1), trials, {}
        )
        (params,) = [getattr(s, "params", s) for s in algorithm.suggest(history, 1)]
        trial = Trial("b", n, 0, params, TrialState.RUNNING, 1)
        state = TrialState.COMPLETE
        for t in range(STEPS):
            trial = replace(trial, intermediate=(*trial.intermediate, (t, curve(params, t))))
            spent += 1
            if pruner.prune(trial, [*history, trial]):
                state = TrialState.PRUNED
                break
        value = trial.intermediate[-1][1]
        history.append(replace(trial, state=state, value=value))
    best = min(t.value for t in history if t.state is TrialState.COMPLETE and t.value is not None)
    return float(best), spent


def optuna_run(pruner_name: str, trials: int, seed: int) -> tuple[float, int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = {
        "none": optuna.pruners.NopPruner(),
        "median": optuna.pruners.MedianPruner(),
        "asha": optuna.pruners.SuccessiveHalvingPruner(),
        "hyperband": optuna.pruners.HyperbandPruner(max_resource=STEPS),
    }[pruner_name]
    spent = 0

    def objective(trial: Any) -> float:
        nonlocal spent
        p = {
            "x": trial.suggest_float("x", 0.0, 1.0),
            "y": trial.suggest_float("y", 0.0, 1.0),
            "lr": trial.suggest_float("lr", 1e-3, 1.0, log=True),
        }
        value = 0.0
        for t in range(STEPS):
            value = curve(p, t)
            spent += 1
            trial.report(value, t)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    study.optimize(objective, n_trials=trials)
    return float(study.best_value), spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="experiments/results/bench_pruning.json")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for contender, run in (("tuner", ours), ("optuna+TPE", optuna_run)):
        for name in PRUNERS:
            best, spent, seconds = [], [], []
            for seed in range(args.seeds):
                start = time.perf_counter()
                b, s = run(name, args.trials, seed)
                seconds.append(time.perf_counter() - start)
                best.append(b)
                spent.append(s)
            rows.append(
                {
                    "contender": contender,
                    "pruner": name,
                    "best": best,
                    "steps": spent,
                    "median_best": statistics.median(best),
                    "median_steps": statistics.median(spent),
                    "seconds": sum(seconds),
                }
            )
    full = args.trials * STEPS
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"trials": args.trials, "steps": STEPS, "rows": rows}, indent=2))
    print(f"| contender | pruner | median best final value | median steps (of {full}) |")
    print("|---|---|---|---|")
    for r in rows:
        share = r["median_steps"] / full
        print(
            f"| {r['contender']} | {r['pruner']} | {r['median_best']:.4f} | "
            f"{r['median_steps']:.0f} ({share:.0%}) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
