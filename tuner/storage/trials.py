"""Reading trials: by number, by state, paged, best first, counted."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from tuner.storage.base import StorageBase
from tuner.storage.records import trial_of
from tuner.storage.schema import TrialRow
from tuner.trial import Trial, TrialState


class TrialReader(StorageBase):
    """The trial rows as the CLI, the API and the leaderboard read them."""

    def trials(
        self,
        study: str,
        states: Sequence[TrialState] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Trial]:
        """Trials of a study in number order, optionally only some states, paged."""
        with self._session() as s:
            study_id = self._study_row(s, study).id
            q = select(TrialRow).where(TrialRow.study_id == study_id)
            if states:
                q = q.where(TrialRow.state.in_([str(x) for x in states]))
            q = q.order_by(TrialRow.number).offset(offset)
            if limit is not None:
                q = q.limit(limit)
            return [trial_of(study, r) for r in s.scalars(q)]

    def leaderboard(self, study: str, top: int | None = None) -> list[Trial]:
        """Complete trials, best first (ties by number), in one query."""
        with self._session() as s:
            row = self._study_row(s, study)
            best_first = (
                TrialRow.value.desc()
                if row.spec.get("direction") == "maximize"
                else TrialRow.value.asc()
            )
            q = (
                select(TrialRow)
                .where(TrialRow.study_id == row.id, TrialRow.state == TrialState.COMPLETE)
                .order_by(best_first, TrialRow.number)
                .limit(top)
            )
            return [trial_of(study, r) for r in s.scalars(q)]

    def count_trials(self, study: str, states: Sequence[TrialState] | None = None) -> int:
        with self._session() as s:
            q = (
                select(func.count())
                .select_from(TrialRow)
                .where(TrialRow.study_id == self._study_row(s, study).id)
            )
            if states:
                q = q.where(TrialRow.state.in_([str(x) for x in states]))
            return int(s.scalar(q) or 0)

    def trials_per_round(self, study: str) -> dict[int, int]:
        """How many trials each round of a study has (any state)."""
        with self._session() as s:
            rows = s.execute(
                select(TrialRow.round, func.count())
                .where(TrialRow.study_id == self._study_row(s, study).id)
                .group_by(TrialRow.round)
            )
            return {int(r): int(n) for r, n in rows}

    def trial(self, study: str, number: int) -> Trial:
        with self._session() as s:
            return trial_of(study, self._trial_row(s, study, number))
