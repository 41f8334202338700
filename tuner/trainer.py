"""The Trainer contract: a built-in objective that trains a model on a data set, no user code.

A study names one as ``objective: {trainer: xgboost, data: train.csv, label: label, metric: auc}``;
trainers are found by name through the ``tuner.trainers`` entry points, like executors.
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from tuner.errors import SpecError
from tuner.executor import TrialContext
from tuner.space import Params, SearchSpace


class Trainer(ABC):
    """Called as ``trainer(params, trial)`` like an objective; returns ``{metric: value, ...}``.

    Contract, checked by ``tuner.testing.TrainerConformance`` for every implementation:

    - ``params`` are the estimator's own parameters; ``check_study`` refuses, before a study
      starts, a space parameter the estimator does not take, a label column the data lacks, a
      metric it does not know (``direction_of``), so that no trial burns the budget on them.
    - ``direction_of(metric)`` says whether the metric is better higher (``maximize``) or lower
      (``minimize``): the study's direction defaults to it and may not contradict it.
    - the result holds ``metric`` (the study optimises it) and may hold more numbers.
    - with ``save_model: true`` the trainer also fits on the whole data set and saves the model
      in ``trial.artifact_dir``.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[str | None] = None  # "spark": runs only on an executor that provides it
    options: ClassVar[frozenset[str]] = frozenset({"data", "label", "metric", "save_model"})
    default_metric: ClassVar[str] = ""
    needs_estimator: ClassVar[bool] = False
    # the estimator's module must start with one of these (a trainer fits estimators, it does not
    # import arbitrary classes); an operator's allowed function prefixes add to them
    estimator_modules: ClassVar[tuple[str, ...]] = ()
    # modules the local executor imports once, before the first trial (heavy frameworks)
    preload: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.check_options(options)
        self.data: str = options["data"]
        self.label: str = options.get("label", "label")
        self.metric: str = options.get("metric", self.default_metric)
        self.cv: int | None = options.get("cv")
        self.estimator: str | None = options.get("estimator")
        self.save_model: bool = bool(options.get("save_model", False))

    # -- checks before a study starts ---------------------------------------------------------

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Refuse options this trainer does not take and a metric it does not know (no I/O)."""
        for key in options:
            if key not in cls.options:
                raise SpecError(
                    key,
                    f"is not an option of trainer {cls.name!r}; options are "
                    f"{', '.join(sorted(cls.options))}",
                )
        if cls.needs_estimator and "estimator" not in options:
            raise SpecError(
                "estimator",
                f"is required by trainer {cls.name!r}: a class such as 'package.module.Class'",
            )
        cls.direction_of(options.get("metric", cls.default_metric))

    @classmethod
    def direction_of(cls, metric: str) -> str:
        """``maximize`` or ``minimize`` for ``metric``; SpecError on ``metric`` if unknown."""
        known = cls.metrics()
        if metric not in known:
            like = sorted((m for m in known if metric in m or m in metric), key=len)
            like += [m for m in _near(metric, known) if m not in like]
            hint = f"did you mean {like[0]!r}? " if like else ""
            raise SpecError(
                "metric",
                f"{metric!r} is not a metric of trainer {cls.name!r} "
                f"({hint}known: {', '.join(sorted(known)[:30])}, ...)",
            )
        return "maximize" if metric in cls.maximized() else "minimize"

    @classmethod
    def metrics(cls) -> Collection[str]:
        """Every metric name this trainer computes."""
        return {cls.default_metric}

    @classmethod
    def maximized(cls) -> Collection[str]:
        """The metrics that are better when higher."""
        return ()

    @classmethod
    def check_study(cls, options: Mapping[str, Any], space: SearchSpace) -> None:
        """Check what the trainer names against the world: the data file and its label column,
        the estimator and its parameter names (the space's). Reads the data's header only."""
        data = options["data"]
        if not os.path.exists(data):
            raise SpecError("data", f"no such file: {data}")
        from tuner.data_files import columns

        names = columns(data)
        label = options.get("label", "label")
        if names is not None and label not in names:
            raise SpecError(
                "label",
                f"the data has no column {label!r} (columns: "
                f"{', '.join(names[:20])}{', ...' if len(names) > 20 else ''})",
            )
        accepted = cls.parameters(options)
        if accepted is not None:
            for name in space.names:
                if name not in accepted:
                    close = _close(name, accepted)
                    raise SpecError(
                        f"space.{name}",
                        f"is not a parameter of the {cls.name} trainer's estimator" + close,
                    )

    @classmethod
    def parameters(cls, options: Mapping[str, Any]) -> Collection[str] | None:
        """The parameter names the estimator takes (None: not known, any name passes)."""
        return None

    @abstractmethod
    def __call__(self, params: Params, trial: TrialContext) -> dict[str, float]:
        """Train with ``params``, evaluate, and return the metrics."""

    def refit(self, params: Params) -> tuple[Any, Any]:
        """The model fitted with ``params`` on all the data, and example rows of it (for the
        bundle's signature): what ``save_model`` saves and ``tuner promote --retrain`` registers.
        A trainer that cannot says so."""
        raise SpecError("promote.retrain", f"the {self.name} trainer cannot refit a model here")


def load_class(ref: str, base: type | None = None) -> type:
    """Import the class ``"package.module.Class"`` (a subclass of ``base`` if given); a
    SpecError on ``estimator`` otherwise."""
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
    if base is not None and not issubclass(cls, base):
        raise SpecError("estimator", f"{ref!r} is not a {base.__module__}.{base.__name__}")
    return cls


def _near(name: str, known: Collection[str]) -> list[str]:
    import difflib

    return difflib.get_close_matches(name, list(known), n=3)


def _close(name: str, accepted: Collection[str]) -> str:
    match = _near(name, accepted)
    return f" (did you mean {match[0]!r}?)" if match else ""
