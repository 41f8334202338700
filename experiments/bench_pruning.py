"""Pruning benchmark: best validation score against compute (steps trained), our pruners beside
Optuna's with TPE, every contender given the same compute budget (not the same number of trials:
a pruning study runs more trials in it), on two kinds of problem.

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
``max_resource`` = the steps). The measure (``experiments.pruning_measure``): the best final value
of a completed trial against the compute spent; per row the median best at the whole budget and
at a third of it, and the share of the budget at which the median best first reaches the unpruned
run's final best. ``--variant label=pruner:{json options}`` adds ours with other options (A/B in
one run; a ``"bayesian"`` key holds options of the algorithm, not of the pruner). Run
``python -m experiments.bench_pruning [--problems synthetic,xgboost --budget N --seeds K]``
(``--quick`` for a smoke run); it writes ``experiments/results/bench_pruning.json``
and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from experiments.pruning_measure import (
    BudgetSpent,
    Curve,
    Meter,
    median,
    one_sided_p,
    oracle_stopping,
    reach_share,
)
from tuner import plugins
from tuner.algorithm import as_suggestion
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
ORACLE = "oracle stop"  # a derived row: the unpruned run's trials, each stopped by hindsight
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


def ours(
    problem: Problem, pruner_name: str, budget: int, seed: int, options: dict[str, Any]
) -> Curve:
    """Our default plan's algorithms and ``pruner_name`` until ``budget`` steps are spent."""
    space = SearchSpace.from_dict(problem.space)
    options = dict(options)
    guided: dict[str, Any] = options.pop("bayesian", {})  # the variant's bayesian options
    pruner = plugins.pruner(pruner_name).create(
        Direction.MINIMIZE, {**pruner_options(pruner_name, problem.steps), **options}
    )
    meter = Meter(budget)
    history: list[Trial] = []
    while meter.spent < budget:
        n = len(history)
        name = "random" if n < 10 else "bayesian"
        algorithm = plugins.algorithm(name).create(
            space,
            Direction.MINIMIZE,
            seed * 1000 + (0 if n < 10 else 1),
            None,
            guided if name == "bayesian" else {},
        )
        (params,) = [as_suggestion(s).params for s in algorithm.suggest(history, 1)]
        state: dict[str, Any] = {
            "trial": Trial("b", n, 0, params, TrialState.RUNNING, 1),
            "pruned": False,
        }
        meter.trials += 1

        def report(step: int, value: float, state: dict[str, Any] = state) -> bool:
            if not meter.take():
                return True  # the budget is spent: this trial is cut short and does not count
            trial = state["trial"]
            trial = replace(trial, intermediate=(*trial.intermediate, (step, value)))
            state["trial"] = trial
            state["pruned"] = pruner.prune(trial, [*history, trial])
            return bool(state["pruned"])

        problem.run(params, report)
        trial = state["trial"]
        if not state["pruned"] and len(trial.intermediate) < problem.steps:
            break  # cut by the budget
        ended = TrialState.PRUNED if state["pruned"] else TrialState.COMPLETE
        value = trial.intermediate[-1][1]
        history.append(replace(trial, state=ended, value=value))
        if ended is TrialState.COMPLETE:
            meter.completed(value)
    return meter.curve()


def optuna_run(
    problem: Problem, pruner_name: str, budget: int, seed: int, options: dict[str, Any]
) -> Curve:
    """Optuna's TPE with its pruner ``pruner_name`` until ``budget`` steps are spent."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    pruner = {
        "none": optuna.pruners.NopPruner,
        "median": optuna.pruners.MedianPruner,
        "asha": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
    }[pruner_name](**{**pruner_options(pruner_name, problem.steps), **options})
    meter = Meter(budget)

    def suggest(trial: Any, name: str, p: dict[str, Any]) -> Any:
        if p["type"] == "int":
            return trial.suggest_int(name, p["low"], p["high"], log=p.get("log", False))
        return trial.suggest_float(name, p["low"], p["high"], log=p.get("log", False))

    def objective(trial: Any) -> float:
        params = {name: suggest(trial, name, p) for name, p in problem.space.items()}
        last: list[float] = []
        meter.trials += 1

        def report(step: int, value: float) -> bool:
            if not meter.take():
                raise BudgetSpent
            last.append(value)
            trial.report(value, step)
            return bool(trial.should_prune())

        problem.run(params, report)
        if len(last) < problem.steps:
            raise optuna.TrialPruned()
        meter.completed(last[-1])
        return last[-1]

    # a fixed study name: Hyperband's brackets follow it, so a rerun gives the same run
    study = optuna.create_study(
        study_name=f"bench-{seed}",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
    )
    try:
        study.optimize(objective, n_trials=budget)
    except BudgetSpent:
        pass
    return meter.curve()


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


@dataclass(frozen=True)
class Contender:
    """A row of the table: who runs (``tuner`` or ``optuna+TPE``), with which pruner and options."""

    contender: str
    pruner: str
    label: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def run(self, problem: Problem, budget: int, seed: int) -> Curve:
        runner = ours if self.contender == "tuner" else optuna_run
        return runner(problem, self.pruner, budget, seed, self.options)


def contenders(names: list[str], pruners: list[str], variants: list[str]) -> list[Contender]:
    """Each contender with each pruner, then ours with each ``label=pruner:{json}`` variant."""
    out = [Contender(c, p) for c in names for p in pruners]
    for v in variants:
        label, _, rest = v.partition("=")
        pruner, _, raw = rest.partition(":")
        out.append(Contender("tuner", pruner, label, json.loads(raw) if raw else {}))
    return out


def merged(paths: list[str]) -> list[dict[str, Any]]:
    """The rows of several runs (other seeds of the same rows), each row's seeds together and
    summarised again."""
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for path in paths:
        for r in json.loads(Path(path).read_text())["rows"]:
            if r["pruner"] == ORACLE:
                continue  # derived again from the merged unpruned runs
            key = (r["problem"], r["contender"], r["pruner"], r["label"])
            if key in rows:
                rows[key]["runs"] += r["runs"]
                rows[key]["seeds"] += r["seeds"]
                rows[key]["seconds"] += r["seconds"]
            else:
                rows[key] = dict(r)
    out: list[dict[str, Any]] = []
    for problem in dict.fromkeys(k[0] for k in rows):
        mine = [r for k, r in rows.items() if k[0] == problem]
        curves = [[Curve.of(run) for run in r["runs"]] for r in mine]
        with_oracle(mine, curves)
        summarise(mine, curves, mine[0]["budget"])
        out += mine
    return out


def with_oracle(rows: list[dict[str, Any]], curves: list[list[Curve]]) -> None:
    """Adds to one problem's rows (and their curves) the oracle stopping bound of the unpruned
    run of ours (``oracle_stopping``), if that run is among them."""
    unpruned = next(
        (
            i
            for i, r in enumerate(rows)
            if (r["contender"], r["pruner"], r["label"]) == ("tuner", "none", "")
        ),
        None,
    )
    if unpruned is None:
        return
    bound = [oracle_stopping(c) for c in curves[unpruned]]
    rows.append(
        {
            **rows[unpruned],
            "pruner": ORACLE,
            "label": "bound",
            "runs": [c.to_dict() for c in bound],
            "seconds": 0.0,
        }
    )
    curves.append(bound)


def summarise(rows: list[dict[str, Any]], curves: list[list[Curve]], budget: int) -> None:
    """Adds to each row of one problem its medians, the share of the budget at which it reaches
    the unpruned run's final best, and the one-sided p of beating Optuna's Hyperband+TPE."""
    by = {(r["contender"], r["pruner"], r["label"]): i for i, r in enumerate(rows)}
    unpruned = by.get(("tuner", "none", ""))
    peer = by.get(("optuna+TPE", "hyperband", ""))
    target = median([c.best_at(budget) for c in curves[unpruned]]) if unpruned is not None else None
    for row, runs in zip(rows, curves, strict=True):
        finals = [c.best_at(budget) for c in runs]
        row["best"] = finals
        row["best_third"] = [c.best_at(budget / 3) for c in runs]
        row["median_best"] = median(finals)
        row["median_best_third"] = median(row["best_third"])
        row["median_trials"] = median([c.trials for c in runs])
        if target is not None:
            row["target"] = target
            row["reach_share"] = reach_share(runs, target, budget)
        if peer is not None:
            row["p_better_than_optuna_hyperband"] = one_sided_p(
                finals, [c.best_at(budget) for c in curves[peer]]
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--problems", default="synthetic,xgboost")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--rounds", type=int, default=XGB_ROUNDS, help="XGBoost's resource")
    parser.add_argument(
        "--budget", type=int, default=30, help="the compute budget, in unpruned trials"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--contenders", default="tuner,optuna+TPE", help="which to run")
    parser.add_argument("--pruners", default=",".join(PRUNERS))
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help='ours with other options: label=pruner:{"reduction_factor": 3} (repeatable)',
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny everything")
    parser.add_argument("--out", default="experiments/results/bench_pruning.json")
    parser.add_argument(
        "--report", action="store_true", help="print the table of --out; run nothing"
    )
    parser.add_argument(
        "--merge", nargs="+", metavar="JSON", help="write to --out the rows of these runs merged"
    )
    parser.add_argument("--plot", help="with --report: a PNG of the median best against compute")
    args = parser.parse_args(argv)
    if args.merge:
        together = merged(args.merge)
        Path(args.out).write_text(json.dumps({"rows": together}, indent=1))
        print(table(together))
        return 0
    if args.report:
        stored = json.loads(Path(args.out).read_text())["rows"]
        print(table(stored))
        if args.plot:
            plot(stored, Path(args.plot))
        return 0
    if args.quick:
        args.budget, args.seeds, args.rounds, args.datasets = 6, 1, 9, "breast_cancer"
    chosen = problems(args.problems.split(","), args.datasets.split(","), args.rounds)
    rows: list[dict[str, Any]] = []
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    every = contenders(args.contenders.split(","), args.pruners.split(","), args.variant)
    for problem in chosen:
        budget = args.budget * problem.steps
        mine: list[dict[str, Any]] = []
        curves: list[list[Curve]] = []
        for who in every:
            start = time.perf_counter()
            runs = [who.run(problem, budget, seed) for seed in seeds]
            curves.append(runs)
            mine.append(
                {
                    "problem": problem.name,
                    "contender": who.contender,
                    "pruner": who.pruner,
                    "label": who.label,
                    "options": who.options,
                    "budget": budget,
                    "seeds": list(seeds),
                    "runs": [c.to_dict() for c in runs],
                    "seconds": time.perf_counter() - start,
                }
            )
            finals = [c.best_at(budget) for c in runs]
            label = f"{who.contender} {who.pruner} {who.label}".strip()
            print(f"{problem.name} {label}: {finals} {mine[-1]['seconds']:.0f}s", flush=True)
        with_oracle(mine, curves)
        summarise(mine, curves, budget)
        rows += mine
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"budget_trials": args.budget, "seeds": args.seeds, "rows": rows}, indent=1)
    )
    print(table(rows))
    return 0


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of a run (``rows`` as the JSON holds them): a line per contender and
    pruner, a column per problem, each cell the median best at the budget / at a third of it /
    the share of the budget to reach the unpruned best / p of beating Optuna's Hyperband."""
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    keys = list(dict.fromkeys((r["contender"], r["pruner"], r["label"]) for r in rows))
    lines = [
        "| contender | pruner | " + " | ".join(problems) + " |",
        "|---|---|" + "---|" * len(problems),
    ]
    for key in keys:
        cells = []
        for problem in problems:
            found = [
                r
                for r in rows
                if r["problem"] == problem and (r["contender"], r["pruner"], r["label"]) == key
            ]
            if not found:
                cells.append("")
                continue
            r = found[0]
            share = r.get("reach_share", math.nan)
            reach = "never" if math.isinf(share) else f"{share:.0%}"
            p = r.get("p_better_than_optuna_hyperband", math.nan)
            cells.append(
                f"{r['median_best']:.4f} / {r['median_best_third']:.4f} / {reach} / {p:.2f}"
            )
        name = key[1] + (f" ({key[2]})" if key[2] else "")
        lines.append(f"| {key[0]} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """The median over seeds of the best so far against the share of the budget spent, a panel
    per problem, a line per row (the unpruned run's final best dotted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(dict.fromkeys(r["problem"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    grid = np.linspace(0.0, 1.0, 201)
    for ax, name in zip(axes.flat, names, strict=True):
        for r in (r for r in rows if r["problem"] == name):
            curves = [Curve.of(run) for run in r["runs"]]
            best = np.median([[c.best_at(g * r["budget"]) for g in grid] for c in curves], axis=0)
            label = f"{r['contender']} {r['pruner']} {r['label']}".strip()
            style = "-." if r["label"] else "-" if r["contender"] == "tuner" else "--"
            ax.plot(grid, best, style, label=label, linewidth=1)
            if "target" in r:
                ax.axhline(r["target"], color="grey", linestyle=":", linewidth=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("share of the compute budget")
        ax.set_ylabel("median best final loss")
        finite = [r["median_best"] for r in rows if r["problem"] == name]
        ax.set_ylim(
            min(finite) * 0.95,
            max(r["median_best_third"] for r in rows if r["problem"] == name) * 1.1,
        )
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
