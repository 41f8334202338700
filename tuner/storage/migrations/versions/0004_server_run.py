"""Studies remember that the server was asked to run them, so a restarted server resumes them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# A plain ALTER TABLE, not a batch: on SQLite a batch copies the table and drops the old one,
# and dropping ``studies`` would cascade to every trial (trials.study_id ON DELETE CASCADE).


def upgrade() -> None:
    op.add_column(
        "studies", sa.Column("server_run", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("studies", "server_run")
