"""The Pruner contract: whether a running trial should stop early, from the study's history.

It lives in the core (the plug-ins live in ``algorithms``) because the runner and the API ask it
while the arrows between packages point down only: ``algorithms -> tuner``.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

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
    final values do (Spearman's rank correlation at least ``agreement``; None: fewer than
    ``TELLING_TRIALS`` complete trials, or no step with a value from each). Curves that cross
    (a fast learner ahead early, behind at the end) push it later; curves that keep their
    order from the start put it at the first step. A pruner's ``learn`` warm-up."""
    if len(done) < TELLING_TRIALS:
        return None
    key = (agreement, *_telling_key(done))
    if key in _telling_cache:
        return _telling_cache[key]
    finals = [direction.sort_key(t.value) for t in done if t.value is not None]
    if len(finals) < len(done) or not all(math.isfinite(f) for f in finals):
        return None
    reports = [dict(t.intermediate) for t in done]
    shared = sorted(set.intersection(*(set(r) for r in reports)))
    final_ranks = _ranks(np.array(finals, dtype=float))
    found: int | None = None
    for step in shared:
        at = np.array([direction.sort_key(r[step]) for r in reports], dtype=float)
        if not np.all(np.isfinite(at)):
            continue
        if _correlation(_ranks(at), final_ranks) >= agreement:
            found = step
            break
    _telling_cache[key] = found
    while len(_telling_cache) > 256:
        _telling_cache.pop(next(iter(_telling_cache)))
    return found


_telling_cache: dict[tuple[object, ...], int | None] = {}


def _telling_key(done: Sequence[Trial]) -> tuple[object, ...]:
    return tuple((t.study, t.number, t.attempt, t.value, len(t.intermediate)) for t in done)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share theirs), as Spearman's correlation takes them."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(x), dtype=float)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    scale = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / scale if scale > 0 else 0.0
