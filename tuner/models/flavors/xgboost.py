"""The ``xgboost`` flavor: a Booster (or an XGBModel's) in XGBoost's native UBJSON format,
scored with ``inplace_predict`` (no DMatrix per call). The feature list and the categorical
encodings are the signature's: category features reach the booster as pandas categoricals with
the training categories, in the training order, so that their codes match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from tuner.models.flavor import Flavor, LoadedModel
from tuner.models.signature import Feature, Output, Signature

FILE = "model.ubj"
_PROBABILITY = ("binary:logistic", "multi:softprob", "reg:logistic")
_LABEL = ("multi:softmax",)


class XGBoostFlavor(Flavor):
    """Takes an ``xgboost.Booster`` or any ``xgboost.XGBModel`` (XGBClassifier...)."""

    name = "xgboost"
    requires: ClassVar[dict[str, str]] = {"xgboost": "xgboost-cpu"}

    @classmethod
    def accepts(cls, model: object) -> bool:
        return any(
            c.__module__.startswith("xgboost") and c.__name__ in ("Booster", "XGBModel")
            for c in type(model).__mro__
        )

    @staticmethod
    def booster(model: Any) -> Any:
        return model.get_booster() if hasattr(model, "get_booster") else model

    def output(self, model: Any) -> Output:
        config = json.loads(self.booster(model).save_config())
        objective = config["learner"]["objective"]["name"]
        classes = getattr(model, "classes_", None)
        plain = tuple(
            c.item() if hasattr(c, "item") else c for c in (() if classes is None else classes)
        )
        if objective in _PROBABILITY:
            if not plain and objective == "binary:logistic":
                plain = (0, 1)
            return Output("probability", plain)
        if objective in _LABEL:
            return Output("label", plain)
        return Output("value")

    def signature(self, model: Any) -> Signature | None:
        booster = self.booster(model)
        names = booster.feature_names
        if names is None:
            count = booster.num_features()
            names = [f"f{i}" for i in range(count)]
        types = booster.feature_types or ["float"] * len(names)
        if "c" in types:
            return None  # the categories are not in the booster: example rows must say them
        return Signature(tuple(Feature(str(n)) for n in names), self.output(model))

    def save(self, model: Any, folder: Path, signature: Signature) -> None:
        self.booster(model).save_model(str(folder / FILE))

    def load(self, folder: Path, signature: Signature) -> LoadedModel:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(folder / FILE))
        booster.set_param({"nthread": 1})
        return XGBoostModel(booster, signature)


class XGBoostModel:
    """A booster fed the signature's columns: a float array when every feature is a number,
    else a DataFrame with the categorical columns."""

    def __init__(self, booster: Any, signature: Signature) -> None:
        self.booster = booster
        self.output = signature.output
        self.categorical = any(f.type == "category" for f in signature.inputs)
        # the booster may know its features by other names (f0, f1...): give it its own
        booster.feature_names = signature.names if booster.feature_names else None

    def predict(self, frame: Any) -> Any:
        import numpy as np

        data = frame if self.categorical else frame.to_numpy(dtype=np.float32)
        return self.predict_array(data)

    def predict_array(self, data: Any) -> Any:
        """Predictions of a float array of the signature's features (all numeric)."""
        import numpy as np

        out = np.asarray(self.booster.inplace_predict(data))
        return out.astype(int) if self.output.kind == "label" else out
