"""The study spec: what to optimise, over which space, by which plan of rounds, run where.

``StudySpec.from_dict`` reads the plain form of a YAML/JSON study file and refuses anything wrong
with a ``SpecError`` that names the field, before anything is written anywhere.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.errors import SpecError
from tuner.objective_spec import ObjectiveSpec, check_objective, parse_objective
from tuner.space import SearchSpace

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


@dataclass(frozen=True)
class Round:
    """One step of a plan: ``trials`` trials chosen by ``algorithm``.

    ``parallelism`` caps the trials of the round in flight at once (None: as many as the workers
    ask for); ``narrow`` shrinks every numeric range to that fraction of its full width around the
    best trial so far (relative to the study's full space, so ``0.5`` then ``0.25`` zooms in).
    """

    algorithm: str
    trials: int
    parallelism: int | None = None
    narrow: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algorithm": self.algorithm, "trials": self.trials}
        if self.parallelism is not None:
            out["parallelism"] = self.parallelism
        if self.narrow is not None:
            out["narrow"] = self.narrow
        if self.options:
            out["options"] = dict(self.options)
        return out


@dataclass(frozen=True)
class ExecutorSpec:
    """Where trials run: an executor type found by name, and its options."""

    type: str = "local"
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.options}


@dataclass(frozen=True)
class StudySpec:
    """A whole study as the user wrote it (after validation and defaults)."""

    name: str
    objective: ObjectiveSpec
    space: SearchSpace
    plan: tuple[Round, ...]
    direction: Direction = Direction.MINIMIZE
    metric: str | None = None
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    retries: int = 0
    trial_timeout: float | None = None
    seed: int | None = None
    description: str = ""

    @property
    def total_trials(self) -> int:
        return sum(r.trials for r in self.plan)

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "objective": self.objective.to_dict(),
            "direction": self.direction.value,
            "space": self.space.to_dict(),
            "plan": [r.to_dict() for r in self.plan],
            "executor": self.executor.to_dict(),
            "retries": self.retries,
            "trial_timeout": self.trial_timeout,
            "seed": self.seed,
        }
        if self.metric is not None:
            out["metric"] = self.metric
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_dict(cls, data: object, check: bool = True,
                  base_dir: str | Path | None = None) -> StudySpec:
        """Parse and check a study; raises SpecError naming the first bad field.

        ``check`` also makes sure the algorithms, the executor and the objective exist, fit each
        other and can be reached; a relative trainer ``data`` path is taken from ``base_dir``.
        """
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
        direction = _parse_direction(data.get("direction", "minimize"))
        seed = data.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise SpecError("seed", "must be an integer")
        plan = _parse_plan(data)
        executor = _parse_executor(data.get("executor"))
        spec = cls(
            name=name,
            objective=parse_objective(data.get("objective"), space, base_dir),
            space=space,
            plan=plan,
            direction=direction,
            metric=_parse_metric(data.get("metric")),
            executor=executor,
            retries=_non_negative_int(data.get("retries", 0), "retries"),
            trial_timeout=_timeout(data.get("trial_timeout")),
            seed=seed,
            description=_text(data.get("description", ""), "description"),
        )
        if check:
            _check_plugins(spec)
        return spec


_STUDY_KEYS = {
    "name", "objective", "metric", "direction", "space", "plan", "trials", "executor",
    "retries", "trial_timeout", "seed", "description",
}  # fmt: skip
_ROUND_KEYS = {"algorithm", "trials", "parallelism", "narrow", "options"}


def default_plan(trials: int) -> tuple[Round, ...]:
    """The plan of a study that gives only a ``trials`` budget (chosen by experiments/).

    A short random warm-up (20%, 5 to 10 trials), Bayesian search warm-started from it, then a
    Bayesian refinement (the last 15%) on a space narrowed to a quarter around the best so far.
    """
    if trials < 10:
        return (Round("random", trials),)
    warmup = min(10, max(5, round(trials * 0.2)))
    refine = max(1, round(trials * 0.15))
    return (
        Round("random", warmup),
        Round("bayesian", trials - warmup - refine),
        Round("bayesian", refine, narrow=0.25),
    )


def _parse_plan(data: Mapping[str, Any]) -> tuple[Round, ...]:
    plan, budget = data.get("plan"), data.get("trials")
    if plan is None:
        if budget is None:
            raise SpecError("plan", "is required (or give a 'trials' budget for the default plan)")
        return default_plan(_positive_int(budget, "trials"))
    if budget is not None:
        raise SpecError("trials", "give either a plan or a trials budget, not both")
    if not isinstance(plan, Sequence) or isinstance(plan, str) or not plan:
        raise SpecError("plan", "must be a non-empty list of rounds")
    return tuple(_parse_round(r, f"plan[{i}]") for i, r in enumerate(plan))


def _parse_round(raw: object, where: str) -> Round:
    if not isinstance(raw, Mapping):
        raise SpecError(where, "a round must be a mapping with 'algorithm' and 'trials'")
    unknown = sorted(set(raw) - _ROUND_KEYS)
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}", "is not a field of a round")
    algorithm = raw.get("algorithm")
    if not isinstance(algorithm, str) or not algorithm:
        raise SpecError(f"{where}.algorithm", "is required")
    parallelism = raw.get("parallelism")
    if parallelism is not None:
        parallelism = _positive_int(parallelism, f"{where}.parallelism")
    narrow = raw.get("narrow")
    if narrow is not None:
        if not isinstance(narrow, int | float) or isinstance(narrow, bool) or not 0 < narrow <= 1:
            raise SpecError(f"{where}.narrow", "must be a fraction in (0, 1]")
        narrow = float(narrow)
    options = raw.get("options") or {}
    if not isinstance(options, Mapping):
        raise SpecError(f"{where}.options", "must be a mapping")
    return Round(
        algorithm=algorithm,
        trials=_positive_int(raw.get("trials"), f"{where}.trials"),
        parallelism=parallelism,
        narrow=narrow,
        options=dict(options),
    )


def _parse_executor(raw: object) -> ExecutorSpec:
    if raw is None:
        return ExecutorSpec()
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, Mapping):
        raise SpecError("executor", "must be a mapping with a 'type'")
    kind = raw.get("type", "local")
    if not isinstance(kind, str):
        raise SpecError("executor.type", "must be a string")
    return ExecutorSpec(type=kind, options={k: v for k, v in raw.items() if k != "type"})


def _parse_direction(raw: object) -> Direction:
    try:
        return Direction(str(raw).lower())
    except ValueError:
        raise SpecError("direction", "must be 'minimize' or 'maximize'") from None


def _parse_metric(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise SpecError("metric", "must be the name of a key of the objective's result")
    return raw


def _positive_int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(where, f"must be a positive integer, not {value!r}")
    return value


def _non_negative_int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SpecError(where, f"must be a non-negative integer, not {value!r}")
    return value


def _timeout(value: object) -> float | None:
    if value is None:
        return None
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise SpecError("trial_timeout", "must be a positive number of seconds")
    return float(value)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise SpecError(where, "must be a string")
    return value


def _check_plugins(spec: StudySpec) -> None:
    """Every algorithm and the executor must exist and accept their options."""
    from tuner import plugins

    for i, rnd in enumerate(spec.plan):
        where = f"plan[{i}]"
        try:
            cls = plugins.algorithm(rnd.algorithm)
        except SpecError as exc:
            raise exc.within(f"{where}.algorithm") from None
        space = spec.space
        try:
            cls.create(space, spec.direction, spec.seed, rnd.trials, rnd.options)
        except SpecError as exc:
            raise exc.within(f"{where}.options") from None
    try:
        executor_cls = plugins.executor(spec.executor.type)
    except SpecError as exc:
        raise exc.within("executor.type") from None
    try:
        executor_cls.check_options(spec.executor.options)
    except SpecError as exc:
        raise exc.within("executor") from None
    check_objective(spec.objective, spec.executor.type, executor_cls)
    try:
        executor_cls.check_environment(spec.executor.options)
    except SpecError as exc:
        raise exc.within("executor") from None


def load_spec(path: str | Path) -> StudySpec:
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
        raise SpecError(str(path), f"is not valid {'JSON' if p.suffix == '.json' else 'YAML'}: "
                        f"{first}") from None
    return StudySpec.from_dict(data, base_dir=p.parent)
