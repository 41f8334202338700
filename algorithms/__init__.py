"""How parameters are chosen: implementations of ``tuner.algorithm.Algorithm``, found by name."""

from tuner.algorithm import Algorithm

__all__ = ["Algorithm"]
