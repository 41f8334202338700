"""The conformance suite of the Trainer contract (``tuner.trainer.Trainer``).

A built-in trainer, ours or a third party's, runs it with pytest by subclassing::

    from tuner.testing import TrainerConformance

    class TestMine(TrainerConformance):
        trainer = "mine"                       # its plug-in name, or the class itself
        options = {"estimator": "pkg.Model"}   # what its objective needs beside data and label
        params = {"depth": 3}                  # a valid parameter set of its estimator

The suite writes a small binary classification data set (CSV, numeric features and a text
column, label ``label``) and checks that mistakes are refused before a study starts, naming the
field, and that the trainer trains, reports, returns its metric and saves its model. A trainer
that needs more of the trial (``trial.spark``) overrides ``context``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tuner import plugins
from tuner.errors import SpecError
from tuner.space import SearchSpace
from tuner.trainer import Trainer


class RecordingContext:
    """A ``trial`` for calling a trainer in this process: it keeps what the trainer reports."""

    def __init__(self, artifact_dir: str | None = None, **extras: Any) -> None:
        self.study, self.number, self.attempt = "conformance", 0, 1
        self.params: dict[str, Any] = {}
        self.artifact_dir = artifact_dir
        self.resource: int | None = None
        self.prunes = True  # reports as in a study with a pruner
        self.reports: list[tuple[int, float]] = []
        for name, value in extras.items():
            setattr(self, name, value)

    def report(self, step: int, value: float) -> None:
        self.reports.append((int(step), float(value)))

    def should_prune(self) -> bool:
        return False

    def save_model(self, model: Any, flavor: str | None = None, example: Any = None) -> None:
        from tuner.models.trial_model import save_trial_model

        save_trial_model(self, model, flavor, example)


def write_data(path: Path, rows: int = 240, text_column: bool = False) -> Path:
    """A learnable binary problem: 4 numeric features (and a text one), label ``label``."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] - 0.25 * x[:, 2] > 0).astype(int)
    header = ["f0", "f1", "f2", "f3", *(["colour"] if text_column else []), "label"]
    lines = [",".join(header)]
    for features, label in zip(x, y, strict=True):
        cells = [f"{v:.5f}" for v in features]
        if text_column:
            cells.append("red" if label else "blue")
        lines.append(",".join([*cells, str(label)]))
    path.write_text("\n".join(lines) + "\n")
    return path


class TrainerConformance:
    """The contract every trainer honours; subclasses set ``trainer``, ``options``, ``params``."""

    trainer: ClassVar[str | type[Trainer]] = ""
    options: ClassVar[dict[str, Any]] = {}
    params: ClassVar[dict[str, Any]] = {}
    text_column: ClassVar[bool] = False  # whether its estimator takes a text column as it is

    @property
    def cls(self) -> type[Trainer]:
        if isinstance(self.trainer, type):
            return self.trainer
        return plugins.trainer(self.trainer)

    @pytest.fixture
    def data(self, tmp_path: Path) -> Path:
        return write_data(tmp_path / "train.csv", text_column=self.text_column)

    def objective(self, path: Path, **changes: Any) -> dict[str, Any]:
        """The trainer's options for the data at ``path`` (``changes`` on top)."""
        return {"data": str(path), "label": "label", **self.options, **changes}

    def space(self, names: list[str] | None = None) -> SearchSpace:
        """A space of the given parameter names (float parameters: only the names matter)."""
        return SearchSpace.from_dict(
            {
                name: {"type": "float", "low": 0.0, "high": 1.0}
                for name in (names if names is not None else list(self.params) or ["unused"])
            }
        )

    def context(self, artifact_dir: str | None = None) -> Any:
        """The ``trial`` the trainer is called with."""
        return RecordingContext(artifact_dir)

    def refused(self, call: Any) -> SpecError:
        with pytest.raises(SpecError) as info:
            call()
        return info.value

    # -- the contract -------------------------------------------------------------------------

    def test_the_plugin_is_a_trainer(self) -> None:
        assert issubclass(self.cls, Trainer) and self.cls.name
        if isinstance(self.trainer, str):
            assert self.cls.name == self.trainer

    def test_its_default_metric_has_a_direction(self) -> None:
        metric = self.options.get("metric", self.cls.default_metric)
        assert self.cls.direction_of(metric) in ("maximize", "minimize")
        assert metric in self.cls.metrics()

    def test_an_unknown_metric_or_option_is_refused_by_name(self, data: Path) -> None:
        error = self.refused(
            lambda: self.cls.check_options(self.objective(data, metric="no_such_metric"))
        )
        assert error.field == "metric"
        error = self.refused(lambda: self.cls.check_options(self.objective(data, nonsense=1)))
        assert error.field == "nonsense"

    def test_the_data_and_its_label_are_checked_before_a_study(self, data: Path) -> None:
        self.cls.check_study(self.objective(data), self.space())
        error = self.refused(
            lambda: self.cls.check_study(
                self.objective(data, data=str(data.with_name("missing.csv"))), self.space()
            )
        )
        assert error.field == "data"
        error = self.refused(
            lambda: self.cls.check_study(self.objective(data, label="no_such_column"), self.space())
        )
        assert error.field == "label" and "no_such_column" in error.reason

    def test_a_parameter_the_estimator_lacks_is_refused(self, data: Path) -> None:
        accepted = self.cls.parameters(self.objective(data))
        for name in self.params:
            assert accepted is None or name in accepted, f"{name} should be a parameter"
        if accepted is None:
            return  # the trainer passes any parameter through to its framework
        space = self.space([*self.params, "no_such_parameter"])
        error = self.refused(lambda: self.cls.check_study(self.objective(data), space))
        assert error.field == "space.no_such_parameter"

    def test_it_trains_reports_and_returns_its_metric(self, data: Path) -> None:
        trainer = self.cls(self.objective(data))
        context = self.context()
        result = trainer(dict(self.params), context)
        metric = self.options.get("metric", self.cls.default_metric)
        assert isinstance(result, dict) and metric in result, result
        assert all(isinstance(v, float) and math.isfinite(v) for v in result.values()), result
        for step, value in getattr(context, "reports", []):
            assert isinstance(step, int) and math.isfinite(value)

    def test_it_saves_its_model_when_asked(self, data: Path, tmp_path: Path) -> None:
        trainer = self.cls(self.objective(data, save_model=True))
        folder = tmp_path / "model"
        trainer(dict(self.params), self.context(str(folder)))
        assert folder.exists() and any(folder.iterdir()), "save_model saved nothing"
