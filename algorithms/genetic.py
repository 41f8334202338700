"""A genetic algorithm on DEAP's operators: one generation is one batch of ``population`` points.

Every suggestion carries its generation (``Suggestion.meta``), stored with the trial, so the
population is rebuilt from the history alone and a restarted server breeds the same children.
This is the only module that imports ``deap``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, MutableSet, Sequence
from contextlib import contextmanager
from threading import Lock
from typing import Any

import numpy as np

from tuner.algorithm import Algorithm, Suggestion, seen_keys, unseen_points
from tuner.errors import SpecError
from tuner.pareto import constrained_cost
from tuner.space import CategoricalParameter, Params, SearchSpace
from tuner.study import Direction
from tuner.trial import Trial, TrialState

_deap_lock = Lock()  # DEAP draws from the global ``random`` module: one breeder at a time
_RETRIES = 20


class GeneticSearch(Algorithm):
    """Tournament selection among the last generation plus the ``elite`` best trials so far,
    SBX (or blend) crossover and polynomial mutation on the unit cube for numbers, uniform
    crossover and mutation for categories. Generation 0 is bred from the best of the history
    when it has at least two evaluated points (earlier rounds), else drawn at random."""

    name = "genetic"

    def __init__(
        self,
        space: SearchSpace,
        direction: Direction,
        seed: int | None = None,
        *,
        budget: int | None = None,
        population: int = 16,
        crossover: str = "sbx",
        crossover_rate: float = 0.9,
        mutation_rate: float | None = None,
        eta: float = 10.0,
        tournament: int = 3,
        elite: int = 2,
    ) -> None:
        super().__init__(space, direction, seed, budget=budget)
        for name, value, least in (
            ("population", population, 2),
            ("tournament", tournament, 1),
            ("elite", elite, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise SpecError(name, f"must be an integer of at least {least}")
        if crossover not in ("sbx", "blend"):
            raise SpecError("crossover", "must be 'sbx' or 'blend'")
        for name, rate in (("crossover_rate", crossover_rate), ("mutation_rate", mutation_rate)):
            if rate is not None and (
                not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1
            ):
                raise SpecError(name, "must be a probability in [0, 1]")
        if not isinstance(eta, int | float) or isinstance(eta, bool) or eta <= 0:
            raise SpecError("eta", "must be a positive number")
        self.population = population
        self.crossover = crossover
        self.crossover_rate = float(crossover_rate)
        self.mutation_rate = (1.0 / len(space)) if mutation_rate is None else float(mutation_rate)
        self.eta = float(eta)
        self.tournament = tournament
        self.elite = elite
        self._categorical = {
            i: len(p.choices)
            for i, p in enumerate(space.parameters)
            if isinstance(p, CategoricalParameter)
        }
        self._numeric = [i for i in range(len(space)) if i not in self._categorical]

    # -- the contract -------------------------------------------------------------------------

    def suggest(self, history: Sequence[Trial], n: int) -> list[Suggestion]:
        seen = seen_keys(self.space, history)
        sizes: dict[int, int] = {}
        for t in history:
            g = generation_of(t)
            if g is not None:
                sizes[g] = sizes.get(g, 0) + 1
        current = max(sizes) if sizes else 0
        issued = sizes.get(current, 0)
        out: list[Suggestion] = []
        while len(out) < n:
            if issued >= self.population:
                current, issued = current + 1, 0
            want = min(n - len(out), self.population - issued)
            children = self._breed(history, current, issued, want, seen)
            out += [Suggestion(p, meta={"generation": current}) for p in children]
            if len(children) < want:  # the space is exhausted
                break
            issued += len(children)
        return out

    # -- the population -----------------------------------------------------------------------

    def parents(self, history: Sequence[Trial], generation: int) -> list[Trial]:
        """Whom generation ``generation`` is bred from: the evaluated members of the one before
        and the ``elite`` best trials so far (generation 0: the best ``population`` so far)."""
        evaluated = [
            t
            for t in history
            if t.state is TrialState.COMPLETE
            and t.value is not None
            and self.space.contains(t.params)
        ]
        cost = constrained_cost(evaluated, self.direction)  # infeasible trials after feasible
        evaluated.sort(key=lambda t: (cost(t), t.number))
        if generation == 0:
            return evaluated[: self.population]
        last = [t for t in evaluated if generation_of(t) == generation - 1]
        pool = evaluated[: self.elite] + [t for t in last if t not in evaluated[: self.elite]]
        return pool if len(pool) >= 2 else evaluated[: self.population]

    def population_of(
        self, history: Sequence[Trial], generation: int, rng: np.random.Generator
    ) -> list[Any]:
        """The DEAP individuals (unit genomes with a fitness) generation ``generation`` is bred
        from; subclasses choose them otherwise (``nsga2``, ``nsga3``)."""
        parents = self.parents(history, generation)
        cost = constrained_cost(parents, self.direction)
        return individuals(
            [self._genome(t.params, rng) for t in parents], [(cost(t),) for t in parents]
        )

    def pair(self, population: list[Any]) -> tuple[list[float], list[float]]:
        """Two parents' genomes (copies) for one child: a tournament of ``tournament``."""
        from deap import tools

        a, b = tools.selTournament(population, 2, self.tournament)
        return list(a), list(b)

    def _breed(
        self, history: Sequence[Trial], generation: int, issued: int, n: int, seen: MutableSet[Any]
    ) -> list[Params]:
        seed = [generation, issued] if self.seed is None else [self.seed, generation, issued]
        rng = np.random.default_rng(None if self.seed is None else seed)
        population = self.population_of(history, generation, rng)
        out: list[Params] = []
        if len(population) < 2:
            return unseen_points(self.space, rng, seen, n)
        with seeded_deap(int(rng.integers(2**63))):
            for _ in range(n):
                child = self._child(population, seen)
                if child is None:
                    child = next(iter(unseen_points(self.space, rng, seen, 1)), None)
                if child is None:
                    break
                seen.add(self.space.key(child))
                out.append(child)
        return out

    def _child(self, population: list[Any], seen: MutableSet[Any]) -> Params | None:
        """A child not seen yet (crossover then mutation), or None after ``_RETRIES`` tries."""
        for attempt in range(_RETRIES):
            a, b = self.pair(population)
            if random.random() < self.crossover_rate:
                a, b = self._cross(a, b)
            rate = min(1.0, self.mutation_rate * (1 + attempt))  # mutate harder after a repeat
            params = self.space.from_unit(self._mutate(a if random.random() < 0.5 else b, rate))
            if self.space.key(params) not in seen:
                return params
        return None

    def _cross(self, a: list[float], b: list[float]) -> tuple[list[float], list[float]]:
        from deap import tools

        na, nb = [a[i] for i in self._numeric], [b[i] for i in self._numeric]
        if na:
            if self.crossover == "sbx":
                na, nb = tools.cxSimulatedBinaryBounded(na, nb, self.eta, 0.0, 1.0)
            else:
                na, nb = tools.cxBlend(na, nb, 0.5)
            for i, x, y in zip(self._numeric, na, nb, strict=True):
                a[i], b[i] = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
        for i in self._categorical:  # uniform crossover
            if random.random() < 0.5:
                a[i], b[i] = b[i], a[i]
        return a, b

    def _mutate(self, genome: list[float], rate: float) -> list[float]:
        from deap import tools

        out = list(genome)
        if self._numeric:
            (numbers,) = tools.mutPolynomialBounded(
                [out[i] for i in self._numeric], self.eta, 0.0, 1.0, rate
            )
            for i, x in zip(self._numeric, numbers, strict=True):
                out[i] = min(max(x, 0.0), 1.0)
        for i, k in self._categorical.items():
            if random.random() < rate:
                out[i] = (random.randrange(k) + 0.5) / k
        return out

    def _genome(self, params: Params, rng: np.random.Generator) -> list[float]:
        """A trial's unit coordinates; inactive parameters get random genes (seeded)."""
        u = self.space.to_unit(params)
        return [float(rng.random()) if np.isnan(x) else float(x) for x in u]


def individuals(genomes: Sequence[list[float]], fitnesses: Sequence[Sequence[float]]) -> list[Any]:
    """DEAP individuals: each genome with its fitness (costs, every one minimised); an
    individual remembers its place in the input as ``position``."""
    from deap import base

    if not genomes:
        return []
    m = len(fitnesses[0])

    class Fitness(base.Fitness):
        weights = (-1.0,) * m

    class Individual(list[float]):
        fitness: Fitness
        position: int

    out = []
    for i, (genome, fitness) in enumerate(zip(genomes, fitnesses, strict=True)):
        ind = Individual(genome)
        ind.fitness = Fitness(tuple(fitness))
        ind.position = i
        out.append(ind)
    return out


@contextmanager
def seeded_deap(seed: int) -> Iterator[None]:
    """Run DEAP seeded: it draws from the global ``random`` module (and NSGA-III's niching from
    NumPy's global generator), so one breeder at a time, both seeded, both restored after."""
    with _deap_lock:
        state, np_state = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(state)
            np.random.set_state(np_state)


def generation_of(trial: Trial) -> int | None:
    """The generation stored with a trial of a genetic round, if any."""
    g = trial.meta.get("generation") if trial.meta else None
    return g if isinstance(g, int) and not isinstance(g, bool) else None
