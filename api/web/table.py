"""A study's trials as columns in memory (one per field and parameter), so that the leaderboard
sorts, filters and pages on the server in milliseconds at 100,000 trials, and plots sample from
the same columns. Built from ``Storage.trial_rows``, kept per study state (``snapshots.py``)."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuner.api.web.param_column import ParamColumn, float_array, float_or_none
from tuner.errors import SpecError
from tuner.pareto import crowding, fronts, violation_of
from tuner.storage.activity import TrialRows
from tuner.study import StudySpec
from tuner.trial import TrialState

STATES = [s.value for s in TrialState]
CODES = {s: i for i, s in enumerate(STATES)}
FIXED = ("rank", "number", "round", "algorithm", "state", "value", "duration", "attempts")
MAX_METRICS = 20


@dataclass(frozen=True)
class Filter:
    """Which rows a page shows: states, a round (from 1), and param ranges or choices."""

    states: tuple[str, ...] = ()
    round: int | None = None
    ranges: tuple[tuple[str, float | None, float | None], ...] = ()
    choices: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, states: Sequence[str], round: int | None, params: Sequence[str]) -> Filter:
        """From query values; ``params`` items are ``name:low:high`` (either end may be empty)
        or ``name=choice``. A bad one is a SpecError naming ``param``."""
        for s in states:
            if s not in STATES:
                raise SpecError("state", f"must be one of {', '.join(STATES)}")
        ranges, choices = [], []
        for item in params:
            if "=" in item and (":" not in item or item.index("=") < item.index(":")):
                name, _, choice = item.partition("=")
                choices.append((name, choice))
                continue
            name, low, high = (item.rsplit(":", 2) + ["", ""])[:3] if ":" in item else ("", "", "")
            if not name:
                raise SpecError("param", "must be 'name:low:high' or 'name=choice'")
            ranges.append((name, _number(low), _number(high)))
        return cls(tuple(states), round, tuple(ranges), tuple(choices))


def _number(text: str) -> float | None:
    if text.strip() == "":
        return None
    try:
        x = float(text)
    except ValueError:
        raise SpecError("param", f"{text!r} is not a number") from None
    if math.isnan(x):
        raise SpecError("param", "a bound cannot be NaN")
    return x


class StudyTable:
    """Columns of a study's trials (row ``i`` is the ``i``-th trial by number), built once and
    then ``updated`` with the rows that changed: a trial in a final state never changes again."""

    def __init__(self, spec: StudySpec, rows: TrialRows) -> None:
        self.spec = spec
        self.maximize = spec.direction.value == "maximize"
        self.algorithms = [r.algorithm for r in spec.plan]
        self.number = np.array(rows.number, dtype=np.int64)
        self.round = np.array(rows.round, dtype=np.int32)
        self.state = np.array([CODES[x] for x in rows.state], dtype=np.int8)
        self.value = float_array(rows.value)
        self.attempts = np.array(rows.attempts, dtype=np.int32)
        self.duration = float_array(rows.duration)
        self.curve = np.array(rows.curve, dtype=bool)
        self.params = {p.name: ParamColumn.of(p, rows.params) for p in spec.space}
        names = metric_names(spec, {k for v in rows.values for k in v})
        self.metrics = {k: float_array([v.get(k) for v in rows.values]) for k in names}
        # from every value, not the kept metric columns (constraints may be more than those)
        self.violation = np.array([violation_of(v) for v in rows.values], dtype=float)
        self._rank()

    @property
    def size(self) -> int:
        return len(self.number)

    @property
    def unfinished(self) -> list[int]:
        """Numbers of the trials that may still change."""
        waiting_or_running = (self.state == CODES["waiting"]) | (self.state == CODES["running"])
        return [int(x) for x in self.number[waiting_or_running]]

    def updated(self, spec: StudySpec, rows: TrialRows) -> StudyTable:
        """A new table: this one with ``rows`` replaced or added (this one is left as is, for
        the requests still reading it)."""
        if not len(rows):
            return self
        new = copy.copy(self)
        new.spec, new.algorithms = spec, [r.algorithm for r in spec.plan]
        numbers = np.array(rows.number, dtype=np.int64)
        at = np.searchsorted(self.number, numbers)
        if self.size:
            known = (at < self.size) & (self.number[np.minimum(at, self.size - 1)] == numbers)
        else:
            known = np.zeros(len(numbers), dtype=bool)
        fresh = ~known
        where = at[known]

        def merged(old: np.ndarray, values: np.ndarray) -> np.ndarray:
            out = np.concatenate([old, values[fresh]])
            out[where] = values[known]
            return out

        new.number = merged(self.number, numbers)
        new.round = merged(self.round, np.array(rows.round, dtype=np.int32))
        new.state = merged(self.state, np.array([CODES[x] for x in rows.state], dtype=np.int8))
        new.value = merged(self.value, float_array(rows.value))
        new.attempts = merged(self.attempts, np.array(rows.attempts, dtype=np.int32))
        new.duration = merged(self.duration, float_array(rows.duration))
        new.curve = merged(self.curve, np.array(rows.curve, dtype=bool))
        new.params = {
            name: col.updated(rows.params, known, where) for name, col in self.params.items()
        }
        new.violation = merged(
            self.violation, np.array([violation_of(v) for v in rows.values], dtype=float)
        )
        new.metrics = {
            k: merged(col, float_array([v.get(k) for v in rows.values]))
            for k, col in self.metrics.items()
        }
        # a metric first seen now (the table was built before any trial reported it): its
        # column, empty for the older rows, while there is room; in a fresh table's order
        names = metric_names(spec, set(self.metrics) | {k for v in rows.values for k in v})
        for k in names:
            if k not in new.metrics and len(new.metrics) < MAX_METRICS + len(spec.objectives):
                empty = np.full(self.size, np.nan)
                new.metrics[k] = merged(empty, float_array([v.get(k) for v in rows.values]))
        new.metrics = {k: new.metrics[k] for k in [*names, *new.metrics] if k in new.metrics}
        if not np.all(np.diff(new.number) > 0):  # rows came out of order: rebuild in order
            return StudyTable(spec, _rows_of(new))
        new._rank()
        return new

    def _rank(self) -> None:
        """Complete trials best first, as the API's leaderboard ranks them
        (``tuner.pareto.rank``): one metric by value, several front by front and each front
        by crowding; infeasible trials (a constraint above 0) after the feasible ones, least
        violation first. ``front``: 0 for the Pareto front, -1 where none (not complete,
        infeasible or missing a metric; one metric: every complete trial is -1)."""
        complete = np.flatnonzero(self.state == CODES["complete"])
        violation = self.violation[complete]
        self.front = np.full(self.size, -1, dtype=np.int64)
        # several metrics: the feasible complete trials with every metric, in table order, and
        # their metrics as costs (smaller is better), one row each
        self.feasible = np.empty(0, dtype=np.int64)
        self.feasible_costs = np.empty((0, len(self.spec.objectives)))
        if not self.spec.multi_objective:  # by violation (0: feasible), then value, number
            v = self.value[complete]
            keys = (self.number[complete], -v if self.maximize else v, violation)
            order = complete[np.lexsort(keys)]
        else:
            costs = np.column_stack(
                [
                    self.metric_column(name)[complete] * (-1.0 if d.value == "maximize" else 1.0)
                    for name, d in self.spec.objectives
                ]
            )
            whole = np.isfinite(costs).all(axis=1)
            ok = whole & (violation == 0)
            points = [tuple(p) for p in costs[ok].tolist()]
            rows = complete[ok]
            self.feasible, self.feasible_costs = rows, costs[ok]
            ranked: list[int] = []
            for k, members in enumerate(fronts(points)):
                distance = crowding(points, members)
                members.sort(key=lambda i: (-distance[i], int(self.number[rows[i]])))
                self.front[rows[members]] = k
                ranked += [int(rows[i]) for i in members]
            bad = whole & (violation > 0)  # infeasible: least violation first
            infeasible = complete[bad][np.lexsort((self.number[complete[bad]], violation[bad]))]
            missing = np.sort(complete[~whole])  # a metric missing: last, by number
            order = np.concatenate([np.array(ranked, dtype=np.int64), infeasible, missing])
        self.rank = np.full(self.size, -1, dtype=np.int64)
        self.rank[order] = np.arange(1, len(order) + 1)
        self.complete = order  # complete trials, best first

    def viewed_as(self, metric: str | None) -> StudyTable:
        """This table with ``metric`` (one of a multi-objective study's metrics) as its value:
        its column, its direction, the complete trials that reported it best first by it (ties
        by number), what the plots of one metric read. None or the first metric: this table.
        SpecError naming ``metric`` for a name that is not one of the study's metrics."""
        if metric is None or metric == (self.spec.metric or "value"):
            return self
        directions = dict(self.spec.objectives) if self.spec.multi_objective else {}
        if metric not in directions:
            known = ", ".join(name for name, _ in self.spec.objectives)
            raise SpecError("metric", f"{metric!r} is not a metric of this study ({known})")
        view = copy.copy(self)
        view.value = self.metric_column(metric)
        view.maximize = directions[metric].value == "maximize"
        done = np.flatnonzero((self.state == CODES["complete"]) & np.isfinite(view.value))
        v = view.value[done]
        view.complete = done[np.lexsort((self.number[done], -v if view.maximize else v))]
        return view

    def metric_column(self, name: str) -> np.ndarray:
        """The column of metric ``name`` (the first metric is ``value``; NaN if not kept)."""
        if name == (self.spec.metric or "value"):
            return self.value
        return self.metrics.get(name, np.full(self.size, np.nan))

    def columns(self) -> list[dict[str, Any]]:
        """What the table shows, in order: the fixed columns, each metric, each parameter."""
        out = fixed_columns(self.spec)
        out += [{"key": f"metric:{k}", "label": k, "kind": "metric"} for k in self.metrics]
        out += [
            {"key": f"param:{k}", "label": k, "kind": "param", "type": c.kind, **c.describe()}
            for k, c in self.params.items()
        ]
        return out

    def select(self, where: Filter) -> np.ndarray:
        """Indices of the rows ``where`` keeps, in number order."""
        keep = np.ones(self.size, dtype=bool)
        if where.states:
            keep &= np.isin(self.state, [STATES.index(s) for s in where.states])
        if where.round is not None:
            keep &= self.round == where.round - 1
        for name, low, high in where.ranges:
            x = self._param(name).numeric
            if x is None:
                raise SpecError("param", f"{name!r} is not a numeric parameter")
            with np.errstate(invalid="ignore"):
                if low is not None:
                    keep &= x >= low
                if high is not None:
                    keep &= x <= high
        for name, choice in where.choices:
            keep &= self._param(name).matches(choice)
        return np.flatnonzero(keep)

    def _param(self, name: str) -> ParamColumn:
        if name not in self.params:
            raise SpecError("param", f"the study has no parameter {name!r}")
        return self.params[name]

    def sort(self, rows: np.ndarray, key: str, descending: bool) -> np.ndarray:
        """``rows`` sorted by column ``key`` (empty cells last either way, ties by number)."""
        if key in ("rank", "front"):
            ranks = (self.rank if key == "rank" else self.front)[rows]
            primary = np.where(ranks < 0, math.nan, ranks.astype(float))
        elif key in ("number", "round", "attempts", "state"):
            primary = getattr(self, key)[rows].astype(float)
        elif key in ("value", "duration"):
            primary = getattr(self, key)[rows]
        elif key == "algorithm":
            primary = self.round[rows].astype(float)
        elif key.startswith("metric:") and key[7:] in self.metrics:
            primary = self.metrics[key[7:]][rows]
        elif key.startswith("param:") and key[6:] in self.params:
            primary = self.params[key[6:]].sort_key()[rows]
        else:
            raise SpecError("sort", f"no column {key!r}")
        missing = np.isnan(primary)
        signed = np.where(missing, 0.0, -primary if descending else primary)
        return rows[np.lexsort((self.number[rows], signed, missing))]

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as the page shows it."""
        r = int(self.round[i])
        return {
            "number": int(self.number[i]),
            "rank": int(self.rank[i]) if self.rank[i] > 0 else None,
            "round": r + 1,
            "algorithm": self.algorithms[r] if r < len(self.algorithms) else None,
            "state": STATES[self.state[i]],
            "value": float_or_none(self.value[i]),
            "metrics": {k: float_or_none(v[i]) for k, v in self.metrics.items()},
            "params": {k: c.at(i) for k, c in self.params.items()},
            "duration": float_or_none(self.duration[i]),
            "attempts": int(self.attempts[i]),
        } | ({"front": self._front_label(i)} if self.spec.multi_objective else {})

    def _front_label(self, i: int) -> int | str | None:
        """Several metrics: a complete trial's front as people count (1 is the Pareto front,
        as ``tuner leaderboard`` shows it), or "infeasible"; None otherwise."""
        if not self.spec.multi_objective or self.rank[i] < 0:
            return None
        return front_label(int(self.front[i]) if self.front[i] >= 0 else None)


def metric_names(spec: StudySpec, seen: set[str]) -> list[str]:
    """The metric columns of a study whose trials reported the metrics ``seen``: every metric
    of a multi-objective study after the first (which is ``value``), reported or not yet, then
    the other metrics and constraints by name, ``MAX_METRICS`` of them at most."""
    first = spec.metric or "value"
    objectives = [name for name, _ in spec.objectives[1:]] if spec.multi_objective else []
    others = sorted(seen - {first, "value", *objectives})
    return objectives + others[:MAX_METRICS]


def fixed_columns(spec: StudySpec) -> list[dict[str, Any]]:
    """The leaderboard's fixed columns; with several metrics the front beside the rank and the
    value under the first metric's name."""
    fixed: tuple[str, ...] = FIXED
    labels: dict[str, str | None] = {}
    if spec.multi_objective:
        fixed, labels = ("rank", "front", *FIXED[1:]), {"value": spec.metric}
    return [{"key": k, "label": labels.get(k) or k, "kind": "fixed"} for k in fixed]


def front_label(front: int | None) -> int | str:
    """A front as people count it (1 is the Pareto front, as ``tuner leaderboard`` shows it),
    or "infeasible" (also for a trial missing a metric)."""
    return "infeasible" if front is None else front + 1


def _rows_of(table: StudyTable) -> TrialRows:
    """A table's rows back as ``TrialRows`` (to rebuild it in order)."""
    n = range(table.size)
    return TrialRows(
        number=table.number.tolist(),
        round=table.round.tolist(),
        state=[STATES[x] for x in table.state],
        value=[float_or_none(x) for x in table.value],
        attempts=table.attempts.tolist(),
        duration=[float_or_none(x) for x in table.duration],
        curve=table.curve.tolist(),
        params=[{k: c.at(i) for k, c in table.params.items() if c.at(i) is not None} for i in n],
        values=[
            {k: v for k, c in table.metrics.items() if (v := float_or_none(c[i])) is not None}
            for i in n
        ],
    )


def page(
    table: StudyTable, where: Filter, sort: str, descending: bool, offset: int, limit: int
) -> dict[str, Any]:
    """The rows of one page of the leaderboard, with the count the filter keeps."""
    rows = table.sort(table.select(where), sort, descending)
    return {
        "total": int(len(rows)),
        "trials": table.size,
        "offset": offset,
        "limit": limit,
        "sort": sort,
        "descending": descending,
        "rows": [table.row(int(i)) for i in rows[offset : offset + limit]],
    }
