"""Why a study ended before its plan did (a stop condition: target, time_budget, max_failed,
patience).

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Plain ADD/DROP COLUMN on studies (a batch would drop the table and cascade to trials: 0004).


def upgrade() -> None:
    op.add_column("studies", sa.Column("stop_reason", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("studies", "stop_reason")
