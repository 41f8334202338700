"""The page's static assets: named by a digest of their content, kept a year by the browser
under that name, revalidated by ETag under any other, gzip-compressed (``install``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
YEAR = 365 * 86400


def _version() -> str:
    """A digest of every asset: the pages name their assets with it (``?v=``), so a browser
    keeps them as long as it likes and fetches them anew after an upgrade."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


VERSION = _version()


class Assets(StaticFiles):
    """The page's scripts, style and icon: kept a year under the URL that names this version,
    revalidated (ETag) under any other."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            versioned = f"v={VERSION}".encode() in scope.get("query_string", b"").split(b"&")
            cache = f"public, max-age={YEAR}, immutable" if versioned else "no-cache"
            response.headers["Cache-Control"] = cache
        return response
