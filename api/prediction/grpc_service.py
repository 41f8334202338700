"""The Open Inference Protocol over gRPC (``inference.GRPCInferenceService``), beside the REST
routes and over the same served models, rows checks and metrics, so that Triton's and KServe's
gRPC clients work unchanged. Tensors come as typed ``contents`` or as ``raw_input_contents``
(what ``tritonclient`` sends); numeric predictions go back raw, as Triton does. Rows that do not
fit the signature are ``INVALID_ARGUMENT`` naming the row and feature."""

from __future__ import annotations

import logging
import struct
import time
from concurrent import futures
from typing import Any

import grpc

from tuner.api.prediction import rows, workers
from tuner.api.prediction.batching import BatchPolicy, ThreadBatcher
from tuner.api.prediction.grpc_v2 import grpc_predict_v2_pb2 as pb
from tuner.api.prediction.grpc_v2 import grpc_predict_v2_pb2_grpc as pb_grpc
from tuner.api.prediction.served import LoadedVersion, ServedModels, parse_served
from tuner.api.prediction.workers import WorkerLink
from tuner.errors import InvalidInput, NotFound, TunerError, Unavailable

log = logging.getLogger("tuner.serving")

# datatype -> (numpy dtype of raw contents, the typed contents field)
_TYPES: dict[str, tuple[str, str]] = {
    "BOOL": ("bool", "bool_contents"),
    "UINT8": ("uint8", "uint_contents"),
    "UINT16": ("uint16", "uint_contents"),
    "UINT32": ("uint32", "uint_contents"),
    "UINT64": ("uint64", "uint64_contents"),
    "INT8": ("int8", "int_contents"),
    "INT16": ("int16", "int_contents"),
    "INT32": ("int32", "int_contents"),
    "INT64": ("int64", "int64_contents"),
    "FP16": ("float16", "fp32_contents"),
    "FP32": ("float32", "fp32_contents"),
    "FP64": ("float64", "fp64_contents"),
    "BYTES": ("object", "bytes_contents"),
}
_CODES = {InvalidInput: grpc.StatusCode.INVALID_ARGUMENT, NotFound: grpc.StatusCode.NOT_FOUND}


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    """The service over ``models``."""

    def __init__(
        self,
        models: ServedModels,
        batching: BatchPolicy | None = None,
        peers: WorkerLink | None = None,
    ) -> None:
        self.models = models
        self.batcher = ThreadBatcher(batching or BatchPolicy(), models.metrics.batch)
        self.peers = peers  # the other workers of the server (``--workers N``), if any

    def _serving(self, name: str, context: grpc.ServicerContext) -> LoadedVersion:
        try:
            model = self.models.get(name)
        except NotFound as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        loaded = model.current
        if loaded is not None:
            return loaded
        context.abort(grpc.StatusCode.UNAVAILABLE, f"model {name!r} is not loaded yet")
        raise AssertionError("unreachable: abort raises")

    def ServerLive(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ServerReadyResponse(ready=self.models.ready)

    def ModelReady(self, request: Any, context: grpc.ServicerContext) -> Any:
        model = self.models.models.get(request.name)
        return pb.ModelReadyResponse(ready=model is not None and model.ready)

    def ServerMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ServerMetadataResponse(name="tuner", version="1", extensions=[])

    def ModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        from tuner.api.prediction.app import model_metadata

        meta = model_metadata(request.name, self._serving(request.name, context))
        tensor = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=meta["name"],
            versions=meta["versions"],
            platform=meta["platform"],
            inputs=[tensor(**t) for t in meta["inputs"]],
            outputs=[tensor(**t) for t in meta["outputs"]],
        )

    def ModelInfer(self, request: Any, context: grpc.ServicerContext) -> Any:
        started = time.perf_counter()
        name = request.model_name
        loaded = self._serving(name, context)
        metrics = self.models.metrics
        try:
            if request.model_version not in ("", str(loaded.version.version)):
                raise NotFound(
                    f"model {name!r} serves version {loaded.version.version}, "
                    f"not {request.model_version}"
                )
            tensors = _tensors(request)
            batch = rows.batch_of_tensors(loaded.predictor.signature, tensors)
            predictions = self.batcher.predict(loaded, batch)
        except TunerError as exc:
            metrics.error(name, "grpc", exc.code)
            code = next(
                (v for k, v in _CODES.items() if isinstance(exc, k)),
                grpc.StatusCode.UNAVAILABLE
                if isinstance(exc, Unavailable)
                else grpc.StatusCode.INVALID_ARGUMENT,
            )
            where = f"{exc.field}: " if exc.field else ""
            context.abort(code, f"{where}{exc}")
        out = rows.output_tensor(predictions)
        response = pb.ModelInferResponse(
            model_name=name, model_version=str(loaded.version.version), id=request.id
        )
        tensor = response.outputs.add(
            name=out["name"], datatype=out["datatype"], shape=out["shape"]
        )
        if out["datatype"] == "BYTES":
            tensor.contents.bytes_contents.extend(str(v).encode() for v in out["data"])
        else:
            response.raw_output_contents.append(predictions.tobytes())
        metrics.observe(name, "grpc", time.perf_counter() - started, batch.size)
        return response

    # -- the model repository: load and unload need a ``write`` token of the server's project

    def RepositoryIndex(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The served models (Triton's repository index): name, version, state and the reason
        of the last refusal; ``ready``: only those serving. Needs a ``read`` token."""
        self._authorized(context, "read")
        index = pb.RepositoryIndexResponse()
        for name, model in self.models.models.items():
            if request.ready and not model.ready:
                continue
            current = model.current
            index.models.add(
                name=name,
                version=str(current.version.version) if current else "",
                state="READY" if current else "UNAVAILABLE" if model.refused else "LOADING",
                reason=model.refused.reason if model.refused else "",
            )
        return index

    def RepositoryModelLoad(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Serve ``model_name`` (``churn``: its production alias, ``churn@staging``,
        ``churn:3``) through the same load, check, warm and swap as an alias move, in every
        worker of the server; answered once every one has."""
        self._authorized(context, "write")
        ref = _model_name(request, context)
        try:
            name = parse_served(ref)[0]
        except TunerError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        here, others = self._everywhere(workers.LOAD, ref)
        if here.startswith("not found"):
            context.abort(grpc.StatusCode.NOT_FOUND, here.removeprefix("not found: "))
        failed = {i: o for i, o in {-2: here, **others}.items() if o.split(":")[0] in _FAILED}
        if failed:
            model = self.models.models.get(name)
            serving = model.current if model is not None else None
            still = f"; still serving version {serving.version.version}" if serving else ""
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{ref}: {_said(failed)}{still}")
        return pb.RepositoryModelLoadResponse(model_name=name, isLoaded=self.models.get(name).ready)

    def RepositoryModelUnload(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Stop serving ``model_name``, in every worker of the server."""
        self._authorized(context, "write")
        name = _model_name(request, context)
        here, others = self._everywhere(workers.UNLOAD, name)
        if here.startswith("not found"):
            context.abort(grpc.StatusCode.NOT_FOUND, here.removeprefix("not found: "))
        failed = {i: o for i, o in others.items() if o.split(":")[0] in _FAILED}
        if failed:
            context.abort(grpc.StatusCode.INTERNAL, f"{name}: {_said(failed)}")
        return pb.RepositoryModelUnloadResponse(model_name=name, isUnloaded=True)

    def _everywhere(self, op: str, arg: str) -> tuple[str, dict[int, str]]:
        """``op`` on this worker's models and on every other worker's at once: this one's
        outcome and theirs (by worker index)."""
        asked = self.peers.ask(op, arg) if self.peers is not None else None
        here = workers.apply(self.models, op, arg)
        others = self.peers.wait(asked) if self.peers is not None and asked else {}
        return here, others

    def _authorized(self, context: grpc.ServicerContext, role: str) -> None:
        """The call's ``authorization: Bearer <token>`` metadata must be a live token of this
        server's project allowing ``role``."""
        metadata = dict(context.invocation_metadata())
        header = str(metadata.get("authorization", ""))
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"authorization: send 'Bearer <token>', a {role} token of project "
                f"{self.models.project!r}",
            )
        try:
            token = self.models.registry.storage.tokens.verify(secret.strip())
        except Exception:  # the database away: no decision can be made
            log.warning("repository call: tokens cannot be read now", exc_info=True)
            context.abort(grpc.StatusCode.UNAVAILABLE, "tokens cannot be checked now; retry")
        if token is None:
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "authorization: unknown, revoked or expired token"
            )
            raise AssertionError("unreachable: abort raises")
        if token.project != self.models.project or not token.allows(role):
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"authorization: a {token.role} token of project {token.project!r} cannot "
                f"{'load or unload' if role == 'write' else 'read'} models of project "
                f"{self.models.project!r} (a {role} token of it can)",
            )


_FAILED = ("refused", "not found", "failed")


def _said(failed: dict[int, str]) -> str:
    """Outcomes by worker (-2: the one answering the call) as one sentence."""
    return "; ".join(
        (f"worker {i}: " if i >= 0 else "other workers: " if i == -1 else "") + outcome
        for i, outcome in sorted(failed.items())
    )


def _model_name(request: Any, context: grpc.ServicerContext) -> str:
    """A repository request's model: KServe's proto sends it as field 1 (``model_name``),
    Triton's as field 2 (its field 1 is ``repository_name``), which this proto does not name:
    read from the request's unknown fields, so that ``tritonclient``'s ``load_model`` works."""
    from google.protobuf import unknown_fields

    if request.model_name:
        return str(request.model_name)
    for found in unknown_fields.UnknownFieldSet(request):
        if found.field_number == 2 and isinstance(found.data, bytes):
            return found.data.decode(errors="replace")
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "model_name: name the model")
    raise AssertionError("unreachable: abort raises")


def _tensors(request: Any) -> list[dict[str, Any]]:
    """The request's input tensors as the REST protocol's ``{name, shape, datatype, data}``."""
    import numpy as np

    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(
            f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs", "raw_input_contents"
        )
    out = []
    for i, tensor in enumerate(request.inputs):
        kind = _TYPES.get(tensor.datatype)
        if kind is None:
            raise InvalidInput(f"unknown datatype {tensor.datatype!r}", f"inputs[{i}].datatype")
        dtype, field = kind
        data: Any
        if raw:
            if tensor.datatype == "BYTES":
                data = _bytes_of(raw[i], f"inputs[{i}]")
            else:
                size = np.dtype(dtype).itemsize
                if len(raw[i]) % size:
                    raise InvalidInput(
                        f"{len(raw[i])} bytes is not a whole number of {tensor.datatype}",
                        f"raw_input_contents[{i}]",
                    )
                data = np.frombuffer(raw[i], dtype=dtype)
        else:
            values = getattr(tensor.contents, field)
            data = [v.decode() for v in values] if tensor.datatype == "BYTES" else list(values)
        out.append(
            {
                "name": tensor.name,
                "shape": [int(d) for d in tensor.shape],
                "datatype": tensor.datatype,
                "data": data,
            }
        )
    return out


def _bytes_of(raw: bytes, where: str) -> list[str]:
    """Triton's raw BYTES: each element a 4-byte little-endian length, then the bytes."""
    out, at = [], 0
    while at < len(raw):
        if at + 4 > len(raw):
            raise InvalidInput("truncated BYTES element", where)
        (length,) = struct.unpack_from("<I", raw, at)
        at += 4
        out.append(raw[at : at + length].decode(errors="replace"))
        at += length
    return out


def start_grpc(
    models: ServedModels,
    host: str,
    port: int,
    reuse_port: bool = False,
    batching: BatchPolicy | None = None,
    peers: WorkerLink | None = None,
) -> grpc.Server:
    """A started gRPC server on ``host:port`` over ``models``, batching by ``batching``;
    ``peers``: the link to the server's other workers (repository calls reach every one)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="grpc"),
        options=[("grpc.so_reuseport", 1 if reuse_port else 0)],
    )
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(
        InferenceService(models, batching, peers), server
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if server.add_insecure_port(address) == 0:
        raise TunerError(f"cannot serve gRPC on {address} (in use? choose another --grpc-port)")
    server.start()
    log.info("Open Inference gRPC at %s", address)
    return server
