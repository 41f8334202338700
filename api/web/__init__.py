"""The web leaderboard: pages, their static assets and the JSON routes pages need."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from tuner.api.web import model_routes, pages, routes
from tuner.api.web.assets import STATIC, Assets
from tuner.api.web.snapshots import Snapshots
from tuner.storage import Storage


def install(app: FastAPI, storage: Storage) -> None:
    """Serve the pages at ``/``, their assets at ``/static`` (gzip-compressed when the browser
    takes it) and the page routes in ``/api/v1``."""
    app.state.snapshots = Snapshots(storage)
    app.include_router(routes.router, prefix="/api/v1")
    app.include_router(model_routes.router, prefix="/api/v1")
    app.include_router(pages.router)
    assets = GZipMiddleware(Assets(directory=STATIC), minimum_size=512)
    app.mount("/static", assets, name="static")
