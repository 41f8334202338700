"""Asynchronous successive halving (ASHA) and Hyperband as brackets of it (Optuna's
``SuccessiveHalvingPruner`` and ``HyperbandPruner``, Ray Tune's ``ASHAScheduler``).

Rung ``k`` sits at step ``min_resource * reduction_factor ** (min_early_stopping_rate + k)``. A
trial's value at a rung is its first report at or after that step; when a report takes a trial
past a rung, it goes on only if its value is among the best ``1 / reduction_factor`` of the
values every trial of its bracket has at that rung. Nothing waits for a rung to fill (the first
trial at a rung always goes on), so no worker ever idles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tuner.errors import SpecError
from tuner.pruner import Pruner, completed, first_at_or_after, last_report, telling_step
from tuner.spec_values import integer, integer_or
from tuner.study import Direction
from tuner.trial import Trial


def _resource(value: object, where: str, words: tuple[str, ...] = ("auto",)) -> int | None:
    """One of ``words`` (None: read from the history) or a positive integer."""
    return integer_or(value, where, 1, words)


class SuccessiveHalvingPruner(Pruner):
    """ASHA with Optuna's defaults: ``min_resource: auto`` (the trial's round's ``resource.min``
    when the round gives a resource, else the first complete trial's last step / 100, at least
    1), ``reduction_factor: 4``, ``min_early_stopping_rate: 0``. ``min_resource: learn``: the
    first rung at the earliest step at which the complete trials' values rank them as their
    final values do (``tuner.pruner.telling_step``; no pruning before five trials complete)."""

    name = "asha"

    def __init__(
        self,
        direction: Direction,
        *,
        min_resource: int | str = "auto",
        reduction_factor: int = 4,
        min_early_stopping_rate: int = 0,
        bootstrap_count: int = 0,
    ) -> None:
        super().__init__(direction)
        self.min_resource = _resource(min_resource, "min_resource", ("auto", "learn"))
        self.learn = min_resource == "learn"
        self.reduction_factor = integer(reduction_factor, "reduction_factor", 2)
        self.min_early_stopping_rate = integer(
            min_early_stopping_rate, "min_early_stopping_rate", 0
        )
        self.bootstrap_count = integer(bootstrap_count, "bootstrap_count", 0)

    def prune(self, trial: Trial, history: Sequence[Trial]) -> bool:
        if self.learn:
            done = [t for t in completed(history) if t.number != trial.number]
            told = telling_step(done, self.direction)
            min_resource = None if told is None else max(told, 1)
        else:
            min_resource = self.min_resource or trial.min_resource
            min_resource = min_resource or _auto_min_resource(history, trial)
        if min_resource is None:
            return False
        return halving_prunes(
            trial,
            [t for t in history if t.number != trial.number],
            self.direction,
            min_resource,
            self.reduction_factor,
            self.min_early_stopping_rate,
            self.bootstrap_count,
        )


class HyperbandPruner(Pruner):
    """Brackets of ASHA, bracket ``b`` with ``min_early_stopping_rate = b``, a trial's bracket a
    function of its number weighted by the bracket's budget (Optuna's defaults:
    ``min_resource: 1``, ``max_resource: auto`` (the first complete trial's last step + 1),
    ``reduction_factor: 3``). Trials compete only within their bracket. In a round that gives a
    ``resource``, ``auto`` takes its ``min`` and ``max``: the brackets span what a trial of the
    round may spend, known before any trial ends."""

    name = "hyperband"

    def __init__(
        self,
        direction: Direction,
        *,
        min_resource: int | str = "auto",
        max_resource: int | str = "auto",
        reduction_factor: int = 3,
        bootstrap_count: int = 0,
    ) -> None:
        super().__init__(direction)
        self.min_resource = _resource(min_resource, "min_resource")
        self.max_resource = _resource(max_resource, "max_resource")
        if (
            self.max_resource is not None
            and self.min_resource is not None
            and self.max_resource < self.min_resource
        ):
            raise SpecError("max_resource", "must be at least min_resource")
        self.reduction_factor = integer(reduction_factor, "reduction_factor", 2)
        self.bootstrap_count = integer(bootstrap_count, "bootstrap_count", 0)

    def prune(self, trial: Trial, history: Sequence[Trial]) -> bool:
        min_resource = self.min_resource or trial.min_resource or 1
        max_resource = self.max_resource or trial.resource
        if max_resource is None:
            done = [t for t in completed(history) if t.intermediate and t.number != trial.number]
            if not done:
                return False
            max_resource = max(s for s, _ in done[0].intermediate) + 1
        brackets = self.brackets(max_resource, min_resource)
        mine = bracket_of(trial.number, brackets, self.reduction_factor)
        peers = [
            t
            for t in history
            if t.number != trial.number
            and bracket_of(t.number, brackets, self.reduction_factor) == mine
        ]
        return halving_prunes(
            trial,
            peers,
            self.direction,
            min_resource,
            self.reduction_factor,
            mine,
            self.bootstrap_count,
        )

    def brackets(self, max_resource: int, min_resource: int | None = None) -> int:
        """How many brackets: ``floor(log_rf(max / min)) + 1``."""
        ratio = max(max_resource / (min_resource or self.min_resource or 1), 1.0)
        return int(math.floor(math.log(ratio, self.reduction_factor) + 1e-9)) + 1


def bracket_of(number: int, brackets: int, reduction_factor: int) -> int:
    """The bracket of trial ``number``: bracket ``b`` gets a share of the trials proportional to
    Hyperband's budget for it, ``ceil(brackets * rf**s / (s + 1))`` with ``s = brackets-1-b``, in
    an order scrambled by the number (deterministic: the history alone decides)."""
    budgets = []
    for b in range(brackets):
        s = brackets - 1 - b
        budgets.append(math.ceil(brackets * reduction_factor**s / (s + 1)))
    slot = (number * 2654435761 + 12345) % (2**32) % sum(budgets)
    for b, budget in enumerate(budgets):
        if slot < budget:
            return b
        slot -= budget
    return brackets - 1  # pragma: no cover - the slots add up to the total


def halving_prunes(
    trial: Trial,
    peers: Sequence[Trial],
    direction: Direction,
    min_resource: int,
    reduction_factor: int,
    min_early_stopping_rate: int,
    bootstrap_count: int,
) -> bool:
    """Whether ``trial``'s last report takes it past a rung where it is not among the best
    ``1 / reduction_factor`` of the values ``peers`` and it have there."""
    last = last_report(trial)
    if last is None:
        return False
    step = last[0]
    earlier = [s for s, _ in trial.intermediate if s < step]
    previous = max(earlier) if earlier else -1
    rung = 0
    while True:
        rung_step = min_resource * reduction_factor ** (min_early_stopping_rate + rung)
        if rung_step > step:
            return False
        if rung_step > previous:  # this report is the trial's first at or past the rung
            mine = first_at_or_after(trial, rung_step)
            assert mine is not None
            value = mine[1]
            if math.isnan(value):
                return True
            competing = [value]
            for t in peers:
                theirs = first_at_or_after(t, rung_step)
                if theirs is not None and not math.isnan(theirs[1]):
                    competing.append(theirs[1])
            if len(competing) <= bootstrap_count:
                return True
            if not _promotable(value, competing, reduction_factor, direction):
                return True
        rung += 1


def _promotable(
    value: float, competing: list[float], reduction_factor: int, direction: Direction
) -> bool:
    """Among the best ``len // rf`` (the first at a rung always is: no barrier)."""
    index = max(len(competing) // reduction_factor - 1, 0)
    ordered = sorted(competing, key=direction.sort_key)
    return direction.sort_key(value) <= direction.sort_key(ordered[index])


def _auto_min_resource(history: Sequence[Trial], trial: Trial) -> int | None:
    """Optuna's ``auto``: the first complete trial's last step / 100, at least 1."""
    done = [t for t in completed(history) if t.intermediate and t.number != trial.number]
    if not done:
        return None
    return max(max(s for s, _ in done[0].intermediate) // 100, 1)
