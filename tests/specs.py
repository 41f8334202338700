"""Small study specs for tests."""

from __future__ import annotations

from typing import Any

from tuner.study import StudySpec


def spec_dict(name: str = "s", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "objective": {"function": "tests.objectives:quadratic"},
        "direction": "minimize",
        "space": {
            "x": {"type": "float", "low": -5.0, "high": 5.0},
            "n": {"type": "int", "low": 1, "high": 8},
            "kind": {"type": "categorical", "choices": ["a", "b"]},
            "extra": {"type": "float", "low": 0.0, "high": 1.0, "when": {"kind": "b"}},
        },
        "plan": [
            {"algorithm": "random", "trials": 6},
            {"algorithm": "grid", "trials": 4, "narrow": 0.5},
        ],
        "executor": {"type": "local", "workers": 2},
        "seed": 1,
    }
    base.update(overrides)
    return base


def make_spec(name: str = "s", **overrides: Any) -> StudySpec:
    return StudySpec.from_dict(spec_dict(name, **overrides))


def runnable(data: dict[str, Any], folder: str | None = None) -> StudySpec:
    """Parse a study and check it as ``tuner run`` does before anything is written (the
    objective imported, its program, data, estimator found, the executor's cluster reached)."""
    from tuner.config import Settings
    from tuner.runs import prepare_run

    spec = StudySpec.from_dict(data)
    prepare_run(spec, Settings(), folder=folder)
    return spec
