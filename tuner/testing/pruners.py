"""The conformance suite of the Pruner contract (see ``tuner.pruner.Pruner``).

A pruner, ours or a third party's, runs it with pytest by subclassing::

    from tuner.testing import PrunerConformance

    class TestMine(PrunerConformance):
        pruner = "mine"        # its plug-in name, or the class itself (not yet installed)
        options = {}           # optional
        prunes = True          # False for a pruner that never prunes

Histories are learning curves ``quality + 1 / (step + 1)`` (lower is better; negated for
``maximize``), complete trials with 100 steps, running ones cut short, failed and waiting ones.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import pytest

from tuner import plugins
from tuner.errors import SpecError
from tuner.pruner import Pruner
from tuner.study import Direction
from tuner.trial import Trial, TrialState

STEPS = 100


def curve(quality: float, steps: int, sign: float = 1.0) -> tuple[tuple[int, float], ...]:
    """A learning curve that improves with the steps and ends near ``quality``."""
    return tuple((s, sign * (quality + 1.0 / (s + 1))) for s in range(steps))


def study_history(direction: Direction, complete: int = 60, seed: int = 0) -> list[Trial]:
    """``complete`` finished curves of random quality, then running, failed, waiting and pruned
    trials, in number order."""
    rng = random.Random(seed)
    sign = 1.0 if direction is Direction.MINIMIZE else -1.0
    out = []
    for n in range(complete):
        q = rng.uniform(0.0, 1.0)
        points = curve(q, STEPS, sign)
        out.append(Trial("s", n, 0, {"q": q}, TrialState.COMPLETE, 1, points[-1][1], {}, points))
    n = complete
    for state, steps in [
        (TrialState.RUNNING, 7),
        (TrialState.FAILED, 3),
        (TrialState.WAITING, 0),
        (TrialState.PRUNED, 4),
        (TrialState.RUNNING, 30),
    ]:
        q = rng.uniform(0.0, 1.0)
        pts = curve(q, steps, sign)
        out.append(Trial("s", n, 0, {"q": q}, state, 1 if steps else 0, None, {}, pts))
        n += 1
    return out


def running(number: int, quality: float, steps: int, direction: Direction) -> Trial:
    sign = 1.0 if direction is Direction.MINIMIZE else -1.0
    points = curve(quality, steps, sign)
    return Trial("s", number, 0, {"q": quality}, TrialState.RUNNING, 1, None, {}, points)


def first_pruned_step(pruner: Pruner, trial: Trial, history: Sequence[Trial]) -> int | None:
    """The first step at which ``pruner`` stops ``trial`` as it reports its curve, if any."""
    for k in range(1, len(trial.intermediate) + 1):
        now = replace(trial, intermediate=trial.intermediate[:k])
        if pruner.prune(now, [*history, now]):
            return now.intermediate[-1][0]
    return None


class PrunerConformance:
    pruner: ClassVar[str | type[Pruner]] = ""
    options: ClassVar[dict[str, Any]] = {}
    prunes: ClassVar[bool] = True  # whether it ever stops a clearly bad trial

    def make(self, direction: Direction = Direction.MINIMIZE) -> Pruner:
        cls = plugins.pruner(self.pruner) if isinstance(self.pruner, str) else self.pruner
        return cls.create(direction, self.options)

    def test_unknown_option_is_refused_by_name(self) -> None:
        cls = plugins.pruner(self.pruner) if isinstance(self.pruner, str) else self.pruner
        with pytest.raises(SpecError) as err:
            cls.create(Direction.MINIMIZE, {**self.options, "no_such_option": 1})
        assert err.value.field == "no_such_option"

    @pytest.mark.parametrize("direction", list(Direction))
    def test_nothing_reported_is_never_pruned(self, direction: Direction) -> None:
        history = study_history(direction)
        fresh = running(len(history), 5.0, 0, direction)
        assert self.make(direction).prune(fresh, [*history, fresh]) is False

    @pytest.mark.parametrize("direction", list(Direction))
    def test_same_history_same_decisions_in_any_order(self, direction: Direction) -> None:
        history = study_history(direction)
        rng = random.Random(1)
        for quality in (-1.0, 0.2, 0.5, 0.9, 3.0):
            trial = running(len(history), quality, STEPS, direction)
            answers = []
            for _ in range(3):
                shuffled = history[:]
                rng.shuffle(shuffled)
                answers.append(first_pruned_step(self.make(direction), trial, shuffled))
            assert answers[0] == answers[1] == answers[2]
            decisions = [self.make(direction).prune(trial, [*history, trial]) for _ in range(2)]
            assert all(isinstance(d, bool) for d in decisions)
            assert decisions[0] == decisions[1]

    @pytest.mark.parametrize("direction", list(Direction))
    def test_the_best_trial_is_never_pruned(self, direction: Direction) -> None:
        history = study_history(direction)
        best = running(len(history), -1.0, STEPS, direction)
        assert first_pruned_step(self.make(direction), best, history) is None

    @pytest.mark.parametrize("direction", list(Direction))
    def test_a_clearly_bad_trial_is_pruned(self, direction: Direction) -> None:
        history = study_history(direction)
        pruner = self.make(direction)
        stopped = [
            first_pruned_step(pruner, running(len(history) + i, 3.0 + i, STEPS, direction), history)
            for i in range(4)
        ]
        if self.prunes:
            assert all(s is not None for s in stopped), stopped
        else:
            assert stopped == [None] * 4

    def test_the_history_is_left_as_it_was(self) -> None:
        history = study_history(Direction.MINIMIZE)
        before = list(history)
        trial = running(len(history), 3.0, 20, Direction.MINIMIZE)
        self.make().prune(trial, [*history, trial])
        assert history == before
