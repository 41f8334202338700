"""The conformance suite of the Algorithm contract (see ``tuner.algorithm.Algorithm``).

An algorithm, ours or a third party's, runs it with pytest by subclassing::

    from tuner.testing import AlgorithmConformance

    class TestMine(AlgorithmConformance):
        algorithm = "mine"            # its plug-in name, or the class itself (not yet installed)
        options = {"some": "option"}  # optional

Histories are built directly from ``Trial`` objects with values from a simple function, with
trials in every state (running and waiting ones included) and from earlier rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from tuner import plugins
from tuner.algorithm import Algorithm, Suggestion, as_suggestion
from tuner.space import Params, SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

# float (log), float, int, int (log), step float, categorical, conditional (two levels deep)
MIXED_SPACE = SearchSpace.from_dict(
    {
        "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
        "x": {"type": "float", "low": -2.0, "high": 3.0},
        "n": {"type": "int", "low": 1, "high": 6},
        "width": {"type": "int", "low": 1, "high": 512, "log": True},
        "sub": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.05},
        "booster": ["gbtree", "dart"],
        "rate_drop": {"type": "float", "low": 0.0, "high": 0.3, "when": {"booster": "dart"}},
        "mode": {"type": "categorical", "choices": ["a", "b"], "when": {"booster": "dart"}},
        "depth": {"type": "int", "low": 1, "high": 5, "when": {"mode": "b"}},
    }
)

# 3 x 4 = 12 points: small enough to fill up
SMALL_SPACE = SearchSpace.from_dict(
    {
        "c": ["a", "b", "c"],
        "k": {"type": "int", "low": 1, "high": 4},
    }
)

STATES = [
    TrialState.COMPLETE,
    TrialState.RUNNING,
    TrialState.COMPLETE,
    TrialState.WAITING,
    TrialState.FAILED,
    TrialState.COMPLETE,
    TrialState.PRUNED,
]


def objective(params: Params) -> float:
    """A smooth-ish function of any point of MIXED_SPACE (missing parameters count as 0)."""
    value = 0.0
    for name, v in params.items():
        if isinstance(v, bool) or v is None:
            value += 0.5 if v else 0.0
        elif isinstance(v, int | float):
            value += (math.log10(v) + 3) ** 2 if name == "lr" else (float(v) - 1.0) ** 2 / 10
        else:
            value += 0.1 * (sum(map(ord, str(v))) % 7)
    return value


def trial(
    number: int,
    params: Params | Suggestion,
    state: TrialState = TrialState.COMPLETE,
    round_: int = 0,
) -> Trial:
    item = as_suggestion(params)
    params = item.params
    done = state is TrialState.COMPLETE
    value = objective(params) if done else None
    return Trial(
        study="conformance",
        number=number,
        round=round_,
        params=dict(params),
        state=state,
        attempt=0 if state is TrialState.WAITING else 1,
        value=value,
        values={"loss": value} if value is not None else {},
        error="boom" if state is TrialState.FAILED else None,
        meta=dict(item.meta),
    )


def points_of(batch: Sequence[Params | Suggestion]) -> list[Params]:
    """The parameter sets of a batch, whether plain or wrapped in Suggestions."""
    return [as_suggestion(item).params for item in batch]


def history_of(points: Sequence[Params | Suggestion], start: int = 0) -> list[Trial]:
    """Trials at ``points``, cycling through every state and over two rounds."""
    return [
        trial(start + i, p, STATES[(start + i) % len(STATES)], round_=(start + i) // 10)
        for i, p in enumerate(points)
    ]


def random_history(space: SearchSpace, size: int, seed: int = 123) -> list[Trial]:
    rng = np.random.default_rng(seed)
    points: list[Params] = []
    keys: set[Any] = set()
    while len(points) < size:
        p = space.sample(rng)
        if space.key(p) not in keys:
            keys.add(space.key(p))
            points.append(p)
    return history_of(points)


def keys_of(space: SearchSpace, points: Sequence[Params]) -> list[Any]:
    return [space.key(p) for p in points]


class AlgorithmConformance:
    """The contract every algorithm honours; subclasses set ``algorithm`` (and ``options``)."""

    algorithm: ClassVar[str | type[Algorithm]] = ""
    options: ClassVar[dict[str, Any]] = {}
    budget: ClassVar[int | None] = 40

    # -- helpers ------------------------------------------------------------------------------

    def make(
        self,
        space: SearchSpace = MIXED_SPACE,
        direction: Direction = Direction.MINIMIZE,
        seed: int | None = 0,
        budget: int | None = None,
    ) -> Algorithm:
        cls = (
            self.algorithm
            if isinstance(self.algorithm, type)
            else plugins.algorithm(self.algorithm)
        )
        return cls.create(space, direction, seed, budget or self.budget, dict(self.options))

    def check_batch(
        self,
        space: SearchSpace,
        batch: Sequence[Params | Suggestion],
        n: int,
        history: Sequence[Trial] = (),
    ) -> None:
        """At most n points, each legal, conditionals exact, distinct, and new to the history."""
        assert isinstance(batch, list)
        assert len(batch) <= n
        batch = points_of(batch)
        for params in batch:
            assert isinstance(params, dict)
            assert space.validate(params) == params
            active: Params = {}
            for p in space:
                if space.is_active(p, active):
                    assert p.name in params, f"{p.name} is active but missing from {params}"
                    active[p.name] = params[p.name]
                else:
                    assert p.name not in params, f"{p.name} is inactive but set in {params}"
        keys = keys_of(space, batch)
        assert len(set(keys)) == len(keys), "the batch repeats a point"
        seen = {space.key(t.params) for t in history}
        assert not seen & set(keys), "the batch repeats a point of the history"

    # -- the contract -------------------------------------------------------------------------

    def test_the_plugin_is_an_algorithm(self) -> None:
        algo = self.make()
        assert isinstance(algo, Algorithm)
        name = self.algorithm.name if isinstance(self.algorithm, type) else self.algorithm
        assert type(algo).name == name and name, "an algorithm has the name it is found by"

    def test_empty_history(self) -> None:
        batch = self.make().suggest([], 8)
        self.check_batch(MIXED_SPACE, batch, 8)
        assert len(batch) == 8  # the space is far from exhausted

    @pytest.mark.parametrize("n", [0, 1, 5, 17])
    def test_at_most_n_valid_points(self, n: int) -> None:
        history = random_history(MIXED_SPACE, 25)
        batch = self.make().suggest(history, n)
        self.check_batch(MIXED_SPACE, batch, n, history)
        if n == 0:
            assert batch == []
        else:
            assert len(batch) >= 1

    @pytest.mark.parametrize("direction", list(Direction))
    def test_successive_batches_stay_valid_and_new(self, direction: Direction) -> None:
        algo = self.make(direction=direction)
        history: list[Trial] = []
        for _ in range(5):
            batch = algo.suggest(history, 6)
            self.check_batch(MIXED_SPACE, batch, 6, history)
            assert batch
            history += history_of(batch, start=len(history))

    def test_conditional_parameters_respected(self) -> None:
        algo = self.make()
        history = random_history(MIXED_SPACE, 14)
        batch = algo.suggest(history, 30)
        self.check_batch(MIXED_SPACE, batch, 30, history)
        for params in points_of(batch):
            assert ("rate_drop" in params) == (params["booster"] == "dart")
            assert ("mode" in params) == (params["booster"] == "dart")
            assert ("depth" in params) == (params.get("mode") == "b")

    def test_distinct_from_running_and_waiting_trials(self) -> None:
        points = list(SMALL_SPACE.grid(10))
        assert len(points) == 12
        taken = points[::2] + points[1:4:2]  # 8 points, of which 6 are taken
        history = [
            trial(
                i,
                p,
                [TrialState.RUNNING, TrialState.WAITING, TrialState.COMPLETE, TrialState.FAILED][
                    i % 4
                ],
            )
            for i, p in enumerate(taken)
        ]
        free = {SMALL_SPACE.key(p) for p in points} - {SMALL_SPACE.key(t.params) for t in history}
        assert len(free) == 4
        for n in (1, 3, 4, 10):
            batch = self.make(SMALL_SPACE).suggest(history, n)
            self.check_batch(SMALL_SPACE, batch, n, history)
            assert len(batch) == min(n, 4)  # fewer than n only once the space is exhausted
            assert set(keys_of(SMALL_SPACE, points_of(batch))) <= free

    def test_history_as_stored_counts_as_seen(self) -> None:
        # The points as a JSON column gives them back: ints as floats.
        points = list(SMALL_SPACE.grid(10))
        history = [trial(i, {"c": p["c"], "k": float(p["k"])}) for i, p in enumerate(points[:11])]
        batch = self.make(SMALL_SPACE).suggest(history, 5)
        self.check_batch(SMALL_SPACE, batch, 5, history)
        assert points_of(batch) == [points[11]]

    def test_history_with_float_noise_counts_as_seen(self) -> None:
        space = SearchSpace.from_dict(
            {
                "x": {"type": "float", "low": 0.1, "high": 0.4, "step": 0.1},
                "c": [True, False],
            }
        )
        points = list(space.grid(10))
        assert len(points) == 8
        noisy = [{"x": p["x"] * (1 + 1e-14), "c": p["c"]} for p in points[:7]]
        assert all(n["x"] != p["x"] for n, p in zip(noisy, points, strict=False))
        history = history_of(noisy)
        batch = self.make(space).suggest(history, 5)
        self.check_batch(space, batch, 5, history)
        assert keys_of(space, points_of(batch)) == [space.key(points[7])]

    def test_exhausted_space_gives_nothing(self) -> None:
        history = history_of(list(SMALL_SPACE.grid(10)))
        assert self.make(SMALL_SPACE).suggest(history, 3) == []

    def test_deterministic_from_a_cold_start(self) -> None:
        history = random_history(MIXED_SPACE, 20)
        a = self.make(seed=7).suggest(history, 6)
        b = self.make(seed=7).suggest(history, 6)
        assert a == b
        self.check_batch(MIXED_SPACE, a, 6, history)

    def test_warm_instance_answers_like_a_fresh_one(self) -> None:
        history = random_history(MIXED_SPACE, 30)
        warm = self.make(seed=3)
        warm.suggest([], 4)
        warm.suggest(history[:10], 5)
        warm.suggest(history[:20], 2)
        for size, n in ((30, 6), (10, 5), (0, 3)):
            fresh = self.make(seed=3)
            assert warm.suggest(history[:size], n) == fresh.suggest(history[:size], n)

    def test_same_history_same_answer_twice(self) -> None:
        algo = self.make(seed=11)
        history = random_history(MIXED_SPACE, 12)
        assert algo.suggest(history, 5) == algo.suggest(history, 5)

    def test_tolerates_history_outside_a_narrowed_space(self) -> None:
        center = MIXED_SPACE.sample(np.random.default_rng(9))
        narrowed = MIXED_SPACE.narrow(center, 0.2)
        history = random_history(MIXED_SPACE, 20)  # mostly outside the narrowed ranges
        assert any(not narrowed.contains(t.params) for t in history)
        odd = [
            {**center, "x": 1e9},  # out of range
            {"lr": 0.01},  # parameters missing
            {**center, "ghost": 1},  # a parameter the space no longer has
            {**center, "n": "three"},  # the wrong type
            {},
        ]
        history += history_of(odd, start=len(history))
        algo = self.make(narrowed)
        batch = algo.suggest(history, 8)
        self.check_batch(narrowed, batch, 8, history)
        assert len(batch) == 8
        for params in points_of(batch):
            for name in ("lr", "x", "n", "width", "sub"):
                p = narrowed[name]
                assert p.low <= params[name] <= p.high  # type: ignore[attr-defined]

    def test_failed_and_pruned_trials_without_values(self) -> None:
        points = [MIXED_SPACE.sample(np.random.default_rng(s)) for s in range(6)]
        history = [
            trial(i, p, TrialState.FAILED if i % 2 else TrialState.PRUNED)
            for i, p in enumerate(points)
        ]
        batch = self.make().suggest(history, 4)
        self.check_batch(MIXED_SPACE, batch, 4, history)
        assert len(batch) == 4

    def test_continuous_one_parameter_space(self) -> None:
        space = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
        batch = self.make(space).suggest(history_of([{"x": 0.5}, {"x": 0.25}]), 3)
        self.check_batch(space, batch, 3, history_of([{"x": 0.5}, {"x": 0.25}]))
        assert len(batch) == 3
