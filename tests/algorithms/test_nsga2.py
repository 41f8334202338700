"""NSGA-II: the Algorithm conformance suite, and multi-objective breeding from the history alone
(a restarted study breeds the same next generation, also after the runner was killed outright)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml

from tests.algorithms.test_multiobjective import tell
from tests.conftest import REPO
from tests.tuner.test_cli import TUNER, _wait_for_complete
from tuner import plugins
from tuner.algorithm import Suggestion
from tuner.pareto import costs, fronts
from tuner.space import SearchSpace
from tuner.storage import Storage
from tuner.study import Direction
from tuner.testing import AlgorithmConformance
from tuner.trial import Trial, TrialState

SPACE = SearchSpace.from_dict(
    {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)}
)
METRICS = [["f1", "minimize"], ["f2", "minimize"]]
OBJECTIVES = [("f1", Direction.MINIMIZE), ("f2", Direction.MINIMIZE)]


class TestNSGA2(AlgorithmConformance):
    algorithm = "nsga2"
    options: ClassVar[dict[str, Any]] = {"population": 6}


class TestNSGA2MultiObjective(AlgorithmConformance):
    algorithm = "nsga2"
    options: ClassVar[dict[str, Any]] = {"population": 6, "metrics": [["value", "minimize"]]}


def zdt1(params: dict[str, float]) -> dict[str, float]:
    x = [params[f"x{i}"] for i in range(4)]
    g = 1 + 9 * sum(x[1:]) / 3
    return {"f1": x[0], "f2": g * (1 - (x[0] / g) ** 0.5)}


def make(seed: int | None = 7) -> Any:
    cls = plugins.algorithm("nsga2")
    return cls.create(SPACE, Direction.MINIMIZE, seed, 60, {"population": 8, "metrics": METRICS})


def evolve(generations: int, seed: int | None = 7) -> list[Trial]:
    """A study run by hand: each suggestion evaluated on ZDT1, its generation stored."""
    history: list[Trial] = []
    for _ in range(generations):
        for s in make(seed).suggest(history, 8):
            assert isinstance(s, Suggestion)
            tell(history, s, zdt1(s.params))
    return history


def test_generations_are_stored_and_a_restart_breeds_the_same_next_generation() -> None:
    history = evolve(4)
    assert [t.meta["generation"] for t in history] == [g for g in range(4) for _ in range(8)]
    # the server was killed: a fresh instance (another process) reads the same history
    first = make().suggest(history, 8)
    again = make().suggest(list(reversed(history)), 8)
    assert [s.params for s in first] == [s.params for s in again]
    assert all(s.meta["generation"] == 4 for s in first)
    # a generation half issued (some trials running) goes on where it was
    running = [
        Trial("s", len(history) + i, 0, s.params, TrialState.RUNNING, 1, meta=s.meta)
        for i, s in enumerate(first[:3])
    ]
    rest = make().suggest(history + running, 5)
    assert [s.meta["generation"] for s in rest] == [4] * 5


def test_the_front_improves_over_generations() -> None:
    history = evolve(10)

    def front_quality(trials: list[Trial]) -> float:
        points = [costs(t, OBJECTIVES) for t in trials]
        first = [points[i] for i in fronts(points)[0]]  # type: ignore[arg-type]
        return float(np.mean([p[0] + p[1] for p in first]))  # type: ignore[index]

    assert front_quality(history[-16:]) < front_quality(history[:16])


def _run_to_end(spec: Path, db: str, sleep: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TUNER, "run", str(spec), "--no-progress", "--db", db],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TUNER_TEST_SLEEP": sleep},
    )


def _trials(db: str) -> list[tuple[int, dict[str, Any], Any]]:
    storage = Storage(db)
    try:
        return [(t.number, t.params, t.meta.get("generation")) for t in storage.trials("mokill")]
    finally:
        storage.close()


def test_a_multi_objective_genetic_study_killed_outright_resumes_with_the_same_generations(
    tmp_path: Path,
) -> None:
    """SIGKILL the runner in the middle of NSGA-II's second generation, resume it: every trial
    (the generation it was in, the next ones) is the one an uninterrupted run makes."""
    spec = tmp_path / "mo.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "mokill",
                "objective": {"function": "tests.objectives:slow_two_metrics"},
                "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)},
                "metrics": [{"name": "f1"}, {"name": "f2"}],
                "plan": [
                    {"algorithm": "random", "trials": 4},
                    {"algorithm": "nsga2", "trials": 16, "options": {"population": 4}},
                ],
                "executor": {"type": "local", "workers": 1},
                "seed": 5,
            }
        )
    )
    whole = f"sqlite:///{tmp_path / 'whole.db'}"
    out = _run_to_end(spec, whole, "0")
    assert out.returncode == 0, out.stderr
    expected = _trials(whole)
    assert [g for _, _, g in expected] == [None] * 4 + [g for g in range(4) for _ in range(4)]

    killed_file = tmp_path / "killed.db"
    proc = subprocess.Popen(
        [*TUNER, "run", str(spec), "--no-progress", "--db", f"sqlite:///{killed_file}"],
        cwd=REPO,
        env={**os.environ, "TUNER_TEST_SLEEP": "0.4"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_complete(killed_file, 10, proc)  # 4 random, gen 0, two of gen 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    before = _trials(f"sqlite:///{killed_file}")
    assert 10 <= len(before) < len(expected)
    out = _run_to_end(spec, f"sqlite:///{killed_file}", "0")
    assert out.returncode == 0, out.stderr
    assert _trials(f"sqlite:///{killed_file}") == expected
