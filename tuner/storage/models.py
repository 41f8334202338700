"""The model registry in the database: named models of a project, their numbered versions, aliases
(``production``, ``staging``, any name) and the audit trail of every alias move.

Writers of one model take its row first (a write to it: the row lock on PostgreSQL, the write
lock on SQLite), so that version numbers and alias moves never interleave."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from tuner.errors import NotFound, SpecError
from tuner.storage.base import StorageBase
from tuner.storage.records import now
from tuner.storage.schema import AliasMoveRow, ModelAliasRow, ModelRow, ModelVersionRow

_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
# PostgreSQL NOTIFY channel of alias moves: {"project", "model", "alias", "version"} (on commit)
ALIAS_CHANNEL = "tuner_model_aliases"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: where its bundle is, what it scored, where it came from."""

    model: str
    version: int
    flavor: str
    uri: str
    digest: str
    metric: str | None
    direction: str | None
    value: float | None
    metrics: dict[str, float]
    study: str | None
    trial: int | None
    params: dict[str, Any]
    signature: dict[str, Any]
    created_by: str
    created_at: datetime
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "aliases": list(self.aliases),
            "flavor": self.flavor,
            "metric": self.metric,
            "direction": self.direction,
            "value": self.value,
            "metrics": dict(self.metrics),
            "study": self.study,
            "trial": self.trial,
            "params": dict(self.params),
            "signature": self.signature,
            "uri": self.uri,
            "digest": self.digest,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ModelSummary:
    """A model's line in a listing."""

    name: str
    versions: int
    latest: int
    aliases: dict[str, int] = field(default_factory=dict)
    created_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": self.versions,
            "latest": self.latest,
            "aliases": dict(self.aliases),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias: who moved it, when, from which version (None: it was new) to which."""

    model: str
    alias: str
    from_version: int | None
    to_version: int
    actor: str
    reason: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class NewVersion:
    """What registering a version stores (the registry fills it from the bundle's manifest)."""

    flavor: str
    uri: str
    digest: str
    metric: str | None = None
    direction: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    study: str | None = None
    trial: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    signature: Mapping[str, Any] = field(default_factory=dict)


def check_model_name(name: str) -> str:
    if not isinstance(name, str) or not _MODEL.match(name):
        raise SpecError(
            "model",
            f"{name!r} is not a model name: letters, digits, '_', '.', '-' (up to 128), "
            "starting with a letter or digit",
        )
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise SpecError(
            "alias",
            f"{alias!r} is not an alias name: a letter, then letters, digits, '_', '-' (up to 64)",
        )
    return alias


def better(value: float | None, than: float | None, direction: str | None) -> bool:
    """Whether ``value`` beats ``than`` strictly in ``direction``."""
    if value is None or than is None:
        return False
    return value > than if direction == "maximize" else value < than


class ModelStorage(StorageBase):
    """Models, versions, aliases and alias moves of projects."""

    def add_version(
        self,
        project: str,
        model: str,
        new: NewVersion,
        actor: str,
        *,
        alias: str | None = None,
        when: str = "always",
    ) -> tuple[ModelVersion, AliasMove | None, str]:
        """Store ``new`` as the model's next version (the model is created with its first
        version) and, with ``alias``, move the alias to it: ``when="always"``, or
        ``when="better"`` only if it beats the version holding the alias on the same metric in
        the same direction (a first version takes a free alias). Returns the version, the move
        (None if the alias stayed) and why, in one transaction."""
        check_model_name(model)
        if alias is not None:
            check_alias(alias)
        if when not in ("always", "better"):
            raise SpecError("when", f"must be 'always' or 'better', not {when!r}")
        t = now()
        with self._session() as s:
            row = self._lock_model(s, project, model, create=True)
            number = (
                s.scalar(
                    select(func.max(ModelVersionRow.version)).where(
                        ModelVersionRow.model_id == row.id
                    )
                )
                or 0
            ) + 1
            value = new.metrics.get(new.metric) if new.metric else None
            version = ModelVersionRow(
                model_id=row.id,
                version=number,
                flavor=new.flavor,
                uri=new.uri,
                digest=new.digest,
                metric=new.metric,
                direction=new.direction,
                value=value,
                metrics=dict(new.metrics),
                study=new.study,
                trial=new.trial,
                params=dict(new.params),
                signature=dict(new.signature),
                created_by=actor,
                created_at=t,
            )
            s.add(version)
            s.flush()
            moved: AliasMove | None = None
            reason = ""
            if alias is not None:
                take, reason = self._should_move(s, row.id, alias, when, number, new, value)
                if take:
                    moved = self._move(s, row, alias, number, actor, reason, t)
            return self._version_of(s, row, version), moved, reason

    def _should_move(
        self,
        s: Session,
        model_id: int,
        alias: str,
        when: str,
        number: int,
        new: NewVersion,
        value: float | None,
    ) -> tuple[bool, str]:
        """Whether the new version ``number`` takes ``alias``, and why (or why not)."""
        holder = self._alias_row(s, model_id, alias)
        if holder is None:
            return True, f"the first version to take {alias!r}"
        if when == "always":
            return True, f"registered with {alias!r}"
        held = self._version_row(s, model_id, holder.version)
        if held.metric != new.metric or held.direction != new.direction:
            return False, (
                f"version {held.version} holds {alias!r} and was measured on {held.metric} "
                f"({held.direction}), version {number} on {new.metric} ({new.direction}): "
                "not comparable, the alias stays"
            )
        if better(value, held.value, new.direction):
            return True, (
                f"{new.metric} {_num(value)} beats {_num(held.value)} of version {held.version}"
            )
        return False, (
            f"{new.metric} {_num(value)} does not beat {_num(held.value)} of version "
            f"{held.version} ({new.direction}): the alias stays"
        )

    def set_alias(
        self, project: str, model: str, alias: str, version: int, actor: str, reason: str = ""
    ) -> AliasMove:
        """Point ``alias`` at ``version`` (a rollback is this, back to an earlier one)."""
        check_alias(alias)
        with self._session() as s:
            row = self._lock_model(s, project, model)
            self._version_row(s, row.id, version)
            return self._move(s, row, alias, version, actor, reason or "set by hand", now())

    def remove_alias(self, project: str, model: str, alias: str) -> None:
        with self._session() as s:
            row = self._lock_model(s, project, model)
            held = self._alias_row(s, row.id, alias)
            if held is None:
                raise NotFound(f"model {model!r} has no alias {alias!r}")
            s.delete(held)

    def list_models(self, project: str) -> list[ModelSummary]:
        with self._session() as s:
            rows = s.scalars(
                select(ModelRow).where(ModelRow.project == project).order_by(ModelRow.name)
            ).all()
            out = []
            for row in rows:
                count, latest = s.execute(
                    select(func.count(), func.max(ModelVersionRow.version)).where(
                        ModelVersionRow.model_id == row.id
                    )
                ).one()
                out.append(
                    ModelSummary(
                        row.name, int(count), int(latest or 0), self._aliases(s, row.id),
                        row.created_at,
                    )
                )  # fmt: skip
            return out

    def model_versions(self, project: str, model: str) -> list[ModelVersion]:
        """Every version of ``model``, newest first."""
        with self._session() as s:
            row = self._model_row(s, project, model)
            aliases = self._aliases(s, row.id)
            versions = s.scalars(
                select(ModelVersionRow)
                .where(ModelVersionRow.model_id == row.id)
                .order_by(ModelVersionRow.version.desc())
            ).all()
            return [_version(row.name, v, aliases) for v in versions]

    def model_version(self, project: str, model: str, ref: int | str | None = None) -> ModelVersion:
        """A version by number, by alias, or the latest (``ref`` None)."""
        with self._session() as s:
            row = self._model_row(s, project, model)
            aliases = self._aliases(s, row.id)
            if ref is None:
                number = s.scalar(
                    select(func.max(ModelVersionRow.version)).where(
                        ModelVersionRow.model_id == row.id
                    )
                )
                if number is None:
                    raise NotFound(f"model {model!r} has no version")
            elif isinstance(ref, int):
                number = ref
            elif ref in aliases:
                number = aliases[ref]
            else:
                known = ", ".join(sorted(aliases)) or "none"
                raise NotFound(f"model {model!r} has no alias {ref!r} (aliases: {known})")
            return _version(row.name, self._version_row(s, row.id, number), aliases)

    def alias_history(self, project: str, model: str) -> list[AliasMove]:
        """Every alias move of ``model``, oldest first."""
        with self._session() as s:
            row = self._model_row(s, project, model)
            moves = s.scalars(
                select(AliasMoveRow)
                .where(AliasMoveRow.model_id == row.id)
                .order_by(AliasMoveRow.id)
            ).all()
            return [
                AliasMove(row.name, m.alias, m.from_version, m.to_version, m.actor, m.reason, m.at)
                for m in moves
            ]

    def delete_version(self, project: str, model: str, version: int) -> None:
        """Forget a version that holds no alias (a registration that could not be completed)."""
        with self._session() as s:
            row = self._lock_model(s, project, model)
            if version in self._aliases(s, row.id).values():
                raise SpecError("version", f"version {version} holds an alias: move it first")
            s.delete(self._version_row(s, row.id, version))

    # -- rows --------------------------------------------------------------------------------

    def _model_row(self, s: Session, project: str, model: str) -> ModelRow:
        row = s.scalars(
            select(ModelRow).where(ModelRow.project == project, ModelRow.name == model)
        ).first()
        if row is None:
            raise NotFound(f"no model named {model!r}")
        return row

    def _lock_model(self, s: Session, project: str, model: str, create: bool = False) -> ModelRow:
        locked = s.execute(
            update(ModelRow)
            .where(ModelRow.project == project, ModelRow.name == model)
            .values(revision=ModelRow.revision + 1)
            .execution_options(synchronize_session=False)
        )
        if not locked.rowcount and create:  # type: ignore[attr-defined]
            s.add(ModelRow(project=project, name=model, revision=0, created_at=now()))
            s.flush()
        return self._model_row(s, project, model)

    @staticmethod
    def _alias_row(s: Session, model_id: int, alias: str) -> ModelAliasRow | None:
        return s.scalars(
            select(ModelAliasRow).where(
                ModelAliasRow.model_id == model_id, ModelAliasRow.alias == alias
            )
        ).first()

    @staticmethod
    def _version_row(s: Session, model_id: int, version: int) -> ModelVersionRow:
        row = s.scalars(
            select(ModelVersionRow).where(
                ModelVersionRow.model_id == model_id, ModelVersionRow.version == version
            )
        ).first()
        if row is None:
            raise NotFound(f"the model has no version {version}")
        return row

    @staticmethod
    def _aliases(s: Session, model_id: int) -> dict[str, int]:
        rows = s.execute(
            select(ModelAliasRow.alias, ModelAliasRow.version)
            .where(ModelAliasRow.model_id == model_id)
            .order_by(ModelAliasRow.alias)
        )
        return {alias: version for alias, version in rows}

    def _move(
        self,
        s: Session,
        row: ModelRow,
        alias: str,
        version: int,
        actor: str,
        reason: str,
        t: datetime,
    ) -> AliasMove:
        held = self._alias_row(s, row.id, alias)
        before = held.version if held is not None else None
        if held is None:
            s.add(ModelAliasRow(model_id=row.id, alias=alias, version=version, updated_at=t))
        else:
            held.version, held.updated_at = version, t
        s.add(
            AliasMoveRow(
                model_id=row.id,
                alias=alias,
                from_version=before,
                to_version=version,
                actor=actor,
                reason=reason,
                at=t,
            )
        )
        if s.get_bind().dialect.name == "postgresql":  # prediction servers LISTEN (push)
            payload = json.dumps(
                {"project": row.project, "model": row.name, "alias": alias, "version": version}
            )
            s.execute(text("SELECT pg_notify(:channel, :payload)"), {
                "channel": ALIAS_CHANNEL, "payload": payload,
            })  # fmt: skip
        return AliasMove(row.name, alias, before, version, actor, reason, t)

    def _version_of(self, s: Session, row: ModelRow, version: ModelVersionRow) -> ModelVersion:
        s.flush()
        return _version(row.name, version, self._aliases(s, row.id))


def _version(model: str, v: ModelVersionRow, aliases: Mapping[str, int]) -> ModelVersion:
    return ModelVersion(
        model=model,
        version=v.version,
        flavor=v.flavor,
        uri=v.uri,
        digest=v.digest,
        metric=v.metric,
        direction=v.direction,
        value=v.value,
        metrics={str(k): float(x) for k, x in (v.metrics or {}).items()},
        study=v.study,
        trial=v.trial,
        params=dict(v.params or {}),
        signature=dict(v.signature or {}),
        created_by=v.created_by,
        created_at=v.created_at,
        aliases=tuple(a for a, n in aliases.items() if n == v.version),
    )


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"
