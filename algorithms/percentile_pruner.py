"""Percentile pruning (Optuna's ``PercentilePruner`` and ``MedianPruner``, Katib's median rule):
stop a trial whose best value so far is worse than a percentile of the complete trials' values
at the same step."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tuner.errors import SpecError
from tuner.pruner import Pruner, completed, telling_step, value_at
from tuner.spec_values import integer, integer_or, number
from tuner.study import Direction
from tuner.trial import Trial


class PercentilePruner(Pruner):
    """Prunes when the trial's best intermediate value is worse than the ``percentile``-th best
    of the complete trials at its last step (Optuna's defaults: 5 startup trials, no warm-up).
    ``n_warmup_steps: learn``: no pruning before the earliest step at which the complete trials'
    values rank them as their final values do (``tuner.pruner.telling_step``), learnt from the
    study itself, so curves that cross are not judged before they have crossed."""

    name = "percentile"

    def __init__(
        self,
        direction: Direction,
        *,
        percentile: float = 25.0,
        n_startup_trials: int = 5,
        n_warmup_steps: int | str = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(direction)
        self.percentile = float(number(percentile, "percentile"))
        if not 0 <= self.percentile <= 100:
            raise SpecError("percentile", f"must be in [0, 100], not {percentile!r}")
        self.n_startup_trials = integer(n_startup_trials, "n_startup_trials", 0)
        self.learn_warmup = n_warmup_steps == "learn"
        self.n_warmup_steps = integer_or(n_warmup_steps, "n_warmup_steps", 0, ("learn",)) or 0
        self.interval_steps = integer(interval_steps, "interval_steps", 1)
        self.n_min_trials = integer(n_min_trials, "n_min_trials", 1)

    def prune(self, trial: Trial, history: Sequence[Trial]) -> bool:
        if not trial.intermediate:
            return False
        steps = sorted(s for s, _ in trial.intermediate)
        step = steps[-1]
        if step < self.n_warmup_steps or not self._pruning_step(step, steps[:-1]):
            return False
        done = [t for t in completed(history) if t.number != trial.number]
        if len(done) < self.n_startup_trials:
            return False
        if self.learn_warmup:
            warmup = telling_step(done, self.direction)
            if warmup is None or step < warmup:
                return False
        values = [v for _, v in trial.intermediate if not math.isnan(v)]
        if not values:
            return True
        at_step = [v for t in done if (v := value_at(t, step)) is not None and not math.isnan(v)]
        if len(at_step) < self.n_min_trials:
            return False
        if self.direction is Direction.MINIMIZE:
            return min(values) > float(np.percentile(at_step, self.percentile))
        return max(values) < float(np.percentile(at_step, 100 - self.percentile))

    def _pruning_step(self, step: int, earlier: list[int]) -> bool:
        """Whether ``step`` is the first report in its interval (every step when the interval
        is 1): the decision is taken once per interval, as Optuna's is."""
        lower = (step - self.n_warmup_steps) // self.interval_steps * self.interval_steps
        lower += self.n_warmup_steps
        second_last = earlier[-1] if earlier else -1
        return second_last < lower


class MedianPruner(PercentilePruner):
    """``percentile`` at 50: prunes a trial worse than the median of the complete trials."""

    name = "median"

    def __init__(
        self,
        direction: Direction,
        *,
        n_startup_trials: int = 5,
        n_warmup_steps: int | str = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(
            direction,
            percentile=50.0,
            n_startup_trials=n_startup_trials,
            n_warmup_steps=n_warmup_steps,
            interval_steps=interval_steps,
            n_min_trials=n_min_trials,
        )


class NoPruner(Pruner):
    """Never prunes (the default)."""

    name = "none"

    def prune(self, trial: Trial, history: Sequence[Trial]) -> bool:
        return False
