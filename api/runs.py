"""Studies the servers run themselves (``POST .../run``), when the operator allows it
(``tuner serve --allow-runs``, see ``tuner.run_policy``), one server at a time.

The database is the only state. A study the servers were asked to run (and not to stop) is
marked so (``server_run``); the server that runs it holds a lease on the run and renews it every
third of a lease. Every server keeps watch (``keep``): it renews its own leases, stops a run it
lost, and takes over any wanted run nobody holds, so a run moves to another replica within a
lease when its server dies, and a restarted server resumes its runs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

from tuner.config import Settings
from tuner.errors import NotFound, TunerError, Unavailable
from tuner.runner import Stopped, StudyRunner
from tuner.runs import prepare_run
from tuner.scheduler import worker_is_dead
from tuner.storage import Storage
from tuner.study import StudyState

log = logging.getLogger("tuner.api")


@dataclass
class _Run:
    runner: StudyRunner | None = None
    thread: threading.Thread | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    # when this server took it (monotonic), after its lease was in the database
    taken_at: float = field(default_factory=time.monotonic)


class ServerRuns:
    """The server-side runs this server holds, and its watch over everyone's."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings
        self.lease = settings.lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def start(self, study: str) -> tuple[bool, str | None]:
        """Run ``study`` here, or leave it to the server that already runs it; returns
        (running, last error). Forbidden when the operator does not allow it, SpecError when it
        cannot run here: checked before anything is marked."""
        spec = self.storage.get_study(study).spec
        prepare_run(spec, self.settings, policy=self.settings.run_policy)
        self.storage.set_state(study, StudyState.RUNNING)
        if self._take(study, mark=True) is None:  # another server holds it: it runs it
            self.storage.set_server_run(study, True)
        return True, None

    def _take(self, study: str, replacing: str | None = None, mark: bool = False) -> bool | None:
        """Hold the run of ``study`` and start it here (True), unless another server holds it
        (None) or it cannot run here (False); ``mark``: mark it wanted as it is taken."""
        with self._lock:
            current = self._runs.get(study)
            if current is not None and not current.done.is_set():
                return True
            if not self.storage.acquire_run(study, self.owner, self.lease, replacing, mark):
                return None
            try:
                spec = self.storage.get_study(study).spec
                setup = prepare_run(spec, self.settings, policy=self.settings.run_policy)
                runner = setup.open(self.storage, key=study)
            except TunerError as exc:  # it cannot run here (any more): say so, do not retry
                log.warning("cannot run %s on this server: %s", study, exc)
                self._runs[study] = _Run(error=f"{type(exc).__name__}: {exc}")
                self._runs[study].done.set()
                self._forget(study)
                return False
            run = _Run(runner=runner)
            run.thread = threading.Thread(
                target=self._main, args=(run,), name=f"tuner-run-{study}", daemon=True
            )
            self._runs[study] = run
            run.thread.start()
            log.info("running %s on this server (%s)", study, self.owner)
            return True

    def keep(self, stop: threading.Event) -> None:
        """Until ``stop``: every third of a lease renew this server's runs, stop those it lost,
        and take over the wanted runs nobody holds (after the database was out of reach, only
        once a lease has passed: their servers are renewing them now)."""
        patient_until = 0.0
        first = True
        while first or not stop.wait(max(0.2, self.lease / 3)):
            first = False
            try:
                renewed_at = time.monotonic()
                held = self.storage.renew_runs(self.owner, self.lease)
                with self._lock:
                    # a run taken while the renewal read the leases is not in ``held`` yet:
                    # only those taken before it can have been lost (it stopped a run just
                    # started by POST .../run, which then stalled for a lease)
                    lost = [
                        s
                        for s, r in self._runs.items()
                        if not r.done.is_set()
                        and r.runner is not None
                        and s not in held
                        and r.taken_at < renewed_at
                    ]
                for study in lost:
                    log.warning("the run of %s is no longer this server's: stopping it here", study)
                    self.stop(study, wait=10.0, forget=False)
                if time.monotonic() < patient_until:
                    continue
                for study in self.storage.orphaned_runs():
                    self._take(study)
                for study, holder in self.storage.held_runs():
                    if holder != self.owner and _dead_here(holder):
                        self._take(study, replacing=holder)  # its server died on this host
            except Unavailable:
                patient_until = time.monotonic() + self.lease
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("keeping the server-side runs")

    def _main(self, run: _Run) -> None:
        assert run.runner is not None
        study = run.runner.study
        try:
            run.runner.run()
        except Stopped:  # asked to stop, lost, or the server shuts down: the mark decides
            pass
        except Exception as exc:  # noqa: BLE001 - kept for GET .../run, logged in full
            log.exception("server-side run of %s failed", study)
            run.error = f"{type(exc).__name__}: {exc}"
            self._forget(study)  # another server would fail the same way
        else:
            self._forget(study)  # the plan is done
        finally:
            run.runner.executor.shutdown(cancel_running=True)
            run.done.set()

    def stop(self, study: str, wait: float = 30.0, forget: bool = True) -> None:
        """Stop the run of ``study`` here; ``forget``: no server is to run it any more (its
        holder elsewhere sees that within a third of a lease and stops too)."""
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
        """Whether a server runs ``study`` (this one, or another holding it or taking it over
        within a lease), and the last error of its run here."""
        wanted = self.storage.run_wanted(study)  # NotFound first
        run = self._runs.get(study)
        here = run is not None and not run.done.is_set()
        return here or wanted, run.error if run is not None else None

    def stop_all(self) -> None:
        """Stop this server's runs for a shutdown and let go of them: another server takes them
        over at once, or this one resumes them when it starts again."""
        for study in list(self._runs):
            self.stop(study, wait=10.0, forget=False)
            try:
                self.storage.release_run(study, self.owner)
            except (NotFound, Unavailable):
                pass


def _dead_here(owner: str) -> bool:
    """Whether ``owner`` (host:pid:id) is a server process of this host that is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return worker_is_dead(f"{host}:{pid}")
