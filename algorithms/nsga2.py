"""NSGA-II on DEAP's selection operators: every generation's parents are the best
``population`` evaluated trials by non-dominated sorting and crowding (``selNSGA2``, feasible
trials first), its children bred by crowded binary tournaments (``selTournamentDCD``), SBX
crossover and polynomial mutation. Generations are stored with the trials (``Trial.meta``), as
``genetic`` does, so the population is rebuilt from the history alone and a restarted server
breeds the same next generation."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from tuner.algorithm import unseen_points
from tuner.algorithms.genetic import GeneticSearch, _deap_lock
from tuner.errors import SpecError
from tuner.pareto import costs, violation
from tuner.space import Params, SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

_RETRIES = 20


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
        self.objectives: list[tuple[str, Direction]] | None = None
        if metrics:
            try:
                self.objectives = [(str(name), Direction(str(d))) for name, d in metrics]
            except (TypeError, ValueError):
                raise SpecError("metrics", "must be [[name, direction], ...]") from None

    def _costs(self, trial: Trial) -> tuple[float, ...] | None:
        if self.objectives is None:
            value = trial.value
            return None if value is None else (self.direction.sort_key(float(value)),)
        return costs(trial, self.objectives)

    def parents_of(self, history: Sequence[Trial]) -> list[Any]:
        """DEAP individuals (unit genomes) of the parents: ``selNSGA2`` over every evaluated,
        feasible trial in the space (elitist: all generations so far), then the least
        infeasible ones if too few are feasible."""
        from deap import base, tools

        evaluated = []
        for t in sorted(history, key=lambda t: t.number):
            if t.state is not TrialState.COMPLETE or not self.space.contains(t.params):
                continue
            point = self._costs(t)
            if point is not None:
                evaluated.append((t, point, violation(t)))
        if not evaluated:
            return []
        m = len(evaluated[0][1])

        class Fitness(base.Fitness):
            weights = (-1.0,) * m

        class Individual(list[float]):
            fitness: Fitness
            number: int

        def individual(t: Trial, point: tuple[float, ...]) -> Individual:
            ind = Individual(self._genome(t.params, np.random.default_rng(t.number)))
            ind.fitness = Fitness(point)
            ind.number = t.number
            return ind

        feasible = [individual(t, p) for t, p, v in evaluated if v == 0]
        chosen = tools.selNSGA2(feasible, min(self.population, len(feasible)))
        if len(chosen) < self.population:
            infeasible = sorted((v, t.number, t, p) for t, p, v in evaluated if v > 0)
            for _, _, t, p in infeasible[: self.population - len(chosen)]:
                ind = individual(t, p)
                ind.fitness.crowding_dist = 0.0  # type: ignore[attr-defined]
                chosen.append(ind)
        return chosen

    def _breed(
        self, history: Sequence[Trial], generation: int, issued: int, n: int, seen: set[Any]
    ) -> list[Params]:
        from deap import tools

        seed = [generation, issued] if self.seed is None else [self.seed, generation, issued]
        rng = np.random.default_rng(None if self.seed is None else seed)
        # the parents of generation g: the history before it (earlier rounds' trials, which
        # have no generation, warm-start generation 0; with fewer than two it is random)
        before = [t for t in history if (g := gen_of(t)) is None or g < generation]
        parents = self.parents_of(before)
        if len(parents) < 2:
            return unseen_points(self.space, rng, seen, n)
        out: list[Params] = []
        with _deap_lock:
            state = random.getstate()
            random.seed(int(rng.integers(2**63)))
            try:
                for _ in range(n):
                    child = None
                    for attempt in range(_RETRIES):
                        if len(parents) >= 4:
                            a, b = (list(x) for x in tools.selTournamentDCD(parents, 4)[:2])
                        else:
                            a, b = (list(x) for x in random.sample(parents, 2))
                        if random.random() < self.crossover_rate:
                            a, b = self._cross(a, b)
                        rate = min(1.0, self.mutation_rate * (1 + attempt))
                        params = self.space.from_unit(
                            self._mutate(a if random.random() < 0.5 else b, rate)
                        )
                        if self.space.key(params) not in seen:
                            child = params
                            break
                    if child is None:
                        child = next(iter(unseen_points(self.space, rng, seen, 1)), None)
                    if child is None:
                        break
                    seen.add(self.space.key(child))
                    out.append(child)
            finally:
                random.setstate(state)
        return out


def gen_of(trial: Trial) -> int | None:
    g = trial.meta.get("generation") if trial.meta else None
    return g if isinstance(g, int) and not isinstance(g, bool) else None
