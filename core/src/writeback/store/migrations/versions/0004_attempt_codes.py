"""Attempts keep their stable ``WB-…`` code in a column of their own.

Until now the code lived only at the start of the error text, where it was
there at all: answers and network failures had none.  Rows recorded before
this revision get the code their text shows (``WB-331: …``), or the one the
classification now gives the kind of text (``HTTP 503: …`` retried is
``WB-361``); a delivered attempt has none.  In Python, in batches, so that one
reading of the texts holds for SQLite and PostgreSQL alike.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 1000

_LEADING_CODE = re.compile(r"WB-\d{3}(?=:)")
_HTTP = re.compile(r"HTTP (\d{3})\b")

attempts = sa.table(
    "attempts",
    sa.column("id", sa.Integer),
    sa.column("outcome", sa.String),
    sa.column("error", sa.Text),
    sa.column("code", sa.String),
)


def legacy_code(outcome: str, error: str | None) -> str | None:
    """The code an attempt recorded before this revision stands for (docs/errors.md)."""
    if outcome == "delivered" or not error:
        return None
    if found := _LEADING_CODE.match(error):
        return found.group()
    if error.startswith("timed out: "):
        return "WB-364"
    if error.startswith("connection failed: "):
        return "WB-363"
    if status := _HTTP.match(error):
        if outcome == "retry":
            return "WB-361"
        if status.group(1).startswith("3") and "redirected to" in error:
            return "WB-362"
        return "WB-360"
    return "WB-300"


def upgrade() -> None:
    op.add_column("attempts", sa.Column("code", sa.String(12), nullable=True))
    conn = op.get_bind()
    last = -1
    while True:
        rows = conn.execute(
            sa.select(attempts.c.id, attempts.c.outcome, attempts.c.error)
            .where(attempts.c.id > last, attempts.c.outcome != "delivered")
            .order_by(attempts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        filled = [
            {"row_id": r.id, "fill": code}
            for r in rows
            if (code := legacy_code(r.outcome, r.error)) is not None
        ]
        if filled:
            conn.execute(
                attempts.update()
                .where(attempts.c.id == sa.bindparam("row_id"))
                .values(code=sa.bindparam("fill")),
                filled,
            )


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("code")
