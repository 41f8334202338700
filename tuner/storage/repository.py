"""The one storage repository, the same code on SQLite and PostgreSQL.

Every method is one short transaction. Writers that must be alone on a study begin with
``_lock_study`` (a write to the study row), which on PostgreSQL locks the row and on SQLite takes
the database write lock before anything is read, so that no two writers interleave.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tuner.algorithm import Suggestion, as_suggestion
from tuner.errors import Conflict, NotFound
from tuner.executor import TrialOutcome
from tuner.projects import DEFAULT_PROJECT, qualified
from tuner.space import Params
from tuner.storage import statements as sql
from tuner.storage.engine import make_engine
from tuner.storage.records import (
    STATES,
    StudyRecord,
    StudyState,
    StudySummary,
    aware,
    db_text,
    now,
    parsed_spec,
    study_record,
    trial_of,
)
from tuner.storage.schema import StudyRow, TrialRow
from tuner.storage.tokens import TokenStore
from tuner.study import StudySpec
from tuner.trial import Attempt, Trial, TrialState

# A trial lost this many times (its worker died or stopped heart-beating) fails for good.
MAX_LOSSES = 5


class Storage:
    """Studies and trials in a database named by a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.tokens = TokenStore(self.engine)
        # SQLite has one writer at a time, and its busy handler waits in sleeps of up to 100 ms:
        # threads of one process (the API's) take turns here instead, without sleeping.
        self._turn: contextlib.AbstractContextManager[object] = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    @property
    def serial(self) -> bool:
        """Whether the database runs one transaction at a time (SQLite): callers gain nothing by
        calling from several threads at once."""
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._turn, self._sessions.begin() as session:
            yield session

    # -- studies ------------------------------------------------------------------------------

    def create_study(self, spec: StudySpec, project: str = DEFAULT_PROJECT) -> StudyRecord:
        """Store a new study of ``project``; Conflict if the project has one of that name."""
        t = now()
        row = StudyRow(
            name=qualified(project, spec.name),
            spec=spec.to_dict(),
            state=StudyState.CREATED,
            round=0,
            revision=0,
            created_at=t,
            updated_at=t,
        )
        try:
            with self._session() as s:
                s.add(row)
        except IntegrityError:
            raise Conflict(f"study {spec.name!r} already exists", field="name") from None
        return study_record(row)

    def get_study(self, name: str) -> StudyRecord:
        with self._session() as s:
            return study_record(self._study_row(s, name))

    def update_spec(self, name: str, spec: StudySpec) -> StudyRecord:
        """Replace a study's spec (a resumed study with a longer plan, a new executor)."""
        with self._session() as s:
            row = self._lock_study(s, name)
            row.spec = spec.to_dict()
            if row.state == StudyState.COMPLETE and row.round < len(spec.plan):
                row.state = StudyState.RUNNING
            return study_record(row)

    def set_study_state(self, name: str, state: str, round: int | None = None) -> None:
        with self._session() as s:
            row = self._lock_study(s, name)
            row.state = state
            if round is not None:
                row.round = round

    def set_server_run(self, name: str, on: bool) -> None:
        """Record whether the server should be running ``name`` (and resume it after a restart)."""
        with self._session() as s:
            self._study_row(s, name).server_run = on

    def server_runs(self) -> list[str]:
        """The unfinished studies the server was asked to run and not to stop."""
        with self._session() as s:
            return list(s.scalars(
                select(StudyRow.name)
                .where(StudyRow.server_run.is_(True), StudyRow.state != StudyState.COMPLETE)
                .order_by(StudyRow.id)
            ))

    def delete_study(self, name: str) -> None:
        with self._session() as s:
            row = self._study_row(s, name)
            s.execute(delete(TrialRow).where(TrialRow.study_id == row.id))
            s.delete(row)

    def list_studies(self, project: str | None = None) -> list[StudySummary]:
        """Every study (of ``project``, if given) with its progress, in two queries."""
        finished = (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)
        q = select(StudyRow).order_by(StudyRow.created_at, StudyRow.id)
        if project == DEFAULT_PROJECT:
            q = q.where(StudyRow.name.not_like("%/%"))
        elif project is not None:
            q = q.where(StudyRow.name.startswith(f"{project}/", autoescape=True))
        with self._session() as s:
            studies = s.scalars(q).all()
            stats = s.execute(
                select(
                    TrialRow.study_id,
                    func.sum(case((TrialRow.state.in_(finished), 1), else_=0)),
                    func.sum(case((TrialRow.state == TrialState.RUNNING, 1), else_=0)),
                    func.min(TrialRow.value),
                    func.max(TrialRow.value),
                ).group_by(TrialRow.study_id)
            ).all()
        by_id = {r[0]: r[1:] for r in stats}
        out = []
        for row in studies:
            done, running, lo, hi = by_id.get(row.id, (0, 0, None, None))
            direction = row.spec.get("direction", "minimize")
            out.append(
                StudySummary(
                    name=row.name,
                    state=row.state,
                    round=row.round,
                    rounds=len(row.spec["plan"]),
                    done=int(done or 0),
                    planned=sum(r["trials"] for r in row.spec["plan"]),
                    running=int(running or 0),
                    best_value=hi if direction == "maximize" else lo,
                    direction=direction,
                )
            )
        return out

    def studies_with_expired_leases(self, at: datetime) -> list[str]:
        """Names of the studies that have a running trial whose lease ended before ``at``."""
        with self._session() as s:
            return list(
                s.scalars(
                    select(StudyRow.name)
                    .join(TrialRow, TrialRow.study_id == StudyRow.id)
                    .where(TrialRow.state == TrialState.RUNNING, TrialRow.lease_expires_at < at)
                    .distinct()
                )
            )

    # -- trials -------------------------------------------------------------------------------

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
            q = select(func.count()).select_from(TrialRow).where(
                TrialRow.study_id == self._study_row(s, study).id
            )
            if states:
                q = q.where(TrialRow.state.in_([str(x) for x in states]))
            return int(s.scalar(q) or 0)

    def trial(self, study: str, number: int) -> Trial:
        with self._session() as s:
            return trial_of(study, self._trial_row(s, study, number))

    def _insert_trials(
        self, s: Session, row: StudyRow, round: int, points: Sequence[Params | Suggestion]
    ) -> list[Trial]:
        last = s.scalar(select(func.max(TrialRow.number)).where(TrialRow.study_id == row.id))
        start = 0 if last is None else last + 1
        t = now()
        rows = [
            TrialRow(
                study_id=row.id,
                number=start + i,
                round=round,
                params=dict(p.params),
                meta=dict(p.meta),
                state=TrialState.WAITING,
                attempt=0,
                failures=0,
                losses=0,
                values={},
                intermediate=[],
                attempt_log=[],
                created_at=t,
            )
            for i, p in enumerate(as_suggestion(x) for x in points)
        ]
        s.add_all(rows)
        if row.state == StudyState.CREATED and rows:
            row.state = StudyState.RUNNING
        s.flush()
        return [trial_of(row.name, r) for r in rows]

    @contextmanager
    def locked(self, study: str) -> Iterator[LockedStudy]:
        """Hold a study alone for a read-decide-write step (the scheduler's top-up)."""
        with self._session() as s:
            row = self._lock_study(s, study)
            yield LockedStudy(self, s, row)

    def claim(self, study: str, worker: str, lease: float) -> Trial | None:
        """Atomically take the lowest-numbered waiting trial of ``study`` for ``worker``.

        Two workers never get the same trial: the claim is one ``UPDATE ... RETURNING`` on a row
        picked with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) or under SQLite's single writer.
        """
        with self._session() as s:
            return self._claim(s, study, None, worker, lease)

    def _claim(self, s: Session, study: str, study_id: int | None, worker: str, lease: float
               ) -> Trial | None:
        """One statement: by ``study_id`` when the transaction knows it, else by name."""
        t = now()
        params = {"new_worker": db_text(worker), "new_started_at": t,
                  "new_lease_expires_at": t + timedelta(seconds=lease)}
        if study_id is None:
            row = s.execute(sql.CLAIM_BY_NAME, {"name": study, **params}).first()
        else:
            row = s.execute(sql.CLAIM, {"of_study": study_id, **params}).first()
        return trial_of(study, row) if row is not None else None

    def heartbeat(self, study: str, number: int, attempt: int, lease: float) -> datetime:
        """Extend the lease of a running attempt to ``lease`` seconds from now and return its
        new end; Conflict if that attempt is no longer current."""
        expires = now() + timedelta(seconds=lease)
        with self._session() as s:
            result = s.execute(
                update(TrialRow)
                .where(
                    TrialRow.study_id == self._study_id(study),
                    TrialRow.number == number,
                    TrialRow.attempt == attempt,
                    TrialRow.state == TrialState.RUNNING,
                )
                .values(lease_expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                self._stale(s, study, number, attempt)
        return expires

    def report(self, study: str, number: int, attempt: int, step: int, value: float) -> None:
        """Add an intermediate value to a running attempt; Conflict if it is not running."""
        with self._session() as s:
            row = self._trial_row(s, study, number, for_update=True)
            if row.attempt != attempt or row.state != TrialState.RUNNING:
                self._stale(s, study, number, attempt, row)
            # keyed by step, so that a report sent twice (a retried request) counts once
            kept = [x for x in row.intermediate if x[0] != int(step)]
            row.intermediate = [*kept, [int(step), float(value)]]

    def finish(
        self, study: str, number: int, attempt: int, outcome: TrialOutcome, max_attempts: int
    ) -> Trial:
        """Record how an attempt ended. A failure below ``max_attempts`` failures waits again.

        Finishing the same attempt twice with the same result is a no-op; anything else on an
        attempt that is no longer running is a Conflict.
        """
        with self._session() as s:
            study_id = s.execute(sql.STUDY_ID, {"name": study}).scalar()
            if study_id is None:
                raise NotFound(f"no study named {study!r}")
            finished, _ = self._finish(s, study, study_id, number, attempt, outcome, max_attempts)
            return finished

    def finish_and_claim(
        self,
        study: str,
        number: int,
        attempt: int,
        outcome: Callable[[StudySpec], TrialOutcome],
        worker: str | None = None,
        lease: float = 0.0,
    ) -> tuple[Trial, Trial | None]:
        """``finish`` with an outcome built against the study's spec (which says how to read a
        value and how many failures a trial may have), and, for ``worker``, ``claim`` the next
        waiting trial: both in one transaction, a remote worker's whole round trip (four
        prepared statements, tuner/storage/statements.py, and a commit).

        Idempotent like ``finish``: the same call again (a retried request whose answer was lost)
        answers the trial claimed the first time, if ``worker`` still holds it, rather than
        taking a second one that nobody would run until its lease expired."""
        with self._session() as s:
            found = s.execute(sql.STUDY, {"name": study}).first()
            if found is None:
                raise NotFound(f"no study named {study!r}")
            study_id, spec_text = found
            spec = parsed_spec(spec_text)
            return self._finish(s, study, study_id, number, attempt, outcome(spec),
                                spec.max_attempts, (worker, lease) if worker else None)

    def _finish(
        self, s: Session, study: str, study_id: int, number: int, attempt: int,
        outcome: TrialOutcome, max_attempts: int, then_claim: tuple[str, float] | None = None,
    ) -> tuple[Trial, Trial | None]:
        if outcome.error is not None:
            outcome = replace(outcome, error=db_text(outcome.error))
        row = s.execute(sql.TRIAL_FOR_UPDATE, {"of_study": study_id, "of_number": number}).first()
        if row is None:
            raise NotFound(f"study {study!r} has no trial {number}")
        if row.attempt != attempt or row.state != TrialState.RUNNING:
            last = row.attempt_log[-1] if row.attempt_log else {}
            same_end = (
                last.get("number") == attempt
                and last.get("outcome") == str(outcome.state)
                and (last.get("error") or None) == (outcome.error or None)
                and (outcome.state != TrialState.COMPLETE or row.value == outcome.value)
            )
            if not same_end:
                self._stale(s, study, number, attempt, row)
            # the same attempt reported the same end twice: a retry, answered as the first time
            held = None
            if then_claim is not None:
                held = self._held(s, study, study_id, last.get("next"), then_claim[0])
            return trial_of(study, row), held
        claimed = self._claim(s, study, study_id, *then_claim) if then_claim else None
        t = now()
        entry = Attempt(attempt, row.worker, aware(row.started_at), t, str(outcome.state),
                        outcome.error).to_dict()
        if claimed is not None:  # what this round trip claimed, for a retry of it
            entry["next"] = [claimed.number, claimed.attempt]
        new: dict[str, Any] = {
            "state": outcome.state,
            "value": row.value,
            "values": row.values,
            "error": None,
            "failures": row.failures,
            # reported along the way, unless the outcome brings its own
            "intermediate": [list(x) for x in outcome.intermediate] or row.intermediate,
            "attempt_log": [*row.attempt_log, entry],
            "meta": row.meta,
            "lease_expires_at": None,
            "finished_at": t,
        }
        if outcome.state == TrialState.FAILED:
            new["failures"] += 1
            new["error"] = outcome.error
            if new["failures"] < max_attempts:
                new["state"] = TrialState.WAITING
        else:
            new["value"] = outcome.value
            new["values"] = dict(outcome.values)
            if outcome.artifact:  # where the trainer saved the model of this trial
                new["meta"] = {**row.meta, "artifact": outcome.artifact}
        done = s.execute(
            sql.FINISH, {"trial_id": row.id, **{f"new_{k}": v for k, v in new.items()}}
        ).one()
        return trial_of(study, done), claimed

    def _held(self, s: Session, study: str, study_id: int, claimed: Any, worker: str
              ) -> Trial | None:
        """The trial ``[number, attempt]`` if ``worker`` still runs that attempt of it."""
        if not isinstance(claimed, list) or len(claimed) != 2:
            return None
        row = s.execute(sql.TRIAL_FOR_UPDATE, {"of_study": study_id, "of_number": claimed[0]}
                        ).first()
        if (row is None or row.state != TrialState.RUNNING or row.attempt != claimed[1]
                or row.worker != db_text(worker)):
            return None
        return trial_of(study, row)

    def requeue(self, study: str, number: int, attempt: int, reason: str, lost: bool) -> Trial:
        """Put a running attempt back to waiting: ``lost`` (its worker died) or interrupted.

        Interruptions (a clean stop) cost nothing; losses count, and a trial lost
        ``MAX_LOSSES`` times fails for good.
        """
        with self._session() as s:
            row = self._trial_row(s, study, number, for_update=True)
            if row.attempt != attempt or row.state != TrialState.RUNNING:
                self._stale(s, study, number, attempt, row)
            t = now()
            entry = Attempt(attempt, row.worker, aware(row.started_at), t,
                            "lost" if lost else "interrupted", reason)
            row.attempt_log = [*row.attempt_log, entry.to_dict()]
            row.lease_expires_at = None
            if lost:
                row.losses += 1
                row.error = db_text(reason)
            if lost and row.losses >= MAX_LOSSES:
                row.state = TrialState.FAILED
                row.finished_at = t
            else:
                row.state = TrialState.WAITING
            return trial_of(study, row)

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _study_id(name: str) -> Any:
        return select(StudyRow.id).where(StudyRow.name == name).scalar_subquery()

    def _study_row(self, s: Session, name: str) -> StudyRow:
        row = s.scalars(select(StudyRow).where(StudyRow.name == name)).first()
        if row is None:
            raise NotFound(f"no study named {name!r}")
        return row

    def _lock_study(self, s: Session, name: str) -> StudyRow:
        s.execute(
            update(StudyRow)
            .where(StudyRow.name == name)
            .values(revision=StudyRow.revision + 1, updated_at=now())
            .execution_options(synchronize_session=False)
        )
        return self._study_row(s, name)

    def _trial_row(self, s: Session, study: str, number: int, for_update: bool = False) -> TrialRow:
        q = select(TrialRow).where(
            TrialRow.study_id == self._study_id(study), TrialRow.number == number
        )
        if for_update:
            q = q.with_for_update()
        row = s.scalars(q).first()
        if row is None:
            self._study_row(s, study)  # NotFound for the study first
            raise NotFound(f"study {study!r} has no trial {number}")
        return row

    def _stale(
        self, s: Session, study: str, number: int, attempt: int, row: Any = None
    ) -> None:
        row = row or self._trial_row(s, study, number)
        raise Conflict(
            f"trial {number} of {study!r}: attempt {attempt} is not the running attempt "
            f"(the trial is {row.state}, attempt {row.attempt})"
        )

class LockedStudy:
    """A study held alone inside one transaction: read its state and trials, add trials."""

    def __init__(self, storage: Storage, session: Session, row: StudyRow) -> None:
        self._storage = storage
        self._session = session
        self._row = row

    @property
    def record(self) -> StudyRecord:
        return study_record(self._row)

    def trials(self) -> list[Trial]:
        """The history as algorithms see it, in number order: each trial's number, round,
        params, state, attempt, value(s), intermediate values and meta. Attempt logs, workers
        and times are left out: a top-up reads the whole study, so it reads only these columns.
        """
        rows = self._session.execute(
            select(
                TrialRow.number, TrialRow.round, TrialRow.params, TrialRow.state,
                TrialRow.attempt, TrialRow.value, TrialRow.values, TrialRow.intermediate,
                TrialRow.meta,
            )
            .where(TrialRow.study_id == self._row.id)
            .order_by(TrialRow.number)
        )
        name = self._row.name
        return [
            Trial(
                study=name, number=number, round=round, params=params, state=STATES[state],
                attempt=attempt, value=value, values=values or {},
                intermediate=tuple((int(a), float(b)) for a, b in intermediate or ()),
                meta=meta or {},
            )
            for number, round, params, state, attempt, value, values, intermediate, meta in rows
        ]

    def counts(self) -> dict[int, dict[TrialState, int]]:
        """How many trials each round has in each state, in one aggregate query."""
        out: dict[int, dict[TrialState, int]] = {}
        rows = self._session.execute(
            select(TrialRow.round, TrialRow.state, func.count())
            .where(TrialRow.study_id == self._row.id)
            .group_by(TrialRow.round, TrialRow.state)
        )
        for round, state, n in rows:
            out.setdefault(round, {})[STATES[state]] = int(n)
        return out

    def best(self, maximize: bool) -> Trial | None:
        """The complete trial with the best value (the lowest number among ties)."""
        value = TrialRow.value.desc() if maximize else TrialRow.value.asc()
        row = self._session.scalars(
            select(TrialRow)
            .where(TrialRow.study_id == self._row.id, TrialRow.state == TrialState.COMPLETE,
                   TrialRow.value.is_not(None))
            .order_by(value, TrialRow.number)
            .limit(1)
        ).first()
        return trial_of(self._row.name, row) if row is not None else None

    def add_trials(self, round: int, points: Sequence[Params | Suggestion]) -> list[Trial]:
        return self._storage._insert_trials(self._session, self._row, round, points)

    def set_state(self, state: str, round: int | None = None) -> None:
        self._row.state = state
        if round is not None:
            self._row.round = round
