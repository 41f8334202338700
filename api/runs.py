"""Studies the server runs itself, on the executor their spec names (``POST .../run``), when the
operator allows it (``tuner serve --allow-runs``, see ``tuner.run_policy``)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from tuner.config import Settings
from tuner.errors import NotFound
from tuner.runner import Stopped, StudyRunner
from tuner.runs import prepare_run
from tuner.storage import Storage
from tuner.study import StudyState

log = logging.getLogger("tuner.api")


@dataclass
class _Run:
    runner: StudyRunner | None = None
    thread: threading.Thread | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class ServerRuns:
    """One background runner per study at most. The database stays the only state: a study
    the server was asked to run (and not to stop) is marked so (``server_run``), and a restarted
    server resumes every such study that is not complete (``resume``)."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def start(self, study: str) -> tuple[bool, str | None]:
        """Start running ``study`` unless it already runs; returns (running, last error).
        Forbidden when the operator does not allow it, SpecError when it cannot run here."""
        with self._lock:
            current = self._runs.get(study)
            if current is not None and not current.done.is_set():
                return True, None
            spec = self.storage.get_study(study).spec
            setup = prepare_run(spec, self.settings, policy=self.settings.run_policy)
            runner = setup.open(self.storage, key=study)
            self.storage.set_state(study, StudyState.RUNNING)
            run = _Run(runner=runner)
            run.thread = threading.Thread(
                target=self._main, args=(run,), name=f"tuner-run-{study}", daemon=True
            )
            self._runs[study] = run
            self.storage.set_server_run(study, True)
            run.thread.start()
        return True, None

    def resume(self) -> list[str]:
        """Start again the runs a stopped or killed server left unfinished; their names."""
        resumed = []
        for study in self.storage.server_runs():
            try:
                self.start(study)
                resumed.append(study)
            except Exception as exc:  # noqa: BLE001 - the others still resume
                log.warning("cannot resume the server-side run of %s: %s", study, exc)
                self._runs[study] = _Run(error=f"{type(exc).__name__}: {exc}")
                self._runs[study].done.set()
        if resumed:
            log.warning("resumed server-side runs: %s", ", ".join(resumed))
        return resumed

    def _main(self, run: _Run) -> None:
        assert run.runner is not None
        try:
            run.runner.run()
        except Stopped:  # asked to stop, or the server shuts down: the mark decides a restart
            pass
        except Exception as exc:  # noqa: BLE001 - kept for GET .../run, logged in full
            log.exception("server-side run of %s failed", run.runner.study)
            run.error = f"{type(exc).__name__}: {exc}"
            self._forget(run.runner.study)  # a restart would fail the same way
        else:
            self._forget(run.runner.study)  # the plan is done
        finally:
            run.runner.executor.shutdown(cancel_running=True)
            run.done.set()

    def stop(self, study: str, wait: float = 30.0, forget: bool = True) -> None:
        """Stop the run of ``study``; ``forget``: not to be resumed by a restart either."""
        if forget:
            self._forget(study)
        with self._lock:
            run = self._runs.get(study)
        if run is not None and run.runner is not None:
            run.runner.stop()
            run.done.wait(wait)

    def _forget(self, study: str) -> None:
        try:
            self.storage.set_server_run(study, False)
        except NotFound:  # deleted meanwhile
            pass

    def status(self, study: str) -> tuple[bool, str | None]:
        self.storage.get_study(study)  # NotFound first
        run = self._runs.get(study)
        if run is None:
            return False, None
        return not run.done.is_set(), run.error

    def stop_all(self) -> None:
        """Stop every run for a shutdown: they resume when the server starts again."""
        for study in list(self._runs):
            self.stop(study, wait=10.0, forget=False)
