"""Local penalisation of pending points: the penalty's shape and its gradient."""

from __future__ import annotations

import numpy as np
import pytest

from tuner.algorithms.local_penalty import LocallyPenalised
from tuner.algorithms.skopt_surrogate import Surrogate


def penalised(pending: np.ndarray) -> tuple[LocallyPenalised, float]:
    rng = np.random.default_rng(0)
    x = rng.random((25, 3))
    y = ((x - 0.3) ** 2).sum(1)
    model = Surrogate("GP", 3, 0).fit(x, y)
    return LocallyPenalised(model, pending, rng.random((100, 3))), float(y.min())


@pytest.mark.parametrize("kind", ["LogEI", "EI", "PI", "LCB"])
def test_the_gradient_is_the_derivative(kind: str) -> None:
    model, best = penalised(np.random.default_rng(1).random((2, 3)))
    at = np.random.default_rng(2).random((4, 3))
    got = model.acquisition_gradient(at, kind, best, 0.01, 1.96)
    assert got is not None
    value, grad = got
    np.testing.assert_allclose(value, model.acquisition(at, kind, best, 0.01, 1.96))
    step = 1e-6
    numeric = np.stack(
        [
            (
                model.acquisition(at + e, kind, best, 0.01, 1.96)
                - model.acquisition(at - e, kind, best, 0.01, 1.96)
            )
            / (2 * step)
            for e in np.eye(3) * step
        ],
        axis=1,
    )
    scale = np.abs(numeric).max(axis=1, keepdims=True)
    assert np.all(np.abs(grad - numeric) <= 1e-4 * scale)


def test_the_penalty_is_largest_at_a_pending_point_and_fades_away_from_it() -> None:
    pending = np.array([[0.3, 0.3, 0.3]])  # at the model's best: a small ball, but a ball
    model, _ = penalised(pending)
    assert model.lipschitz > 0
    distances = [0.0, 0.01, 0.05, 0.2, 0.6]
    values = [model.penalty(pending + d)[0][0] for d in distances]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert values[0] >= np.log(2.0)  # Phi(-gap / sigma) <= 1/2 at the point itself
    assert values[-1] < 1e-6
    # without pending points the acquisition is the model's own
    plain, best = penalised(np.empty((0, 3)))
    at = np.random.default_rng(3).random((5, 3))
    np.testing.assert_allclose(
        plain.acquisition(at, "LogEI", best, 0.01, 1.96),
        plain.model.acquisition(at, "LogEI", best, 0.01, 1.96),
    )
