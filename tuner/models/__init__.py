"""Model bundles, flavors and the Predictor: the unified model format of training to serving.

The public face, for the registry, batch prediction and the prediction server:

- ``write_bundle(model, folder, flavor=None, example=X, metrics=..., lineage=...)`` saves a
  model version as an immutable folder and returns its ``Manifest``;
- ``Predictor.load(folder)`` reads one back (checked), ``predict(rows)``, ``predict_batch``,
  ``signature``, ``warm_up()``.
"""

from tuner.models.bundle import MANIFEST, Lineage, Manifest, read_manifest, write_bundle
from tuner.models.flavor import Flavor, LoadedModel
from tuner.models.predictor import Predictor
from tuner.models.signature import Feature, Output, Signature

__all__ = [
    "MANIFEST",
    "Feature",
    "Flavor",
    "LoadedModel",
    "Lineage",
    "Manifest",
    "Output",
    "Predictor",
    "Signature",
    "read_manifest",
    "write_bundle",
]
