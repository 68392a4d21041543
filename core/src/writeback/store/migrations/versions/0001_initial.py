"""Initial schema: connectors, events, deliveries, attempts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connectors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("api_type", sa.String(40), nullable=False),
        sa.Column("auth_method", sa.String(40), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("source_app", sa.String(30), nullable=False),
        sa.Column("row", sa.Text, nullable=False),
        sa.Column("secret_paths", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_connectors_source_app", "connectors", ["source_app"])
    op.create_table(
        "events",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("source_app", sa.String(30), nullable=False),
        sa.Column("appointment_key", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("submitted_at", sa.Float, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("event_id", sa.String(200), sa.ForeignKey("events.id"), nullable=False),
        sa.Column(
            "connector_id",
            sa.Integer,
            sa.ForeignKey("connectors.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("connector_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("appointment_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("replayed_after", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_deliveries_event_id", "deliveries", ["event_id"])
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_order", "deliveries", ["connector_id", "appointment_key", "seq"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_seq", sa.Integer, sa.ForeignKey("deliveries.seq"), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_attempts_delivery_seq", "attempts", ["delivery_seq"])


def downgrade() -> None:
    op.drop_table("attempts")
    op.drop_table("deliveries")
    op.drop_table("events")
    op.drop_table("connectors")
