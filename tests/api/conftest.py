"""One real server per database backend for the whole API test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.server import RUNS_ALLOWED, ServerProcess
from tests.conftest import drop_postgres_schema, postgres_schema_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    home: Path = tmp_path_factory.mktemp("server")
    schema = None
    if request.param == "sqlite":
        db = f"sqlite:///{home / 'tuner.db'}"
    else:
        db, schema = postgres_schema_url()
    srv = ServerProcess(db, home, args=RUNS_ALLOWED).start()
    try:
        yield srv
    finally:
        srv.stop()
        if schema:
            drop_postgres_schema(schema)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright through executable_path, one per test module
    (Playwright's own browser download needs the internet)."""
    from playwright.sync_api import sync_playwright

    from tests.api.web_browser import CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()
