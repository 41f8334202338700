"""The models one prediction server serves, each the version its reference names (``churn`` for
``churn@production``, ``churn@staging``, ``churn:3``), swapped when the alias moves.

A swap loads the new version beside the old one (in the loader process, see ``loader``: its
bundle checked against the registered digest, skops's types against the allow-list), warms it
on the manifest's example rows and checks it answers one finite prediction per row, then
replaces the served version in one reference assignment: requests in flight finish on the
version they started with, and none waits. A version that fails any step is refused (logged,
counted, shown by ``describe``); the old one keeps serving, and that version is not tried again
until the alias points elsewhere.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tuner.api.prediction.loader import Loader
from tuner.api.prediction.metrics import PredictionMetrics
from tuner.api.prediction.rows import Batch
from tuner.errors import NotFound, TunerError
from tuner.models import Predictor
from tuner.registry import ModelRegistry, parse_ref
from tuner.storage.models import ModelVersion

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("tuner.serving")

DEFAULT_ALIAS = "production"


@dataclass(frozen=True)
class LoadedVersion:
    """A version loaded, checked and warm: what requests are answered with. A model of numbers
    only gets the request's float matrix, already checked by ``rows.checked_numbers``: through
    the model's array path (``arrays``: XGBoost's ``inplace_predict``, the scikit-learn
    flavor's array copy of the pipeline; what the embedded predictor calls), else through the
    flavor's ``predict`` on one DataFrame built from the matrix in one block. ``fast`` is False
    when the warm-up found the matrix path disagreeing with the flavor's own: then every batch
    goes through the predictor, checked again on its DataFrame."""

    version: ModelVersion
    predictor: Predictor
    loaded_at: datetime
    arrays: Callable[[Any], Any] | None = None
    fast: bool = True

    def predict(self, batch: Batch) -> np.ndarray:
        """Predictions of checked rows; ``InvalidInput`` naming the row and feature of an
        unknown category (the signature's check of a model with categories)."""
        import numpy as np

        matrix = batch.matrix
        if matrix is None or not self.fast:
            return self.predictor.predict(batch.frame())
        if self.arrays is not None:
            return np.asarray(self.arrays(matrix))
        import pandas as pd

        names = self.predictor.signature.names
        return np.asarray(self.predictor.model.predict(pd.DataFrame(matrix, columns=names)))


@dataclass(frozen=True)
class Refusal:
    """A version that failed to load or warm, and why."""

    version: int
    reason: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "reason": self.reason, "at": self.at.isoformat()}


def parse_served(ref: str) -> tuple[str, int | str]:
    """``churn`` (its ``production`` alias), ``churn@staging`` or ``churn:3``."""
    name, which = parse_ref(ref)
    return name, DEFAULT_ALIAS if which is None else which


class ServedModel:
    """One model name: the version being served, the last refusal, and its reference."""

    def __init__(self, name: str, which: int | str) -> None:
        self.name = name
        self.which = which  # an alias follows moves; a number is pinned
        self.current: LoadedVersion | None = None
        self.refused: Refusal | None = None
        self.lock = threading.Lock()  # one load of this model at a time (push and pull)

    @property
    def ref(self) -> str:
        return (
            f"{self.name}:{self.which}"
            if isinstance(self.which, int)
            else f"{self.name}@{self.which}"
        )

    @property
    def ready(self) -> bool:
        return self.current is not None

    @property
    def state(self) -> str:
        if self.current is not None:
            return "AVAILABLE"
        return "FAILED" if self.refused is not None else "LOADING"

    def describe(self) -> dict[str, Any]:
        current = self.current
        out: dict[str, Any] = {
            "name": self.name,
            "ref": self.ref,
            "ready": current is not None,
            "state": self.state,
            "version": current.version.version if current else None,
            "refused": self.refused.to_dict() if self.refused else None,
        }
        if current is not None:
            out.update(
                flavor=current.version.flavor,
                runtime=current.predictor.runtime,  # onnx once exported (raced faster)
                digest=current.version.digest,
                loaded_at=current.loaded_at.isoformat(),
                signature=current.predictor.signature.to_dict(),
            )
        return out


class ServedModels:
    """The models of one server, read from ``registry`` (its project's)."""

    def __init__(
        self, registry: ModelRegistry, refs: Sequence[str], metrics: PredictionMetrics
    ) -> None:
        if not refs:
            raise TunerError("name at least one model to serve", "models")
        self.registry = registry
        self.metrics = metrics
        self.loader = Loader()  # versions are loaded in its process, not in this one's GIL
        # replaced whole, never changed in place (``add``, ``remove``): threads iterating it
        # (pull, readiness) keep the one they started with
        self.models: dict[str, ServedModel] = {}
        self._changing = threading.Lock()
        for ref in refs:
            name, which = parse_served(ref)
            if name in self.models:
                raise TunerError(f"model {name!r} is named twice", "models")
            self._add(name, which)

    def _add(self, name: str, which: int | str) -> ServedModel:
        model = ServedModel(name, which)
        self.models = {**self.models, name: model}
        self.metrics.version.labels(name).set(0)
        self.metrics.ready.labels(name).set(0)
        self.metrics.refused.labels(name).set(0)
        return model

    def load(self, ref: str) -> str:
        """Serve the version ``ref`` names (``churn``, ``churn@staging``, ``churn:3``) from now
        on, through the same load, check, warm and swap as an alias move; a model not served
        yet is added. ``NotFound`` naming what the registry does not have; the outcome as
        ``refresh``'s (``refused``: the version served before keeps serving, and so does its
        reference)."""
        name, which = parse_served(ref)
        with self._changing:
            self.registry.storage.model_version(self.project, name, which)  # NotFound: say so
            if name not in self.models:
                self._add(name, which)
        return self.refresh(name, which)

    def remove(self, name: str) -> None:
        """Stop serving ``name`` (``NotFound`` if it is not served); requests in flight finish
        on the version they started with."""
        with self._changing:
            self.get(name)
            self.models = {k: m for k, m in self.models.items() if k != name}
        self.metrics.version.labels(name).set(0)
        self.metrics.ready.labels(name).set(0)
        log.info("model %s: unloaded", name)

    def close(self) -> None:
        """Stop the loader process and close the registry."""
        self.loader.close()
        self.registry.close()

    @property
    def project(self) -> str:
        return self.registry.project

    def get(self, name: str) -> ServedModel:
        model = self.models.get(name)
        if model is None:
            raise NotFound(
                f"this server serves no model {name!r} (it serves {', '.join(self.models)})"
            )
        return model

    @property
    def ready(self) -> bool:
        return all(m.ready for m in self.models.values())

    def check_known(self) -> None:
        """``NotFound`` naming the first model (or version, or alias) the registry does not
        have in this project: a server is not started for models it cannot serve."""
        for model in self.models.values():
            self.registry.storage.model_version(self.project, model.name, model.which)

    def refresh_all(self) -> dict[str, str]:
        """Bring every model to the version its reference names now (what a pull does)."""
        out = {}
        for name in list(self.models):
            try:
                out[name] = self.refresh(name)
            except NotFound:  # unloaded meanwhile
                continue
        return out

    def refresh(self, name: str, which: int | str | None = None) -> str:
        """Load the version ``name``'s reference names if it is new: ``unchanged``,
        ``loaded`` (the first), ``swapped`` or ``refused``. ``which``: a new reference (a
        version or alias) that the model follows from now on if its version is served."""
        model = self.get(name)
        with model.lock:
            target = model.which if which is None else which
            try:
                version = self.registry.storage.model_version(self.project, name, target)
            except Exception as exc:  # not found any more, or the database away: keep serving
                if which is not None:
                    raise
                log.warning("model %s: cannot resolve %s: %s", name, model.ref, exc)
                return "unchanged"
            current = model.current
            if current is not None and (current.version.version, current.version.digest) == (
                version.version,
                version.digest,
            ):
                model.which = target
                return "unchanged"
            if (
                which is None
                and model.refused is not None
                and model.refused.version == version.version
            ):
                return "unchanged"  # refused already; tried again once the alias moves
            started = time.perf_counter()
            try:
                loaded = self._load(version)
            except Exception as exc:  # anything a bundle can do wrong: refuse it, keep the old
                reason = (
                    f"{type(exc).__name__}: {exc}" if not isinstance(exc, TunerError) else str(exc)
                )
                model.refused = Refusal(version.version, reason, datetime.now(UTC))
                self.metrics.swaps.labels(name, "refused").inc()
                self.metrics.refused.labels(name).set(version.version)
                log.error(
                    "model %s: version %d refused (%s); %s",
                    name,
                    version.version,
                    reason,
                    f"still serving version {current.version.version}" if current else "not ready",
                )
                return "refused"
            model.current = loaded  # the swap: one reference assignment
            model.which = target
            model.refused = None
            # the new version out of the full collections' reach, as the first one was (the old
            # one is freed by reference counting once its last request is answered)
            gc.freeze()
            outcome = "loaded" if current is None else "swapped"
            self.metrics.swaps.labels(name, outcome).inc()
            self.metrics.version.labels(name).set(version.version)
            self.metrics.ready.labels(name).set(1)
            self.metrics.refused.labels(name).set(0)
            log.info(
                "model %s: version %d %s in %.2fs%s",
                name,
                version.version,
                outcome,
                time.perf_counter() - started,
                f" (was version {current.version.version})" if current else "",
            )
            return outcome

    def _load(self, version: ModelVersion) -> LoadedVersion:
        """Load, check and warm ``version``; any failure raises."""
        import numpy as np

        predictor = self.loader.load(self.registry.locate(version), version.flavor)
        examples = list(predictor.manifest.examples)
        if examples:
            predictions = np.asarray(predictor.predict(examples))
            if predictions.shape[0] != len(examples):
                raise TunerError(
                    f"warm-up: {predictions.shape[0]} predictions for {len(examples)} rows"
                )
            if predictions.dtype.kind == "f" and not np.isfinite(predictions).all():
                raise TunerError("warm-up: the example rows give non-finite predictions")
            predictor.warm_up()
        arrays = getattr(predictor.model, "predict_array", None)
        loaded = LoadedVersion(
            version,
            predictor,
            datetime.now(UTC),
            arrays if callable(arrays) and predictor.signature.numeric else None,
        )
        if examples and predictor.signature.numeric:
            # the matrix path answers what the flavor answers
            from tuner.api.prediction.rows import batch_of_instances

            fast = loaded.predict(batch_of_instances(predictor.signature, examples))
            if not np.allclose(fast, predictions, rtol=1e-6, atol=0):
                log.warning(
                    "model %s: version %d: the matrix path disagrees with the flavor's on the "
                    "example rows; scoring through the flavor",
                    version.model,
                    version.version,
                )
                return LoadedVersion(version, predictor, loaded.loaded_at, fast=False)
        return loaded
