"""Pareto ranking, crowding, hypervolume and constraints on hand-checked examples; a
multi-objective study run end to end (default plan: random then NSGA-II) and its leaderboard."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.specs import make_spec, spec_dict
from tuner import pareto
from tuner.commands import output
from tuner.config import Settings
from tuner.errors import SpecError
from tuner.executor import TrialOutcome
from tuner.objective import interpret
from tuner.pareto import (
    constrained_cost,
    crowding,
    dominates,
    fronts,
    hypervolume,
    hypervolume_history,
    nondominated,
    rank,
    reference_point,
)
from tuner.runs import prepare_run
from tuner.storage import Storage
from tuner.study import Direction, StudySpec
from tuner.trial import Trial, TrialState


def trial(number: int, **values: float) -> Trial:
    return Trial("s", number, 0, {}, TrialState.COMPLETE, 1, None, dict(values))


def test_fronts_by_hand() -> None:
    points = [(1, 5), (2, 3), (3, 4), (4, 1), (5, 5), (2, 3)]
    # (1,5) (2,3) (4,1) and the tie (2,3) are non-dominated; (3,4) is beaten by (2,3); (5,5) by all
    assert fronts(points) == [[0, 1, 3, 5], [2], [4]]
    assert dominates((1, 1), (1, 2)) and not dominates((1, 2), (2, 1))
    assert not dominates((1, 1), (1, 1))


def _fronts_by_definition(points: list[tuple[float, ...]]) -> list[list[int]]:
    """Peel off, front after front, the points no other remaining point dominates."""
    left, out = set(range(len(points))), []
    while left:
        front = sorted(
            i for i in left if not any(dominates(points[j], points[i]) for j in left if j != i)
        )
        out.append(front)
        left -= set(front)
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4)).map(lambda p: (float(p[0]), float(p[1])))
        | st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
        max_size=40,
    )
)
def test_two_objective_fronts_are_the_definition_ties_included(
    points: list[tuple[float, float]],
) -> None:
    assert fronts(points) == _fronts_by_definition(points)


def test_three_objective_fronts_are_the_definition() -> None:
    rng = random.Random(0)
    for _ in range(200):
        points = [
            tuple(float(rng.randint(0, 3)) for _ in range(3)) for _ in range(rng.randint(0, 25))
        ]
        assert fronts(points) == _fronts_by_definition(points)


@pytest.mark.parametrize("block", [1000, 7])  # one block, and many against the front so far
def test_the_pareto_front_alone_is_the_first_front_ties_included(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pareto, "_BLOCK", block)
    rng = random.Random(1)
    for dims in (2, 3, 4):
        for _ in range(100):
            n = rng.randint(0, 60)
            points = [tuple(float(rng.randint(0, 3)) for _ in range(dims)) for _ in range(n)]
            assert nondominated(points) == (_fronts_by_definition(points) or [[]])[0]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(2, 3),
    st.lists(st.lists(st.integers(0, 5), min_size=3, max_size=3), max_size=50),
    st.integers(1, 12),
)
def test_the_hypervolume_history_is_each_prefix_s_hypervolume(
    dims: int, raw: list[list[int]], checkpoints: int
) -> None:
    """At each count k the history gives, the hypervolume of the first k points' front, the
    reference fixed; the counts spread to the last point."""
    points = [tuple(float(x) for x in p[:dims]) for p in raw]
    reference = (6.0,) * dims
    got = hypervolume_history(points, reference, checkpoints)
    if not points:
        assert got == []
        return
    assert got[-1][0] == len(points) and len(got) <= checkpoints
    assert [k for k, _ in got] == sorted({k for k, _ in got})
    for k, volume in got:
        prefix = points[:k]
        front = [prefix[i] for i in _fronts_by_definition(prefix)[0]]
        assert volume == pytest.approx(hypervolume(front, reference))


@pytest.mark.parametrize("direction", [Direction.MINIMIZE, Direction.MAXIMIZE])
def test_one_metric_s_cost_puts_infeasible_trials_past_every_feasible_one(
    direction: Direction,
) -> None:
    def t(number: int, value: float, *broken: float) -> Trial:
        values = {"value": value, **{f"constraint.{i}": c for i, c in enumerate(broken)}}
        return Trial("s", number, 0, {}, TrialState.COMPLETE, 1, value, values)

    plain = [t(0, 3.0), t(1, -2.0, -1.0), t(2, 5.0, 0.0)]
    cost = constrained_cost(plain, direction)  # nothing broken: the value in the direction
    assert [cost(x) for x in plain] == [direction.sort_key(x.value or 0.0) for x in plain]
    trials = [*plain, t(3, -9.0, 0.5), t(4, -9.0, 2.0), t(5, 7.0, 0.1, 0.3)]
    cost = constrained_cost(trials, direction)
    feasible = [cost(x) for x in trials[:3]]
    assert feasible == [direction.sort_key(x.value or 0.0) for x in trials[:3]]
    broken = [cost(x) for x in trials[3:]]
    assert min(broken) > max(feasible)
    assert cost(trials[4]) > cost(trials[3])  # the same value, more violation: worse
    none_feasible = trials[3:]
    assert [constrained_cost(none_feasible, direction)(x) for x in none_feasible] == [
        0.5,
        2.0,
        pytest.approx(0.4),
    ]


def test_crowding_by_hand() -> None:
    points = [(0.0, 4.0), (1.0, 2.0), (2.0, 1.0), (4.0, 0.0)]
    d = crowding(points, [0, 1, 2, 3])
    assert d[0] == d[3] == math.inf
    # (2 - 0) / 4 + (4 - 1) / 4 = 1.25 ; (4 - 1) / 4 + (2 - 0) / 4 = 1.25
    assert d[1] == pytest.approx(1.25) and d[2] == pytest.approx(1.25)


def test_hypervolume_by_hand() -> None:
    # three steps under (4, 4): 3*1 + 2*1 + 1*2 = ... computed as rectangles by x
    assert hypervolume([(1, 3), (2, 2), (3, 1)], (4, 4)) == pytest.approx(6.0)
    assert hypervolume([(1, 1)], (2, 3)) == pytest.approx(2.0)
    assert hypervolume([(5, 0)], (4, 4)) == 0.0  # outside the reference adds nothing
    # 3-D: one point is a box; two nested boxes count once
    assert hypervolume([(1, 1, 1)], (2, 3, 4)) == pytest.approx(6.0)
    assert hypervolume([(1, 1, 1), (1.5, 1.5, 1.5)], (2, 3, 4)) == pytest.approx(6.0)
    # two boxes overlapping: 1*2*3 + 2*1*3 - 1*1*3 = 9
    assert hypervolume([(1, 2, 1), (2, 1, 1)], (3, 3, 4)) == pytest.approx(9.0)
    assert reference_point([(0, 0), (2, 1)], [None, 5.0]) == (2.2, 5.0)


def test_rank_puts_the_front_first_then_crowding_then_infeasible() -> None:
    trials = [
        trial(0, auc=0.9, ms=10.0),
        trial(1, auc=0.8, ms=5.0),
        trial(2, auc=0.7, ms=6.0),  # beaten by 1
        trial(3, auc=0.95, ms=20.0),
        trial(4, auc=0.99, ms=1.0, **{"constraint.0": 0.5}),  # would dominate all: infeasible
        trial(5, auc=0.85, ms=7.0),
        trial(6, auc=0.5),  # no latency: last
    ]
    ranked = rank(trials, [("auc", Direction.MAXIMIZE), ("ms", Direction.MINIMIZE)])
    order = [r.trial.number for r in ranked]
    assert [r.front for r in ranked] == [0, 0, 0, 0, 1, None, None]
    # ends of the front (1 and 3) have infinite crowding and come first
    assert order[:2] == [1, 3] and set(order[2:4]) == {0, 5} and order[4:] == [2, 4, 6]
    assert ranked[5].violation == 0.5


def test_constraints_rank_infeasible_after_feasible_with_one_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'tuner.db'}")
    spec = make_spec("c", plan=[{"algorithm": "random", "trials": 4}])
    storage.create_study(spec)
    from tuner.scheduler import Scheduler

    Scheduler(storage).top_up("c", want=4)
    results = [
        {"value": 1.0, "constraints": [0.2]},  # best value, infeasible
        {"value": 3.0, "constraints": [-1.0, 0.0]},
        {"value": 2.0},
        {"value": 0.5, "constraints": [0.1, 0.3]},
    ]
    for result in results:
        t = storage.claim("c", "w", 60)
        assert t is not None
        value, values = interpret(result, None)
        storage.finish(
            "c", t.number, t.attempt, TrialOutcome(TrialState.COMPLETE, value, values), 1
        )
    assert [t.number for t in storage.leaderboard("c")] == [2, 1, 0, 3]
    assert [t.number for t in storage.leaderboard("c", top=1)] == [2]
    assert [r.front for r in storage.ranked("c")] == [0, 0, None, None]
    with pytest.raises(Exception, match="constraints"):
        interpret({"value": 1.0, "constraints": ["no"]}, None)
    # tuner leaderboard says by how much the infeasible ones broke their constraints
    output.leaderboard(storage, "c", None)
    head, *lines = capsys.readouterr().out.splitlines()
    assert head.split()[:5] == ["rank", "#", "round", "value", "violation"]
    assert [line.split()[1:5] for line in lines] == [
        ["2", "1", "2", "-"],
        ["1", "1", "3", "-"],
        ["0", "1", "1", "0.2"],
        ["3", "1", "0.5", "0.4"],
    ]


def mo_spec(**overrides: object) -> StudySpec:
    data = spec_dict("m", **overrides)
    data.pop("direction")
    return StudySpec.from_dict(data)


def test_the_metrics_spec_and_its_errors() -> None:
    spec = mo_spec(
        metrics=[{"name": "auc", "direction": "maximize"}, {"name": "ms", "reference": 50}]
    )
    assert spec.multi_objective and spec.metric == "auc" and spec.direction is Direction.MAXIMIZE
    assert StudySpec.from_dict(spec.to_dict()) == spec
    defaults = StudySpec.from_dict(
        {
            "name": "d",
            "space": {"x": {"type": "float", "low": 0, "high": 1}},
            "trials": 30,
            "metrics": ["a", "b"],
        }  # fmt: skip
    )
    assert [r.algorithm for r in defaults.plan] == ["random", "bayesian"]
    for bad, field in [
        ({"metrics": []}, "metrics"),
        ({"metrics": [{"name": "a", "direction": "up"}]}, "metrics[0].direction"),
        ({"metrics": ["a", "a"]}, "metrics[1].name"),
        ({"metrics": [{"name": "a", "weight": 2}]}, "metrics[0].weight"),
        ({"metrics": ["a"], "metric": "a"}, "metric"),
    ]:
        with pytest.raises(SpecError) as err:
            mo_spec(**bad)
        assert err.value.field == field, (bad, err.value)


def test_a_multi_objective_study_runs_with_the_default_plan(tmp_path: Path) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'tuner.db'}")
    data = {
        "name": "mo",
        "objective": {"function": "tuner.testing.objectives:two_metrics"},
        "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)},
        "metrics": [{"name": "f1"}, {"name": "f2", "reference": 11.0}],
        "trials": 24,
        "executor": {"type": "local", "workers": 2},
        "seed": 2,
    }
    spec = StudySpec.from_dict(data)
    runner = prepare_run(spec, Settings()).open(storage)
    try:
        assert runner.run().complete
    finally:
        runner.executor.shutdown()
    trials = storage.trials("mo")
    assert len(trials) == 24 and all(t.state is TrialState.COMPLETE for t in trials)
    assert [t.round for t in trials].count(1) == 19  # random warm-up, then Bayesian (EHVI)
    ranked = storage.ranked("mo")
    front = [r for r in ranked if r.front == 0]
    assert front and all(r.trial.values["constraint.0"] <= 0 for r in front)
    infeasible = [r for r in ranked if r.front is None]
    assert all(r.trial.params["x0"] > 0.8 for r in infeasible)
    assert ranked[-len(infeasible) :] == infeasible if infeasible else True
    hv = storage.hypervolume("mo")
    assert hv is not None and 0 < hv < 11.0  # f1 in [0, 0.8] below the reference f1 + 10%
