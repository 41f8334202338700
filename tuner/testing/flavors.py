"""The conformance suite of the Flavor contract (``tuner.models.flavor.Flavor``).

A flavor, ours or a third party's, runs it with pytest by subclassing::

    from tuner.testing import FlavorConformance

    class TestMine(FlavorConformance):
        flavor = "mine"                        # its plug-in name

        def fit(self, X, y):                   # a model of the framework trained on X, y
            return mine.Model().fit(X, y)

The suite trains on a small binary problem (three numeric features and a text one, as a
DataFrame), saves a bundle, loads it back and checks that predictions match the model's own,
that the flavor is inferred from the model's type, that the manifest records the framework's
version, and that a changed model file is refused naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tuner.errors import BundleError
from tuner.models import Predictor, write_bundle
from tuner.models.flavor import flavor_named, flavor_of


class FlavorConformance:
    flavor: ClassVar[str] = ""

    def fit(self, X: Any, y: Any) -> Any:  # pragma: no cover - each subclass says how
        raise NotImplementedError

    def own_predictions(self, model: Any, X: Any) -> Any:
        """What the framework itself predicts for X, in the flavor's output kind."""
        out = flavor_named(self.flavor).output(model)
        if out.kind == "probability":
            proba = np.asarray(model.predict_proba(X))
            return proba[:, 1] if proba.shape[1] == 2 else proba
        return np.asarray(model.predict(X))

    @staticmethod
    def data(rows: int = 200) -> tuple[Any, Any]:
        import pandas as pd

        rng = np.random.default_rng(0)
        X = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])
        X["colour"] = pd.Categorical(rng.choice(["red", "green", "blue"], rows))
        y = ((X["a"] + (X["colour"] == "red") * 1.0) > 0.3).astype(int)
        return X, y

    @pytest.fixture(scope="class")
    @classmethod
    def saved(cls, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
        X, y = cls.data()
        model = cls().fit(X, y)
        folder = tmp_path_factory.mktemp(cls.flavor or "flavor") / "bundle"
        write_bundle(model, folder, example=X, metrics={"auc": 0.9})
        return model, X, folder

    def test_the_flavor_is_inferred_from_the_model(self, saved: tuple[Any, Any, Path]) -> None:
        model, _, _ = saved
        assert flavor_of(model).name == self.flavor

    def test_a_loaded_bundle_predicts_what_the_model_predicts(
        self, saved: tuple[Any, Any, Path]
    ) -> None:
        model, X, folder = saved
        predictor = Predictor.load(folder)
        assert predictor.flavor == self.flavor
        assert predictor.signature.names == list(X.columns)
        got = predictor.predict_batch(X)
        np.testing.assert_allclose(got, self.own_predictions(model, X), rtol=1e-6, atol=1e-7)
        rows = X.head(3).astype(object).to_dict("records")
        np.testing.assert_allclose(predictor.predict(rows), got[:3], rtol=1e-6, atol=1e-7)
        predictor.warm_up()

    def test_the_manifest_records_versions_and_examples(self, saved: tuple[Any, Any, Path]) -> None:
        _, _, folder = saved
        manifest = Predictor.load(folder).manifest
        assert set(manifest.requires.values()) <= set(manifest.versions)
        assert manifest.examples and manifest.metrics == {"auc": 0.9}

    def test_a_changed_model_file_is_refused_naming_it(
        self, saved: tuple[Any, Any, Path], tmp_path: Path
    ) -> None:
        import shutil

        _, _, folder = saved
        copy = tmp_path / "copy"
        shutil.copytree(folder, copy)
        name = next(iter(Predictor.load(copy).manifest.files))
        os.chmod(copy / name, 0o644)
        with open(copy / name, "r+b") as fh:
            fh.seek(0, os.SEEK_END)
            fh.truncate(fh.tell() // 2)
        with pytest.raises(BundleError, match=name.split("/")[-1]):
            Predictor.load(copy)
