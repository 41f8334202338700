"""NSGA-II on DEAP's selection operators: every generation's parents are the best
``population`` evaluated trials by non-dominated sorting and crowding (``selNSGA2``, feasible
trials first), its children bred by crowded binary tournaments (``selTournamentDCD``), with
``genetic``'s SBX crossover and polynomial mutation. Generations are stored with the trials
(``Trial.meta``), as ``genetic`` does, so the population is rebuilt from the history alone and a
restarted server breeds the same next generation."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from tuner.algorithms.genetic import GeneticSearch, generation_of, individuals
from tuner.pareto import costs, objectives_option, violation
from tuner.space import SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState


class NSGA2Search(GeneticSearch):
    """NSGA-II (Deb et al., 2002) for one or several metrics; ``metrics`` is given by the
    scheduler from the study's ``metrics`` (a single-metric study optimises its value)."""

    name = "nsga2"

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
    ) -> None:
        super().__init__(
            space,
            direction,
            seed,
            budget=budget,
            population=population,
            crossover="sbx",
            crossover_rate=crossover_rate,
            mutation_rate=mutation_rate,
            eta=eta,
            tournament=2,
            elite=0,
        )
        self.objectives = objectives_option(metrics)

    def _costs(self, trial: Trial) -> tuple[float, ...] | None:
        if self.objectives is None:
            value = trial.value
            return None if value is None else (self.direction.sort_key(float(value)),)
        return costs(trial, self.objectives)

    def select(self, feasible: list[Any], k: int) -> list[Any]:
        """The ``k`` survivors among feasible individuals: ``selNSGA2`` (fronts, then crowding)."""
        from deap import tools

        return list(tools.selNSGA2(feasible, k))

    def parents_of(self, history: Sequence[Trial]) -> list[Any]:
        """DEAP individuals (unit genomes) of the parents: ``select`` over every evaluated,
        feasible trial in the space (elitist: all generations so far), then the least
        infeasible ones if too few are feasible."""
        evaluated = []
        for t in sorted(history, key=lambda t: t.number):
            if t.state is not TrialState.COMPLETE or not self.space.contains(t.params):
                continue
            point = self._costs(t)
            if point is not None:
                evaluated.append((t, point, violation(t)))
        feasible = [(t, p) for t, p, v in evaluated if v == 0]
        pool = individuals(
            [self._genome(t.params, np.random.default_rng(t.number)) for t, _ in feasible],
            [p for _, p in feasible],
        )
        chosen = self.select(pool, min(self.population, len(pool))) if pool else []
        if len(chosen) < self.population:
            infeasible = sorted((v, t.number, t, p) for t, p, v in evaluated if v > 0)
            rest = infeasible[: self.population - len(chosen)]
            for ind in individuals(
                [self._genome(t.params, np.random.default_rng(t.number)) for _, _, t, _ in rest],
                [p for _, _, _, p in rest],
            ):
                ind.fitness.crowding_dist = 0.0
                chosen.append(ind)
        return chosen

    def population_of(
        self, history: Sequence[Trial], generation: int, rng: np.random.Generator
    ) -> list[Any]:
        # the parents of generation g: the history before it (earlier rounds' trials, which
        # have no generation, warm-start generation 0; with fewer than two it is random)
        before = [t for t in history if (g := generation_of(t)) is None or g < generation]
        return self.parents_of(before)

    def pair(self, population: list[Any]) -> tuple[list[float], list[float]]:
        """Crowded binary tournaments (``selTournamentDCD``), or two at random when the
        population is smaller than four."""
        from deap import tools

        if len(population) >= 4:
            a, b = tools.selTournamentDCD(population, 4)[:2]
        else:
            a, b = random.sample(population, 2)
        return list(a), list(b)
