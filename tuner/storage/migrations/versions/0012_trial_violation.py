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
    # the trials with constraints, a page at a time by id (a database of millions of trials
    # is not read at once), each page's violations written in one executemany
    page = sa.text(
        'SELECT id, "values" FROM trials WHERE id > :after AND CAST("values" AS TEXT) LIKE :mark '
        "ORDER BY id LIMIT :size"
    )
    update = sa.text("UPDATE trials SET violation = :v WHERE id = :id")
    after = -1
    while rows := conn.execute(
        page, {"after": after, "mark": "%constraint.%", "size": _PAGE}
    ).all():
        found = []
        for trial_id, values in rows:
            parsed = json.loads(values) if isinstance(values, str) else values
            if violation := _violation(parsed or {}):
                found.append({"v": violation, "id": trial_id})
        if found:
            conn.execute(update, found)
        after = rows[-1][0]


_PAGE = 5000


def downgrade() -> None:
    op.drop_column("trials", "violation")
