"""A narrowed round searches around the best trial so far, with every earlier trial in its
model: on the README's quick-start problem its points must be at least as good as the best."""

from __future__ import annotations

import pytest

from tuner.algorithm import as_suggestion
from tuner.scheduler import best_trial, round_algorithm, round_space
from tuner.study import StudySpec, default_plan
from tuner.trial import Trial, TrialState

QUICK_START = {
    "name": "first",
    "objective": {"function": "train:objective"},
    "trials": 30,
    "space": {
        "x": {"type": "float", "low": -10, "high": 10},
        "depth": {"type": "int", "low": 1, "high": 6},
    },
}


def quick_start(params: dict) -> float:
    return (params["x"] - 2) ** 2 + params["depth"]


def run(spec: StudySpec) -> list[Trial]:
    """The plan run one trial at a time, as the scheduler runs it."""
    trials: list[Trial] = []
    for r, rnd in enumerate(spec.plan):
        for _ in range(rnd.trials):
            algorithm = round_algorithm(spec, r, trials)
            point = as_suggestion(algorithm.suggest(trials, 1)[0])
            trials.append(
                Trial(
                    "first",
                    len(trials),
                    r,
                    point.params,
                    TrialState.COMPLETE,
                    1,
                    quick_start(point.params),
                    meta=point.meta,
                )
            )
    return trials


@pytest.mark.parametrize("seed", range(4))
def test_the_narrowed_round_searches_around_the_best_trial(seed: int) -> None:
    spec = StudySpec.from_dict({**QUICK_START, "seed": seed}, check=False)
    assert spec.plan == default_plan(30) and spec.plan[-1].narrow == 0.25
    trials = run(spec)
    last = len(spec.plan) - 1
    before = [t for t in trials if t.round < last]
    best = best_trial(before, spec)
    assert best is not None and best.value is not None
    box = round_space(spec, last, before)
    half_width = (box["x"].high - box["x"].low) / 2  # type: ignore[attr-defined]
    for t in (t for t in trials if t.round == last):
        # inside the box, near its centre (the best), not on its edges as it used to be
        assert abs(t.params["x"] - best.params["x"]) < 0.5 * half_width, t.params
        assert t.value is not None and t.value <= best.value + 0.5, (t.value, best.value)
