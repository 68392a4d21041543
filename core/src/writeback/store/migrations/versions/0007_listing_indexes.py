"""Indexes for the delivery log: any filter of a listing walks an index in ``seq`` order.

``deliveries list`` and ``GET /v1/deliveries`` page by ``seq`` (keyset), with
optional ``status`` and ``connector`` filters.  Without these, a status filter
used ``ix_deliveries_due`` and sorted every delivery of that status, and a
filter that matches few deliveries scanned the whole table: 100-270 ms at
1,000,000 deliveries on SQLite (docs/benchmarks.md, "Reading the delivery log").
With them each page reads about ``limit`` index entries, whatever the filter.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_status_seq", "deliveries", ["status", "seq"])
    op.create_index("ix_deliveries_connector_seq", "deliveries", ["connector_name", "seq"])
    op.create_index(
        "ix_deliveries_connector_status_seq", "deliveries", ["connector_name", "status", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_connector_status_seq", table_name="deliveries")
    op.drop_index("ix_deliveries_connector_seq", table_name="deliveries")
    op.drop_index("ix_deliveries_status_seq", table_name="deliveries")
