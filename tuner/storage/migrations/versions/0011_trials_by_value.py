"""Complete trials best first from an index: (study, state, value, number), so that a
leaderboard's first rows (the web page's, the API's ``top``) are read without scanning every
complete trial of a 100,000-trial study.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_trials_study_state_value", "trials", ["study_id", "state", "value", "number"]
    )


def downgrade() -> None:
    op.drop_index("ix_trials_study_state_value", table_name="trials")
