"""What a watching page reads: a cheap fingerprint of a study's activity (has anything changed
since?), its trials as light rows (no logs, no curves) and the curves of a few trials."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, case, cast, func, select

from tuner.storage.base import StorageBase
from tuner.storage.records import STATES, aware
from tuner.storage.schema import StudyRow, TrialRow
from tuner.trial import TrialState


@dataclass(frozen=True)
class LightTrial:
    """A trial without its attempt log, error text and intermediate values (a leaderboard row
    and a plot point need none of them); ``curve`` says whether it reported any."""

    number: int
    round: int
    state: TrialState
    value: float | None
    values: dict[str, float]
    params: dict[str, Any]
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    curve: bool


class StudyActivity(StorageBase):
    """Reads for pages that watch a study change."""

    def study_fingerprint(self, study: str) -> str:
        """A short text that changes whenever the study's state, plan position or any trial's
        state, attempt, end or (while running) intermediate values change: one aggregate query
        over the study's trials, no row leaves the database."""
        running = TrialRow.state == TrialState.RUNNING
        with self._session() as s:
            row = self._study_row(s, study)
            agg = s.execute(
                select(
                    func.count(),
                    func.sum(TrialRow.attempt),
                    func.sum(case((TrialRow.state == TrialState.COMPLETE, 1), else_=0)),
                    func.sum(case((running, 1), else_=0)),
                    func.sum(case((TrialRow.state == TrialState.WAITING, 1), else_=0)),
                    func.max(TrialRow.finished_at),
                    func.max(TrialRow.started_at),
                    func.sum(
                        case((running, func.length(cast(TrialRow.intermediate, Text))), else_=0)
                    ),
                ).where(TrialRow.study_id == row.id)
            ).one()
            parts = (row.id, row.state, row.round, row.revision, *agg)
        return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:16]

    def light_trials(self, study: str) -> list[LightTrial]:
        """Every trial of the study, light, in number order: one query."""
        has_curve = func.length(cast(TrialRow.intermediate, Text)) > 2  # not '[]'
        with self._session() as s:
            study_id = self._study_row(s, study).id
            rows = s.execute(
                select(
                    TrialRow.number,
                    TrialRow.round,
                    TrialRow.state,
                    TrialRow.value,
                    TrialRow.values,
                    TrialRow.params,
                    TrialRow.attempt,
                    TrialRow.started_at,
                    TrialRow.finished_at,
                    has_curve,
                )
                .where(TrialRow.study_id == study_id)
                .order_by(TrialRow.number)
            ).all()
        return [
            LightTrial(
                number=r[0],
                round=r[1],
                state=STATES[r[2]],
                value=r[3],
                values=r[4] or {},
                params=r[5] or {},
                attempts=r[6],
                started_at=aware(r[7]),
                finished_at=aware(r[8]),
                curve=bool(r[9]),
            )
            for r in rows
        ]

    def round_progress(self, studies: Sequence[str]) -> dict[str, dict[int, int]]:
        """Finished trials per round of each of ``studies`` (stored names): one query."""
        if not studies:
            return {}
        finished = [TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED]
        with self._session() as s:
            rows = s.execute(
                select(StudyRow.name, TrialRow.round, func.count())
                .join(TrialRow, TrialRow.study_id == StudyRow.id)
                .where(StudyRow.name.in_(list(studies)), TrialRow.state.in_(finished))
                .group_by(StudyRow.name, TrialRow.round)
            ).all()
        out: dict[str, dict[int, int]] = {name: {} for name in studies}
        for name, r, n in rows:
            out[name][int(r)] = int(n)
        return out

    def curves(self, study: str, numbers: Sequence[int]) -> dict[int, list[tuple[int, float]]]:
        """The intermediate values of the given trials, by number."""
        if not numbers:
            return {}
        with self._session() as s:
            study_id = self._study_row(s, study).id
            rows = s.execute(
                select(TrialRow.number, TrialRow.intermediate).where(
                    TrialRow.study_id == study_id, TrialRow.number.in_(list(numbers))
                )
            ).all()
        return {n: [(int(a), float(b)) for a, b in (pts or [])] for n, pts in rows}
