"""The history as model-based algorithms see it: points on the unit cube, values to minimise.

Every trial of the study counts, also those outside a narrowed round's box: they lie outside
``[0, 1]`` on the box's scale, so a surrogate fitted on them knows the landscape around the box
rather than the few points inside it (a narrowed round that saw only those placed its points on
the box's edges). Trials of another structure or without a value are left out; running and
waiting trials are kept apart as pending points.

Pruned trials count too, placed among the complete ones where they stood when stopped: a
pruned trial that a fraction ``q`` of the complete trials beat at its last step ``s`` gets the
``q``-quantile of their final values, best first (the worst final when no complete trial
reached ``s``). Its own last value is not comparable with final values (a curve
stopped early has not finished improving); left out, a study that prunes most trials would leave
the model a handful of points, and it would sample again where the pruner already stopped trials.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tuner.pareto import constrained_cost
from tuner.pruner import first_at_or_after
from tuner.space import CategoricalParameter, FloatParameter, NumericParameter, SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

INACTIVE = 0.5  # unit coordinate given to an inactive conditional parameter


@dataclass(frozen=True)
class Observations:
    """Complete (and pruned) trials as ``(u, y)`` (``y`` smaller is better) and the pending
    points ``p``.

    Inactive parameters hold NaN in ``u`` and ``p``; ``filled`` replaces them by a constant.
    """

    u: np.ndarray
    y: np.ndarray
    pending: np.ndarray

    @classmethod
    def of(
        cls,
        space: SearchSpace,
        direction: Direction,
        history: Sequence[Trial],
        score: Callable[[Trial], float | None] | None = None,
    ) -> Observations:
        """``score`` gives a complete trial's number to minimise (None: leave it out); by
        default its value in the study's direction, an infeasible trial's past every feasible
        one (``tuner.pareto.constrained_cost``)."""
        d = len(space)
        # by default the value, constraints counted (infeasible trials past feasible ones)
        scoring = score if score is not None else constrained_cost(history, direction)
        done: list[np.ndarray] = []
        values: list[float] = []
        pending: list[np.ndarray] = []
        stopped: list[tuple[np.ndarray, Trial]] = []
        finished: list[Trial] = []
        for t in history:
            complete = t.state is TrialState.COMPLETE and t.value is not None
            pruned = t.state is TrialState.PRUNED and t.intermediate
            if not (complete or pruned or not t.state.finished):
                continue
            u = space.positions(t.params)
            if u is None:
                continue
            if complete:
                value = scoring(t)
                if value is None or not math.isfinite(value):
                    continue
                done.append(u)
                values.append(value)
                finished.append(t)
            elif pruned:
                if score is None:  # a pruned trial's place is known in the study's own metric
                    stopped.append((u, t))
            else:
                pending.append(u)
        finals = list(values)
        for u, t in stopped:
            estimate = _placed(t, finished, finals, direction)
            if estimate is not None:
                done.append(u)
                values.append(estimate)
        return cls(
            u=np.array(done, dtype=float).reshape(-1, d),
            y=np.array(values, dtype=float),
            pending=np.array(pending, dtype=float).reshape(-1, d),
        )

    def __len__(self) -> int:
        return len(self.y)

    def best_first(self) -> np.ndarray:
        """Indices of the complete points, best value first (stable on ties)."""
        return np.argsort(self.y, kind="stable")


def _placed(
    trial: Trial, complete: list[Trial], finals: list[float], direction: Direction
) -> float | None:
    """The model's value for a pruned ``trial`` (smaller is better): the quantile of the
    complete trials' ``finals`` at the fraction of them that beat it at its last step."""
    step, last = max(trial.intermediate)
    key = direction.sort_key(last)
    if not finals or not np.isfinite(key):
        return None
    at_step = [
        (direction.sort_key(v), f)
        for t, f in zip(complete, finals, strict=True)
        if (got := first_at_or_after(t, step)) is not None and np.isfinite(v := got[1])
    ]
    if not at_step:
        return max(finals)
    better = sum(1.0 if k < key else 0.5 if k == key else 0.0 for k, _ in at_step)
    return float(np.quantile([f for _, f in at_step], better / len(at_step)))


def filled(u: np.ndarray) -> np.ndarray:
    """``u`` with inactive (NaN) coordinates set to a fixed value, so a model sees a constant."""
    return np.where(np.isnan(u), INACTIVE, u)


def canonical(space: SearchSpace, u: np.ndarray) -> np.ndarray:
    """Unit coordinates of the legal point nearest each row of ``u`` (snapped ints, steps and
    categories; NaN where a parameter ends up inactive), computed a column at a time."""
    out = np.empty_like(u, dtype=float)
    values: dict[str, np.ndarray] = {}
    active: dict[str, np.ndarray] = {}
    for j, p in enumerate(space.parameters):
        col = np.clip(u[:, j], 0.0, 1.0)
        if isinstance(p, CategoricalParameter):
            k = len(p.choices)
            index = np.minimum((col * k).astype(int), k - 1)
            values[p.name] = index
            out[:, j] = (index + 0.5) / k
        elif isinstance(p, FloatParameter) and p.step is None:
            values[p.name] = col
            out[:, j] = col
        else:
            assert isinstance(p, NumericParameter)
            values[p.name], out[:, j] = p.snapped_units(col)
        mask = np.ones(len(u), dtype=bool)
        for cond in p.when:
            parent = space[cond.parent]
            wanted: list[float] = (
                [float(parent.index(v)) for v in cond.values]
                if isinstance(parent, CategoricalParameter)
                else [float(v) for v in cond.values]  # type: ignore[arg-type]
            )
            mask &= active[cond.parent] & np.isin(values[cond.parent], wanted)
        active[p.name] = mask
        out[~mask, j] = np.nan
    return out


def categorical_columns(space: SearchSpace) -> list[tuple[int, int]]:
    """``(column, number of choices)`` of every categorical parameter."""
    return [
        (i, len(p.choices))
        for i, p in enumerate(space.parameters)
        if isinstance(p, CategoricalParameter)
    ]
