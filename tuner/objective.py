"""Calling a user's objective and turning what it returns into a trial outcome."""

from __future__ import annotations

import importlib
import inspect
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from tuner.errors import ObjectiveError, SpecError
from tuner.executor import TrialContext, TrialJob, TrialOutcome
from tuner.space import Params
from tuner.study import ObjectiveSpec
from tuner.trial import TrialState

_MAX_ERROR = 4000


def search_paths(folder: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """Where a study's modules are looked for: the study file's folder, then the working
    directory (both after the installed packages, so a user's module never shadows ours)."""
    paths = [os.path.abspath(folder)] if folder is not None else []
    cwd = os.getcwd()
    return tuple(paths + ([cwd] if cwd not in paths else []))


def load_function(ref: str, paths: Sequence[str] = ()) -> Callable[..., Any]:
    """Import ``"package.module:function"``, looking in ``paths`` (else the working directory)
    after the installed packages."""
    for path in paths or (os.getcwd(),):
        if path not in sys.path:
            sys.path.append(path)
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of user code is a spec error
        where = f" (looked in {', '.join(paths)})" if paths else ""
        raise SpecError(
            "objective.function", f"cannot import {module_name!r}: {exc}{where}"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            found = getattr(obj, "__file__", None)
            raise SpecError(
                "objective.function",
                f"{module_name!r} has no attribute {attr!r}"
                + (f" (that module is {found})" if found else ""),
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError("objective.function", f"{ref!r} is not callable")
    return obj  # type: ignore[no-any-return]


def resolve(objective: ObjectiveSpec, paths: Sequence[str] = ()) -> Callable[..., Any]:
    """The callable a function or trainer objective evaluates (a command is no callable)."""
    if objective.function is not None:
        return load_function(objective.function, paths)
    if objective.trainer is not None:
        from tuner import plugins

        try:
            return plugins.trainer(objective.trainer)(objective.options)
        except SpecError as exc:
            raise exc.within("objective.trainer") from None
    raise SpecError("objective", "a command objective runs only on the command executor")


def takes_context(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is to be called as ``fn(params, trial)`` rather than ``fn(params)``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def interpret(result: object, metric: str | None) -> tuple[float, dict[str, float]]:
    """The optimised value and every numeric metric of an objective's return value.

    A bare number is the value (named ``metric`` or ``value``); a mapping must hold ``metric``
    (or exactly one number when no metric is set). NaN, infinities and non-numbers are refused.
    """
    if _number(result):
        value = float(result)  # type: ignore[arg-type]
        _finite(value, metric or "value")
        return value, {metric or "value": value}
    if isinstance(result, dict):
        values = {str(k): float(v) for k, v in result.items() if _number(v)}
        constraints = constraint_values(result.get("constraints"))
        if metric is None:
            if len(values) != 1:
                raise ObjectiveError(
                    "the objective returned a dict; set 'metric' in the study to say which key "
                    "to optimise"
                )
            metric = next(iter(values))
        if metric not in result:
            raise ObjectiveError(
                f"the objective's result has no metric {metric!r} (keys: {sorted(result)})"
            )
        if metric not in values:
            raise ObjectiveError(f"metric {metric!r} is {result[metric]!r}, not a number")
        _finite(values[metric], metric)
        return values[metric], {**values, **constraints}
    raise ObjectiveError(
        f"the objective returned {type(result).__name__} {_short(result)}; expected a number "
        "or a dict of metrics"
    )


def missing_metrics(metrics: Sequence[str], values: dict[str, float]) -> str | None:
    """Why a result of a multi-objective study cannot be ranked: a metric it lacks."""
    missing = [m for m in metrics if m not in values]
    if not missing:
        return None
    return (
        f"the objective's result has no metric {missing[0]!r} (the study optimises "
        f"{', '.join(metrics)}; keys: {sorted(values)})"
    )


def constraint_values(raw: object) -> dict[str, float]:
    """``constraints: [c1, c2]`` of a result as ``{"constraint.0": c1, ...}`` (feasible when
    every one is <= 0); anything but a list of finite numbers is an ObjectiveError."""
    if raw is None:
        return {}
    if not isinstance(raw, list | tuple) or not all(_number(c) for c in raw):
        raise ObjectiveError(
            f"the objective's constraints are {_short(raw)}, not a list of numbers"
        )
    out = {f"constraint.{i}": float(c) for i, c in enumerate(raw)}
    for name, c in out.items():
        _finite(c, name)
    return out


def evaluate(
    fn: Callable[..., Any], params: Params, context: TrialContext, metric: str | None
) -> TrialOutcome:
    """Run ``fn`` in this process and capture any failure as a failed outcome."""
    try:
        result = fn(params, context) if takes_context(fn) else fn(params)
        if result is None and _stop_asked(context):  # told to stop, it simply returned
            return TrialOutcome(TrialState.PRUNED)
        value, values = interpret(result, metric)
    except ObjectiveError as exc:
        return TrialOutcome.failure(str(exc))
    except BaseException as exc:  # noqa: BLE001 - a user's objective may raise anything
        if isinstance(exc, KeyboardInterrupt):
            raise
        if is_pruned(exc):
            return TrialOutcome(TrialState.PRUNED)
        return TrialOutcome.failure(format_exception(exc))
    return TrialOutcome(
        TrialState.COMPLETE,
        value=value,
        values=values,
        artifact=saved_artifact(getattr(context, "artifact_dir", None)),
    )


def is_pruned(exc: BaseException) -> bool:
    """Whether ``exc`` says "pruned": ``tuner.TrialPruned``, the client's or Optuna's (any
    exception class named ``TrialPruned``), so objectives written for Optuna prune as they are."""
    return any(k.__name__ == "TrialPruned" for k in type(exc).__mro__)


def _stop_asked(context: TrialContext) -> bool:
    try:
        return bool(context.should_prune())
    except Exception:  # noqa: BLE001 - a context that cannot say has not asked
        return False


def saved_artifact(directory: str | None) -> str | None:
    """``directory`` if the objective saved something in it, else None."""
    if directory and os.path.isdir(directory) and os.listdir(directory):
        return directory
    return None


def run_job(
    job: TrialJob, context: TrialContext, prepare: Callable[[], None] | None = None
) -> TrialOutcome:
    """Evaluate ``job`` in this process, in its working directory, never raising: what every
    executor's trial process does once it has a ``context`` to report through."""
    try:
        if job.workdir:
            os.chdir(job.workdir)
        if prepare is not None:
            prepare()
        try:
            fn = resolve(job.objective, job.code_paths)
        except SpecError as exc:
            return TrialOutcome.failure(str(exc))
        return evaluate(fn, job.params, context, job.metric)
    except Exception as exc:  # noqa: BLE001 - e.g. a workdir that does not exist
        return TrialOutcome.failure(format_exception(exc))


def format_exception(exc: BaseException) -> str:
    """The exception line first, then the end of the traceback, capped in size."""
    head = f"{type(exc).__name__}: {exc}"
    tb = "".join(traceback.format_exception(exc))
    text = f"{head}\n{tb}"
    return text if len(text) <= _MAX_ERROR else text[:200] + "\n...\n" + text[-(_MAX_ERROR - 210) :]


def _number(v: object) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return True
    try:
        import numpy as np

        return isinstance(v, np.integer | np.floating)
    except ImportError:  # pragma: no cover
        return False


def _finite(value: float, name: str) -> None:
    if not math.isfinite(value):
        raise ObjectiveError(f"the objective's {name} is {value}, not a finite number")


def _short(v: object) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."
