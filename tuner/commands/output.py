"""How the commands print: aligned tables and short numbers, trials and leaderboards."""

from __future__ import annotations

import math
from typing import Any

from tuner.storage import Storage
from tuner.trial import Trial


def table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def number(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.6g}" if math.isfinite(v) else str(v)


def duration(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def params(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={number(v) if isinstance(v, float) else v}" for k, v in values.items())


def round_of(trial: Trial) -> int:
    """The round as users count them: from 1 (stored from 0)."""
    return trial.round + 1


def leaderboard(storage: Storage, study: str, top: int | None) -> None:
    spec = storage.get_study(study).spec
    if spec.multi_objective:
        pareto_leaderboard(storage, study, top)
        return
    ranked = storage.ranked(study, top)
    if not ranked:
        print("no complete trials yet")
        return
    # a trial that broke a constraint ranks after the feasible ones: say by how much
    broken = any(r.violation > 0 for r in ranked)
    rows = [
        [
            i + 1,
            r.trial.number,
            round_of(r.trial),
            number(r.trial.value),
            *([number(r.violation) if r.violation > 0 else "-"] if broken else []),
            r.trial.attempt,
            duration(r.trial.duration),
            params(r.trial.params),
        ]
        for i, r in enumerate(ranked)
    ]
    head = ["rank", "#", "round", "value", *(["violation"] if broken else [])]
    table([*head, "attempts", "time", "params"], rows)


def pareto_leaderboard(storage: Storage, study: str, top: int | None) -> None:
    """Several metrics: every trial with its front (1 is the Pareto front) and its values, the
    front first by crowding; then the hypervolume of the front."""
    spec = storage.get_study(study).spec
    ranked = storage.ranked(study, top)
    if not ranked:
        print("no complete trials yet")
        return
    names = [name for name, _ in spec.objectives]
    rows = [
        [
            i + 1,
            r.trial.number,
            "infeasible" if r.front is None else r.front + 1,
            *[number(r.trial.values.get(n)) for n in names],
            params(r.trial.params),
        ]
        for i, r in enumerate(ranked)
    ]
    table(["rank", "#", "front", *names, "params"], rows)
    print(f"hypervolume: {number(storage.hypervolume(study))}")
