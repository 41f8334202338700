"""The embedded predictor: a registered model inside the caller's process, no server, kept up to
date by pulling the registry (``refresh_every``).

    from tuner.embedded import load_model
    m = load_model("churn@production", db="sqlite:///tuner.db")
    m.predict([{"f1": 0.3, "f2": "a"}])        # dicts, a DataFrame or a 2-D array
    m.refresh_every(30)                         # a newly promoted version is swapped in

A refresh loads and warms the new version beside the old one and then switches in one
assignment, so calls in flight (from any thread) finish on the version they started with and no
call fails; a version that fails to load (a changed file, a missing package) never replaces the
working one.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from tuner.errors import TunerError
from tuner.models.predictor import Predictor
from tuner.models.signature import Signature
from tuner.projects import DEFAULT_PROJECT
from tuner.registry import ModelRegistry
from tuner.storage.models import ModelVersion

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("tuner.embedded")


def load_model(
    ref: str,
    db: str,
    store: str | None = None,
    *,
    project: str = DEFAULT_PROJECT,
    runtime: str = "auto",
) -> EmbeddedModel:
    """The version ``ref`` names (``churn``, ``churn:3``, ``churn@production``) of database
    ``db``, loaded, checked and warmed up; ``store``: the artifact store (default
    ``$TUNER_MODEL_STORE``, else ``$TUNER_ARTIFACTS_DIR/models``); ``runtime="onnx"``: score
    with the version's ONNX export (a new version without one is not swapped in); ``auto``:
    with it when it predicts the same and was the faster one row at a time, else natively."""
    registry = ModelRegistry.open(db, store, project=project, must_exist=True)
    return EmbeddedModel(registry, ref, runtime)


class EmbeddedModel:
    """A model version in this process, that follows its alias (or the latest version) when
    refreshed; a pinned ``name:N`` never changes."""

    def __init__(self, registry: ModelRegistry, ref: str, runtime: str = "auto") -> None:
        self.registry = registry
        self.ref = ref
        self.runtime = runtime
        version = registry.resolve(ref)
        self._current: tuple[ModelVersion, Predictor] = (version, self._load(version))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one refresh at a time
        self.last_error: str | None = None

    @property
    def version(self) -> ModelVersion:
        """The registered version answering now."""
        return self._current[0]

    @property
    def predictor(self) -> Predictor:
        return self._current[1]

    @property
    def signature(self) -> Signature:
        return self._current[1].signature

    def predict(self, rows: Any) -> np.ndarray:
        """Predictions of ``rows`` by the current version (see ``Predictor.predict``)."""
        return self._current[1].predict(rows)

    def predict_batch(self, frame: Any) -> np.ndarray:
        return self._current[1].predict_batch(frame)

    def refresh(self) -> bool:
        """Look the reference up again and swap in the version it names now, if another;
        whether it changed. A version that fails to load is logged and skipped."""
        with self._lock:
            try:
                latest = self.registry.resolve(self.ref)
            except TunerError as exc:
                self.last_error = str(exc)
                log.warning("refresh of %s: %s", self.ref, exc)
                return False
            current = self._current[0]
            if (latest.version, latest.digest) == (current.version, current.digest):
                return False
            try:
                predictor = self._load(latest)
            except Exception as exc:  # noqa: BLE001 - never replace a working version
                self.last_error = f"version {latest.version} not loaded: {exc}"
                log.warning("refresh of %s: %s", self.ref, self.last_error)
                return False
            self._current = (latest, predictor)
            self.last_error = None
            log.info("%s: now version %d", self.ref, latest.version)
            return True

    def refresh_every(self, seconds: float) -> EmbeddedModel:
        """Refresh in a daemon thread every ``seconds`` until ``close()``; returns self."""
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        self.stop_refreshing()
        self._stop = threading.Event()
        stop = self._stop

        def loop() -> None:
            while not stop.wait(seconds):
                try:
                    self.refresh()
                except Exception as exc:  # noqa: BLE001 - the database away: try next time
                    self.last_error = f"refresh failed: {exc}"
                    log.warning("refresh of %s failed: %s", self.ref, exc)

        self._thread = threading.Thread(target=loop, name=f"tuner-refresh-{self.ref}", daemon=True)
        self._thread.start()
        return self

    def stop_refreshing(self) -> None:
        """End ``refresh_every``'s thread (``refresh()`` still works)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Stop refreshing and let go of the database."""
        self.stop_refreshing()
        self.registry.close()

    def __enter__(self) -> EmbeddedModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self, version: ModelVersion) -> Predictor:
        predictor = self.registry.load(version, self.runtime)
        predictor.warm_up()
        return predictor
