"""The web leaderboard: pages, their static assets and the JSON routes pages need."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tuner.api.web import model_routes, pages, routes
from tuner.api.web.snapshots import Snapshots
from tuner.storage import Storage

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, storage: Storage) -> None:
    """Serve the pages at ``/``, their assets at ``/static`` and the page routes in ``/api/v1``."""
    app.state.snapshots = Snapshots(storage)
    app.include_router(routes.router, prefix="/api/v1")
    app.include_router(model_routes.router, prefix="/api/v1")
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
