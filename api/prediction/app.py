"""The prediction server: ``create_prediction_app(settings)``, its own app beside the tuning API
(it runs no study and reaps no lease). KServe v1 and the Open Inference Protocol (v2) over REST,
``/healthz``, ``/readyz`` (503 until every model is loaded and warm) and ``/metrics``.

Bodies are parsed with orjson (the standard module only for what orjson refuses: ``NaN`` and
``Infinity``, which Python clients send, then refused by the row checks with their row and
feature; or to say the body is not JSON) and checked against the model's signature in one
vectorised pass (``rows``), not through pydantic; answers are written by orjson straight from
the predictions' array. No access log line is written per request (only refusals and failures
are logged). Each of these was a measured cost of Python model servers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tuner.api.errors import error_response
from tuner.api.limits import BodyLimit
from tuner.api.prediction import repository, rows, updates
from tuner.api.prediction.batching import AsyncBatcher
from tuner.api.prediction.metrics import PredictionMetrics
from tuner.api.prediction.served import LoadedVersion, ServedModels
from tuner.api.prediction.settings import PredictionSettings
from tuner.api.prediction.workers import WorkerLink
from tuner.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TunerError,
    Unauthorized,
    Unavailable,
)
from tuner.registry import ModelRegistry

log = logging.getLogger("tuner.serving")

STATUS: dict[type[TunerError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
}


def open_models(settings: PredictionSettings, metrics: PredictionMetrics) -> ServedModels:
    """The served models of ``settings``, read from its database and project; ``NotFound``
    naming a model, version or alias the registry does not have."""
    registry = ModelRegistry.open(
        settings.database_url, settings.store, project=settings.project, must_exist=True
    )
    models = ServedModels(registry, settings.models, metrics)
    models.check_known()
    return models


def create_prediction_app(
    settings: PredictionSettings,
    models: ServedModels | None = None,
    on_started: Callable[[ServedModels], None] | None = None,
    peers: WorkerLink | None = None,
) -> FastAPI:
    """The app serving ``settings.models``; it answers at once and is ready (``/readyz``) once
    every model is loaded and warm. ``on_started`` runs once it answers (gRPC starts there);
    ``peers``: the link to the server's other workers (repository calls reach every one)."""
    metrics = models.metrics if models is not None else PredictionMetrics()
    served = models if models is not None else open_models(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        loaded = threading.Event()
        threads = [
            threading.Thread(
                target=updates.initial_load, args=(served, loaded), daemon=True, name="load"
            )
        ]
        if settings.pull_seconds > 0:
            threads.append(
                threading.Thread(
                    target=updates.pull,
                    args=(served, settings.pull_seconds, stop),
                    daemon=True,
                    name="pull",
                )
            )
        app.state.listening = threading.Event()
        if settings.push and updates.push_available(served):
            threads.append(
                threading.Thread(
                    target=updates.listen,
                    args=(served, stop, app.state.listening),
                    daemon=True,
                    name="push",
                )
            )
        elif settings.push:
            log.info("push updates need PostgreSQL; this registry is on SQLite: use --pull")
        for thread in threads:
            thread.start()
        if on_started is not None:
            on_started(served)
        try:
            yield
        finally:
            stop.set()
            for thread in threads[1:]:
                thread.join(timeout=5)
            served.close()

    app = FastAPI(
        title="Tuner prediction server",
        version="1",
        summary="KServe v1 and Open Inference Protocol v2 predictions of registered models",
        lifespan=lifespan,
    )
    app.state.models = served
    app.state.metrics = metrics
    app.state.settings = settings
    batcher = AsyncBatcher(settings.batching, metrics.batch)
    _install_errors(app)

    def serving(name: str) -> LoadedVersion:
        loaded = served.get(name).current
        if loaded is None:
            raise Unavailable(f"model {name!r} is not loaded yet")
        return loaded

    def refused(exc: TunerError, name: str, protocol: str) -> Response:
        metrics.error(name, protocol, exc.code)
        status = next((v for k, v in STATUS.items() if isinstance(exc, k)), 400)
        if status == 400:
            log.info("refused %s %s: %s (%s)", protocol, name, exc, exc.field)
        return error_response(status, exc.code, str(exc), exc.field or None)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> Response:
        states = {name: m.state for name, m in served.models.items()}
        return _json({"ready": served.ready, "models": states}, 200 if served.ready else 503)

    @app.get("/metrics", tags=["health"])
    async def prometheus() -> Response:
        return Response(metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- KServe v1 -------------------------------------------------------------------------

    @app.get("/v1/models", tags=["v1"])
    async def v1_models() -> dict[str, Any]:
        return {"models": list(served.models)}

    @app.get("/v1/models/{name}", tags=["v1"])
    async def v1_model(name: str) -> dict[str, Any]:
        return served.get(name).describe()

    @app.post("/v1/models/{name}:predict", tags=["v1"])
    async def v1_predict(name: str, request: Request) -> Response:
        return await predict_v1(name, await request.body())

    async def predict_v1(name: str, raw: bytes) -> Response:
        started = time.perf_counter()
        try:
            loaded = serving(name)
            body = _body(raw)
            if not isinstance(body, dict) or "instances" not in body:
                raise InvalidInput('the body must be {"instances": [rows...]}', "instances")
            batch = rows.batch_of_instances(loaded.predictor.signature, body["instances"])
            predictions = await batcher.predict(loaded, batch)
        except TunerError as exc:
            return refused(exc, name, "v1")
        answer = _json({"predictions": rows.encodable(predictions)})
        metrics.observe(name, "v1", time.perf_counter() - started, batch.size)
        return answer

    # -- Open Inference Protocol (v2) ------------------------------------------------------

    @app.get("/v2", tags=["v2"])
    async def v2_server() -> dict[str, Any]:
        return {"name": "tuner", "version": "1", "extensions": []}

    @app.get("/v2/health/live", tags=["v2"])
    async def v2_live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["v2"])
    async def v2_ready() -> Response:
        return _json({"ready": served.ready}, 200 if served.ready else 503)

    @app.get("/v2/models/{name}/ready", tags=["v2"])
    async def v2_model_ready(name: str) -> Response:
        ready = served.get(name).ready
        return _json({"name": name, "ready": ready}, 200 if ready else 503)

    @app.get("/v2/models/{name}", tags=["v2"])
    async def v2_model(name: str) -> dict[str, Any]:
        loaded = serving(name)
        return model_metadata(name, loaded)

    @app.post("/v2/models/{name}/infer", tags=["v2"])
    async def v2_infer(name: str, request: Request) -> Response:
        return await infer_v2(name, None, await request.body())

    @app.post("/v2/models/{name}/versions/{version}/infer", tags=["v2"])
    async def v2_infer_version(name: str, version: str, request: Request) -> Response:
        return await infer_v2(name, version, await request.body())

    async def infer_v2(name: str, version: str | None, raw: bytes) -> Response:
        started = time.perf_counter()
        try:
            loaded = serving(name)
            if version not in (None, "", str(loaded.version.version)):
                raise NotFound(
                    f"model {name!r} serves version {loaded.version.version}, not {version}"
                )
            body = _body(raw)
            if not isinstance(body, dict) or "inputs" not in body:
                raise InvalidInput('the body must be {"inputs": [tensors...]}', "inputs")
            batch = rows.batch_of_tensors(loaded.predictor.signature, body["inputs"])
            predictions = await batcher.predict(loaded, batch)
        except TunerError as exc:
            return refused(exc, name, "v2")
        out: dict[str, Any] = {
            "model_name": name,
            "model_version": str(loaded.version.version),
            "outputs": [rows.output_tensor(predictions)],
        }
        if isinstance(body.get("id"), str):
            out["id"] = body["id"]
        answer = _json(out)
        metrics.observe(name, "v2", time.perf_counter() - started, batch.size)
        return answer

    # -- the model repository (the Open Inference repository extension, as Triton serves it
    # over HTTP): the same calls as gRPC's, with the token in the ``authorization`` header

    async def authorized(request: Request, role: str) -> None:
        header = request.headers.get("authorization", "")
        await asyncio.to_thread(repository.authorize, served, header, role)

    @app.post("/v2/repository/index", tags=["repository"])
    async def repository_index(request: Request) -> Response:
        await authorized(request, "read")
        raw = await request.body()
        body = _body(raw) if raw.strip() else {}
        ready = isinstance(body, dict) and bool(body.get("ready", False))
        return _json(repository.index(served, ready))

    @app.post("/v2/repository/models/{name}/load", tags=["repository"])
    async def repository_load(name: str, request: Request) -> Response:
        """Load ``name`` (``churn``, ``churn@staging``, ``churn:3``) on every worker; a
        loading thread, never the event loop, does the work."""
        await authorized(request, "write")
        await asyncio.to_thread(repository.load, served, peers, name)
        return Response(status_code=200)

    @app.post("/v2/repository/models/{name}/unload", tags=["repository"])
    async def repository_unload(name: str, request: Request) -> Response:
        await authorized(request, "write")
        await asyncio.to_thread(repository.unload, served, peers, name)
        return Response(status_code=200)

    app.add_middleware(HotPaths, v1=predict_v1, v2=infer_v2)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)  # outside: HotPaths too
    return app


_V1_PREDICT = re.compile(r"^/v1/models/([^/]+):predict$")
_V2_INFER = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?/infer$")


class HotPaths:
    """ASGI middleware answering the prediction routes (v1 predict, v2 infer) straight from
    the request, with the same functions as their FastAPI routes, without the router, the
    dependency resolution and the request object: those were a sixth of the server's time on
    one-row requests (measured with py-spy). Every other path goes on to the app."""

    def __init__(
        self,
        app: Any,
        v1: Callable[[str, bytes], Awaitable[Response]],
        v2: Callable[[str, str | None, bytes], Awaitable[Response]],
    ) -> None:
        self.app = app
        self.v1 = v1
        self.v2 = v2

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            v1 = _V1_PREDICT.match(path)
            v2 = None if v1 else _V2_INFER.match(path)
            if v1 is not None or v2 is not None:
                raw = await _read(receive)
                if raw is None:  # the client went away
                    return
                if v1 is not None:
                    response = await self.v1(v1.group(1), raw)
                else:
                    assert v2 is not None
                    response = await self.v2(v2.group(1), v2.group(2), raw)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _read(receive: Any) -> bytes | None:
    """The request's body (its size already capped by ``BodyLimit``), None on a disconnect."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def model_metadata(name: str, loaded: LoadedVersion) -> dict[str, Any]:
    """The Open Inference Protocol's model metadata of the served version."""
    return {
        "name": name,
        "versions": [str(loaded.version.version)],
        "platform": loaded.version.flavor,
        "inputs": rows.input_metadata(loaded.predictor.signature),
        "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
    }


def _body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:  # NaN, Infinity (refused later, naming their row), integers past 64 bits
        return json.loads(raw)
    except ValueError:
        raise InvalidInput("the body is not valid JSON", "body") from None


def _json(content: Any, status: int = 200) -> Response:
    """``content`` as a JSON response; numpy arrays in it are written from memory (a
    non-finite float becomes ``null``, never ``NaN``, which is not JSON)."""
    text = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(text, status_code=status, media_type="application/json")


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(TunerError)
    async def tuner_error(request: Request, exc: TunerError) -> Response:
        status = next((v for k, v in STATUS.items() if isinstance(exc, k)), 400)
        return error_response(status, exc.code, str(exc), exc.field or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal server error")
