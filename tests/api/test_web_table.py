"""The web page's server side without a browser: the fingerprint and light rows on SQLite and
PostgreSQL, the in-memory table's sort, filter and paging, the plots' bounded sizes at 100,000
trials, and the importance estimate on a known function."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tuner.api.web import plots as plot_data
from tuner.api.web.first_page import first_page
from tuner.api.web.rows_html import fmt, head_html, page_info, rows_html, seconds
from tuner.api.web.snapshots import KEPT_STUDIES, Snapshots
from tuner.api.web.study_yaml import line_of
from tuner.api.web.table import CODES, Filter, StudyTable, page
from tuner.errors import NotFound, SpecError
from tuner.executor import TrialOutcome
from tuner.importance import importances
from tuner.pareto import rank as pareto_rank
from tuner.scheduler import Scheduler
from tuner.storage import Storage
from tuner.storage.activity import TrialRows
from tuner.study import StudySpec, StudyState
from tuner.trial import Attempt, Trial, TrialState


def spec(n: int = 100, direction: str = "minimize") -> StudySpec:
    return StudySpec.from_dict(
        {
            "name": "t",
            "direction": direction,
            "space": {
                "x": {"type": "float", "low": 0, "high": 1},
                "noise": {"type": "float", "low": 0, "high": 1},
                "kind": {"type": "categorical", "choices": ["<b>", "b", 3]},
            },
            "plan": [
                {"algorithm": "random", "trials": n // 2},
                {"algorithm": "random", "trials": n},
            ],
        }
    )


def synthetic(n: int, seed: int = 0) -> TrialRows:
    """``n`` trials whose value is 10 x + a little noise; every tenth failed."""
    rng = np.random.default_rng(seed)
    x, noise = rng.random(n), rng.random(n)
    numbers = list(range(n))
    failed = [i % 10 == 9 for i in numbers]
    return TrialRows(
        number=numbers,
        round=[0 if i < n // 2 else 1 for i in numbers],
        state=["failed" if f else "complete" for f in failed],
        value=[
            None if f else float(10 * a + 0.1 * b) for f, a, b in zip(failed, x, noise, strict=True)
        ],
        attempts=[1] * n,
        duration=[float(i % 7) for i in numbers],
        curve=[i % 50 == 0 for i in numbers],
        params=[
            {"x": float(a), "noise": float(b), "kind": ["<b>", "b", 3][i % 3]}
            for i, a, b in zip(numbers, x, noise, strict=True)
        ],
        values=[{} for _ in numbers],
    )


def test_sort_filter_and_page() -> None:
    table = StudyTable(spec(), synthetic(100))
    got = page(table, Filter(), "rank", False, 0, 10)
    assert got["total"] == 100 and [r["rank"] for r in got["rows"]] == list(range(1, 11))
    values = [r["value"] for r in got["rows"]]
    assert values == sorted(values)
    # failed trials have no value: last whichever the order
    for descending in (False, True):
        rows = page(table, Filter(), "value", descending, 0, 100)["rows"]
        assert [r["value"] is None for r in rows] == [False] * 90 + [True] * 10
    xs = [r["params"]["x"] for r in page(table, Filter(), "param:x", True, 0, 100)["rows"]]
    assert xs == sorted(xs, reverse=True)
    where = Filter.parse(["complete"], 2, ["x:0.2:0.6", "kind=<b>"])
    rows = page(table, where, "number", False, 0, 1000)["rows"]
    assert rows and all(
        r["state"] == "complete" and r["round"] == 2 and 0.2 <= r["params"]["x"] <= 0.6
        for r in rows
    )
    assert {r["params"]["kind"] for r in rows} == {"<b>"}
    three = page(table, Filter.parse([], None, ["kind=3"]), "number", False, 0, 1000)["rows"]
    assert {r["params"]["kind"] for r in three} == {3}
    second = page(table, Filter(), "number", False, 10, 10)["rows"]
    assert [r["number"] for r in second] == list(range(10, 20))


@pytest.mark.parametrize(
    ("states", "params", "field"),
    [(["done"], [], "state"), ([], ["x:a:1"], "param"), ([], ["nope:0:1"], "param")],
)
def test_bad_filters_name_their_field(states: list[str], params: list[str], field: str) -> None:
    table = StudyTable(spec(), synthetic(20))
    with pytest.raises(SpecError) as err:
        table.select(Filter.parse(states, None, params))
    assert err.value.field == field
    with pytest.raises(SpecError) as err:
        table.sort(np.arange(20), "param:nope", False)
    assert err.value.field == "sort"


def test_plots_stay_small_at_100000_trials_and_importance_finds_x() -> None:
    trials = synthetic(100_000)
    table = StudyTable(spec(100_000), trials)

    class NoCurves:
        def curves(self, study: str, numbers: list[int]) -> dict[int, list[tuple[int, float]]]:
            return {n: [(s, 1.0 / (s + 1)) for s in range(1000)] for n in numbers}

    data = plot_data.plots(NoCurves(), "t", table)  # type: ignore[arg-type]
    assert len(data["history"]["points"]) <= plot_data.HISTORY_POINTS
    assert data["history"]["sampled"]
    assert len(data["history"]["best"]) <= plot_data.BEST_STEPS
    best = min(v for v in trials.value if v is not None)
    assert data["history"]["best"][-1][1] == best  # the best trial is always in
    assert len(data["parallel"]["values"]) <= plot_data.LINES
    assert all(len(s["points"]) <= plot_data.SLICE_POINTS for s in data["slices"])
    assert len(data["curves"]) <= plot_data.CURVES
    assert all(len(c["points"]) <= plot_data.CURVE_POINTS for c in data["curves"])
    assert [r["n"] for r in data["rounds"]] == [45_000, 45_000]
    ranked = [x["param"] for x in data["importance"]["items"]]
    assert ranked[0] == "x"
    shares = {x["param"]: x["share"] for x in data["importance"]["items"]}
    assert shares["x"] > 0.9 and shares["kind"] < 0.01


def test_importance_of_a_constant_or_tiny_study_is_zero() -> None:
    def one(x: list[float], y: list[float], categorical: bool = False) -> tuple[float, int]:
        got = importances({"x": np.array(x)}, np.array(y), {"x"} if categorical else ())
        return got[0].share, got[0].trials

    assert one([1.0, 2.0], [1.0, 2.0]) == (0.0, 2)
    assert one([1.0, 2.0, 3.0, 4.0], [5.0] * 4) == (0.0, 4)
    assert one([math.nan, 1.0, math.nan], [1.0, 2.0, 3.0]) == (0.0, 1)
    # two choices that split the ranks in halves explain 3/4 of their variance (its most)
    split = one([0, 1, 0, 1, -1] * 20, [0.0, 5.0, 0.1, 5.1, 9.0] * 20, categorical=True)
    assert split == (0.7469, 80)


def part(rows: TrialRows, start: int, stop: int) -> TrialRows:
    return TrialRows(**{k: list(v[start:stop]) for k, v in vars(rows).items()})


def test_a_table_updated_with_changed_rows_equals_one_read_anew() -> None:
    everything = synthetic(300)
    first = StudyTable(spec(300), part(everything, 0, 200))
    assert first.unfinished == []
    later = part(everything, 200, 300)
    updated = first.updated(spec(300), later)
    anew = StudyTable(spec(300), everything)
    assert updated.size == anew.size == 300
    for key in ("rank", "number", "round", "state", "value", "duration"):
        assert np.array_equal(getattr(updated, key), getattr(anew, key), equal_nan=True), key
    for name in ("x", "kind"):
        assert [updated.params[name].at(i) for i in range(300)] == [
            anew.params[name].at(i) for i in range(300)
        ]
    assert first.size == 200  # the old table is left as it was
    empty = StudyTable(spec(300), part(everything, 0, 0))
    assert empty.updated(spec(300), later).size == 100
    # a row replaced in place: trial 5 failed after all
    changed = part(everything, 5, 6)
    changed.state[0], changed.value[0] = "failed", None
    again = updated.updated(spec(300), changed)
    assert again.row(5)["state"] == "failed" and again.rank[5] == -1 and updated.rank[5] > 0


def test_an_empty_study_has_empty_plots() -> None:
    table = StudyTable(spec(), part(synthetic(0), 0, 0))
    data = plot_data.plots(None, "t", table)  # type: ignore[arg-type]
    assert data["history"]["points"] == [] and data["history"]["best"] == []
    assert page(table, Filter(), "rank", False, 0, 50)["rows"] == []


def test_the_line_of_a_field_in_yaml() -> None:
    text = "name: s\nspace:\n  x:\n    type: float\n    low: 5\nplan:\n  - {algorithm: r}\n"
    assert line_of(text, "space.x.low") == 5
    assert line_of(text, "space.x.nothing") == 3
    assert line_of(text, "plan[0].trials") == 7
    assert line_of(text, None) is None


def test_the_fingerprint_moves_with_the_study_and_light_rows_match(database_url: str) -> None:
    storage = Storage(database_url)
    study = spec(6)
    storage.create_study(study)
    scheduler = Scheduler(storage)
    prints = [storage.study_fingerprint("t")]
    claimed, _ = scheduler.claim("t", "w", 60)
    assert claimed is not None
    prints.append(storage.study_fingerprint("t"))
    storage.report("t", claimed.number, claimed.attempt, 0, 0.5)
    prints.append(storage.study_fingerprint("t"))
    assert storage.study_fingerprint("t") == prints[-1]  # nothing changed
    storage.finish(
        "t", claimed.number, claimed.attempt, TrialOutcome(TrialState.COMPLETE, value=1.5), 1
    )
    prints.append(storage.study_fingerprint("t"))
    assert len(set(prints)) == len(prints)
    rows = storage.trial_rows("t")
    at = rows.number.index(claimed.number)
    assert rows.value[at] == 1.5 and rows.curve[at] and rows.state[at] == "complete"
    assert sum(rows.curve) == 1 and rows.duration[at] is not None and rows.duration[at] >= 0
    assert rows.params[at] == claimed.params
    later = storage.trial_rows("t", after=max(rows.number), also=[claimed.number])
    assert claimed.number in later.number
    assert set(later.number) == {claimed.number} | {
        n for n, s in zip(rows.number, rows.state, strict=True) if s in ("waiting", "running")
    }
    assert storage.curves("t", [claimed.number]) == {claimed.number: [(0, 0.5)]}
    assert storage.round_progress(["t"]) == {"t": {0: 1}}
    assert math.isclose(StudyTable(study, rows).value[at], 1.5)
    storage.close()


def broke(number: int, best: int) -> bool:
    """Whether trial ``number`` of ``imported`` broke its constraint (``best``: the number of
    the complete trial with the best value)."""
    return number % 7 == 3 or number == best


def imported(storage: Storage, n: int) -> StudySpec:
    """Study ``t`` of ``n`` finished trials (``synthetic``: every tenth failed; every seventh
    broke a constraint) in ``storage``."""
    study, rows, t0 = spec(n), synthetic(n), datetime(2026, 1, 1, tzinfo=UTC)
    done = [
        (v, i) for i, v in enumerate(rows.value) if v is not None and rows.state[i] == "complete"
    ]
    best = min(done)[1] if done else -1
    trials = []
    for i in rows.number:
        start, end = t0 + timedelta(seconds=i), t0 + timedelta(seconds=i + 1.5)
        outcome = rows.state[i]
        trials.append(
            Trial(
                study="t",
                number=i,
                round=rows.round[i],
                params=rows.params[i],
                state=TrialState(outcome),
                attempt=1,
                value=rows.value[i],
                # every seventh trial broke a constraint, and the best by value
                values={}
                if rows.value[i] is None
                else {"value": rows.value[i], "constraint.0": 0.5 if broke(i, best) else -1.0},
                worker="w",
                created_at=start,
                started_at=start,
                finished_at=end,
                attempts=(Attempt(1, "w", start, end, outcome),),
            )
        )
    storage.import_study("t", study, StudyState.COMPLETE, 1, t0, trials)
    return study


def test_the_indexed_reads_equal_the_table_s(database_url: str) -> None:
    """The page's first rows and its history plot, read without the study's table (an indexed
    query each), are what the table gives: sampled the same way past 2,000 trials."""
    storage = Storage(database_url)
    study = imported(storage, 3000)
    table = StudyTable(study, storage.trial_rows("t"))
    quick = plot_data.quick_history(storage, "t")
    assert quick["history"] == plot_data.plot_history(table)
    # the best-so-far line is of feasible trials (as the summary's best), rings mark the rest
    points = quick["history"]["points"]
    complete = table.state == CODES["complete"]
    best = int(table.number[complete][np.argmin(table.value[complete])])
    assert {n for n, _, _, x in points if x} == {n for n, *_ in points if broke(n, best)}
    feasible = [
        v
        for n, v, ok in zip(table.number, table.value, complete, strict=True)
        if ok and not broke(int(n), best)
    ]
    assert quick["history"]["best"][-1][1] == min(feasible) > table.value[best]
    assert storage.study_summary("t").best_value == min(feasible)
    assert quick["history"]["sampled"] and quick["algorithms"] == ["random", "random"]
    for offset in (0, 50):
        fast = first_page(storage, "t", study, offset, 50)
        assert fast is not None
        slow = page(table, Filter(), "rank", False, offset, 50)
        # durations: the database computes the table's (SQLite's julianday: to ~1e-5 s)
        durations = [
            (a.pop("duration"), b.pop("duration"))
            for a, b in zip(fast["rows"], slow["rows"], strict=True)
        ]
        assert all(math.isclose(a, b, abs_tol=1e-3) for a, b in durations)
        assert fast["rows"] == slow["rows"]
        assert (fast["total"], fast["trials"]) == (slow["total"], slow["trials"]) == (3000, 3000)
    assert first_page(storage, "t", study, 2690, 50) is None  # 2,700 complete: not enough
    storage.close()


def test_the_first_rows_of_a_study_of_two_metrics_are_the_table_s(tmp_path: Path) -> None:
    """Several metrics (and constraints): the rows the server writes into the page, ranked by
    the storage, are the table's, front column included."""
    storage = Storage(f"sqlite:///{tmp_path / 'mo.db'}")
    base = {k: v for k, v in spec(120).to_dict().items() if k not in ("metric", "direction")}
    two = StudySpec.from_dict(
        {**base, "metrics": [{"name": "error"}, {"name": "speed", "direction": "maximize"}]}
    )
    rng = np.random.default_rng(7)
    trials = []
    for i in range(120):
        v = {"error": float(rng.integers(0, 9)), "speed": float(rng.integers(0, 9))}
        if i % 9 == 0:
            v["constraint.0"] = float(rng.integers(-1, 2))
        trials.append(
            Trial(
                "t",
                i,
                0,
                {"x": 0.5, "noise": 0.5, "kind": "b"},
                TrialState.COMPLETE,
                1,
                v["error"],
                v,
                worker="w",
            )
        )
    storage.import_study("t", two, StudyState.COMPLETE, 1, datetime(2026, 1, 1, tzinfo=UTC), trials)
    table = StudyTable(two, storage.trial_rows("t"))
    for offset in (0, 70):  # the best, and the last 50 (infeasible trials last)
        fast = first_page(storage, "t", two, offset, 50)
        assert fast is not None
        slow = page(table, Filter(), "rank", False, offset, 50)
        for a, b in zip(fast["rows"], slow["rows"], strict=True):
            a.pop("duration"), b.pop("duration")
        assert fast["rows"] == slow["rows"]
        assert fast["columns"][:3] == table.columns()[:3]
    assert {r["front"] for r in slow["rows"]} >= {"infeasible"}
    storage.close()


def test_rows_written_on_the_server_are_escaped_and_formatted_as_the_script_does() -> None:
    table = StudyTable(spec(30), synthetic(30))
    got = page(table, Filter(), "rank", False, 0, 50)
    got["columns"] = table.columns()
    html = rows_html("a/<b>", got)
    assert html.count("<tr ") == 30 and html.count('class="best"') == 1
    assert "&lt;b&gt;" in html and "<b>" not in html  # the hostile choice, as text
    assert 'href="/studies/a%2F%3Cb%3E/trials/' in html
    head = head_html([{"key": "param:<i>", "label": "<i>", "kind": "param"}], "param:<i>", True)
    assert head == (
        '<th data-key="param:&lt;i&gt;" title="sort by &lt;i&gt;" class="sorted desc">'
        "&lt;i&gt;</th>"
    )
    assert page_info(got) == "1-30 of 30"
    # what Plots.fmt and seconds() in the page's script write
    cases = {3.14159: "3.142", 123456.0: "1.23e+5", 0.0001234: "1.23e-4", 12345.6: "12350"}
    cases |= {0.0: "0", 1.0: "1", -2.5: "-2.5", math.nan: ""}
    assert {x: fmt(x) for x in cases} == cases
    assert [seconds(s) for s in (0.25, 61.5, 7300.0, None)] == [
        "0.2 s",
        "1 min 2 s",
        "2 h 2 min",
        "",
    ]


def test_the_kept_tables_and_their_locks_stay_bounded(tmp_path: Path) -> None:
    """However many studies pages watch (or names they ask for), the server keeps at most
    ``KEPT_STUDIES`` tables and as many locks."""
    storage = Storage(f"sqlite:///{tmp_path / 'tuner.db'}")
    snapshots = Snapshots(storage)
    for i in range(KEPT_STUDIES + 5):
        storage.create_study(StudySpec.from_dict({**spec(4).to_dict(), "name": f"s{i}"}))
        assert snapshots.get(f"s{i}").table.size == 0
        with pytest.raises(NotFound):
            snapshots.get(f"missing-{i}")
    assert len(snapshots._tables) == len(snapshots._study_locks) == KEPT_STUDIES
    assert not snapshots.has("s0") and snapshots.has(f"s{KEPT_STUDIES + 4}")
    # what is read before a table: kept as of a fingerprint, as many as tables, then dropped
    calls: list[str] = []
    for i in range(KEPT_STUDIES + 5):
        for fingerprint in ("a", "a", "b"):
            got = snapshots.early(f"e{i}", fingerprint, lambda: calls.append("x") or len(calls))
            assert got == len(calls)
    assert len(calls) == 2 * (KEPT_STUDIES + 5)  # once per fingerprint
    assert len(snapshots._early) == KEPT_STUDIES
    snapshots.early("s0", "a", lambda: 1)
    snapshots.get("s0")  # the table answers from now on
    assert "s0" not in snapshots._early
    storage.close()


def _trials_and_rows(
    values: list[dict[str, float]], states: list[str]
) -> tuple[list[Trial], TrialRows]:
    trials = [
        Trial(
            "t",
            i,
            0,
            {"x": 0.5, "noise": 0.5, "kind": "b"},
            TrialState(s),
            1,
            v.get("error"),
            v,
        )
        for i, (v, s) in enumerate(zip(values, states, strict=True))
    ]
    rows = TrialRows(
        number=[t.number for t in trials],
        round=[0] * len(trials),
        state=states,
        value=[t.value for t in trials],
        attempts=[1] * len(trials),
        duration=[1.0] * len(trials),
        curve=[False] * len(trials),
        params=[t.params for t in trials],
        values=[t.values for t in trials],
    )
    return trials, rows


def test_the_table_ranks_as_the_api_fronts_crowding_and_constraints() -> None:
    two = StudySpec.from_dict(
        {
            **{k: v for k, v in spec().to_dict().items() if k not in ("metric", "direction")},
            "metrics": [
                {"name": "error", "direction": "minimize"},
                {"name": "speed", "direction": "maximize"},
            ],
        }
    )
    rng = np.random.default_rng(3)
    values: list[dict[str, float]] = []
    for i in range(120):
        v = {"error": float(rng.integers(0, 6)), "speed": float(rng.integers(0, 6))}
        if i % 7 == 0:
            v["constraint.0"] = float(rng.integers(-2, 3))  # some feasible, some not
        if i % 31 == 5:
            del v["speed"]  # a metric missing: after everyone
        values.append(v)
    states = ["failed" if i % 13 == 4 else "complete" for i in range(120)]
    trials, rows = _trials_and_rows(values, states)
    table = StudyTable(two, rows)
    expected = pareto_rank(trials, two.objectives)
    got = page(table, Filter(), "rank", False, 0, 1000)["rows"]
    assert [r["number"] for r in got if r["rank"]] == [x.trial.number for x in expected]
    fronts_shown = {r["number"]: r["front"] for r in got}
    for x in expected:  # as tuner leaderboard shows it (a metric missing: no front either)
        assert fronts_shown[x.trial.number] == ("infeasible" if x.front is None else x.front + 1)
    assert {"infeasible", 1, 2} <= set(fronts_shown.values())
    assert [c["label"] for c in table.columns()][:3] == ["rank", "front", "number"]
    assert "error" in [c["label"] for c in table.columns()]  # the first metric by its name
    by_front = [r["front"] for r in page(table, Filter(), "front", True, 0, 1000)["rows"]]
    numbers = [f for f in by_front if isinstance(f, int)]
    assert numbers == sorted(numbers, reverse=True) and by_front[0] == max(numbers)


def test_one_metric_ranks_infeasible_trials_after_feasible_ones() -> None:
    values = [
        {"error": 1.0, "constraint.0": 2.0},  # best value, infeasible
        {"error": 3.0},
        {"error": 2.0, "constraint.0": -1.0},
        {"error": 0.5, "constraint.0": 0.5},  # infeasible, less violation
    ]
    trials, rows = _trials_and_rows(values, ["complete"] * 4)
    one = StudySpec.from_dict({**spec().to_dict(), "metric": "error"})
    table = StudyTable(one, rows)
    got = page(table, Filter(), "rank", False, 0, 10)["rows"]
    assert [r["number"] for r in got] == [2, 1, 3, 0]
    assert "front" not in got[0] and "front" not in [c["key"] for c in table.columns()]
    # more constraints than the table keeps as columns: the last one still counts
    many = {f"constraint.{i:02d}": -1.0 for i in range(30)} | {"constraint.29": 1.0}
    trials, rows = _trials_and_rows([{"error": 0.1, **many}, {"error": 5.0}], ["complete"] * 2)
    table = StudyTable(one, rows)
    assert "metric:constraint.29" not in [c["key"] for c in table.columns()]
    assert [r["number"] for r in page(table, Filter(), "rank", False, 0, 10)["rows"]] == [1, 0]


def test_three_metrics_rank_as_the_api() -> None:
    base = {k: v for k, v in spec().to_dict().items() if k not in ("metric", "direction")}
    three = StudySpec.from_dict(
        {
            **base,
            "metrics": [
                {"name": "error"},
                {"name": "speed", "direction": "maximize"},
                {"name": "size"},
            ],
        }
    )
    rng = np.random.default_rng(11)
    values = [{m: float(rng.integers(0, 4)) for m in ("error", "speed", "size")} for _ in range(80)]
    trials, rows = _trials_and_rows(values, ["complete"] * 80)
    table = StudyTable(three, rows)
    got = page(table, Filter(), "rank", False, 0, 1000)["rows"]
    expected = pareto_rank(trials, three.objectives)
    assert [r["number"] for r in got] == [x.trial.number for x in expected]
    assert [r["front"] for r in got] == [x.front + 1 for x in expected if x.front is not None]


def test_a_table_built_before_any_metric_was_reported_learns_them_as_trials_finish() -> None:
    """A study page opened before its first trial finished: the live updates add the metric
    columns (every objective of several metrics, the extra metrics and constraints), so the
    table ranks and shows as one built anew (it ranked every trial as missing a metric)."""
    two = StudySpec.from_dict(
        {
            **{k: v for k, v in spec().to_dict().items() if k not in ("metric", "direction")},
            "metrics": [
                {"name": "error", "direction": "minimize"},
                {"name": "speed", "direction": "maximize"},
            ],
        }
    )
    rng = np.random.default_rng(5)
    for study in (two, spec()):
        values: list[dict[str, float]] = []
        for i in range(30):
            v = {"error": float(rng.integers(0, 5)), "speed": float(rng.integers(0, 5))}
            if i % 3 == 0:
                v["accuracy"] = float(rng.random())
            if i % 4 == 0:
                v["constraint.0"] = float(rng.integers(-1, 2))
            values.append(v)
        states = ["complete"] * 30
        _, rows = _trials_and_rows(values, states)
        _, running = _trials_and_rows([{}] * 10, ["running"] * 10)
        first = StudyTable(study, running)  # ten trials running, none reported a metric
        # the ten finish with their metrics, twenty more come: known and fresh rows at once
        later = first.updated(study, rows)
        fresh = StudyTable(study, rows)
        assert list(later.metrics) == list(fresh.metrics) != []
        for k in fresh.metrics:
            np.testing.assert_array_equal(later.metrics[k], fresh.metrics[k])
        np.testing.assert_array_equal(later.complete, fresh.complete)
        np.testing.assert_array_equal(later.front, fresh.front)
        np.testing.assert_array_equal(later.violation, fresh.violation)
        assert [c["key"] for c in later.columns()] == [c["key"] for c in fresh.columns()]


def test_the_plots_of_one_metric_see_it_as_the_value() -> None:
    """``viewed_as``: a multi-objective table with another metric as its value, best first in
    its direction (ties by number), trials without it left out; a name that is no metric of
    the study is refused naming ``metric``."""
    two = StudySpec.from_dict(
        {
            **{k: v for k, v in spec().to_dict().items() if k not in ("metric", "direction")},
            "metrics": [{"name": "error"}, {"name": "speed", "direction": "maximize"}],
        }
    )
    values = [{"error": float(i % 3), "speed": float(i % 4)} for i in range(12)]
    del values[5]["speed"]
    _, rows = _trials_and_rows(values, ["complete"] * 11 + ["failed"])
    table = StudyTable(two, rows)
    view = table.viewed_as("speed")
    assert view.maximize and table.viewed_as("error") is table
    expected = sorted((i for i in range(11) if i != 5), key=lambda i: (-values[i]["speed"], i))
    assert view.complete.tolist() == expected
    assert view.value[3] == 3.0 and table.value[3] == 0.0  # the table itself unchanged
    data = plot_data.plots(Storage("sqlite://"), "t", table, "speed")
    assert data["value_label"] == "speed" and data["direction"] == "maximize"
    assert data["history"]["best"][-1][1] == 3.0
    with pytest.raises(SpecError) as err:
        table.viewed_as("latency")
    assert err.value.field == "metric"
