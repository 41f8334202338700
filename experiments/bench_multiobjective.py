"""Multi-objective benchmark: hypervolume after N evaluations on ZDT1-3 and DTLZ2, our default
plan for several metrics (10 random, then ``bayesian``: EHVI with two metrics, ParEGO with
more) and the same warm-up followed by each of ``bayesian``'s acquisitions, ``nsga2`` and
``nsga3``, beside Optuna's ``NSGAIISampler`` and multi-objective
``TPESampler``, several seeds, with a one-sided Mann-Whitney U test that our default's
hypervolume is greater than each other contender's.

Run ``python -m experiments.bench_multiobjective [--evaluations 100 300 --seeds 5 --jobs 1]``; it
appends each run to ``experiments/results/bench_multiobjective.runs.jsonl`` (and resumes from it),
writes ``experiments/results/bench_multiobjective.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner import plugins
from tuner.algorithm import as_suggestion
from tuner.pareto import hypervolume
from tuner.space import SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

Problem = tuple[int, int, Callable[[list[float]], tuple[float, ...]], tuple[float, ...]]


def zdt(kind: int) -> Callable[[list[float]], tuple[float, ...]]:
    def f(x: list[float]) -> tuple[float, ...]:
        g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
        r = x[0] / g
        h = {
            1: 1 - math.sqrt(r),
            2: 1 - r**2,
            3: 1 - math.sqrt(r) - r * math.sin(10 * math.pi * x[0]),
        }
        return x[0], g * h[kind]

    return f


def dtlz2(x: list[float]) -> tuple[float, ...]:
    g = sum((xi - 0.5) ** 2 for xi in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return (
        (1 + g) * math.cos(a) * math.cos(b),
        (1 + g) * math.cos(a) * math.sin(b),
        (1 + g) * math.sin(a),
    )


PROBLEMS: dict[str, Problem] = {
    "ZDT1": (10, 2, zdt(1), (1.1, 11.0)),
    "ZDT2": (10, 2, zdt(2), (1.1, 11.0)),
    "ZDT3": (10, 2, zdt(3), (1.1, 11.0)),
    "DTLZ2": (7, 3, dtlz2, (2.5, 2.5, 2.5)),
}


def ours(
    problem: Problem,
    evaluations: int,
    seed: int,
    algorithm: str = "nsga2",
    options: dict[str, Any] | None = None,
) -> list[tuple[float, ...]]:
    """10 random points, then ``algorithm`` given the problem's metrics, one point at a time
    from a fresh instance (as a scheduler asks)."""
    dims, m, f, _ = problem
    space = SearchSpace.from_dict(
        {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(dims)}
    )
    metrics = [[f"f{j}", "minimize"] for j in range(m)]
    history: list[Trial] = []
    points = []
    for n in range(evaluations):
        if n < 10:
            chosen = plugins.algorithm("random").create(space, Direction.MINIMIZE, seed, 10, {})
        else:
            chosen = plugins.algorithm(algorithm).create(
                space,
                Direction.MINIMIZE,
                seed * 1000 + 1,
                evaluations - 10,
                {"metrics": metrics, **(options or {})},
            )
        (item,) = chosen.suggest(history, 1)
        s = as_suggestion(item)
        params, meta = s.params, s.meta
        y = f([params[f"x{i}"] for i in range(dims)])
        values = {f"f{j}": v for j, v in enumerate(y)}
        history.append(
            Trial("b", n, 0, params, TrialState.COMPLETE, 1, y[0], values, meta=dict(meta))
        )
        points.append(y)
    return points


def optuna_run(
    sampler: str, problem: Problem, evaluations: int, seed: int
) -> list[tuple[float, ...]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dims, m, f, _ = problem
    chosen = (
        optuna.samplers.NSGAIISampler(seed=seed)
        if sampler == "nsga2"
        else optuna.samplers.TPESampler(seed=seed)
    )
    study = optuna.create_study(directions=["minimize"] * m, sampler=chosen)
    points: list[tuple[float, ...]] = []

    def objective(trial: Any) -> tuple[float, ...]:
        y = f([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dims)])
        points.append(y)
        return y

    study.optimize(objective, n_trials=evaluations)
    return points


# name -> (runner, its algorithm, options)
CONTENDERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "tuner (random, bayesian ParEGO)": ("tuner", "bayesian", {"mo_acquisition": "parego"}),
    "tuner (random, bayesian EHVI)": ("tuner", "bayesian", {"mo_acquisition": "ehvi"}),
    "tuner (random, nsga2)": ("tuner", "nsga2", {}),
    "tuner (random, nsga3)": ("tuner", "nsga3", {}),
    "optuna NSGAIISampler": ("optuna", "nsga2", {}),
    "optuna TPESampler": ("optuna", "tpe", {}),
}


def default_for(problem: str) -> str:
    """Our default plan's contender: ``bayesian``'s ``auto`` is EHVI for two metrics, else
    ParEGO."""
    two = PROBLEMS[problem][1] == 2
    return "tuner (random, bayesian EHVI)" if two else "tuner (random, bayesian ParEGO)"


def hypervolume_of(contender: str, problem: str, evaluations: int, seed: int) -> float | None:
    """One run's hypervolume (None: the contender does not take this problem, e.g. EHVI with
    three metrics)."""
    runner, algorithm, options = CONTENDERS[contender]
    chosen = PROBLEMS[problem]
    if options.get("mo_acquisition") == "ehvi" and chosen[1] != 2:
        return None
    if runner == "optuna":
        points = optuna_run(algorithm, chosen, evaluations, seed)
    else:
        points = ours(chosen, evaluations, seed, algorithm, options)
    return hypervolume(points, chosen[3])


def timed_run(contender: str, problem: str, evaluations: int, seed: int) -> dict[str, Any]:
    """One run's record for the runs file: its hypervolume and the CPU seconds it took (CPU
    time, not wall time: the machine is shared, so wall time says more about the neighbours)."""
    start = time.process_time()
    value = hypervolume_of(contender, problem, evaluations, seed)
    run = {"contender": contender, "problem": problem, "seed": seed, "evaluations": evaluations}
    return {**run, "hypervolume": value, "cpu_seconds": round(time.process_time() - start, 2)}


def table(
    results: dict[tuple[str, str, int, int], float | None], evaluations: int, seeds: int
) -> list[dict[str, Any]]:
    """Per problem and contender: the hypervolumes of the seeds done, their median, and p of a
    one-sided Mann-Whitney U test that our default's hypervolumes are greater."""
    from scipy.stats import mannwhitneyu

    rows = []
    for name in PROBLEMS:
        default = default_for(name)
        found_default = [results.get((default, name, s, evaluations)) for s in range(seeds)]
        mine = [v for v in found_default if v is not None]
        for c in CONTENDERS:
            found = [results.get((c, name, s, evaluations)) for s in range(seeds)]
            v = [x for x in found if x is not None]
            if not v or not mine:
                continue
            pvalue = (
                None if c == default else float(mannwhitneyu(mine, v, alternative="greater").pvalue)
            )
            rows.append(
                {
                    "problem": name,
                    "contender": c,
                    "default": c == default,
                    "hypervolumes": v,
                    "median": statistics.median(v),
                    "p_default_greater": pvalue,
                }  # fmt: skip
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    parser.add_argument("--out", default="experiments/results/bench_multiobjective.json")
    parser.add_argument(
        "--report", action="store_true", help="no runs: the table from the runs file alone"
    )
    args = parser.parse_args(argv)
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # every finished run is appended to a runs file, so that a long benchmark stopped early
    # (or resumed) reports the seeds it completed; budgets in the order given, then seeds in
    # order, all contenders each
    runs_file = Path(args.out).with_suffix(".runs.jsonl")
    results: dict[tuple[str, str, int, int], float | None] = {}
    if runs_file.exists():
        for line in runs_file.read_text().splitlines():
            r = json.loads(line)
            results[(r["contender"], r["problem"], r["seed"], r["evaluations"])] = r["hypervolume"]
    tasks = [
        (c, p, s, e)
        for e in args.evaluations
        for s in range(args.seeds)
        for p in PROBLEMS
        for c in CONTENDERS
        if (c, p, s, e) not in results
    ]
    if not args.report and tasks:
        runs_file.parent.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool, runs_file.open("a") as fh:
            futures = {pool.submit(timed_run, c, p, e, s): (c, p, s, e) for c, p, s, e in tasks}
            for done, future in enumerate(as_completed(futures), 1):
                run = future.result()
                results[futures[future]] = run["hypervolume"]
                fh.write(json.dumps(run) + "\n")
                fh.flush()
                print(f"[{done}/{len(tasks)}] {json.dumps(run)}", flush=True)
    budgets = [{"evaluations": e, "rows": table(results, e, args.seeds)} for e in args.evaluations]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seeds": args.seeds, "budgets": budgets}, indent=2))
    print("p: one-sided Mann-Whitney U that our default (*) is greater")
    columns = ["evaluations", "problem", "contender", "seeds", "median hypervolume", "p"]
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    for budget in budgets:
        for r in budget["rows"]:
            shown = "-" if r["p_default_greater"] is None else f"{r['p_default_greater']:.3f}"
            star = " (*)" if r["default"] else ""
            print(
                f"| {budget['evaluations']} | {r['problem']} | {r['contender']}{star} "
                f"| {len(r['hypervolumes'])} | {r['median']:.4f} | {shown} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
