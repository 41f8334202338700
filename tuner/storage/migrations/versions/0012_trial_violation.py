"""A trial's constraint violation as a column (the sum of the positive ``constraint.*`` values,
0 for a feasible trial), so the study listing's best value and the stop conditions' best are of
feasible trials in one aggregate; existing trials with constraints are filled in from their
values.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# what tuner.pareto.violation_of computes, written out: a migration keeps what it did
CONSTRAINT = "constraint."


def _violation(values: dict[str, object]) -> float:
    return sum(
        max(float(v), 0.0)  # type: ignore[arg-type]
        for k, v in values.items()
        if k.startswith(CONSTRAINT) and isinstance(v, int | float)
    )


# Plain ADD/DROP COLUMN (a batch would copy the table): SQLite drops a column since 3.35.


def upgrade() -> None:
    op.add_column("trials", sa.Column("violation", sa.Float(), nullable=False, server_default="0"))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text('SELECT id, "values" FROM trials WHERE CAST("values" AS TEXT) LIKE :mark'),
        {"mark": "%constraint.%"},
    ).all()
    for trial_id, values in rows:
        parsed = json.loads(values) if isinstance(values, str) else values
        conn.execute(
            sa.text("UPDATE trials SET violation = :v WHERE id = :id"),
            {"v": _violation(parsed or {}), "id": trial_id},
        )


def downgrade() -> None:
    op.drop_column("trials", "violation")
