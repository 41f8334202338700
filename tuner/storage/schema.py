"""The database tables as SQLAlchemy 2.0 ORM rows. Rows never leave the storage package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class StudyRow(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    spec: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by every writer that must be alone on the study: the first write of its transaction
    # takes the row lock (PostgreSQL) or the database write lock (SQLite).
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # The server was asked to run the study (POST .../run) and not to stop: a restart resumes it.
    server_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Which server holds the run (host:pid:id) and until when: one replica runs it at a time,
    # and another takes it over once the holder stops renewing.
    run_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    run_lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    # The stop condition that ended the study before its plan did (target, time_budget...).
    stop_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TrialRow(Base):
    __tablename__ = "trials"
    __table_args__ = (
        Index("ix_trials_study_number", "study_id", "number", unique=True),
        Index("ix_trials_study_state", "study_id", "state", "number"),
        # the best complete trials first (migration 0011)
        Index("ix_trials_study_state_value", "study_id", "state", "value", "number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    losses: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    values: Mapped[dict[str, Any]]
    # the sum of the positive constraints in ``values`` (0: feasible; migration 0012), so the
    # best feasible value is one aggregate (the study listing, stop conditions)
    violation: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    intermediate: Mapped[list[Any]]
    attempt_log: Mapped[list[Any]]
    meta: Mapped[dict[str, Any]]
    worker: Mapped[str | None] = mapped_column(String(256), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token
    project: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ModelRow(Base):
    """A named model of a project: its versions, its aliases and their moves hang off it."""

    __tablename__ = "models"
    __table_args__ = (Index("ix_models_project_name", "project", "name", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    # bumped by every writer of the model's versions or aliases: its first write locks the row
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (Index("ix_model_versions_model_version", "model_id", "version", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    flavor: Mapped[str] = mapped_column(String(64))
    uri: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))  # the manifest's SHA-256
    metric: Mapped[str | None] = mapped_column(String(128), nullable=True)
    direction: Mapped[str | None] = mapped_column(String(16), nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    metrics: Mapped[dict[str, Any]]
    study: Mapped[str | None] = mapped_column(String(256), nullable=True)
    trial: Mapped[int | None] = mapped_column(Integer, nullable=True)
    params: Mapped[dict[str, Any]]
    signature: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"
    __table_args__ = (Index("ix_model_aliases_model_alias", "model_id", "alias", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class AliasMoveRow(Base):
    """One move of an alias (the audit trail): who, when, from which version to which."""

    __tablename__ = "model_alias_moves"
    __table_args__ = (Index("ix_model_alias_moves_model", "model_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
