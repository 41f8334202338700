"""The data of the study page's plots, sampled or binned on the server: whatever the study's
size, a plot gets at most a few thousand numbers.

Samples are stable: a trial is in the sample when a hash of its number falls below the sampled
fraction, so a growing study keeps the points already drawn, and the best trials are always in."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tuner.api.web.table import StudyTable
from tuner.importance import METHOD, importances
from tuner.pareto import hypervolume_history, reference_point
from tuner.storage import Storage

HISTORY_POINTS = 2000
BEST_STEPS = 1000
LINES = 300
SLICE_POINTS = 600
CURVES = 20
CURVE_POINTS = 150
ALWAYS = 50  # the best trials are in every sample
HYPERVOLUME_STEPS = 200


def plots(
    storage: Storage, study: str, table: StudyTable, metric: str | None = None
) -> dict[str, Any]:
    """Every plot's data for the study page; with several metrics the history, importance,
    parallel coordinates, slices and rounds are of ``metric`` (default: the first)."""
    spec = table.spec
    view = table.viewed_as(metric)
    complete = view.complete  # best first
    several = spec.multi_objective
    return {
        "trials": table.size,
        "complete": int(len(table.complete)),
        "direction": "maximize" if view.maximize else "minimize",
        "algorithms": table.algorithms,
        "history": plot_history(view),
        "parallel": _parallel(view, _sample(view, complete, LINES)),
        "importance": _importance(view),
        "slices": _slices(view, _sample(view, complete, SLICE_POINTS)),
        "rounds": _rounds(view),
        "curves": _curves(storage, study, table),
        "pareto": _pareto(table) if several else None,
        "hypervolume": _hypervolume(table) if several else None,
        # what "value" is on the plots: several metrics, the one shown (by its name)
        "value_label": (metric or spec.metric if several else None) or "value",
        "metrics": [name for name, _ in spec.objectives] if several else None,
    }


def _pareto(table: StudyTable) -> dict[str, Any]:
    """Several metrics: the complete trials on the first two, each with its front (0 the
    Pareto front, -1 infeasible or missing a metric); every member of the Pareto front (up to
    ``HISTORY_POINTS``) and a stable sample of the rest."""
    (first, d0), (second, d1) = table.spec.objectives[:2]
    x, y = table.metric_column(first), table.metric_column(second)
    ranked = table.complete  # the Pareto front first
    front = ranked[table.front[ranked] == 0][:HISTORY_POINTS]
    rows = np.union1d(front, _sample_of(table.number, ranked, HISTORY_POINTS))
    points = [
        [float(x[i]), float(y[i]), int(table.front[i]), int(table.number[i])]
        for i in rows
        if math.isfinite(x[i]) and math.isfinite(y[i])
    ]
    return {
        "names": [first, second],
        "metrics": len(table.spec.objectives),
        "directions": [d0.value, d1.value],
        "points": points,
        "front": int(len(front)),
        "sampled": len(rows) < len(ranked),
    }


def _hypervolume(table: StudyTable) -> dict[str, Any]:
    """Several metrics: the hypervolume of the feasible trials up to each trial number (at up
    to ``HYPERVOLUME_STEPS`` numbers), against the reference of the study's own hypervolume
    (``Storage.hypervolume``: a metric's ``reference``, else the worst seen), so the line ends
    at the value the summary gives."""
    order = np.argsort(table.number[table.feasible], kind="stable")  # as the trials came
    points = [tuple(p) for p in table.feasible_costs[order].tolist()]
    number = table.number[table.feasible[order]]
    last = int(table.number.max()) if table.size else 0
    if not points:
        return {"points": [], "last": last}
    given = [m.reference_cost for m in table.spec.metrics]
    grown = hypervolume_history(points, reference_point(points, given), HYPERVOLUME_STEPS)
    return {"points": [[int(number[k - 1]), v] for k, v in grown], "last": last}


def _sample(table: StudyTable, rows: np.ndarray, size: int) -> np.ndarray:
    """At most ``size`` of ``rows`` (best first): the ``ALWAYS`` first (the best) and a stable
    hash sample of the rest, in number order."""
    return _sample_of(table.number, rows, size)


def _sample_of(number: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """``_sample`` over the trial numbers ``number`` (``rows`` index it)."""
    if len(rows) <= size:
        return np.sort(rows)
    head, rest = rows[:ALWAYS], rows[ALWAYS:]
    share = (size - len(head)) / len(rest)
    h = (number[rest].astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    picked = rest[h.astype(float) / 2**32 < share][: size - len(head)]
    return np.sort(np.concatenate([head, picked]))


def plot_history(table: StudyTable) -> dict[str, Any]:
    """The history plot from the study's table."""
    done = np.sort(table.complete)
    last = int(table.number.max()) if table.size else 0
    feasible = table.violation[done] == 0
    value = table.value[done]
    return history(table.number[done], table.round[done], value, table.maximize, last, feasible)


def history(
    number: np.ndarray,
    round: np.ndarray,
    value: np.ndarray,
    maximize: bool,
    last: int,
    feasible: np.ndarray,
) -> dict[str, Any]:
    """The history plot from the complete trials in number order (the study's table or
    ``Storage.complete_values``, the same data either way): each one's value by number
    (sampled; 1 after the round when it broke a constraint), coloured by round, and the best
    feasible value so far as a step line (only the steps where it improved, thinned past
    ``BEST_STEPS``); ``last`` is the highest trial number."""
    cost = -value if maximize else value
    best_first = np.lexsort((number, cost, ~feasible))  # the feasible first, as ranked
    points = _sample_of(number, best_first, HISTORY_POINTS)
    kept = np.where(feasible & np.isfinite(cost), cost, np.inf)
    best = np.minimum.accumulate(kept)
    changed = np.concatenate([[True], best[1:] != best[:-1]])[: len(best)]
    steps = np.flatnonzero(changed & np.isfinite(best))
    if len(steps) > BEST_STEPS:
        steps = steps[np.linspace(0, len(steps) - 1, BEST_STEPS).astype(int)]
    return {
        "points": [
            [int(number[i]), float(value[i]), int(round[i]) + 1, int(not feasible[i])]
            for i in points
        ],
        "best": [[int(number[i]), float(value[i])] for i in steps],
        "last": max(0, last),
        "sampled": len(points) < len(number),
    }


def quick_history(storage: Storage, study: str) -> dict[str, Any]:
    """The history plot's data without the study's table: from an indexed query of the
    complete trials' number, round and value."""
    spec = storage.get_study(study).spec
    got = storage.complete_values(study)
    value = np.array([np.nan if v is None else v for v in got.value], dtype=float)
    maximize = spec.direction.value == "maximize"
    number = np.array(got.number, dtype=np.int64)
    rounds = np.array(got.round, dtype=np.int32)
    feasible = np.array(got.violation, dtype=float) == 0
    return {
        "direction": spec.direction.value,
        "algorithms": [r.algorithm for r in spec.plan],
        "history": history(number, rounds, value, maximize, got.last, feasible),
    }


def _parallel(table: StudyTable, rows: np.ndarray) -> dict[str, Any]:
    axes = []
    for name, col in table.params.items():
        axis: dict[str, Any] = {"name": name, "kind": col.kind, **col.describe()}
        axis["values"] = [col.value_of(int(i)) for i in rows]
        axes.append(axis)
    return {
        "axes": axes,
        "values": [float(table.value[i]) for i in rows],
        "sampled": len(rows) < len(table.complete),
    }


def _importance(table: StudyTable) -> dict[str, Any]:
    rows = np.sort(table.complete)
    columns = {
        name: (col.numeric if col.numeric is not None else col.codes)[rows]  # type: ignore[index]
        for name, col in table.params.items()
    }
    categorical = {name for name, col in table.params.items() if col.numeric is None}
    found = importances(columns, table.value[rows], categorical) if len(rows) else []
    return {
        "method": METHOD,
        "items": [{"param": x.param, "share": x.share, "trials": x.trials} for x in found],
    }


def _slices(table: StudyTable, rows: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for name, col in table.params.items():
        points = [
            [x, float(table.value[i])] for i in rows if (x := col.value_of(int(i))) is not None
        ]
        out.append({"name": name, "kind": col.kind, **col.describe(), "points": points})
    return out


def _rounds(table: StudyTable) -> list[dict[str, Any]]:
    """A box per round over its complete trials: quartiles, whiskers at 1.5 IQR."""
    out = []
    done = table.complete
    for r in range(max(len(table.algorithms), int(table.round.max()) + 1 if table.size else 0)):
        v = table.value[done[table.round[done] == r]]
        box: dict[str, Any] = {
            "round": r + 1,
            "algorithm": table.algorithms[r] if r < len(table.algorithms) else None,
            "n": int(len(v)),
        }
        if len(v):
            q1, median, q3 = (float(x) for x in np.quantile(v, [0.25, 0.5, 0.75]))
            reach = 1.5 * (q3 - q1)
            inside = v[(v >= q1 - reach) & (v <= q3 + reach)]
            box |= {
                "q1": q1,
                "median": median,
                "q3": q3,
                "low": float(inside.min()),
                "high": float(inside.max()),
                "min": float(v.min()),
                "max": float(v.max()),
            }
        out.append(box)
    return out


def _curves(storage: Storage, study: str, table: StudyTable) -> list[dict[str, Any]]:
    """The intermediate values of the best trials that reported some and of the latest ones
    (running ones too), each thinned to ``CURVE_POINTS``."""
    with_curve = np.flatnonzero(table.curve)
    if not len(with_curve):
        return []
    best = {int(i) for i in table.complete[table.curve[table.complete]][: CURVES // 2]}
    latest = [int(i) for i in with_curve[::-1][:CURVES] if int(i) not in best]
    chosen = sorted(best | set(latest[: CURVES - len(best)]))
    found = storage.curves(study, [int(table.number[i]) for i in chosen])
    out = []
    for i in chosen:
        number = int(table.number[i])
        points = found.get(number, [])
        if len(points) > CURVE_POINTS:
            keep = np.linspace(0, len(points) - 1, CURVE_POINTS).astype(int)
            points = [points[k] for k in keep]
        out.append(
            {
                "number": number,
                "state": table.row(i)["state"],
                "points": [[s, v] for s, v in points if math.isfinite(v)],
            }
        )
    return out
