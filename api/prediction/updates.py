"""How a prediction server learns that an alias moved: PULL (it asks the registry every N
seconds) and PUSH (on PostgreSQL, the registry's alias move sends ``NOTIFY`` on its commit and
every server that LISTENs refreshes that model at once).

Why NOTIFY for push: the registry lives in the database, so the database is where a move is
known the moment it commits; servers need no address the registry must keep up to date (pods
come and go), nothing is sent for a move that rolls back, and every worker process of every
server hears it. On SQLite there is no push: pull is the way (a server says so at start).
"""

from __future__ import annotations

import json
import logging
import threading

from tuner.api.prediction.served import ServedModels
from tuner.storage.models import ALIAS_CHANNEL

log = logging.getLogger("tuner.serving")


def initial_load(models: ServedModels, then: threading.Event) -> None:
    """Load every model (the server answers ``/readyz`` 503 meanwhile), then freeze what is
    left in the heap out of the garbage collector's reach: its full collections were most of
    the tail latency of Python model servers."""
    import gc

    models.refresh_all()
    gc.collect()
    gc.freeze()
    then.set()


def pull(models: ServedModels, every: float, stop: threading.Event) -> None:
    """Until ``stop``: every ``every`` seconds, bring each model to its reference's version."""
    while not stop.wait(every):
        try:
            models.refresh_all()
        except Exception:  # the database away for a moment: the next pull tries again
            log.warning("pull: the registry cannot be read now; retrying", exc_info=True)


def push_available(models: ServedModels) -> bool:
    return models.registry.storage.engine.dialect.name == "postgresql"


def listen(models: ServedModels, stop: threading.Event, listening: threading.Event) -> None:
    """On PostgreSQL, until ``stop``: refresh a served model whenever its alias moves (in this
    project). ``listening`` is set once LISTEN holds (and again after each reconnection, after
    which every model is refreshed: a move may have been missed meanwhile)."""
    if not push_available(models):
        return
    import psycopg

    engine = models.registry.storage.engine
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    said = False
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"LISTEN {ALIAS_CHANNEL}")
                listening.set()
                if said:
                    models.refresh_all()
                said = False
                while not stop.is_set():
                    for note in conn.notifies(timeout=0.5, stop_after=1):
                        _heard(models, note.payload)
        except psycopg.Error as exc:
            if not said:
                log.warning("push: not listening (%s); retrying", str(exc).splitlines()[0])
                said = True
            listening.clear()
            stop.wait(2.0)


def _heard(models: ServedModels, payload: str) -> None:
    try:
        move = json.loads(payload)
        project, name = move["project"], move["model"]
    except (ValueError, KeyError, TypeError):
        log.warning("push: ignored a malformed notification %r", payload[:200])
        return
    if project != models.project or name not in models.models:
        return
    log.info("push: %s@%s moved to version %s", name, move.get("alias"), move.get("version"))
    models.refresh(name)
