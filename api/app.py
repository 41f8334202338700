"""The FastAPI application: ``create_app(settings)`` builds everything, nothing is global."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tuner.api import errors
from tuner.api.limits import BodyLimit
from tuner.api.request_log import RequestLog
from tuner.api.routes import models, studies, trials
from tuner.api.runs import ServerRuns
from tuner.api.web import install as install_web
from tuner.client.http import LONGEST_RETRY_PAUSE
from tuner.config import Settings
from tuner.errors import Unavailable
from tuner.scheduler import Scheduler
from tuner.storage import Storage

log = logging.getLogger("tuner.api")


def create_app(
    settings: Settings | None = None,
    storage: Storage | None = None,
    on_started: Callable[[], None] | None = None,
) -> FastAPI:
    """The app over ``settings.database_url`` (or a given storage); ``on_started`` is called
    once the app is ready to answer (``tuner serve`` announces itself there)."""
    settings = settings or Settings.from_env()
    storage = storage or Storage(settings.database_url)
    scheduler = Scheduler(storage)
    runs = ServerRuns(storage, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        reaper = threading.Thread(
            target=_reap,
            args=(scheduler, settings.lease_seconds, stop),
            daemon=True,
            name="tuner-lease-reaper",
        )
        listener = threading.Thread(
            target=storage.tokens.listen, args=(stop,), daemon=True, name="tuner-token-revocations"
        )
        keeper = threading.Thread(
            target=runs.keep, args=(stop,), daemon=True, name="tuner-run-keeper"
        )
        background = (reaper, listener, keeper)
        for thread in background:
            thread.start()
        if on_started is not None:
            on_started()
        try:
            yield
        finally:
            stop.set()
            runs.stop_all()
            for thread in background:
                thread.join(timeout=5)

    app = FastAPI(
        title="Tuner",
        version="1",
        summary="Hyperparameter tuning as a service",
        description=(
            "Submit studies, claim and report trials from remote workers, read leaderboards. "
            "Every `/api/v1` route needs `Authorization: Bearer <token>`; errors are "
            '`{"error": {"code", "message", "field"}}`.'
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.scheduler = scheduler
    app.state.runs = runs
    errors.install(app)
    app.include_router(studies.router, prefix="/api/v1")
    app.include_router(trials.router, prefix="/api/v1")
    app.include_router(models.router, prefix="/api/v1")
    install_web(app, storage)

    @app.get(
        "/healthz",
        tags=["health"],
        response_model=None,
        summary="Health: the server answers and reaches its database (503 while it cannot)",
    )
    def healthz() -> dict[str, str] | JSONResponse:
        try:
            storage.ping()
        except Unavailable as exc:
            return JSONResponse(
                {"status": "unavailable", "database": str(exc)},
                status_code=503,
                headers={"Retry-After": errors.RETRY_AFTER},
            )
        return {"status": "ok", "database": "ok"}

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestLog, everything=settings.access_log)
    return app


def _reap(scheduler: Scheduler, lease: float, stop: threading.Event) -> None:
    """Put back the trials whose worker stopped heart-beating, every quarter lease. After the
    database was out of reach, no trial is taken back for a lease and a worker's longest retry
    pause: its worker could not heart-beat meanwhile either, and is doing it now (with a short
    lease, 2 s, a worker still pausing was taken for lost: seen in the suite)."""
    while not stop.wait(max(0.5, min(lease / 4, 5.0))):
        try:
            at = datetime.now(UTC)
            for study in scheduler.storage.studies_with_expired_leases(at):
                scheduler.recover(study, at)
        except Unavailable:  # the claims of this server take nothing back either, meanwhile
            scheduler.pause_recovery(lease + LONGEST_RETRY_PAUSE)
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("lease reaper")
