"""Random search: independent uniform draws from the prior of every parameter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tuner.algorithm import Algorithm, seen_keys, unseen_points
from tuner.space import Params
from tuner.trial import Trial


class RandomSearch(Algorithm):
    """Uniform sampling on the unit cube (log-uniform for log parameters); never repeats a point.

    The draws depend on the seed and the length of the history, so a restart suggests the same.
    """

    name = "random"
    prefetch = 64

    def suggest(self, history: Sequence[Trial], n: int) -> list[Params]:
        seed = [self.seed, len(history)] if self.seed is not None else None
        rng = np.random.default_rng(seed)
        return unseen_points(self.space, rng, seen_keys(self.space, history), n)
