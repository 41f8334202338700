"""The Predictor: a model bundle loaded and ready to score rows, the same object for embedded use,
batch prediction and the prediction server, so that all of them answer the same.

    from tuner.models import Predictor
    p = Predictor.load("artifacts/models/churn/3")     # checks every file's SHA-256
    p.signature.names                                   # the features it reads, in order
    p.predict([{"f1": 0.3, "f2": "a"}])                 # dicts, a DataFrame or a 2-D array
    p.predict_batch(frame)                              # a DataFrame or array, vectorised checks
    p.warm_up()                                         # score the manifest's example rows once

Rows are checked against the signature first: a missing feature, an unknown category, a value
of the wrong type, NaN or infinity is an ``InvalidInput`` naming the row and the feature.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.models.bundle import Manifest, read_manifest
from tuner.models.flavor import LoadedModel, flavor_named
from tuner.models.signature import Signature

if TYPE_CHECKING:
    import numpy as np


class Predictor:
    """A loaded model version: its manifest, its signature and ``predict``. Thread-safe to call
    from many threads at once (the frameworks' predict calls are)."""

    def __init__(
        self, manifest: Manifest, model: LoadedModel, folder: Path, runtime: str = "native"
    ) -> None:
        self.manifest = manifest
        self.model = model
        self.folder = folder
        self.runtime = runtime  # "native" (the framework), "onnx" (onnxruntime) or "pmml"
        # a model that reads arrays skips the DataFrame: all-numeric rows as one float array,
        # others (``takes_values``) as an object array of checked values
        prepare = getattr(model, "prepare_arrays", None)
        if callable(prepare):
            prepare(manifest.examples)
        signature = manifest.signature
        self._rows: Callable[[Any], Any] | None = None
        if callable(getattr(model, "predict_array", None)):
            if signature.numeric:
                self._rows = signature.array
            elif getattr(model, "takes_values", False):
                self._rows = signature.values

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike[str],
        digest: str | None = None,
        *,
        onnx: str | os.PathLike[str] | None = None,
        pmml: str | os.PathLike[str] | None = None,
    ) -> Predictor:
        """Load the bundle at ``folder`` (``digest``: the manifest's registered SHA-256);
        ``BundleError`` naming the file that fails its checksum, the unknown flavor or the
        package that is not installed. ``onnx``: the folder of the version's ONNX export, to
        score with onnxruntime instead of the framework (refused unless it was made from this
        bundle and matched its predictions within ``onnx_export.TOLERANCE``). ``pmml``: the
        folder of its PMML export, scored in the JPMML evaluator (for portability checks, not
        speed: see ``pmml_export``)."""
        root = Path(folder)
        manifest = read_manifest(root, digest)
        if onnx is not None:
            from tuner.models.onnx_export import load_onnx

            return cls(manifest, load_onnx(onnx, manifest), root, "onnx")
        if pmml is not None:
            from tuner.models.pmml_export import load_pmml

            return cls(manifest, load_pmml(pmml, manifest), root, "pmml")
        flavor = flavor_named(manifest.flavor)
        flavor.check_installed()
        return cls(manifest, flavor.load(root / "model", manifest.signature), root)

    @property
    def signature(self) -> Signature:
        """The features the model reads (names, types, categories) and its output kind."""
        return self.manifest.signature

    @property
    def flavor(self) -> str:
        return self.manifest.flavor

    def predict(self, rows: Any) -> np.ndarray:
        """Predictions of ``rows``: one dict, a list of dicts, a DataFrame or a 2-D array (the
        signature's columns, in order); one prediction per row (see ``Signature.output``)."""
        if self._rows is not None:
            array = self._rows(rows)
            if array is not None:
                return self.model.predict_array(array)  # type: ignore[attr-defined, no-any-return]
        return self.model.predict(self.signature.frame(rows))

    def predict_batch(self, frame: Any) -> np.ndarray:
        """Predictions of a pandas DataFrame (extra columns are ignored) or a 2-D array, checked
        column by column rather than row by row: what batch prediction calls per chunk."""
        return self.model.predict(self.signature.frame(frame))

    def warm_up(self) -> None:
        """Score the manifest's example rows once, so that the first real call does not pay
        for lazy initialisation."""
        if self.manifest.examples:
            self.predict(list(self.manifest.examples))
