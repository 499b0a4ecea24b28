"""The one definition of ticketflow's PostgreSQL tables, and the migrations that bring an older schema to it.

The tables are SQLAlchemy ``Table`` objects; every statement of the hot calls
(:mod:`._statements`) is derived from them, so a column is declared once, here.
Each ``tickets`` column says in its ``info`` how a :class:`~ticketflow.model.Ticket`
fills it:

- ``"create"``: written once, when the ticket is added (``id``, ``lifecycle_id``, ``created_at``);
- ``"save"``: written by every add and save, from the ticket (and its fields' JSON text);
- ``"due"``: the next due instant and the claim on it, written when a due instant is given;
- ``"reads"``: the :class:`~ticketflow.model.Ticket` attribute the column is read back as.

Schema changes are explicit, versioned migrations in a ``ticketflow_schema``
table (rather than Alembic: the schema is ticketflow's own, it migrates itself
on start under an advisory lock, and teams need no Alembic environment for a
library's tables). A new schema is created from the tables at the latest
version directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from ticketflow.errors import StorageError
from ticketflow.model import Ticket
from ticketflow.repository._codec import dumps, epoch_us

__all__ = ["LOCK_KEY", "MIGRATIONS", "SCHEMA_VERSION", "TICKET_ATTRIBUTES", "Fill", "migrate", "tables"]

#: How a ``tickets`` column is filled from a ticket and the JSON text of its fields.
Fill = Callable[[Ticket, str], Any]

#: The Ticket attributes ``ticket_from_row`` reads, in its order (tags are read apart, last).
TICKET_ATTRIBUTES = (
    "id",
    "lifecycle_id",
    "state",
    "version",
    "created_at",
    "updated_at",
    "title",
    "fields",
    "requester",
    "assignee",
    "participants",
    "tags",
)

#: Advisory lock around migrations ("tflw").
LOCK_KEY = 0x74666C77

#: Forward steps for existing schemas: ``MIGRATIONS[n]`` takes a schema from version n + 1 to n + 2.
MIGRATIONS = (
    # 1 -> 2: tickets by requester (continuity routing, find(requester=...))
    "CREATE INDEX IF NOT EXISTS tickets_requester ON {schema}tickets (requester, id)",
    # 2 -> 3: links between tickets and to external records, queryable both ways
    "CREATE TABLE IF NOT EXISTS {schema}links (ticket_id TEXT, kind TEXT, target TEXT, "
    "PRIMARY KEY (ticket_id, kind, target)); "
    "CREATE INDEX IF NOT EXISTS links_target ON {schema}links (target, ticket_id)",
    # 3 -> 4: the delivery log and claims of outbox messages
    "ALTER TABLE {schema}outbox ADD COLUMN IF NOT EXISTS attempts INTEGER NOT NULL DEFAULT 0, "
    "ADD COLUMN IF NOT EXISTS last_error TEXT, ADD COLUMN IF NOT EXISTS delivered_at TEXT, "
    "ADD COLUMN IF NOT EXISTS retry_at TEXT, ADD COLUMN IF NOT EXISTS retry_us BIGINT, "
    "ADD COLUMN IF NOT EXISTS undeliverable BOOLEAN NOT NULL DEFAULT false, "
    "ADD COLUMN IF NOT EXISTS claimed_by TEXT, ADD COLUMN IF NOT EXISTS lease_until TIMESTAMPTZ; "
    "CREATE INDEX IF NOT EXISTS outbox_ticket ON {schema}outbox (ticket_id, created_us, key); "
    "CREATE INDEX IF NOT EXISTS outbox_kind_pending ON {schema}outbox (kind, created_us, key) WHERE NOT delivered",
    # 4 -> 5: each ticket's fold (the events its SLA clocks and timed rules read; FoldStore)
    "ALTER TABLE {schema}tickets ADD COLUMN IF NOT EXISTS fold TEXT",
)

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS) + 1


def _create(fill: Fill, reads: str) -> dict[str, Any]:
    return {"create": fill, "reads": reads}


def _save(fill: Fill, reads: str | None = None) -> dict[str, Any]:
    return {"save": fill} if reads is None else {"save": fill, "reads": reads}


def tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The tables of ticketflow, by name, in *metadata* (whose schema they live in)."""
    tickets = sa.Table(
        "tickets",
        metadata,
        sa.Column("id", sa.Text, primary_key=True, info=_create(lambda t, _f: t.id, "id")),
        sa.Column("lifecycle_id", sa.Text, nullable=False, info=_create(lambda t, _f: t.lifecycle_id, "lifecycle_id")),
        sa.Column("state", sa.Text, nullable=False, info=_save(lambda t, _f: t.state, "state")),
        sa.Column("version", sa.Integer, nullable=False, info=_save(lambda t, _f: t.version, "version")),
        sa.Column(
            "created_at", sa.Text, nullable=False, info=_create(lambda t, _f: t.created_at.isoformat(), "created_at")
        ),
        sa.Column(
            "updated_at", sa.Text, nullable=False, info=_save(lambda t, _f: t.updated_at.isoformat(), "updated_at")
        ),
        sa.Column("updated_us", sa.BigInteger, nullable=False, info=_save(lambda t, _f: epoch_us(t.updated_at))),
        sa.Column("title", sa.Text, nullable=False, info=_save(lambda t, _f: t.title, "title")),
        sa.Column("fields", pg.JSONB, nullable=False, info=_save(lambda _t, f: f)),  # queried with @>
        sa.Column("fields_text", sa.Text, nullable=False, info=_save(lambda _t, f: f, "fields")),  # read back as sent
        sa.Column("tags", pg.JSONB, nullable=False, info=_save(lambda t, _f: dumps(sorted(t.tags)), "tags")),
        sa.Column("requester", sa.Text, info=_save(lambda t, _f: t.requester, "requester")),
        sa.Column("assignee", sa.Text, info=_save(lambda t, _f: t.assignee, "assignee")),
        sa.Column(
            "participants",
            sa.Text,
            nullable=False,
            info=_save(lambda t, _f: dumps(sorted(t.participants)), "participants"),
        ),
        sa.Column("due_at", sa.Text, info={"due": True}),
        sa.Column("due_us", sa.BigInteger, info={"due": True}),
        sa.Column("lease_until", sa.DateTime(timezone=True), info={"due": True}),  # a sweeper's claim
        sa.Column("fold", sa.Text),  # FoldStore: a JSON array, the fold's head then its seqs (lasting, then transient)
        sa.Index("tickets_state", "state", "id"),
        sa.Index("tickets_assignee", "assignee", "id"),
        sa.Index("tickets_requester", "requester", "id"),
        sa.Index("tickets_lifecycle", "lifecycle_id", "id"),
        sa.Index("tickets_updated", "updated_us"),
        sa.Index("tickets_due", "due_us", "id", postgresql_where=sa.text("due_us IS NOT NULL")),
        sa.Index("tickets_fields", "fields", postgresql_using="gin", postgresql_ops={"fields": "jsonb_path_ops"}),
        sa.Index("tickets_tags", "tags", postgresql_using="gin"),
    )
    events = sa.Table(
        "events",
        metadata,
        sa.Column("ticket_id", sa.Text, sa.ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("ticket_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.Text),
        sa.Column("retry_at", sa.Text),
        sa.Column("retry_us", sa.BigInteger),
        sa.Column("undeliverable", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("claimed_by", sa.Text),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Index("outbox_pending", "created_us", "key", postgresql_where=sa.text("NOT delivered")),
        sa.Index("outbox_ticket", "ticket_id", "created_us", "key"),
        sa.Index("outbox_kind_pending", "kind", "created_us", "key", postgresql_where=sa.text("NOT delivered")),
    )
    sequences = sa.Table(
        "sequences",
        metadata,
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    links = sa.Table(
        "links",
        metadata,
        sa.Column("ticket_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("target", sa.Text, primary_key=True),
        sa.Index("links_target", "target", "ticket_id"),
    )
    return {"tickets": tickets, "events": events, "outbox": outbox, "sequences": sequences, "links": links}


def migrate(conn: Connection, metadata: sa.MetaData, prefix: str) -> None:
    """Create the tables of *metadata*'s schema, or bring an older schema to :data:`SCHEMA_VERSION`.

    Runs inside the caller's transaction on *conn*, under an advisory lock, so
    processes starting together migrate once. *prefix* is the quoted schema
    name and a dot (empty for the search path).

    Raises:
        StorageError: the schema is newer than this code.
    """
    version_table = sa.Table("ticketflow_schema", metadata, sa.Column("version", sa.Integer, nullable=False))
    if metadata.schema:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {prefix[:-1]}"))
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    version_table.create(conn, checkfirst=True)
    version = conn.execute(sa.select(version_table.c.version)).scalar()
    if version is None:  # a new schema: today's tables, at today's version
        for table in metadata.sorted_tables:
            if table is not version_table:
                table.create(conn, checkfirst=True)
        conn.execute(sa.insert(version_table).values(version=SCHEMA_VERSION))
        return
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"ticketflow schema version {version} is newer than this ticketflow knows ({SCHEMA_VERSION}); "
            "upgrade ticketflow"
        )
    for step in MIGRATIONS[version - 1 :]:
        conn.execute(sa.text(step.format(schema=prefix)))
    conn.execute(sa.update(version_table).values(version=SCHEMA_VERSION))
