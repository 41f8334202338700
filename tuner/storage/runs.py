"""Server-side runs in the database: which studies the servers were asked to run, and which
server holds each run (a lease it renews), so that one replica runs a study at a time and
another takes it over when the holder stops renewing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import false, or_, select, true, update

from tuner.storage.base import StorageBase
from tuner.storage.records import now
from tuner.storage.schema import StudyRow
from tuner.study import StudyState


class RunLeases(StorageBase):
    """The ``server_run`` mark and the run lease (``run_owner``, ``run_lease_until``)."""

    def set_server_run(self, name: str, on: bool) -> None:
        """Record whether the servers should be running ``name`` (a restart resumes it); off
        also frees its lease."""
        with self._session() as s:
            row = self._study_row(s, name)
            row.server_run = on
            if not on:
                row.run_owner = row.run_lease_until = None

    def server_runs(self) -> list[str]:
        """The unfinished studies the servers were asked to run and not to stop."""
        with self._session() as s:
            return list(
                s.scalars(
                    select(StudyRow.name)
                    .where(StudyRow.server_run.is_(True), StudyRow.state != StudyState.COMPLETE)
                    .order_by(StudyRow.id)
                )
            )

    def acquire_run(
        self,
        name: str,
        owner: str,
        lease: float,
        replacing: str | None = None,
        mark: bool = False,
    ) -> bool:
        """Take (or keep) the run of ``name`` for ``owner`` unless another server holds a live
        lease on it (``replacing``: a holder known to be dead); one statement, so two servers
        never both win. ``mark``: also mark the run wanted (``server_run``), in the same
        statement (a server asked to run it: marked first, another server's watch could take
        it in between); else only a run still wanted is taken (a stop meanwhile wins)."""
        t = now()
        holders = [owner] if replacing is None else [owner, replacing]
        values: dict[str, Any] = {
            "run_owner": owner,
            "run_lease_until": t + timedelta(seconds=lease),
        }
        if mark:
            values["server_run"] = True
        with self._session() as s:
            taken = s.execute(
                update(StudyRow)
                .where(
                    StudyRow.name == name,
                    # still wanted, or marked wanted by this statement
                    or_(StudyRow.server_run.is_(True), true() if mark else false()),
                    or_(
                        StudyRow.run_owner.is_(None),
                        StudyRow.run_owner.in_(holders),
                        StudyRow.run_lease_until < t,
                    ),
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def renew_runs(self, owner: str, lease: float) -> set[str]:
        """Extend ``owner``'s leases on the runs still wanted; the names it still holds."""
        t = now()
        with self._session() as s:
            kept = s.scalars(
                update(StudyRow)
                .where(StudyRow.run_owner == owner, StudyRow.server_run.is_(True))
                .values(run_lease_until=t + timedelta(seconds=lease))
                .returning(StudyRow.name)
            )
            return set(kept)

    def release_run(self, name: str, owner: str) -> None:
        """Let go of ``name``'s run if ``owner`` holds it (another server may take it at once)."""
        with self._session() as s:
            s.execute(
                update(StudyRow)
                .where(StudyRow.name == name, StudyRow.run_owner == owner)
                .values(run_owner=None, run_lease_until=None)
                .execution_options(synchronize_session=False)
            )

    def orphaned_runs(self) -> list[str]:
        """Runs wanted (and unfinished) that no server holds a live lease on."""
        t = now()
        with self._session() as s:
            return list(
                s.scalars(
                    select(StudyRow.name)
                    .where(
                        StudyRow.server_run.is_(True),
                        StudyRow.state != StudyState.COMPLETE,
                        or_(StudyRow.run_owner.is_(None), StudyRow.run_lease_until < t),
                    )
                    .order_by(StudyRow.id)
                )
            )

    def held_runs(self) -> list[tuple[str, str]]:
        """``(study, server)`` of every wanted run held under a live lease."""
        t = now()
        with self._session() as s:
            rows = s.execute(
                select(StudyRow.name, StudyRow.run_owner)
                .where(
                    StudyRow.server_run.is_(True),
                    StudyRow.run_owner.is_not(None),
                    StudyRow.run_lease_until >= t,
                )
                .order_by(StudyRow.id)
            )
            return [(name, str(owner)) for name, owner in rows]  # owner is not NULL here

    def run_wanted(self, name: str) -> bool:
        """Whether the servers are to run ``name`` (one runs it, or takes it over within a
        lease): asked to, not stopped since, not complete."""
        with self._session() as s:
            row = self._study_row(s, name)
            return bool(row.server_run) and row.state != StudyState.COMPLETE
