"""Conformance suites a plug-in runs with pytest to show it honours its contract, as Optuna
ships ``optuna.testing``: subclass one in a test module of your own package and run pytest.

    from tuner.testing import AlgorithmConformance, ExecutorConformance, TrainerConformance
    from tuner.testing import FlavorConformance, PrunerConformance

They need pytest (``pip install pytest``), nothing of Tuner's repository.
"""

from tuner.testing.algorithms import AlgorithmConformance
from tuner.testing.executors import ExecutorConformance
from tuner.testing.flavors import FlavorConformance
from tuner.testing.pruners import PrunerConformance
from tuner.testing.trainers import TrainerConformance

__all__ = [
    "AlgorithmConformance",
    "ExecutorConformance",
    "FlavorConformance",
    "PrunerConformance",
    "TrainerConformance",
]
