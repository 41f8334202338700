"""A study's plan: rounds of search in order, the default plan behind a ``trials`` budget, and
how a stored plan takes up a longer one when a study is resumed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tuner.config import Limits
from tuner.errors import SpecError
from tuner.spec_values import fraction, integer

ROUND_KEYS = {"algorithm", "trials", "parallelism", "narrow", "options", "resource"}


@dataclass(frozen=True)
class Resource:
    """A round's budget per trial (boosting rounds, epochs...): a trial may spend up to ``max``
    (its ``trial.resource``); ``min`` is the least a pruner lets it spend before judging it (the
    first rung of ``asha`` and ``hyperband``)."""

    min: int
    max: int

    def to_dict(self) -> dict[str, int]:
        return {"min": self.min, "max": self.max}


def parse_resource(raw: object, where: str) -> Resource:
    """``{min: 1, max: 81}`` (``min`` defaults to 1); errors name ``where.min`` / ``where.max``."""
    if not isinstance(raw, Mapping):
        raise SpecError(where, "must be a mapping {min: 1, max: 81}")
    unknown = sorted(set(raw) - {"min", "max"})
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}", "is not a field of a resource (min, max)")
    if "max" not in raw:
        raise SpecError(f"{where}.max", "is required (the most a trial may spend)")
    most = integer(raw["max"], f"{where}.max", 1)
    least = integer(raw.get("min", 1), f"{where}.min", 1)
    if least > most:
        raise SpecError(f"{where}.max", f"must be at least min ({least}), not {most}")
    return Resource(least, most)


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
    resource: Resource | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algorithm": self.algorithm, "trials": self.trials}
        if self.parallelism is not None:
            out["parallelism"] = self.parallelism
        if self.narrow is not None:
            out["narrow"] = self.narrow
        if self.options:
            out["options"] = dict(self.options)
        if self.resource is not None:
            out["resource"] = self.resource.to_dict()
        return out


Plan = tuple[Round, ...]


# the refinement exploits: the model's mean alone (LCB with kappa 0) inside the narrowed box; log
# EI there spent trials on far corners once the best was found (issue 16, measured in experiments/)
REFINE_OPTIONS: dict[str, Any] = {"acquisition": "LCB", "kappa": 0.0}


def default_plan(trials: int, multi_objective: bool = False) -> Plan:
    """The plan of a study that gives only a ``trials`` budget (chosen by experiments/).

    A short random warm-up (20%, 5 to 10 trials), Bayesian search warm-started from it, then a
    Bayesian refinement (the last 15%) on a space narrowed to a quarter around the best so far,
    following the model's mean (``REFINE_OPTIONS``).
    With several metrics: the same warm-up, then Bayesian search with ParEGO's random
    scalarisations (it beat NSGA-II, NSGA-III and Optuna's samplers at 100 evaluations).
    """
    if trials < 10:
        return (Round("random", trials),)
    warmup = min(10, max(5, round(trials * 0.2)))
    if multi_objective:
        return (Round("random", warmup), Round("bayesian", trials - warmup))
    refine = max(1, round(trials * 0.15))
    return (
        Round("random", warmup),
        Round("bayesian", trials - warmup - refine),
        Round("bayesian", refine, narrow=0.25, options=dict(REFINE_OPTIONS)),
    )


def parse_plan(data: Mapping[str, Any], limits: Limits) -> tuple[Plan, int | None]:
    """The rounds of a study document and its ``trials`` budget (None for an explicit plan).

    A budget alone gives the default plan; a plan and a budget together must agree (that is how
    a stored study remembers that its plan came from a budget)."""
    raw, budget = data.get("plan"), data.get("trials")
    if raw is None:
        if budget is None:
            raise SpecError("plan", "is required (or give a 'trials' budget for the default plan)")
        n = integer(budget, "trials", 1, limits.trials)
        return default_plan(n), n
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise SpecError("plan", "must be a non-empty list of rounds")
    plan = tuple(_parse_round(r, f"plan[{i}]", limits) for i, r in enumerate(raw))
    total = sum(r.trials for r in plan)
    if total > limits.trials:
        raise SpecError(
            "plan",
            f"the rounds add up to {total:,} trials, more than this server "
            f"allows ({limits.trials:,})",
        )
    if budget is None:
        return plan, None
    n = integer(budget, "trials", 1, limits.trials)
    if n != total:
        raise SpecError(
            "trials",
            f"give either a plan or a trials budget, not both (the plan's "
            f"rounds add up to {total}, not {n})",
        )
    return plan, n


def _parse_round(raw: object, where: str, limits: Limits) -> Round:
    if not isinstance(raw, Mapping):
        raise SpecError(where, "a round must be a mapping with 'algorithm' and 'trials'")
    unknown = sorted(set(raw) - ROUND_KEYS)
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}", "is not a field of a round")
    algorithm = raw.get("algorithm")
    if not isinstance(algorithm, str) or not algorithm:
        raise SpecError(f"{where}.algorithm", "is required")
    parallelism = raw.get("parallelism")
    narrow = raw.get("narrow")
    options = raw.get("options") or {}
    if not isinstance(options, Mapping):
        raise SpecError(f"{where}.options", "must be a mapping")
    return Round(
        algorithm=algorithm,
        trials=integer(raw.get("trials"), f"{where}.trials", 1, limits.trials),
        parallelism=None
        if parallelism is None
        else integer(parallelism, f"{where}.parallelism", 1, limits.parallelism),
        narrow=None if narrow is None else fraction(narrow, f"{where}.narrow"),
        options=dict(options),
        resource=None
        if raw.get("resource") is None
        else parse_resource(raw["resource"], f"{where}.resource"),
    )


def resumed_plan(
    old: Plan,
    old_budget: int | None,
    new: Plan,
    new_budget: int | None,
    made: Sequence[int],
    current: int,
) -> tuple[Plan, int]:
    """The plan a resumed study goes on with, and the round it is in.

    ``old`` is the stored plan, ``made`` the trials each of its rounds has, ``current`` the round
    the study is in (``len(old)`` once complete). A longer plan is taken up: rounds added at the
    end, a longer last round, or (for a default plan) a larger budget, whose extra trials go to
    the rounds not yet passed, or to one more narrowed round once the plan was done. Anything that
    would undo work is refused: a smaller budget, fewer rounds than were run, a passed round
    changed."""
    if new == old and new_budget == old_budget:
        return old, current
    if new_budget is not None and old_budget is not None:
        return _grown_default(old, old_budget, new_budget, made, current)
    return _checked_explicit(old, new, made, current)


def _grown_default(
    old: Plan, old_budget: int, budget: int, made: Sequence[int], current: int
) -> tuple[Plan, int]:
    if budget < old_budget:
        raise SpecError(
            "trials",
            f"the study already has a budget of {old_budget}: a smaller one "
            f"({budget}) is refused (give the study a new name to start afresh)",
        )
    if budget == old_budget:
        return old, current
    target = default_plan(budget)
    passed = [replace(r, trials=max(1, made[i])) for i, r in enumerate(old[:current])]
    rest = list(target[len(passed) :]) or [replace(target[-1], trials=1)]
    sizes = [
        max(r.trials, made[current + i] if current + i < len(made) else 0)
        for i, r in enumerate(rest)
    ]
    # the first round still to run absorbs the difference, never going below what it has made
    sizes[0] += budget - sum(r.trials for r in passed) - sum(sizes)
    floor = made[current] if current < len(made) else 1
    if sizes[0] < max(1, floor):
        raise SpecError("trials", f"a budget of {budget} does not fit the trials already made")
    plan = tuple(passed) + tuple(replace(r, trials=n) for r, n in zip(rest, sizes, strict=True))
    return plan, current


def _checked_explicit(old: Plan, new: Plan, made: Sequence[int], current: int) -> tuple[Plan, int]:
    passed = min(current, len(old))
    if len(new) < passed:
        raise SpecError(
            "plan",
            f"the study has run {passed} rounds: a plan of {len(new)} would "
            "drop finished ones (give the study a new name to start afresh)",
        )
    if sum(r.trials for r in new) < sum(r.trials for r in old):
        raise SpecError(
            "plan",
            f"the study already plans {sum(r.trials for r in old)} trials: "
            "a shorter plan is refused (give the study a new name to start afresh)",
        )
    round_now = current
    for i in range(passed):
        last_of_done_plan = current >= len(old) and i == len(old) - 1
        if replace(new[i], trials=old[i].trials) != old[i]:
            raise SpecError(
                f"plan[{i}]", f"round {i + 1} is finished: it cannot change (add a round instead)"
            )
        if new[i].trials != old[i].trials:
            if not last_of_done_plan or new[i].trials < old[i].trials:
                raise SpecError(
                    f"plan[{i}].trials",
                    f"round {i + 1} is finished with "
                    f"{old[i].trials} trials: only the last round of a finished "
                    "plan may grow",
                )
            round_now = i
    for i in range(passed, len(new)):
        if i < len(made) and new[i].trials < made[i]:
            raise SpecError(f"plan[{i}].trials", f"round {i + 1} already has {made[i]} trials")
    return new, round_now
