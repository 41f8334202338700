"""Bayesian optimisation: a surrogate of the objective (our GP, or scikit-optimize's trees,
through the adapter) fitted on the unit cube, and an acquisition function maximised over
candidates, the best few then polished by L-BFGS-B on the GP's gradient (the search over
candidates: ``acquisition_search``).

We do not run ``skopt.Optimizer``: it refits from scratch and optimises the acquisition with
L-BFGS over 10,000 points on every ``ask``, which costs seconds past 200 trials. Instead the
model sees at most ``max_points`` trials (the best half and the most recent half), the
acquisition is searched over random and local candidates and the best three are polished, and
fitted models are cached on the data they saw, so a fresh instance on the same history answers
the same, only faster.

With several metrics (the ``metrics`` option, given by the scheduler) it is either ParEGO
(Knowles, 2006): every suggestion draws weights (seeded by the history, so a restart draws the
same), scores each trial by the augmented Chebyshev scalarisation of its metrics normalised to
the ranges seen, infeasible trials after every feasible one, and searches that single score as
above; or, with two metrics, the exact expected hypervolume improvement over the feasible front
of a model per metric (infeasible trials modelled beyond the reference point).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, MutableSet, Sequence
from threading import Lock
from typing import Any

import numpy as np

from tuner.algorithm import Algorithm, seen_keys, unseen_points
from tuner.algorithms.acquisition_search import LOCAL_CENTRES, AcquisitionSearch, hedge
from tuner.algorithms.observations import Observations, categorical_columns, filled
from tuner.algorithms.pareto_acquisition import (
    REFERENCE,
    Normaliser,
    Scoring,
    ehvi_2d,
    parego,
    pareto_front,
    penalised,
)
from tuner.algorithms.random_search import SEQUENCES, sobol_points
from tuner.algorithms.skopt_surrogate import ACQUISITIONS, SURROGATES, Surrogate
from tuner.errors import SpecError
from tuner.pareto import objectives_option, violation
from tuner.space import Params, SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

_CACHE_SIZE = 16
FANTASIES = ("liar", "believer")
_cache: OrderedDict[tuple[object, ...], Surrogate] = OrderedDict()
_cache_lock = Lock()


class BayesianSearch(Algorithm):
    """Surrogate ``GP`` (default), ``RF``, ``ET`` or ``GBRT``; acquisition ``LogEI`` (default: log
    expected improvement, stable where EI underflows; ``xi`` does not apply), ``gp_hedge``,
    ``EI``, ``PI`` or ``LCB``. A batch (and running trials) is filled by ``fantasy``
    ``believer`` (default: the kriging believer, pending points count as the model's mean there,
    or the best value so far where the mean is better; it beat the liar with 2 and 4 workers,
    experiments/batch_fantasy.py) or ``liar`` (the constant liar: as the best value so far).
    ``sequence``: the start-up's draws, ``uniform`` (default) or ``sobol`` (as the random
    algorithm's). With ``metrics``: ``mo_acquisition`` ``ehvi`` (expected hypervolume
    improvement, two metrics only), ``parego`` (``rho`` weighs the sum in its
    augmented Chebyshev scalarisation) or ``auto`` (default: EHVI for two metrics, else
    ParEGO)."""

    name = "bayesian"

    def __init__(
        self,
        space: SearchSpace,
        direction: Direction,
        seed: int | None = None,
        *,
        budget: int | None = None,
        surrogate: str = "GP",
        acquisition: str = "LogEI",
        initial_points: int = 10,
        max_points: int = 100,
        xi: float = 0.01,
        kappa: float = 1.96,
        metrics: Sequence[Sequence[str]] | None = None,
        mo_acquisition: str = "auto",
        rho: float = 0.05,
        sequence: str = "uniform",
        fantasy: str = "believer",
    ) -> None:
        super().__init__(space, direction, seed, budget=budget)
        if surrogate not in SURROGATES:
            raise SpecError("surrogate", f"must be one of {', '.join(SURROGATES)}")
        if acquisition not in ACQUISITIONS:
            raise SpecError("acquisition", f"must be one of {', '.join(ACQUISITIONS)}")
        for name, value, least in (
            ("initial_points", initial_points, 0),
            ("max_points", max_points, 10),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise SpecError(name, f"must be an integer of at least {least}")
        for name, number in (("xi", xi), ("kappa", kappa), ("rho", rho)):
            if not isinstance(number, int | float) or isinstance(number, bool) or number < 0:
                raise SpecError(name, "must be a non-negative number")
        self.surrogate = surrogate
        self.acquisition = acquisition
        self.initial_points = initial_points
        self.max_points = max_points
        self.xi = float(xi)
        self.kappa = float(kappa)
        self.objectives = objectives_option(metrics)
        if mo_acquisition not in ("auto", "parego", "ehvi"):
            raise SpecError("mo_acquisition", "must be 'auto', 'parego' or 'ehvi'")
        two = self.objectives is not None and len(self.objectives) == 2
        if mo_acquisition == "ehvi" and self.objectives and not two:
            raise SpecError("mo_acquisition", "'ehvi' needs exactly two metrics (use 'parego')")
        if mo_acquisition == "auto":
            mo_acquisition = "ehvi" if two else "parego"
        self.mo_acquisition = mo_acquisition
        self.rho = float(rho)
        if sequence not in SEQUENCES:
            raise SpecError("sequence", f"must be one of {', '.join(SEQUENCES)}")
        self.sequence = sequence
        if fantasy not in FANTASIES:
            raise SpecError("fantasy", f"must be one of {', '.join(FANTASIES)}")
        self.fantasy = fantasy
        self._categorical = categorical_columns(space)
        self._search = AcquisitionSearch(
            space, self.features, frozenset(j for j, _ in self._categorical)
        )

    # -- the contract -------------------------------------------------------------------------

    def suggest(self, history: Sequence[Trial], n: int) -> list[Params]:
        if n <= 0:
            return []
        rng = np.random.default_rng(None if self.seed is None else [self.seed, len(history)])
        seen = seen_keys(self.space, history)
        obs = Observations.of(self.space, self.direction, history)
        start_up = max(0, self.initial_points - len(obs) - len(obs.pending))
        if len(obs) < 3:
            start_up = n
        if self.sequence == "sobol":
            out = sobol_points(self.space, self.seed, len(history), min(n, start_up), seen, rng)
        else:
            out = self._random(rng, seen, min(n, start_up))
        if len(out) < n and len(out) == min(n, start_up):
            if self.objectives is None:
                out += self._guided(rng, seen, obs, n - len(out), out)
            else:
                several = self._ehvi if self.mo_acquisition == "ehvi" else self._parego
                out += several(rng, seen, history, n - len(out), out)
        return out

    def _tuned(
        self, done: list[Trial], score: Callable[[list[Trial]], Scoring]
    ) -> Surrogate | None:
        """A surrogate whose hyperparameters serve every point of this call: learnt on
        ``score(trials)`` of the complete trials in tens (the first 10k by number), so a full
        kernel fit happens once per ten trials, not once per point (None: too few trials)."""
        cut = done if len(done) < 20 else done[: len(done) - len(done) % 10]
        tuning = Observations.of(self.space, self.direction, cut, score(cut))
        return self._fitted(*self._model_data(tuning)) if len(tuning) >= 3 else None

    def _parego(
        self,
        rng: np.random.Generator,
        seen: MutableSet[Any],
        history: Sequence[Trial],
        n: int,
        chosen: list[Params],
    ) -> list[Params]:
        """ParEGO's points: new random weights for each, the score searched as one metric."""
        m = len(self.objectives or ())
        ordered = sorted(history, key=lambda t: t.number)
        done = [t for t in ordered if t.state is TrialState.COMPLETE]
        equal = np.full(m, 1.0 / m)
        metrics = self._metrics()
        tuned = self._tuned(done, lambda ts: parego(Normaliser(ts, metrics), equal, self.rho))
        normalised = Normaliser(ordered, metrics)
        out: list[Params] = []
        while len(out) < n:
            score = parego(normalised, rng.dirichlet(np.ones(m)), self.rho)
            scored = Observations.of(self.space, self.direction, ordered, score)
            if len(scored) < 3 or tuned is None:
                return out + self._random(rng, seen, n - len(out))
            point = self._guided(rng, seen, scored, 1, chosen + out, tuned)
            if not point:
                break
            out += point
        return out

    def _ehvi(
        self,
        rng: np.random.Generator,
        seen: MutableSet[Any],
        history: Sequence[Trial],
        n: int,
        chosen: list[Params],
    ) -> list[Params]:
        """Expected hypervolume improvement (two metrics): a model of each normalised metric,
        the feasible front, and pending points believed at their predicted metrics."""
        ordered = sorted(history, key=lambda t: t.number)
        done = [t for t in ordered if t.state is TrialState.COMPLETE]
        metrics = self._metrics()
        normalised = Normaliser(ordered, metrics)
        models: list[Surrogate] = []
        data: list[tuple[Observations, np.ndarray, np.ndarray]] = []
        for j in range(2):

            def tuning(trials: list[Trial], j: int = j) -> Scoring:
                return penalised(Normaliser(trials, metrics), j)

            tuned = self._tuned(done, tuning)
            obs = Observations.of(self.space, self.direction, ordered, penalised(normalised, j))
            if tuned is None or len(obs) < 3:
                return self._random(rng, seen, n)
            u, y = self._model_data(obs)
            models.append(tuned.refit(self.features(u), y))
            data.append((obs, u, y))
        obs, y0, y1 = data[0][0], data[0][0].y, data[1][0].y
        # local search around the best of each metric and the best few of their sum
        near = [int(np.argmin(y0)), int(np.argmin(y1)), *np.argsort(y0 + y1, kind="stable")]
        centres = filled(obs.u[list(dict.fromkeys(near))[:LOCAL_CENTRES]])
        feasible = [z for t in done if violation(t) == 0 and (z := normalised(t)) is not None]
        front = pareto_front(np.array(feasible, dtype=float).reshape(-1, 2))
        pending = [obs.pending] + [self.space.to_unit(p)[None, :] for p in chosen]
        reference = (REFERENCE, REFERENCE)
        out: list[Params] = []
        for _ in range(n):
            believed = np.vstack(pending)
            if len(believed):  # kriging believer: pending points count at their predicted costs
                x = self.features(believed)
                guess = np.column_stack([model.predict(x)[0] for model in models])
                front = pareto_front(np.vstack([front, guess]))

            def acquire(cand: np.ndarray, front: np.ndarray = front) -> np.ndarray:
                x = self.features(cand)
                predicted = [model.predict(x) for model in models]
                mean = np.column_stack([p[0] for p in predicted])
                std = np.column_stack([p[1] for p in predicted])
                return -ehvi_2d(mean, std, front, reference)

            point = self._search.best_unseen(
                rng, self._search.candidates(rng, centres), acquire, seen
            )
            if point is None:
                return out + self._random(rng, seen, n - len(out))
            params = self.space.from_unit(point)
            seen.add(self.space.key(params))
            out.append(params)
            pending = [believed, point[None, :]]
        return out

    def _metrics(self) -> list[tuple[str, Direction]]:
        assert self.objectives is not None
        return self.objectives

    # -- the two ways to a point --------------------------------------------------------------

    def _random(self, rng: np.random.Generator, seen: MutableSet[Any], n: int) -> list[Params]:
        return unseen_points(self.space, rng, seen, n)

    def _guided(
        self,
        rng: np.random.Generator,
        seen: MutableSet[Any],
        obs: Observations,
        n: int,
        chosen: list[Params],
        tuned: Surrogate | None = None,
    ) -> list[Params]:
        """Points by the acquisition; ``tuned``: a surrogate whose hyperparameters to reuse
        rather than learn them on ``obs``."""
        u, y = self._model_data(obs)
        model = self._fitted(u, y) if tuned is None else tuned.refit(self.features(u), y)
        pending = np.vstack([obs.pending] + [self.space.to_unit(p)[None, :] for p in chosen])
        # what pending points are taken to be worth: the best value so far (constant liar), or
        # the model's own mean there but never better than the best (kriging believer, capped:
        # a point believed better than the best would draw the next ones next to it); the data
        # model's mean, so the order in which the points were chosen does not matter
        best = float(np.min(y))
        believe: Callable[[np.ndarray], np.ndarray] = (
            (lambda p: np.maximum(model.predict(self.features(p))[0], best))
            if self.fantasy == "believer"
            else (lambda p: np.full(len(p), best))
        )
        out: list[Params] = []
        for _ in range(n):
            current = model
            if len(pending):
                current = model.refit(
                    self.features(np.vstack([u, pending])), np.concatenate([y, believe(pending)])
                )
            point = self._maximise(rng, current, u, y, seen)
            if point is None:  # every candidate was taken: fall back on random points
                return out + self._random(rng, seen, n - len(out))
            params = self.space.from_unit(point)
            seen.add(self.space.key(params))
            out.append(params)
            pending = np.vstack([pending, point[None, :]])
        return out

    def _maximise(
        self,
        rng: np.random.Generator,
        model: Surrogate,
        u: np.ndarray,
        y: np.ndarray,
        seen: MutableSet[Any],
    ) -> np.ndarray | None:
        """The candidate the acquisition likes best, among those not tried yet."""
        search = self._search
        cand = search.candidates(rng, filled(u[np.argsort(y, kind="stable")[:LOCAL_CENTRES]]))
        x = self.features(cand)
        y_best = float(np.min(y))
        kind = self.acquisition
        if kind == "gp_hedge":
            kind, acq = hedge(rng, model, x, y_best, self.xi, self.kappa)
        else:
            acq = model.acquisition(x, kind, y_best, self.xi, self.kappa)

        def acquire(c: np.ndarray) -> np.ndarray:
            return model.acquisition(self.features(c), kind, y_best, self.xi, self.kappa)

        def polish(rows: np.ndarray) -> np.ndarray:
            return search.polished(model, rows, kind, y_best, self.xi, self.kappa)

        return search.best_unseen(rng, cand, acquire, seen, acq, polish)

    # -- the model ----------------------------------------------------------------------------

    def _model_data(self, obs: Observations) -> tuple[np.ndarray, np.ndarray]:
        """The points the model learns: all of them, or the best half and the most recent half
        of ``max_points`` on a long history."""
        if len(obs) <= self.max_points:
            return obs.u, obs.y
        best = obs.best_first()[: self.max_points // 2]
        rest = np.setdiff1d(np.arange(len(obs)), best)
        keep = np.sort(np.concatenate([best, rest[-(self.max_points - len(best)) :]]))
        return obs.u[keep], obs.y[keep]

    def features(self, u: np.ndarray) -> np.ndarray:
        """What the surrogate sees: unit coordinates (inactive ones fixed at 0.5) with every
        categorical parameter one-hot encoded (all zeros when inactive)."""
        x = filled(u)
        if not self._categorical:
            return x
        cat_cols = {j for j, _ in self._categorical}
        parts = [x[:, [j for j in range(u.shape[1]) if j not in cat_cols]]]
        for j, k in self._categorical:
            onehot = np.zeros((len(u), k))
            ok = ~np.isnan(u[:, j])
            index = np.minimum((u[ok, j] * k).astype(int), k - 1)
            onehot[np.flatnonzero(ok), index] = 1.0
            parts.append(onehot)
        return np.hstack(parts)

    def _fitted(self, u: np.ndarray, y: np.ndarray) -> Surrogate:
        """The surrogate fitted on ``(u, y)``, from the module's cache when the same data was
        seen before (fits are deterministic under a seed, so the cache changes no answer)."""
        x = self.features(u)
        seed = 0 if self.seed is None else self.seed
        key = (self.surrogate, seed, x.shape, x.tobytes(), y.tobytes())
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        model = Surrogate(self.surrogate, x.shape[1], seed).fit(x, y)
        with _cache_lock:
            _cache[key] = model
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        return model
