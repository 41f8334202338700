"""Tuner: hyperparameter tuning as a service. ``tuner.TrialPruned`` ends a trial as pruned.

Nothing is imported here eagerly: ``tuner.client`` installs beside the server and must load
nothing of it."""

from __future__ import annotations

from typing import Any

__all__ = ["TrialPruned"]


def __getattr__(name: str) -> Any:
    if name == "TrialPruned":
        from tuner.errors import TrialPruned

        return TrialPruned
    raise AttributeError(f"module 'tuner' has no attribute {name!r}")
