"""Quality and latency benchmark of our algorithms against Optuna, Hyperopt and scikit-optimize.

Run ``python -m experiments.benchmark_quality [--quick]``; it writes ``results.md``,
``results.json`` and PNG regret curves under ``experiments/results/`` (or ``--out``).
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"  # two processes share two cores fairly

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from experiments.contenders import CONTENDERS, timed  # noqa: E402
from experiments.latency import latency_table  # noqa: E402
from experiments.problems import Problem, bbob, xgboost_task  # noqa: E402

FULL_FUNCTIONS = [1, 3, 6, 8, 10, 12, 15, 17, 20, 21, 22, 24]
QUICK_FUNCTIONS = [1, 8, 15, 21]
PACKAGES = [
    "numpy",
    "scipy",
    "scikit-learn",
    "scikit-optimize",
    "deap",
    "optuna",
    "hyperopt",
    "cmaes",
    "torch",
    "coco-experiment",
    "xgboost-cpu",
    "matplotlib",
]


def checkpoints(problem: Problem, budget: int) -> list[int]:
    """Where the report looks: BBOB at 10, 25, 50, 100, 200 and 10 x dimension evaluations, the
    real tasks at 10, 30 and 60 (the issue's budgets), each only if within ``budget``."""
    if problem.optimum is None:
        marks = {10, 30, 60}
    else:
        marks = {10, 25, 50, 100, 200, 10 * len(problem.space)}
    return sorted(c for c in marks if c <= budget) or [budget]


def score(problem: Problem, values: list[float], at: int) -> float:
    """log10 regret of the best of the first ``at`` values (BBOB), or the best loss itself."""
    best = min(values[:at]) if values else math.inf
    if problem.optimum is None:
        return best
    return math.log10(max(best - problem.optimum, 1e-8))


def ranks(table: dict[str, float]) -> dict[str, float]:
    """Average ranks (1 = best) of the contenders' medians; ties share their mean rank."""
    names = sorted(table, key=lambda k: table[k])
    out: dict[str, float] = {}
    i = 0
    while i < len(names):
        j = i
        while j + 1 < len(names) and table[names[j + 1]] == table[names[i]]:
            j += 1
        for k in names[i : j + 1]:
            out[k] = (i + j) / 2 + 1
        i = j + 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small subset, a few minutes")
    parser.add_argument("--functions", type=lambda s: [int(x) for x in s.split(",") if x])
    parser.add_argument("--dims", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--budget", type=int)
    parser.add_argument("--ml", type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--ml-budget", type=int)
    parser.add_argument("--contenders", type=lambda s: s.split(","), default=list(CONTENDERS))
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument(
        "--reuse",
        type=Path,
        help="an earlier runs.json: its runs of contenders not run now join the report "
        "(same problems, seeds and budgets: a slow peer need not run again)",
    )
    parser.add_argument(
        "--log",
        type=Path,
        action="append",
        default=[],
        help="a runs log (JSON lines; repeatable): every finished run is appended to the first, "
        "runs already in any of them are not run again, so a stopped benchmark resumes",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: report the problems on which the logs hold every contender's seeds",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    a = parser.parse_args()
    quick = a.quick
    functions = (
        a.functions if a.functions is not None else (QUICK_FUNCTIONS if quick else FULL_FUNCTIONS)
    )
    dims = a.dims or ([2, 5] if quick else [2, 5, 10])
    seeds = a.seeds or (2 if quick else 5)
    budget = a.budget or (30 if quick else 100)
    ml = (
        a.ml
        if a.ml is not None
        else (["breast_cancer"] if quick else ["breast_cancer", "digits", "diabetes"])
    )
    ml_budget = a.ml_budget or (15 if quick else 40)
    a.out.mkdir(parents=True, exist_ok=True)

    problems = [(bbob(f, d), budget) for d in dims for f in functions]
    problems += [(xgboost_task(name), ml_budget) for name in ml]
    logged = _logged(a.log)
    runs: list[dict[str, Any]] = []
    for problem, b in problems:
        for name in a.contenders:
            for seed in range(seeds):
                key = (problem.name, name, seed, b)
                if key not in logged and a.log and not a.report_only:
                    logged.update(_logged(a.log))  # another process may have run it meanwhile
                if key in logged:
                    runs.append(logged[key])
                    continue
                if a.report_only:
                    continue
                values, seconds = timed(CONTENDERS[name], problem, b, seed)
                run = {
                    "problem": problem.name,
                    "group": problem.group,
                    "contender": name,
                    "seed": seed,
                    "budget": b,
                    "optimum": problem.optimum,
                    "values": values,
                    "seconds": seconds,
                }
                runs.append(run)
                if a.log:
                    with a.log[0].open("a") as f:
                        f.write(json.dumps(run) + "\n")
                print(
                    f"{time.strftime('%H:%M:%S')} {problem.name:22s} {name:18s} seed {seed}: "
                    f"best {min(values):.4g} in {seconds:.1f}s",
                    flush=True,
                )
    if a.report_only:
        problems = _complete(problems, runs, a.contenders, seeds)
        names = {p.name for p, _ in problems}
        runs = [r for r in runs if r["problem"] in names]
        print(f"{len(problems)} problems complete in the logs", flush=True)
    if a.reuse:
        runs += _reused(a.reuse, runs)
    latency = (
        {}
        if a.no_latency
        else latency_table(
            [c for c in ("random", "grid", "bayesian", "genetic") if c in a.contenders],
            sizes=(10, 100, 500, 1000),
        )
    )
    meta = {
        "command": "python -m experiments.benchmark_quality "
        + ("--quick" if quick else "")
        + (" (with options)" if a.functions is not None else ""),
        "functions": functions,
        "dims": dims,
        "seeds": seeds,
        "budget": budget,
        "ml": ml,
        "ml_budget": ml_budget,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "threads": os.environ["OMP_NUM_THREADS"],
        "reused": None if a.reuse is None else str(a.reuse),
        "versions": {p: _version(p) for p in PACKAGES},
    }
    from experiments.report import write_report

    write_report(a.out, problems, runs, latency, meta, checkpoints, score, ranks)
    print(f"wrote {a.out}/results.md, results.json and plots")
    (a.out / "runs.json").write_text(json.dumps({"meta": meta, "runs": runs}))


def _logged(paths: list[Path]) -> dict[tuple[str, str, int, int], dict[str, Any]]:
    """The runs in the logs that exist, by (problem, contender, seed, budget)."""
    out = {}
    for path in paths:
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    r = json.loads(line)
                    out[(r["problem"], r["contender"], r["seed"], r["budget"])] = r
    return out


def _complete(
    problems: list[tuple[Problem, int]],
    runs: list[dict[str, Any]],
    contenders: list[str],
    seeds: int,
) -> list[tuple[Problem, int]]:
    """The problems on which ``runs`` hold every contender's every seed (a partial log's
    report compares like with like)."""
    have = {(r["problem"], r["contender"], r["seed"]) for r in runs}
    return [
        (p, b)
        for p, b in problems
        if all((p.name, n, s) in have for n in contenders for s in range(seeds))
    ]


def _reused(path: Path, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs of ``path`` for contenders absent from ``runs``, on the same problems, seeds and
    budgets as ``runs`` (an error if one is missing, so no table mixes different settings)."""
    earlier = json.loads(path.read_text())["runs"]
    ran = {r["contender"] for r in runs}
    wanted = {(r["problem"], r["seed"], r["budget"]) for r in runs}
    out = [
        r
        for r in earlier
        if r["contender"] not in ran and (r["problem"], r["seed"], r["budget"]) in wanted
    ]
    for name in {r["contender"] for r in out}:
        have = {(r["problem"], r["seed"], r["budget"]) for r in out if r["contender"] == name}
        if have != wanted:
            raise SystemExit(f"--reuse: {path} lacks runs of {name} on {sorted(wanted - have)[:3]}")
    return out


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
