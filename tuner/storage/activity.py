"""What a watching page reads: a cheap fingerprint of a study's activity (has anything changed
since?), its trials as light columns (no logs, no curves), only the changed ones once it has
them all, and the curves of a few trials."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, func, or_, select

from tuner.storage.base import StorageBase
from tuner.storage.schema import StudyRow, TrialRow
from tuner.trial import TrialState


@dataclass(frozen=True)
class TrialRows:
    """Some trials of a study as columns, without their attempt logs, error texts and
    intermediate values (a leaderboard row and a plot point need none of them); ``curve`` says
    whether a trial reported intermediate values, ``duration`` is in seconds, ``values`` holds
    a trial's metrics only when it has several."""

    number: list[int]
    round: list[int]
    state: list[str]
    value: list[float | None]
    attempts: list[int]
    duration: list[float | None]
    curve: list[bool]
    params: list[dict[str, Any]]
    values: list[dict[str, float]]

    def __len__(self) -> int:
        return len(self.number)


@dataclass(frozen=True)
class CompleteValues:
    """The complete trials of a study in number order: number, round (from 0), value and
    constraint violation; and the highest number of any trial (-1 before the first)."""

    number: list[int]
    round: list[int]
    value: list[float | None]
    violation: list[float]  # 0: feasible
    last: int


_UNFINISHED = (TrialState.WAITING, TrialState.RUNNING)


class StudyActivity(StorageBase):
    """Reads for pages that watch a study change, cheap at 100,000 trials: a trial in a final
    state never changes again, so what changed is always among the unfinished and new ones."""

    def study_fingerprint(self, study: str) -> str:
        """A short text that changes whenever the study's state or plan position, the count of
        its trials in any state, or an unfinished trial (its state, attempt or intermediate
        values) changes: counts from the (study, state) index and the few unfinished rows."""
        with self._session() as s:
            row = self._study_row(s, study)
            counts = s.execute(
                select(TrialRow.state, func.count())
                .where(TrialRow.study_id == row.id)
                .group_by(TrialRow.state)
                .order_by(TrialRow.state)
            ).all()
            unfinished = s.execute(
                select(
                    TrialRow.number,
                    TrialRow.state,
                    TrialRow.attempt,
                    func.length(cast(TrialRow.intermediate, Text)),
                )
                .where(TrialRow.study_id == row.id, TrialRow.state.in_(_UNFINISHED))
                .order_by(TrialRow.number)
            ).all()
            parts = (row.id, row.state, row.round, row.revision, counts, unfinished)
        return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:16]

    def trial_rows(
        self, study: str, after: int | None = None, also: Sequence[int] = ()
    ) -> TrialRows:
        """Every trial of the study (``after`` None), or only those numbered above ``after``,
        the unfinished ones and those numbered in ``also``: in number order, one query."""
        with self._session() as s:
            study_id = self._study_row(s, study).id
            q = select(
                TrialRow.number,
                TrialRow.round,
                TrialRow.state,
                TrialRow.value,
                TrialRow.attempt,
                _seconds(self.engine.dialect.name),
                func.length(cast(TrialRow.intermediate, Text)) > 2,  # not '[]'
                cast(TrialRow.params, Text),
                cast(TrialRow.values, Text),
            ).where(TrialRow.study_id == study_id)
            if after is not None:
                q = q.where(
                    or_(
                        TrialRow.number > after,
                        TrialRow.state.in_(_UNFINISHED),
                        TrialRow.number.in_(list(also)),
                    )
                )
            rows = s.execute(q.order_by(TrialRow.number)).all()
        columns = list(zip(*rows, strict=True)) if rows else [()] * 9
        return TrialRows(
            number=list(columns[0]),
            round=list(columns[1]),
            state=list(columns[2]),
            value=list(columns[3]),
            attempts=list(columns[4]),
            duration=[None if d is None else float(d) for d in columns[5]],
            curve=[bool(c) for c in columns[6]],
            params=_json_list(columns[7]),
            values=_several(columns[8]),
        )

    def complete_values(self, study: str) -> CompleteValues:
        """Number, round and value of the complete trials: three columns of the rows the
        (study, state, number) index finds, in its order; what a history plot needs."""
        with self._session() as s:
            study_id = self._study_row(s, study).id
            rows = s.execute(
                select(TrialRow.number, TrialRow.round, TrialRow.value, TrialRow.violation)
                .where(TrialRow.study_id == study_id, TrialRow.state == TrialState.COMPLETE)
                .order_by(TrialRow.number)
            ).all()
            last = s.scalar(select(func.max(TrialRow.number)).where(TrialRow.study_id == study_id))
        columns = list(zip(*rows, strict=True)) if rows else [()] * 4
        return CompleteValues(
            number=list(columns[0]),
            round=list(columns[1]),
            value=list(columns[2]),
            violation=[float(v) for v in columns[3]],
            last=-1 if last is None else int(last),
        )

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


def _seconds(dialect: str) -> Any:
    """A trial's duration in seconds, computed by the database."""
    if dialect == "sqlite":
        days = func.julianday(TrialRow.finished_at) - func.julianday(TrialRow.started_at)
        return days * 86400.0
    return func.extract("epoch", TrialRow.finished_at - TrialRow.started_at)


def _several(texts: Sequence[str | None]) -> list[dict[str, float]]:
    """The ``values`` of trials, parsed only where they hold several numbers: one is the
    objective's value, already in ``value`` (it saves a third of a 100,000-trial read)."""
    several = [i for i, t in enumerate(texts) if t and "," in t]
    out: list[dict[str, float]] = [{} for _ in texts]
    for i, parsed in zip(several, _json_list([texts[i] for i in several]), strict=True):
        out[i] = parsed
    return out


JSON_BATCH = 2000  # documents per parse: one call holds the GIL, so the server's other
# requests wait for it (100,000 in one call held it for most of a second)


def _json_list(texts: Sequence[str | None]) -> list[Any]:
    """Many small JSON documents parsed a batch per call (much faster than one call each)."""
    out: list[Any] = []
    for i in range(0, len(texts), JSON_BATCH):
        batch = texts[i : i + JSON_BATCH]
        out += json.loads("[" + ",".join(t or "null" for t in batch) + "]")
    return out
