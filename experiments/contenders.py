"""The contenders of the benchmark: our algorithms driven as the scheduler drives them, and the
peer libraries driven through their own APIs. Each returns the values in evaluation order."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from experiments.problems import Problem
from tuner.algorithm import as_suggestion
from tuner.scheduler import round_algorithm
from tuner.study import Round, StudySpec, default_plan
from tuner.trial import Trial, TrialState

Runner = Callable[[Problem, int, int], list[float]]


def plan_spec(problem: Problem, plan: tuple[Round, ...], seed: int) -> StudySpec:
    """A study of ``problem``'s space run by ``plan`` with ``seed`` (its objective is a callable
    here, not a module path: the spec is not checked for one)."""
    return StudySpec.from_dict(
        {
            "name": "bench",
            "objective": "bench:objective",
            "space": problem.space,
            "plan": [r.to_dict() for r in plan],
            "seed": seed,
        },
        check=False,
    )


def run_plan(problem: Problem, plan: tuple[Round, ...], seed: int) -> list[float]:
    """A study with ``plan`` run one trial at a time, as ``Scheduler.top_up`` does it: a fresh
    algorithm per suggestion, on the round's (maybe narrowed) space, with the round's seed."""
    spec = plan_spec(problem, plan, seed)
    trials: list[Trial] = []
    for r, rnd in enumerate(spec.plan):
        for _ in range(rnd.trials):
            algo = round_algorithm(spec, r, trials)
            got = algo.suggest(trials, 1)
            if not got:
                break
            item = as_suggestion(got[0])
            value = problem.evaluate(item.params)
            trials.append(
                Trial(
                    "bench",
                    len(trials),
                    r,
                    item.params,
                    TrialState.COMPLETE,
                    1,
                    value,
                    {"value": value},
                    meta=dict(item.meta),
                )
            )
    return [t.value for t in trials if t.value is not None]


def ours(algorithm: str, **options: Any) -> Runner:
    return lambda p, budget, seed: run_plan(p, (Round(algorithm, budget, options=options),), seed)


def ours_default(problem: Problem, budget: int, seed: int) -> list[float]:
    return run_plan(problem, default_plan(budget), seed)


def _optuna_params(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, p in space.items():
        if p["type"] == "int":
            out[name] = trial.suggest_int(name, p["low"], p["high"], log=p.get("log", False))
        else:
            out[name] = trial.suggest_float(name, p["low"], p["high"], log=p.get("log", False))
    return out


def optuna(sampler: str) -> Runner:
    def run(problem: Problem, budget: int, seed: int) -> list[float]:
        import optuna as op

        op.logging.set_verbosity(op.logging.WARNING)
        make = {
            "tpe": lambda: op.samplers.TPESampler(seed=seed),
            "cmaes": lambda: op.samplers.CmaEsSampler(seed=seed),
            "gp": lambda: op.samplers.GPSampler(seed=seed),
        }[sampler]
        study = op.create_study(sampler=make(), direction="minimize")
        study.optimize(
            lambda t: problem.evaluate(_optuna_params(t, problem.space)), n_trials=budget
        )
        return [float(t.value) for t in study.trials if t.value is not None]

    return run


def hyperopt_tpe(problem: Problem, budget: int, seed: int) -> list[float]:
    from hyperopt import STATUS_OK, Trials, fmin, hp, tpe

    space: dict[str, Any] = {}
    for name, p in problem.space.items():
        if p["type"] == "int":
            space[name] = hp.uniformint(name, p["low"], p["high"])
        elif p.get("log"):
            space[name] = hp.loguniform(name, np.log(p["low"]), np.log(p["high"]))
        else:
            space[name] = hp.uniform(name, p["low"], p["high"])
    trials = Trials()
    fmin(
        lambda params: {"loss": problem.evaluate(_cast(problem, params)), "status": STATUS_OK},
        space,
        algo=tpe.suggest,
        max_evals=budget,
        trials=trials,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return [float(x) for x in trials.losses() if x is not None]


def _cast(problem: Problem, params: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v) if problem.space[k]["type"] == "int" else float(v) for k, v in params.items()}


def skopt_gp_minimize(problem: Problem, budget: int, seed: int) -> list[float]:
    """scikit-optimize's own ``gp_minimize`` with its defaults: the values in evaluation order."""
    import warnings

    from skopt import gp_minimize
    from skopt.space import Integer, Real

    names = list(problem.space)
    space = [
        (Integer if p["type"] == "int" else Real)(
            p["low"], p["high"], prior="log-uniform" if p.get("log") else "uniform"
        )
        for p in problem.space.values()
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = gp_minimize(
            lambda x: problem.evaluate(_cast(problem, dict(zip(names, x, strict=True)))),
            space,
            n_calls=budget,
            random_state=seed,
        )
    return [float(v) for v in result.func_vals]


CONTENDERS: dict[str, Runner] = {
    "random": ours("random"),
    "grid": ours("grid"),
    "bayesian": ours("bayesian"),
    "genetic": ours("genetic"),
    "default-plan": ours_default,
    "optuna-tpe": optuna("tpe"),
    "optuna-cmaes": optuna("cmaes"),
    "optuna-gp": optuna("gp"),
    "hyperopt-tpe": hyperopt_tpe,
    "skopt-gp_minimize": skopt_gp_minimize,
}


def timed(runner: Runner, problem: Problem, budget: int, seed: int) -> tuple[list[float], float]:
    start = time.perf_counter()
    values = runner(problem, budget, seed)
    return values, time.perf_counter() - start
