"""The pruning benchmark's measure: best validation score against compute spent.

Every contender gets the same compute budget (steps: boosting rounds, epochs), not the same number
of trials, so a pruning study runs more trials in it. A run is its ``Curve``: the compute spent
when each trial completed and that trial's final value (a pruned trial's values do not count: its
model did not finish training). From it: the best at any compute, and the compute at which the
best first reaches a target (the unpruned run's final best).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class BudgetSpent(Exception):
    """Raised (or answered) when a step would pass the compute budget: the run ends there, and
    the trial it cut short does not count."""


@dataclass
class Meter:
    """Counts the steps a run spends against its ``budget`` and records each completed trial."""

    budget: int
    spent: int = 0
    trials: int = 0
    completions: list[tuple[int, float]] = field(default_factory=list)

    def take(self) -> bool:
        """Spend one step; False (and nothing spent) when the budget is gone."""
        if self.spent >= self.budget:
            return False
        self.spent += 1
        return True

    def completed(self, value: float) -> None:
        self.completions.append((self.spent, value))

    def curve(self) -> Curve:
        return Curve(tuple(self.completions), self.spent, self.trials)


@dataclass(frozen=True)
class Curve:
    """``points``: (compute spent when a trial completed, its final value), in compute order."""

    points: tuple[tuple[int, float], ...]
    spent: int
    trials: int

    def best_at(self, compute: float) -> float:
        """The best final value of a trial completed within ``compute`` (inf: none yet)."""
        return min((v for c, v in self.points if c <= compute), default=math.inf)

    def reaches(self, target: float) -> float:
        """The compute at which the best first reaches ``target`` (inf: never)."""
        return next((float(c) for c, v in self.points if v <= target), math.inf)

    @classmethod
    def of(cls, run: Mapping[str, Any]) -> Curve:
        """The curve ``to_dict`` wrote (its best-so-far steps: the same bests and reach)."""
        points = tuple((int(c), float(v)) for c, v in run["best_curve"])
        return cls(points, int(run["spent"]), int(run["trials"]))

    def to_dict(self) -> dict[str, object]:
        best = math.inf
        steps = []
        for c, v in self.points:  # only the points where the best improved: the step curve
            if v < best:
                best = v
                steps.append([c, v])
        return {"best_curve": steps, "spent": self.spent, "trials": self.trials}


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def reach_share(curves: Sequence[Curve], target: float, budget: int) -> float:
    """The share of ``budget`` at which the median over seeds of the best so far first reaches
    ``target`` (inf: never), where the median curve crosses it."""
    for compute in sorted({c for curve in curves for c, _ in curve.points}):
        if median([curve.best_at(compute) for curve in curves]) <= target:
            return compute / budget
    return math.inf


def one_sided_p(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """Mann-Whitney U, one-sided: the chance of ``ours`` being this much lower by luck alone."""
    from scipy.stats import mannwhitneyu

    if len(ours) < 2 or len(theirs) < 2:
        return math.nan
    return float(mannwhitneyu(ours, theirs, alternative="less").pvalue)


def oracle_stopping(unpruned: Curve) -> Curve:
    """The same trials as an unpruned run, each stopped after its first step unless it is going
    to improve on the best so far (which only hindsight knows): what a perfect stopping rule
    would spend on the sampler's own sequence of trials. A bound, not a contender: a real
    pruner needs more than one step to judge, and a pruned trial tells the sampler less than a
    complete one, so its sampler would not draw the same sequence."""
    steps = unpruned.spent // max(unpruned.trials, 1)
    points: list[tuple[int, float]] = []
    best = math.inf
    for c, v in unpruned.points:  # an unpruned run's trials complete every ``steps``
        if v < best:
            best = v
            trial = c // steps  # 1-based: this trial ran in full, those before it that did not
            improved = len(points) + 1  # improve spent one step each
            points.append((improved * steps + (trial - improved), v))
    spent = (len(points) * steps + unpruned.trials - len(points)) if points else unpruned.trials
    return Curve(tuple(points), spent, unpruned.trials)
