"""Where the Bayesian search looks for its next point: random candidates over the unit cube and
local ones around the best points so far, a finer look around the ten best by the acquisition,
L-BFGS-B polish of the best few on the GP's acquisition gradient, and the best candidate not
tried yet. gp_hedge's pick of an acquisition is here too.

Rows are unit coordinates of the search space (NaN for an inactive parameter); ``features``
turns them into what the surrogate sees (``BayesianSearch.features``). Lower acquisition values
are better (the surrogate's ``acquisition`` is minimised).
"""

from __future__ import annotations

from collections.abc import Callable, MutableSet
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from tuner.algorithms.observations import canonical, filled
from tuner.algorithms.skopt_surrogate import Surrogate
from tuner.space import SearchSpace

_RANDOM_CANDIDATES = 600
_LOCAL_CANDIDATES = 100  # around each of the best few points
LOCAL_CENTRES = 5
_POLISHED = 3  # candidates polished by L-BFGS-B on the GP's acquisition
_POLISH_STEPS = 12

Acquire = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class AcquisitionSearch:
    """The search over ``space``'s unit cube; ``categorical``: the columns of categorical
    parameters (never polished)."""

    space: SearchSpace
    features: Callable[[np.ndarray], np.ndarray]
    categorical: frozenset[int]

    def candidates(self, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
        """Where to look: random points, and points near each of ``centres`` (unit rows)."""
        d = len(self.space)
        local = [
            c + rng.normal(0.0, sd, size=(_LOCAL_CANDIDATES // 2, d))
            for c in centres
            for sd in (0.02, 0.1)
        ]
        return canonical(self.space, np.vstack([rng.random((_RANDOM_CANDIDATES, d)), *local]))

    def best_unseen(
        self,
        rng: np.random.Generator,
        cand: np.ndarray,
        acquire: Acquire,
        seen: MutableSet[Any],
        acq: np.ndarray | None = None,
        polish: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray | None:
        """The unseen candidate with the lowest ``acquire`` (``acq``: its values at ``cand``,
        when known), after a second, finer look around the ten best, and ``polish`` of the
        best few (moved candidates, maybe none)."""
        d = len(self.space)
        acq = acquire(cand) if acq is None else acq
        top = cand[np.argsort(acq, kind="stable")[:10]]
        fine = canonical(
            self.space, np.repeat(filled(top), 20, axis=0) + rng.normal(0.0, 0.01, size=(200, d))
        )
        cand = np.vstack([cand, fine])
        acq = np.concatenate([acq, acquire(fine)])
        if polish is not None:
            polished = polish(cand[np.argsort(acq, kind="stable")[:_POLISHED]])
            if len(polished):
                cand = np.vstack([polished, cand])
                acq = np.concatenate([acquire(polished), acq])
        for i in np.argsort(acq, kind="stable"):
            if self.space.key(self.space.from_unit(cand[i])) not in seen:
                return np.asarray(cand[i])
        return None

    def polished(
        self,
        model: Surrogate,
        rows: np.ndarray,
        kind: str,
        y_best: float,
        xi: float,
        kappa: float,
    ) -> np.ndarray:
        """The best candidates moved uphill on the acquisition by L-BFGS-B, over their active
        numeric coordinates (one problem for all: the sum of separate terms), then snapped to
        legal points; a point whose active parameters changed is dropped. Empty for the trees."""
        numeric = [j for j in range(rows.shape[1]) if j not in self.categorical]
        if not numeric or not model.has_gradient:
            return rows[:0]
        x0 = self.features(rows)
        m = len(numeric)
        free = ~np.isnan(rows[:, numeric])
        if not free.any():
            return rows[:0]

        def at(v: np.ndarray) -> np.ndarray:
            x = x0.copy()
            head = x[:, :m]
            head[free] = v
            x[:, :m] = head
            return x

        def objective(v: np.ndarray) -> tuple[float, np.ndarray]:
            got = model.acquisition_gradient(at(v), kind, y_best, xi, kappa)
            assert got is not None
            value, grad = got
            return float(value.sum()), grad[:, :m][free]

        result = minimize(
            objective,
            x0[:, :m][free],
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * int(free.sum()),
            options={"maxiter": _POLISH_STEPS},
        )
        moved = rows.copy()
        block = moved[:, numeric]
        block[free] = result.x
        moved[:, numeric] = block
        snapped = canonical(self.space, filled(moved))
        same = (np.isnan(snapped) == np.isnan(rows)).all(axis=1)
        return snapped[same]


def hedge(
    rng: np.random.Generator,
    model: Surrogate,
    x: np.ndarray,
    y_best: float,
    xi: float,
    kappa: float,
) -> tuple[str, np.ndarray]:
    """gp_hedge without memory: each acquisition nominates its best candidate, and one is drawn
    with probability growing with how good the model expects its nominee to be."""
    kinds = ("EI", "PI", "LCB")
    acqs = [model.acquisition(x, k, y_best, xi, kappa) for k in kinds]
    mean, _ = model.predict(x[[int(np.argmin(a)) for a in acqs]])
    gains = -(mean - mean.min()) / model.scale
    probs = np.exp(gains - gains.max())
    pick = int(rng.choice(3, p=probs / probs.sum()))
    return kinds[pick], acqs[pick]
