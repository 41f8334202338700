"""Trial processes: the one place that starts, watches, talks to and ends the process of a trial.

Every executor runs a trial in a process of its own session (process group), so that an
exception, ``os._exit``, a segfault or a timeout ends that attempt with its reason, the trial's
grandchildren die with it, and the trial dies with the runner however the runner ends. Between
the two runs a two-way channel: the trial sends its reports and its outcome up, the runner
answers a report with a stop decision (pruning) that ``trial.should_prune()`` reads.

- ``Watch``: the runner's side; ``run(on_report)`` waits for the outcome, the process's end or
  the timeout, hands each report to ``on_report`` and sends back a stop when it answers True.
- ``TrialChannel`` and ``ProcessContext``: the trial's side; the context is the ``trial`` an
  objective called as ``fn(params, trial)`` gets.
- ``run_trial``: the body of a trial's process, whoever started it (the local executor's
  forkserver, or ``python -m tuner.executors.trial_process`` for Ray and Spark via
  ``TrialProcess``).
- ``kill_group``, ``exit_reason``, ``die_with``: ending a trial, saying why it ended, and tying it
  to its runner.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any

from tuner.executor import StopListener, TrialJob, TrialOutcome
from tuner.objective import run_job
from tuner.space import Params

GRACE = 5.0  # seconds a trial may take to exit after sending its outcome (atexit handlers)
_STOP = ("stop", True)


class Watch:
    """The runner's side of one trial process: ``process_fd`` becomes readable when the process
    ends (a pidfd or a multiprocessing sentinel), ``conn`` is the two-way channel."""

    def __init__(self, pid: int, process_fd: int, conn: Connection, timeout: float | None) -> None:
        self.pid = pid
        self.process_fd = process_fd
        self.conn = conn
        self.timeout = timeout

    def run(
        self, on_report: StopListener | None = None
    ) -> tuple[TrialOutcome | None, tuple[tuple[int, float], ...], bool]:
        """The outcome the trial sent (None if it sent none), its reports, and whether it ended
        (False: it overran the timeout). After its outcome the trial gets ``GRACE`` to exit."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        steps: list[tuple[int, float]] = []
        sources: list[Any] = [self.conn, self.process_fd]
        stopped = False
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None, tuple(steps), False
            ready = wait(sources, remaining)
            if self.conn in ready:
                try:
                    kind, body = self.conn.recv()
                except (EOFError, OSError):
                    sources.remove(self.conn)
                    continue
                if kind == "result":
                    _wait_fd(self.process_fd, GRACE)
                    return body, tuple(steps), True
                steps.append(body)
                if on_report is not None and not stopped and on_report(*body):
                    stopped = True
                    try:
                        self.conn.send(_STOP)
                    except OSError:
                        pass
            elif ready:  # the process is gone and nothing is left to read
                return None, tuple(steps), True


def finish(
    result: TrialOutcome | None,
    steps: tuple[tuple[int, float], ...],
    ended: bool,
    exit_code: int | None,
    timeout: float | None,
    cancelled: str | None = None,
) -> TrialOutcome:
    """The outcome of a watched trial: the one it sent, else why it has none."""
    if result is not None:
        return replace(result, intermediate=steps)
    if cancelled is not None:
        return TrialOutcome.failure(cancelled, steps)
    if not ended:
        return TrialOutcome.failure(f"timed out after {float(timeout or 0)} s", steps)
    return TrialOutcome.failure(exit_reason(exit_code), steps)


def _wait_fd(fd: int, seconds: float) -> None:
    select.select([fd], [], [], seconds)


def kill_group(pid: int | None) -> None:
    """SIGKILL the process group ``pid`` leads (the trial and every process it started), or the
    process alone if it has no group of its own yet."""
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def exit_reason(code: int | None, what: str = "worker process") -> str:
    """Why a trial's process ended without an outcome, from its exit code (negative: killed by
    that signal; 128 + N from a shell: the program it ran was killed by signal N)."""
    if code is None or code == 0:
        return f"{what} sent no result"
    signum = -code if code < 0 else code - 128 if code > 128 else 0
    if signum and signum in signal.valid_signals():
        name = signal.Signals(signum).name
        if code < 0:
            return f"{what} killed by signal {name}"
        return f"{what} exited with code {code} (killed by signal {name})"
    return f"{what} exited with code {code}"


def die_with(runner: int) -> None:
    """Kill this process's group as soon as the process ``runner`` ends, so that a runner killed
    outright leaves no trial running on its own (a parent-death signal would not do: the local
    executor's trials are children of its forkserver, which outlives the runner)."""

    def watch() -> None:
        try:
            fd = os.pidfd_open(runner)
        except ProcessLookupError:
            os.killpg(0, signal.SIGKILL)
            return
        except (OSError, AttributeError):  # no pidfd here: poll instead
            while True:
                try:
                    os.kill(runner, 0)
                except ProcessLookupError:
                    os.killpg(0, signal.SIGKILL)
                time.sleep(1.0)
        select.select([fd], [], [])
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="tuner-runner-watch", daemon=True).start()


class TrialChannel:
    """The trial's side of the channel: reports and the outcome go up, a stop comes down."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()  # an objective may report from several threads
        self._stop = False

    def send(self, kind: str, body: object) -> None:
        with self._lock:
            self._conn.send((kind, body))

    def stop_asked(self) -> bool:
        """Whether the runner answered a report with a stop (it stays asked)."""
        with self._lock:
            while not self._stop and self._conn.poll():
                try:
                    kind, _ = self._conn.recv()
                except (EOFError, OSError):
                    break
                self._stop = self._stop or kind == "stop"
        return self._stop


class ProcessContext:
    """The ``trial`` an objective called as ``fn(params, trial)`` gets in a trial process;
    ``extras`` add attributes made on first use (the Spark executor's ``trial.spark``)."""

    def __init__(
        self,
        job: TrialJob,
        channel: TrialChannel,
        extras: Mapping[str, Callable[[], Any]] | None = None,
    ) -> None:
        self.study: str = job.study
        self.number: int = job.number
        self.attempt: int = job.attempt
        self.params: Params = job.params
        self.artifact_dir: str | None = job.artifact_dir
        self.resource: int | None = job.resource
        self.prunes: bool = job.prunes
        self._channel = channel
        self._extras = dict(extras or {})
        self._made: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        extras = self.__dict__.get("_extras", {})
        if name not in extras:
            raise AttributeError(f"the trial context has no {name!r} on this executor")
        if name not in self._made:
            self._made[name] = extras[name]()
        return self._made[name]

    def report(self, step: int, value: float) -> None:
        """An intermediate value; it reaches the runner while the trial runs."""
        self._channel.send("report", (int(step), float(value)))

    def should_prune(self) -> bool:
        """Whether the runner asked this trial to stop early (the objective then returns what
        it has)."""
        return self._channel.stop_asked()

    def save_model(self, model: Any, flavor: str | None = None, example: Any = None) -> None:
        """Save the trial's model as a bundle in its artifact folder (``tuner promote`` finds
        it there); ``example``: training rows, for the input signature."""
        from tuner.models.trial_model import save_trial_model

        save_trial_model(self, model, flavor, example)


def run_trial(
    job: TrialJob,
    conn: Connection,
    runner: int,
    extras: Mapping[str, Callable[[], Any]] | None = None,
    prepare: Callable[[], None] | None = None,
) -> None:
    """The body of a trial's process (already in a session of its own): evaluate ``job`` and
    send its outcome up ``conn``; the process dies with ``runner``."""
    die_with(runner)
    faulthandler.enable()
    channel = TrialChannel(conn)
    outcome = run_job(job, ProcessContext(job, channel, extras), prepare)
    sys.stdout.flush()
    sys.stderr.flush()
    channel.send("result", outcome)


class TrialProcess:
    """A trial in a fresh Python interpreter (``python -m tuner.executors.trial_process``): how
    the Ray and Spark executors run each attempt. The job goes in on stdin; the channel is a
    socket pair of its own (stdout stays the user's). ``kill()`` ends it from any thread."""

    def __init__(self, job: TrialJob, env: Mapping[str, str] | None = None) -> None:
        self.job = job
        self.env = {**os.environ, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None
        self._killed = threading.Event()
        self._lock = threading.Lock()

    def run(self, on_report: StopListener | None = None) -> TrialOutcome:
        """Start the trial, watch it to its outcome, its end or its timeout."""
        import socket

        ours, theirs = socket.socketpair()
        try:
            with self._lock:
                if self._killed.is_set():
                    return TrialOutcome.failure("cancelled before it started")
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tuner.executors.trial_process",
                        str(theirs.fileno()),
                        str(os.getpid()),
                    ],
                    stdin=subprocess.PIPE,
                    pass_fds=(theirs.fileno(),),
                    env=self.env,
                    start_new_session=True,
                )
            theirs.close()
            process = self._process
            try:
                assert process.stdin is not None
                process.stdin.write(pickle.dumps(self.job))
                process.stdin.close()
            except BrokenPipeError:
                pass
            conn = Connection(ours.detach())
            pidfd = os.pidfd_open(process.pid)
            try:
                result, steps, ended = Watch(process.pid, pidfd, conn, self.job.timeout).run(
                    on_report
                )
            finally:
                os.close(pidfd)
                self.kill_group()
                process.wait()
                conn.close()
            cancelled = "cancelled" if self._killed.is_set() else None
            return finish(result, steps, ended, process.returncode, self.job.timeout, cancelled)
        finally:
            ours.close()
            theirs.close()

    def kill(self) -> None:
        """Cancel: kill the trial's process group (or keep it from starting)."""
        with self._lock:
            self._killed.set()
        self.kill_group()

    def kill_group(self) -> None:
        if self._process is not None:
            kill_group(self._process.pid)


def _extras() -> dict[str, Callable[[], Any]]:
    """Context attributes the executor asked for through the environment, made lazily."""
    if os.environ.get("TUNER_SPARK_GROUP"):
        from tuner.executors.spark_session import attach_session

        return {"spark": attach_session}
    return {}


def main(argv: list[str]) -> None:
    job: TrialJob = pickle.loads(sys.stdin.buffer.read())
    run_trial(job, Connection(int(argv[1])), int(argv[2]), _extras())
    os._exit(0)  # no atexit handlers: a shared SparkContext must outlive this trial


if __name__ == "__main__":
    main(sys.argv)
