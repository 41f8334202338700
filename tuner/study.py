"""The study spec: what to optimise, over which space, by which plan of rounds, run where.

``StudySpec.from_dict`` reads the plain form of a YAML/JSON study file and refuses anything wrong
with a ``SpecError`` that names the field, before anything is written anywhere.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.config import Limits
from tuner.errors import SpecError
from tuner.objective_spec import ObjectiveSpec, check_objective_kind, parse_objective
from tuner.plan import Plan, Round, default_plan, parse_plan
from tuner.promote_spec import PromoteSpec
from tuner.space import SearchSpace
from tuner.spec_values import integer, number, positive
from tuner.stop_conditions import StopConditions

__all__ = [
    "Direction",
    "ExecutorSpec",
    "ObjectiveSpec",
    "MetricSpec",
    "Plan",
    "PrunerSpec",
    "Round",
    "StudySpec",
    "StudyState",
    "default_plan",
    "load_spec",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Direction(enum.StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        return a < b if self is Direction.MINIMIZE else a > b

    def sort_key(self, value: float) -> float:
        """A key under which smaller is better, whatever the direction."""
        return value if self is Direction.MINIMIZE else -value


class StudyState(enum.StrEnum):
    """``created -> running -> complete``; ``stopped`` when asked to stop (``tuner stop``,
    Ctrl-C, ``POST .../stop``) until run or resumed again."""

    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"
    COMPLETE = "complete"


@dataclass(frozen=True)
class ExecutorSpec:
    """Where trials run: an executor type found by name, and its options."""

    type: str = "local"
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.options}


@dataclass(frozen=True)
class MetricSpec:
    """One objective of a multi-objective study: a metric the objective returns, whether lower
    or higher is better, and optionally the reference value of the hypervolume."""

    name: str
    direction: Direction = Direction.MINIMIZE
    reference: float | None = None

    @property
    def reference_cost(self) -> float | None:
        """``reference`` as a cost (smaller is better), as the hypervolume takes it."""
        return None if self.reference is None else self.direction.sort_key(self.reference)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "direction": self.direction.value}
        if self.reference is not None:
            out["reference"] = self.reference
        return out


@dataclass(frozen=True)
class PrunerSpec:
    """A study's ``pruner: {type: asha, reduction_factor: 3}``: a plug-in name and its options."""

    type: str = "none"
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.options}

    @classmethod
    def from_dict(cls, raw: object) -> PrunerSpec:
        """``None``, a name, or a mapping with a ``type``; SpecErrors name the field inside."""
        if raw is None:
            return cls()
        if isinstance(raw, str):
            raw = {"type": raw}
        if not isinstance(raw, Mapping):
            raise SpecError("", "must be a pruner name or a mapping with a 'type'")
        kind = raw.get("type", "none")
        if not isinstance(kind, str) or not kind:
            raise SpecError("type", "must be the name of a pruner (median, percentile, asha...)")
        options = {str(k): v for k, v in raw.items() if k != "type"}
        if isinstance(raw.get("options"), Mapping):  # {type: asha, options: {...}} also reads
            options = {**{k: v for k, v in options.items() if k != "options"}, **raw["options"]}
        return cls(kind, options)


@dataclass(frozen=True)
class StudySpec:
    """A whole study as the user wrote it (after validation and defaults).

    ``objective`` is None for a study whose trials only remote workers run (``tuner worker``,
    the client's ``optimize``); ``budget`` is the ``trials`` the plan came from, if it did.
    """

    name: str
    objective: ObjectiveSpec | None
    space: SearchSpace
    plan: Plan
    direction: Direction = Direction.MINIMIZE
    metric: str | None = None
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    retries: int = 0
    trial_timeout: float | None = None
    seed: int | None = None
    description: str = ""
    budget: int | None = None
    promote: PromoteSpec | None = None  # register the best trial's model at the end
    pruner: PrunerSpec = field(default_factory=PrunerSpec)
    stop: StopConditions = field(default_factory=StopConditions)
    # several objectives (``metrics: [{name, direction}, ...]``); ``metric`` and ``direction``
    # are then the first one's, so that single-objective code reads a sensible value
    metrics: tuple[MetricSpec, ...] = ()

    @property
    def objectives(self) -> list[tuple[str, Direction]]:
        """Every optimised metric with its direction (one for a single-objective study)."""
        if self.metrics:
            return [(m.name, m.direction) for m in self.metrics]
        return [(self.metric or "value", self.direction)]

    @property
    def multi_objective(self) -> bool:
        return len(self.metrics) > 1

    @property
    def total_trials(self) -> int:
        return sum(r.trials for r in self.plan)

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.objective is not None:
            out["objective"] = self.objective.to_dict()
        out.update(
            {
                "direction": self.direction.value,
                "space": self.space.to_dict(),
                "plan": [r.to_dict() for r in self.plan],
                "executor": self.executor.to_dict(),
                "retries": self.retries,
                "trial_timeout": self.trial_timeout,
                "seed": self.seed,
            }
        )
        if self.budget is not None:
            out["trials"] = self.budget
        if self.metrics:
            out["metrics"] = [m.to_dict() for m in self.metrics]
            out.pop("direction")
        elif self.metric is not None:
            out["metric"] = self.metric
        if self.description:
            out["description"] = self.description
        if self.promote is not None:
            out["promote"] = self.promote.to_dict()
        if self.pruner.type != "none":
            out["pruner"] = self.pruner.to_dict()
        if self.stop.any:
            out["stop"] = self.stop.to_dict()
        return out

    @classmethod
    def from_dict(
        cls,
        data: object,
        check: bool = True,
        base_dir: str | Path | None = None,
        limits: Limits | None = None,
    ) -> StudySpec:
        """Parse a study; raises SpecError naming the first bad field.

        ``check`` also makes sure the algorithms, the executor and the trainer named exist, take
        their options and fit each other (plug-ins found by name: nothing of the user's is
        imported and nothing is reached; ``tuner.runs.check_runnable`` does that before a run).
        A relative trainer ``data`` path is taken from ``base_dir``. ``limits`` caps what the
        study may ask for (trials, workers, parallelism, timeout, retries).
        """
        limits = limits or Limits()
        if not isinstance(data, Mapping):
            raise SpecError("", "a study must be a mapping (YAML/JSON object)")
        unknown = sorted(set(data) - _STUDY_KEYS)
        if unknown:
            raise SpecError(unknown[0], "is not a field of a study")
        name = data.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise SpecError(
                "name", "is required: letters, digits, '.', '_' or '-', at most 128 characters"
            )
        try:
            space = SearchSpace.from_dict(data.get("space"))
        except SpecError as exc:
            raise exc.within("space") from None
        seed = data.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise SpecError("seed", "must be an integer")
        plan, budget = parse_plan(data, limits)
        raw_objective = data.get("objective")
        objective = (
            None if raw_objective is None else parse_objective(raw_objective, space, base_dir)
        )
        metrics = _parse_metrics(data)
        metric: str | None
        if len(metrics) > 1 and data.get("plan") is None and budget is not None:
            plan = default_plan(budget, multi_objective=True)
        if metrics:
            metric, direction = metrics[0].name, metrics[0].direction
        else:
            metric, direction = _metric_and_direction(data, objective, check)
        try:
            pruner = PrunerSpec.from_dict(data.get("pruner"))
        except SpecError as exc:
            raise exc.within("pruner") from None
        try:
            stop = StopConditions.from_dict(data.get("stop"))
        except SpecError as exc:
            raise exc.within("stop") from None
        spec = cls(
            name=name,
            objective=objective,
            space=space,
            plan=plan,
            direction=direction,
            metric=metric,
            executor=_parse_executor(data.get("executor"), objective, limits),
            retries=integer(data.get("retries", 0), "retries", 0, limits.retries),
            trial_timeout=None
            if data.get("trial_timeout") is None
            else positive(
                data["trial_timeout"], "trial_timeout", limits.trial_timeout, " of seconds"
            ),
            seed=seed,
            description=_text(data.get("description", ""), "description"),
            budget=budget,
            promote=None if data.get("promote") is None else PromoteSpec.from_dict(data["promote"]),
            pruner=pruner,
            stop=stop,
            metrics=metrics,
        )
        if check:
            _check_plugins(spec)
        return spec


_STUDY_KEYS = {
    "name", "objective", "metric", "direction", "space", "plan", "trials", "executor",
    "retries", "trial_timeout", "seed", "description", "promote", "pruner",
    "stop", "metrics",
}  # fmt: skip


def _parse_executor(raw: object, objective: ObjectiveSpec | None, limits: Limits) -> ExecutorSpec:
    if raw is None:  # a command line runs on the command executor, anything else locally
        return ExecutorSpec("command" if objective is not None and objective.command else "local")
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, Mapping):
        raise SpecError("executor", "must be a mapping with a 'type'")
    kind = raw.get("type", "local")
    if not isinstance(kind, str):
        raise SpecError("executor.type", "must be a string")
    options = {str(k): v for k, v in raw.items() if k != "type"}
    for key in ("workers", "parallelism"):  # how many trials the executor runs at once
        if options.get(key) is not None:
            options[key] = integer(options[key], f"executor.{key}", 1, limits.workers)
    return ExecutorSpec(type=kind, options=options)


def _parse_direction(raw: object, where: str = "direction") -> Direction:
    try:
        return Direction(str(raw).lower())
    except ValueError:
        raise SpecError(where, "must be 'minimize' or 'maximize'") from None


def _parse_metrics(data: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
    """``metrics: [{name: auc, direction: maximize}, {name: latency_ms}]`` (direction defaults
    to minimize); refused beside ``metric``/``direction``, which it replaces."""
    raw = data.get("metrics")
    if raw is None:
        return ()
    for old in ("metric", "direction"):
        if old in data:
            raise SpecError(old, "give either metric/direction or metrics, not both")
    if not isinstance(raw, list) or not raw:
        raise SpecError("metrics", "must be a non-empty list of {name, direction}")
    out: list[MetricSpec] = []
    for i, item in enumerate(raw):
        where = f"metrics[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping):
            raise SpecError(where, "must be a mapping with a name and a direction")
        unknown = sorted(set(map(str, item)) - {"name", "direction", "reference"})
        if unknown:
            raise SpecError(f"{where}.{unknown[0]}", "is not a field of a metric")
        name = item.get("name")
        if not isinstance(name, str) or not name or name.startswith("constraint."):
            raise SpecError(f"{where}.name", "must be the name of a key of the objective's result")
        if name in [m.name for m in out]:
            raise SpecError(f"{where}.name", f"{name!r} is named twice")
        direction = _parse_direction(item.get("direction", "minimize"), f"{where}.direction")
        reference = item.get("reference")
        if reference is not None:
            reference = float(number(reference, f"{where}.reference"))
        out.append(MetricSpec(name, direction, reference))
    return tuple(out)


def _parse_metric(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise SpecError("metric", "must be the name of a key of the objective's result")
    return raw


def _metric_and_direction(
    data: Mapping[str, Any], objective: ObjectiveSpec | None, check: bool
) -> tuple[str | None, Direction]:
    """The study's metric and direction; a built-in trainer knows both for its metric, so they
    default to its own and a contradicting one is refused before anything runs."""
    metric = _parse_metric(data.get("metric"))
    direction = None if "direction" not in data else _parse_direction(data["direction"])
    if not check or objective is None or objective.trainer is None:
        return metric, direction or Direction.MINIMIZE
    from tuner import plugins

    try:
        trainer = plugins.trainer(objective.trainer)
    except SpecError as exc:
        raise exc.within("objective.trainer") from None
    own = objective.options.get("metric", trainer.default_metric)
    try:
        own_direction = Direction(trainer.direction_of(own))
    except SpecError as exc:
        raise exc.within("objective") from None
    if metric is not None and metric != own:
        raise SpecError(
            "metric",
            f"the {objective.trainer} trainer reports {own!r}: set "
            f"objective.metric to choose what it computes, and metric to the same "
            f"(or leave metric out)",
        )
    if direction is not None and direction is not own_direction:
        word = "higher" if own_direction is Direction.MAXIMIZE else "lower"
        raise SpecError(
            "direction",
            f"{own!r} is better when {word}: the study must "
            f"{own_direction.value} it (or leave direction out)",
        )
    return own, own_direction


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise SpecError(where, "must be a string")
    return value


def _check_plugins(spec: StudySpec) -> None:
    """Every algorithm and the executor must exist and accept their options, and the objective
    must be of a kind the executor runs. Plug-ins only: nothing of the user's is imported."""
    from tuner import plugins

    for i, rnd in enumerate(spec.plan):
        where = f"plan[{i}]"
        try:
            cls = plugins.algorithm(rnd.algorithm)
        except SpecError as exc:
            raise exc.within(f"{where}.algorithm") from None
        options = dict(rnd.options)
        if spec.metrics and "metrics" in cls.option_names() and "metrics" not in options:
            options["metrics"] = [[m.name, m.direction.value] for m in spec.metrics]
        try:
            cls.create(spec.space, spec.direction, spec.seed, rnd.trials, options)
        except SpecError as exc:
            raise exc.within(f"{where}.options") from None
    try:
        pruner_cls = plugins.pruner(spec.pruner.type)
    except SpecError as exc:
        raise exc.within("pruner.type") from None
    try:
        pruner_cls.create(spec.direction, spec.pruner.options)
    except SpecError as exc:
        raise exc.within("pruner") from None
    try:
        executor_cls = plugins.executor(spec.executor.type)
    except SpecError as exc:
        raise exc.within("executor.type") from None
    try:
        executor_cls.check_options(spec.executor.options)
    except SpecError as exc:
        raise exc.within("executor") from None
    if spec.objective is not None:
        check_objective_kind(spec.objective, spec.executor.type, executor_cls)


def load_spec(path: str | Path, limits: Limits | None = None) -> StudySpec:
    """Read a YAML or JSON study file; a missing or unparsable file is a SpecError too."""
    import json

    import yaml

    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecError(str(path), f"cannot read the study file ({exc.strerror})") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(
            str(path), f"is not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {first}"
        ) from None
    return StudySpec.from_dict(data, base_dir=p.parent, limits=limits)
