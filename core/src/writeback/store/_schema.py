"""The tables, as SQLAlchemy Core metadata.

Times are unix seconds (double precision) so that SQLite and PostgreSQL compare
them the same way in SQL.  The schema is created and changed only by the Alembic
migrations in ``migrations/``; a test checks that they agree with this file.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    literal_column,
    text,
)

__all__ = [
    "PENDING",
    "SCHEMA_REVISION",
    "api_keys",
    "attempts",
    "connectors",
    "deliveries",
    "events",
    "metadata",
    "pruned_deliveries",
    "throttle_groups",
    "throttle_slots",
    "tokens",
]

#: The Alembic head this release expects; ``Store.open`` migrates up to it.
SCHEMA_REVISION = "0007"

metadata = MetaData()

#: ``'pending'`` written into the SQL, for ``status == PENDING``.  Compared with a
#: bound parameter instead, whether the partial index ``ix_deliveries_pending_queue``
#: (``WHERE status = 'pending'``) applies depends on the value bound: SQLite then
#: prepares the statement again each time it is run (docs/benchmarks.md, "The
#: store's hot statements"), and a generic plan of PostgreSQL's cannot use the
#: index.
PENDING = literal_column("'pending'")

connectors = Table(
    "connectors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("type", String(40), nullable=False),
    Column("api_type", String(40), nullable=False),
    Column("auth_method", String(40), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("source_app", String(30), nullable=False, index=True),
    # The whole row as JSON, literal secrets Fernet-encrypted ("fernet:…").
    Column("row", Text, nullable=False),
    # Dotted paths of the secrets in ``row``, so masking works without the plugins.
    Column("secret_paths", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # A paused connector sends nothing; its deliveries wait (migration 0005).
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("paused_reason", Text, nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("action", String(10), nullable=False),
    Column("source_app", String(30), nullable=False),
    Column("appointment_key", String(200), nullable=False),
    # The normalised event (``AppointmentEvent.to_record()``) as JSON.
    Column("payload", Text, nullable=False),
    Column("submitted_at", Float, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    # Submission order: deliveries of one (connector, appointment) go out by seq.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("event_id", String(200), ForeignKey("events.id"), nullable=False, index=True),
    Column(
        "connector_id",
        Integer,
        ForeignKey("connectors.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("connector_name", String(100), nullable=False),
    Column("action", String(10), nullable=False),
    Column("appointment_key", String(200), nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # ``attempts`` when the delivery was last replayed: the schedule restarts there.
    Column("replayed_after", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Due deliveries in claim order (migration 0003 added ``seq``).
    Index("ix_deliveries_due", "status", "next_attempt_at", "seq"),
    Index("ix_deliveries_order", "connector_id", "appointment_key", "seq"),
    # The claim asks "is there an earlier pending delivery in this queue?" for
    # every candidate: one probe of this index each (migration 0003).
    Index(
        "ix_deliveries_pending_queue",
        "connector_id",
        "appointment_key",
        "seq",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    # The delivery log's pages, filtered or not, in seq order (migration 0007).
    Index("ix_deliveries_status_seq", "status", "seq"),
    Index("ix_deliveries_connector_seq", "connector_name", "seq"),
    Index("ix_deliveries_connector_status_seq", "connector_name", "status", "seq"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_seq", Integer, ForeignKey("deliveries.seq"), nullable=False, index=True),
    Column("n", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("outcome", String(10), nullable=False),
    Column("error", Text, nullable=True),
    # The stable ``WB-…`` code of an attempt that did not succeed (migration 0004).
    Column("code", String(12), nullable=True),
)

tokens = Table(
    "tokens",
    metadata,
    # Which connector and credentials the token is for (``TokenSource.key``).
    Column("key", String(200), primary_key=True),
    # The token as JSON, Fernet-encrypted; NULL when none is held or it was invalidated.
    Column("sealed_token", Text, nullable=True),
    Column("obtained_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),
    # Counts the tokens stored under this key: a 401 invalidates by compare-and-swap on it.
    Column("generation", Integer, nullable=False),
    # The process fetching a token now; others wait for it instead of fetching too.
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
)

pruned_deliveries = Table(
    "pruned_deliveries",
    metadata,
    # Ended deliveries that retention removed, so that the ledger still balances.
    Column("connector_name", String(100), primary_key=True),
    Column("status", String(12), primary_key=True),
    Column("count", Integer, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    # ``ingest``, ``read`` or ``admin``.
    Column("scope", String(10), nullable=False),
    # Only a hash of the key is kept; the key itself is shown once, at creation.
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
)

throttle_groups = Table(
    "throttle_groups",
    metadata,
    # A throttle group: the connectors that share one budget (migration 0006).
    Column("group_key", String(200), primary_key=True),
    # The group's token bucket: what is left, and when it was last refilled.
    Column("tokens", Float, nullable=False),
    Column("refilled_at", Float, nullable=False),
    # A 429 with Retry-After (or an open circuit) holds the whole group back until then.
    Column("hold_until", Float, nullable=False),
)

throttle_slots = Table(
    "throttle_slots",
    metadata,
    # One row per request in flight in the group, whichever process sent it.
    Column("group_key", String(200), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("holder", String(64), nullable=False),
    # A holder that dies keeps its slot no longer than this (renewed while it runs).
    Column("lease_expires_at", Float, nullable=False),
)
