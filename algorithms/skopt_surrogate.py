"""Our adapter over scikit-optimize: its surrogate models and acquisition functions, nothing else.

This is the only module that imports ``skopt``; the Bayesian algorithm talks to ``Surrogate``
alone, so that replacing scikit-optimize touches this file only.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

SURROGATES = ("GP", "RF", "ET", "GBRT")
ACQUISITIONS = ("gp_hedge", "EI", "PI", "LCB")
_GP_RESTARTS = 2
_FEW_POINTS = 50  # past this the first kernel fit is good enough: no restarts


class Surrogate:
    """A regression model of the objective on feature vectors in ``[0, 1]^dims``, with its spread.

    ``fit`` learns the model (for the GP its kernel hyperparameters too); ``refit`` learns new
    data with the same hyperparameters, which is what the constant liar needs and costs far less.
    """

    def __init__(self, kind: str, dims: int, seed: int) -> None:
        from skopt.utils import cook_estimator

        if kind not in SURROGATES:
            raise ValueError(f"unknown surrogate {kind!r}")
        self.kind = kind
        self.dims = dims
        self.seed = seed
        space = [(0.0, 1.0)] * dims
        self.model: Any = cook_estimator(kind, space=space, random_state=seed)
        if kind == "GP":
            self.model.set_params(n_restarts_optimizer=_GP_RESTARTS)

    def fit(self, x: np.ndarray, y: np.ndarray) -> Surrogate:
        if self.kind == "GP" and self.model.optimizer is not None:
            self.model.set_params(n_restarts_optimizer=_GP_RESTARTS if len(y) < _FEW_POINTS else 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of the kernel optimiser
            self.model.fit(x, y)
        return self

    def refit(self, x: np.ndarray, y: np.ndarray) -> Surrogate:
        """A new surrogate on ``(x, y)`` that keeps this one's learnt hyperparameters (GP)."""
        twin = Surrogate.__new__(Surrogate)
        twin.kind, twin.dims, twin.seed = self.kind, self.dims, self.seed
        if self.kind == "GP":
            from skopt.learning import GaussianProcessRegressor
            from skopt.learning.gaussian_process.kernels import WhiteKernel

            noise = max(float(self.model.noise_ or 1e-10), 1e-10)
            # kernel_ is (amplitude * Matern) + white noise: keep the first, fix the noise
            kernel = self.model.kernel_.k1 + WhiteKernel(noise, noise_level_bounds="fixed")
            twin.model = GaussianProcessRegressor(
                kernel=kernel,
                normalize_y=True,
                noise="gaussian",
                optimizer=None,
                random_state=self.seed,
            )
        else:
            from sklearn.base import clone

            twin.model = clone(self.model)
        return twin.fit(x, y)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "predicted variances smaller than 0" near data
            mean, std = self.model.predict(x, return_std=True)
        return np.asarray(mean, dtype=float), np.asarray(std, dtype=float)

    def acquisition(
        self, x: np.ndarray, kind: str, y_best: float, xi: float, kappa: float
    ) -> np.ndarray:
        """Values of acquisition ``kind`` (EI, PI or LCB) at ``x``; lower is more promising."""
        from skopt.acquisition import _gaussian_acquisition

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
