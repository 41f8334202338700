"""The plan: a budget and a plan together, and how a resumed study takes up a longer one."""

from __future__ import annotations

import pytest

from tuner.config import Limits
from tuner.errors import SpecError
from tuner.plan import REFINE_OPTIONS, Round, default_plan, parse_plan, resumed_plan


def test_a_budget_and_a_plan_must_agree() -> None:
    plan = [{"algorithm": "random", "trials": 4}, {"algorithm": "grid", "trials": 6}]
    rounds, budget = parse_plan({"plan": plan, "trials": 10}, Limits())
    assert budget == 10 and [r.trials for r in rounds] == [4, 6]
    with pytest.raises(SpecError) as info:
        parse_plan({"plan": plan, "trials": 12}, Limits())
    assert info.value.field == "trials" and "add up to 10" in info.value.reason


def test_numbers_written_as_yaml_strings_are_read() -> None:
    rounds, budget = parse_plan({"trials": "1e2"}, Limits())
    assert budget == 100 and sum(r.trials for r in rounds) == 100


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"trials": 10**20}, "trials"),
        ({"plan": [{"algorithm": "random", "trials": 600_000}] * 2}, "plan"),
        (
            {"plan": [{"algorithm": "random", "trials": 5, "parallelism": 10**6}]},
            "plan[0].parallelism",
        ),
    ],
)
def test_a_plan_past_the_server_s_limits_is_refused(data: dict, field: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_plan(data, Limits())
    assert info.value.field == field and "allows" in info.value.reason


class TestResumedPlan:
    def test_a_larger_budget_in_progress_goes_to_the_rounds_not_yet_passed(self) -> None:
        old = default_plan(30)  # 6 random, 20 bayesian, 4 narrowed
        plan, current = resumed_plan(old, 30, default_plan(36), 36, [6, 12, 0], current=1)
        assert current == 1 and sum(r.trials for r in plan) == 36
        assert plan[0] == old[0]  # the finished warm-up keeps its size
        assert [r.algorithm for r in plan] == ["random", "bayesian", "bayesian"]
        assert plan[1].trials > old[1].trials and plan[2].narrow == 0.25

    def test_a_larger_budget_after_the_plan_is_done_adds_a_narrowed_round(self) -> None:
        old = default_plan(30)
        plan, current = resumed_plan(old, 30, default_plan(36), 36, [6, 20, 4], current=3)
        assert plan[:3] == old and current == 3
        assert plan[3] == Round("bayesian", 6, narrow=0.25, options=dict(REFINE_OPTIONS))

    def test_a_small_random_study_grown_past_ten_gets_the_model_based_rounds(self) -> None:
        old = default_plan(8)
        plan, _ = resumed_plan(old, 8, default_plan(30), 30, [8], current=1)
        assert plan[0] == Round("random", 8) and sum(r.trials for r in plan) == 30
        assert [r.algorithm for r in plan[1:]] == ["bayesian", "bayesian"]

    def test_a_smaller_budget_is_refused(self) -> None:
        with pytest.raises(SpecError) as info:
            resumed_plan(default_plan(30), 30, default_plan(20), 20, [6, 20, 4], current=3)
        assert info.value.field == "trials" and "smaller" in info.value.reason

    def test_the_last_round_of_a_finished_plan_may_grow(self) -> None:
        old = (Round("random", 6), Round("grid", 3, narrow=0.5))
        new = (Round("random", 6), Round("grid", 5, narrow=0.5))
        plan, current = resumed_plan(old, None, new, None, [6, 3], current=2)
        assert plan == new and current == 1  # back in the last round, for its 2 new trials

    def test_rounds_may_be_added_at_the_end(self) -> None:
        old = (Round("random", 6),)
        new = (Round("random", 6), Round("bayesian", 10))
        assert resumed_plan(old, None, new, None, [6], current=1) == (new, 1)

    @pytest.mark.parametrize(
        ("new", "field"),
        [
            ((Round("random", 6),), "plan"),  # shorter
            (
                (Round("random", 9), Round("grid", 3, narrow=0.5)),
                "plan[0].trials",
            ),  # a passed round
            ((Round("bayesian", 6), Round("grid", 3, narrow=0.5)), "plan[0]"),
        ],
    )
    def test_what_would_undo_work_is_refused(self, new: tuple, field: str) -> None:
        old = (Round("random", 6), Round("grid", 3, narrow=0.5))
        with pytest.raises(SpecError) as info:
            resumed_plan(old, None, new, None, [6, 1], current=1)
        assert info.value.field == field
