"""What Bayesian search needs with several metrics: ParEGO's scalarisation of a trial's metrics
and the exact expected hypervolume improvement of a point in two dimensions.

Both work on normalised costs: every metric as a cost (smaller is better) scaled to ``[0, 1]``
over the feasible trials seen (all trials when none is feasible).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import norm

from tuner.pareto import costs, fronts, violation
from tuner.study import Direction
from tuner.trial import Trial, TrialState

Scoring = Callable[[Trial], float | None]
REFERENCE = 1.1  # the reference point of normalised costs, on every axis


class Normaliser:
    """Scales a trial's costs by the ranges of the feasible complete trials of ``history``."""

    def __init__(
        self, history: Sequence[Trial], objectives: Sequence[tuple[str, Direction]]
    ) -> None:
        self.objectives = list(objectives)
        m = len(objectives)
        seen = [
            (c, violation(t))
            for t in history
            if t.state is TrialState.COMPLETE and (c := costs(t, objectives)) is not None
        ]
        points = np.array([c for c, v in seen if v == 0] or [c for c, _ in seen], dtype=float)
        points = points.reshape(-1, m)
        points = points[np.all(np.isfinite(points), axis=1)]
        self.low = points.min(axis=0) if len(points) else np.zeros(m)
        high = points.max(axis=0) if len(points) else np.ones(m)
        self.span = np.where(high > self.low, high - self.low, 1.0)

    def __call__(self, trial: Trial) -> np.ndarray | None:
        c = costs(trial, self.objectives)
        if c is None:
            return None
        return np.clip((np.asarray(c, dtype=float) - self.low) / self.span, 0.0, None)


def parego(normalised: Normaliser, weights: np.ndarray, rho: float) -> Scoring:
    """ParEGO's score of a trial: ``max_j w_j z_j + rho sum_j w_j z_j`` of its normalised costs
    ``z``; an infeasible trial scores above every feasible one, more the more it violates."""
    worst = 1.0 + rho  # the highest score a feasible trial can get

    def score(trial: Trial) -> float | None:
        z = normalised(trial)
        if z is None:
            return None
        value = float(np.max(weights * z) + rho * np.sum(weights * z))
        v = violation(trial)
        return value if v == 0 else max(value, worst) + 1.0 + v / (1.0 + v)

    return score


def penalised(normalised: Normaliser, j: int) -> Scoring:
    """Metric ``j``'s normalised cost of a trial for its model; an infeasible trial counts as
    beyond the reference point, more the more it violates (so models steer away from it)."""

    def score(trial: Trial) -> float | None:
        z = normalised(trial)
        if z is None:
            return None
        v = violation(trial)
        return float(z[j]) if v == 0 else max(float(z[j]), REFERENCE) + v / (1.0 + v)

    return score


def pareto_front(points: np.ndarray) -> np.ndarray:
    """The non-dominated rows of ``points`` (two columns), sorted by the first."""
    if not len(points):
        return points.reshape(0, 2)
    first = fronts([tuple(p) for p in points])[0]
    front = points[first]
    return front[np.argsort(front[:, 0], kind="stable")]


def ehvi_2d(
    mean: np.ndarray, std: np.ndarray, front: np.ndarray, reference: Sequence[float]
) -> np.ndarray:
    """Exact expected hypervolume improvement over ``front`` (two costs, minimised) of points
    whose costs are independent normals (``mean``, ``std``: shape ``(n, 2)``), bounded by
    ``reference``.

    The region ``front`` leaves undominated is a staircase of vertical strips; strip ``j``
    spans ``a_j <= f1 < a_{j+1}`` under height ``u_j``, and a point ``y`` gains
    ``(a_{j+1} - max(y1, a_j))+ * (u_j - y2)+`` there. That is a product of a function of ``y1``
    and one of ``y2``, so its expectation is a product of two expectations, each of the form
    ``E[(c - Y)+] = (c - mu) Phi(z) + sigma phi(z)``, ``z = (c - mu) / sigma``."""
    r1, r2 = float(reference[0]), float(reference[1])
    inside = front[(front[:, 0] < r1) & (front[:, 1] < r2)] if len(front) else front
    a = np.concatenate([[-np.inf], inside[:, 0], [r1]]) if len(inside) else np.array([-np.inf, r1])
    height = np.concatenate([[r2], inside[:, 1]]) if len(inside) else np.array([r2])
    sd = np.maximum(std, 1e-12)

    def below(c: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """E[(c - Y)+] for Y ~ N(mu, sigma), c broadcast against the points' column."""
        with np.errstate(invalid="ignore"):  # c = -inf: 0 * inf, replaced by 0 below
            z = (c[None, :] - mu[:, None]) / sigma[:, None]
            out = (c[None, :] - mu[:, None]) * norm.cdf(z) + sigma[:, None] * norm.pdf(z)
        return np.where(np.isfinite(c)[None, :], out, 0.0)

    width = below(a[1:], mean[:, 0], sd[:, 0]) - below(a[:-1], mean[:, 0], sd[:, 0])
    depth = below(height, mean[:, 1], sd[:, 1])
    return np.asarray(np.sum(width * depth, axis=1), dtype=float)
