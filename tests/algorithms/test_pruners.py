"""Every pruner runs the conformance suite; hand-checked decisions of each beside it."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from tuner import plugins
from tuner.algorithms.successive_halving import bracket_of
from tuner.errors import SpecError
from tuner.pruner import telling_step
from tuner.study import Direction, StudySpec
from tuner.testing import PrunerConformance
from tuner.trial import Trial, TrialState


class TestNone(PrunerConformance):
    pruner = "none"
    prunes = False


class TestMedian(PrunerConformance):
    pruner = "median"


class TestPercentile(PrunerConformance):
    pruner = "percentile"
    options: ClassVar[dict[str, Any]] = {"percentile": 10.0, "n_warmup_steps": 2}


class TestMedianLearnt(PrunerConformance):
    pruner = "median"
    options: ClassVar[dict[str, Any]] = {"n_warmup_steps": "learn"}


class TestAsha(PrunerConformance):
    pruner = "asha"


class TestAshaFixedResource(PrunerConformance):
    pruner = "asha"
    options: ClassVar[dict[str, Any]] = {"min_resource": 2, "reduction_factor": 3}


class TestAshaLearnt(PrunerConformance):
    pruner = "asha"
    options: ClassVar[dict[str, Any]] = {"min_resource": "learn"}


class TestHyperband(PrunerConformance):
    pruner = "hyperband"


class TestHyperbandFixed(PrunerConformance):
    pruner = "hyperband"
    options: ClassVar[dict[str, Any]] = {"max_resource": 81, "reduction_factor": 3}


def _trial(number: int, state: TrialState, points: list[float]) -> Trial:
    return Trial(
        "s", number, 0, {}, state, 1, points[-1] if points else None, {},
        tuple(enumerate(points)),
    )  # fmt: skip


def test_median_compares_with_the_median_of_complete_trials_at_the_step() -> None:
    done = [_trial(i, TrialState.COMPLETE, [v, v]) for i, v in enumerate([1.0, 2.0, 3.0])]
    pruner = plugins.pruner("median").create(Direction.MINIMIZE, {"n_startup_trials": 3})
    assert pruner.prune(_trial(3, TrialState.RUNNING, [2.5]), done) is True  # 2.5 > median 2
    assert pruner.prune(_trial(3, TrialState.RUNNING, [1.5]), done) is False
    # its best value so far counts, not its last
    assert pruner.prune(_trial(3, TrialState.RUNNING, [1.5, 2.5]), done) is False
    # fewer complete trials than n_startup_trials: never
    assert pruner.prune(_trial(3, TrialState.RUNNING, [9.0]), done[:2]) is False
    up = plugins.pruner("median").create(Direction.MAXIMIZE, {"n_startup_trials": 3})
    assert up.prune(_trial(3, TrialState.RUNNING, [1.5]), done) is True
    assert up.prune(_trial(3, TrialState.RUNNING, [2.5]), done) is False


def test_asha_promotes_the_best_quarter_and_never_waits_for_a_rung() -> None:
    pruner = plugins.pruner("asha").create(Direction.MINIMIZE, {"min_resource": 1})
    # alone at rung step 1: goes on, whatever its value (no barrier)
    assert pruner.prune(_trial(0, TrialState.RUNNING, [9.0, 9.0]), []) is False
    peers = [_trial(i, TrialState.RUNNING, [0.0, float(i)]) for i in range(1, 8)]
    # 8 at rung 1 (step 1): the best 8 // 4 = 2 go on; values 1..7 and ours
    assert pruner.prune(_trial(0, TrialState.RUNNING, [0.0, 1.5]), peers) is False
    assert pruner.prune(_trial(0, TrialState.RUNNING, [0.0, 2.5]), peers) is True
    # decided when the rung is crossed, not again at later steps
    assert pruner.prune(_trial(0, TrialState.RUNNING, [0.0, 1.5, 9.0]), peers) is False


def test_hyperband_brackets_are_fixed_by_the_number_and_weighted_by_budget() -> None:
    counts = [0] * 5
    for n in range(10_000):
        counts[bracket_of(n, 5, 3)] += 1
    assert counts[0] > counts[1] > counts[4] > 0  # the most aggressive bracket gets most trials
    assert [bracket_of(n, 5, 3) for n in range(50)] == [bracket_of(n, 5, 3) for n in range(50)]


def test_a_study_names_its_pruner_and_bad_ones_name_the_field() -> None:
    base = {"name": "p", "space": {"x": {"type": "float", "low": 0, "high": 1}}, "trials": 5}
    spec = StudySpec.from_dict({**base, "pruner": {"type": "asha", "reduction_factor": 3}})
    assert spec.pruner.type == "asha" and spec.pruner.options == {"reduction_factor": 3}
    assert StudySpec.from_dict(spec.to_dict()).pruner == spec.pruner
    assert StudySpec.from_dict({**base, "pruner": "median"}).pruner.type == "median"
    assert StudySpec.from_dict(base).pruner.type == "none"
    for bad, field in [
        ({"type": "nope"}, "pruner.type"),
        ({"type": "asha", "reduction_factor": 1}, "pruner.reduction_factor"),
        ({"type": "median", "warmup": 3}, "pruner.warmup"),
        ({"type": "percentile", "percentile": 120}, "pruner.percentile"),
        ({"type": "median", "n_warmup_steps": "lern"}, "pruner.n_warmup_steps"),
        ({"type": "asha", "min_resource": "lern"}, "pruner.min_resource"),
        ({"type": "hyperband", "min_resource": "learn"}, "pruner.min_resource"),
        (7, "pruner"),
    ]:
        with pytest.raises(SpecError) as err:
            StudySpec.from_dict({**base, "pruner": bad})
        assert err.value.field == field, (bad, err.value)


def _budgeted(number: int, points: list[float], least: int, most: int) -> Trial:
    trial = _trial(number, TrialState.RUNNING, points)
    return Trial(
        "s", number, 0, {}, TrialState.RUNNING, 1, trial.value, {}, trial.intermediate,
        meta={"resource": {"min": least, "max": most}},
    )  # fmt: skip


def test_halving_pruners_take_their_rungs_from_the_rounds_resource() -> None:
    """With a round resource, ``auto`` needs no complete trial: ASHA's first rung is the
    resource's min, Hyperband's brackets span min to max."""
    asha = plugins.pruner("asha").create(Direction.MINIMIZE, {})
    peers = [_budgeted(i, [0.0, 0.0, float(i)], 2, 27) for i in range(1, 8)]
    # rung 0 at step 2 (min 2): of 8 values, ours 6.5 is not among the best 2
    assert asha.prune(_budgeted(0, [0.0, 0.0, 6.5], 2, 27), peers) is True
    assert asha.prune(_budgeted(0, [0.0, 0.0, 0.5], 2, 27), peers) is False
    assert asha.prune(_budgeted(0, [0.0, 6.5], 2, 27), peers) is False  # not yet at step 2
    # without a resource (and no complete trial) auto decides nothing yet
    plain = [_trial(i, TrialState.RUNNING, [0.0, 0.0, float(i)]) for i in range(1, 8)]
    assert asha.prune(_trial(0, TrialState.RUNNING, [0.0, 0.0, 6.5]), plain) is False
    hyperband = plugins.pruner("hyperband").create(Direction.MINIMIZE, {})
    assert hyperband.brackets(27, 1) == 4 and hyperband.brackets(27, 3) == 3
    # brackets from the resource with no complete trial: it decides (some trial is pruned)
    runs = [_budgeted(i, [float(i)] * 10, 1, 27) for i in range(40)]
    assert any(hyperband.prune(t, runs) for t in runs)
    assert not any(hyperband.prune(t, plain) for t in plain)


def _crossing(number: int, final: float, steps: int = 6) -> Trial:
    """A complete trial whose curve ends at ``final`` but ranks the other way round until step
    3: a fast learner ahead early, behind at the end (values to minimise)."""
    points = [10.0 - final if s < 3 else final + 0.1 * (steps - 1 - s) for s in range(steps)]
    return _trial(number, TrialState.COMPLETE, points)


def test_the_telling_step_is_where_the_complete_trials_rank_as_they_end() -> None:
    crossing = [_crossing(i, float(i)) for i in range(6)]
    assert telling_step(crossing, Direction.MINIMIZE) == 3  # before 3 the order is reversed
    ordered = [_trial(i, TrialState.COMPLETE, [i + 5.0, i + 2.0, float(i)]) for i in range(6)]
    assert telling_step(ordered, Direction.MINIMIZE) == 0
    assert telling_step(ordered, Direction.MAXIMIZE) == 0
    assert telling_step(crossing[:4], Direction.MINIMIZE) is None  # too few to judge
    # maximising, "better" is higher: the crossing curves still tell from step 3
    assert telling_step(crossing, Direction.MAXIMIZE) == 3
    # five trials, two neighbours swapped at step 0: Spearman's 0.9 exactly, which counts
    swapped = [_trial(i, TrialState.COMPLETE, [float(o), float(i)]) for i, o in
               enumerate([1, 0, 2, 3, 4])]  # fmt: skip
    assert telling_step(swapped, Direction.MINIMIZE) == 0
    # trials that report nothing or end without a finite value do not count, nor stop it
    silent = [_trial(9, TrialState.COMPLETE, []), _trial(10, TrialState.COMPLETE, [float("nan")])]
    assert telling_step([*ordered, *silent], Direction.MINIMIZE) == 0
    assert telling_step([*ordered[:4], *silent], Direction.MINIMIZE) is None
    # reports at different steps: a trial's value at a step is its first report at or after it
    sparse = [
        Trial("s", i, 0, {}, TrialState.COMPLETE, 1, float(i), {}, ((2 * i, i + 5.0), (20, i)))
        for i in range(6)
    ]
    assert telling_step(sparse, Direction.MINIMIZE) == 0


def test_a_learnt_warm_up_does_not_judge_curves_before_they_cross() -> None:
    done = [_crossing(i, float(i)) for i in range(6)]
    learnt = plugins.pruner("median").create(Direction.MINIMIZE, {"n_warmup_steps": "learn"})
    plain = plugins.pruner("median").create(Direction.MINIMIZE, {})
    # a slow starter (worst at step 0, the best curves' shape): Optuna's rule stops it at once
    slow = _trial(6, TrialState.RUNNING, [10.0])
    assert plain.prune(slow, done) is True and learnt.prune(slow, done) is False
    # from the learnt step on, the rule is the median's
    assert learnt.prune(_trial(6, TrialState.RUNNING, [10.0, 10.0, 10.0, 9.0]), done) is True
    assert learnt.prune(_trial(6, TrialState.RUNNING, [10.0, 10.0, 10.0, 0.5]), done) is False
    # fewer complete trials than it needs to learn from: never
    assert learnt.prune(_trial(6, TrialState.RUNNING, [10.0, 10.0, 10.0, 9.0]), done[:4]) is False
    # ASHA's first rung at the learnt step (3): nothing judged at steps 1 and 2
    asha = plugins.pruner("asha").create(Direction.MINIMIZE, {"min_resource": "learn"})
    assert asha.prune(_trial(6, TrialState.RUNNING, [10.0, 10.0]), done) is False
    assert asha.prune(_trial(6, TrialState.RUNNING, [10.0, 10.0, 10.0, 9.0]), done) is True
    # (7 at the rung, the best 7 // 4 = 1 goes on: the others have 0.2 ... 5.2 there)
    assert asha.prune(_trial(6, TrialState.RUNNING, [10.0, 10.0, 10.0, 0.1]), done) is False
