"""One in-memory table (and its plot data) per watched study, brought up to date only when the
study's fingerprint changes, by reading the trials that may have changed (new and unfinished
ones); the fingerprint itself is read at most twice a second per study, however many pages poll
it."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuner.api.web.table import StudyTable
from tuner.storage import Storage

log = logging.getLogger("tuner.api")
FINGERPRINT_SECONDS = 0.5
KEPT_STUDIES = 8
MAX_UNFINISHED = 5000  # past this many trials that may change, a table is read anew


@dataclass
class Snapshot:
    """A study's table as of ``fingerprint``, and whatever was computed from it."""

    fingerprint: str
    table: StudyTable
    derived: dict[str, Any] = field(default_factory=dict)


class Snapshots:
    """The tables of the most recently watched studies (least recently used dropped first)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._lock = threading.Lock()
        self._study_locks: dict[str, threading.Lock] = {}
        self._tables: OrderedDict[str, Snapshot] = OrderedDict()
        self._prints: dict[str, tuple[float, str]] = {}
        self._warming: set[str] = set()
        self._early: OrderedDict[str, tuple[str, Any]] = OrderedDict()

    def fingerprint(self, study: str) -> str:
        """The study's fingerprint, at most ``FINGERPRINT_SECONDS`` old."""
        at = time.monotonic()
        with self._lock:
            cached = self._prints.get(study)
        if cached and at - cached[0] < FINGERPRINT_SECONDS:
            return cached[1]
        value = self.storage.study_fingerprint(study)
        with self._lock:
            self._prints[study] = (at, value)
            if len(self._prints) > 64 * KEPT_STUDIES:
                self._prints.clear()
        return value

    def get(self, study: str) -> Snapshot:
        """The study's snapshot as of its current fingerprint (built once per change, by one
        request while the others wait for it)."""
        self.fingerprint(study)  # NotFound before a lock is kept for a name that is no study
        with self._lock:
            lock = self._study_locks.setdefault(study, threading.Lock())
        with lock:
            fingerprint = self.fingerprint(study)
            with self._lock:
                snap = self._tables.get(study)
                if snap is not None and snap.fingerprint == fingerprint:
                    self._tables.move_to_end(study)
                    return snap
            spec = self.storage.get_study(study).spec
            if snap is None or len(snap.table.unfinished) > MAX_UNFINISHED:
                table = StudyTable(spec, self.storage.trial_rows(study))
            else:  # only what may have changed: new and unfinished trials
                old = snap.table
                last = int(old.number[-1]) if old.size else -1
                rows = self.storage.trial_rows(study, after=last, also=old.unfinished)
                table = old.updated(spec, rows)
            snap = Snapshot(fingerprint, table)
            with self._lock:
                self._tables[study] = snap
                self._tables.move_to_end(study)
                self._early.pop(study, None)  # the table answers from now on
                while len(self._tables) > KEPT_STUDIES:
                    dropped, _ = self._tables.popitem(last=False)
                    self._study_locks.pop(dropped, None)  # bounded too (a waiter keeps its own)
            return snap

    def early(self, study: str, fingerprint: str, compute: Callable[[], Any]) -> Any:
        """What ``compute`` reads without the study's table (the history plot from an indexed
        query), kept as of ``fingerprint`` for the next page while the table is being built;
        one per study, for as many studies as tables."""
        with self._lock:
            kept = self._early.get(study)
        if kept is not None and kept[0] == fingerprint:
            return kept[1]
        value = compute()
        with self._lock:
            self._early[study] = (fingerprint, value)
            self._early.move_to_end(study)
            while len(self._early) > KEPT_STUDIES:
                self._early.popitem(last=False)
        return value

    def has(self, study: str) -> bool:
        """Whether a table of the study is kept (however old)."""
        with self._lock:
            return study in self._tables

    def warm(self, study: str) -> None:
        """Build the study's table in the background (once at a time per study)."""
        with self._lock:
            if study in self._warming:
                return
            self._warming.add(study)

        def build() -> None:
            try:
                self.get(study)
            except Exception:  # noqa: BLE001 - the next request builds it and says why
                log.exception("building the table of %s", study)
            finally:
                with self._lock:
                    self._warming.discard(study)

        threading.Thread(target=build, daemon=True, name="tuner-web-table").start()

    def forget(self, study: str) -> None:
        with self._lock:
            self._tables.pop(study, None)
            self._prints.pop(study, None)
            self._study_locks.pop(study, None)
            self._early.pop(study, None)
