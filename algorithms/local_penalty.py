"""Local penalisation of pending points (González, Dai, Hennig and Lawrence, "Batch Bayesian
Optimization via Local Penalization", AISTATS 2016): the batch's other way to keep parallel
workers apart, beside fantasies.

Where a fantasy refits the model as if a pending point had returned a value, a penalty leaves the
model alone and lowers the acquisition around each pending point ``x_j``, by the probability that
a new point lies outside the ball that ``x_j`` rules out. With ``L`` a Lipschitz constant of the
objective and ``M`` the best value so far, nothing within ``|f(x_j) - M| / L`` of ``x_j`` can
differ from ``f(x_j)`` by more than the gap to ``M``; with ``f(x_j)`` the model's normal there,
the penalty is ``Phi((L |x - x_j| - |mu_j - M|) / sigma_j)``, at most one half at ``x_j``. A
pending point the model expects far from the best (worse, or better: the points a batch picks
are expected to improve, and the paper's signed gap would rule out nothing around them) rules
out a wide ball, one expected at the best a small one.

Everything is on the GP's own scale (standardised values, feature coordinates); ``L`` is the
steepest slope of the model's mean over the candidates and the data. The penalty enters the
acquisition as ``-log`` of it (our acquisitions are minimised), with its gradient, so polishing
sees it.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from tuner.algorithms.skopt_surrogate import Surrogate

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_MIN_SLOPE = 1e-6


class LocallyPenalised:
    """``model``'s acquisition with the penalties of the pending points ``pending`` (feature
    rows); ``probe``: points whose mean slopes estimate ``L`` (candidates and data). Answers
    ``acquisition``, ``acquisition_gradient``, ``predict``, ``has_gradient`` and ``scale`` like a
    ``Surrogate`` (the GP only)."""

    def __init__(self, model: Surrogate, pending: np.ndarray, probe: np.ndarray) -> None:
        assert model.gp is not None
        self.model = model
        self.scale = model.scale
        gp = model.gp
        _, _, slope, _ = gp.predict_with_gradient(np.vstack([probe, gp.x]))
        self.lipschitz = max(float(np.sqrt((slope * slope).sum(1)).max()), _MIN_SLOPE)
        self.best = float(gp.y.min())
        self.pending = np.asarray(pending, dtype=float)
        mean, std = gp.predict(self.pending) if len(self.pending) else (np.empty(0),) * 2
        self.mean, self.std = mean, std

    @property
    def has_gradient(self) -> bool:
        return self.model.has_gradient

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.model.predict(x)

    def penalty(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``-sum_j log phi_j(x)`` at the rows of ``x`` and its gradient."""
        value = np.zeros(len(x))
        grad = np.zeros_like(x, dtype=float)
        for xj, mu, sigma in zip(self.pending, self.mean, self.std, strict=True):
            diff = x - xj
            dist = np.sqrt((diff * diff).sum(1))
            z = (self.lipschitz * dist - abs(mu - self.best)) / sigma
            log_phi = log_ndtr(z)
            value -= log_phi
            # d(-log Phi(z))/dz = -pdf(z) / Phi(z); dz/dx = L (x - x_j) / (|x - x_j| sigma)
            ratio = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - log_phi)
            unit = diff / np.maximum(dist, 1e-12)[:, None]
            grad -= (ratio * self.lipschitz / sigma)[:, None] * unit
        return value, grad

    def acquisition(
        self, x: np.ndarray, kind: str, y_best: float, xi: float, kappa: float
    ) -> np.ndarray:
        base = self.model.acquisition(x, kind, y_best, xi, kappa)
        return _as_log(kind, base)[0] + self.penalty(x)[0]

    def acquisition_gradient(
        self, x: np.ndarray, kind: str, y_best: float, xi: float, kappa: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        got = self.model.acquisition_gradient(x, kind, y_best, xi, kappa)
        if got is None:
            return None
        base, slope = _as_log(kind, got[0])
        value, grad = self.penalty(x)
        return base + value, slope[:, None] * got[1] + grad


def _as_log(kind: str, acq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The acquisition as ``-log`` of a positive utility, and the derivative of that map: LogEI,
    EI and PI already are; LCB (a value to minimise, any sign) becomes ``-log softplus(-LCB)``,
    as the paper does, so that a penalty multiplies the utility."""
    if kind != "LCB":
        return acq, np.ones_like(acq)
    soft = np.logaddexp(0.0, -acq)  # softplus(-acq) > 0
    # d(-log softplus(-a))/da = sigmoid(-a) / softplus(-a)
    return -np.log(soft), np.exp(-np.logaddexp(0.0, acq)) / soft
