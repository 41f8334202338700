"""Bayesian and genetic search: the Algorithm conformance suite, then what is particular to each."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tuner import plugins
from tuner.algorithm import Algorithm, Suggestion
from tuner.algorithms import bayesian
from tuner.algorithms.genetic import GeneticSearch, generation_of
from tuner.errors import SpecError
from tuner.space import Params, SearchSpace
from tuner.study import Direction
from tuner.testing.algorithms import (
    AlgorithmConformance,
    points_of,
    trial,
)
from tuner.trial import Trial, TrialState

BOWL = SearchSpace.from_dict(
    {
        "x": {"type": "float", "low": -5.0, "high": 5.0},
        "y": {"type": "float", "low": -5.0, "high": 5.0},
    }
)


def bowl(params: Params) -> float:
    return (params["x"] - 1.0) ** 2 + (params["y"] + 2.0) ** 2


def done(points: list[Params], start: int = 0, **meta: Any) -> list[Trial]:
    return [
        Trial(
            "s", start + i, 0, p, TrialState.COMPLETE, 1, bowl(p), {"v": bowl(p)}, meta=dict(meta)
        )
        for i, p in enumerate(points)
    ]


def make(name: str, space: SearchSpace = BOWL, seed: int | None = 0, **options: Any) -> Algorithm:
    return plugins.algorithm(name).create(space, Direction.MINIMIZE, seed, 30, options)


class TestBayesian(AlgorithmConformance):
    algorithm = "bayesian"


class TestBayesianForest(AlgorithmConformance):
    algorithm = "bayesian"
    options = {"surrogate": "ET", "acquisition": "EI", "initial_points": 3}


class TestGenetic(AlgorithmConformance):
    algorithm = "genetic"
    options = {"population": 6}


class TestGeneticBlend(AlgorithmConformance):
    algorithm = "genetic"
    options = {"population": 5, "crossover": "blend"}


class TestBayesianParticulars:
    def test_random_only_while_the_history_is_short(self) -> None:
        first = make("bayesian", initial_points=5).suggest([], 3)
        assert len(first) == 3
        # with 12 evaluated points the model takes over: near the optimum, not uniform
        history = done([BOWL.sample(np.random.default_rng(s)) for s in range(12)])
        batch = make("bayesian", initial_points=5).suggest(history, 1)
        assert bowl(batch[0]) < np.median([t.value for t in history])

    def test_warm_start_uses_the_history(self) -> None:
        rng = np.random.default_rng(1)
        history = done([BOWL.sample(rng) for _ in range(25)])
        best = min(t.value for t in history if t.value is not None)
        algo = make("bayesian", acquisition="EI")
        points = algo.suggest(history, 1)
        history += done(points, start=len(history))
        points = algo.suggest(history, 1)
        assert bowl(points[0]) < best + 1.0  # exploits what earlier rounds learnt at once

    def test_a_restarted_process_suggests_what_a_running_one_does(self) -> None:
        # a running study's process has the fitted models of the last histories in its cache,
        # a restarted one (or another replica) has not: both must suggest the same points
        rng = np.random.default_rng(5)
        history = done([BOWL.sample(rng) for _ in range(19)])
        running = []
        bayesian._cache.clear()
        for _ in range(14):  # 19 to 32 trials: steps at 20 and 30
            point = make("bayesian").suggest(history, 1)
            running.append(point)
            history += done(point, start=len(history))
        for i, point in enumerate(running):
            bayesian._cache.clear()
            assert make("bayesian").suggest(history[: 19 + i], 1) == point

    @pytest.mark.parametrize(
        ("fantasy", "acquisition"),
        [("liar", "LCB"), ("believer", "LCB"), ("believer", "LogEI")],
    )
    def test_a_batch_holds_distinct_spread_points(self, fantasy: str, acquisition: str) -> None:
        rng = np.random.default_rng(2)
        history = done([BOWL.sample(rng) for _ in range(15)])
        pending = [trial(100, {"x": 1.0, "y": -2.0}, TrialState.RUNNING)]
        algo = make("bayesian", acquisition=acquisition, fantasy=fantasy)
        batch = algo.suggest(history + pending, 4)
        assert len(batch) == 4
        xy = np.array([[p["x"], p["y"]] for p in batch + [{"x": 1.0, "y": -2.0}]])
        gaps = [np.linalg.norm(a - b) for i, a in enumerate(xy) for b in xy[i + 1 :]]
        assert min(gaps) > 1e-3  # no two points of the batch (or the running one) coincide

    def test_inactive_conditional_parameters(self) -> None:
        space = SearchSpace.from_dict(
            {
                "kind": ["flat", "bowl"],
                "x": {"type": "float", "low": -5.0, "high": 5.0, "when": {"kind": "bowl"}},
            }
        )
        points: list[Params] = [{"kind": "flat"}] + [
            {"kind": "bowl", "x": float(x)} for x in np.linspace(-5, 5, 9)
        ]
        history = [
            Trial(
                "s",
                i,
                0,
                p,
                TrialState.COMPLETE,
                1,
                10.0 if p["kind"] == "flat" else (p["x"] - 2.0) ** 2,
                {},
            )
            for i, p in enumerate(points)
        ]
        batch = make("bayesian", space, acquisition="EI").suggest(history, 3)
        assert len(batch) == 3
        for p in batch:
            assert space.validate(p) == p
        assert any(p["kind"] == "bowl" and abs(p["x"] - 2.0) < 1.5 for p in batch)

    def test_long_history_is_capped(self) -> None:
        rng = np.random.default_rng(3)
        history = done([BOWL.sample(rng) for _ in range(60)])
        batch = make("bayesian", max_points=20).suggest(history, 2)
        assert len(batch) == 2

    @pytest.mark.parametrize(
        "options",
        [
            {"surrogate": "SVM"},
            {"acquisition": "UCB"},
            {"initial_points": -1},
            {"max_points": 3},
            {"xi": -0.1},
            {"kappa": "big"},
            {"initial_points": True},
            {"fantasy": "kriging"},
            {"sequence": "halton"},
        ],
    )
    def test_bad_options(self, options: dict[str, Any]) -> None:
        with pytest.raises(SpecError) as info:
            make("bayesian", **options)
        assert info.value.field == next(iter(options))

    def test_unknown_option_names_the_options(self) -> None:
        with pytest.raises(SpecError) as info:
            make("bayesian", kernel="rbf")
        assert info.value.field == "kernel" and "surrogate" in info.value.reason


class TestGeneticParticulars:
    def run(self, algo: Algorithm, history: list[Trial], batches: int, n: int) -> list[Trial]:
        for _ in range(batches):
            got = algo.suggest(history, n)
            history = history + [
                Trial(
                    "s",
                    len(history) + i,
                    0,
                    s.params,
                    TrialState.COMPLETE,
                    1,
                    bowl(s.params),
                    {},
                    meta=dict(s.meta),
                )
                for i, s in enumerate(got)
                if isinstance(s, Suggestion)
            ]
        return history

    def test_generations_are_stored_in_meta(self) -> None:
        history = self.run(make("genetic", population=4), [], 3, 4)
        assert [generation_of(t) for t in history] == [0] * 4 + [1] * 4 + [2] * 4

    def test_a_generation_is_filled_before_the_next_starts(self) -> None:
        history = self.run(make("genetic", population=5), [], 1, 3)
        got = make("genetic", population=5).suggest(history, 4)
        assert [s.meta["generation"] for s in got] == [0, 0, 1, 1]

    def test_restart_changes_nothing(self) -> None:
        algo = make("genetic", population=4, seed=5)
        history = self.run(algo, [], 2, 4)
        warm = algo.suggest(history, 4)
        cold = make("genetic", population=4, seed=5).suggest(history, 4)  # a new server
        assert warm == cold
        assert {s.meta["generation"] for s in cold} == {2}

    def test_first_generation_seeded_from_the_best_of_the_history(self) -> None:
        rng = np.random.default_rng(4)
        history = done([BOWL.sample(rng) for _ in range(30)])
        algo = make("genetic", population=6)
        assert isinstance(algo, GeneticSearch)
        parents = algo.parents(history, 0)
        ranked = sorted(history, key=lambda t: t.value or 0.0)
        assert parents == ranked[:6]
        children = points_of(algo.suggest(history, 6))
        assert np.median([bowl(p) for p in children]) < np.median([t.value for t in history])

    def test_elitism_keeps_the_best(self) -> None:
        algo = make("genetic", population=4, elite=1)
        assert isinstance(algo, GeneticSearch)
        champion = done([{"x": 1.0, "y": -2.0}])  # from an earlier round, no generation
        history = self.run(algo, champion, 3, 4)
        parents = algo.parents(history, 3)
        assert parents[0].params == {"x": 1.0, "y": -2.0}
        assert any(generation_of(t) == 2 for t in parents)

    def test_improves_over_generations(self) -> None:
        history = self.run(make("genetic", population=8, seed=1), [], 6, 8)
        first = min(t.value or 0.0 for t in history if generation_of(t) == 0)
        last = min(t.value or 0.0 for t in history if (generation_of(t) or 0) >= 4)
        assert last < first

    def test_categories_are_inherited_and_mutated(self) -> None:
        space = SearchSpace.from_dict(
            {"c": ["a", "b", "c", "d"], "x": {"type": "int", "low": 0, "high": 9}}
        )
        history = [
            Trial(
                "s",
                i,
                0,
                {"c": c, "x": x},
                TrialState.COMPLETE,
                1,
                float(x) + (0 if c == "b" else 5),
                {},
            )
            for i, (c, x) in enumerate([("b", 3), ("b", 5), ("a", 2), ("c", 7)])
        ]
        got = points_of(make("genetic", space, population=8, mutation_rate=0.1).suggest(history, 8))
        assert len(got) == 8 and all(space.validate(p) == p for p in got)
        assert sum(p["c"] == "b" for p in got) >= 4  # the fitter parents' category dominates

    @pytest.mark.parametrize(
        "options",
        [
            {"population": 1},
            {"crossover": "one-point"},
            {"crossover_rate": 1.5},
            {"mutation_rate": -0.1},
            {"eta": 0},
            {"tournament": 0},
            {"elite": -1},
            {"population": 2.5},
        ],
    )
    def test_bad_options(self, options: dict[str, Any]) -> None:
        with pytest.raises(SpecError) as info:
            make("genetic", **options)
        assert info.value.field == next(iter(options))
