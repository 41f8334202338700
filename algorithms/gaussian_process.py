"""Our Gaussian process: ARD Matern 5/2 on ``[0, 1]^d`` fitted by maximum a posteriori, and log
expected improvement with its gradient, all in numpy.

scikit-optimize's GP (scikit-learn's underneath) fits the same kernel, but its noise term may grow
to explain away a wide-ranging objective, it has no priors, and it gives no gradient of the
acquisition; BBOB-like objectives span orders of magnitude. Here the objective values are
standardised after a monotone transform that tames heavy upper tails, the kernel
hyperparameters get weak priors and bounds (noise small), and ``log_ei`` is numerically stable
where expected improvement underflows, so candidates can be polished with L-BFGS-B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotri, dpotrs, dtrtrs
from scipy.optimize import minimize
from scipy.special import erfcx, ndtr

_SQRT5 = math.sqrt(5.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# bounds of the log hyperparameters: length scales, signal variance, noise variance
_LOG_LENGTH = (math.log(0.01), math.log(20.0))
_LOG_SIGNAL = (math.log(0.05), math.log(20.0))
_LOG_NOISE = (math.log(1e-6), math.log(0.1))
_NOISE_PRIOR = (-9.0, 3.0)  # log-normal: the centre and spread of the log noise variance
_JITTER = 1e-8
_FIT_POINTS = 60
_FIT_FTOL = 1e-4  # relative: the likelihood needs no more digits than this
_BLOCK = 256  # candidate rows per block of a prediction


@dataclass(frozen=True)
class Standardiser:
    """A monotone map of objective values to the scale the GP learns: a log-like squashing of
    the tail above the median (values far worse than typical ones would otherwise flatten
    everything the model sees near the best), then zero mean and unit variance. Monotone, so the
    best point stays the best; learnt once per fit and kept for the constant liar's refits."""

    median: float
    spread: float
    mean: float
    std: float

    @classmethod
    def of(cls, y: np.ndarray) -> Standardiser:
        y = np.asarray(y, dtype=float)
        med = float(np.median(y)) if len(y) else 0.0
        spread = float(np.median(np.abs(y - med))) if len(y) else 0.0
        spread = spread or float(np.std(y)) or 1.0
        z = _squash((y - med) / spread)
        return cls(med, spread, float(z.mean()) if len(z) else 0.0, float(z.std()) or 1.0)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return (_squash((np.asarray(y, dtype=float) - self.median) / self.spread) - self.mean) / (
            self.std
        )

    def inverse(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective values whose transform is ``t``, and the derivative of the map there."""
        z = np.asarray(t, dtype=float) * self.std + self.mean
        up = z > 0
        s = np.where(up, np.expm1(np.minimum(np.maximum(z, 0.0), 700.0)), z)
        slope = np.where(up, np.exp(np.minimum(np.maximum(z, 0.0), 700.0)), 1.0)
        return self.median + self.spread * s, self.spread * self.std * slope


def _squash(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, np.log1p(np.maximum(z, 0.0)), z)


def _matern(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matern 5/2 at distance ``r`` (unit variance) and ``-(dk/dr)/r`` (finite at 0)."""
    e = np.exp(-_SQRT5 * r)
    return (1.0 + _SQRT5 * r + 5.0 / 3.0 * r * r) * e, 5.0 / 3.0 * (1.0 + _SQRT5 * r) * e


def _scaled_distance(a: np.ndarray, b: np.ndarray, length: np.ndarray) -> np.ndarray:
    a, b = a / length, b / length
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


class GaussianProcess:
    """A GP regression of (transformed) values on points of ``[0, 1]^d``."""

    def __init__(self, log_length: np.ndarray, log_signal: float, log_noise: float) -> None:
        self.log_length = np.asarray(log_length, dtype=float)
        self.log_signal = float(log_signal)
        self.log_noise = float(log_noise)
        self.x = np.empty((0, len(self.log_length)))
        self.y = np.empty(0)
        self._chol = np.empty((0, 0))  # lower Cholesky factor of K + noise I once conditioned
        self._alpha = np.empty(0)  # (K + noise I)^-1 y

    @classmethod
    def fitted(cls, x: np.ndarray, y: np.ndarray, restarts: int = 1) -> GaussianProcess:
        """Maximum a posteriori hyperparameters for ``(x, y)`` (``y`` already standardised),
        from fixed starting points, so the fit is deterministic. Past ``_FIT_POINTS`` points the
        hyperparameters are learnt on a subset (the best half and an even spread of the rest),
        and the GP is then conditioned on every point: the fit costs n^3 per step."""
        full_x, full_y = x, y
        if len(y) > _FIT_POINTS:
            order = np.argsort(y, kind="stable")
            half = _FIT_POINTS // 2
            rest = order[half:][np.linspace(0, len(y) - half - 1, _FIT_POINTS - half).astype(int)]
            keep = np.sort(np.concatenate([order[:half], rest]))
            x, y = x[keep], y[keep]
        d = x.shape[1]
        starts = [np.concatenate([np.full(d, math.log(0.5)), [0.0, math.log(1e-3)]])]
        if restarts > 0:
            starts.append(np.concatenate([np.full(d, math.log(0.15)), [0.0, math.log(1e-4)]]))
        bounds = [_LOG_LENGTH] * d + [_LOG_SIGNAL, _LOG_NOISE]
        sq = ((x[:, None, :] - x[None, :, :]) ** 2).reshape(-1, d)  # the same at every step
        best: tuple[float, np.ndarray] | None = None
        for theta0 in starts:
            result = minimize(
                _neg_log_posterior,
                theta0,
                args=(sq, y),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 100, "ftol": _FIT_FTOL},
            )
            if np.isfinite(result.fun) and (best is None or result.fun < best[0]):
                best = (float(result.fun), result.x)
        theta = starts[0] if best is None else best[1]
        return cls(theta[:d], float(theta[d]), float(theta[d + 1])).conditioned(full_x, full_y)

    def conditioned(self, x: np.ndarray, y: np.ndarray) -> GaussianProcess:
        """This GP's hyperparameters, conditioned on ``(x, y)``."""
        gp = GaussianProcess(self.log_length, self.log_signal, self.log_noise)
        gp.x, gp.y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        k = self._kernel(gp.x, gp.x)
        k[np.diag_indices_from(k)] += math.exp(self.log_noise) + _JITTER
        chol, info = dpotrf(k, lower=1, clean=1)
        if info != 0:
            raise np.linalg.LinAlgError("not positive definite")
        gp._chol = np.asfortranarray(chol)
        gp._alpha, _ = dpotrs(gp._chol, gp.y, lower=1)
        return gp

    def _whitened(self, ks: np.ndarray) -> np.ndarray:
        """``L^-1 k`` for the rows ``k`` of ``ks`` (as columns, ``(n, m)``): the posterior
        variance is ``signal - |L^-1 k|^2``. Near the data of a smooth, long-scaled kernel
        (condition numbers of 1e6 to 1e8) this keeps the variance to its last digits, where
        ``k K^-1 k`` through the explicit inverse came out noisy by 1e-5 of the standard
        deviation: enough to make the acquisition rough on the scale of polishing steps."""
        v, info = dtrtrs(self._chol, ks.T, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("singular")
        return v

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        k, _ = _matern(_scaled_distance(a, b, np.exp(self.log_length)))
        return math.exp(self.log_signal) * k

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at ``x``, computed
        ``_BLOCK`` rows at a time: each block's temporaries are small enough for the allocator
        to reuse the same memory, where a whole candidate set's would be fresh pages (page
        faults cost more than the arithmetic here)."""
        x = np.asarray(x, dtype=float)
        mean, std = np.empty(len(x)), np.empty(len(x))
        length = np.exp(self.log_length)
        signal = math.exp(self.log_signal)
        scaled = self.x / length
        norms = (scaled * scaled).sum(1)
        for start in range(0, len(x), _BLOCK):
            rows = slice(start, start + _BLOCK)
            a = x[rows] / length
            ks = a @ scaled.T  # becomes the kernel in place
            ks *= -2.0
            ks += (a * a).sum(1)[:, None]
            ks += norms
            np.maximum(ks, 0.0, out=ks)
            np.sqrt(ks, out=ks)
            e = np.multiply(ks, -_SQRT5)
            np.exp(e, out=e)
            e *= signal
            poly = np.multiply(ks, 5.0 / 3.0)  # Matern 5/2: (1 + sqrt5 r + 5/3 r^2) e
            poly += _SQRT5
            poly *= ks
            poly += 1.0
            poly *= e
            mean[rows] = poly @ self._alpha
            v = self._whitened(poly)
            v *= v
            std[rows] = signal - v.sum(0)
        np.maximum(std, 1e-12, out=std)
        return mean, np.sqrt(std, out=std)

    def predict_with_gradient(
        self, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, standard deviation and their gradients (``(m, d)``) at the rows of ``x``."""
        inv_sq = np.exp(-2.0 * self.log_length)  # 1 / length^2
        signal = math.exp(self.log_signal)
        diff = x[:, None, :] - self.x[None, :, :]  # (m, n, d)
        r = np.sqrt((diff * diff) @ inv_sq)
        e = np.exp(-_SQRT5 * r)
        e *= signal
        ks = (1.0 + _SQRT5 * r + 5.0 / 3.0 * r * r) * e
        g = (5.0 / 3.0) * (1.0 + _SQRT5 * r) * e  # d k(x, x_i) / d x = -g (x - x_i) / length^2
        mean = ks @ self._alpha
        v = self._whitened(ks)  # L^-1 k*, (n, m)
        std = np.sqrt(np.maximum(signal - (v * v).sum(0), 1e-12))
        w, _ = dtrtrs(self._chol, v, lower=1, trans=1)  # K^-1 k*, (n, m)
        w = w.T
        # one batched product for both: sum_i g_i alpha_i (x - x_i) and sum_i g_i w_i (x - x_i)
        both = (np.stack([g * self._alpha, g * w], axis=1) @ diff) * inv_sq  # (m, 2, d)
        # d var / dx = 2 sum_i g_i w_i (x - x_i) / length^2, and d std = d var / (2 std)
        return mean, std, -both[:, 0], both[:, 1] / std[:, None]


def _neg_log_posterior(
    theta: np.ndarray, sq: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood plus log priors, and its gradient in ``theta``;
    ``sq`` holds the squared coordinate differences of the points, ``(n * n, d)``.

    Written for the small matrices of a fit (n <= 60): few numpy calls, the squared scaled
    distances and the length-scale gradient as matrix-vector products over ``sq``."""
    n, d = len(y), sq.shape[1]
    signal, noise = math.exp(theta[d]), math.exp(theta[d + 1])
    weights = np.exp(-2.0 * theta[:d])  # 1 / length_d^2
    r = np.sqrt(sq @ weights).reshape(n, n)
    e = np.exp(-_SQRT5 * r)
    # signal e (1 + sqrt5 r + 5/3 r^2) and -(dk/dr)/r = 5/3 signal (1 + sqrt5 r) e, as in
    # _matern, sharing 1 + sqrt5 r and computed in place (the same operations in the same order)
    linear = _SQRT5 * r
    linear += 1.0
    kern = 5.0 / 3.0 * r
    kern *= r
    kern += linear
    kern *= signal * e
    g = (5.0 / 3.0 * signal) * linear
    g *= e
    kn = kern.copy()
    kn.flat[:: n + 1] += noise + _JITTER
    chol, info = dpotrf(kn, lower=1, clean=1)  # clean: the upper half zero, in the inverse too
    if info != 0:
        return 1e10, np.zeros_like(theta)
    alpha, info = dpotrs(chol, y, lower=1)
    lower, info_inv = dpotri(chol, lower=1)  # the lower half of K^-1, zeros above
    if info != 0 or info_inv != 0:
        return 1e10, np.zeros_like(theta)
    log_det = 2.0 * float(np.log(chol.diagonal()).sum())
    nll = 0.5 * float(y @ alpha) + 0.5 * log_det + n * _LOG_SQRT_2PI
    # the gradient's sums run over symmetric matrices, so the lower half of the inverse
    # (dpotri's output) counted twice stands for the whole: alpha alpha^T - 2 tril(K^-1), with
    # the diagonal added back where it matters (the signal's term; the distances' is zero)
    inner = np.outer(alpha, alpha)
    inner -= lower
    inner -= lower
    trace = float(lower.trace())
    grad = np.empty_like(theta)
    grad[:d] = -0.5 * ((inner * g).ravel() @ sq) * weights
    grad[d] = -0.5 * (float((inner * kern).sum()) + signal * trace)
    grad[d + 1] = -0.5 * noise * (float(alpha @ alpha) - trace)
    # priors: length scales log-normal around 0.5 of the cube, signal near 1, noise small
    centred = theta[:d] - math.log(0.5)
    nll += 0.5 * float(centred @ centred) / 1.5**2
    noise_centre, noise_spread = _NOISE_PRIOR
    nll += 0.5 * (theta[d] / 1.5) ** 2 + 0.5 * ((theta[d + 1] - noise_centre) / noise_spread) ** 2
    grad[:d] += centred / 1.5**2
    grad[d] += theta[d] / 1.5**2
    grad[d + 1] += (theta[d + 1] - noise_centre) / noise_spread**2
    return float(nll), grad


def log_h(z: np.ndarray) -> np.ndarray:
    """``log(phi(z) + z Phi(z))`` without underflow for very negative ``z``."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    big = z > -1.0
    zb = z[big]
    out[big] = np.log(np.exp(-0.5 * zb * zb - _LOG_SQRT_2PI) + zb * ndtr(zb))
    zs = np.maximum(z[~big], -1e6)
    # phi(z) (1 - w), w = -z Phi(z) / phi(z) = -z sqrt(pi/2) erfcx(-z / sqrt 2), in (0, 1)
    w = -zs * math.sqrt(math.pi / 2.0) * erfcx(-zs / math.sqrt(2.0))
    out[~big] = -0.5 * zs * zs - _LOG_SQRT_2PI + np.log1p(-np.minimum(w, 1.0 - 1e-16))
    return out


def log_ei(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log expected improvement below ``best`` (higher is better)."""
    return np.log(std) + log_h((best - mean) / std)
