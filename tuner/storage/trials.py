"""Reading trials: by number, by state, paged, best first, counted."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from tuner.pareto import (
    Ranked,
    costs,
    hypervolume,
    nondominated,
    rank,
    reference_point,
    violation,
)
from tuner.storage.base import StorageBase
from tuner.storage.records import trial_of
from tuner.storage.schema import TrialRow
from tuner.storage.studies import stored_direction
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
        """Complete trials, best first: by value (ties by number), feasible before infeasible;
        the Pareto front first for several metrics (``ranked``)."""
        return [r.trial for r in self.ranked(study, top)]

    def ranked(self, study: str, top: int | None = None) -> list[Ranked]:
        """Complete trials best first with their front (several metrics: ``tuner.pareto.rank``)
        and constraint violation. A single metric is one query on the (study, state, value)
        index, and a second, by violation first, when an infeasible trial is among the ``top``
        by value."""
        spec = self.get_study(study).spec  # type: ignore[attr-defined]
        if not spec.multi_objective:
            got = self._by_value(study, top)
            if any(violation(t) > 0 for t in got):  # feasible by value, then least violation
                got = self._by_value(study, top, violation_first=True)
            return [Ranked(t, None if violation(t) else 0, 0.0, violation(t)) for t in got]
        ranked = rank(self.trials(study, states=[TrialState.COMPLETE]), spec.objectives)
        return ranked[:top]

    def hypervolume(self, study: str) -> float | None:
        """The hypervolume of a multi-objective study's Pareto front (None for one metric or
        before any feasible trial), against each metric's ``reference`` or the worst seen."""
        spec = self.get_study(study).spec  # type: ignore[attr-defined]
        if not spec.multi_objective:
            return None
        points = [
            p
            for t in self.trials(study, states=[TrialState.COMPLETE])
            if violation(t) == 0 and (p := costs(t, spec.objectives)) is not None
        ]
        if not points:
            return None
        given = [m.reference_cost for m in spec.metrics]
        front = [points[i] for i in nondominated(points)]
        return hypervolume(front, reference_point(points, given))

    def _by_value(self, study: str, top: int | None, violation_first: bool = False) -> list[Trial]:
        """The ``top`` complete trials by value (ties by number); ``violation_first``: by the
        trials' constraint violation first (0 for the feasible ones)."""
        with self._session() as s:
            row = self._study_row(s, study)
            best_first = (
                TrialRow.value.desc()
                if stored_direction(row.spec) == "maximize"
                else TrialRow.value.asc()
            )
            q = (
                select(TrialRow)
                .where(TrialRow.study_id == row.id, TrialRow.state == TrialState.COMPLETE)
                .order_by(best_first, TrialRow.number)
                .limit(top)
            )
            if violation_first:
                q = q.order_by(None).order_by(TrialRow.violation, best_first, TrialRow.number)
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
