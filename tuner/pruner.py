"""The Pruner contract: whether a running trial should stop early, from the study's history.

It lives in the core (the plug-ins live in ``algorithms``) because the runner and the API ask it
while the arrows between packages point down only: ``algorithms -> tuner``.
"""

from __future__ import annotations

import inspect
import math
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from tuner.errors import SpecError
from tuner.study import Direction
from tuner.trial import Trial, TrialState


class Pruner(ABC):
    """Decides whether a running trial should stop, from the history alone.

    Contract, checked by ``tuner.testing.pruners.PrunerConformance`` for every implementation:

    - ``prune(trial, history)`` answers True when ``trial`` (running, its ``intermediate``
      values reported so far, the last one just reported) should stop now. ``history`` holds
      every trial of the study (``trial`` too, in any order; waiting, running, complete, failed
      and pruned ones), each with its intermediate values.
    - The answer depends on ``(direction, options, trial, history)`` only: a fresh instance given
      the same history answers the same, whatever the order of ``history`` (a restart changes
      nothing). No state is kept between calls.
    - A trial that has reported nothing is never pruned, nor is one whose every reported value is
      the best at its step among the trials that reached it.

    Options are the keyword-only arguments of ``__init__``; ``create`` refuses other names.
    """

    name: ClassVar[str] = ""

    def __init__(self, direction: Direction) -> None:
        self.direction = direction

    @abstractmethod
    def prune(self, trial: Trial, history: Sequence[Trial]) -> bool:
        """Whether ``trial`` should stop after its last report."""

    @classmethod
    def option_names(cls) -> list[str]:
        """The options this pruner takes (its keyword-only constructor arguments)."""
        return [
            p.name
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]

    @classmethod
    def create(cls, direction: Direction, options: Mapping[str, Any]) -> Pruner:
        """Build one with validated options: an unknown or bad option is a SpecError on it."""
        allowed = cls.option_names()
        for key in options:
            if key not in allowed:
                hint = f"; options are {', '.join(allowed)}" if allowed else "; it takes none"
                raise SpecError(str(key), f"unknown option of pruner {cls.name!r}{hint}")
        try:
            return cls(direction, **options)
        except SpecError:
            raise
        except (TypeError, ValueError) as exc:
            raise SpecError("", str(exc)) from None


def value_at(trial: Trial, step: int) -> float | None:
    """The value ``trial`` reported at ``step`` exactly, if it did."""
    for s, v in trial.intermediate:
        if s == step:
            return v
    return None


def first_at_or_after(trial: Trial, step: int) -> tuple[int, float] | None:
    """The first ``(step, value)`` ``trial`` reported at or after ``step`` (in step order)."""
    later = [(s, v) for s, v in trial.intermediate if s >= step]
    return min(later) if later else None


def last_report(trial: Trial) -> tuple[int, float] | None:
    """The report with the highest step (the one just made, for a running trial)."""
    return max(trial.intermediate) if trial.intermediate else None


def completed(history: Sequence[Trial]) -> list[Trial]:
    """The complete trials of ``history``, in number order."""
    return sorted((t for t in history if t.state is TrialState.COMPLETE), key=lambda t: t.number)


# how closely the values at a step must rank the complete trials as their finals do (Spearman)
# for ``telling_step``; and how many complete trials it needs to judge
AGREEMENT = 0.9
TELLING_TRIALS = 5


def telling_step(
    done: Sequence[Trial], direction: Direction, agreement: float = AGREEMENT
) -> int | None:
    """The earliest step at which the values of the complete trials ``done`` rank them as their
    final values do (Spearman's rank correlation at least ``agreement``; a trial's value at a
    step is its first report at or after it, as at a rung). Only trials with a finite value and
    reports count; None while fewer than ``TELLING_TRIALS`` do. Curves that cross (a fast
    learner ahead early, behind at the end) push it later; curves that keep their order from the
    start put it at the first step. A pruner's ``learn`` warm-up."""
    usable = [
        (t, float(t.value))
        for t in done
        if t.value is not None and math.isfinite(t.value) and t.intermediate
    ]
    if len(usable) < TELLING_TRIALS:
        return None
    # a complete trial's reports no longer change: who it is, its value and its last report
    # stand for them (a study made again under the same name has other values)
    key = (
        direction,
        agreement,
        *((t.study, t.number, t.attempt, v, t.intermediate[-1]) for t, v in usable),
    )
    with _told_lock:
        if key in _told:
            _told.move_to_end(key)
            return _told[key]
    found = _telling(usable, direction, agreement)
    with _told_lock:
        _told[key] = found
        while len(_told) > 256:
            _told.popitem(last=False)
    return found


_told: OrderedDict[tuple[object, ...], int | None] = OrderedDict()
_told_lock = threading.Lock()


def _telling(
    usable: list[tuple[Trial, float]], direction: Direction, agreement: float
) -> int | None:
    """``telling_step`` of ``(trial, final value)`` pairs."""
    from scipy.stats import spearmanr

    for step in sorted({s for t, _ in usable for s, _ in t.intermediate}):
        at, ends = [], []
        for t, final in usable:
            got = first_at_or_after(t, step)
            if got is not None and math.isfinite(got[1]):
                at.append(direction.sort_key(got[1]))
                ends.append(direction.sort_key(final))
        if len(at) < TELLING_TRIALS:
            continue
        if len(set(at)) > 1 and len(set(ends)) > 1:
            rho = float(spearmanr(at, ends).statistic)
        else:
            rho = 0.0
        # the bound itself counts: five trials with two neighbours swapped make 0.9 exactly,
        # which floating point may put a hair below
        if rho >= agreement - 1e-9:
            return step
    return None
