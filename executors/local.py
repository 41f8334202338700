"""The local executor: every trial in its own child process on this machine.

Children come from a ``forkserver`` (safe when the parent has threads) that preloads the first
objective's module, so heavy imports are paid once; a crash, a hang or a stray grandchild of a
trial ends as a failed outcome, never as a dead or blocked parent.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Mapping
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import ModuleType
from typing import Any

from tuner.executor import StopListener, TrialJob, TrialOutcome
from tuner.executors.pool import PooledExecutor, check_positive_int
from tuner.executors.trial_process import Watch, finish, kill_group, run_trial
from tuner.objective import format_exception

_BASELINE = frozenset(sys.modules)  # in the forkserver: what was loaded before the user's module
_CANCELLED = "cancelled: the executor shut down"
_preload: tuple[str, float] | None = None  # the directory and time the forkserver preloaded from
_fallbacks: list[list[str]] = []  # ever shorter preload lists, should the forkserver die
_preload_lock = threading.Lock()


class LocalExecutor(PooledExecutor):
    """Runs up to ``workers`` trials at once, each in a fresh process of its own group."""

    name = "local"

    def __init__(self, *, workers: int | None = None) -> None:
        self.check_options({"workers": workers})
        self._start_pool(workers if workers is not None else os.cpu_count() or 1, "local")
        self._running: set[BaseProcess] = set()

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Refuse unknown options and a ``workers`` that is not a positive integer."""
        super().check_options(options)
        check_positive_int(options, "workers")

    def _cancel_running(self) -> None:
        with self._lock:
            running = list(self._running)
        for process in running:
            kill_group(process.pid)

    def _run(self, job: TrialJob, listener: StopListener | None) -> TrialOutcome:
        """The body of a pool thread: one child process from start to outcome, never raising."""
        try:
            return self._run_child(job, listener)
        except Exception as exc:  # noqa: BLE001 - the future must hold an outcome
            return TrialOutcome.failure(f"cannot run the worker process: {format_exception(exc)}")

    def _run_child(self, job: TrialJob, listener: StopListener | None) -> TrialOutcome:
        ctx = _context(job)
        ours, theirs = ctx.Pipe(duplex=True)  # the trial's two-way channel
        process = ctx.Process(
            target=_child_main,
            args=(job, theirs, dict(os.environ), _preload, os.getpid()),
            name=f"tuner-trial-{job.study}-{job.number}",
        )
        try:
            if self._cancelling:
                return TrialOutcome.failure(_CANCELLED)
            _start(process)
            theirs.close()
            with self._lock:
                self._running.add(process)
                if self._cancelling:
                    kill_group(process.pid)
            try:
                watch = Watch(process.pid or 0, process.sentinel, ours, job.timeout)
                result, steps, ended = watch.run(listener)
            finally:
                kill_group(process.pid)  # the trial's grandchildren end with it, whatever happened
                process.join()
                with self._lock:
                    self._running.discard(process)
            return finish(
                result,
                steps,
                ended,
                process.exitcode,
                job.timeout,
                _CANCELLED if self._cancelling else None,
            )
        finally:
            theirs.close()
            ours.close()
            if process.exitcode is not None:
                process.close()


def _context(job: TrialJob) -> multiprocessing.context.ForkServerContext:
    """The forkserver context; the first call starts the server with ``job``'s module preloaded."""
    global _preload
    ctx = multiprocessing.get_context("forkserver")
    with _preload_lock:
        if _preload is None:
            directory = _code_dir(job)
            _preload = (directory, time.time())
            safe = ["__main__", __name__]
            ctx.set_forkserver_preload([*safe, *_main_imports(), *_objective_imports(job)])
            _fallbacks[:] = [[*safe, *_main_imports()], safe]
            added = [p for p in job.code_paths if p not in sys.path]
            sys.path.extend(added)  # the server copies sys.path when it starts
            try:
                forkserver.ensure_running()
            finally:
                for p in added:
                    sys.path.remove(p)
    return ctx


def _code_dir(job: TrialJob) -> str:
    """The folder the objective's own modules come from (the first of its search path)."""
    return os.path.abspath(job.code_paths[0] if job.code_paths else os.getcwd())


def _objective_imports(job: TrialJob) -> list[str]:
    """What the first job's objective imports, loaded once in the forkserver: a function's
    module, or a built-in trainer's module and its frameworks (XGBoost, pandas, scikit-learn),
    so that no trial pays those imports again."""
    objective = job.objective
    if objective.function:
        return [objective.function.partition(":")[0]]
    if objective.trainer:
        from tuner import plugins

        try:
            trainer = plugins.trainer(objective.trainer)
        except Exception:  # noqa: BLE001 - the trial itself reports a broken trainer
            return []
        return [trainer.__module__, *trainer.preload]
    return []


def _main_imports() -> list[str]:
    """The modules the parent's ``__main__`` took its names from: every child runs that script
    again (multiprocessing does; Python 3.11 never preloads it), so its imports are preloaded."""
    names = set()
    for value in list(vars(sys.modules["__main__"]).values()):
        try:
            name = value.__name__ if isinstance(value, ModuleType) else value.__module__
        except Exception:  # noqa: BLE001 - no module, or a proxy that refuses to say
            continue
        if isinstance(name, str) and name not in ("__main__", "__mp_main__", "builtins"):
            names.add(name)
    return sorted(names)


def _start(process: BaseProcess) -> None:
    """Start ``process``; should the forkserver die (a preloaded module that raised, exited or
    crashed on import), restart it with fewer modules, the user's first."""
    for attempt in range(len(_fallbacks) + 1):
        try:
            process.start()
            return
        except (OSError, EOFError):
            if attempt == len(_fallbacks):
                raise
            multiprocessing.get_context("forkserver").set_forkserver_preload(_fallbacks[attempt])
            time.sleep(0.1 * (attempt + 1))


def _child_main(
    job: TrialJob,
    conn: Connection,
    env: dict[str, str],
    preload: tuple[str, float] | None,
    runner: int,
) -> None:
    """Run one job in this fresh process (a session of its own) and send its outcome up."""
    os.setsid()
    os.environ.clear()
    os.environ.update(env)  # the parent's environment now, not the forkserver's at its start
    run_trial(job, conn, runner, prepare=lambda: _forget_stale_modules(preload, _code_dir(job)))


def _forget_stale_modules(preload: tuple[str, float] | None, directory: str) -> None:
    """Drop the user's modules preloaded by the forkserver if this job's code lives elsewhere
    or was edited since, so that a trial always runs the code on disk."""
    if preload is None:
        return
    preloaded_from, preloaded_at = preload
    root = os.path.join(preloaded_from, "")
    user = {
        name: path
        for name in set(sys.modules) - _BASELINE
        if (path := getattr(sys.modules[name], "__file__", None)) is not None
        and path.startswith(root)
        and "-packages" not in path
        and name not in ("__main__", "__mp_main__")
    }
    try:
        stale = directory != preloaded_from or any(
            os.stat(path).st_mtime > preloaded_at for path in user.values()
        )
    except OSError:
        stale = True
    if stale:
        for name in user:
            del sys.modules[name]
