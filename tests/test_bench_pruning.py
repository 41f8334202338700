"""The pruning benchmark's quick mode runs end to end: our pruners on the synthetic curves and
XGBoost on a bundled data set, with honest accounting of the steps spent. (Optuna, the peer, is
in the ``bench`` extra, not in what the suite installs: the peers are measured in experiments/.)"""

from __future__ import annotations

import json
from pathlib import Path

from experiments import bench_pruning


def test_the_quick_benchmark_runs_every_pruner(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert bench_pruning.main(["--quick", "--contenders", "tuner", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(r["problem"], r["contender"], r["pruner"]) for r in rows} == {
        (problem, contender, pruner)
        for problem in ("synthetic", "xgboost-breast_cancer")
        for contender in ("tuner",)
        for pruner in bench_pruning.PRUNERS
    }
    for r in rows:
        assert 0 < r["median_steps"] <= r["full"]
        assert r["median_best"] > 0  # a loss: positive
        if r["pruner"] == "none":
            assert r["median_steps"] == r["full"]  # nothing stopped: every step was spent
    pruning = [r for r in rows if r["pruner"] != "none"]
    assert any(r["median_steps"] < r["full"] for r in pruning)
