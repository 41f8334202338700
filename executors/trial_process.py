"""One trial in a fresh Python process of its own session, watched from the outside.

The Ray and Spark executors run each attempt this way, so that an exception, ``os._exit``, a
segfault or a timeout ends that attempt with its reason and the trial's whole process group
(its grandchildren too) dies with it. The job goes in on stdin, reports and the outcome come back
as pickled messages on a pipe of their own (stdout stays the user's). Run as
``python -m executors.trial_process FD PARENT_PID``.
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

from tuner.executor import TrialJob, TrialOutcome
from tuner.objective import run_job
from tuner.space import Params

_GRACE = 5.0  # seconds a child may take to exit after sending its result


class TrialProcess:
    """Runs ``job`` in a child process; ``kill()`` (from any thread) ends it at once."""

    def __init__(self, job: TrialJob, env: Mapping[str, str] | None = None) -> None:
        self.job = job
        self.env = {**os.environ, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None
        self._killed = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> TrialOutcome:
        """Start the child, wait for its outcome, the end of the process or the timeout."""
        receiver_fd, sender_fd = os.pipe()
        try:
            with self._lock:
                if self._killed.is_set():
                    return TrialOutcome.failure("cancelled before it started")
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "tuner.executors.trial_process", str(sender_fd),
                     str(os.getpid())],
                    stdin=subprocess.PIPE, pass_fds=(sender_fd,), env=self.env,
                    start_new_session=True,
                )
            os.close(sender_fd)
            sender_fd = -1
            receiver = Connection(receiver_fd)
            receiver_fd = -1
            process = self._process
            try:
                assert process.stdin is not None
                process.stdin.write(pickle.dumps(self.job))
                process.stdin.close()
            except BrokenPipeError:
                pass
            try:
                result, steps, ended = _watch(process, receiver, self.job.timeout)
            finally:
                self.kill_group()
                process.wait()
                receiver.close()
            if result is not None:
                return replace(result, intermediate=steps)
            if self._killed.is_set():
                return TrialOutcome.failure("cancelled", steps)
            if not ended:
                return TrialOutcome.failure(f"timed out after {float(self.job.timeout or 0)} s",
                                            steps)
            return TrialOutcome.failure(exit_reason(process.returncode), steps)
        finally:
            for fd in (receiver_fd, sender_fd):
                if fd >= 0:
                    os.close(fd)

    def kill(self) -> None:
        """Cancel: kill the trial's process group (or keep it from starting)."""
        with self._lock:
            self._killed.set()
        self.kill_group()

    def kill_group(self) -> None:
        process = self._process
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if process.returncode is None:
                process.kill()


def _watch(process: subprocess.Popen[bytes], receiver: Connection, timeout: float | None
           ) -> tuple[TrialOutcome | None, tuple[tuple[int, float], ...], bool]:
    """The result and reports of the child, until its result, its end (flag true) or timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    steps: list[tuple[int, float]] = []
    pidfd = os.pidfd_open(process.pid)
    sources: list[Any] = [receiver, pidfd]
    try:
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None, tuple(steps), False
            ready = wait(sources, remaining)
            if receiver in ready:
                try:
                    kind, body = receiver.recv()
                except (EOFError, OSError):
                    sources.remove(receiver)
                    continue
                if kind == "result":
                    try:
                        process.wait(_GRACE)
                    except subprocess.TimeoutExpired:
                        pass
                    return body, tuple(steps), True
                steps.append(body)
            elif ready:
                return None, tuple(steps), True
    finally:
        os.close(pidfd)


def exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return f"worker process killed by signal {name}"
    return f"worker process exited with code {code}" if code else "worker process sent no result"


class ProcessContext:
    """The ``trial`` of an objective in a trial process; ``extras`` add attributes lazily
    (the Spark executor's ``trial.spark``)."""

    def __init__(self, job: TrialJob, conn: Connection,
                 extras: Mapping[str, Callable[[], Any]] | None = None) -> None:
        self.study: str = job.study
        self.number: int = job.number
        self.attempt: int = job.attempt
        self.params: Params = job.params
        self.artifact_dir: str | None = job.artifact_dir
        self._conn = conn
        self._lock = threading.Lock()
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
        self.send("report", (int(step), float(value)))

    def should_prune(self) -> bool:
        return False

    def send(self, kind: str, body: object) -> None:
        with self._lock:
            self._conn.send((kind, body))


def _die_with_parent(parent: int) -> None:
    """Kill this trial's process group when ``parent`` (the process that started it) ends."""

    def watch() -> None:
        try:
            fd = os.pidfd_open(parent)
        except ProcessLookupError:
            os.killpg(0, signal.SIGKILL)
            return
        select.select([fd], [], [])
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="tuner-parent-watch", daemon=True).start()


def _extras() -> dict[str, Callable[[], Any]]:
    """Lazily made context attributes the executor asked for through the environment."""
    if os.environ.get("TUNER_SPARK_GROUP"):
        from tuner.executors.spark_session import attach_session

        return {"spark": attach_session}
    return {}


def main(argv: list[str]) -> None:
    conn = Connection(int(argv[1]))
    _die_with_parent(int(argv[2]))
    faulthandler.enable()
    job: TrialJob = pickle.loads(sys.stdin.buffer.read())
    context = ProcessContext(job, conn, _extras())
    outcome = run_job(job, context)
    sys.stdout.flush()
    sys.stderr.flush()
    context.send("result", outcome)
    os._exit(0)  # no atexit handlers: a shared SparkContext must outlive this trial


if __name__ == "__main__":
    main(sys.argv)
