"""``tuner serve-models churn [fraud@staging other:3]``: the prediction server under uvicorn.

It reads the registry straight from the database (``--db``), scoped to one project: the
project of the ``read`` token given (``--token`` / ``$TUNER_TOKEN``), else ``--project``. The
database URL is what grants access here (like the tuning server's own); the token keeps a
server to its project's models, and a revoked or unknown token does not start it.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from tuner.api.prediction.metrics import MULTIPROCESS_DIR, worker_gone
from tuner.api.prediction.settings import (
    DEFAULT_BATCH_WAIT,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY,
    DEFAULT_PORT,
    PredictionSettings,
)
from tuner.cli import database_option
from tuner.errors import SpecError, TunerError, Unauthorized
from tuner.projects import DEFAULT_PROJECT

if TYPE_CHECKING:
    from tuner.api.prediction.workers import WorkerLink

log = logging.getLogger("tuner.serving")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h)?\s*$")
_UNITS = {"us": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """``10s``, ``500ms``, ``250us``, ``2m``, ``1h`` or a number of seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 10s, 500ms or 2m")
    return float(match.group(1)) * _UNITS[match.group(2)]


class ServeModelsCommand:
    help = "serve registered models for online prediction (KServe v1, Open Inference v2)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "models",
            nargs="+",
            metavar="MODEL",
            help="churn (its production alias), churn@staging (an alias) or churn:3 (pinned)",
        )
        database_option(parser)
        parser.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1)")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port (8500)")
        parser.add_argument(
            "--grpc-port", type=int, default=None, help="also serve Open Inference gRPC here"
        )
        parser.add_argument(
            "--token",
            default=os.environ.get("TUNER_TOKEN"),
            help="a read token: the server serves its project's models ($TUNER_TOKEN)",
        )
        parser.add_argument(
            "--project",
            default=None,
            help=f"the project, when no token is given (default {DEFAULT_PROJECT!r})",
        )
        parser.add_argument(
            "--store", default=None, help="artifact store URL (default: the registry's)"
        )
        parser.add_argument(
            "--pull",
            type=duration,
            default=0.0,
            metavar="EVERY",
            help="ask the registry for new versions every EVERY (10s, 1m); default: never",
        )
        parser.add_argument(
            "--no-push",
            action="store_true",
            help="do not listen for alias moves (PostgreSQL NOTIFY)",
        )
        parser.add_argument(
            "--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)"
        )
        parser.add_argument(
            "--max-body",
            type=int,
            default=DEFAULT_MAX_BODY,
            metavar="BYTES",
            help=f"refuse larger request bodies with 413 (default {DEFAULT_MAX_BODY})",
        )
        parser.add_argument(
            "--batch-wait",
            type=duration,
            default=DEFAULT_BATCH_WAIT,
            metavar="WAIT",
            help="batching: how long a small request waits for others to be scored with "
            f"(1ms, 500us; default {DEFAULT_BATCH_WAIT * 1000:g}ms)",
        )
        parser.add_argument(
            "--max-batch",
            type=int,
            default=DEFAULT_MAX_BATCH,
            metavar="ROWS",
            help=f"batching: the most rows scored together; 1 turns batching off "
            f"(default {DEFAULT_MAX_BATCH})",
        )

    def __call__(self, args: argparse.Namespace) -> int:
        if args.workers < 1:
            raise SpecError("--workers", "must be at least 1")
        if args.max_batch < 1:
            raise SpecError("--max-batch", "must be at least 1 (1: no batching)")
        project = _project(args.db, args.token, args.project)
        settings = PredictionSettings(
            database_url=args.db,
            models=tuple(args.models),
            project=project,
            store=args.store,
            host=args.host,
            port=args.port,
            grpc_port=args.grpc_port,
            pull_seconds=args.pull,
            push=not args.no_push,
            max_body_bytes=args.max_body,
            workers=args.workers,
            batch_wait=args.batch_wait,
            max_batch=args.max_batch,
        )
        serve_models(settings)
        return 0


def _project(db: str, token: str | None, project: str | None) -> str:
    """The project a token belongs to (it must be live and at least ``read``), else the one
    named, else the default."""
    if not token:
        return project or DEFAULT_PROJECT
    from tuner.storage import Storage

    storage = Storage(db, must_exist=True)
    try:
        found = storage.tokens.verify(token)
    finally:
        storage.close()
    if found is None:
        raise Unauthorized("unknown, revoked or expired token", "--token")
    if not found.allows("read"):
        raise Unauthorized(f"a {found.role} token cannot read models", "--token")
    if project and project != found.project:
        raise SpecError("--project", f"the token is of project {found.project!r}, not {project!r}")
    return found.project


def serve_models(settings: PredictionSettings) -> None:
    """Serve in this process, or in ``settings.workers`` processes sharing the port."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    if settings.workers == 1:
        run_worker(settings, _bind(settings.host, settings.port, reuse_port=False))
        return
    # each worker binds its own socket with SO_REUSEPORT: the kernel spreads connections
    _bind(settings.host, settings.port, reuse_port=True, listen=False).close()  # busy: fail now
    # one /metrics over every worker: prometheus_client's multiprocess mode, a folder of files
    own = not os.environ.get(MULTIPROCESS_DIR)
    if own:
        os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix="tuner-metrics-")
    try:
        _run_workers(settings)
    finally:
        if own:
            shutil.rmtree(os.environ.pop(MULTIPROCESS_DIR), ignore_errors=True)


def _run_workers(settings: PredictionSettings) -> None:
    from tuner.api.prediction.workers import relay

    context = multiprocessing.get_context("spawn")
    # repository calls (gRPC load, unload) reach one worker: the parent relays them to all
    to_parent = context.Queue()
    to_workers = [context.Queue() for _ in range(settings.workers)]
    workers = [
        context.Process(
            target=_worker_main,
            args=(settings, i, to_parent, to_workers[i]),
            name=f"worker-{i}",
        )
        for i in range(settings.workers)
    ]
    for worker in workers:
        worker.start()
    stopped = threading.Event()
    threading.Thread(
        target=relay,
        args=(to_parent, to_workers, stopped, lambda i: workers[i].is_alive()),
        daemon=True,
        name="relay",
    ).start()

    def stop(signum: int, frame: Any) -> None:
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.join()
    stopped.set()


def _worker_main(
    settings: PredictionSettings, index: int, to_parent: Any, from_parent: Any
) -> None:
    from tuner.api.prediction.workers import WorkerLink

    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s [worker {index}] %(message)s",
        stream=sys.stderr,
    )
    grpc_port = settings.grpc_port
    sock = _bind(settings.host, settings.port, reuse_port=True)
    try:
        run_worker(
            settings,
            sock,
            grpc_reuse_port=grpc_port is not None,
            announce=index == 0,
            peers=WorkerLink(index, to_parent, from_parent),
        )
    finally:
        worker_gone(os.getpid())


def run_worker(
    settings: PredictionSettings,
    sock: socket.socket,
    grpc_reuse_port: bool = False,
    announce: bool = True,
    peers: WorkerLink | None = None,
) -> None:
    """Serve ``settings`` on ``sock`` (and gRPC) until stopped; ``peers``: the link to the
    other workers of ``--workers N`` (repository calls made here are made there too)."""
    import uvicorn

    from tuner.api.prediction.app import PredictionMetrics, create_prediction_app, open_models

    models = open_models(settings, PredictionMetrics())
    grpc_server: list[Any] = []

    stop = threading.Event()

    def started(served: Any) -> None:
        if peers is not None:
            peers.start(served, stop)
        if settings.grpc_port is not None:
            from tuner.api.prediction.grpc_service import start_grpc

            grpc_server.append(
                start_grpc(
                    served,
                    settings.host,
                    settings.grpc_port,
                    grpc_reuse_port,
                    settings.batching,
                    peers,
                )
            )
        if announce:
            _announce(settings, models.project)

    app = create_prediction_app(settings, models, on_started=started, peers=peers)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=settings.access_log)
    )
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()
        for g in grpc_server:
            g.stop(grace=2)


def _bind(host: str, port: int, reuse_port: bool, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TunerError(
            f"cannot listen on {host}:{port}: {exc.strerror} (another server there? choose "
            "another --port)"
        ) from None
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _announce(settings: PredictionSettings, project: str) -> None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = f"http://{host}:{settings.port}"
    lines = [
        f"Tuner prediction server at {url}: {', '.join(settings.models)} "
        f"(project {project!r}; ready at {url}/readyz once loaded and warm)",
        f"  KServe v1: POST {url}/v1/models/<name>:predict   Open Inference v2: "
        f"POST {url}/v2/models/<name>/infer   metrics: {url}/metrics",
    ]
    if settings.grpc_port is not None:
        lines.append(f"  Open Inference gRPC at {host}:{settings.grpc_port}")
    pull = f"every {settings.pull_seconds:g}s" if settings.pull_seconds else "off"
    postgres = settings.database_url.startswith("postgres")
    push = "on (PostgreSQL NOTIFY)" if settings.push and postgres else "off"
    lines.append(
        f"  updates: pull {pull}; push {push}"
        + (f"; {settings.workers} workers" if settings.workers > 1 else "")
    )
    print("\n".join(lines), flush=True)
