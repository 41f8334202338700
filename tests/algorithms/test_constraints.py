"""Constraints in a study of one metric: the searches steer clear of infeasible points. The
unconstrained optimum (1.5, 1.5) of a bowl breaks the constraint x + y <= 2; the best feasible
point is (1, 1), value 0.5. Before constraints counted in the searches, the Bayesian rounds spent
85-95% of their trials past the boundary chasing the bowl's bottom."""

from __future__ import annotations

import pytest

from tuner.algorithm import as_suggestion
from tuner.plan import default_plan
from tuner.scheduler import best_trial, round_algorithm
from tuner.study import StudySpec
from tuner.trial import Trial, TrialState

FEASIBLE_BEST = 0.5


def study(plan: list[dict], seed: int) -> StudySpec:
    square = {"type": "float", "low": 0.0, "high": 2.0}
    return StudySpec.from_dict(
        {"name": "c", "objective": "m:f", "space": {"x": square, "y": square}, "plan": plan,
         "seed": seed},
        check=False,
    )  # fmt: skip


def run(spec: StudySpec) -> list[Trial]:
    """The study one trial at a time, as the scheduler tops it up."""
    trials: list[Trial] = []
    for r, rnd in enumerate(spec.plan):
        for _ in range(rnd.trials):
            params = as_suggestion(round_algorithm(spec, r, trials).suggest(trials, 1)[0]).params
            x, y = params["x"], params["y"]
            value = (x - 1.5) ** 2 + (y - 1.5) ** 2
            values = {"value": value, "constraint.0": x + y - 2.0}
            trials.append(Trial("c", len(trials), r, params, TrialState.COMPLETE, 1, value, values))
    return trials


@pytest.mark.parametrize(
    ("plan", "share"),
    [
        ([r.to_dict() for r in default_plan(30)], 0.6),
        ([{"algorithm": "random", "trials": 10}, {"algorithm": "genetic", "trials": 30}], 0.4),
    ],
    ids=["default-plan", "genetic"],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_searches_keep_to_the_feasible_side(plan: list[dict], share: float, seed: int) -> None:
    trials = run(study(plan, seed))
    after = [t for t in trials if t.number >= 10]  # past the random warm-up
    feasible = [t for t in after if t.values["constraint.0"] <= 0]
    assert len(feasible) >= share * len(after), len(feasible)
    best = min(t.value for t in trials if t.values["constraint.0"] <= 0)  # type: ignore[type-var]
    assert best < FEASIBLE_BEST + 0.5


def test_the_narrowed_round_is_centred_on_the_best_feasible_trial() -> None:
    spec = study([r.to_dict() for r in default_plan(10)], 0)
    cheap = Trial("c", 0, 0, {"x": 1.5, "y": 1.5}, TrialState.COMPLETE, 1, 0.0,
                  {"value": 0.0, "constraint.0": 1.0})  # fmt: skip
    fair = Trial("c", 1, 0, {"x": 1.0, "y": 0.9}, TrialState.COMPLETE, 1, 0.61,
                 {"value": 0.61, "constraint.0": -0.1})  # fmt: skip
    assert best_trial([cheap, fair], spec) is fair
    assert best_trial([cheap], spec) is cheap  # none feasible: the least violation
