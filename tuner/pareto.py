"""Pareto ranking of multi-objective trials (first front first, then by crowding), constraint
violation (feasible when every constraint is <= 0; infeasible trials rank after feasible ones,
least violation first), and the hypervolume of a front and of a study as it grew."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tuner.errors import SpecError
from tuner.study import Direction
from tuner.trial import Trial, TrialState

CONSTRAINT = "constraint."  # values[f"constraint.{i}"] holds the objective's i-th constraint


@dataclass(frozen=True)
class Ranked:
    """A trial's place: its front (0 is the Pareto front; None when infeasible or missing a
    metric), its crowding distance in that front, its constraint violation."""

    trial: Trial
    front: int | None
    crowding: float
    violation: float


def violation(trial: Trial) -> float:
    """How far ``trial`` is from feasible: the sum of its positive constraints (0: feasible)."""
    return violation_of(trial.values)


def violation_of(values: Mapping[str, float]) -> float:
    """``violation`` of a trial's ``values``."""
    return sum(max(v, 0.0) for k, v in values.items() if k.startswith(CONSTRAINT))


def constrained_cost(history: Sequence[Trial], direction: Direction) -> Callable[[Trial], float]:
    """A complete trial's value as a cost to minimise, for a search of one metric with
    constraints: a feasible trial's own; an infeasible one's past every feasible one of
    ``history``, by one to two spans of their costs, more the more it violates, so that a model
    or a selection steers clear; before any trial is feasible, its violation (the search looks
    for feasibility first). Without an infeasible trial: the value in the direction."""
    done = [t for t in history if t.state is TrialState.COMPLETE and t.value is not None]
    broken = [violation(t) for t in done]

    def plain(t: Trial) -> float:
        return direction.sort_key(float(t.value if t.value is not None else math.nan))

    if not any(v > 0 for v in broken):
        return plain
    feasible = [
        c for t, v in zip(done, broken, strict=True) if v == 0 and math.isfinite(c := plain(t))
    ]
    if not feasible:
        return violation
    worst = max(feasible)
    span = (worst - min(feasible)) or 1.0

    def cost(t: Trial) -> float:
        c, v = plain(t), violation(t)
        return c if v == 0 else max(c, worst) + span * (1.0 + v / (1.0 + v))

    return cost


def costs(trial: Trial, objectives: Sequence[tuple[str, Direction]]) -> tuple[float, ...] | None:
    """The trial's metrics as numbers to minimise (None if one is missing)."""
    out = []
    for name, direction in objectives:
        value = trial.values.get(name)
        if value is None:
            return None
        out.append(direction.sort_key(float(value)))
    return tuple(out)


def objectives_option(
    metrics: Sequence[Sequence[str]] | None,
) -> list[tuple[str, Direction]] | None:
    """A multi-objective algorithm's ``metrics`` option (``[[name, direction], ...]``, given by
    the scheduler from the study's metrics) as ``(name, Direction)`` pairs; None when absent."""
    if not metrics:
        return None
    try:
        return [(str(name), Direction(str(d))) for name, d in metrics]
    except (TypeError, ValueError):
        raise SpecError("metrics", "must be [[name, direction], ...]") from None


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (all minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def fronts(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """Non-dominated sorting: the indices of ``points`` front by front, each in index order
    (two objectives: a sweep in O(n log n), so a leaderboard of many trials ranks quickly)."""
    if len(points) and all(len(p) == 2 for p in points):
        return _fronts_2d(points)
    n = len(points)
    beaten_by = [0] * n
    beats: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                beats[i].append(j)
                beaten_by[j] += 1
            elif dominates(points[j], points[i]):
                beats[j].append(i)
                beaten_by[i] += 1
    out: list[list[int]] = []
    current = [i for i in range(n) if beaten_by[i] == 0]
    while current:
        out.append(current)
        following = []
        for i in current:
            for j in beats[i]:
                beaten_by[j] -= 1
                if beaten_by[j] == 0:
                    following.append(j)
        current = sorted(following)
    return out


def nondominated(points: Sequence[Sequence[float]]) -> list[int]:
    """The indices of the Pareto front of ``points`` (``fronts(points)[0]``) in index order.
    Past two objectives the points are taken a block at a time against the front so far, so
    the cost grows with the points times the front, not with the points squared."""
    if len(points) == 0 or len(points[0]) == 2:
        return _first_front(points)
    n = len(points)
    *_, (_, front) = _fronts_so_far(points, range(min(n, _BLOCK), n + _BLOCK, _BLOCK))
    return front


def hypervolume_history(
    points: Sequence[Sequence[float]], reference: Sequence[float], checkpoints: int = 200
) -> list[tuple[int, float]]:
    """How the hypervolume grew: ``(k, hypervolume of the first k points)`` for k at up to
    ``checkpoints`` evenly spread counts, the last one ``len(points)``; a volume is computed
    again only when the front changed."""
    n = len(points)
    if n == 0:
        return []
    steps = min(n, max(1, checkpoints))
    cuts = sorted({round(x) for x in np.linspace(n / steps, n, steps)})
    out: list[tuple[int, float]] = []
    last: list[int] = []
    volume = 0.0
    for k, front in _fronts_so_far(points, cuts):
        if front != last:
            last, volume = front, hypervolume([points[i] for i in front], reference)
        out.append((k, volume))
    return out


_BLOCK = 1000  # points taken at a time against the front so far


def _fronts_so_far(
    points: Sequence[Sequence[float]], cuts: Iterable[int]
) -> Iterator[tuple[int, list[int]]]:
    """The Pareto front (indices, in order) of the first k points for each k of ``cuts``
    (increasing; past the end means the end): each from the front before and the points since,
    since a point off the front of a prefix is off the front of every longer one."""
    front: list[int] = []
    start = 0
    for cut in cuts:
        k = min(cut, len(points))
        batch = front + list(range(start, k))
        front = [batch[i] for i in _first_front([points[j] for j in batch])]
        start = k
        yield k, front


def _first_front(points: Sequence[Sequence[float]]) -> list[int]:
    """``fronts(points)[0]``: by the sweep with two objectives, else by numpy, a block of rows
    against all at a time."""
    if len(points) == 0:
        return []
    if len(points[0]) == 2:
        return _fronts_2d(points)[0]
    a = np.asarray(points, dtype=float)
    beaten = np.zeros(len(a), dtype=bool)
    block = max(1, 2_000_000 // (len(a) * a.shape[1]))
    for start in range(0, len(a), block):
        rows = a[start : start + block, None, :]  # does row r dominate point j?
        dominate = (rows <= a[None, :, :]).all(2) & (rows < a[None, :, :]).any(2)
        beaten |= dominate.any(0)
    return [int(i) for i in np.flatnonzero(~beaten)]


def _fronts_2d(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """``fronts`` of two objectives. In lexicographic order every point that dominates another
    comes before it, and a front dominates the point at hand exactly when its lowest second
    objective (taken by the earliest member holding it) is below the point's, or equal with a
    lower first objective; the fronts' lowest values only grow from one front to the next, so
    the point's front is found by bisection."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    lowest: list[tuple[float, float]] = []  # per front: (lowest second, its first)
    members: list[list[int]] = []
    for i in order:
        a, b = points[i][0], points[i][1]
        lo, hi = 0, len(lowest)
        while lo < hi:  # the first front that does not dominate (a, b)
            mid = (lo + hi) // 2
            low_b, low_a = lowest[mid]
            if low_b < b or (low_b == b and low_a < a):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(lowest):
            lowest.append((b, a))
            members.append([i])
        else:
            if b < lowest[lo][0]:
                lowest[lo] = (b, a)
            members[lo].append(i)
    return [sorted(front) for front in members]


def crowding(points: Sequence[Sequence[float]], front: Sequence[int]) -> dict[int, float]:
    """NSGA-II's crowding distance of each member of ``front`` (the ends: infinite)."""
    distance = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: float("inf") for i in front}
    for m in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda i: (points[i][m], i))
        low, high = points[ordered[0]][m], points[ordered[-1]][m]
        distance[ordered[0]] = distance[ordered[-1]] = float("inf")
        if high == low:
            continue
        for k in range(1, len(ordered) - 1):
            gap = points[ordered[k + 1]][m] - points[ordered[k - 1]][m]
            distance[ordered[k]] += gap / (high - low)
    return distance


def rank(trials: Sequence[Trial], objectives: Sequence[tuple[str, Direction]]) -> list[Ranked]:
    """Complete trials best first: feasible ones front by front, each front by crowding
    (widest first, then number); then infeasible ones by violation; then those missing a metric.
    """
    done = [t for t in trials if t.state is TrialState.COMPLETE]
    feasible: list[Trial] = []
    points: list[tuple[float, ...]] = []
    rest: list[Ranked] = []
    for t in done:
        point = costs(t, objectives)
        v = violation(t)
        if point is None or v > 0:
            rest.append(Ranked(t, None, 0.0, v if point is not None else float("inf")))
        else:
            feasible.append(t)
            points.append(point)
    out: list[Ranked] = []
    for k, front in enumerate(fronts(points)):
        distance = crowding(points, front)
        for i in sorted(front, key=lambda i: (-distance[i], feasible[i].number)):
            out.append(Ranked(feasible[i], k, distance[i], 0.0))
    rest.sort(key=lambda r: (r.violation, r.trial.number))
    return out + rest


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The volume dominated by ``points`` (all minimised) and bounded by ``reference``; points
    not better than the reference in every objective add nothing. Exact: a sweep in two
    dimensions, slicing along the last objective above (fine for fronts of hundreds)."""
    kept = [tuple(p) for p in points if all(x < r for x, r in zip(p, reference, strict=True))]
    if not kept:
        return 0.0
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in kept)
    if len(reference) == 2:
        volume, best_y = 0.0, reference[1]
        for x, y in sorted(kept):
            if y < best_y:
                volume += (reference[0] - x) * (best_y - y)
                best_y = y
        return volume
    kept.sort(key=lambda p: p[-1])
    volume = 0.0
    for k, p in enumerate(kept):
        top = kept[k + 1][-1] if k + 1 < len(kept) else reference[-1]
        if top > p[-1]:
            volume += (top - p[-1]) * hypervolume([q[:-1] for q in kept[: k + 1]], reference[:-1])
    return volume


def reference_point(
    points: Sequence[Sequence[float]], given: Sequence[float | None]
) -> tuple[float, ...]:
    """The reference of a study's hypervolume: each metric's ``reference`` when given (already
    as a cost), else the worst value seen plus a tenth of the range (1 when flat)."""
    out = []
    for m, fixed in enumerate(given):
        if fixed is not None:
            out.append(float(fixed))
            continue
        column = [p[m] for p in points]
        low, high = min(column), max(column)
        out.append(high + ((high - low) * 0.1 if high > low else 1.0))
    return tuple(out)
