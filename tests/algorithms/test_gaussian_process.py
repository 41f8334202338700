"""Our Gaussian process (issue 16): the kernel fit's gradient, LogEI where EI underflows, the
acquisition gradient that polishing follows, and the objective transform."""

from __future__ import annotations

import math

import numpy as np

from tuner.algorithms import gaussian_process as gpm
from tuner.algorithms.skopt_surrogate import Surrogate


def data(n: int = 25, d: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((n, d))
    return x, np.sin(5 * x[:, 0]) + 10.0 ** (3 * x[:, 1])  # spans three orders of magnitude


def test_the_fit_s_gradient_is_the_derivative_of_its_objective() -> None:
    x, y = data()
    yt = gpm.Standardiser.of(y)(y)
    sq = ((x[:, None, :] - x[None, :, :]) ** 2).reshape(-1, x.shape[1])
    theta = np.array([math.log(0.3), math.log(0.7), math.log(1.5), 0.2, math.log(1e-3)])
    _, grad = gpm._neg_log_posterior(theta, sq, yt)
    step = 1e-6
    numeric = [
        (
            gpm._neg_log_posterior(theta + e, sq, yt)[0]
            - gpm._neg_log_posterior(theta - e, sq, yt)[0]
        )
        / (2 * step)
        for e in np.eye(len(theta)) * step
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


def test_log_ei_stays_finite_and_ordered_where_ei_underflows() -> None:
    z = np.array([-60.0, -40.0, -20.0, -5.0, -1.0, 0.0, 2.0])
    plain = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) + z * 0.5 * (
        1 + np.vectorize(math.erf)(z / math.sqrt(2))
    )
    assert plain[0] == 0.0  # EI itself is lost here
    values = gpm.log_h(z)
    assert np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)
    np.testing.assert_allclose(values[3:], np.log(plain[3:]), rtol=1e-9)
    # on both sides of the switch between the two formulas
    np.testing.assert_allclose(
        gpm.log_h(np.array([-1.0 - 1e-9])), gpm.log_h(np.array([-1.0 + 1e-9])), rtol=1e-6
    )


def test_the_acquisition_gradient_is_its_derivative() -> None:
    x, _ = data(30)
    y = np.sin(5 * x[:, 0]) + x[:, 1] ** 2  # smooth: finite differences are accurate on it
    model = Surrogate("GP", x.shape[1], 0).fit(x, y)
    at = np.random.default_rng(1).random((4, x.shape[1]))
    for kind in ("LogEI", "EI", "PI", "LCB"):
        got = model.acquisition_gradient(at, kind, float(y.min()), 0.01, 1.96)
        assert got is not None
        value, grad = got
        np.testing.assert_allclose(value, model.acquisition(at, kind, float(y.min()), 0.01, 1.96))
        step = 1e-6
        numeric = np.stack(
            [
                (
                    model.acquisition(at + e, kind, float(y.min()), 0.01, 1.96)
                    - model.acquisition(at - e, kind, float(y.min()), 0.01, 1.96)
                )
                / (2 * step)
                for e in np.eye(x.shape[1]) * step
            ],
            axis=1,
        )
        # LogEI is steep far from the best (gradients of 1e5): compare within each point's scale
        scale = np.abs(numeric).max(axis=1, keepdims=True)
        assert np.all(np.abs(grad - numeric) <= 1e-2 * scale), (kind, grad, numeric)


def test_the_spread_is_smooth_near_the_data_of_an_ill_conditioned_kernel() -> None:
    # long length scales, a large signal and little noise (what a fit on a smooth bowl gives
    # after a hundred trials): K's condition number is about 2e6. On a line of tiny steps next
    # to a data point the spread must change smoothly, or polishing the acquisition there
    # fails its line searches (computed through K's explicit inverse it jumped by +-5e-8 where
    # each step moves it by 3e-8)
    rng = np.random.default_rng(3)
    x = rng.random((100, 5))
    y = ((x - 0.5) ** 2).sum(1)
    gp = gpm.GaussianProcess(np.full(5, math.log(2.0)), math.log(20.0), math.log(1e-5))
    gp = gp.conditioned(x, (y - y.mean()) / y.std())
    direction = rng.standard_normal(5) / math.sqrt(5)
    line = x[7] + 0.003 + np.linspace(-1e-6, 1e-6, 9)[:, None] * direction
    for std in (gp.predict(line)[1], gp.predict_with_gradient(line)[1]):
        steps = np.diff(std)
        assert np.all(np.abs(steps - steps.mean()) <= 0.05 * np.abs(steps.mean())), steps


def test_the_transform_keeps_the_order_and_tames_the_tail() -> None:
    _, y = data()
    yt = gpm.Standardiser.of(y)(y)
    assert list(np.argsort(yt, kind="stable")) == list(np.argsort(y, kind="stable"))
    assert abs(yt.mean()) < 1e-9 and abs(yt.std() - 1.0) < 1e-9
    # the worst value is no longer many standard deviations away from the rest
    assert yt.max() < 3.0 and (y.max() - y.mean()) / y.std() > yt.max()


def test_the_fit_is_deterministic_and_its_noise_small() -> None:
    x, y = data()
    yt = gpm.Standardiser.of(y)(y)
    a, b = gpm.GaussianProcess.fitted(x, yt), gpm.GaussianProcess.fitted(x, yt)
    np.testing.assert_array_equal(a.log_length, b.log_length)
    assert math.exp(a.log_noise) <= 0.1 + 1e-12
    mean, std = a.predict(x)
    assert np.abs(mean - yt).max() < 0.2 and std.max() < 0.3  # it interpolates what it saw
