"""The study spec: a full valid spec, every malformed one naming its field, the default plan,
and study files (YAML/JSON) read by ``load_spec``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.specs import spec_dict
from tuner.errors import SpecError
from tuner.space import CategoricalParameter, FloatParameter, IntParameter
from tuner.study import (
    Direction,
    ExecutorSpec,
    ObjectiveSpec,
    Round,
    StudySpec,
    default_plan,
    load_spec,
)

DEMO = REPO / "experiments" / "demo" / "study.yaml"

FULL: dict[str, Any] = {
    "name": "full-study_1.v2",
    "description": "every field given",
    "objective": {"function": "tests.objectives:quadratic"},
    "metric": "loss",
    "direction": "maximize",
    "space": {
        "eta": {"type": "float", "low": 0.001, "high": 0.3, "log": True},
        "depth": {"type": "int", "low": 2, "high": 10},
        "sub": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.05},
        "booster": ["gbtree", "dart"],
        "rate_drop": {"type": "float", "low": 0.0, "high": 0.3, "when": {"booster": "dart"}},
    },
    "plan": [
        {"algorithm": "random", "trials": 8, "parallelism": 2},
        {
            "algorithm": "grid",
            "trials": 6,
            "narrow": 0.5,
            "options": {"points": 3, "order": "sequential"},
        },
        {"algorithm": "random", "trials": 3, "narrow": 0.25},
    ],
    "executor": {"type": "local", "workers": 2},
    "retries": 2,
    "trial_timeout": 30,
    "seed": 7,
}


def parse(data: object, check: bool = True) -> StudySpec:
    return StudySpec.from_dict(data, check=check)


def error(data: object, check: bool = True) -> SpecError:
    with pytest.raises(SpecError) as info:
        StudySpec.from_dict(data, check=check)
    return info.value


def without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


class TestValidSpec:
    def test_full_spec(self) -> None:
        spec = parse(FULL)
        assert spec.name == "full-study_1.v2"
        assert spec.description == "every field given"
        assert spec.objective == ObjectiveSpec("tests.objectives:quadratic")
        assert spec.metric == "loss"
        assert spec.direction is Direction.MAXIMIZE
        assert spec.space.names[:4] == ["eta", "depth", "sub", "booster"]
        assert isinstance(spec.space["eta"], FloatParameter) and spec.space["eta"].log
        assert isinstance(spec.space["depth"], IntParameter)
        assert isinstance(spec.space["booster"], CategoricalParameter)
        assert spec.plan == (
            Round("random", 8, parallelism=2),
            Round("grid", 6, narrow=0.5, options={"points": 3, "order": "sequential"}),
            Round("random", 3, narrow=0.25),
        )
        assert spec.executor == ExecutorSpec("local", {"workers": 2})
        assert spec.retries == 2 and spec.max_attempts == 3
        assert spec.trial_timeout == 30.0 and isinstance(spec.trial_timeout, float)
        assert spec.seed == 7
        assert spec.total_trials == 17

    def test_round_trip(self) -> None:
        spec = parse(FULL)
        again = parse(spec.to_dict())
        assert again == spec
        assert again.to_dict() == spec.to_dict()
        json.dumps(spec.to_dict())  # plain JSON all the way down

    def test_defaults(self) -> None:
        spec = parse(
            {
                "name": "s",
                "objective": "tests.objectives:quadratic",
                "space": {"x": {"type": "float", "low": 0, "high": 1}},
                "trials": 3,
            }
        )
        assert spec.direction is Direction.MINIMIZE
        assert spec.metric is None
        assert spec.executor == ExecutorSpec("local", {})
        assert spec.retries == 0 and spec.max_attempts == 1
        assert spec.trial_timeout is None and spec.seed is None and spec.description == ""
        assert spec.objective.function == "tests.objectives:quadratic"
        assert parse(spec.to_dict()) == spec

    def test_direction_is_case_insensitive(self) -> None:
        assert parse(spec_dict(direction="MAXIMIZE")).direction is Direction.MAXIMIZE

    def test_executor_as_a_string(self) -> None:
        assert parse(spec_dict(executor="local")).executor == ExecutorSpec("local", {})

    def test_demo_study_loads_and_round_trips(self) -> None:
        spec = load_spec(DEMO)
        assert spec.name == "xgb-breast-cancer"
        assert spec.direction is Direction.MAXIMIZE
        assert spec.metric == "auc"
        assert spec.space.names[:4] == ["eta", "max_depth", "subsample", "booster"]
        assert spec.space["rate_drop"].when[0].parent == "booster"
        assert [r.algorithm for r in spec.plan] == ["random", "grid"]
        assert spec.total_trials == 21
        assert spec.plan[1].narrow == 0.5
        assert spec.executor == ExecutorSpec("local", {"workers": 2})
        assert (spec.retries, spec.trial_timeout, spec.seed) == (2, 300.0, 0)
        assert StudySpec.from_dict(spec.to_dict()) == spec

    def test_demo_study_as_json(self, tmp_path: Path) -> None:
        path = tmp_path / "study.json"
        path.write_text(json.dumps(load_spec(DEMO).to_dict()))
        assert load_spec(path) == load_spec(DEMO)

    def test_direction_order(self) -> None:
        assert Direction.MINIMIZE.better(1.0, 2.0) and not Direction.MINIMIZE.better(2.0, 1.0)
        assert Direction.MAXIMIZE.better(2.0, 1.0) and not Direction.MAXIMIZE.better(1.0, 1.0)
        assert sorted([3.0, 1.0, 2.0], key=Direction.MAXIMIZE.sort_key) == [3.0, 2.0, 1.0]


def bad_round(**fields: Any) -> dict[str, Any]:
    return spec_dict(plan=[{"algorithm": "random", "trials": 5, **fields}])


class TestMalformedSpec:
    @pytest.mark.parametrize(
        ("data", "field"),
        [
            (spec_dict(foo=1), "foo"),
            (without(spec_dict(), "name"), "name"),
            (spec_dict(name=""), "name"),
            (spec_dict(name="has space"), "name"),
            (spec_dict(name="-leading-dash"), "name"),
            (spec_dict(name="a" * 129), "name"),
            ({**spec_dict(), "name": 5}, "name"),
            (without(spec_dict(), "space"), "space"),
            (spec_dict(space={}), "space"),
            (spec_dict(space={"eta": {"type": "double", "low": 0, "high": 1}}), "space.eta.type"),
            (spec_dict(space={"x": {"type": "float", "low": 1, "high": 0}}), "space.x.low"),
            (spec_dict(space={"c": {"type": "categorical", "choices": []}}), "space.c.choices"),
            (
                spec_dict(
                    space={
                        "booster": ["gbtree", "dart"],
                        "rate_drop": {
                            "type": "float",
                            "low": 0,
                            "high": 1,
                            "when": {"boostr": "dart"},
                        },
                    }
                ),
                "space.rate_drop.when.boostr",
            ),
            (bad_round(trials=-3), "plan[0].trials"),
            (bad_round(trials=0), "plan[0].trials"),
            (bad_round(trials=2.5), "plan[0].trials"),
            (bad_round(trials=True), "plan[0].trials"),
            (spec_dict(plan=[{"algorithm": "random"}]), "plan[0].trials"),
            (spec_dict(plan=[{"trials": 3}]), "plan[0].algorithm"),
            (
                spec_dict(
                    plan=[
                        {"algorithm": "random", "trials": 3},
                        {"algorithm": "random", "trials": 3, "extra": 1},
                    ]
                ),
                "plan[1].extra",
            ),
            (spec_dict(plan=[{"algorithm": "random", "trials": 3}, "random"]), "plan[1]"),
            (bad_round(narrow=0), "plan[0].narrow"),
            (bad_round(narrow=1.5), "plan[0].narrow"),
            (bad_round(narrow=-0.5), "plan[0].narrow"),
            (bad_round(narrow="half"), "plan[0].narrow"),
            (bad_round(narrow=True), "plan[0].narrow"),
            (bad_round(parallelism=0), "plan[0].parallelism"),
            (bad_round(parallelism=-1), "plan[0].parallelism"),
            (bad_round(parallelism=1.5), "plan[0].parallelism"),
            (bad_round(options=[1]), "plan[0].options"),
            (spec_dict(plan=[]), "plan"),
            (spec_dict(plan="random"), "plan"),
            (spec_dict(trials=11), "trials"),  # a plan and a budget must agree
            (without(spec_dict(), "plan"), "plan"),
            (without(spec_dict(trials=0), "plan"), "trials"),
            (without(spec_dict(trials=-2), "plan"), "trials"),
            (without(spec_dict(trials="ten"), "plan"), "trials"),
            (without(spec_dict(trials="1e20"), "plan"), "trials"),
            (spec_dict(direction="up"), "direction"),
            (spec_dict(direction=None), "direction"),
            (spec_dict(retries=-1), "retries"),
            (spec_dict(retries=1.5), "retries"),
            (spec_dict(retries=True), "retries"),
            (spec_dict(retries="two"), "retries"),
            (spec_dict(trial_timeout=0), "trial_timeout"),
            (spec_dict(trial_timeout=-5), "trial_timeout"),
            (spec_dict(trial_timeout="1h"), "trial_timeout"),
            (spec_dict(trial_timeout=float("inf")), "trial_timeout"),
            (spec_dict(trial_timeout=True), "trial_timeout"),
            (spec_dict(objective="not a function"), "objective.function"),
            (spec_dict(objective="module_without_function"), "objective.function"),
            (spec_dict(objective="a.b:c:d"), "objective.function"),
            (spec_dict(objective=":f"), "objective.function"),
            (spec_dict(objective={"function": "m:f", "args": []}), "objective.args"),
            (spec_dict(objective=42), "objective"),
            (spec_dict(metric=""), "metric"),
            (spec_dict(metric=3), "metric"),
            (spec_dict(seed="1"), "seed"),
            (spec_dict(seed=True), "seed"),
            (spec_dict(description=3), "description"),
            (spec_dict(executor=[1]), "executor"),
            (spec_dict(executor={"type": 3}), "executor.type"),
        ],
    )
    def test_names_the_field(self, data: dict[str, Any], field: str) -> None:
        # These checks need no plug-ins: the same field with or without the plug-in check.
        assert error(data, check=False).field == field
        err = error(data)
        assert err.field == field
        assert err.reason and str(err).startswith(f"{field}: " if field else "")

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            (
                spec_dict(
                    plan=[{"algorithm": "random", "trials": 3}, {"algorithm": "bogus", "trials": 3}]
                ),
                "plan[1].algorithm",
            ),
            (spec_dict(executor={"type": "nope"}), "executor.type"),
            (spec_dict(executor={"type": "local", "foo": 1}), "executor.foo"),
            (bad_round(options={"foo": 1}), "plan[0].options.foo"),
            (
                spec_dict(plan=[{"algorithm": "grid", "trials": 3, "options": {"colour": "red"}}]),
                "plan[0].options.colour",
            ),
        ],
    )
    def test_plugin_errors_name_the_field(self, data: dict[str, Any], field: str) -> None:
        err = error(data)
        assert err.field == field
        parse(data, check=False)  # only the plug-in check refuses them

    def test_unknown_names_are_listed(self) -> None:
        err = error(spec_dict(plan=[{"algorithm": "bogus", "trials": 3}]))
        assert "bogus" in err.reason and "random" in err.reason and "grid" in err.reason
        assert "nope" in error(spec_dict(executor={"type": "nope"})).reason
        assert "workers" in error(spec_dict(executor={"type": "local", "foo": 1})).reason

    @pytest.mark.parametrize("points", [0, -1, 2.5, True, "3"])
    def test_bad_grid_option_value(self, points: object) -> None:
        data = spec_dict(plan=[{"algorithm": "grid", "trials": 3, "options": {"points": points}}])
        err = error(data)
        assert err.field == "plan[0].options.points"

    def test_bad_grid_order(self) -> None:
        data = spec_dict(plan=[{"algorithm": "grid", "trials": 3, "options": {"order": "zigzag"}}])
        err = error(data)
        assert err.field == "plan[0].options.order" and "sequential" in err.reason

    def test_not_a_mapping(self) -> None:
        for data in (None, [1, 2], "study"):
            assert error(data).field == ""

    def test_spec_error_is_a_value_error(self) -> None:
        assert isinstance(error(spec_dict(foo=1)), ValueError)


class TestDefaultPlan:
    @pytest.mark.parametrize("n", [1, 2, 5, 9, 10, 11, 12, 13, 37, 100, 1001])
    def test_trials_budget_is_spent_exactly(self, n: int) -> None:
        spec = parse(without(spec_dict(trials=n), "plan"))
        assert spec.total_trials == n
        assert sum(r.trials for r in spec.plan) == n
        assert all(r.trials >= 1 for r in spec.plan)
        assert spec.plan[0].algorithm == "random"
        assert all(r.algorithm == "bayesian" for r in spec.plan[1:])

    def test_every_budget_from_1_to_300(self) -> None:
        for n in range(1, 301):
            plan = default_plan(n)
            assert sum(r.trials for r in plan) == n
            assert all(r.trials >= 1 for r in plan)

    def test_warm_up_then_bayesian_then_narrowed_bayesian(self) -> None:
        plan = default_plan(50)
        assert [r.algorithm for r in plan] == ["random", "bayesian", "bayesian"]
        assert plan[0].trials == 10 and plan[1].narrow is None
        assert plan[2].narrow is not None and 0 < plan[2].narrow < 1
        assert default_plan(3) == (Round("random", 3),)

    def test_default_plan_round_trips_as_an_explicit_plan(self) -> None:
        spec = parse(without(spec_dict(trials=30), "plan"))
        assert parse(spec.to_dict()) == spec


class TestLoadSpec:
    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "nowhere.yaml"
        with pytest.raises(SpecError) as info:
            load_spec(path)
        assert info.value.field == str(path)
        assert "cannot read" in info.value.reason

    def test_directory_is_not_a_file(self, tmp_path: Path) -> None:
        with pytest.raises(SpecError) as info:
            load_spec(tmp_path)
        assert info.value.field == str(tmp_path)

    def test_invalid_yaml(self, tmp_path: Path) -> None:
        path = tmp_path / "study.yaml"
        path.write_text("name: s\nspace: {x: [1, 2\n")
        with pytest.raises(SpecError) as info:
            load_spec(path)
        assert info.value.field == str(path)
        assert "YAML" in info.value.reason

    def test_invalid_json(self, tmp_path: Path) -> None:
        path = tmp_path / "study.json"
        path.write_text('{"name": "s", "space": ')
        with pytest.raises(SpecError) as info:
            load_spec(str(path))
        assert info.value.field == str(path)
        assert "JSON" in info.value.reason

    def test_valid_yaml_and_json_files(self, tmp_path: Path) -> None:
        import yaml

        data = spec_dict()
        (tmp_path / "s.yml").write_text(yaml.safe_dump(data, sort_keys=False))
        (tmp_path / "s.json").write_text(json.dumps(data))
        expected = parse(data)
        assert load_spec(tmp_path / "s.yml") == expected
        assert load_spec(tmp_path / "s.json") == expected

    def test_bad_spec_in_a_good_file_names_the_field(self, tmp_path: Path) -> None:
        path = tmp_path / "study.yaml"
        path.write_text("name: s\nobjective: m:f\nspace: {eta: {type: real}}\ntrials: 3\n")
        with pytest.raises(SpecError) as info:
            load_spec(path)
        assert info.value.field == "space.eta.type"
