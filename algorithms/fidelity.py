"""Learning curves as a model's data: the Bayesian search's ``fidelity: steps``.

With it, the surrogate learns the objective as a function of the point and of how far its
training had gone when a value was reported, so every trial's curve informs it, pruned and
running trials included, and the acquisition asks what a point would end at. Each trial gives
points ``(u, f, value)``: a geometric subset of its reports (the first report at or after steps
0, 1, 3, 7, 15..., and its last), ``f`` the step's place on a log scale from step 0 (``f = 0``)
to the horizon, the last step any complete trial reported (``f = 1``), and a complete trial's
value at ``f = 1``. Without it a pruned trial is one point placed among the finals
(``observations``); with it, the model sees where its curve was going when it was stopped.

Multi-fidelity surrogates of this kind (the fidelity as one more input of the kernel) are what
BOCA and the freeze-thaw family build on; here the kernel is our ARD Matern, so the fidelity gets
its own length scale like any other input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tuner.space import SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState


@dataclass(frozen=True)
class CurvePoints:
    """Model data from learning curves: ``u`` (unit positions, NaN inactive), ``fidelity`` and
    ``y`` (smaller is better) per point; ``final_u``/``final_y`` the complete trials alone;
    ``pending`` the positions of running and waiting trials."""

    u: np.ndarray
    fidelity: np.ndarray
    y: np.ndarray
    final_u: np.ndarray
    final_y: np.ndarray
    pending: np.ndarray

    @classmethod
    def of(
        cls, space: SearchSpace, direction: Direction, history: Sequence[Trial], limit: int
    ) -> CurvePoints | None:
        """The points of ``history`` (at most ``limit``: past it, reports other than a trial's
        final or last value are thinned evenly); None when no complete trial has reports (no
        horizon to place steps on)."""
        horizon = max(
            (
                max(s for s, _ in t.intermediate)
                for t in history
                if t.state is TrialState.COMPLETE and t.value is not None and t.intermediate
            ),
            default=None,
        )
        if horizon is None:
            return None
        scale = math.log1p(max(horizon, 1))
        d = len(space)
        kept: list[tuple[np.ndarray, float, float]] = []  # finals and last reports
        inner: list[tuple[np.ndarray, float, float]] = []  # the rest of the reports
        final_u: list[np.ndarray] = []
        final_y: list[float] = []
        pending: list[np.ndarray] = []
        for t in sorted(history, key=lambda t: t.number):
            u = space.positions(t.params)
            if u is None:
                continue
            complete = t.state is TrialState.COMPLETE and t.value is not None
            if not t.state.finished:
                pending.append(u)
            elif not complete and t.state is not TrialState.PRUNED:
                continue  # failed: its reports may be what broke
            reports = [
                (s, y)
                for s, v in t.intermediate
                if math.isfinite(y := direction.sort_key(float(v)))
            ]
            if complete:
                value = direction.sort_key(float(t.value))  # type: ignore[arg-type]
                if not math.isfinite(value):
                    continue
                kept.append((u, 1.0, value))
                final_u.append(u)
                final_y.append(value)
                reports = [(s, y) for s, y in reports if s < horizon]
            chosen = _geometric(reports)
            for i, (s, y) in enumerate(chosen):
                at = (u, min(math.log1p(max(s, 0)) / scale, 1.0), y)
                last = i == len(chosen) - 1 and not complete
                (kept if last else inner).append(at)
        room = max(limit - len(kept), 0)
        if len(inner) > room:
            inner = [inner[i] for i in np.linspace(0, len(inner) - 1, room).astype(int)]
        rows = kept + inner
        return cls(
            u=np.array([r[0] for r in rows], dtype=float).reshape(-1, d),
            fidelity=np.array([r[1] for r in rows], dtype=float),
            y=np.array([r[2] for r in rows], dtype=float),
            final_u=np.array(final_u, dtype=float).reshape(-1, d),
            final_y=np.array(final_y, dtype=float),
            pending=np.array(pending, dtype=float).reshape(-1, d),
        )


def _geometric(reports: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The first report at or after steps 0, 1, 3, 7, 15... and the last one, in step order."""
    ordered = sorted(reports)
    if not ordered:
        return []
    out: list[tuple[int, float]] = []
    mark = 0
    for s, y in ordered:
        if s >= mark:
            out.append((s, y))
            while mark <= s:
                mark = 2 * mark + 1
    if out[-1] != ordered[-1]:
        out.append(ordered[-1])
    return out
