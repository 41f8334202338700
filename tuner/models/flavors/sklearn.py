"""The ``sklearn`` flavor: any scikit-learn estimator or Pipeline (its preprocessing inside),
saved with skops, never plain pickle; a file holding types skops does not trust is refused
with their names, on saving and on loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from tuner.errors import BundleError
from tuner.models.flavor import Flavor, LoadedModel
from tuner.models.signature import Feature, Output, Signature

FILE = "model.skops"
# The allow-list: beside skops's own list, the types whose module starts with one of these
# prefixes are trusted (scikit-learn's trees: ``sklearn.tree._tree.Tree`` in a forest or a
# GradientBoosting model, ``sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor``
# in a HistGradientBoosting one; numpy and scipy types). The trailing dot matters: a package
# named ``sklearn_extra`` is not scikit-learn. Anything else (a user's function, another
# library's class) is refused by name.
TRUSTED_PACKAGES = ("sklearn.", "numpy.", "scipy.")


class SklearnFlavor(Flavor):
    """A classifier with ``predict_proba`` predicts probabilities (of ``classes_[1]`` for two
    classes), another classifier labels, a regressor values."""

    name = "sklearn"
    requires: ClassVar[dict[str, str]] = {"sklearn": "scikit-learn", "skops": "skops"}

    @classmethod
    def accepts(cls, model: object) -> bool:
        module = type(model).__module__
        if module.startswith("xgboost"):
            return False  # the xgboost flavor saves those natively
        return any(
            c.__module__.startswith("sklearn.") and c.__name__ == "BaseEstimator"
            for c in type(model).__mro__
        )

    def output(self, model: Any) -> Output:
        classes = getattr(model, "classes_", None)
        if classes is None:
            return Output("value")
        plain = tuple(c.item() if hasattr(c, "item") else c for c in classes)
        kind = "probability" if hasattr(model, "predict_proba") else "label"
        return Output(kind, plain)

    def signature(self, model: Any) -> Signature | None:
        names = getattr(model, "feature_names_in_", None)
        if names is None:
            count = getattr(model, "n_features_in_", None)
            if count is None:
                return None
            names = [f"f{i}" for i in range(int(count))]
        return Signature(tuple(Feature(str(n)) for n in names), self.output(model))

    def save(self, model: Any, folder: Path, signature: Signature) -> None:
        import skops.io as sio

        path = folder / FILE
        sio.dump(model, path)
        untrusted = refused_types(sio.get_untrusted_types(file=path))
        if untrusted:
            raise BundleError(untrusted_message(untrusted, "this model"))

    def load(self, folder: Path, signature: Signature) -> LoadedModel:
        import skops.io as sio

        path = folder / FILE
        try:
            found = sio.get_untrusted_types(file=path)
        except Exception as exc:  # a file skops cannot read at all
            raise BundleError(f"{path} cannot be read by skops: {exc}") from None
        untrusted = refused_types(found)
        if untrusted:
            raise BundleError(untrusted_message(untrusted, str(path)))
        model = sio.load(path, trusted=found)
        names = list(signature.names)
        by_name = getattr(model, "feature_names_in_", None) is not None
        return SklearnModel(model, signature.output, by_name, names)


def refused_types(untrusted: list[str]) -> list[str]:
    """The types of ``untrusted`` (skops's list) that this flavor does not trust either."""
    return [t for t in untrusted if not t.startswith(TRUSTED_PACKAGES)]


def untrusted_message(types: list[str], what: str) -> str:
    return (
        f"{what} holds types skops does not trust, so it is not loaded: {', '.join(sorted(types))}"
    )


class SklearnModel:
    """A fitted estimator that predicts the signature's output kind."""

    def __init__(self, model: Any, output: Output, by_name: bool, names: list[str]) -> None:
        self.model = model
        self.output = output
        self.by_name = by_name
        self.names = names

    def predict(self, frame: Any) -> Any:
        import numpy as np

        X = frame if self.by_name else frame.to_numpy()
        if self.output.kind == "probability":
            proba = np.asarray(self.model.predict_proba(X))
            return proba[:, 1] if proba.shape[1] == 2 else proba
        return np.asarray(self.model.predict(X))
