"""Indexes for the claim: pending deliveries by queue, and due ones in claim order.

The claim looks for the head of each queue (the earliest pending delivery of a
(connector, appointment)) among due deliveries in (next_attempt_at, seq) order;
these two indexes make that one probe per candidate and let the scan stop after
``limit`` heads.  Before, PostgreSQL compared every candidate with every
pending row on a new table (0.7 s per claim at 2,000 pending deliveries).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at", "seq"])
    op.create_index(
        "ix_deliveries_pending_queue",
        "deliveries",
        ["connector_id", "appointment_key", "seq"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending_queue", table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
