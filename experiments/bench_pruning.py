"""Pruning benchmark: best final score against compute (steps trained), our pruners beside
Optuna's with TPE at the same number of trials, on two kinds of problem.

``synthetic``: ``x, y`` in [0, 1] and a learning rate ``lr`` in [1e-3, 1] (log); the curve at step
``t`` of ``T`` = 27 is ``final + exp(-6 lr (t + 1) / T)`` with ``final = (x - .3)^2 + (y - .7)^2 +
.3 lr``: a low rate looks best for the first step or two and never converges, a rate near 0.5
ends best, so curves cross (as real ones do).

``xgboost``: XGBoost on data sets that ship with scikit-learn (``breast_cancer``, ``wine``,
``digits``: no download), boosting rounds as the resource (81), the validation log-loss of a
fixed stratified 70/30 split reported after every round; the space is ``experiments.problems``'
``XGB_SPACE``.

Ours: the default plan's algorithms (10 random, then ``bayesian``) in this process, each trial
reporting step by step and asking the pruner (``tuner.pruner``) after each report, exactly what a
study does through the database. Optuna: ``TPESampler`` with ``NopPruner``, ``MedianPruner``,
``SuccessiveHalvingPruner`` and ``HyperbandPruner`` (their defaults; Hyperband with
``max_resource`` = the steps). ``--ablation`` adds ours with pruned trials left out of the
``bayesian`` model (what it did before they were placed among the complete ones). Run
``python -m experiments.bench_pruning [--problems synthetic,xgboost --trials N --seeds K]``
(``--quick`` for a smoke run); it writes
``experiments/results/bench_pruning.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
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
PRUNERS = ("none", "median", "asha", "hyperband")
XGB_ROUNDS = 81
DATASETS = ("breast_cancer", "wine", "digits")

# a trial's run: report(step, value) after each step answers whether to stop; returns nothing
Run = Callable[[dict[str, Any], Callable[[int, float], bool]], None]


@dataclass(frozen=True)
class Problem:
    name: str
    space: dict[str, dict[str, Any]]
    steps: int
    run: Run


def final(p: dict[str, float]) -> float:
    return (p["x"] - 0.3) ** 2 + (p["y"] - 0.7) ** 2 + 0.3 * p["lr"]


def curve(p: dict[str, float], t: int) -> float:
    return final(p) + math.exp(-6.0 * p["lr"] * (t + 1) / STEPS)


def synthetic() -> Problem:
    def run(params: dict[str, Any], report: Callable[[int, float], bool]) -> None:
        for t in range(STEPS):
            if report(t, curve(params, t)):
                return

    return Problem("synthetic", SPACE, STEPS, run)


def xgboost_problem(dataset: str, rounds: int = XGB_ROUNDS) -> Problem:
    """XGBoost on a bundled data set, its validation log-loss after every boosting round."""
    import numpy as np
    import xgboost as xgb
    from sklearn.model_selection import train_test_split

    from experiments.problems import XGB_SPACE, bundled_data

    x, y = bundled_data(dataset)
    x_train, x_valid, y_train, y_valid = train_test_split(
        x, y, test_size=0.3, random_state=0, stratify=y
    )
    train = xgb.DMatrix(x_train, label=y_train)
    valid = xgb.DMatrix(x_valid, label=y_valid)
    classes = len(np.unique(y))
    task: dict[str, Any] = (
        {"objective": "binary:logistic", "eval_metric": "logloss"}
        if classes == 2
        else {"objective": "multi:softprob", "num_class": classes, "eval_metric": "mlogloss"}
    )
    metric = task["eval_metric"]

    def run(params: dict[str, Any], report: Callable[[int, float], bool]) -> None:
        class Report(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                return report(epoch, float(evals_log["valid"][metric][-1]))

        booster = {**task, **params, "nthread": 1, "seed": 0, "verbosity": 0}
        xgb.train(
            booster,
            train,
            num_boost_round=rounds,
            evals=[(valid, "valid")],
            callbacks=[Report()],
            verbose_eval=False,
        )

    return Problem(f"xgboost-{dataset}", XGB_SPACE, rounds, run)


def pruner_options(name: str, steps: int) -> dict[str, Any]:
    return {"max_resource": steps} if name == "hyperband" else {}


def ours(problem: Problem, pruner_name: str, trials: int, seed: int) -> tuple[float, int]:
    """(best final value of a complete trial, steps spent)."""
    space = SearchSpace.from_dict(problem.space)
    pruner = plugins.pruner(pruner_name).create(
        Direction.MINIMIZE, pruner_options(pruner_name, problem.steps)
    )
    history: list[Trial] = []
    spent = 0
    for n in range(trials):
        name = "random" if n < 10 else "bayesian"
        algorithm = plugins.algorithm(name).create(
            space, Direction.MINIMIZE, seed * 1000 + (0 if n < 10 else 1), trials, {}
        )
        (params,) = [getattr(s, "params", s) for s in algorithm.suggest(history, 1)]
        state = {"trial": Trial("b", n, 0, params, TrialState.RUNNING, 1), "pruned": False}

        def report(step: int, value: float, state: dict[str, Any] = state) -> bool:
            nonlocal spent
            spent += 1
            trial = state["trial"]
            trial = replace(trial, intermediate=(*trial.intermediate, (step, value)))
            state["trial"] = trial
            state["pruned"] = pruner.prune(trial, [*history, trial])
            return bool(state["pruned"])

        problem.run(params, report)
        trial = state["trial"]
        ended = TrialState.PRUNED if state["pruned"] else TrialState.COMPLETE
        history.append(replace(trial, state=ended, value=trial.intermediate[-1][1]))
    best = min(t.value for t in history if t.state is TrialState.COMPLETE and t.value is not None)
    return float(best), spent


def ours_pruned_left_out(
    problem: Problem, pruner_name: str, trials: int, seed: int
) -> tuple[float, int]:
    """``ours`` with the model learning from complete trials only (before pruned ones were
    placed among them): the ablation that measures what learning from pruned trials gives."""
    from tuner.algorithms import observations

    placed = observations._placed
    observations._placed = lambda *args: None  # a pruned trial is left out of the model
    try:
        return ours(problem, pruner_name, trials, seed)
    finally:
        observations._placed = placed


def optuna_run(problem: Problem, pruner_name: str, trials: int, seed: int) -> tuple[float, int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = {
        "none": optuna.pruners.NopPruner(),
        "median": optuna.pruners.MedianPruner(),
        "asha": optuna.pruners.SuccessiveHalvingPruner(),
        "hyperband": optuna.pruners.HyperbandPruner(max_resource=problem.steps),
    }[pruner_name]
    spent = 0

    def suggest(trial: Any, name: str, p: dict[str, Any]) -> Any:
        if p["type"] == "int":
            return trial.suggest_int(name, p["low"], p["high"], log=p.get("log", False))
        return trial.suggest_float(name, p["low"], p["high"], log=p.get("log", False))

    def objective(trial: Any) -> float:
        params = {name: suggest(trial, name, p) for name, p in problem.space.items()}
        last: list[float] = []

        def report(step: int, value: float) -> bool:
            nonlocal spent
            spent += 1
            last.append(value)
            trial.report(value, step)
            return bool(trial.should_prune())

        problem.run(params, report)
        if trial.should_prune():
            raise optuna.TrialPruned()
        return last[-1]

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    study.optimize(objective, n_trials=trials)
    return float(study.best_value), spent


def problems(names: list[str], datasets: list[str], rounds: int) -> list[Problem]:
    out: list[Problem] = []
    for name in names:
        if name == "synthetic":
            out.append(synthetic())
        elif name == "xgboost":
            out += [xgboost_problem(d, rounds) for d in datasets]
        else:
            raise SystemExit(f"unknown problem {name!r} (synthetic, xgboost)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--problems", default="synthetic,xgboost")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--rounds", type=int, default=XGB_ROUNDS, help="XGBoost's resource")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--contenders", default="tuner,optuna+TPE", help="which to run")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny everything")
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="also run ours with pruned trials left out of the model (contender 'tuner-ablated')",
    )
    parser.add_argument("--out", default="experiments/results/bench_pruning.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.seeds, args.rounds, args.datasets = 12, 1, 9, "breast_cancer"
    chosen = problems(args.problems.split(","), args.datasets.split(","), args.rounds)
    rows: list[dict[str, Any]] = []
    for problem in chosen:
        contenders: list[tuple[str, Any]] = [("tuner", ours), ("optuna+TPE", optuna_run)]
        if args.ablation:
            contenders.insert(1, ("tuner-ablated", ours_pruned_left_out))
        wanted = set(args.contenders.split(",")) | {"tuner-ablated"}
        for contender, run in [(c, r) for c, r in contenders if c in wanted]:
            for name in PRUNERS:
                if contender == "tuner-ablated" and name == "none":
                    continue  # nothing is pruned: the same as ours
                best, spent, seconds = [], [], []
                for seed in range(args.seeds):
                    start = time.perf_counter()
                    b, s = run(problem, name, args.trials, seed)
                    seconds.append(time.perf_counter() - start)
                    best.append(b)
                    spent.append(s)
                rows.append(
                    {
                        "problem": problem.name,
                        "contender": contender,
                        "pruner": name,
                        "best": best,
                        "steps": spent,
                        "full": args.trials * problem.steps,
                        "median_best": statistics.median(best),
                        "median_steps": statistics.median(spent),
                        "seconds": sum(seconds),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"trials": args.trials, "seeds": args.seeds, "rows": rows}, indent=2))
    print("| problem | contender | pruner | median best final value | median steps spent |")
    print("|---|---|---|---|---|")
    for r in rows:
        share = r["median_steps"] / r["full"]
        print(
            f"| {r['problem']} | {r['contender']} | {r['pruner']} | {r['median_best']:.4f} | "
            f"{r['median_steps']:.0f} of {r['full']} ({share:.0%}) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
