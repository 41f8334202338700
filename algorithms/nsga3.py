"""NSGA-III for three or more metrics: ``nsga2`` with its crowding replaced by DEAP's
reference-point niching (``selNSGA3`` over ``uniform_reference_points``), which keeps a front
spread out where crowding distance no longer does (Deb and Jain, 2014). Parents are paired at
random, as in the paper; breeding, generations in the history and restarts are ``nsga2``'s."""

from __future__ import annotations

import random
from collections.abc import Sequence
from math import comb
from typing import Any

import numpy as np

from tuner.algorithms.genetic import seeded_deap
from tuner.algorithms.nsga2 import NSGA2Search
from tuner.errors import SpecError
from tuner.space import SearchSpace
from tuner.study import Direction


class NSGA3Search(NSGA2Search):
    """NSGA-III; ``divisions`` (the reference points' steps along each axis) defaults to the
    most whose point count (``C(m + p - 1, p)`` for ``m`` metrics) fits in ``population``."""

    name = "nsga3"

    def __init__(
        self,
        space: SearchSpace,
        direction: Direction,
        seed: int | None = None,
        *,
        budget: int | None = None,
        population: int = 20,
        crossover_rate: float = 0.9,
        mutation_rate: float | None = None,
        eta: float = 20.0,
        metrics: Sequence[Sequence[str]] | None = None,
        divisions: int | None = None,
    ) -> None:
        super().__init__(
            space,
            direction,
            seed,
            budget=budget,
            population=population,
            crossover_rate=crossover_rate,
            mutation_rate=mutation_rate,
            eta=eta,
            metrics=metrics,
        )
        if divisions is not None and (
            not isinstance(divisions, int) or isinstance(divisions, bool) or divisions < 1
        ):
            raise SpecError("divisions", "must be an integer of at least 1")
        self.divisions = divisions

    def reference_points(self, m: int) -> np.ndarray:
        """Points spread evenly on the unit simplex of ``m`` normalised metrics."""
        from deap import tools

        p = self.divisions
        if p is None:
            p = 1
            while comb(m + p, p + 1) <= self.population:
                p += 1
        return np.asarray(tools.uniform_reference_points(m, p), dtype=float)

    def select(self, feasible: list[Any], k: int) -> list[Any]:
        from deap import tools

        if k >= len(feasible):
            return list(feasible)
        m = len(feasible[0].fitness.values)
        if m < 2:  # one metric: niching has nothing to spread, the best k survive
            return sorted(feasible, key=lambda ind: (ind.fitness.values, ind.position))[:k]
        # its niching shuffles with NumPy's global generator: seeded from the pool it sees
        with seeded_deap((0 if self.seed is None else self.seed) * 1_000_003 + len(feasible)):
            return list(tools.selNSGA3(feasible, k, self.reference_points(m), nd="standard"))

    def pair(self, population: list[Any]) -> tuple[list[float], list[float]]:
        a, b = random.sample(population, 2)
        return list(a), list(b)
