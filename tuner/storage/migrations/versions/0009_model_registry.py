"""The model registry: models, their versions, aliases and the audit trail of alias moves.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _model_id() -> sa.Column[int]:
    fk = sa.ForeignKey("models.id", ondelete="CASCADE")
    return sa.Column("model_id", sa.Integer, fk, nullable=False)


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_models_project_name", "models", ["project", "name"], unique=True)
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        _model_id(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("flavor", sa.String(64), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(128), nullable=True),
        sa.Column("direction", sa.String(16), nullable=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("study", sa.String(256), nullable=True),
        sa.Column("trial", sa.Integer, nullable=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("signature", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_model_versions_model_version", "model_versions", ["model_id", "version"], unique=True
    )
    op.create_table(
        "model_aliases",
        sa.Column("id", sa.Integer, primary_key=True),
        _model_id(),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_model_aliases_model_alias", "model_aliases", ["model_id", "alias"], unique=True
    )
    op.create_table(
        "model_alias_moves",
        sa.Column("id", sa.Integer, primary_key=True),
        _model_id(),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_model_alias_moves_model", "model_alias_moves", ["model_id", "id"])


def downgrade() -> None:
    op.drop_table("model_alias_moves")
    op.drop_table("model_aliases")
    op.drop_table("model_versions")
    op.drop_table("models")
