"""Our adapter over scikit-optimize: its tree surrogates and acquisition functions, and our own
Gaussian process (``tuner.algorithms.gaussian_process``) in place of its GP.

This is the only module that imports ``skopt``; the Bayesian algorithm talks to ``Surrogate``
alone, so that replacing scikit-optimize touches this file only. scikit-optimize's GP was
replaced (issue 16): it has no priors, its noise term could swallow a wide-ranging objective, and
it gives no gradient for polishing the acquisition. The tree models (RF, ET, GBRT) are its own.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.special import log_ndtr

from tuner.algorithms.gaussian_process import GaussianProcess, Standardiser, log_ei, log_h

SURROGATES = ("GP", "RF", "ET", "GBRT")
ACQUISITIONS = ("LogEI", "gp_hedge", "EI", "PI", "LCB")
_FEW_POINTS = 50  # past this the first kernel fit is good enough: no restart


class Surrogate:
    """A regression model of the objective on feature vectors in ``[0, 1]^dims``, with its spread.

    ``fit`` learns the model (for the GP its kernel hyperparameters too); ``refit`` learns new
    data with the same hyperparameters, which is what the constant liar needs and costs far
    less. The GP learns transformed values (``Standardiser``, learnt again by every fit) and its
    ``acquisition`` works on them; ``predict`` answers in the objective's units.
    """

    def __init__(self, kind: str, dims: int, seed: int) -> None:
        if kind not in SURROGATES:
            raise ValueError(f"unknown surrogate {kind!r}")
        self.kind = kind
        self.dims = dims
        self.seed = seed
        self.scale = 1.0
        self.model: Any = None
        self.gp: GaussianProcess | None = None
        self.standardiser: Standardiser | None = None
        if kind != "GP":
            from skopt.utils import cook_estimator

            space = [(0.0, 1.0)] * dims
            self.model = cook_estimator(kind, space=space, random_state=seed)

    def fit(self, x: np.ndarray, y: np.ndarray) -> Surrogate:
        self.scale = float(np.std(y)) or 1.0
        if self.kind == "GP":
            self.standardiser = Standardiser.of(y)
            yt = self.standardiser(y)
            if self.gp is None:
                self.gp = GaussianProcess.fitted(x, yt, restarts=int(len(y) < _FEW_POINTS))
            else:
                self.gp = self.gp.conditioned(x, yt)
            return self
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter
            self.model.fit(x, y)
        return self

    def refit(self, x: np.ndarray, y: np.ndarray) -> Surrogate:
        """A new surrogate on ``(x, y)`` that keeps this one's learnt hyperparameters (GP)."""
        twin = Surrogate.__new__(Surrogate)
        twin.kind, twin.dims, twin.seed, twin.scale = self.kind, self.dims, self.seed, self.scale
        twin.gp, twin.standardiser, twin.model = self.gp, self.standardiser, None
        if self.kind != "GP":
            from sklearn.base import clone

            twin.model = clone(self.model)
        return twin.fit(x, y)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread in the objective's units (the GP's back through its transform, the
        spread to first order)."""
        if self.gp is not None and self.standardiser is not None:
            mean, std = self.gp.predict(x)
            value, slope = self.standardiser.inverse(mean)
            return value, std * slope
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "predicted variances smaller than 0" near data
            mean, std = self.model.predict(x, return_std=True)
        return np.asarray(mean, dtype=float), np.asarray(std, dtype=float)

    def acquisition(
        self, x: np.ndarray, kind: str, y_best: float, xi: float, kappa: float
    ) -> np.ndarray:
        """Values of acquisition ``kind`` (LogEI, EI, PI or LCB) at ``x``; lower is more
        promising."""
        if self.gp is not None and self.standardiser is not None:
            mean, std = self.gp.predict(x)
            best = self._threshold(kind, y_best, xi)
            if kind in ("LogEI", "EI"):
                return -log_ei(mean, std, best)
            if kind == "PI":
                return -log_ndtr((best - mean) / std)
            return mean - kappa * std
        from skopt.acquisition import _gaussian_acquisition

        if kind == "LogEI":  # the trees' spread is coarse: plain EI, whose order is the same
            kind = "EI"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(
                _gaussian_acquisition(
                    x,
                    self.model,
                    y_opt=y_best,
                    acq_func=kind,
                    acq_func_kwargs={"xi": xi, "kappa": kappa},
                ),
                dtype=float,
            )

    def _threshold(self, kind: str, y_best: float, xi: float) -> float:
        """The value to improve on, on the GP's scale: ``y_best - xi`` (``xi`` in the
        objective's units, as scikit-optimize means it) for EI and PI, ``y_best`` for LogEI."""
        assert self.standardiser is not None
        target = y_best if kind == "LogEI" else y_best - xi
        return float(self.standardiser(np.array([target]))[0])

    @property
    def has_gradient(self) -> bool:
        """Whether ``acquisition_gradient`` answers (the GP) or gives None (the trees)."""
        return self.kind == "GP"

    def acquisition_gradient(
        self, x: np.ndarray, kind: str, y_best: float, xi: float, kappa: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``acquisition`` at ``x`` and its gradient in ``x`` (GP only; None for the trees)."""
        if self.gp is None or self.standardiser is None:
            return None
        mean, std, dmean, dstd = self.gp.predict_with_gradient(x)
        best = self._threshold(kind, y_best, xi)
        if kind == "LCB":
            return mean - kappa * std, dmean - kappa * dstd
        z = (best - mean) / std
        dz = (-dmean - z[:, None] * dstd) / std[:, None]
        if kind == "PI":
            value = log_ndtr(z)
            ratio = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - value)
            return -value, -ratio[:, None] * dz
        lh = log_h(z)
        ratio = np.exp(log_ndtr(z) - lh)
        return -(np.log(std) + lh), -(dstd / std[:, None] + ratio[:, None] * dz)
