"""Studies with a pruner, run end to end on the local and command executors: intermediate values
reach the database while trials run, the pruner's answer reaches the objective, some trials end
``pruned`` with their last step and value, and none is lost."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tuner.config import Settings
from tuner.runs import prepare_run
from tuner.storage import Storage
from tuner.study import StudySpec
from tuner.trial import Trial, TrialState

STEPS = 16
TRIALS = 14


def pruning_study(pruner: object, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "pruned",
        "objective": {"function": "tuner.testing.objectives:learning_curve"},
        "space": {
            "x": {"type": "float", "low": 0.0, "high": 1.0},
            "steps": {"type": "categorical", "choices": [STEPS]},
            "pause": {"type": "categorical", "choices": [0.05]},
        },
        "plan": [{"algorithm": "random", "trials": TRIALS}],
        "executor": {"type": "local", "workers": 2},
        "pruner": pruner,
        "seed": 3,
        # a trial process killed from outside (the machine's fault campaign kills any
        # forkserver child) runs again: what this test counts is that none is lost
        "retries": 3,
    }
    base.update(overrides)
    return base


def run(storage: Storage, data: dict[str, Any], folder: Path | None = None) -> list[Trial]:
    spec = StudySpec.from_dict(data, base_dir=folder)
    runner = prepare_run(spec, Settings(), folder=folder).open(storage)
    try:
        progress = runner.run()
    finally:
        runner.executor.shutdown()
    assert progress.complete
    return storage.trials(spec.name)


def check_pruned(trials: list[Trial]) -> list[Trial]:
    """Every trial finished (none lost), some pruned early with their last step and value."""
    assert len(trials) == TRIALS
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials), [
        (t.number, t.state.value, (t.error or "")[-300:], t.meta, t.intermediate, t.attempts)
        for t in trials
        if t.state not in (TrialState.COMPLETE, TrialState.PRUNED)
    ]
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert pruned, [(t.number, t.params["x"], len(t.intermediate)) for t in trials]
    for t in pruned:
        assert t.value == max(t.intermediate)[1]
        assert t.meta["prune"]["attempt"] == t.attempt
        # reports made after the decision, while the answer travelled, are kept
        assert t.meta["prune"]["step"] <= max(t.intermediate)[0]
    # the answer reached the objectives, which stopped before their last step (how many steps
    # later depends on the machine's load: a test asserts no time)
    assert any(len(t.intermediate) < STEPS for t in pruned)
    for t in trials:
        if t.state is TrialState.COMPLETE:
            assert len(t.intermediate) == STEPS
            assert t.meta.get("prune", {}).get("attempt") != t.attempt
    return pruned


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(f"sqlite:///{tmp_path / 'tuner.db'}")


# every pruner, as the local, command, Ray and remote-worker tests run them
PRUNERS = [
    {"type": "median", "n_startup_trials": 2},
    {"type": "percentile", "percentile": 40, "n_startup_trials": 2},
    {"type": "asha", "min_resource": 1, "reduction_factor": 2},
    {"type": "hyperband", "min_resource": 1, "max_resource": STEPS, "reduction_factor": 2},
]
each_pruner = pytest.mark.parametrize("pruner", PRUNERS, ids=lambda p: p["type"])


@each_pruner
def test_each_pruner_prunes_local_trials_and_loses_none(storage: Storage, pruner: Any) -> None:
    check_pruned(run(storage, pruning_study(pruner)))


def test_an_objective_raising_trial_pruned_ends_pruned(storage: Storage) -> None:
    data = pruning_study({"type": "median", "n_startup_trials": 2})
    data["space"]["raise_pruned"] = {"type": "categorical", "choices": [True]}
    check_pruned(run(storage, data))


def test_without_a_pruner_every_trial_completes(storage: Storage) -> None:
    trials = run(storage, pruning_study(None, plan=[{"algorithm": "random", "trials": 4}]))
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert all(len(t.intermediate) == STEPS for t in trials)


PROGRAM = """
import json, os, sys, time
x, steps = float(sys.argv[1]), int(sys.argv[2])
for step in range(steps):
    print(json.dumps({"step": step, "loss": x + 1.0 / (step + 1)}), flush=True)
    time.sleep(0.05)
    if os.path.exists(os.environ["TUNER_STOP_FILE"]):
        sys.exit(0)  # told to stop: it may simply exit
print(json.dumps({"loss": x + 1.0 / steps}))
"""


@each_pruner
def test_a_command_objective_sees_the_stop_file_and_ends_pruned(
    storage: Storage, tmp_path: Path, pruner: Any
) -> None:
    (tmp_path / "curve.py").write_text(PROGRAM)
    data = pruning_study(
        pruner,
        objective={"command": f"{sys.executable} curve.py {{x}} {{steps}}"},
        executor={"type": "command", "workers": 2},
        metric="loss",
    )
    check_pruned(run(storage, data, tmp_path))


def test_the_database_keeps_the_decision_and_ends_the_attempt_pruned(database_url: str) -> None:
    """On SQLite and PostgreSQL: a report answers the pruner's decision, which stays asked for
    that attempt; completing it then ends it pruned (a retried completion is the same answer)."""
    from tuner.executor import TrialOutcome
    from tuner.scheduler import Scheduler

    storage = Storage(database_url)
    try:
        spec = StudySpec.from_dict(
            pruning_study(
                {"type": "median", "n_startup_trials": 1},
                plan=[{"algorithm": "random", "trials": 3}],
            )
        )
        storage.create_study(spec)
        Scheduler(storage).top_up("pruned", want=3)
        first = storage.claim("pruned", "w", 60)
        assert first is not None
        assert storage.report("pruned", first.number, first.attempt, 0, 0.1) is False
        storage.finish(
            "pruned", first.number, first.attempt, TrialOutcome(TrialState.COMPLETE, 0.1), 1
        )
        second = storage.claim("pruned", "w", 60)
        assert second is not None
        assert storage.report("pruned", second.number, second.attempt, 0, 0.9) is True
        assert storage.report("pruned", second.number, second.attempt, 1, 0.05) is True  # stays
        done = TrialOutcome(TrialState.COMPLETE, 0.05)
        ended = storage.finish("pruned", second.number, second.attempt, done, 1)
        assert ended.state is TrialState.PRUNED and ended.value == 0.05
        assert ended.meta["prune"] == {"attempt": second.attempt, "step": 0}
        again = storage.finish("pruned", second.number, second.attempt, done, 1)
        assert again.state is TrialState.PRUNED
        assert Scheduler(storage).progress("pruned").done == 2
    finally:
        storage.close()


def test_asha_never_leaves_a_worker_idle_while_trials_wait(storage: Storage) -> None:
    """No rung barrier: while trials remain, each finished trial's worker starts the next one
    at once (the runner's poll, plus slack for a loaded machine), and two always run."""
    trials = run(storage, pruning_study({"type": "asha", "min_resource": 1}))
    check_pruned(trials)
    starts = sorted(t.started_at for t in trials if t.started_at)
    ends = sorted(t.finished_at for t in trials if t.finished_at)
    for end in ends[: len(ends) - 2]:  # every end but the last two is followed by a start
        following = [s for s in starts if s >= end]
        assert following, end
        assert (following[0] - end).total_seconds() < 3.0


BUDGETED = [
    {"algorithm": "random", "trials": 10, "resource": {"min": 1, "max": 4}},
    {"algorithm": "random", "trials": 3, "resource": {"max": 12}},
]


def check_budgeted(trials: list[Trial], pruned: bool) -> None:
    """Each trial spent at most its round's resource (all of it when not pruned), and, with a
    pruner (its rungs from the resource), some were stopped; none is lost."""
    assert len(trials) == 13
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    for t in trials:
        most = 4 if t.round == 0 else 12
        assert t.resource == most and t.min_resource == 1
        assert len(t.intermediate) <= most
        if t.state is TrialState.COMPLETE:
            assert [s for s, _ in t.intermediate] == list(range(most))
    assert any(t.state is TrialState.PRUNED for t in trials) is pruned


@pytest.mark.parametrize("pruner", [None, {"type": "hyperband"}], ids=["none", "hyperband"])
def test_a_round_resource_reaches_the_objective_and_the_pruners_rungs(
    storage: Storage, pruner: Any
) -> None:
    data = pruning_study(pruner, plan=BUDGETED)
    del data["space"]["steps"]  # the objective reads trial.resource
    check_budgeted(run(storage, data), pruned=pruner is not None)


RESOURCE_PROGRAM = """
import json, os, sys, time
x, steps = float(sys.argv[1]), int(os.environ["TUNER_RESOURCE"])
assert os.environ["TUNER_PRUNES"] == "1"  # the study has a pruner
for step in range(steps):
    print(json.dumps({"step": step, "loss": x + 1.0 / (step + 1)}), flush=True)
    time.sleep(0.05)
    if os.path.exists(os.environ["TUNER_STOP_FILE"]):
        sys.exit(0)
print(json.dumps({"loss": x + 1.0 / steps}))
"""


def test_a_command_objective_reads_the_resource_from_its_environment(
    storage: Storage, tmp_path: Path
) -> None:
    (tmp_path / "curve.py").write_text(RESOURCE_PROGRAM)
    data = pruning_study(
        {"type": "asha", "reduction_factor": 2},
        plan=BUDGETED,
        objective={"command": f"{sys.executable} curve.py {{x}}"},
        executor={"type": "command", "workers": 2},
        metric="loss",
    )
    del data["space"]["steps"]
    check_budgeted(run(storage, data, tmp_path), pruned=True)
