"""A page of the leaderboard, and its first page in its default order (best first) straight from
the database for a study whose in-memory table is not built yet: at 100,000 trials the table
takes seconds to read, the best rows a fraction of one. The table is built meanwhile for the
next request."""

from __future__ import annotations

from typing import Any

from tuner.api.web.snapshots import Snapshots
from tuner.api.web.table import Filter, fixed_columns, front_label, metric_names, page
from tuner.parameters import CategoricalParameter
from tuner.storage import Storage
from tuner.study import StudySpec
from tuner.trial import Trial, TrialState


def leaderboard_page(
    snapshots: Snapshots,
    key: str,
    where: Filter,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
    warm: bool = True,
) -> dict[str, Any]:
    """One page of study ``key``'s leaderboard with its columns and the fingerprint it is as of:
    the default order from an indexed query while the study's table is not built (the table is
    then built in the background, unless not ``warm``), else from the table."""
    if not snapshots.has(key) and where == Filter() and sort == "rank" and not descending:
        fingerprint = snapshots.fingerprint(key)
        storage = snapshots.storage
        fast = first_page(storage, key, storage.get_study(key).spec, offset, limit)
        if fast is not None:
            if warm:
                snapshots.warm(key)
            return {"fingerprint": fingerprint, **fast}
    snap = snapshots.get(key)
    out = page(snap.table, where, sort, descending, offset, limit)
    return {"fingerprint": snap.fingerprint, "columns": snap.table.columns(), **out}


def first_page(
    storage: Storage, key: str, spec: StudySpec, offset: int, limit: int
) -> dict[str, Any] | None:
    """Rows ``offset`` to ``offset + limit`` of the complete trials, best first, if the study
    has that many complete trials (else None: the table must say what follows them)."""
    complete = storage.count_trials(key, states=[TrialState.COMPLETE])
    if complete < offset + limit:
        return None
    ranked = storage.ranked(key, top=offset + limit)[offset:]
    trials = [r.trial for r in ranked]
    metrics = metric_names(spec, {k for t in trials for k in t.values})
    algorithms = [r.algorithm for r in spec.plan]
    columns = fixed_columns(spec)
    columns += [{"key": f"metric:{k}", "label": k, "kind": "metric"} for k in metrics]
    for p in spec.space:
        column: dict[str, Any] = {"key": f"param:{p.name}", "label": p.name, "kind": "param"}
        if isinstance(p, CategoricalParameter):
            column |= {"type": "categorical", "choices": [str(c) for c in p.choices]}
        else:
            column |= {"type": "numeric"}
        columns.append(column)
    trials_count = storage.count_trials(key)
    return {
        "columns": columns,
        "total": trials_count,
        "trials": trials_count,
        "offset": offset,
        "limit": limit,
        "sort": "rank",
        "descending": False,
        "rows": [
            _row(r.trial, offset + i + 1, algorithms, metrics)
            | ({"front": front_label(r.front)} if spec.multi_objective else {})
            for i, r in enumerate(ranked)
        ],
    }


def _row(t: Trial, rank: int, algorithms: list[str], metrics: list[str]) -> dict[str, Any]:
    return {
        "number": t.number,
        "rank": rank,
        "round": t.round + 1,
        "algorithm": algorithms[t.round] if t.round < len(algorithms) else None,
        "state": t.state.value,
        "value": t.value,
        "metrics": {k: t.values.get(k) for k in metrics},
        "params": dict(t.params),
        "duration": t.duration,
        "attempts": t.attempt,
    }
