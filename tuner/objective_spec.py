"""The objective of a study: a Python function, a command line or a built-in trainer; parsed
from the study file and checked against the executor before the study starts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.errors import SpecError
from tuner.space import SearchSpace

_FUNCTION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
# ``{name}`` in a command line; other braces (JSON, ``${VAR}`` of the shell) are left as they are
PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][\w.-]*)\}")


@dataclass(frozen=True)
class ObjectiveSpec:
    """What a trial evaluates: exactly one of a Python callable ``"package.module:function"``,
    a command line with ``{param}`` placeholders, or a built-in ``trainer`` with its options
    (``data``, ``label``, ``metric``, ``cv``, ``estimator``, ``save_model``)."""

    function: str | None = None
    command: str | None = None
    trainer: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``function``, ``command`` or ``trainer``."""
        return "function" if self.function else "command" if self.command else "trainer"

    def to_dict(self) -> dict[str, Any]:
        if self.function is not None:
            return {"function": self.function}
        if self.command is not None:
            return {"command": self.command}
        return {"trainer": self.trainer, **self.options}


def parse_objective(raw: object, space: SearchSpace, base_dir: str | Path | None) -> ObjectiveSpec:
    if isinstance(raw, str):
        raw = {"function": raw}
    if not isinstance(raw, Mapping):
        raise SpecError(
            "objective",
            "is required: {function: 'package.module:function'}, "
            "{command: '...'} or {trainer: ...}",
        )
    kinds = [k for k in ("function", "command", "trainer") if k in raw]
    if len(kinds) != 1:
        raise SpecError("objective", "give exactly one of 'function', 'command' or 'trainer'")
    allowed = _TRAINER_KEYS if kinds[0] == "trainer" else {kinds[0]}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SpecError(f"objective.{unknown[0]}", f"is not a field of a {kinds[0]} objective")
    if kinds[0] == "function":
        function = raw["function"]
        if not isinstance(function, str) or not _FUNCTION.match(function):
            raise SpecError("objective.function", "must look like 'package.module:function'")
        return ObjectiveSpec(function=function)
    if kinds[0] == "command":
        return ObjectiveSpec(command=_parse_command(raw["command"], space))
    return _parse_trainer(raw, base_dir)


_TRAINER_KEYS = {
    "trainer",
    "data",
    "label",
    "metric",
    "cv",
    "estimator",
    "save_model",
    "preprocess",
}


def _parse_command(command: object, space: SearchSpace) -> str:
    if not isinstance(command, str) or not command.strip():
        raise SpecError("objective.command", "must be a non-empty command line")
    for name in PLACEHOLDER.findall(command):
        if name not in space.names:
            raise SpecError(
                "objective.command",
                f"placeholder {{{name}}} is not a parameter "
                f"of the space (parameters: {', '.join(space.names)})",
            )
    return command


def _parse_trainer(raw: Mapping[str, Any], base_dir: str | Path | None) -> ObjectiveSpec:
    trainer = raw["trainer"]
    if not isinstance(trainer, str) or not trainer:
        raise SpecError("objective.trainer", "must be the name of a trainer")
    options = {k: v for k, v in raw.items() if k != "trainer"}
    for key in ("data", "label", "metric", "estimator"):
        if key in options and (not isinstance(options[key], str) or not options[key]):
            raise SpecError(f"objective.{key}", "must be a non-empty string")
    if "data" not in options:
        raise SpecError(
            "objective.data", "is required: a CSV (with a header), Parquet or LibSVM file"
        )
    if base_dir is not None and not Path(options["data"]).is_absolute():
        options["data"] = str(Path(base_dir).resolve() / options["data"])
    if "cv" in options:
        cv = options["cv"]
        if not isinstance(cv, int) or isinstance(cv, bool) or cv < 2:
            raise SpecError("objective.cv", f"must be an integer of at least 2, not {cv!r}")
    if "save_model" in options and not isinstance(options["save_model"], bool):
        raise SpecError("objective.save_model", "must be true or false")
    return ObjectiveSpec(trainer=trainer, options=options)


def check_objective_kind(objective: ObjectiveSpec, executor_type: str, executor_cls: Any) -> None:
    """The objective must be of a kind the executor runs; a trainer must exist, fit the executor
    and take its options and metric. Plug-ins only: nothing of the user's is imported or read."""
    from tuner import plugins

    if objective.kind not in executor_cls.objectives:
        kinds = ", ".join(sorted(executor_cls.objectives))
        raise SpecError(
            "objective",
            f"a {objective.kind} objective cannot run on executor "
            f"{executor_type!r} (it runs {kinds} objectives)",
        )
    if objective.command is not None:
        program_of(objective.command)
    if objective.trainer is not None:
        try:
            trainer_cls = plugins.trainer(objective.trainer)
        except SpecError as exc:
            raise exc.within("objective.trainer") from None
        if trainer_cls.requires and trainer_cls.requires not in executor_cls.provides:
            raise SpecError(
                "objective.trainer",
                f"trainer {objective.trainer!r} needs a "
                f"{trainer_cls.requires} executor, not {executor_type!r}",
            )
        try:
            trainer_cls.check_options(objective.options)
        except SpecError as exc:
            raise exc.within("objective") from None


def program_of(command: str) -> str:
    """The program a command line runs: its first word that is not a ``NAME=value``."""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise SpecError("objective.command", f"cannot be split into words: {exc}") from None
    return next((w for w in words if "=" not in w.split("{")[0]), "")
