"""ONNX export of a model version, scored with onnxruntime.

A version's bundle is immutable, so the export is its own checked folder *beside* it in the
artifact store (``<version uri>.onnx``), described by a sidecar manifest, ``EXPORT.json``: the
format, the SHA-256 of the version's manifest it was made from, the SHA-256 of ``model.onnx``,
the converter versions, the maximum absolute difference between the ONNX and the native
predictions on the version's example rows, measured at export, and how long each runtime took
on them (``runtimes.race``). A Predictor uses the export (``runtime="onnx"``, or ``auto`` when it
was the faster) only when that difference is within ``tolerance`` and every checksum holds.

Supported: the ``sklearn`` flavor (skl2onnx) and the ``xgboost`` flavor (onnxmltools) for models
whose features are all numbers (one float tensor in, the signature's columns in order).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuner.errors import BundleError
from tuner.models.bundle import Manifest, file_digest
from tuner.models.flavor import check_installed
from tuner.models.signature import Output, Signature

EXPORT = "EXPORT.json"
FILE = "model.onnx"
SUFFIX = ".onnx"
TOLERANCE = 1e-4  # float32 arithmetic in onnxruntime against float64 in scikit-learn
_REQUIRES = {
    "sklearn": {"skl2onnx": "skl2onnx", "onnxruntime": "onnxruntime"},
    "xgboost": {"onnxmltools": "onnxmltools", "onnxruntime": "onnxruntime"},
}


@dataclass(frozen=True)
class OnnxExport:
    """The sidecar manifest of an export (what ``EXPORT.json`` holds)."""

    format: str
    source: str  # the SHA-256 of the version's manifest
    file: str
    sha256: str
    max_abs_diff: float
    rows: int
    versions: dict[str, str]
    created_at: str
    # median microseconds per call of each runtime, raced at export (see ``runtimes.race``)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OnnxExport:
        return cls(
            str(data["format"]),
            str(data["source"]),
            str(data["file"]),
            str(data["sha256"]),
            float(data["max_abs_diff"]),
            int(data["rows"]),
            {str(k): str(v) for k, v in data["versions"].items()},
            str(data["created_at"]),
            {str(k): float(v) for k, v in (data.get("timings") or {}).items()},
        )

    def runtime(self, use: str, tolerance: float = TOLERANCE) -> str:
        """The runtime ``auto`` picks for ``use`` (``row`` or ``batch``): see ``runtimes``."""
        from tuner.models.runtimes import choose

        return choose(self, use, tolerance)


def export_uri(version_uri: str) -> str:
    """Where the ONNX export of the version stored at ``version_uri`` lives."""
    return version_uri.rstrip("/") + SUFFIX


def publish(folder: Path, build: Callable[[Path], OnnxExport]) -> OnnxExport:
    """Every export format's way into place: ``build`` writes the converted model into a
    staging folder beside ``folder`` and returns its record; the record is written as
    ``EXPORT.json``, the files made read-only and the folder renamed to ``folder`` at once. When
    ``build`` raises, nothing is left behind."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        export = build(staging)
        (staging / EXPORT).write_text(json.dumps(export.to_dict(), indent=2, sort_keys=True))
        for p in staging.iterdir():
            p.chmod(0o444)
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return export


def write_export(bundle: str | os.PathLike[str], folder: str | os.PathLike[str]) -> OnnxExport:
    """Convert the bundle at ``bundle`` to ONNX into ``folder`` (which must not exist), measure
    the difference on the manifest's example rows and write ``EXPORT.json``; ``BundleError``
    naming the flavor, feature or package when the model cannot be exported."""
    from tuner.models.predictor import Predictor

    target = Path(folder)
    if target.exists():
        raise BundleError(f"{target} exists already: a version is exported once", "format")
    native = Predictor.load(bundle)
    manifest = native.manifest
    _check_exportable(manifest)
    if not manifest.examples:
        raise BundleError(
            f"{bundle} has no example rows to check the export against: register the model "
            "with example=",
            "example",
        )
    proto = _convert(native.model, manifest)

    def build(staging: Path) -> OnnxExport:
        import numpy as np

        from tuner.models.runtimes import race

        path = staging / FILE
        path.write_bytes(proto.SerializeToString())
        rows = list(manifest.examples)
        runtime = OnnxModel(path, manifest.signature.output)
        scored = runtime.predict_array(manifest.signature.array(rows))
        expected = np.asarray(native.predict(rows), dtype=float)
        diff = float(np.max(np.abs(np.asarray(scored, dtype=float) - expected)))
        timings = race(native, Predictor(manifest, runtime, native.folder, "onnx"), rows)
        return OnnxExport(
            format="onnx",
            source=manifest.digest,
            file=FILE,
            sha256=file_digest(path),
            max_abs_diff=diff,
            rows=len(rows),
            versions=_versions(manifest.flavor),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            timings=timings,
        )

    return publish(target, build)


def read_export(folder: str | os.PathLike[str], manifest: Manifest) -> OnnxExport:
    """The export at ``folder`` after checking that it was made from ``manifest`` and that
    ``model.onnx`` matches its SHA-256."""
    root = Path(folder)
    try:
        export = OnnxExport.from_dict(json.loads((root / EXPORT).read_text()))
    except FileNotFoundError:
        raise BundleError(f"{root} holds no ONNX export (no {EXPORT})", "runtime") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BundleError(f"{root / EXPORT} is not a valid export manifest: {exc}") from None
    if export.source != manifest.digest:
        raise BundleError(f"{root / EXPORT} was made from another version's bundle")
    path = root / export.file
    if not path.is_file() or file_digest(path) != export.sha256:
        raise BundleError(f"{path} fails its checksum: truncated or changed since exported")
    return export


def load_onnx(
    folder: str | os.PathLike[str], manifest: Manifest, tolerance: float = TOLERANCE
) -> OnnxModel:
    """The ONNX runtime of a version: ``BundleError`` when the export is missing, changed, or
    its predictions differed from the native ones by more than ``tolerance``."""
    check_installed("onnx", {"onnxruntime": "onnxruntime"})
    export = read_export(folder, manifest)
    if not export.max_abs_diff <= tolerance:
        raise BundleError(
            f"the ONNX export at {folder} differs from the native model by "
            f"{export.max_abs_diff:.3g} (tolerance {tolerance:g}): use the native runtime",
            "runtime",
        )
    return OnnxModel(Path(folder) / export.file, manifest.signature.output)


class OnnxModel:
    """An ONNX model in an onnxruntime session, fed a float32 array of the signature's
    features; answers what the native model answers (the signature's output kind)."""

    def __init__(self, path: Path, output: Output) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.output = output

    def predict(self, frame: Any) -> Any:
        return self.predict_array(frame.to_numpy())

    def predict_array(self, data: Any) -> Any:
        """Predictions of a 2-D array of the signature's features (all numbers)."""
        import numpy as np

        array = np.ascontiguousarray(data, dtype=np.float32)
        found = self.session.run(None, {self.input: array})
        if len(found) == 1:  # a regressor
            return np.asarray(found[0]).reshape(len(array), -1).squeeze(axis=1)
        label, proba = np.asarray(found[0]), np.asarray(found[1])
        if self.output.kind == "probability":
            return proba[:, 1] if proba.shape[1] == 2 else proba
        return label  # scikit-learn's class labels, xgboost's class indices: as natively


def _check_exportable(manifest: Manifest) -> None:
    if manifest.flavor not in _REQUIRES:
        raise BundleError(
            f"the {manifest.flavor!r} flavor has no ONNX export (exportable: "
            f"{', '.join(sorted(_REQUIRES))})",
            "format",
        )
    check_installed(f"{manifest.flavor} -> onnx", _REQUIRES[manifest.flavor])
    other = [f.name for f in manifest.signature.inputs if f.type != "number"]
    if other:
        raise BundleError(
            f"the ONNX export takes numeric features only; {', '.join(other)} "
            "are not numbers: score this version with the native runtime",
            "format",
        )


def _convert(model: Any, manifest: Manifest) -> Any:
    signature: Signature = manifest.signature
    count = len(signature.inputs)
    if manifest.flavor == "sklearn":
        import numpy as np
        from skl2onnx import to_onnx

        estimator = model.model
        last = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
        options = {id(last): {"zipmap": False}} if hasattr(last, "classes_") else None
        sample = np.zeros((1, count), dtype=np.float32)
        try:
            return to_onnx(estimator, sample, options=options)
        except Exception as exc:  # skl2onnx names the estimator it has no converter for
            raise BundleError(f"skl2onnx cannot convert this model: {exc}", "format") from None
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    booster = model.booster.copy()
    kind = json.loads(booster.save_config())["learner"]["gradient_booster"]["name"]
    if kind != "gbtree":  # onnxmltools reads gbtree's parameters: a KeyError on the others
        raise BundleError(
            f"onnxmltools converts 'gbtree' boosters only, this one is {kind!r}: score this "
            "version with the native runtime",
            "format",
        )
    booster.feature_names = None  # the converter reads features as f0, f1, ...
    try:
        return convert_xgboost(booster, initial_types=[("input", FloatTensorType([None, count]))])
    except Exception as exc:
        raise BundleError(f"onnxmltools cannot convert this model: {exc}", "format") from None


def _versions(flavor: str) -> dict[str, str]:
    found = {}
    for dist in sorted(_REQUIRES[flavor]) + ["onnx"]:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found
