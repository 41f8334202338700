"""The pruning benchmark's quick mode runs end to end: our pruners on the synthetic curves and
XGBoost on a bundled data set, every contender held to the same compute budget. (Optuna, the peer,
is in the ``bench`` extra, not in what the suite installs: the peers are measured in
experiments/.)"""

from __future__ import annotations

import json
import math
from pathlib import Path

from experiments import bench_pruning
from experiments.pruning_measure import Curve, Meter, oracle_stopping, reach_share


def test_the_quick_benchmark_runs_every_pruner_within_the_budget(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert bench_pruning.main(["--quick", "--contenders", "tuner", "--out", str(out)]) == 0
    every = json.loads(out.read_text())["rows"]
    rows = [r for r in every if r["pruner"] != bench_pruning.ORACLE]
    assert {(r["problem"], r["contender"], r["pruner"]) for r in rows} == {
        (problem, "tuner", pruner)
        for problem in ("synthetic", "xgboost-breast_cancer")
        for pruner in bench_pruning.PRUNERS
    }
    for r in rows:
        for run in r["runs"]:
            assert run["spent"] == r["budget"]  # every contender spends the whole budget
            steps = [c for c, _ in run["best_curve"]]
            best = [v for _, v in run["best_curve"]]
            assert steps == sorted(steps) and best == sorted(best, reverse=True)
        assert r["median_best"] > 0  # a loss: positive
    shares: dict[str, tuple[float, float]] = {}
    for problem in ("synthetic", "xgboost-breast_cancer"):
        trials = {r["pruner"]: r["median_trials"] for r in rows if r["problem"] == problem}
        # without pruning each trial spends the full steps; pruning runs more in the same budget
        assert trials["none"] == 6
        assert max(trials.values()) > trials["none"]
        unpruned = next(r for r in rows if r["problem"] == problem and r["pruner"] == "none")
        assert unpruned["reach_share"] <= 1.0  # it reaches its own best within its budget
        # the oracle bound: the same trials and finals, for less compute
        (bound,) = [r for r in every if r["problem"] == problem and r["pruner"] == "oracle stop"]
        assert bound["median_best"] == unpruned["median_best"]
        assert bound["reach_share"] <= unpruned["reach_share"]
        assert all(run["spent"] <= bound["budget"] for run in bound["runs"])
        shares[problem] = (bound["reach_share"], unpruned["reach_share"])
    # on XGBoost's quick run the first trials do not all improve: the bound spends less
    assert shares["xgboost-breast_cancer"][0] < shares["xgboost-breast_cancer"][1]
    # merged with another run (here itself), each row has both runs' seeds, summarised again
    both = tmp_path / "both.json"
    assert bench_pruning.main(["--merge", str(out), str(out), "--out", str(both)]) == 0
    again = json.loads(both.read_text())["rows"]  # the oracle rows derived again, not merged
    assert [(r["problem"], r["pruner"]) for r in again] == [
        (r["problem"], r["pruner"]) for r in every
    ]
    assert [len(r["runs"]) for r in again] == [2 * len(r["runs"]) for r in every]
    assert [r["median_best"] for r in again] == [r["median_best"] for r in every]


def test_the_measure_counts_compute_until_the_best_reaches_a_target() -> None:
    meter = Meter(budget=10)
    assert all(meter.take() for _ in range(4))
    meter.completed(3.0)
    assert all(meter.take() for _ in range(4))
    meter.completed(1.0)
    assert [meter.take() for _ in range(3)] == [True, True, False]  # nothing past the budget
    curve = meter.curve()
    assert curve.spent == 10 and curve.best_at(5) == 3.0 and curve.best_at(8) == 1.0
    assert curve.best_at(3) == math.inf
    assert curve.reaches(2.0) == 8.0 and curve.reaches(0.5) == math.inf
    never = Curve(((5, 9.0),), 10, 1)
    # the median over seeds: two of three reach 1.0, at 8 and 4 of 10 steps
    assert reach_share([curve, Curve(((4, 1.0),), 10, 1), never], 1.0, 10) == 0.8
    assert reach_share([curve, never, never], 1.0, 10) == math.inf


def test_the_oracle_bound_runs_in_full_only_the_trials_that_improve() -> None:
    # an unpruned run of 10-step trials: trials 1, 3 and 4 improved the best, 6 trials in all
    unpruned = Curve(((10, 5.0), (20, 6.0), (30, 4.0), (40, 2.0), (50, 3.0), (60, 2.5)), 60, 6)
    bound = oracle_stopping(unpruned)
    # trial 1 in full (10), trial 2 one step (11), trial 3 in full (21), trial 4 in full (31),
    # trials 5 and 6 one step each: 33 steps for the same best
    assert bound.points == ((10, 5.0), (21, 4.0), (31, 2.0))
    assert bound.spent == 33 and bound.trials == 6
    assert bound.best_at(60) == unpruned.best_at(60) == 2.0
    assert bound.reaches(2.0) == 31 and unpruned.reaches(2.0) == 40
