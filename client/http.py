"""HTTP with retries: connection errors and 5xx are retried with backoff, so that a server
restart or a lost response neither loses nor duplicates a result."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import httpx

log = logging.getLogger("tuner.client")


class TunerAPIError(Exception):
    """The server refused a request (``status``, ``code``, ``message`` and maybe ``field``), or
    could not be reached (``status`` 0, code ``unreachable``)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        where = f" ({field})" if field else ""
        super().__init__(f"{status} {code}{where}: {message}" if status else message)


class TrialLost(TunerAPIError):
    """This attempt is no longer the trial's running attempt (409): its lease expired, say."""


BACKOFF_CAP = 2.0  # seconds: the pause between retries doubles up to this, then jitters
LONGEST_RETRY_PAUSE = 1.5 * BACKOFF_CAP  # the most a client sleeps between two tries


class Transport:
    """An ``httpx.Client`` per server with the token, a JSON error decoder and the retry policy.

    ``url`` may name several servers (replicas on one database), separated by commas: a request
    that cannot reach one goes to the next. TLS certificates are verified (``verify``: True, a
    CA bundle's path, or False)."""

    RETRY_STATUS = (500, 502, 503, 504)

    def __init__(
        self,
        url: str,
        token: str | None,
        timeout: float,
        retry_for: float,
        verify: bool | str = True,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.urls = [u.strip().rstrip("/") for u in url.split(",") if u.strip()]
        if not self.urls:
            raise TunerAPIError(0, "bad_url", f"no server URL in {url!r}")
        self._clients = [
            httpx.Client(base_url=u, headers=headers, timeout=timeout, verify=verify)
            for u in self.urls
        ]
        self._current = 0
        self.retry_for = retry_for

    @property
    def url(self) -> str:
        """The server requests go to now."""
        return self.urls[self._current]

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        conflict: type[TunerAPIError] = TunerAPIError,
    ) -> Any:
        """The decoded JSON answer (None for 204); a TunerAPIError for a 4xx (``conflict`` for
        a 409), and one with status 0 once the server stayed unreachable for ``retry_for``."""
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        warned = False
        while True:
            try:
                client = self._clients[self._current]
                response = client.request(method, path, json=json, params=params)
            except httpx.TransportError as exc:
                if len(self.urls) > 1:  # the next replica, at once
                    self._current = (self._current + 1) % len(self.urls)
                    if self._current != 0:
                        continue
                where = " or ".join(self.urls)
                if time.monotonic() + delay > deadline:
                    raise TunerAPIError(
                        0,
                        "unreachable",
                        f"cannot reach the Tuner server at {where} "
                        f"({type(exc).__name__}: {exc}); is 'tuner serve' running there?",
                    ) from None
                if not warned:
                    log.warning(
                        "cannot reach %s (%s): retrying for up to %.0f s",
                        where,
                        type(exc).__name__,
                        self.retry_for,
                    )
                    warned = True
            else:
                if response.status_code not in self.RETRY_STATUS:
                    if warned:
                        log.warning("reached %s again", self.url)
                    return _decode(response, conflict)
                if time.monotonic() + delay > deadline:
                    return _decode(response, conflict)
                if not warned:
                    log.warning(
                        "%s answered %d: retrying for up to %.0f s",
                        self.url,
                        response.status_code,
                        self.retry_for,
                    )
                    warned = True
            time.sleep(delay * (0.5 + random.random()))  # at most LONGEST_RETRY_PAUSE
            delay = min(delay * 2, BACKOFF_CAP)


def _decode(response: httpx.Response, conflict: type[TunerAPIError]) -> Any:
    if response.status_code == 204:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        return body
    error = body.get("error", {}) if isinstance(body, dict) else {}
    kind = conflict if response.status_code == 409 else TunerAPIError
    raise kind(
        response.status_code,
        str(error.get("code", "http_error")),
        str(error.get("message", response.text[:200])),
        error.get("field"),
    )
