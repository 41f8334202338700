"""The conformance suite of the Executor contract (``tuner.executor.Executor``).

An executor, ours or a third party's, runs it with pytest by subclassing::

    from tuner.testing import ExecutorConformance

    class TestMine(ExecutorConformance):
        def make_executor(self, workers):
            return MyExecutor(workers=workers)

The objectives it runs are ``tuner.testing.objectives:<name>`` (installed with Tuner); an
executor that runs another form of objective overrides ``job`` to express the same objective its
way (the command executor runs them through ``python -m tuner.testing.command_adapter``). One
whose trials cannot report back while they run (another machine, say) sets ``live_reports``
to False.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from tuner.executor import Executor, TrialJob, TrialOutcome
from tuner.study import ObjectiveSpec
from tuner.trial import TrialState

RESULT_TIMEOUT = 60.0  # only so that a broken executor fails the test instead of hanging it


def make_job(
    function: str,
    params: dict[str, Any] | None = None,
    *,
    number: int = 0,
    attempt: int = 1,
    metric: str | None = None,
    timeout: float | None = None,
    workdir: str | None = None,
) -> TrialJob:
    """A job of the conformance study running ``tuner.testing.objectives:<function>``."""
    ref = function if ":" in function else f"tuner.testing.objectives:{function}"
    return TrialJob(
        study="conformance",
        number=number,
        attempt=attempt,
        params=params or {},
        objective=ObjectiveSpec(ref),
        metric=metric,
        timeout=timeout,
        workdir=workdir,
    )


def outcome_of(future: Future[TrialOutcome]) -> TrialOutcome:
    outcome = future.result(timeout=RESULT_TIMEOUT)
    assert isinstance(outcome, TrialOutcome)
    return outcome


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_until(predicate: Any, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


class ExecutorConformance:
    """Tests of the ``tuner.executor.Executor`` contract; subclasses implement ``make_executor``."""

    live_reports: bool = True  # the listener hears reports while the trial runs

    def make_executor(self, workers: int) -> Executor:
        """A fresh executor running at most ``workers`` jobs at once."""
        raise NotImplementedError

    def job(self, function: str, params: dict[str, Any] | None = None, **kw: Any) -> TrialJob:
        """The job running conformance objective ``function``; an executor that runs objectives
        of another form (a command line) overrides this to express the same objective so."""
        return make_job(function, params, **kw)

    @pytest.fixture
    def executor(self) -> Iterator[Executor]:
        executor = self.make_executor(2)
        yield executor
        executor.shutdown(cancel_running=True)

    def test_number_result_completes(self, executor: Executor) -> None:
        outcome = outcome_of(executor.submit(self.job("quadratic", {"x": 5.0})))
        assert outcome.state is TrialState.COMPLETE, outcome.error
        assert outcome.value == 9.0
        assert outcome.values == {"value": 9.0}
        assert outcome.error is None

    def test_number_result_is_named_by_metric(self, executor: Executor) -> None:
        outcome = outcome_of(executor.submit(self.job("quadratic", {"x": 0}, metric="loss")))
        assert outcome.state is TrialState.COMPLETE, outcome.error
        assert outcome.values == {"loss": 4.0}

    def test_dict_result_with_metric(self, executor: Executor) -> None:
        outcome = outcome_of(executor.submit(self.job("metrics", {"x": 3}, metric="loss")))
        assert outcome.state is TrialState.COMPLETE, outcome.error
        assert outcome.value == pytest.approx(0.3)
        assert outcome.values == {"loss": pytest.approx(0.3), "accuracy": 0.75}

    def test_context_form_reports_intermediate_values(self, executor: Executor) -> None:
        job = self.job("with_reports", {"x": 2.0}, number=7, attempt=2)
        outcome = outcome_of(executor.submit(job))
        assert outcome.state is TrialState.COMPLETE, outcome.error
        assert outcome.value == 702.0  # number * 100 + attempt, as the context told it
        assert outcome.intermediate == ((0, 0.0), (1, 2.0), (2, 4.0))

    def test_the_listener_hears_reports_and_can_stop_the_trial(self, executor: Executor) -> None:
        heard: list[tuple[int, float]] = []

        def listener(step: int, value: float) -> bool:
            heard.append((step, value))
            return step >= 2  # stop once step 2 is reported

        steps = 1000  # 20 s if the stop never comes; how soon it comes is the machine's load
        job = self.job("reports_until_stopped", {"steps": steps, "pause": 0.02})
        outcome = outcome_of(executor.submit(job, listener))
        assert outcome.state is TrialState.COMPLETE, outcome.error
        if not self.live_reports:
            assert heard == [] and outcome.value == float(steps)
            return
        assert heard[:3] == [(0, 0.0), (1, 1.0), (2, 2.0)]
        assert outcome.value is not None and outcome.value < steps, "the trial never heard stop"
        assert outcome.intermediate[: len(heard)] == tuple(heard)

    def test_exception_fails_with_its_text(self, executor: Executor) -> None:
        outcome = outcome_of(executor.submit(self.job("raises", {"x": 42})))
        assert outcome.state is TrialState.FAILED
        assert outcome.error is not None
        assert "ValueError: x=42 is not welcome here" in outcome.error
        assert outcome.value is None

    def test_nan_result_fails(self, executor: Executor) -> None:
        outcome = outcome_of(executor.submit(self.job("returns_nan")))
        assert outcome.state is TrialState.FAILED
        assert outcome.error is not None and "nan" in outcome.error.lower()
        assert "finite" in outcome.error

    def test_missing_metric_fails(self, executor: Executor) -> None:
        outcome = outcome_of(executor.submit(self.job("metrics", {"x": 1}, metric="f1")))
        assert outcome.state is TrialState.FAILED
        assert outcome.error is not None and "'f1'" in outcome.error

    def test_unimportable_module_fails(self, executor: Executor) -> None:
        job = self.job("tests.executors.no_such_module:objective")
        outcome = outcome_of(executor.submit(job))
        assert outcome.state is TrialState.FAILED
        assert outcome.error is not None
        assert "cannot import 'tests.executors.no_such_module'" in outcome.error

    def test_missing_function_fails(self, executor: Executor) -> None:
        outcome = outcome_of(executor.submit(self.job("no_such_function")))
        assert outcome.state is TrialState.FAILED
        assert outcome.error is not None and "no attribute 'no_such_function'" in outcome.error

    def test_process_exit_fails_with_code(self, executor: Executor) -> None:
        outcome = outcome_of(executor.submit(self.job("exits")))
        assert outcome.state is TrialState.FAILED
        assert outcome.error is not None
        assert "exit" in outcome.error and re.search(r"\b3\b", outcome.error), outcome.error

    def test_segfault_fails_with_signal(self, executor: Executor) -> None:
        outcome = outcome_of(executor.submit(self.job("segfaults")))
        assert outcome.state is TrialState.FAILED
        assert outcome.error is not None and "SIGSEGV" in outcome.error, outcome.error

    def test_executor_survives_crashes(self, executor: Executor) -> None:
        crashes = [executor.submit(self.job(name)) for name in ("exits", "segfaults", "raises")]
        good = executor.submit(self.job("quadratic", {"x": 1}))
        assert [outcome_of(f).state for f in crashes] == [TrialState.FAILED] * 3
        assert outcome_of(good).value == 1.0

    def test_workdir_is_the_working_directory(self, executor: Executor, tmp_path: Path) -> None:
        out = tmp_path / "cwd.txt"
        (tmp_path / "cwd_probe.py").write_text(
            "import os\n\ndef objective(params):\n"
            "    open(params['out'], 'w').write(os.getcwd())\n    return 1.0\n"
        )
        job = self.job("cwd_probe:objective", {"out": str(out)}, workdir=str(tmp_path))
        outcome = outcome_of(executor.submit(job))
        assert outcome.state is TrialState.COMPLETE, outcome.error
        assert Path(out.read_text()).resolve() == tmp_path.resolve()

    def test_timeout_kills_the_job_and_its_children(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        pidfile = tmp_path / "grandchild.pid"
        # long enough for a fresh interpreter to start the grandchild on a loaded machine
        job = self.job("spawns_and_sleeps", {"pidfile": str(pidfile)}, timeout=6.0)
        start = time.monotonic()
        outcome = outcome_of(executor.submit(job))
        assert time.monotonic() - start < 30  # the objective alone would sleep 60 s
        assert outcome.state is TrialState.FAILED
        assert outcome.error is not None and "timed out" in outcome.error, outcome.error
        assert "6.0 s" in outcome.error
        grandchild = int(pidfile.read_text())
        assert wait_until(lambda: not is_alive(grandchild)), "the grandchild outlived its trial"

    def test_capacity_is_respected(self, tmp_path: Path) -> None:
        executor = self.make_executor(2)
        try:
            assert executor.capacity == 2
            logs = [tmp_path / f"{i}.log" for i in range(4)]
            futures = [
                executor.submit(self.job("sleeps", {"seconds": 1.0, "log": str(log)}, number=i))
                for i, log in enumerate(logs)
            ]
            assert [outcome_of(f).state for f in futures] == [TrialState.COMPLETE] * 4
        finally:
            executor.shutdown(cancel_running=True)
        spans = [tuple(map(float, log.read_text().split())) for log in logs]
        assert all(len(span) == 2 for span in spans)
        most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
        # never more than the capacity (how many overlap below it is the machine's load: on a
        # busy machine a job may end before the next one's process has started)
        assert most <= 2, f"{most} jobs ran at once with capacity 2: {spans}"

    def test_shutdown_cancel_running_stops_jobs(self, tmp_path: Path) -> None:
        executor = self.make_executor(1)
        pidfile = tmp_path / "worker.pid"
        params = {"seconds": 60.0, "log": str(tmp_path / "long.log"), "pidfile": str(pidfile)}
        running = executor.submit(self.job("sleeps", params))
        queued = executor.submit(self.job("sleeps", {**params, "pidfile": str(tmp_path / "q")}))
        assert wait_until(lambda: pidfile.exists() and pidfile.read_text() != "")
        start = time.monotonic()
        executor.shutdown(cancel_running=True)
        assert time.monotonic() - start < 15
        for future in (running, queued):
            assert future.done()
            assert future.cancelled() or future.result().state is TrialState.FAILED
        assert wait_until(lambda: not is_alive(int(pidfile.read_text())))
        assert not (tmp_path / "q").exists(), "a queued job started after shutdown"

    def test_shutdown_waits_for_running_jobs(self, tmp_path: Path) -> None:
        executor = self.make_executor(1)
        future = executor.submit(self.job("sleeps", {"seconds": 0.5, "log": str(tmp_path / "l")}))
        executor.shutdown()
        assert future.done() and not future.cancelled()
        assert future.result().state is TrialState.COMPLETE, future.result()
        assert math.isclose(future.result().value or 0, 0.5)
