"""PMML export of a model version, scored with the JPMML evaluator: for portability (a JVM
platform scores the same file), not for speed.

Like the ONNX export (``onnx_export``), the bundle stays immutable: the export is its own checked
folder beside it in the artifact store (``<version uri>.pmml``) holding ``model.pmml`` and the
same sidecar manifest, ``EXPORT.json`` (format ``pmml``): the SHA-256 of the version's manifest
it was made from, the SHA-256 of ``model.pmml``, the converter versions and the maximum absolute
difference between the PMML and the native predictions on the version's example rows, measured
at export. An export whose difference exceeds ``TOLERANCE`` is refused there and then, naming
the difference, so that a PMML file in the store always scores like its version.

Supported: the ``sklearn`` flavor (any Pipeline sklearn2pmml converts, numeric and categorical
features: sklearn2pmml's Java converter runs at export, so Java must be on ``PATH``). The
``xgboost`` flavor stores a bare booster with the feature encoding beside it, which sklearn2pmml
does not take: refused naming the flavor (export the ONNX or score natively).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuner.errors import BundleError
from tuner.models.bundle import Manifest, file_digest
from tuner.models.flavor import check_installed
from tuner.models.onnx_export import OnnxExport, publish
from tuner.models.signature import Output

FILE = "model.pmml"
SUFFIX = ".pmml"
TOLERANCE = 1e-6  # the evaluator computes in float64, as scikit-learn does
_CONVERT = {"sklearn2pmml": "sklearn2pmml", "jpmml_evaluator": "jpmml_evaluator"}
_SCORE = {"jpmml_evaluator": "jpmml_evaluator", "jpype": "jpype1"}
EXPORTABLE = ("sklearn",)


def export_uri(version_uri: str) -> str:
    """Where the PMML export of the version stored at ``version_uri`` lives."""
    return version_uri.rstrip("/") + SUFFIX


def check_java() -> None:
    """``BundleError`` naming Java when no ``java`` is on ``PATH`` (the converter and the
    evaluator both run on a JVM)."""
    if shutil.which("java") is None:
        raise BundleError(
            "PMML needs Java (a JRE 11 or newer, `java` on PATH): sklearn2pmml's converter and "
            "the JPMML evaluator run on it; none was found",
            "format",
        )


def write_export(bundle: str | os.PathLike[str], folder: str | os.PathLike[str]) -> OnnxExport:
    """Convert the bundle at ``bundle`` to PMML into ``folder`` (which must not exist), score
    the manifest's example rows with the evaluator and write ``EXPORT.json``; ``BundleError``
    naming the flavor, the step the converter refused, Java or the difference otherwise."""
    from tuner.models.predictor import Predictor

    target = Path(folder)
    if target.exists():
        raise BundleError(f"{target} exists already: a version is exported once", "format")
    native = Predictor.load(bundle)
    manifest = native.manifest
    if manifest.flavor not in EXPORTABLE:
        raise BundleError(
            f"the {manifest.flavor!r} flavor has no PMML export (exportable: "
            f"{', '.join(EXPORTABLE)}): export it with --format onnx or score it natively",
            "format",
        )
    check_installed(f"{manifest.flavor} -> pmml", {**_CONVERT, **_SCORE})
    check_java()
    if not manifest.examples:
        raise BundleError(
            f"{bundle} has no example rows to check the export against: register the model "
            "with example=",
            "example",
        )

    def build(staging: Path) -> OnnxExport:
        import numpy as np

        path = staging / FILE
        _convert(native.model.model, manifest, path)  # type: ignore[attr-defined]
        rows = list(manifest.examples)
        scored = PmmlModel(path, manifest.signature.output).predict(manifest.signature.frame(rows))
        expected = native.predict(rows)
        diff = _difference(scored, expected)
        if not diff <= TOLERANCE:
            raise BundleError(
                f"the PMML export differs from the native model by {diff:.3g} on the example "
                f"rows (tolerance {TOLERANCE:g}; first native {np.ravel(expected)[:3]}, pmml "
                f"{np.ravel(scored)[:3]}): not exported",
                "format",
            )
        return OnnxExport(
            format="pmml",
            source=manifest.digest,
            file=FILE,
            sha256=file_digest(path),
            max_abs_diff=diff,
            rows=len(rows),
            versions=_versions(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    return publish(target, build)


def load_pmml(folder: str | os.PathLike[str], manifest: Manifest) -> PmmlModel:
    """The PMML runtime of a version: ``BundleError`` when the export is missing, changed or
    made from another bundle, or when Java or the evaluator is missing."""
    from tuner.models.onnx_export import read_export

    check_installed("pmml", _SCORE)
    check_java()
    export = read_export(folder, manifest)
    if export.format != "pmml":
        raise BundleError(f"{folder} holds a {export.format} export, not a PMML one", "runtime")
    return PmmlModel(Path(folder) / export.file, manifest.signature.output)


class PmmlModel:
    """A PMML file in a JPMML evaluator (in-process JVM through JPype), fed a DataFrame of the
    signature's features; answers what the native model answers (the signature's output)."""

    def __init__(self, path: Path, output: Output) -> None:
        from jpmml_evaluator import make_evaluator

        self.evaluator = make_evaluator(str(path), backend="jpype").verify()
        self.output = output
        self.target = self.evaluator.getTargetFields()[0].getName()

    def predict(self, frame: Any) -> Any:
        import numpy as np

        found = self.evaluator.evaluateAll(frame)
        if self.output.kind == "value":
            return found[self.target].to_numpy(dtype=float)
        if self.output.kind == "label":
            return np.asarray([_label(v, self.output.classes) for v in found[self.target]])
        columns = [f"probability({c})" for c in self.output.classes]
        proba = found[columns].to_numpy(dtype=float)
        return proba[:, 1] if proba.shape[1] == 2 else proba


def _label(value: Any, classes: tuple[Any, ...]) -> Any:
    """PMML answers labels as strings: the native class with the same text."""
    for c in classes:
        if str(c) == str(value):
            return c
    return value


def _convert(estimator: Any, manifest: Manifest, path: Path) -> None:
    from sklearn2pmml import sklearn2pmml
    from sklearn2pmml.pipeline import PMMLPipeline

    names = manifest.signature.names
    pipeline = estimator
    if not isinstance(estimator, PMMLPipeline):
        from sklearn2pmml import make_pmml_pipeline

        pipeline = make_pmml_pipeline(estimator, active_fields=names, target_fields=["y"])
    said = io.StringIO()  # the converter prints its Java output (and a banner) to stdout
    try:
        with contextlib.redirect_stdout(said):
            sklearn2pmml(pipeline, str(path))
    except Exception as exc:  # the Java converter names the step it has no converter for
        raise BundleError(
            f"sklearn2pmml cannot convert this model: {_java_reason(said.getvalue(), exc)}",
            "format",
        ) from None


def _java_reason(output: str, exc: Exception) -> str:
    """The Java exception's line from the converter's output (``...Exception: why``), else
    ``exc``'s message."""
    for line in output.splitlines():
        text = line.strip()
        if "Exception: " in text and not text.startswith("at "):
            return text.partition(": ")[2]  # the reason, without the Java class name
    return " ".join(str(exc).split())


def _difference(scored: Any, expected: Any) -> float:
    import numpy as np

    left, right = np.asarray(scored), np.asarray(expected)
    if left.dtype.kind in "fiub" and right.dtype.kind in "fiub":
        return float(np.max(np.abs(left.astype(float) - right.astype(float))))
    return 0.0 if [str(v) for v in left] == [str(v) for v in right] else float("inf")


def _versions() -> dict[str, str]:
    found = {}
    for dist in ("sklearn2pmml", "jpmml_evaluator", "jpype1", "scikit-learn"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found
