"""The Algorithm contract: how a round chooses the parameters of new trials.

It lives in the core (and ``algorithms`` re-exports it) because the scheduler types against it while
the arrows between packages point down only: ``algorithms -> tuner``.
"""

from __future__ import annotations

import functools
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, MutableSet, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tuner.errors import SpecError
from tuner.parameters import FloatParameter
from tuner.space import Params, SearchSpace
from tuner.study import Direction
from tuner.trial import Trial


@dataclass(frozen=True)
class Suggestion:
    """A point with notes the algorithm wants stored with the trial (e.g. its generation)."""

    params: Params
    meta: dict[str, Any] = field(default_factory=dict)


def as_suggestion(item: Params | Suggestion) -> Suggestion:
    return item if isinstance(item, Suggestion) else Suggestion(item)


class Algorithm(ABC):
    """Chooses new points from the history alone.

    Contract, checked by ``tests/algorithms/conformance.py`` for every implementation:

    - ``suggest(history, n)`` returns at most ``n`` parameter sets, each inside ``space``
      (conditional parameters present exactly when active), distinct from each other and from
      every point in ``history``. Fewer than ``n`` (possibly none) means the algorithm is exhausted.
    - An item is a plain ``Params`` dict, or a ``Suggestion`` whose ``meta`` (JSON) is stored
      with the trial and given back in ``Trial.meta``, so that state such as a genetic
      algorithm's generation is rebuilt from the history alone.
    - ``history`` holds every trial of the study, earlier rounds and running or waiting trials
      included; trials may lie outside ``space`` when it was narrowed. Each carries its number,
      round, params, state, attempt, value(s), intermediate values and meta; not its attempt
      log, worker or times (the scheduler reads only those columns: it reads the whole study).
    - The answer depends on ``(space, direction, seed, budget, options, history, n)`` only: a fresh
      instance given the same history answers the same (state may be cached, never required).

    Options are the keyword-only arguments of ``__init__`` after ``budget``; the spec parser
    refuses other names. ``budget`` is the number of trials of the round, when known.
    """

    name: ClassVar[str] = ""
    # How many points the scheduler queues at once when workers run short (per 512 trials of
    # history, so that the cost of a top-up, which reads the whole history, stays constant per
    # claim as a study grows). Algorithms whose points do not depend on results (random, grid)
    # set it high; adaptive ones keep 1.
    prefetch: ClassVar[int] = 1

    def __init__(
        self,
        space: SearchSpace,
        direction: Direction,
        seed: int | None = None,
        *,
        budget: int | None = None,
    ) -> None:
        self.space = space
        self.direction = direction
        self.seed = seed
        self.budget = budget

    @abstractmethod
    def suggest(self, history: Sequence[Trial], n: int) -> Sequence[Params | Suggestion]:
        """At most ``n`` new parameter sets; fewer when the algorithm has nothing more to try."""

    @classmethod
    def option_names(cls) -> list[str]:
        """The options this algorithm takes (its keyword-only constructor arguments)."""
        return list(_option_names(cls))

    @classmethod
    def create(
        cls,
        space: SearchSpace,
        direction: Direction,
        seed: int | None,
        budget: int | None,
        options: Mapping[str, Any],
    ) -> Algorithm:
        """Build one with validated options: an unknown or bad option is a SpecError on it."""
        allowed = cls.option_names()
        for key in options:
            if key not in allowed:
                hint = f"; options are {', '.join(allowed)}" if allowed else "; it takes none"
                raise SpecError(str(key), f"unknown option of algorithm {cls.name!r}{hint}")
        try:
            return cls(space, direction, seed, budget=budget, **options)
        except SpecError:
            raise
        except (TypeError, ValueError) as exc:
            raise SpecError("", str(exc)) from None


@functools.cache
def _option_names(cls: type[Algorithm]) -> tuple[str, ...]:
    """Read once per class: the signatures do not change, and the scheduler builds an algorithm
    for every top-up (reading them cost a fifth of a millisecond each time)."""
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        for p in inspect.signature(vars(klass)["__init__"]).parameters.values():
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in names:
                names.append(p.name)
    return tuple(n for n in names if n != "budget")


Key = tuple[tuple[str, Any], ...]
_NEAR = 1e-9  # relative: floats whose 12-digit roundings are equal lie far closer than this


class SeenPoints(MutableSet[Key]):
    """The keys (``SearchSpace.key``) of every point of a history, whatever its state, and of
    those ``add``-ed since: the set algorithms ask "was this point tried?".

    Built lazily, as asking about a handful of candidates is all most suggestions do: keying
    every trial of a long history costs more than the rest of a Bayesian suggestion's
    bookkeeping. The trials are indexed by one always-active float parameter (the probe); a
    question about a key first narrows them to those whose probe lies within a relative
    ``_NEAR`` of the key's (equal keys round to the same 12 significant digits, so they lie far
    closer), and keys only those. Answers are those of the full set of keys; without a probe
    (no unconditional float parameter) every trial is keyed at once."""

    def __init__(self, space: SearchSpace, history: Sequence[Trial]) -> None:
        self._space = space
        self._keys: set[Key] = set()
        self._probe = next(
            (p.name for p in space.parameters if isinstance(p, FloatParameter) and not p.when),
            None,
        )
        self._waiting: list[Trial] = []
        values: list[float] = []
        for t in history:
            v = t.params.get(self._probe) if self._probe is not None else None
            if type(v) is float and math.isfinite(v):
                self._waiting.append(t)
                values.append(v)
            else:  # not indexable by the probe: keyed now
                self._keys.add(space.key(t.params))
        self._values = np.array(values, dtype=float)
        self._keyed = np.zeros(len(values), dtype=bool)

    def __contains__(self, key: object) -> bool:
        if key in self._keys:
            return True
        if not self._waiting or not isinstance(key, tuple):
            return False
        probe = next((v for name, v in key if name == self._probe), None)
        if not (isinstance(probe, tuple) and len(probe) == 2 and probe[0] == "n"):
            return False  # no waiting trial's key lacks the probe or holds it as a non-number
        number = probe[1]
        if isinstance(number, bool) or not isinstance(number, int | float):
            return False
        at = float(number)
        near = np.abs(self._values - at) <= _NEAR * np.maximum(np.abs(self._values), abs(at))
        for i in np.flatnonzero(near & ~self._keyed):
            self._keys.add(self._space.key(self._waiting[i].params))
            self._keyed[i] = True
        return key in self._keys

    def _all(self) -> set[Key]:
        for i in np.flatnonzero(~self._keyed):
            self._keys.add(self._space.key(self._waiting[i].params))
        self._keyed[:] = True
        return self._keys

    def __iter__(self) -> Iterator[Key]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def add(self, value: Key) -> None:
        self._keys.add(value)

    def discard(self, value: Key) -> None:
        self._all().discard(value)


def seen_keys(space: SearchSpace, history: Sequence[Trial]) -> SeenPoints:
    """Keys (``SearchSpace.key``) of every point already in the history, whatever its state."""
    return SeenPoints(space, history)


def unseen_points(
    space: SearchSpace,
    rng: np.random.Generator,
    seen: MutableSet[Any],
    n: int,
    tries: int = 100,
) -> list[Params]:
    """Up to ``n`` points drawn from the space's prior that are not in ``seen`` (their keys are
    added to it); fewer when a point takes more than ``tries`` draws (a small discrete space
    with nearly every point taken)."""
    out: list[Params] = []
    while len(out) < n:
        for _ in range(tries):
            params = space.sample(rng)
            key = space.key(params)
            if key not in seen:
                seen.add(key)
                out.append(params)
                break
        else:
            break
    return out
