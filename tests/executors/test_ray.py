"""The Ray executor on a real local Ray (``num_cpus=2``), one Ray session for the module."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.specs import runnable, spec_dict
from tests.tuner.test_pruning_runs import PRUNERS
from tuner import plugins
from tuner.errors import SpecError
from tuner.executor import TrialJob
from tuner.executors.ray import RayExecutor, _task_options
from tuner.study import StudySpec
from tuner.testing.executors import (
    ExecutorConformance,
    is_alive,
    make_job,
    outcome_of,
    wait_until,
)
from tuner.trial import TrialState


def repo_job(name: str, params: dict, **kw: Any) -> TrialJob:
    """A job running ``tests.executors.objectives:<name>``, found from the repository root."""
    return make_job(f"tests.executors.objectives:{name}", params, workdir=str(REPO), **kw)


@pytest.fixture(scope="module", autouse=True)
def ray_session() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


class TestRayExecutor(ExecutorConformance):
    def make_executor(self, workers: int) -> RayExecutor:
        return RayExecutor(workers=workers, resources={"num_cpus": 1})


def test_capacity_defaults_to_the_cpus_per_trial() -> None:
    executor = RayExecutor(resources={"num_cpus": 1})
    try:
        assert executor.capacity == 2
    finally:
        executor.shutdown()
    executor = RayExecutor(resources={"num_cpus": 2})
    try:
        assert executor.capacity == 1
    finally:
        executor.shutdown()


def test_resources_become_task_options() -> None:
    assert _task_options({"num_cpus": 1, "num_gpus": 0, "memory": 2**20, "accel": 1}) == {
        "num_cpus": 1,
        "num_gpus": 0,
        "memory": 2**20,
        "resources": {"accel": 1.0},
    }


def test_killed_worker_fails_the_attempt_with_its_reason(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    executor = RayExecutor(workers=1)
    try:
        future = executor.submit(repo_job("sleeps_under_worker", {"pidfile": str(pidfile)}))
        assert wait_until(lambda: pidfile.exists() and pidfile.read_text() != "", 30)
        trial_pid, worker_pid = map(int, pidfile.read_text().split())
        os.kill(worker_pid, signal.SIGKILL)
        outcome = outcome_of(future)
        assert outcome.state is TrialState.FAILED and outcome.error is not None
        assert outcome.error.startswith("ray: "), outcome.error
        assert "Worker" in outcome.error or "died" in outcome.error, outcome.error
        assert wait_until(lambda: not is_alive(trial_pid)), "the trial outlived its worker"
        again = outcome_of(executor.submit(make_job("quadratic", {"x": 4})))  # retry works
        assert again.value == 4.0, again.error
    finally:
        executor.shutdown(cancel_running=True)


def test_found_by_name_and_checks_options() -> None:
    assert plugins.executor("ray") is RayExecutor
    for options, field in (
        ({"resources": {"num_cpus": -1}}, "resources.num_cpus"),
        ({"resources": 2}, "resources"),
        ({"workers": 0}, "workers"),
        ({"adress": "auto"}, "adress"),
    ):
        with pytest.raises(SpecError) as info:
            RayExecutor.check_options(options)
        assert info.value.field == field


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_unreachable_address_is_a_spec_error(address: str) -> None:
    spec = spec_dict(executor={"type": "ray", "address": address})
    with pytest.raises(SpecError) as info:
        runnable(spec)
    assert info.value.field == "executor.address" and "does not answer" in info.value.reason


def test_spec_with_ray_round_trips() -> None:
    spec = StudySpec.from_dict(
        spec_dict(executor={"type": "ray", "resources": {"num_cpus": 1, "num_gpus": 0}})
    )
    assert StudySpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("pruner", PRUNERS, ids=lambda p: p["type"])
def test_a_study_on_ray_prunes_trials_while_they_run(tmp_path: Path, pruner: Any) -> None:
    """Reports go up through the relay actor while the trial runs, the pruner's stop comes back
    with the answer to a report; some trials end pruned, none is lost."""
    from tests.tuner.test_pruning_runs import check_pruned, pruning_study, run
    from tuner.storage import Storage

    storage = Storage(f"sqlite:///{tmp_path / 'tuner.db'}")
    data = pruning_study(
        pruner, executor={"type": "ray", "workers": 2, "resources": {"num_cpus": 1}}
    )
    check_pruned(run(storage, data))


def test_a_round_resource_reaches_trials_on_ray(tmp_path: Path) -> None:
    from tests.tuner.test_pruning_runs import BUDGETED, check_budgeted, pruning_study, run
    from tuner.storage import Storage

    storage = Storage(f"sqlite:///{tmp_path / 'tuner.db'}")
    data = pruning_study(
        {"type": "hyperband"},
        plan=BUDGETED,
        executor={"type": "ray", "workers": 2, "resources": {"num_cpus": 1}},
    )
    del data["space"]["steps"]  # the objective reads trial.resource
    check_budgeted(run(storage, data), pruned=True)
