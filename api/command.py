"""``tuner serve``: the REST API (and the web page) under uvicorn, announced once it listens."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import socket
import sys
from typing import Any

from tuner.cli import database_option
from tuner.config import Settings
from tuner.errors import SpecError, TunerError
from tuner.storage import Storage

log = logging.getLogger("tuner.api")


class ServeCommand:
    help = "run the REST API server (server-side runs only with --allow-runs)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        settings: Settings = parser.get_default("settings")
        database_option(parser)
        parser.add_argument(
            "--host",
            default=settings.host,
            help="bind address (default $TUNER_HOST, else 127.0.0.1)",
        )
        parser.add_argument(
            "--port", type=int, default=settings.port, help="default $TUNER_PORT, else 8000"
        )
        runs = parser.add_argument_group(
            "server-side runs",
            "off unless --allow-runs: then only for the objectives allowed "
            "here (each flag may be repeated; $TUNER_ALLOW_* take comma-separated lists)",
        )
        runs.add_argument(
            "--allow-runs",
            action="store_true",
            default=settings.allow_runs,
            help="let write tokens run studies on this server (POST .../run)",
        )
        runs.add_argument(
            "--allow-function",
            action="append",
            metavar="MODULE",
            help="function objectives of modules under this prefix",
        )
        runs.add_argument(
            "--allow-command",
            action="append",
            metavar="PROGRAM",
            help="command objectives running this program (a name or a path)",
        )
        runs.add_argument(
            "--allow-data",
            action="append",
            metavar="FOLDER",
            help="built-in trainers reading data under this folder",
        )
        runs.add_argument(
            "--allow-executor",
            action="append",
            metavar="TYPE",
            help="executors runs may use (default: local, command)",
        )
        parser.add_argument(
            "--access-log",
            action="store_true",
            default=settings.access_log,
            help="log every request (default: only refused and failed ones)",
        )
        parser.add_argument(
            "--ssl-certfile",
            default=settings.ssl_certfile or None,
            metavar="PEM",
            help="serve HTTPS with this certificate (chain)",
        )
        parser.add_argument(
            "--ssl-keyfile",
            default=settings.ssl_keyfile or None,
            metavar="PEM",
            help="the certificate's private key",
        )

    def __call__(self, args: argparse.Namespace) -> int:
        settings = dataclasses.replace(
            args.settings,
            database_url=args.db,
            host=args.host,
            port=args.port,
            allow_runs=args.allow_runs,
            access_log=args.access_log,
            allow_functions=tuple(args.allow_function or args.settings.allow_functions),
            allow_commands=tuple(args.allow_command or args.settings.allow_commands),
            allow_data=tuple(args.allow_data or args.settings.allow_data),
            allow_executors=tuple(args.allow_executor or args.settings.allow_executors),
            ssl_certfile=args.ssl_certfile or "",
            ssl_keyfile=args.ssl_keyfile or "",
        )
        for flag, path in (
            ("--ssl-certfile", settings.ssl_certfile),
            ("--ssl-keyfile", settings.ssl_keyfile),
        ):
            if path and not os.path.isfile(path):
                raise SpecError(flag, f"no such file: {path}")
        if bool(settings.ssl_certfile) != bool(settings.ssl_keyfile):
            raise SpecError("--ssl-keyfile", "HTTPS needs both --ssl-certfile and --ssl-keyfile")
        serve(settings)
        return 0


def serve(settings: Settings) -> None:
    """Bind first (a busy port fails before anything is written), then open the database,
    make the first admin token if there is none, and serve; the address, the database and the
    first token are printed (and the credentials stored) once the server answers."""
    import uvicorn

    from tuner.api.app import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    listener = _bind(settings.host, settings.port)
    storage = Storage(settings.database_url)
    first = None
    if storage.tokens.count() == 0:
        first, _ = storage.tokens.create("default", "admin", "created by the first tuner serve")
    app = create_app(settings, storage, on_started=lambda: _announce(settings, first))
    tls: dict[str, Any] = (
        {"ssl_certfile": settings.ssl_certfile, "ssl_keyfile": settings.ssl_keyfile}
        if (settings.ssl_certfile)
        else {}
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, **tls))
    server.run(sockets=[listener])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TunerError(
            f"cannot listen on {host}:{port}: {exc.strerror} (another server "
            "there? choose another --port)"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    scheme = "https" if settings.ssl_certfile else "http"
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{settings.port}"


def _announce(settings: Settings, first_token: str | None) -> None:
    """Print where the server answers (and store the first token) once it is about to."""
    url = url_of(settings)
    policy = settings.run_policy
    lines = [
        f"Tuner serving at {url} (database {_shown(settings.database_url)})",
        f"  API docs: {url}/docs    web page: {url}/",
        "  server-side runs: "
        + (
            "off (a write token cannot run code here; enable with --allow-runs)"
            if not policy.enabled
            else f"on for functions under {', '.join(policy.functions) or 'none'}; commands "
            f"{', '.join(policy.commands) or 'none'}; trainer data under "
            f"{', '.join(policy.data) or 'none'}; executors {', '.join(policy.executors)}"
        ),
    ]
    if first_token is not None:
        ca = os.path.abspath(settings.ssl_certfile) if settings.ssl_certfile else None
        lines.append(_store_credentials(url, first_token, ca))
    print("\n".join(lines), flush=True)


def _store_credentials(url: str, token: str, ca: str | None) -> str:
    """Store the first admin token for the local client, unless the stored credentials point
    at another server that answers (whose clients would break): then say so instead."""
    from tuner.client import credentials

    path = credentials.credentials_file()
    stored = credentials.load()
    shown = f"first start: created an admin token, shown only this once:\n  {token}\n"
    if stored.get("url") and stored["url"] != url and _answers(stored["url"]):
        return (
            shown + f"  {path} points at the server running at {stored['url']}: left as "
            f"it is; use this one with TUNER_URL={url} TUNER_TOKEN=<the token above>"
        )
    credentials.save(url, token, ca=ca)
    return shown + f"  stored with this server's URL in {path} (mode 0600)"


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=2.0, verify=False).status_code == 200
    except httpx.HTTPError:
        return False


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    from tuner.storage.engine import normalise_url

    return make_url(normalise_url(url)).render_as_string(hide_password=True)
