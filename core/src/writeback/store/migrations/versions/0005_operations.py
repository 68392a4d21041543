"""Operations: pausing a connector, counting pruned deliveries, API keys.

- ``connectors.paused`` / ``paused_reason``: a paused connector sends nothing;
  its deliveries stay pending.  Existing rows are not paused.
- ``pruned_deliveries``: how many ended deliveries retention removed, per
  connector and status, so that ``deliveries stats`` still balances.
- ``api_keys``: the service's API keys, kept only as a hash.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connectors") as batch:
        batch.add_column(sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("paused_reason", sa.Text, nullable=True))
    op.create_table(
        "pruned_deliveries",
        sa.Column("connector_name", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(12), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("key_hash", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
        sa.Column("last_used_at", sa.Float, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("pruned_deliveries")
    with op.batch_alter_table("connectors") as batch:
        batch.drop_column("paused_reason")
        batch.drop_column("paused")
