"""Tokens may expire, are revoked (kept, not deleted) and remember when they were last used.

Revision ID: 0007
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

# Plain ADD/DROP COLUMN (no batch): see 0004.
_COLUMNS = ("expires_at", "last_used_at", "revoked_at")


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column("tokens", sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for name in reversed(_COLUMNS):
        op.drop_column("tokens", name)
