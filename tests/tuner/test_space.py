"""The search space: parsing and its errors, the unit cube, sampling, validation, grids and
narrowing."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.errors import SpecError
from tuner.parameter_spec import parse_parameter
from tuner.parameters import NumericParameter
from tuner.space import (
    CategoricalParameter,
    Condition,
    FloatParameter,
    IntParameter,
    SearchSpace,
)

# A space with every kind of parameter, a conditional one and a two-level chain of conditions.
MIXED: dict[str, Any] = {
    "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "x": {"type": "float", "low": -2.0, "high": 3.0},
    "n": {"type": "int", "low": 1, "high": 4},
    "width": {"type": "int", "low": 1, "high": 1024, "log": True},
    "every3": {"type": "int", "low": 2, "high": 20, "step": 3},
    "sub": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.05},
    "booster": ["gbtree", "dart"],
    "rate_drop": {"type": "float", "low": 0.0, "high": 0.3, "when": {"booster": "dart"}},
    "mode": {"type": "categorical", "choices": ["a", "b"], "when": {"booster": "dart"}},
    "depth": {"type": "int", "low": 1, "high": 5, "when": {"mode": "b"}},
}


def space(spec: dict[str, Any] | None = None) -> SearchSpace:
    return SearchSpace.from_dict(MIXED if spec is None else spec)


def spec_error(spec: object) -> SpecError:
    with pytest.raises(SpecError) as info:
        SearchSpace.from_dict(spec)
    return info.value


def one(kind_body: dict[str, Any] | list[Any], name: str = "p") -> Any:
    """The single parameter of a one-parameter space."""
    return SearchSpace.from_dict({name: kind_body})[name]


def at(s: SearchSpace, name: str) -> Any:
    """A parameter of ``s``, untyped so that its numeric fields can be read."""
    return s[name]


def active_names(s: SearchSpace, params: dict[str, Any]) -> set[str]:
    """Names that must be present in ``params``, computed from the conditions alone."""
    out: dict[str, Any] = {}
    for p in s:
        if s.is_active(p, out) and p.name in params:
            out[p.name] = params[p.name]
    return {p.name for p in s if s.is_active(p, out)}


# -- parsing ------------------------------------------------------------------------------------


class TestParsing:
    def test_float(self) -> None:
        p = one({"type": "float", "low": 0, "high": 2})
        assert isinstance(p, FloatParameter)
        assert (p.low, p.high, p.log, p.step) == (0.0, 2.0, False, None)
        assert isinstance(p.low, float) and isinstance(p.high, float)
        assert p.when == ()

    def test_float_log(self) -> None:
        p = one({"type": "float", "low": 1e-4, "high": 1.0, "log": True})
        assert isinstance(p, FloatParameter) and p.log
        assert (p.low, p.high) == (1e-4, 1.0)

    def test_float_step_trims_high_to_the_last_step(self) -> None:
        p = one({"type": "float", "low": 0.1, "high": 0.95, "step": 0.1})
        assert isinstance(p, FloatParameter)
        assert p.step == 0.1
        assert p.low == 0.1
        assert p.high == pytest.approx(0.9, abs=1e-12)
        assert p.contains(p.high)

    def test_int(self) -> None:
        p = one({"type": "int", "low": 1, "high": 10})
        assert isinstance(p, IntParameter)
        assert (p.low, p.high, p.step, p.log, p.size) == (1, 10, 1, False, 10)

    def test_int_accepts_integral_floats(self) -> None:
        p = one({"type": "int", "low": 2.0, "high": 6.0})
        assert isinstance(p, IntParameter)
        assert (p.low, p.high) == (2, 6)
        assert type(p.low) is int and type(p.high) is int

    def test_int_log(self) -> None:
        p = one({"type": "int", "low": 1, "high": 1000, "log": True})
        assert isinstance(p, IntParameter) and p.log and p.step == 1

    def test_int_step_trims_high(self) -> None:
        p = one({"type": "int", "low": 2, "high": 21, "step": 3})
        assert isinstance(p, IntParameter)
        assert (p.low, p.high, p.step, p.size) == (2, 20, 3, 7)

    def test_categorical(self) -> None:
        p = one({"type": "categorical", "choices": ["a", 1, 2.5, True, None]})
        assert isinstance(p, CategoricalParameter)
        assert p.choices == ("a", 1, 2.5, True, None)

    def test_list_is_shorthand_for_choices(self) -> None:
        longhand = {"type": "categorical", "choices": ["gbtree", "dart"]}
        assert one(["gbtree", "dart"]) == one(longhand)

    def test_one_and_true_and_string_one_are_distinct_choices(self) -> None:
        p = one([1, True, "1"])
        assert isinstance(p, CategoricalParameter)
        assert [p.index(v) for v in (1, True, "1")] == [0, 1, 2]

    def test_conditional_single_value(self) -> None:
        s = space(
            {
                "booster": ["gbtree", "dart"],
                "rate_drop": {"type": "float", "low": 0, "high": 1, "when": {"booster": "dart"}},
            }
        )
        assert s["rate_drop"].when == (Condition("booster", ("dart",)),)

    def test_conditional_several_values_and_int_parent(self) -> None:
        s = space(
            {
                "layers": {"type": "int", "low": 1, "high": 4},
                "kind": ["a", "b", "c"],
                "y": {
                    "type": "float",
                    "low": 0,
                    "high": 1,
                    "when": {"kind": ["b", "c"], "layers": [3, 4]},
                },
            }
        )
        assert s["y"].when == (Condition("kind", ("b", "c")), Condition("layers", (3, 4)))
        assert s.is_active(s["y"], {"kind": "c", "layers": 4})
        assert not s.is_active(s["y"], {"kind": "a", "layers": 4})
        assert not s.is_active(s["y"], {"kind": "b", "layers": 2})
        assert not s.is_active(s["y"], {"layers": 3})

    def test_parents_are_ordered_before_children(self) -> None:
        s = space(
            {
                "depth": {"type": "int", "low": 1, "high": 3, "when": {"mode": "b"}},
                "mode": {"type": "categorical", "choices": ["a", "b"], "when": {"top": 1}},
                "top": [1, 2],
                "free": {"type": "float", "low": 0, "high": 1},
            }
        )
        names = s.names
        assert set(names) == {"depth", "mode", "top", "free"}
        assert names.index("top") < names.index("mode") < names.index("depth")

    def test_lookup(self) -> None:
        s = space()
        assert len(s) == len(MIXED)
        assert "lr" in s and "nope" not in s
        assert [p.name for p in s] == s.names
        assert s["n"].name == "n"

    @pytest.mark.parametrize(
        "spec",
        [
            MIXED,
            {"p": [None, False, 0, "0", 0.5]},
            {"a": {"type": "int", "low": -3, "high": 7, "step": 2}},
        ],
    )
    def test_round_trip(self, spec: dict[str, Any]) -> None:
        s = SearchSpace.from_dict(spec)
        again = SearchSpace.from_dict(s.to_dict())
        assert again == s
        assert again.to_dict() == s.to_dict()

    def test_to_dict_is_plain(self) -> None:
        d = space().to_dict()
        assert d["lr"] == {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}
        assert d["n"] == {"type": "int", "low": 1, "high": 4}  # step 1 is the default: left out
        assert d["every3"] == {"type": "int", "low": 2, "high": 20, "step": 3}
        assert d["booster"] == {"type": "categorical", "choices": ["gbtree", "dart"]}
        assert d["rate_drop"]["when"] == {"booster": "dart"}
        two = space(
            {
                "k": ["a", "b", "c"],
                "y": {"type": "float", "low": 0, "high": 1, "when": {"k": ["a", "b"]}},
            }
        )
        assert two.to_dict()["y"]["when"] == {"k": ["a", "b"]}


# -- errors -------------------------------------------------------------------------------------


def test_a_range_of_one_value_is_refused_saying_how_to_fix_a_value() -> None:
    with pytest.raises(SpecError) as got:
        SearchSpace.from_dict({"n": {"type": "int", "low": 60, "high": 60}})
    assert got.value.field == "n.low"
    assert "{type: categorical, choices: [60]}" in str(got.value)
    fixed = SearchSpace.from_dict({"n": {"type": "categorical", "choices": [60]}})
    assert fixed.sample(np.random.default_rng(0)) == {"n": 60}


class TestSpecErrors:
    @pytest.mark.parametrize(
        ("spec", "field"),
        [
            ({"eta": {"type": "double", "low": 0, "high": 1}}, "eta.type"),
            ({"eta": {"low": 0, "high": 1}}, "eta.type"),
            ({"x": {"type": "float", "low": 1, "high": 1}}, "x.low"),
            ({"x": {"type": "float", "low": 2, "high": 1}}, "x.low"),
            ({"x": {"type": "int", "low": 5, "high": 1}}, "x.low"),
            ({"x": {"type": "float", "high": 1}}, "x.low"),
            ({"x": {"type": "float", "low": 0}}, "x.high"),
            ({"x": {"type": "float", "low": float("nan"), "high": 1}}, "x.low"),
            ({"x": {"type": "float", "low": 0, "high": float("inf")}}, "x.high"),
            ({"x": {"type": "float", "low": True, "high": 2}}, "x.low"),
            ({"x": {"type": "float", "low": "zero", "high": 2}}, "x.low"),
            ({"x": {"type": "int", "low": 0.5, "high": 2}}, "x.low"),
            # found by schemathesis: arithmetic that overflowed into a 500
            ({"x": {"type": "float", "low": -1e308, "high": 1e308}}, "x.high"),
            ({"x": {"type": "float", "low": 0, "high": 1e15, "step": 2.2e-313}}, "x.step"),
            ({"c": {"type": "categorical", "choices": []}}, "c.choices"),
            ({"c": {"type": "categorical"}}, "c.choices"),
            ({"c": {"type": "categorical", "choices": "ab"}}, "c.choices"),
            ({"c": []}, "c.choices"),
            ({"c": ["a", {"x": 1}]}, "c.choices[1]"),
            ({"c": ["a", float("nan")]}, "c.choices[1]"),
            ({"c": ["a", "b", "a"]}, "c.choices"),
            ({"c": [1, 1.0]}, "c.choices"),
            (
                {
                    "booster": ["gbtree", "dart"],
                    "rate_drop": {"type": "float", "low": 0, "high": 1, "when": {"boostr": "dart"}},
                },
                "rate_drop.when.boostr",
            ),
            (
                {
                    "booster": ["gbtree", "dart"],
                    "rate_drop": {
                        "type": "float",
                        "low": 0,
                        "high": 1,
                        "when": {"booster": "gblinear"},
                    },
                },
                "rate_drop.when.booster",
            ),
            (
                {
                    "f": {"type": "float", "low": 0, "high": 1},
                    "g": {"type": "float", "low": 0, "high": 1, "when": {"f": 0.5}},
                },
                "g.when.f",
            ),
            ({"a": {"type": "categorical", "choices": [1, 2], "when": {"a": 1}}}, "a.when.a"),
            ({"c": ["a"], "x": {"type": "float", "low": 0, "high": 1, "when": {}}}, "x.when"),
            ({"c": ["a"], "x": {"type": "float", "low": 0, "high": 1, "when": "c"}}, "x.when"),
            (
                {"c": ["a"], "x": {"type": "float", "low": 0, "high": 1, "when": {"c": []}}},
                "x.when.c",
            ),
            ({"x": {"type": "float", "low": 0, "high": 1, "log": True}}, "x.low"),
            ({"x": {"type": "float", "low": -1, "high": 1, "log": True}}, "x.low"),
            ({"x": {"type": "int", "low": 0, "high": 8, "log": True}}, "x.low"),
            ({"x": {"type": "float", "low": 1, "high": 2, "log": "yes"}}, "x.log"),
            ({"x": {"type": "float", "low": 0, "high": 1, "step": 2}}, "x.step"),
            ({"x": {"type": "int", "low": 0, "high": 3, "step": 4}}, "x.step"),
            ({"x": {"type": "float", "low": 0, "high": 1, "step": 0}}, "x.step"),
            ({"x": {"type": "float", "low": 0, "high": 1, "step": -0.1}}, "x.step"),
            ({"x": {"type": "int", "low": 0, "high": 10, "step": 1.5}}, "x.step"),
            ({"x": {"type": "int", "low": 1, "high": 10, "step": 2, "log": True}}, "x.step"),
            ({"x": {"type": "float", "low": 1, "high": 10, "step": 1, "log": True}}, "x.step"),
            ({"x": {"type": "float", "low": 0, "high": 1, "choices": [1]}}, "x.choices"),
            ({"c": {"type": "categorical", "choices": [1], "low": 0}}, "c.low"),
            ({"x": 5}, "x"),
            ({"my-param": {"type": "float", "low": 0, "high": 1}}, "my-param"),
            ({"1x": {"type": "float", "low": 0, "high": 1}}, "1x"),
            ({"a b": ["u", "v"]}, "a b"),
        ],
    )
    def test_field_path(self, spec: dict[str, Any], field: str) -> None:
        err = spec_error(spec)
        assert err.field == field
        assert err.reason
        assert str(err).startswith(f"{field}: ")

    def test_cycle(self) -> None:
        err = spec_error(
            {
                "a": {"type": "categorical", "choices": [1, 2], "when": {"b": "x"}},
                "b": {"type": "categorical", "choices": ["x", "y"], "when": {"a": 1}},
                "c": ["free"],
            }
        )
        assert err.field in ("a.when", "b.when")
        assert "cycle" in err.reason

    def test_longer_cycle(self) -> None:
        err = spec_error(
            {
                "a": {"type": "categorical", "choices": [1, 2], "when": {"c": True}},
                "b": {"type": "categorical", "choices": ["x", "y"], "when": {"a": 1}},
                "c": {"type": "categorical", "choices": [True, False], "when": {"b": "y"}},
            }
        )
        assert err.field in ("a.when", "b.when", "c.when")
        assert "cycle" in err.reason

    @pytest.mark.parametrize("spec", [{}, [], None, "x", [{"type": "float"}]])
    def test_not_a_mapping(self, spec: object) -> None:
        err = spec_error(spec)
        assert err.field == ""

    def test_reasons_say_what_is_wrong(self) -> None:
        assert "double" in spec_error({"eta": {"type": "double"}}).reason
        assert (
            "boostr"
            in spec_error(
                {"b": ["x"], "r": {"type": "float", "low": 0, "high": 1, "when": {"boostr": "x"}}}
            ).reason
        )
        assert (
            "positive"
            in spec_error({"x": {"type": "float", "low": 0, "high": 1, "log": True}}).reason
        )

    def test_spec_error_is_a_value_error(self) -> None:
        assert isinstance(spec_error({"x": 5}), ValueError)


# -- the unit cube ------------------------------------------------------------------------------

ONE_PARAM: dict[str, Any] = {
    "float": {"type": "float", "low": -2.5, "high": 7.0},
    "log float": {"type": "float", "low": 1e-6, "high": 10.0, "log": True},
    "int": {"type": "int", "low": -3, "high": 12},
    "log int": {"type": "int", "low": 1, "high": 5000, "log": True},
    "step int": {"type": "int", "low": 2, "high": 20, "step": 3},
    "step float": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.05},
    "odd step float": {"type": "float", "low": 0.1, "high": 0.95, "step": 0.1},
    "categorical": {"type": "categorical", "choices": ["a", 1, 2.5, True, None]},
}


class TestUnitCube:
    @pytest.mark.parametrize("kind", list(ONE_PARAM))
    def test_round_trip_many_points(self, kind: str) -> None:
        p = one(ONE_PARAM[kind])
        rng = np.random.default_rng(7)
        for u in rng.random(2000):
            value = p.from_unit(float(u))
            assert p.contains(value)
            back = p.from_unit(p.to_unit(value))
            if isinstance(p, FloatParameter) and p.step is None:
                assert back == pytest.approx(value, rel=1e-9, abs=1e-12)
                assert p.to_unit(value) == pytest.approx(u, abs=1e-9)
            else:
                assert back == value and type(back) is type(value)
            assert 0.0 <= p.to_unit(value) <= 1.0

    @pytest.mark.parametrize("kind", [k for k in ONE_PARAM if k != "categorical"])
    def test_ends_are_exact(self, kind: str) -> None:
        p = one(ONE_PARAM[kind])
        assert p.from_unit(0.0) == p.low
        assert p.from_unit(1.0) == p.high
        assert p.contains(p.from_unit(0.0)) and p.contains(p.from_unit(1.0))
        # outside [0, 1] is clamped, never out of range
        assert p.from_unit(-0.3) == p.low
        assert p.from_unit(1.7) == p.high

    def test_categorical_ends(self) -> None:
        p = one(["a", "b", "c"])
        assert p.from_unit(0.0) == "a"
        assert p.from_unit(1.0) == "c"
        assert [p.from_unit(p.to_unit(c)) for c in ("a", "b", "c")] == ["a", "b", "c"]

    def test_int_types(self) -> None:
        p = one({"type": "int", "low": 0, "high": 9})
        assert all(type(p.from_unit(u)) is int for u in np.linspace(0, 1, 50))

    def test_int_bins_uniform(self) -> None:
        p = one({"type": "int", "low": 1, "high": 4})
        rng = np.random.default_rng(0)
        counts = Counter(p.from_unit(float(u)) for u in rng.random(20_000))
        assert set(counts) == {1, 2, 3, 4}
        for value in (1, 2, 3, 4):
            assert 4_700 < counts[value] < 5_300, counts

    def test_step_int_bins_uniform(self) -> None:
        p = one({"type": "int", "low": 0, "high": 10, "step": 5})
        counts = Counter(p.from_unit(float(u)) for u in np.linspace(0, 1, 30_001))
        assert set(counts) == {0, 5, 10}
        assert max(counts.values()) - min(counts.values()) <= 3

    def test_categorical_uniform(self) -> None:
        p = one(["a", "b", "c"])
        counts = Counter(p.from_unit(float(u)) for u in np.linspace(0, 1, 30_001))
        assert max(counts.values()) - min(counts.values()) <= 3

    def test_log_float_is_uniform_in_log(self) -> None:
        p = one({"type": "float", "low": 1e-4, "high": 1.0, "log": True})
        assert p.from_unit(0.5) == pytest.approx(1e-2)
        assert p.from_unit(0.25) == pytest.approx(1e-3)
        assert p.to_unit(1e-1) == pytest.approx(0.75)

    def test_space_round_trip_and_nan_for_inactive(self) -> None:
        s = space()
        rng = np.random.default_rng(3)
        for _ in range(500):
            params = s.sample(rng)
            u = s.to_unit(params)
            assert u.shape == (len(s),)
            for p, x in zip(s, u, strict=True):
                assert math.isnan(x) == (p.name not in params)
            again = s.from_unit(np.nan_to_num(u, nan=0.5))
            assert s.key(again) == s.key(params)

    def test_from_unit_needs_one_coordinate_per_parameter(self) -> None:
        with pytest.raises(ValueError):
            space().from_unit([0.5])

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.floats(0.0, 1.0), min_size=len(MIXED), max_size=len(MIXED)))
    def test_any_unit_point_is_a_valid_point(self, u: list[float]) -> None:
        s = space()
        params = s.from_unit(u)
        assert s.validate(params) == params
        assert set(params) == active_names(s, params)


# -- sampling and validation --------------------------------------------------------------------


class TestSampling:
    def test_samples_always_validate(self) -> None:
        s = space()
        rng = np.random.default_rng(11)
        for _ in range(2000):
            params = s.sample(rng)
            assert s.validate(params) == params
            assert s.contains(params)

    def test_conditional_present_exactly_when_active(self) -> None:
        s = space()
        rng = np.random.default_rng(5)
        seen: Counter[tuple[str, str | None, bool]] = Counter()
        for _ in range(3000):
            params = s.sample(rng)
            dart = params["booster"] == "dart"
            assert ("rate_drop" in params) == dart
            assert ("mode" in params) == dart
            assert ("depth" in params) == (dart and params["mode"] == "b")
            seen[(params["booster"], params.get("mode"), "depth" in params)] += 1
        # every branch of the two-level chain occurs
        assert set(seen) == {("gbtree", None, False), ("dart", "a", False), ("dart", "b", True)}

    def test_same_seed_same_samples(self) -> None:
        s = space()
        a = [s.sample(np.random.default_rng(42)) for _ in range(3)]
        assert a[0] == a[1] == a[2]


class TestValidate:
    S = {
        "a": ["x", "y"],
        "b": {"type": "categorical", "choices": ["p", "q"], "when": {"a": "y"}},
        "c": {"type": "int", "low": 1, "high": 3, "when": {"b": "q"}},
        "d": {"type": "float", "low": 0, "high": 1},
        "e": {"type": "float", "low": 0, "high": 1, "step": 0.25},
    }

    def error(self, params: object, field_name: str = "params") -> SpecError:
        with pytest.raises(SpecError) as info:
            space(self.S).validate(params, field_name)
        return info.value

    def test_valid_points(self) -> None:
        s = space(self.S)
        assert s.validate({"a": "x", "d": 0.5, "e": 0.25}) == {"a": "x", "d": 0.5, "e": 0.25}
        full = {"a": "y", "b": "q", "c": 2, "d": 1, "e": 1}
        assert s.validate(full) == {"a": "y", "b": "q", "c": 2, "d": 1.0, "e": 1.0}

    def test_normalises_numbers(self) -> None:
        out = space(self.S).validate({"a": "y", "b": "q", "c": 3.0, "d": 0, "e": 0})
        assert type(out["c"]) is int and out["c"] == 3
        assert type(out["d"]) is float and type(out["e"]) is float

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"a": "x"}, "params.d"),
            ({"d": 0.5, "e": 0}, "params.a"),
            ({"a": "y", "d": 0.5, "e": 0}, "params.b"),
            ({"a": "y", "b": "q", "d": 0.5, "e": 0}, "params.c"),
            ({"a": "x", "d": 1.5, "e": 0}, "params.d"),
            ({"a": "x", "d": -0.1, "e": 0}, "params.d"),
            ({"a": "x", "d": float("nan"), "e": 0}, "params.d"),
            ({"a": "x", "d": "0.5", "e": 0}, "params.d"),
            ({"a": "x", "d": True, "e": 0}, "params.d"),
            ({"a": "x", "d": 0.5, "e": 0.3}, "params.e"),
            ({"a": "z", "d": 0.5, "e": 0}, "params.a"),
            ({"a": "y", "b": "q", "c": 4, "d": 0.5, "e": 0}, "params.c"),
            ({"a": "y", "b": "q", "c": 2.5, "d": 0.5, "e": 0}, "params.c"),
            ({"a": "y", "b": "q", "c": True, "d": 0.5, "e": 0}, "params.c"),
            ({"a": "y", "b": "q", "c": float("inf"), "d": 0.5, "e": 0}, "params.c"),
            ({"a": "y", "b": "q", "c": float("nan"), "d": 0.5, "e": 0}, "params.c"),
            ({"a": "x", "b": "p", "d": 0.5, "e": 0}, "params.b"),
            ({"a": "y", "b": "p", "c": 1, "d": 0.5, "e": 0}, "params.c"),
            ({"a": "x", "d": 0.5, "e": 0, "zz": 1}, "params.zz"),
        ],
    )
    def test_errors_name_the_parameter(self, params: dict[str, Any], field: str) -> None:
        err = self.error(params)
        assert err.field == field

    def test_reasons(self) -> None:
        assert "missing" in self.error({"a": "x", "e": 0}).reason
        assert "inactive" in self.error({"a": "x", "b": "p", "d": 0, "e": 0}).reason
        assert "not a parameter" in self.error({"a": "x", "d": 0, "e": 0, "q": 1}).reason
        assert "1.5" in self.error({"a": "x", "d": 1.5, "e": 0}).reason

    def test_custom_field_name_and_non_mapping(self) -> None:
        assert self.error({"a": "x", "e": 0}, "trial.params").field == "trial.params.d"
        assert self.error([("a", "x")]).field == "params"

    def test_contains_never_raises(self) -> None:
        s = space(self.S)
        assert not s.contains({"a": "x", "d": 0.5, "e": 0, "extra": 1})
        assert not s.contains({"a": "y", "b": "q", "c": float("inf"), "d": 0.5, "e": 0})
        assert s.contains({"a": "x", "d": 0.5, "e": 0.75})


# -- key ----------------------------------------------------------------------------------------


class TestKey:
    def test_float_noise_is_the_same_point(self) -> None:
        s = space()
        assert s.key({"x": 0.1 + 0.2}) == s.key({"x": 0.3})
        assert hash(s.key({"x": 0.1 + 0.2})) == hash(s.key({"x": 0.3}))
        assert s.key({"x": 1e-7 * 3}) == s.key({"x": 3e-7})
        assert s.key({"x": 0.3}) != s.key({"x": 0.3001})

    def test_one_true_and_string_one_differ(self) -> None:
        s = space()
        keys = {s.key({"c": 1}), s.key({"c": True}), s.key({"c": "1"})}
        assert len(keys) == 3
        assert s.key({"c": 0}) != s.key({"c": False})
        assert s.key({"c": None}) != s.key({"c": "None"})

    def test_int_and_integral_float_are_the_same_point(self) -> None:
        s = space()
        assert s.key({"n": 2}) == s.key({"n": 2.0})

    def test_order_does_not_matter_and_names_do(self) -> None:
        s = space()
        assert s.key({"a": 1, "b": "x"}) == s.key({"b": "x", "a": 1})
        assert s.key({"a": 1}) != s.key({"b": 1})
        assert s.key({"a": 1}) != s.key({"a": 1, "b": 1})


# -- grids --------------------------------------------------------------------------------------


class TestGrid:
    def test_size_of_a_plain_grid(self) -> None:
        s = space(
            {
                "x": {"type": "float", "low": 0, "high": 1},
                "n": {"type": "int", "low": 1, "high": 100},
                "c": ["a", "b", "c"],
            }
        )
        points = list(s.grid(4))
        assert len(points) == 4 * 4 * 3 == s.grid_size(4)
        assert len({s.key(p) for p in points}) == len(points)
        assert sorted({p["x"] for p in points}) == pytest.approx([0, 1 / 3, 2 / 3, 1])
        assert all(s.validate(p) == p for p in points)

    def test_grid_includes_the_ends(self) -> None:
        s = space({"lr": {"type": "float", "low": 1e-4, "high": 1, "log": True}})
        values = [p["lr"] for p in s.grid(5)]
        assert values[0] == 1e-4 and values[-1] == 1.0
        assert values == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1])

    def test_resolution_one_is_the_middle(self) -> None:
        s = space({"x": {"type": "float", "low": 0, "high": 4}})
        assert [p["x"] for p in s.grid(1)] == [2.0]

    def test_conditional_branches_only_under_active_parents(self) -> None:
        s = space(
            {
                "a": ["x", "y"],
                "b": {"type": "categorical", "choices": ["p", "q"], "when": {"a": "y"}},
                "c": {"type": "int", "low": 1, "high": 3, "when": {"b": "q"}},
                "d": {"type": "float", "low": 0, "high": 1},
            }
        )
        points = list(s.grid(3))
        # d: 3 values; a=x: 1; a=y,b=p: 1; a=y,b=q: 3 values of c
        assert len(points) == 3 * (1 + 1 + 3) == s.grid_size(3)
        assert len({s.key(p) for p in points}) == len(points)
        for p in points:
            assert s.validate(p) == p
            assert ("b" in p) == (p["a"] == "y")
            assert ("c" in p) == (p.get("b") == "q")

    def test_grid_values_int_smaller_than_resolution_is_every_int(self) -> None:
        p = one({"type": "int", "low": 3, "high": 6})
        assert p.grid_values(10) == [3, 4, 5, 6]
        assert p.grid_values(4) == [3, 4, 5, 6]
        stepped = one({"type": "int", "low": 0, "high": 12, "step": 4})
        assert stepped.grid_values(50) == [0, 4, 8, 12]

    def test_grid_values_int_larger_than_resolution(self) -> None:
        p = one({"type": "int", "low": 0, "high": 100})
        values = p.grid_values(5)
        assert values[0] == 0 and values[-1] == 100
        assert len(values) == 5 and values == sorted(set(values))
        assert all(type(v) is int for v in values)

    def test_grid_values_step_float_are_on_the_step(self) -> None:
        p = one({"type": "float", "low": 0.5, "high": 1.0, "step": 0.05})
        values = p.grid_values(4)
        assert values[0] == 0.5 and values[-1] == 1.0
        assert all(p.contains(v) for v in values)
        assert len(p.grid_values(1000)) == 11  # never more than the distinct legal values

    def test_step_float_across_zero_has_an_exact_zero(self) -> None:
        p = one({"type": "float", "low": -0.3, "high": 0.3, "step": 0.1})
        assert p.grid_values(100) == [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]
        assert p.from_unit(0.5) == 0.0
        s = SearchSpace((p,))
        assert s.key({"p": p.from_unit(0.5)}) == s.key({"p": 0.0})
        assert one({"type": "float", "low": -0.3, "high": 0.05, "step": 0.1}).high == 0.0
        assert at(s.narrow({"p": -0.3}, 0.5), "p").high == 0.0

    def test_grid_values_categorical_are_all_choices(self) -> None:
        assert one(["a", "b", "c"]).grid_values(1) == ["a", "b", "c"]

    def test_grid_size_stops_at_limit(self) -> None:
        s = space({f"x{i}": {"type": "float", "low": 0, "high": 1} for i in range(8)})
        assert s.grid_size(10, limit=1000) == 1000


# -- narrowing ----------------------------------------------------------------------------------


def width(p: Any, original: Any) -> float:
    """Width of ``p``'s range in the unit space of ``original``."""
    return float(original.to_unit(p.high) - original.to_unit(p.low))


class TestNarrow:
    def test_float_halves_around_center(self) -> None:
        s = space({"x": {"type": "float", "low": 0, "high": 10}})
        x = at(s.narrow({"x": 4.0}, 0.5), "x")
        assert (x.low, x.high) == pytest.approx((1.5, 6.5))
        assert width(x, s["x"]) == pytest.approx(0.5)

    @pytest.mark.parametrize("center", [0.0, 0.3, 9.9, 10.0])
    def test_edges_shift_not_cut(self, center: float) -> None:
        s = space({"x": {"type": "float", "low": 0, "high": 10}})
        x = at(s.narrow({"x": center}, 0.5), "x")
        assert 0.0 <= x.low <= center <= x.high <= 10.0
        assert x.high - x.low == pytest.approx(5.0)
        assert (x.low == 0.0) or (x.high == 10.0)

    def test_log_narrows_in_log_scale(self) -> None:
        s = space({"lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}})
        lr = at(s.narrow({"lr": 1e-3}, 0.5), "lr")
        assert lr.log
        assert (lr.low, lr.high) == pytest.approx((1e-4, 1e-2))
        edge = at(s.narrow({"lr": 1e-5}, 0.25), "lr")
        assert edge.low == 1e-5
        assert edge.high == pytest.approx(1e-4)

    def test_int_keeps_integer_bounds(self) -> None:
        s = space({"m": {"type": "int", "low": 0, "high": 100}})
        m = at(s.narrow({"m": 50}, 0.5), "m")
        assert isinstance(m, IntParameter)
        assert type(m.low) is int and type(m.high) is int
        assert (m.low, m.high) == (25, 75)
        tiny = at(s.narrow({"m": 0}, 0.001), "m")
        assert tiny.low == 0 and tiny.high > tiny.low

    def test_step_keeps_the_step_grid(self) -> None:
        s = space(
            {
                "si": {"type": "int", "low": 2, "high": 20, "step": 3},
                "sf": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.1},
            }
        )
        t = s.narrow({"si": 11, "sf": 0.5}, 0.5)
        si, sf = at(t, "si"), at(t, "sf")
        assert si.step == 3 and (si.low - 2) % 3 == 0 and (si.high - 2) % 3 == 0
        assert si.low <= 11 <= si.high and si.low >= 2 and si.high <= 20
        assert sf.step == 0.1
        assert s["sf"].contains(sf.low) and s["sf"].contains(sf.high)
        assert sf.low <= 0.5 <= sf.high
        assert (sf.low, sf.high) == pytest.approx((0.2, 0.8))
        # every value of the narrowed parameters is a value of the original ones
        for u in np.linspace(0, 1, 101):
            assert s["si"].contains(si.from_unit(u))
            assert s["sf"].contains(sf.from_unit(u))

    def test_categorical_and_unset_parameters_unchanged(self) -> None:
        s = space()
        t = s.narrow({"x": 0.5, "booster": "dart"}, 0.5)
        assert t["booster"] == s["booster"]
        assert t["lr"] == s["lr"] and t["n"] == s["n"] and t["mode"] == s["mode"]
        assert t["x"] != s["x"]
        assert t.names == s.names

    def test_center_outside_the_range_leaves_it(self) -> None:
        s = space({"x": {"type": "float", "low": 0, "high": 1}})
        assert s.narrow({"x": 5.0}, 0.5) == s

    def test_fraction_one_is_the_same_space(self) -> None:
        s = space()
        center = s.sample(np.random.default_rng(0))
        assert s.narrow(center, 1.0) == s

    @pytest.mark.parametrize("fraction", [0, -0.5, 1.5])
    def test_bad_fraction(self, fraction: float) -> None:
        with pytest.raises(SpecError) as info:
            space().narrow({}, fraction)
        assert info.value.field == "narrow"

    def test_narrowed_space_round_trips(self) -> None:
        s = space()
        t = s.narrow(s.sample(np.random.default_rng(2)), 0.3)
        assert SearchSpace.from_dict(t.to_dict()) == t

    @settings(max_examples=200, deadline=None)
    @given(
        kind=st.sampled_from([k for k in ONE_PARAM if k != "categorical"]),
        u=st.floats(0.0, 1.0),
        fraction=st.floats(0.01, 1.0),
    )
    def test_narrowed_is_legal_inside_and_around_center(
        self, kind: str, u: float, fraction: float
    ) -> None:
        p = one(ONE_PARAM[kind])
        center = p.from_unit(u)
        s = SearchSpace((p,))
        q = at(s.narrow({"p": center}, fraction), "p")
        assert type(q) is type(p) and q.log == p.log and q.step == p.step
        assert p.low <= q.low < q.high <= p.high
        assert p.contains(q.low) and p.contains(q.high)
        assert q.contains(center)
        w = width(q, p)
        if isinstance(p, FloatParameter) and p.step is None:
            assert w == pytest.approx(fraction, abs=1e-9)
        else:  # snapped to legal values: the asked width give or take a step at each end
            unit_step = width(at(SearchSpace((p,)).narrow({"p": p.low}, 1e-9), "p"), p)
            assert w >= fraction - 2 * unit_step - 1e-9
            assert w <= fraction + 2 * unit_step + 1e-9


@settings(max_examples=200, deadline=None)
@given(
    spec=st.sampled_from(
        [
            {"type": "int", "low": 2, "high": 10},
            {"type": "int", "low": 1, "high": 1024, "log": True},
            {"type": "int", "low": 3, "high": 7, "log": True},
            {"type": "int", "low": -7, "high": 20, "step": 3},
            {"type": "float", "low": -0.3, "high": 0.7, "step": 0.05},
            {"type": "float", "low": 0.5, "high": 1.0, "step": 0.1},
            {"type": "float", "low": 0, "high": 1e6, "step": 0.001},
        ]
    ),
    u=st.lists(st.floats(-0.5, 1.5), min_size=1, max_size=50),
    seed=st.integers(0, 1000),
)
def test_snapping_many_points_at_once_is_snapping_each(
    spec: dict[str, Any], u: list[float], seed: int
) -> None:
    p = parse_parameter("p", spec)
    assert isinstance(p, NumericParameter)
    # the points a search snaps: anywhere, on the grid's half-way marks, at its ends
    k = np.random.default_rng(seed).integers(0, 40, size=20)
    marks = [p.to_unit(p.from_unit(x)) for x in np.linspace(0, 1, 20)]
    points = np.array([*u, *(k + 0.5) / 40, *marks, 0.0, 1.0, -0.0])
    values, units = p.snapped_units(points)
    assert values.tolist() == [float(p.from_unit(float(x))) for x in points]
    assert units.tolist() == [p.to_unit(p.from_unit(float(x))) for x in points]
    with pytest.raises(ValueError):
        p.snapped_units(np.array([0.5, np.nan]))
