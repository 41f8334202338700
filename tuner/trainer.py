"""The Trainer contract: a built-in objective that trains a model on a data set, no user code.

A study names one as ``objective: {trainer: xgboost, data: train.csv, label: label, metric: auc}``;
trainers are found by name through the ``tuner.trainers`` entry points, like executors.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from tuner.errors import SpecError
from tuner.executor import TrialContext
from tuner.space import Params


class Trainer(ABC):
    """Called as ``trainer(params, trial)`` like an objective; returns ``{metric: value}``.

    ``params`` are the estimator's own parameters. With ``save_model: true`` in its options the
    trainer also fits on the whole data set and saves the model in ``trial.artifact_dir``.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[str | None] = None  # "spark": runs only on an executor that provides it
    options: ClassVar[frozenset[str]] = frozenset({"data", "label", "metric", "save_model"})
    default_metric: ClassVar[str] = ""
    needs_estimator: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.check(options)
        self.data: str = options["data"]
        self.label: str = options.get("label", "label")
        self.metric: str = options.get("metric", self.default_metric)
        self.cv: int | None = options.get("cv")
        self.estimator: str | None = options.get("estimator")
        self.save_model: bool = bool(options.get("save_model", False))

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> None:
        """Refuse options this trainer does not take, and an estimator that cannot be found."""
        for key in options:
            if key not in cls.options:
                raise SpecError(key, f"is not an option of trainer {cls.name!r}; options are "
                                f"{', '.join(sorted(cls.options))}")
        if cls.needs_estimator:
            if "estimator" not in options:
                raise SpecError("estimator", f"is required by trainer {cls.name!r}: a class "
                                "such as 'package.module.Class'")
            load_class(options["estimator"])

    @abstractmethod
    def __call__(self, params: Params, trial: TrialContext) -> dict[str, float]:
        """Train with ``params``, evaluate, and return the metrics."""


def load_class(ref: str) -> type:
    """Import the class ``"package.module.Class"``; a SpecError on ``estimator`` otherwise."""
    module_name, _, name = ref.rpartition(".")
    if not module_name:
        raise SpecError("estimator", f"{ref!r} is not a dotted path 'package.module.Class'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure of the estimator's module
        raise SpecError("estimator", f"cannot import {module_name!r}: {exc}") from None
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise SpecError("estimator", f"{module_name!r} has no class {name!r}")
    return cls
