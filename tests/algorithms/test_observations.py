"""What model-based algorithms learn from pruned trials: each is placed among the complete
trials where it stood when it was stopped (hand-checked quantiles)."""

from __future__ import annotations

import numpy as np

from tuner.algorithms.observations import Observations
from tuner.space import SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

SPACE = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})


def _trial(number: int, state: TrialState, curve: list[float]) -> Trial:
    return Trial(
        "s", number, 0, {"x": number / 10}, state, 1, curve[-1], {}, tuple(enumerate(curve))
    )


COMPLETE = [
    _trial(0, TrialState.COMPLETE, [3.0, 2.0, 1.0]),  # finals 1, 2, 3: step 0 values 3, 4, 5
    _trial(1, TrialState.COMPLETE, [4.0, 3.0, 2.0]),
    _trial(2, TrialState.COMPLETE, [5.0, 4.0, 3.0]),
]


def values(history: list[Trial], direction: Direction = Direction.MINIMIZE) -> list[float]:
    return list(Observations.of(SPACE, direction, history).y)


def test_a_pruned_trial_gets_the_final_of_its_place_at_its_last_step() -> None:
    worst = _trial(5, TrialState.PRUNED, [9.0])  # worse than all three at step 0: worst final
    assert values([*COMPLETE, worst])[-1] == 3.0
    best = _trial(6, TrialState.PRUNED, [2.0])  # better than all: the best final
    assert values([*COMPLETE, best])[-1] == 1.0
    middle = _trial(7, TrialState.PRUNED, [4.5, 3.5])  # at step 1, 2 of 3 beat it (2, 3 < 3.5)
    assert values([*COMPLETE, middle])[-1] == float(np.quantile([1.0, 2.0, 3.0], 2 / 3))


def test_maximised_values_are_placed_on_the_model_scale() -> None:
    up = [_trial(i, TrialState.COMPLETE, [v, v + 1]) for i, v in enumerate([1.0, 2.0, 3.0])]
    stopped = _trial(5, TrialState.PRUNED, [0.5])  # worst at step 0: the lowest final, negated
    assert values([*up, stopped], Direction.MAXIMIZE)[-1] == -2.0


def test_without_a_complete_trial_pruned_ones_are_left_out() -> None:
    alone = [_trial(5, TrialState.PRUNED, [1.0]), _trial(6, TrialState.PRUNED, [2.0])]
    assert values(alone) == []
    # a pruned trial past every complete trial's last step: the worst final
    late = _trial(8, TrialState.PRUNED, [0.0, 0.0, 0.0, 0.0])
    assert values([*COMPLETE, late])[-1] == 3.0
