"""A quality floor for the default plan (issue 16): on two small BBOB-style problems, written
here (no coco needed), a fixed seed reaches a stated regret within a stated budget.

The bounds hold with a wide margin over what the plan reaches now (see the README's Benchmarks):
they catch a search that got much worse, not a small drift. Nothing here measures time.
"""

from __future__ import annotations

import numpy as np
import pytest

from experiments.contenders import run_plan
from experiments.problems import Problem
from tuner.study import default_plan

SHIFT = np.array([1.3, -2.1, 0.7])


def sphere(dim: int) -> Problem:
    """BBOB f1: the squared distance to a shifted optimum (value 0)."""
    names = [f"x{i}" for i in range(dim)]

    def evaluate(params: dict[str, float]) -> float:
        z = np.array([params[n] for n in names]) - SHIFT[:dim]
        return float(z @ z)

    return _problem("sphere", names, evaluate)


def rosenbrock(dim: int) -> Problem:
    """BBOB f8: Rosenbrock's valley, shifted and scaled as BBOB does (optimum value 0)."""
    names = [f"x{i}" for i in range(dim)]
    scale = max(1.0, np.sqrt(dim) / 8.0)

    def evaluate(params: dict[str, float]) -> float:
        z = scale * (np.array([params[n] for n in names]) - SHIFT[:dim]) + 1.0
        return float(np.sum(100.0 * (z[:-1] ** 2 - z[1:]) ** 2 + (z[:-1] - 1.0) ** 2))

    return _problem("rosenbrock", names, evaluate)


def _problem(name: str, names: list[str], evaluate: object) -> Problem:
    return Problem(
        name=name,
        group="floor",
        space={n: {"type": "float", "low": -5.0, "high": 5.0} for n in names},
        evaluate=evaluate,  # type: ignore[arg-type]
        optimum=0.0,
    )


@pytest.mark.parametrize(
    ("problem", "budget", "bound"),
    [(sphere(3), 30, 1e-2), (rosenbrock(2), 40, 1.0)],
    ids=["sphere-3d", "rosenbrock-2d"],
)
def test_the_default_plan_reaches_a_regret_floor(
    problem: Problem, budget: int, bound: float
) -> None:
    values = run_plan(problem, default_plan(budget), seed=0)
    assert len(values) == budget
    assert min(values) - 0.0 < bound, (problem.name, min(values))
