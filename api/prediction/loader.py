"""Loading a version in a separate process, so that a swap does not hold the server's GIL.

Why: reading a scikit-learn bundle is skops rebuilding the estimator in pure Python (0.3-0.6 s
for a 100-tree pipeline), with the GIL held. Done in a thread of the server, every time another
process preempts that thread while it holds the GIL, the thread answering requests waits for
it: 30-40 ms stalls across a pipeline swap on a loaded machine (``experiments.serving_stalls``).

How: one loader process per server process (spawned on first use, kept, replaced if it dies)
runs ``Predictor.load`` exactly as the server would, every check included (the bundle's
SHA-256s against the registered digest, skops's trusted-types check), and sends the loaded
Predictor back as a pickle; the server unpickles it with the C unpickler (a few ms where
skops took hundreds). A bundle that fails its checks fails in the loader, and the server
refuses it with the loader's reason.

Why unpickling these bytes is safe: they never come from the registry, the artifact store or a
user. The loader process is this server's own child, started from this installation's code; it
pickles an object that has already passed the checks the in-process load applies (skops built
it from trusted types only), and the bytes travel over a pipe the server created, straight from
the loader to ``unpickle``; they are never stored. Unpickling them therefore rebuilds only what
the operator's checks admitted. As a second fence, ``unpickle`` resolves classes from a fixed
set of packages only (the standard library's containers, numpy, scipy, Tuner, and the packages
the version's flavor requires): anything else in the stream is refused by name.

A Predictor that cannot be pickled (an onnxruntime session) is loaded in the server's thread,
as before; the loader says so, and the server logs it.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import pickle
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tuner.errors import BundleError, TunerError
from tuner.models import Predictor
from tuner.models.flavor import flavor_named
from tuner.registry import Located

log = logging.getLogger("tuner.serving")

# the packages whose classes a handed-over Predictor is made of, besides its flavor's
ALLOWED = frozenset(
    {"builtins", "copyreg", "_codecs", "collections", "functools", "pathlib", "datetime"}
    | {"numpy", "scipy", "tuner"}
)


def load_and_pickle(located: Located) -> tuple[str, Any]:
    """In the loader process: ``("ok", pickle)`` of the loaded Predictor, ``("refused",
    reason)`` when the version fails a check (the reason as the server words refusals), or
    ``("here", why)`` when it loaded but cannot be pickled."""
    try:
        predictor = located.load()
    except Exception as exc:
        reason = str(exc) if isinstance(exc, TunerError) else f"{type(exc).__name__}: {exc}"
        return "refused", reason
    try:
        return "ok", pickle.dumps(predictor, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return "here", f"{type(exc).__name__}: {exc}"


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, allowed: frozenset[str]) -> None:
        super().__init__(io.BytesIO(data))
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if module.partition(".")[0] not in self.allowed:
            raise BundleError(f"the loader handed over a {module}.{name}, which is not allowed")
        return super().find_class(module, name)


def unpickle(data: bytes, flavor: str) -> Predictor:
    """The Predictor in ``data`` (from ``load_and_pickle``), its classes taken only from
    ``ALLOWED`` and the modules ``flavor`` requires."""
    allowed = ALLOWED | {m.partition(".")[0] for m in flavor_named(flavor).requires}
    predictor = _Unpickler(data, allowed).load()
    if not isinstance(predictor, Predictor):
        raise BundleError(f"the loader handed over a {type(predictor).__name__}")
    return predictor


class Loader:
    """The loader process of one server process. Thread-safe; ``close`` stops it. The process
    (about as large as the server: the frameworks imported, the last version loaded) exits
    once no load has run for ``idle`` seconds, and is spawned again by the next load (a few
    seconds more for that swap, in another process, the GIL untouched)."""

    def __init__(self, idle: float = 120.0) -> None:
        self.idle = idle
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._busy = 0  # loads under way
        self._timer: threading.Timer | None = None

    def load(self, located: Located, flavor: str) -> Predictor:
        """The Predictor of ``located`` (a ``flavor`` bundle), loaded and checked in the loader
        process; ``BundleError`` with the loader's reason when a check fails. A loader that
        dies (killed, out of memory) is replaced and the load tried once more in the new one;
        a version whose load kills that one too is refused."""
        with self._lock:
            self._busy += 1
        try:
            return self._load(located, flavor)
        finally:
            with self._lock:
                self._busy -= 1
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = threading.Timer(self.idle, self._retire)
                self._timer.daemon = True
                self._timer.start()

    @property
    def running(self) -> bool:
        """Whether the loader process is up (or being started)."""
        return self._pool is not None

    def _retire(self) -> None:
        with self._lock:
            if self._busy:
                return
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
            log.info("the loader process exited (idle for %gs)", self.idle)

    def _load(self, located: Located, flavor: str) -> Predictor:
        for attempt in (1, 2):
            pool = self._started()
            try:
                kind, payload = pool.submit(load_and_pickle, located).result()
                break
            except BrokenProcessPool:
                with self._lock:
                    if self._pool is pool:
                        self._pool = None
                pool.shutdown(wait=False)
                log.warning("%s: the loader process died (attempt %d)", located.folder, attempt)
        else:
            raise BundleError("the loader process died loading this version, twice")
        if kind == "refused":
            raise BundleError(payload)
        if kind == "here":
            log.info("%s: loaded here (not transferable: %s)", located.folder, payload)
            return located.load()
        return unpickle(payload, flavor)

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: a fork of a threaded server could copy a lock held by another thread
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(1, mp_context=context)
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            if self._timer is not None:
                self._timer.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
