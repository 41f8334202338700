"""Bayesian search with several metrics (ParEGO, EHVI) and NSGA-III: the Algorithm conformance
suite, hand-checked acquisitions, constraints, and answers that depend on the history alone."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pytest

from tuner import plugins
from tuner.algorithm import Algorithm, Suggestion, as_suggestion
from tuner.algorithms.pareto_acquisition import Normaliser, ehvi_2d, parego, pareto_front
from tuner.errors import SpecError
from tuner.pareto import hypervolume
from tuner.space import SearchSpace
from tuner.study import Direction
from tuner.testing import AlgorithmConformance
from tuner.trial import Trial, TrialState

# the conformance histories carry one number, "loss": minimising and maximising it conflict, so
# every trial is on the front and the multi-objective machinery has work to do
TWO = [["loss", "minimize"], ["loss", "maximize"]]
THREE = [["loss", "minimize"], ["loss", "maximize"], ["loss", "minimize"]]


class TestBayesianParEGO(AlgorithmConformance):
    algorithm = "bayesian"
    options: ClassVar[dict[str, Any]] = {
        "metrics": THREE,
        "mo_acquisition": "parego",
        "initial_points": 3,
    }


class TestBayesianEHVI(AlgorithmConformance):
    algorithm = "bayesian"
    options: ClassVar[dict[str, Any]] = {"metrics": TWO, "initial_points": 3}


class TestNSGA3(AlgorithmConformance):
    algorithm = "nsga3"
    options: ClassVar[dict[str, Any]] = {"population": 6, "metrics": THREE}


class TestNSGA3OneMetric(AlgorithmConformance):
    algorithm = "nsga3"
    options: ClassVar[dict[str, Any]] = {"population": 5}


SPACE = SearchSpace.from_dict(
    {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)}
)


def zdt1(x: list[float]) -> dict[str, float]:
    g = 1 + 9 * sum(x[1:]) / 3
    return {"f1": x[0], "f2": g * (1 - math.sqrt(x[0] / g)), "constraint.0": x[0] - 0.8}


def dtlz2(x: list[float]) -> dict[str, float]:
    g = sum((v - 0.5) ** 2 for v in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return {
        "f1": (1 + g) * math.cos(a) * math.cos(b),
        "f2": (1 + g) * math.cos(a) * math.sin(b),
        "f3": (1 + g) * math.sin(a),
    }


def tell(history: list[Trial], suggestion: Suggestion, values: dict[str, float]) -> None:
    """Append ``suggestion`` to ``history`` as a complete trial with ``values`` (and its meta)."""
    history.append(
        Trial(
            "s",
            len(history),
            0,
            suggestion.params,
            TrialState.COMPLETE,
            1,
            values["f1"],
            values,
            meta=suggestion.meta,
        )  # fmt: skip
    )


def study(algorithm: Algorithm, problem: Any, trials: int, batch: int = 1) -> list[Trial]:
    """A study run by hand: suggestions evaluated in batches, their meta stored."""
    history: list[Trial] = []
    while len(history) < trials:
        for item in algorithm.suggest(history, batch):
            s = as_suggestion(item)
            tell(history, s, problem([s.params[f"x{i}"] for i in range(4)]))
    return history


def make(name: str, metrics: list[list[str]], seed: int | None = 3, **options: Any) -> Algorithm:
    return plugins.algorithm(name).create(
        SPACE, Direction.MINIMIZE, seed, 40, {"metrics": metrics, **options}
    )


ZDT = [["f1", "minimize"], ["f2", "minimize"]]
DTLZ = [["f1", "minimize"], ["f2", "minimize"], ["f3", "minimize"]]


def test_ehvi_by_hand() -> None:
    front = pareto_front(np.array([[0.6, 0.3], [0.2, 0.8], [0.7, 0.9]]))
    assert front.tolist() == [[0.2, 0.8], [0.6, 0.3]]  # (0.7, 0.9) is dominated
    # a certain point at (0.4, 0.4) adds the area it dominates, 0.36, less what the front
    # already holds there: 0.12 + 0.24 - 0.08 = 0.28
    certain = ehvi_2d(np.array([[0.4, 0.4]]), np.array([[1e-9, 1e-9]]), front, (1.0, 1.0))
    assert certain[0] == pytest.approx(0.08)
    gain = hypervolume([(0.2, 0.8), (0.6, 0.3), (0.4, 0.4)], (1, 1)) - hypervolume(
        [(0.2, 0.8), (0.6, 0.3)], (1, 1)
    )
    assert certain[0] == pytest.approx(gain)
    # a dominated point gains nothing; an empty front: the whole box below the reference
    assert ehvi_2d(np.array([[0.7, 0.9]]), np.array([[1e-9, 1e-9]]), front, (1, 1))[0] == 0
    empty = ehvi_2d(np.array([[0.5, 0.5]]), np.array([[1e-9, 1e-9]]), front[:0], (1, 1))
    assert empty[0] == pytest.approx(0.25)
    # uncertainty: the exact expectation agrees with sampling
    mean, std = np.array([[0.45, 0.5]]), np.array([[0.2, 0.1]])
    rng = np.random.default_rng(0)
    base = hypervolume([tuple(p) for p in front], (1, 1))
    sampled = np.mean(
        [
            hypervolume([*map(tuple, front), tuple(y)], (1, 1)) - base
            for y in rng.normal(mean[0], std[0], size=(4000, 2))
        ]
    )
    assert ehvi_2d(mean, std, front, (1, 1))[0] == pytest.approx(sampled, rel=0.1)


def trial(number: int, values: dict[str, float]) -> Trial:
    params = {f"x{i}": 0.5 for i in range(4)}
    return Trial("s", number, 0, params, TrialState.COMPLETE, 1, values["f1"], values)


def test_parego_scores_feasible_trials_first() -> None:
    trials = [
        trial(0, {"f1": 0.0, "f2": 4.0}),
        trial(1, {"f1": 2.0, "f2": 0.0}),
        trial(2, {"f1": 1.0, "f2": 1.0}),
        trial(3, {"f1": -5.0, "f2": -5.0, "constraint.0": 0.5}),  # best metrics, infeasible
        trial(4, {"f1": -5.0, "f2": -5.0, "constraint.0": 2.0}),
    ]
    metrics = [("f1", Direction.MINIMIZE), ("f2", Direction.MINIMIZE)]
    score = parego(Normaliser(trials, metrics), np.array([0.5, 0.5]), 0.05)
    values = [score(t) for t in trials]
    # normalised over the feasible ones: (0, 1), (1, 0), (0.5, 0.25)
    assert values[:3] == pytest.approx([0.5 + 0.025, 0.5 + 0.025, 0.25 + 0.05 * 0.375])
    assert max(values[:3]) < values[3] < values[4]  # type: ignore[type-var, operator]


@pytest.mark.parametrize("acquisition", ["parego", "ehvi"])
def test_bayesian_with_two_metrics_answers_from_the_history_alone(acquisition: str) -> None:
    history = study(make("bayesian", ZDT, mo_acquisition=acquisition), zdt1, 14)
    history += [
        Trial("s", 14, 0, {f"x{i}": 0.1 * i for i in range(4)}, TrialState.RUNNING, 1)
    ]  # fmt: skip
    first = make("bayesian", ZDT, mo_acquisition=acquisition).suggest(history, 3)
    again = make("bayesian", ZDT, mo_acquisition=acquisition).suggest(history[::-1], 3)
    assert first == again and len(first) == 3
    assert len({SPACE.key(p) for p in first}) == 3  # type: ignore[arg-type]


@pytest.mark.parametrize("acquisition", ["parego", "ehvi"])
def test_bayesian_with_two_metrics_keeps_out_of_the_infeasible_part(acquisition: str) -> None:
    """A fifth of the space (x0 > 0.8) is infeasible: random search puts a fifth of its points
    there; the model, having seen it, fewer."""
    history = study(make("bayesian", ZDT, mo_acquisition=acquisition), zdt1, 30, batch=2)
    guided = [t for t in history[10:] if t.values["constraint.0"] > 0]
    assert len(guided) < 0.2 * 20


def test_ehvi_needs_two_metrics_and_options_are_checked() -> None:
    with pytest.raises(SpecError) as err:
        make("bayesian", DTLZ, mo_acquisition="ehvi")
    assert err.value.field == "mo_acquisition"
    with pytest.raises(SpecError) as err:
        make("bayesian", ZDT, mo_acquisition="best")
    assert err.value.field == "mo_acquisition"
    with pytest.raises(SpecError) as err:
        make("nsga3", DTLZ, divisions=0)
    assert err.value.field == "divisions"
    assert make("bayesian", DTLZ).mo_acquisition == "parego"  # type: ignore[attr-defined]
    assert make("bayesian", ZDT).mo_acquisition == "ehvi"  # type: ignore[attr-defined]


def test_nsga3_stores_generations_and_a_restart_breeds_the_same_next_one() -> None:
    history = study(make("nsga3", DTLZ, population=10), dtlz2, 40, batch=10)
    assert [t.meta["generation"] for t in history] == [g for g in range(4) for _ in range(10)]
    first = make("nsga3", DTLZ, population=10).suggest(history, 10)
    again = make("nsga3", DTLZ, population=10).suggest(list(reversed(history)), 10)
    assert [s.params for s in first] == [s.params for s in again]  # type: ignore[union-attr]
    assert all(isinstance(s, Suggestion) and s.meta["generation"] == 4 for s in first)
    # 10 individuals, 3 metrics: the 10 reference points of 3 divisions (4 would make 15)
    nsga3: Any = make("nsga3", DTLZ, population=10)
    assert len(nsga3.reference_points(3)) == 10


def test_nsga3_moves_towards_the_dtlz2_front() -> None:
    """On DTLZ2 the front is the unit sphere (g = 0): later generations lie closer to it."""
    history = study(make("nsga3", DTLZ, population=10), dtlz2, 100, batch=10)

    def distance(trials: list[Trial]) -> float:
        return float(
            np.median([sum((t.params[f"x{i}"] - 0.5) ** 2 for i in (2, 3)) for t in trials])
        )

    assert distance(history[-10:]) < distance(history[:10])
