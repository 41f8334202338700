"""The pruning benchmark's quick mode runs end to end: our pruners on the synthetic curves and
XGBoost on a bundled data set, every contender held to the same compute budget. (Optuna, the peer,
is in the ``bench`` extra, not in what the suite installs: the peers are measured in
experiments/.)"""

from __future__ import annotations

import json
import math
from pathlib import Path

from experiments import bench_pruning
from experiments.pruning_measure import Curve, Meter, reach_share


def test_the_quick_benchmark_runs_every_pruner_within_the_budget(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert bench_pruning.main(["--quick", "--contenders", "tuner", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
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
    for problem in ("synthetic", "xgboost-breast_cancer"):
        trials = {r["pruner"]: r["median_trials"] for r in rows if r["problem"] == problem}
        # without pruning each trial spends the full steps; pruning runs more in the same budget
        assert trials["none"] == 6
        assert max(trials.values()) > trials["none"]
        unpruned = next(r for r in rows if r["problem"] == problem and r["pruner"] == "none")
        assert unpruned["reach_share"] <= 1.0  # it reaches its own best within its budget
    # merged with another run (here itself), each row has both runs' seeds, summarised again
    both = tmp_path / "both.json"
    assert bench_pruning.main(["--merge", str(out), str(out), "--out", str(both)]) == 0
    again = json.loads(both.read_text())["rows"]
    assert [len(r["runs"]) for r in again] == [2 * len(r["runs"]) for r in rows]
    assert [r["median_best"] for r in again] == [r["median_best"] for r in rows]


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
