"""Random and grid search: the Algorithm conformance suite, then what is particular to each."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tuner import plugins
from tuner.algorithm import Algorithm
from tuner.errors import SpecError
from tuner.space import Params, SearchSpace
from tuner.study import Direction
from tuner.testing.algorithms import (
    MIXED_SPACE,
    AlgorithmConformance,
    history_of,
    keys_of,
    random_history,
    trial,
)
from tuner.trial import TrialState

# 2 x 3 x 3 = 18 points at resolution 3
SMALL = SearchSpace.from_dict(
    {
        "c": ["a", "b"],
        "k": {"type": "int", "low": 1, "high": 3},
        "x": {"type": "float", "low": 0.0, "high": 1.0},
    }
)


def grid(
    space: SearchSpace = SMALL, seed: int | None = 0, budget: int | None = None, **options: Any
) -> Algorithm:
    return plugins.algorithm("grid").create(space, Direction.MINIMIZE, seed, budget, options)


def random(space: SearchSpace = MIXED_SPACE, seed: int | None = 0) -> Algorithm:
    return plugins.algorithm("random").create(space, Direction.MINIMIZE, seed, None, {})


def drain(algo: Algorithm, batch: int = 5, history: list[Any] | None = None) -> list[Params]:
    """Ask ``batch`` at a time, adding each answer to the history, until nothing comes back."""
    history = list(history or [])
    out: list[Params] = []
    for _ in range(10_000):
        got = algo.suggest(history, batch)
        out += got
        history += history_of(got, start=len(history))
        if len(got) < batch:
            assert algo.suggest(history, batch) == []  # once short, then empty
            return out
    raise AssertionError("the algorithm never ran out")


class TestRandom(AlgorithmConformance):
    algorithm = "random"


class TestRandomSobol(AlgorithmConformance):
    algorithm = "random"
    options = {"sequence": "sobol"}


class TestGrid(AlgorithmConformance):
    algorithm = "grid"


class TestGridSequential(AlgorithmConformance):
    algorithm = "grid"
    options = {"order": "sequential"}


class TestRandomParticulars:
    def test_seeds_differ(self) -> None:
        history = random_history(MIXED_SPACE, 5)
        a = random(seed=1).suggest(history, 5)
        b = random(seed=2).suggest(history, 5)
        assert keys_of(MIXED_SPACE, a) != keys_of(MIXED_SPACE, b)

    def test_without_seed_still_valid_and_new(self) -> None:
        history = random_history(MIXED_SPACE, 10)
        batch = random(seed=None).suggest(history, 10)
        assert len(batch) == 10
        assert all(MIXED_SPACE.validate(p) == p for p in batch)
        assert not {MIXED_SPACE.key(p) for p in batch} & {
            MIXED_SPACE.key(t.params) for t in history
        }

    def test_draws_cover_every_category_evenly(self) -> None:
        space = SearchSpace.from_dict(
            {"c": ["a", "b", "c", "d"], "x": {"type": "float", "low": 0, "high": 1}}
        )
        counts = Counter(p["c"] for p in random(space, seed=5).suggest([], 4000))
        assert set(counts) == {"a", "b", "c", "d"}
        assert all(850 < v < 1150 for v in counts.values()), counts

    def test_takes_no_options_but_its_sequence(self) -> None:
        for options, field in (({"foo": 1}, "foo"), ({"sequence": "halton"}, "sequence")):
            with pytest.raises(SpecError) as info:
                plugins.algorithm("random").create(MIXED_SPACE, Direction.MINIMIZE, 0, 10, options)
            assert info.value.field == field

    def test_sobol_points_fill_every_stratum_one_at_a_time_or_at_once(self) -> None:
        space = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 8.0}})

        def sobol() -> Algorithm:
            options = {"sequence": "sobol"}
            return plugins.algorithm("random").create(space, Direction.MINIMIZE, 3, 8, options)

        at_once = sobol().suggest([], 8)
        one_by_one: list[Params] = []
        for _ in range(8):  # a fresh instance per point, as the scheduler asks
            one_by_one += sobol().suggest(history_of(one_by_one), 1)
        assert one_by_one == at_once
        assert sorted(int(p["x"]) for p in at_once) == list(range(8))  # one per eighth


class TestGridParticulars:
    def test_exhausts_and_covers_every_point_once(self) -> None:
        got = drain(grid(points=3), batch=5)
        assert len(got) == 18
        keys = keys_of(SMALL, got)
        assert len(set(keys)) == 18
        assert set(keys) == set(keys_of(SMALL, list(SMALL.grid(3))))
        assert {p["x"] for p in got} == {0.0, 0.5, 1.0}

    def test_returns_fewer_than_asked_then_none(self) -> None:
        algo = grid(points=3)
        first = algo.suggest([], 15)
        assert len(first) == 15
        history = history_of(first)
        rest = algo.suggest(history, 15)
        assert len(rest) == 3
        history += history_of(rest, start=len(history))
        assert algo.suggest(history, 15) == []
        assert grid(points=3).suggest(history, 1) == []

    def test_never_repeats_a_point_in_history(self) -> None:
        points = list(SMALL.grid(3))
        # stored as a database gives them back: ints as floats, floats with noise, all states
        stored = [
            {"c": p["c"], "k": float(p["k"]), "x": p["x"] * (1 + 1e-14) + 0.0} for p in points[::3]
        ]
        states = [TrialState.RUNNING, TrialState.WAITING, TrialState.FAILED, TrialState.COMPLETE]
        history = [trial(i, p, states[i % 4]) for i, p in enumerate(stored)]
        got = drain(grid(points=3), batch=4, history=history)
        assert len(got) == 18 - len(stored)
        assert not set(keys_of(SMALL, got)) & set(keys_of(SMALL, points[::3]))
        assert set(keys_of(SMALL, got)) | set(keys_of(SMALL, points[::3])) == set(
            keys_of(SMALL, points)
        )

    @pytest.mark.parametrize("points", [1, 2, 4, 7])
    def test_points_option(self, points: int) -> None:
        got = drain(grid(points=points), batch=50)
        xs = sorted({p["x"] for p in got})
        assert xs == pytest.approx(
            [0.5] if points == 1 else [i / (points - 1) for i in range(points)]
        )
        ks = {p["k"] for p in got}
        assert ks == ({2} if points == 1 else set(range(1, 4)) if points >= 3 else {1, 3})
        assert len(got) == 2 * len(ks) * len(xs) == SMALL.grid_size(points)

    @pytest.mark.parametrize("budget", [1, 5, 18, 19, 40, 100, 250])
    def test_auto_resolution_covers_the_budget(self, budget: int) -> None:
        space = SearchSpace.from_dict(
            {
                "x": {"type": "float", "low": 0, "high": 1},
                "y": {"type": "float", "low": -1, "high": 1},
                "c": ["a", "b"],
            }
        )
        got = drain(grid(space, budget=budget), batch=1000)
        assert len(got) >= budget
        resolution = len({p["x"] for p in got})
        assert len(got) == space.grid_size(resolution)
        if resolution > 2:  # the coarsest grid that is big enough
            assert space.grid_size(resolution - 1) < budget

    def test_auto_resolution_with_conditional_parameters(self) -> None:
        got = drain(grid(MIXED_SPACE, budget=100), batch=1000)
        assert len(got) >= 100
        assert all(MIXED_SPACE.validate(p) == p for p in got)

    def test_sequential_order_is_the_grid_order(self) -> None:
        got = grid(points=3, order="sequential").suggest([], 100)
        assert got == list(SMALL.grid(3))
        assert grid(points=3, order="sequential", seed=99).suggest([], 100) == got

    def test_sequential_skips_what_is_taken(self) -> None:
        points = list(SMALL.grid(3))
        history = history_of([points[0], points[2]])
        got = grid(points=3, order="sequential").suggest(history, 3)
        assert got == [points[1], points[3], points[4]]

    def test_shuffled_is_a_seeded_permutation(self) -> None:
        ordered = list(SMALL.grid(3))
        a = grid(points=3, seed=1).suggest([], 100)
        b = grid(points=3, seed=1).suggest([], 100)
        c = grid(points=3, seed=2).suggest([], 100)
        assert a == b
        assert a != ordered and a != c
        assert sorted(keys_of(SMALL, a)) == sorted(keys_of(SMALL, ordered))
        assert sorted(keys_of(SMALL, c)) == sorted(keys_of(SMALL, ordered))

    def test_shuffled_is_the_default(self) -> None:
        assert grid(points=3, seed=1).suggest([], 100) == grid(
            points=3, seed=1, order="shuffled"
        ).suggest([], 100)

    def test_narrowed_space_grid(self) -> None:
        narrowed = SMALL.narrow({"c": "a", "k": 2, "x": 0.5}, 0.5)
        got = drain(grid(narrowed, points=3), batch=100)
        assert all(0.25 <= p["x"] <= 0.75 for p in got)
        assert {p["c"] for p in got} == {"a", "b"}

    def test_unknown_option(self) -> None:
        with pytest.raises(SpecError) as info:
            grid(foo=1)
        assert info.value.field == "foo"
        assert "points" in info.value.reason and "order" in info.value.reason

    @pytest.mark.parametrize(
        "options",
        [{"points": 0}, {"points": -2}, {"points": 2.5}, {"points": True}, {"order": "zigzag"}],
    )
    def test_bad_option_values(self, options: dict[str, Any]) -> None:
        with pytest.raises(SpecError) as info:
            grid(**options)
        assert info.value.field == next(iter(options))
