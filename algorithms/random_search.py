"""Random search: draws from the prior of every parameter, uniform or quasi-random (Sobol)."""

from __future__ import annotations

import warnings
from collections.abc import MutableSet, Sequence
from typing import Any

import numpy as np
from scipy.stats import qmc

from tuner.algorithm import Algorithm, seen_keys, unseen_points
from tuner.errors import SpecError
from tuner.space import Params, SearchSpace
from tuner.study import Direction
from tuner.trial import Trial

SEQUENCES = ("uniform", "sobol")


class RandomSearch(Algorithm):
    """Sampling on the unit cube (log-uniform for log parameters); never repeats a point.

    ``sequence``: ``uniform`` (independent draws) or ``sobol`` (a scrambled Sobol sequence,
    which covers the cube more evenly than as many independent draws).
    The draws depend on the seed and the length of the history, so a restart suggests the same.
    """

    name = "random"
    prefetch = 64

    def __init__(
        self,
        space: SearchSpace,
        direction: Direction,
        seed: int | None = None,
        *,
        budget: int | None = None,
        sequence: str = "uniform",
    ) -> None:
        super().__init__(space, direction, seed, budget=budget)
        if sequence not in SEQUENCES:
            raise SpecError("sequence", f"must be one of {', '.join(SEQUENCES)}")
        self.sequence = sequence

    def suggest(self, history: Sequence[Trial], n: int) -> list[Params]:
        seed = [self.seed, len(history)] if self.seed is not None else None
        rng = np.random.default_rng(seed)
        seen = seen_keys(self.space, history)
        if self.sequence == "uniform":
            return unseen_points(self.space, rng, seen, n)
        return sobol_points(self.space, self.seed, len(history), n, seen, rng)


def sobol_points(
    space: SearchSpace,
    seed: int | None,
    start: int,
    n: int,
    seen: MutableSet[Any],
    rng: np.random.Generator,
) -> list[Params]:
    """Points ``start`` to ``start + n - 1`` of the scrambled Sobol sequence of ``seed`` (so the
    first suggestions of a study are its first points, whoever asks and however often), each
    replaced by a uniform draw from ``rng`` when already in ``seen`` (a small discrete space);
    their keys are added to ``seen``."""
    if n <= 0:
        return []
    sobol = qmc.Sobol(len(space), scramble=True, rng=np.random.default_rng(seed))
    if start:
        sobol.fast_forward(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balance is for powers of two; any prefix still helps
        rows = sobol.random(n)
    out: list[Params] = []
    for row in rows:
        params = space.from_unit(row)
        key = space.key(params)
        if key in seen:
            out += unseen_points(space, rng, seen, 1)
            continue
        seen.add(key)
        out.append(params)
    return out
