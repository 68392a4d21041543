"""Fleet-wide limits: a throttle group's budget, shared by every worker.

- ``throttle_groups``: per group, its token bucket (``tokens``,
  ``refilled_at``) and ``hold_until``, set by a 429 with Retry-After.
- ``throttle_slots``: one row per request in flight in a group, with its
  holder and a lease, so a worker that dies gives its share back.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttle_groups",
        sa.Column("group_key", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("refilled_at", sa.Float, nullable=False),
        sa.Column("hold_until", sa.Float, nullable=False),
    )
    op.create_table(
        "throttle_slots",
        sa.Column("group_key", sa.String(200), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("lease_expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("throttle_slots")
    op.drop_table("throttle_groups")
