"""The local executor: the conformance suite, plus what is particular to child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO as ROOT
from tuner import plugins
from tuner.errors import SpecError
from tuner.executors.local import LocalExecutor
from tuner.testing.executors import (
    ExecutorConformance,
    is_alive,
    make_job,
    outcome_of,
    wait_until,
)
from tuner.trial import TrialState


class TestLocalExecutor(ExecutorConformance):
    def make_executor(self, workers: int) -> LocalExecutor:
        return LocalExecutor(workers=workers)


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    executor = LocalExecutor(workers=2)
    yield executor
    executor.shutdown(cancel_running=True)


@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "2"])
def test_check_options_refuses_bad_workers(workers: object) -> None:
    with pytest.raises(SpecError) as info:
        LocalExecutor.check_options({"workers": workers})
    assert info.value.field == "workers"
    assert info.value.reason == "must be a positive integer"


def test_check_options_refuses_unknown_options() -> None:
    with pytest.raises(SpecError) as info:
        LocalExecutor.check_options({"workers": 2, "threads": 4})
    assert info.value.field == "threads"
    assert "workers" in info.value.reason


def test_check_options_accepts_good_options() -> None:
    LocalExecutor.check_options({"workers": 3})
    LocalExecutor.check_options({})


def test_constructor_checks_and_defaults_workers() -> None:
    with pytest.raises(SpecError):
        LocalExecutor(workers=0)
    executor = LocalExecutor()
    try:
        assert executor.capacity == (os.cpu_count() or 1)
    finally:
        executor.shutdown()


def test_found_by_name() -> None:
    assert LocalExecutor.name == "local"
    assert plugins.executor("local") is LocalExecutor


def test_intermediate_values_survive_a_crash(executor: LocalExecutor) -> None:
    with executor:
        outcome = outcome_of(executor.submit(make_job("reports_then_exits")))
    assert outcome.state is TrialState.FAILED
    assert outcome.error == "worker process exited with code 3"
    assert outcome.intermediate == ((0, 1.5), (1, 0.5))


def test_reasons_are_plain(executor: LocalExecutor) -> None:
    with executor:
        segfault = outcome_of(executor.submit(make_job("segfaults")))
        timeout = outcome_of(
            executor.submit(make_job("sleeps", {"seconds": 30, "log": os.devnull}, timeout=0.5))
        )
    assert segfault.error == "worker process killed by signal SIGSEGV"
    assert timeout.error == "timed out after 0.5 s"


def test_grandchildren_end_with_a_finished_trial(executor: LocalExecutor, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    with executor:
        job = make_job("spawns_and_sleeps", {"pidfile": str(pidfile), "seconds": 0})
        outcome = outcome_of(executor.submit(job))
    assert outcome.state is TrialState.COMPLETE, outcome.error
    assert wait_until(lambda: not is_alive(int(pidfile.read_text())))


def test_missing_workdir_fails(executor: LocalExecutor, tmp_path: Path) -> None:
    with executor:
        job = make_job("quadratic", {"x": 1}, workdir=str(tmp_path / "nowhere"))
        outcome = outcome_of(executor.submit(job))
    assert outcome.state is TrialState.FAILED
    assert outcome.error is not None and "FileNotFoundError" in outcome.error


def test_child_sees_the_current_environment(
    executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    with executor:
        outcome_of(executor.submit(make_job("quadratic", {"x": 1})))  # the forkserver is up
        monkeypatch.setenv("TUNER_TEST_VALUE", "12.5")
        job = make_job("env_value", {"name": "TUNER_TEST_VALUE"})
        outcome = outcome_of(executor.submit(job))
    assert outcome.value == 12.5, outcome.error


def test_submit_after_shutdown_is_refused(executor: LocalExecutor) -> None:
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(make_job("quadratic", {"x": 1}))


def _run_fresh(script: str, cwd: Path) -> list[str]:
    """Run ``script`` in a new interpreter (so with a new forkserver) and return its lines."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


_PRELUDE = """
    import os, sys, time
    from tuner.executors.local import LocalExecutor
    from tuner.testing.executors import make_job

    def run(ref, workdir, params=None):
        with LocalExecutor(workers=1) as executor:
            outcome = executor.submit(make_job(ref, params, workdir=workdir)).result(60)
        print(outcome.state.value, outcome.value, (outcome.error or "").splitlines()[:1])
"""


def test_module_that_kills_the_forkserver_on_import(tmp_path: Path) -> None:
    lines = _run_fresh(
        _PRELUDE
        + """
    run("tests.executors.broken_objective:objective", None)
    run("tuner.testing.objectives:returns_nan", None)
    run("tuner.testing.objectives:quadratic", None, {"x": 3})
    """,
        cwd=ROOT,
    )
    assert lines[0].startswith("failed None")
    assert "cannot import" in lines[0] and "broken on purpose" in lines[0]
    assert lines[1].startswith("failed None")
    assert lines[2] == "complete 1.0 []"


def test_preloaded_module_is_not_reused_from_elsewhere_or_stale(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory, value in ((first, 1.0), (second, 2.0)):
        directory.mkdir()
        (directory / "probe.py").write_text(f"def objective(params):\n    return {value}\n")
    lines = _run_fresh(
        _PRELUDE
        + f"""
    run("probe:objective", {str(first)!r})
    run("probe:objective", {str(second)!r})
    run("probe:objective", {str(first)!r})
    time.sleep(0.05)
    with open({str(first / "probe.py")!r}, "w") as f:
        f.write("def objective(params):\\n    return 3.0\\n")
    run("probe:objective", {str(first)!r})
    """,
        cwd=tmp_path,
    )
    assert [line.split()[1] for line in lines] == ["1.0", "2.0", "1.0", "3.0"]


def test_modules_of_the_main_script_are_found_for_preloading() -> None:
    lines = _run_fresh(
        """
    import json
    from pathlib import Path
    from tuner.executors.local import _main_imports
    print(" ".join(_main_imports()))
    """,
        cwd=ROOT,
    )
    names = lines[0].split()
    assert {"json", "pathlib", "tuner.executors.local"} <= set(names)
    assert "__main__" not in names and "builtins" not in names
