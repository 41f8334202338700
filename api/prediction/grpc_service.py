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

from tuner.api.prediction import repository, rows
from tuner.api.prediction.batching import BatchPolicy, ThreadBatcher
from tuner.api.prediction.grpc_v2 import grpc_predict_v2_pb2 as pb
from tuner.api.prediction.grpc_v2 import grpc_predict_v2_pb2_grpc as pb_grpc
from tuner.api.prediction.served import LoadedVersion, ServedModels
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
        """The served models (Triton's repository index); needs a ``read`` token."""
        self._authorized(context, "read")
        entries = repository.index(self.models, request.ready)
        response = pb.RepositoryIndexResponse()
        for entry in entries:
            response.models.add(**entry)
        return response

    def RepositoryModelLoad(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Serve ``model_name`` (``churn``: its production alias, ``churn@staging``,
        ``churn:3``) on every worker of the server (``repository.load``)."""
        self._authorized(context, "write")
        ref = _model_name(request, context)
        try:
            name = repository.load(self.models, self.peers, ref)
        except TunerError as exc:
            context.abort(_repository_code(exc), str(exc))
        return pb.RepositoryModelLoadResponse(model_name=name, isLoaded=self.models.get(name).ready)

    def RepositoryModelUnload(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Stop serving ``model_name``, on every worker of the server."""
        self._authorized(context, "write")
        name = _model_name(request, context)
        try:
            repository.unload(self.models, self.peers, name)
        except TunerError as exc:
            context.abort(_repository_code(exc), str(exc))
        return pb.RepositoryModelUnloadResponse(model_name=name, isUnloaded=True)

    def _authorized(self, context: grpc.ServicerContext, role: str) -> None:
        """The call's ``authorization: Bearer <token>`` metadata must be a live token of this
        server's project allowing ``role``."""
        metadata = dict(context.invocation_metadata())
        try:
            repository.authorize(self.models, str(metadata.get("authorization", "")), role)
        except TunerError as exc:
            context.abort(_repository_code(exc), str(exc))


_REPOSITORY_CODES: dict[type[TunerError], grpc.StatusCode] = {
    Unauthorized: grpc.StatusCode.UNAUTHENTICATED,
    Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Conflict: grpc.StatusCode.FAILED_PRECONDITION,
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
}


def _repository_code(exc: TunerError) -> grpc.StatusCode:
    return next(
        (c for k, c in _REPOSITORY_CODES.items() if isinstance(exc, k)), grpc.StatusCode.INTERNAL
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
