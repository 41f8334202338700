"""The ``sklearn`` flavor: any scikit-learn estimator or Pipeline (its preprocessing inside),
saved with skops, never plain pickle; a file holding types skops does not trust is refused
with their names, on saving and on loading."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
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
        return SklearnModel(model, signature, by_name, names)


def refused_types(untrusted: list[str]) -> list[str]:
    """The types of ``untrusted`` (skops's list) that this flavor does not trust either."""
    return [t for t in untrusted if not t.startswith(TRUSTED_PACKAGES)]


def untrusted_message(types: list[str], what: str) -> str:
    return (
        f"{what} holds types skops does not trust, so it is not loaded: {', '.join(sorted(types))}"
    )


class SklearnModel:
    """A fitted estimator that predicts the signature's output kind: ``predict`` from the
    signature's DataFrame, and ``predict_array`` from checked arrays (``Signature.array`` for
    numeric signatures, ``Signature.values`` else: ``takes_values``) when the array copy of the
    estimator predicts exactly the same on check rows (see ``sklearn_arrays``; the Predictor
    calls ``prepare_arrays`` with the manifest's examples); until then ``predict_array`` is
    None."""

    def __init__(self, model: Any, signature: Signature, by_name: bool, names: list[str]) -> None:
        self.model = model
        self.signature = signature
        self.output = signature.output
        self.by_name = by_name
        self.names = names
        self.takes_values = not signature.numeric
        self.predict_array: Callable[[Any], Any] | None = None

    def prepare_arrays(self, examples: Sequence[Mapping[str, Any]]) -> None:
        """Turn the array path on if it predicts exactly what ``predict`` does on ``examples``
        (and on each category of each category feature)."""
        from tuner.models.flavors import sklearn_arrays

        fast = sklearn_arrays.array_estimator(self.model) if self.by_name else self.model
        if fast is None:
            return
        candidate = functools.partial(self._predict_array, fast)
        rows = sklearn_arrays.check_rows(self.signature, list(examples))
        if sklearn_arrays.same_predictions(self.predict, candidate, self.signature, rows):
            self.predict_array = candidate

    def predict(self, frame: Any) -> Any:
        return self._predict(self.model, frame if self.by_name else frame.to_numpy())

    def _predict_array(self, model: Any, X: Any) -> Any:
        import numpy as np

        # column-major, as a DataFrame's float block reaches scikit-learn: the matrix products
        # then add in the same order, so that the results agree to the last bit
        return self._predict(model, np.asfortranarray(X) if X.dtype.kind == "f" else X)

    def _predict(self, model: Any, X: Any) -> Any:
        import numpy as np

        if self.output.kind == "probability":
            proba = np.asarray(model.predict_proba(X))
            return proba[:, 1] if proba.shape[1] == 2 else proba
        return np.asarray(model.predict(X))
