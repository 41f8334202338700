"""One log line per refused or failed request (every request with ``--access-log``)."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("tuner.api.requests")


class RequestLog:
    """Pure ASGI middleware: ``METHOD path status (ms)`` at INFO for 4xx and 5xx answers, and for
    all answers when ``everything``; a worker's round trips cost no log line by default."""

    def __init__(self, app: Any, everything: bool = False) -> None:
        self.app = app
        self.everything = everything

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if self.everything or status >= 400:
                client = scope.get("client") or ("-", 0)
                log.info(
                    "%s %s %s %d (%.1f ms)",
                    client[0],
                    scope["method"],
                    scope["path"],
                    status,
                    (time.perf_counter() - start) * 1000,
                )
