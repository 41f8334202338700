"""A server-side run is held by one server at a time: which one, and until when.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Plain ADD/DROP COLUMN on studies (a batch would drop the table and cascade to trials: 0004).


def upgrade() -> None:
    op.add_column("studies", sa.Column("run_owner", sa.String(128), nullable=True))
    op.add_column(
        "studies", sa.Column("run_lease_until", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("studies", "run_lease_until")
    op.drop_column("studies", "run_owner")
