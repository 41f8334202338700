"""The study document's JSON schema (for /docs) stays in step with the parser that decides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.specs import spec_dict
from tuner import objective_spec, parameter_spec, plan, study
from tuner.api.study_document import (
    CategoricalParameter,
    NumericParameter,
    Round,
    StudyDocument,
    TrainerObjective,
    study_schema,
)
from tuner.errors import SpecError
from tuner.study import StudySpec

REPO = Path(__file__).resolve().parents[2]


def test_the_schema_names_exactly_the_fields_the_parser_knows() -> None:
    assert set(StudyDocument.model_fields) == study._STUDY_KEYS
    assert set(Round.model_fields) == plan.ROUND_KEYS
    assert set(TrainerObjective.model_fields) == objective_spec._TRAINER_KEYS
    assert set(NumericParameter.model_fields) == parameter_spec.KEYS["float"]
    assert set(NumericParameter.model_fields) == parameter_spec.KEYS["int"]
    assert set(CategoricalParameter.model_fields) == parameter_spec.KEYS["categorical"]


GOOD: list[dict[str, Any]] = [
    spec_dict("plain"),
    spec_dict("budget", plan=None, trials=30),
    spec_dict("cmd", objective={"command": "python train.py --x {x}"}, executor="command"),
    spec_dict(
        "short",
        objective="tests.objectives:quadratic",
        space={
            "k": ["a", "b", 3, None],
            "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        },
        plan=[
            {"algorithm": "genetic", "trials": 20, "parallelism": 4, "options": {"population": 8}}
        ],
        direction="maximize",
        metric="auc",
        retries=2,
        trial_timeout=30.5,
        description="all the optional fields",
    ),
    spec_dict(
        "trainer",
        objective={
            "trainer": "xgboost",
            "data": "/data/train.csv",
            "label": "y",
            "metric": "auc",
            "cv": 3,
            "save_model": True,
        },
        executor={"type": "local", "workers": 2},
    ),
    yaml.safe_load((REPO / "experiments" / "demo" / "study.yaml").read_text()),
    spec_dict(
        "budgeted",
        plan=[
            {"algorithm": "random", "trials": 20, "resource": {"min": 1, "max": 9}},
            {"algorithm": "bayesian", "trials": 5, "resource": {"max": 81}},
        ],
        pruner={"type": "hyperband"},
    ),
]


@pytest.mark.parametrize("doc", GOOD, ids=lambda d: d["name"])
def test_documents_the_parser_accepts_fit_the_schema(doc: dict[str, Any]) -> None:
    doc = {k: v for k, v in doc.items() if v is not None}
    StudySpec.from_dict(doc, check=False)
    jsonschema.validate(doc, study_schema())


BAD: list[tuple[str, dict[str, Any]]] = [
    ("name", {k: v for k, v in spec_dict().items() if k != "name"}),
    ("colour", spec_dict(colour="red")),
    ("plan[0].trials", spec_dict(plan=[{"algorithm": "random", "trials": 0}])),
    ("plan[0].narrow", spec_dict(plan=[{"algorithm": "random", "trials": 3, "narrow": 2}])),
    ("plan[0].seed", spec_dict(plan=[{"algorithm": "random", "trials": 3, "seed": 1}])),
    ("x.type", spec_dict(space={"x": {"type": "complex"}})),
    (
        "plan[1].resource.max",
        spec_dict(
            plan=[
                {"algorithm": "random", "trials": 3},
                {"algorithm": "random", "trials": 3, "resource": {"min": 1, "max": 0}},
            ]
        ),
    ),
    (
        "plan[0].resource.max",
        spec_dict(plan=[{"algorithm": "random", "trials": 3, "resource": {"min": 2}}]),
    ),
    (
        "plan[0].resource.step",
        spec_dict(plan=[{"algorithm": "random", "trials": 3, "resource": {"max": 9, "step": 1}}]),
    ),
    ("retries", spec_dict(retries=-1)),
    ("trial_timeout", spec_dict(trial_timeout=0)),
]


@pytest.mark.parametrize(("field", "doc"), BAD, ids=[f for f, _ in BAD])
def test_documents_the_parser_refuses_break_the_schema(field: str, doc: dict[str, Any]) -> None:
    with pytest.raises(SpecError) as exc:
        StudySpec.from_dict(doc, check=False)
    assert exc.value.field.endswith(field)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, study_schema())


def test_a_resource_whose_min_passes_its_max_names_the_max() -> None:
    doc = spec_dict(plan=[{"algorithm": "random", "trials": 3, "resource": {"min": 9, "max": 3}}])
    with pytest.raises(SpecError) as exc:
        StudySpec.from_dict(doc, check=False)
    assert exc.value.field.endswith("plan[0].resource.max")
    assert "at least min (9)" in str(exc.value)
