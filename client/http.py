"""HTTP with retries: connection errors and 5xx are retried with backoff, so that a server
restart or a lost response neither loses nor duplicates a result."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx


class TunerAPIError(Exception):
    """The server refused a request: ``status``, ``code``, ``message`` and maybe ``field``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        where = f" ({field})" if field else ""
        super().__init__(f"{status} {code}{where}: {message}")


class TrialLost(TunerAPIError):
    """This attempt is no longer the trial's running attempt (409): its lease expired, say."""


class Transport:
    """One ``httpx.Client`` with the token, a JSON error decoder and the retry policy."""

    RETRY_STATUS = (500, 502, 503, 504)

    def __init__(self, url: str, token: str | None, timeout: float, retry_for: float) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self.retry_for = retry_for

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, json: Any = None,
                params: dict[str, Any] | None = None) -> Any:
        """The decoded JSON answer (None for 204); TunerAPIError for a 4xx."""
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        while True:
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TransportError:
                if time.monotonic() + delay > deadline:
                    raise
            else:
                if response.status_code not in self.RETRY_STATUS:
                    return _decode(response)
                if time.monotonic() + delay > deadline:
                    return _decode(response)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)


def _decode(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        return body
    error = body.get("error", {}) if isinstance(body, dict) else {}
    kind = TrialLost if response.status_code == 409 else TunerAPIError
    raise kind(
        response.status_code,
        str(error.get("code", "http_error")),
        str(error.get("message", response.text[:200])),
        error.get("field"),
    )
