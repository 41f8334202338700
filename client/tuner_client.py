"""The connection to a Tuner server: submit studies, find them."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuner.client import credentials
from tuner.client.http import Transport, TunerAPIError
from tuner.client.study import Study


class TunerClient:
    """A connection to a Tuner server.

    ``url`` and ``token`` default to ``$TUNER_URL`` and ``$TUNER_TOKEN``, else to what
    ``tuner serve`` stored for the local user; ``url`` may list several servers separated by
    commas (replicas on one database: the client fails over). Requests that fail on the network
    or with a 5xx are retried for ``retry_for`` seconds (a server restart goes unnoticed); past
    that a ``TunerAPIError`` names the URL. HTTPS certificates are verified: ``verify`` is True,
    the path of a CA bundle (a self-signed server's certificate), or False; by default the
    certificate ``tuner serve`` stored with its URL, else the system's.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retry_for: float = 120.0,
        verify: bool | str | None = None,
    ) -> None:
        stored = credentials.load()
        self.url = (
            url or os.environ.get("TUNER_URL") or stored.get("url") or credentials.DEFAULT_URL
        )
        self.token = token or os.environ.get("TUNER_TOKEN") or stored.get("token")
        self.timeout = timeout
        self.retry_for = retry_for
        if verify is None:  # the stored certificate for the stored server, else the system's
            verify = stored.get("ca", True) if self.url == stored.get("url") else True
        self.verify = verify
        self.http = Transport(self.url, self.token, timeout, retry_for, verify)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TunerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_study(
        self, spec: str | Path | Mapping[str, Any], *, load_if_exists: bool = False
    ) -> Study:
        """Submit a study: a dict, or the path of a JSON or YAML file (YAML needs PyYAML).

        A study of that name in the token's project is a ``TunerAPIError`` with status 409;
        with ``load_if_exists`` it is returned instead when its spec matches (a longer plan is
        taken up), so that running a training script again goes on with the same study."""
        body = _read_spec(spec) if isinstance(spec, str | Path) else dict(spec)
        params = {"exists_ok": "true"} if load_if_exists else None
        created = self.http.request("POST", "/api/v1/studies", json=body, params=params)
        return Study(self, created["name"])

    def study(self, name: str) -> Study:
        """An existing study (checked to exist)."""
        self.http.request("GET", f"/api/v1/studies/{name}")
        return Study(self, name)

    def studies(self) -> list[dict[str, Any]]:
        return self.http.request("GET", "/api/v1/studies")  # type: ignore[no-any-return]

    # -- the model registry ------------------------------------------------------------------

    def promote(
        self,
        study: str,
        model: str,
        *,
        trial: int | None = None,
        alias: str | None = None,
        when: str = "better",
    ) -> dict[str, Any]:
        """Register the model that ``study``'s best trial (or ``trial``) saved as the next
        version of ``model``; with ``alias``, moved to it when better (``when="always"``: in any
        case). Returns ``{"version": {...}, "moved": {...} or None, "reason": ...}``."""
        body: dict[str, Any] = {"model": model, "when": when}
        if trial is not None:
            body["trial"] = trial
        if alias is not None:
            body["alias"] = alias
        return self.http.request(  # type: ignore[no-any-return]
            "POST", f"/api/v1/studies/{study}/promote", json=body
        )

    def models(self) -> list[dict[str, Any]]:
        """The project's models: name, versions, latest, aliases."""
        return self.http.request("GET", "/api/v1/models")  # type: ignore[no-any-return]

    def model_versions(self, model: str) -> list[dict[str, Any]]:
        """Every version of ``model``, newest first (metrics, aliases, source study and trial)."""
        return self.http.request("GET", f"/api/v1/models/{model}")  # type: ignore[no-any-return]

    def alias_history(self, model: str) -> list[dict[str, Any]]:
        """Every alias move of ``model``, oldest first."""
        return self.http.request(  # type: ignore[no-any-return]
            "GET", f"/api/v1/models/{model}/history"
        )

    def set_alias(self, model: str, alias: str, version: int, reason: str = "") -> dict[str, Any]:
        """Point ``alias`` at ``version`` (a rollback points it back); the recorded move."""
        return self.http.request(  # type: ignore[no-any-return]
            "PUT",
            f"/api/v1/models/{model}/aliases/{alias}",
            json={"version": version, "reason": reason},
        )


def _read_spec(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text()
    if str(path).endswith(".json"):
        return json.loads(text)  # type: ignore[no-any-return]
    try:
        import yaml
    except ImportError:  # pragma: no cover - the client's only hard dependency is httpx
        raise TunerAPIError(0, "yaml_missing", "reading a YAML study needs PyYAML") from None
    return yaml.safe_load(text)  # type: ignore[no-any-return]
