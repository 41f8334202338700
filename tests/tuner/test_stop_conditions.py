"""Study stop conditions (target, time budget, failures, patience) on SQLite and PostgreSQL: the
first met ends the study with its name as the reason, waiting trials are cancelled and running
ones finish; and one study run end to end on the local executor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.specs import make_spec
from tuner.config import Settings
from tuner.errors import SpecError
from tuner.executor import TrialOutcome
from tuner.runs import prepare_run
from tuner.scheduler import Scheduler
from tuner.stop_conditions import StopConditions, seconds
from tuner.storage import Storage
from tuner.study import StudySpec, StudyState
from tuner.trial import TrialState


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    s = Storage(database_url)
    yield s
    s.close()


def study(storage: Storage, stop: dict[str, Any], trials: int = 20, parallel: int = 3) -> str:
    spec = make_spec(
        "stop",
        plan=[{"algorithm": "random", "trials": trials, "parallelism": parallel}],
        stop=stop,
    )
    storage.create_study(spec)
    return spec.name


def run_one(storage: Storage, sched: Scheduler, name: str, outcome: TrialOutcome) -> bool:
    """Top up (where the conditions are looked at, as a runner does before each claim), claim
    and finish one trial; False when none could be claimed."""
    sched.top_up(name, want=1)
    trial = storage.claim(name, "w", 60)
    if trial is None:
        return False
    storage.finish(name, trial.number, trial.attempt, outcome, 1)
    return True


def ended(storage: Storage, name: str, reason: str) -> None:
    record = storage.get_study(name)
    assert record.state is StudyState.COMPLETE and record.stop_reason == reason
    assert storage.study_summary(name).stop_reason == reason
    trials = storage.trials(name)
    assert not [t for t in trials if t.state is TrialState.WAITING]
    cancelled = [t for t in trials if t.error and t.error.startswith("cancelled")]
    assert all(t.state is TrialState.FAILED and reason in (t.error or "") for t in cancelled)


def test_target_stops_the_study_cancels_waiting_and_lets_running_finish(
    storage: Storage,
) -> None:
    name = study(storage, {"target": 1.0})
    sched = Scheduler(storage)
    assert run_one(storage, sched, name, TrialOutcome(TrialState.COMPLETE, value=5.0))
    running = storage.claim(name, "w", 60)  # in flight when the target is reached
    assert running is not None
    assert run_one(storage, sched, name, TrialOutcome(TrialState.COMPLETE, value=0.5))
    progress = sched.progress(name)
    assert not progress.complete and progress.running == 1  # the running one finishes
    ended(storage, name, "target")
    assert sched.claim(name, "w", 60)[0] is None  # nothing more is handed out
    storage.finish(
        name, running.number, running.attempt, TrialOutcome(TrialState.COMPLETE, value=3.0), 1
    )
    assert sched.progress(name).complete
    assert storage.get_study(name).stop_reason == "target"


def test_a_trial_that_breaks_a_constraint_reaches_no_target_and_is_not_the_best(
    storage: Storage,
) -> None:
    """Infeasible trials rank after feasible ones everywhere: the target, the progress's best
    and the study listing's best value are of feasible trials (the leaderboard's first)."""
    name = study(storage, {"target": 1.0})
    sched = Scheduler(storage)

    def outcome(value: float, *constraints: float) -> TrialOutcome:
        broken = {f"constraint.{i}": c for i, c in enumerate(constraints)}
        return TrialOutcome(TrialState.COMPLETE, value=value, values={"value": value, **broken})

    assert run_one(storage, sched, name, outcome(3.0))
    assert run_one(storage, sched, name, outcome(0.5, -1.0, 0.2))  # past the target, infeasible
    assert run_one(storage, sched, name, outcome(2.0, -1.0, 0.0))  # the best feasible
    assert storage.get_study(name).state is StudyState.RUNNING
    assert storage.study_summary(name).best_value == 2.0
    assert [s.best_value for s in storage.list_studies() if s.name == name] == [2.0]
    best = sched.progress(name).best
    assert best is not None and best.value == 2.0
    assert storage.leaderboard(name)[0].value == 2.0
    assert run_one(storage, sched, name, outcome(0.9, -0.5))  # feasible, at the target
    assert not run_one(storage, sched, name, outcome(0.1))
    ended(storage, name, "target")


def test_max_failed_counts_trials_failed_for_good(storage: Storage) -> None:
    name = study(storage, {"max_failed": 2})
    sched = Scheduler(storage)
    for _ in range(2):
        assert run_one(storage, sched, name, TrialOutcome.failure("boom"))
    assert not run_one(storage, sched, name, TrialOutcome(TrialState.COMPLETE, value=1.0))
    ended(storage, name, "max_failed")


def test_patience_counts_finished_trials_after_the_best(storage: Storage) -> None:
    name = study(storage, {"patience": 3})
    sched = Scheduler(storage)
    for value in (5.0, 1.0, 2.0, 3.0):  # the best is the second; two after it
        assert run_one(storage, sched, name, TrialOutcome(TrialState.COMPLETE, value=value))
    assert storage.get_study(name).state is StudyState.RUNNING
    assert run_one(storage, sched, name, TrialOutcome(TrialState.PRUNED))  # the third
    assert not run_one(storage, sched, name, TrialOutcome(TrialState.COMPLETE, value=0.1))
    ended(storage, name, "patience")
    assert len([t for t in storage.trials(name) if t.state.finished and not t.error]) == 5


def test_time_budget_runs_from_the_first_trial(storage: Storage) -> None:
    name = study(storage, {"time_budget": 0.5})
    sched = Scheduler(storage)
    time.sleep(0.6)  # before any trial started, the clock does not run
    assert run_one(storage, sched, name, TrialOutcome(TrialState.COMPLETE, value=3.0))
    time.sleep(0.6)
    assert not run_one(storage, sched, name, TrialOutcome(TrialState.COMPLETE, value=1.0))
    ended(storage, name, "time_budget")


def test_the_spec_reads_durations_and_names_bad_fields() -> None:
    assert seconds("2h", "t") == 7200 and seconds("30m", "t") == 1800 and seconds(90, "t") == 90
    stop = StopConditions.from_dict({"target": 0.99, "time_budget": "1.5h", "patience": 50})
    assert stop.time_budget == 5400 and stop.to_dict()["target"] == 0.99
    assert make_spec("a", stop={"max_failed": 3}).stop.max_failed == 3
    spec = make_spec("a", stop={"target": 0.5, "time_budget": "2h"})
    assert StudySpec.from_dict(spec.to_dict()).stop == spec.stop
    for bad, field in [
        ({"target": "high"}, "stop.target"),
        ({"time_budget": "soon"}, "stop.time_budget"),
        ({"max_failed": 0}, "stop.max_failed"),
        ({"patience": -1}, "stop.patience"),
        ({"budget": 3}, "stop.budget"),
        ([1], "stop"),
    ]:
        with pytest.raises(SpecError) as err:
            make_spec("a", stop=bad)
        assert err.value.field == field, (bad, err.value)


def test_a_run_on_the_local_executor_ends_at_its_target(tmp_path: Path) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'tuner.db'}")
    spec = make_spec(
        "target",
        plan=[{"algorithm": "random", "trials": 60}],
        stop={"target": 4.0},  # (x - 2)^2 <= 4: a third of the space
        executor={"type": "local", "workers": 2},
    )
    runner = prepare_run(spec, Settings()).open(storage)
    try:
        progress = runner.run()
    finally:
        runner.executor.shutdown()
    assert progress.complete
    record = storage.get_study("target")
    assert record.state is StudyState.COMPLETE and record.stop_reason == "target"
    trials = storage.trials("target")
    ran = [t for t in trials if t.state is TrialState.COMPLETE]
    assert any(t.value is not None and t.value <= 4.0 for t in ran)
    cancelled = [t for t in trials if (t.error or "").startswith("cancelled")]
    assert cancelled and len(ran) + len(cancelled) == len(trials) < len(ran) + 60
