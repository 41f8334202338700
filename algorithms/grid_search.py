"""Grid search over the whole space or a narrowed one, skipping every point already tried."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from tuner.algorithm import Algorithm, seen_keys
from tuner.errors import SpecError
from tuner.space import Params, SearchSpace
from tuner.study import Direction
from tuner.trial import Trial

_MAX_POINTS = 1_000_000
_AUTO_MAX_RESOLUTION = 64
_DEFAULT_RESOLUTION = 5


class GridSearch(Algorithm):
    """Every combination of ``points`` values per numeric parameter (all choices of categories).

    Without ``points`` the grid is the coarsest one with at least ``budget`` points. With
    ``order: shuffled`` (the default) the grid is visited in a seeded random order, so that a
    budget smaller than the grid still spreads over it; ``sequential`` walks it in order.
    Returns fewer points than asked once the grid is exhausted.
    """

    name = "grid"
    prefetch = 64

    def __init__(
        self,
        space: SearchSpace,
        direction: Direction,
        seed: int | None = None,
        *,
        budget: int | None = None,
        points: int | None = None,
        order: str = "shuffled",
    ) -> None:
        super().__init__(space, direction, seed, budget=budget)
        if points is not None and (
            not isinstance(points, int) or isinstance(points, bool) or points < 1
        ):
            raise SpecError("points", "must be a positive integer")
        if order not in ("shuffled", "sequential"):
            raise SpecError("order", "must be 'shuffled' or 'sequential'")
        self.resolution = points if points is not None else self._auto_resolution()
        if space.grid_size(self.resolution, _MAX_POINTS + 1) > _MAX_POINTS:
            raise SpecError(
                "points",
                f"the grid has more than {_MAX_POINTS:,} points; lower 'points' or narrow it",
            )
        self.order = order
        self._grid: list[Params] | None = None

    def _auto_resolution(self) -> int:
        if self.budget is None:
            return _DEFAULT_RESOLUTION
        for k in range(2, _AUTO_MAX_RESOLUTION + 1):
            if self.space.grid_size(k, self.budget) >= self.budget:
                return k
        return _AUTO_MAX_RESOLUTION

    @property
    def grid(self) -> list[Params]:
        """The whole grid in visiting order (computed once per instance)."""
        if self._grid is None:
            grid = list(itertools.islice(self.space.grid(self.resolution), _MAX_POINTS))
            if self.order == "shuffled":
                rng = np.random.default_rng(self.seed)
                grid = [grid[i] for i in rng.permutation(len(grid))]
            self._grid = grid
        return self._grid

    def suggest(self, history: Sequence[Trial], n: int) -> list[Params]:
        seen = seen_keys(self.space, history)
        out: list[Params] = []
        for params in self.grid:
            if len(out) == n:
                break
            key = self.space.key(params)
            if key not in seen:
                seen.add(key)
                out.append(params)
        return out
