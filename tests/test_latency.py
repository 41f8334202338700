"""The suggest-time experiment's two ways of measuring, on our algorithm (Optuna, the peer, is in
the ``bench`` extra, not in what the suite installs)."""

from __future__ import annotations

import pytest

from experiments import latency


def test_a_running_study_times_its_suggestions_only() -> None:
    ticks: list[float] = []

    def clock() -> float:  # one tick per reading: each timed call lasts exactly one
        ticks.append(len(ticks))
        return float(len(ticks))

    assert latency.ours_study("bayesian", 12, 2, clock, steps=3) == 1.0
    assert len(ticks) == 6  # a start and a stop around each of the three suggestions only


@pytest.mark.parametrize("mode", ["cold", "study"])
def test_both_modes_measure_ours(mode: str) -> None:
    table = latency.latency_table(["bayesian"], [12, 15], 1, 2, peers=(), mode=mode)
    assert set(table["bayesian"]) == {12, 15}
    assert all(seconds > 0 for seconds in table["bayesian"].values())
