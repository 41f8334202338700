"""``SeenPoints``, the lazily keyed set of a history's points: every question it answers is the
answer of the full set of keys (``SearchSpace.key`` of every trial), whatever the trials hold."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.algorithm import SeenPoints, seen_keys
from tuner.space import SearchSpace
from tuner.trial import Trial, TrialState

SPACE = SearchSpace.from_dict(
    {
        "x": {"type": "float", "low": -5.0, "high": 5.0},
        "lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
        "n": {"type": "int", "low": 1, "high": 4},
        "kind": {"type": "categorical", "choices": ["a", "b"]},
        "drop": {"type": "float", "low": 0.0, "high": 0.5, "when": {"kind": ["b"]}},
    }
)


def _variant(params: dict[str, Any], how: int) -> dict[str, Any]:
    """The same point as the history might hold it, or a near one: float noise well inside the
    key's 12 digits, an int or a numpy float for the float probe, a probe just outside the
    key's rounding, a missing or non-finite probe, a point on zero."""
    out = dict(params)
    x = float(out["x"])
    if how == 1:
        out["x"] = x * (1 + 1e-14)
    elif how == 2:
        out["x"] = float(round(x))
    elif how == 3:
        out["x"] = int(round(x))
    elif how == 4:
        out["x"] = np.float64(x)
    elif how == 5:
        out["x"] = x * (1 + 1e-10)
    elif how == 6:
        del out["x"]
    elif how == 7:
        out["x"] = float("nan")
    elif how == 8:
        out["x"] = 0.0
    elif how == 9:
        out["x"] = -0.0
    return out


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    size=st.integers(0, 40),
    hows=st.lists(st.integers(0, 9), min_size=40, max_size=40),
)
def test_it_answers_as_the_full_set_of_keys(seed: int, size: int, hows: list[int]) -> None:
    rng = np.random.default_rng(seed)
    base = [SPACE.sample(rng) for _ in range(size)]
    points = [_variant(p, h) for p, h in zip(base, hows, strict=False)]
    history = [Trial("s", i, 0, p, TrialState.COMPLETE, 1, 0.0) for i, p in enumerate(points)]
    full = {SPACE.key(p) for p in points}
    asked = [*base, *points, *(_variant(p, h) for p in base for h in range(10))]
    asked += [SPACE.sample(rng) for _ in range(10)]
    seen = seen_keys(SPACE, history)
    assert isinstance(seen, SeenPoints)
    for p in asked:
        assert (SPACE.key(p) in seen) == (SPACE.key(p) in full), p
    fresh = SPACE.key(SPACE.sample(rng))
    seen.add(fresh)
    assert fresh in seen
    assert set(seen) == full | {fresh} and len(seen) == len(full | {fresh})


def test_a_space_without_an_unconditional_float_keys_every_trial_at_once() -> None:
    space = SearchSpace.from_dict({"n": {"type": "int", "low": 1, "high": 9}})
    history = [Trial("s", i, 0, {"n": i + 1}, TrialState.FAILED, 1) for i in range(3)]
    seen = seen_keys(space, history)
    assert space.key({"n": 2}) in seen and space.key({"n": 2.0}) in seen
    assert space.key({"n": 7}) not in seen
    assert "not a key" not in seen and () not in seen
