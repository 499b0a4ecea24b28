"""PostgreSQL through SQLAlchemy 2.x Core: many app servers and sweepers on one database.

Needs the ``postgres`` extra (``pip install 'ticketflow[postgres]'``).

- Schema by explicit, versioned migrations in a ``ticketflow_schema`` table (a
  small migration table rather than Alembic: the schema is ticketflow's own,
  it migrates itself on start under an advisory lock, and teams need no
  Alembic environment for a library's tables).
- ``fields`` and ``tags`` are JSONB with GIN indexes (field and tag queries use
  ``@>``); the same B-tree indexes as SQLite for state, assignee, lifecycle,
  update time and next-due time.
- Saves are optimistic (``WHERE version = :expected``) inside one transaction
  with their events, tags and outbox messages.
- Sweepers share due work with ``claim_due``: ``FOR UPDATE SKIP LOCKED`` plus a
  lease that expires, so a sweeper that dies releases its claims.
- The hot calls (``get``, ``history``, ``save`` — a fire is one ``get`` and
  one ``save``) run as plain prepared SQL on a pinned pooled psycopg
  connection (:mod:`ticketflow.repository._pinned`); a ``save`` is *one*
  statement (the ticket update and the event insert in data-modifying CTEs),
  so it needs no BEGIN/COMMIT round trips. Everything else goes through
  SQLAlchemy Core.
- Connections: pool pre-ping on checkout, and a ping of the pinned connection
  after ``ping_after`` of idleness; a failure before a write commits is
  retried a bounded number of times; a failure *during* a commit is a
  ``StorageError`` (the outcome is unknown and a blind retry could apply a step
  twice) — except for a one-statement ``save``, whose outcome is read back
  (the version and the stored event say whether it committed) before it is
  retried or reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any, TypeVar, Unpack

try:
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql as pg
    from sqlalchemy.engine import Connection, Engine
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("SQLAlchemyRepository needs the extra: pip install 'ticketflow[postgres]'") from exc

from ticketflow.errors import ConcurrencyConflict, StorageError, TicketflowError, TicketNotFound
from ticketflow.model import UNSET, Event, Ticket, require_aware
from ticketflow.protocols import Delivery, Link, OutboxMessage, Page, TicketFilters
from ticketflow.repository._codec import (
    dumps,
    epoch_us,
    event_from_json,
    event_to_dict,
    loads,
    outbox_row,
    ticket_from_row,
)
from ticketflow.repository._memory import check_events
from ticketflow.repository._pinned import PinnedConnection
from ticketflow.repository._query import (
    Query,
    check_limit,
    check_name,
    check_status,
    decode_cursor,
    encode_cursor,
    unstorable,
)

__all__ = ["SQLAlchemyRepository"]

_T = TypeVar("_T")
_Write = tuple[str, list[Any], list[str]]  # a write statement, its parameters, the bodies of its events
_RETRIES = 3
_LOCK_KEY = 0x74666C77  # advisory lock around migrations ("tflw")
# Forward steps for existing schemas; a new schema is created at the latest version directly.
_MIGRATIONS = (
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
)


def _tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    tickets = sa.Table(
        "tickets",
        metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("lifecycle_id", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("fields", pg.JSONB, nullable=False),
        sa.Column("fields_text", sa.Text, nullable=False),
        sa.Column("tags", pg.JSONB, nullable=False),
        sa.Column("requester", sa.Text),
        sa.Column("assignee", sa.Text),
        sa.Column("participants", sa.Text, nullable=False),
        sa.Column("due_at", sa.Text),
        sa.Column("due_us", sa.BigInteger),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
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


#: The columns a Ticket is read from, in the order `_row_to_ticket` expects.
_TICKET_COLUMNS = (
    "id",
    "lifecycle_id",
    "state",
    "version",
    "created_at",
    "updated_at",
    "title",
    "fields_text",
    "requester",
    "assignee",
    "participants",
    "tags",
)


def _row_to_ticket(row: Sequence[Any]) -> Ticket:
    return ticket_from_row(row, row[11])


def _delivery(row: Any) -> Delivery:
    """A delivery-log line from the columns of ``SQLAlchemyRepository._delivery_columns``."""
    status = "delivered" if row.delivered else "undeliverable" if row.undeliverable else "pending"
    message = OutboxMessage(
        row.key, row.ticket_id, row.kind, loads(row.payload), datetime.fromisoformat(row.created_at)
    )
    return Delivery(
        message,
        status,
        row.attempts,
        row.last_error,
        None if row.delivered_at is None else datetime.fromisoformat(row.delivered_at),
        None if row.retry_at is None else datetime.fromisoformat(row.retry_at),
    )


class _SQL:
    """The statements of the hot calls and of transactions, as plain SQL for psycopg.

    Only fixed text and the schema name, quoted by the dialect, are joined
    into the statements (hence the ``S608`` exemptions); values are ``%s``
    parameters, and psycopg prepares each statement after a few uses.
    """

    _COLUMNS = (
        "state, version, updated_at, updated_us, title, fields, fields_text, tags, requester, assignee, participants"
    )
    _VALUES = "%s, %s, %s, %s, %s, %s::jsonb, %s, %s::jsonb, %s, %s, %s"

    def __init__(self, prefix: str) -> None:
        self.tickets = f"{prefix}tickets"
        self.events = f"{prefix}events"
        columns = ", ".join(_TICKET_COLUMNS)
        self.get = f"SELECT {columns} FROM {self.tickets} WHERE id = %s"
        self.history = f"SELECT body FROM {self.events} WHERE ticket_id = %s ORDER BY seq"
        self.get_with_history = (
            f"SELECT {columns}, "
            f"ARRAY(SELECT body FROM {self.events} e WHERE e.ticket_id = t.id ORDER BY e.seq) "
            f"FROM {self.tickets} t WHERE t.id = %s"
        )
        self.exists = f"SELECT 1 FROM {self.tickets} WHERE id = %s"
        self.outcome = (
            f"SELECT t.version, e.body FROM {self.tickets} t LEFT JOIN {self.events} e "
            "ON e.ticket_id = t.id AND e.seq = %s WHERE t.id = %s"
        )
        self.enqueue = (
            f"INSERT INTO {prefix}outbox (key, ticket_id, kind, payload, created_at, created_us) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING"
        )
        self.link = f"INSERT INTO {prefix}links (ticket_id, kind, target) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
        self._writes: dict[tuple[str, bool, int], str] = {}

    def save(self, with_due: bool, events: int) -> str:
        """The versioned ticket update, then its events only if the update matched: one statement.

        Returns one row per event written (one row if *events* is 0), none if
        the version did not match.
        """
        return self._write("save", with_due, events)

    def add(self, events: int) -> str:
        """The ticket insert unless its id exists, then its events: one statement (rows as for save)."""
        return self._write("add", True, events)

    def _write(self, kind: str, with_due: bool, events: int) -> str:
        key = (kind, with_due, events)
        statement = self._writes.get(key)
        if statement is None:
            due = ", due_at = %s, due_us = %s, lease_until = NULL" if with_due else ""
            if kind == "add":
                head = (
                    f"INSERT INTO {self.tickets} (id, lifecycle_id, created_at, {self._COLUMNS}, due_at, due_us) "
                    f"VALUES (%s, %s, %s, {self._VALUES}, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id"
                )
            else:
                pairs = zip(self._COLUMNS.split(", "), self._VALUES.split(", "), strict=True)
                sets = ", ".join(f"{column} = {value}" for column, value in pairs)
                head = f"UPDATE {self.tickets} SET {sets}{due} WHERE id = %s AND version = %s RETURNING id"
            if events == 0:
                statement = head
            else:
                rows = ", ".join(["(%s::integer, %s::text)"] * events)
                statement = (
                    f"WITH written AS ({head}) INSERT INTO {self.events} (ticket_id, seq, body) "
                    f"SELECT written.id, e.seq, e.body FROM written, (VALUES {rows}) AS e(seq, body) RETURNING seq"
                )
            self._writes[key] = statement
        return statement


def _ticket_parameters(ticket: Ticket) -> list[Any]:
    fields = dumps(dict(ticket.fields))
    return [
        ticket.state,
        ticket.version,
        ticket.updated_at.isoformat(),
        epoch_us(ticket.updated_at),
        ticket.title,
        fields,
        fields,
        dumps(sorted(ticket.tags)),
        ticket.requester,
        ticket.assignee,
        dumps(sorted(ticket.participants)),
    ]


def _event_parameters(first_seq: int, bodies: Sequence[str]) -> list[Any]:
    parameters: list[Any] = []
    for seq, body in enumerate(bodies, first_seq):
        parameters += [seq, body]
    return parameters


def _save_parameters(ticket: Ticket, bodies: Sequence[str], expected_version: int, due: Any) -> list[Any]:
    parameters = _ticket_parameters(ticket)
    if due is not UNSET:
        parameters += _due_parameters(due)
    return [*parameters, ticket.id, expected_version, *_event_parameters(expected_version + 1, bodies)]


def _add_parameters(ticket: Ticket, bodies: Sequence[str], due: datetime | None) -> list[Any]:
    head = [ticket.id, ticket.lifecycle_id, ticket.created_at.isoformat()]
    return [*head, *_ticket_parameters(ticket), *_due_parameters(due), *_event_parameters(1, bodies)]


def _add_write(sql: _SQL, ticket: Ticket, events: Sequence[Event], due: datetime | None) -> _Write:
    """The one statement that adds *ticket* with its first *events*, its parameters and the event bodies."""
    check_events(ticket, events, 1)
    bodies = _bodies(events)
    return sql.add(len(bodies)), _add_parameters(ticket, bodies, due), bodies


def _save_write(sql: _SQL, ticket: Ticket, events: Sequence[Event], expected_version: int, due: Any) -> _Write:
    """The one statement that saves *ticket* over *expected_version* with its *events*, as for :func:`_add_write`."""
    check_events(ticket, events, expected_version + 1)
    bodies = _bodies(events)
    statement = sql.save(due is not UNSET, len(bodies))
    return statement, _save_parameters(ticket, bodies, expected_version, due), bodies


def _refusal(ticket_id: str, expected_version: int, outcome: Sequence[Any] | None) -> TicketflowError:
    """Why a versioned write matched no row, from the ``outcome`` row: the ticket is missing, or someone saved it."""
    if outcome is None:
        return TicketNotFound(ticket_id)
    return ConcurrencyConflict(ticket_id, expected_version, int(outcome[0]))


def _due_parameters(due: datetime | None) -> list[Any]:
    if due is None:
        return [None, None]
    require_aware(due, "due")
    return [due.isoformat(), epoch_us(due)]


def _due_values(due: datetime | None) -> dict[str, Any]:
    due_at, due_us = _due_parameters(due)
    return {"due_at": due_at, "due_us": due_us, "lease_until": None}


def _bodies(events: Sequence[Event]) -> list[str]:
    return [dumps(event_to_dict(e)) for e in events]


class _Transaction:
    """Writes staged on one connection between BEGIN and COMMIT (see ``SQLAlchemyRepository.transaction``)."""

    def __init__(self, repo: SQLAlchemyRepository, cursor: Any) -> None:
        self.repo = repo
        self.cursor = cursor

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None) -> None:
        self._write(ticket.id, 0, _add_write(self.repo._sql, ticket, events, due))

    def save(self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET) -> None:
        self._write(ticket.id, expected_version, _save_write(self.repo._sql, ticket, events, expected_version, due))

    def _write(self, ticket_id: str, expected_version: int, write: _Write) -> None:
        statement, parameters, _ = write
        self.cursor.execute(statement, parameters)
        if not self.cursor.fetchall():  # say why from inside this transaction, on its own connection
            self.cursor.execute(self.repo._sql.outcome, (expected_version + 1, ticket_id))
            raise _refusal(ticket_id, expected_version, self.cursor.fetchone())

    def enqueue(self, message: OutboxMessage) -> None:
        self.cursor.execute(self.repo._sql.enqueue, outbox_row(message))

    def link(self, link: Link) -> None:
        self.cursor.execute(self.repo._sql.link, (link.ticket_id, link.kind, link.target))


class SQLAlchemyRepository:
    """Tickets, histories, due timers and an outbox in PostgreSQL, through SQLAlchemy Core.

    Args:
        url_or_engine: a database URL (``postgresql+psycopg://user@host/db``)
            or an existing :class:`sqlalchemy.engine.Engine`.
        schema: the PostgreSQL schema for ticketflow's tables (created if
            missing; default: the connection's search path).
        lease: how long a claim of due work (:meth:`claim_due`) lasts before
            another sweeper may take it.
        pre_ping: test pooled connections when they are checked out of the
            pool (one round trip per checkout); without it a dead connection
            is still detected on use and the step retried, unless it failed
            during a commit.
        ping_after: the pinned connection of the hot calls (``get``,
            ``history``, ``save``) is pinged before use when it has been idle
            longer than this; ``None`` never pings it (a dead one is then
            found on use: reads are retried, a save's outcome is read back).

    Raises:
        StorageError: not PostgreSQL through psycopg 3, the database cannot be
            reached, or its ticketflow schema is newer than this code.
    """

    #: The schema version this code writes; ``_MIGRATIONS[n]`` takes a schema from n + 1 to n + 2.
    SCHEMA_VERSION = 4

    def __init__(
        self,
        url_or_engine: str | Engine,
        *,
        schema: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        pre_ping: bool = True,
        ping_after: timedelta | None = timedelta(seconds=1),
    ) -> None:
        self._owns_engine = isinstance(url_or_engine, str)
        if isinstance(url_or_engine, str):
            try:
                self.engine = sa.create_engine(url_or_engine, pool_pre_ping=pre_ping)
            except (sa.exc.ArgumentError, ImportError) as exc:
                raise StorageError(f"cannot use database URL: {exc}") from exc
        else:
            self.engine = url_or_engine
        dialect = self.engine.dialect
        if dialect.name != "postgresql" or dialect.driver != "psycopg":
            self.close()
            raise StorageError(
                "SQLAlchemyRepository supports PostgreSQL through psycopg 3 (postgresql+psycopg://...), "
                f"not {dialect.name}+{dialect.driver}"
            )
        self.schema = schema
        self.lease = lease
        self._metadata = sa.MetaData(schema=schema)
        self._t = _tables(self._metadata)
        self._prefix = f"{dialect.identifier_preparer.quote_schema(schema)}." if schema else ""
        self._sql = _SQL(self._prefix)
        self._pinned = PinnedConnection(self.engine, None if ping_after is None else ping_after.total_seconds())
        self._dbapi: Any = dialect.loaded_dbapi
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Return the pinned connection; close the pool of an engine this repository created."""
        pinned = getattr(self, "_pinned", None)
        if pinned is not None:
            pinned.release()
        if self._owns_engine:
            self.engine.dispose()

    def __repr__(self) -> str:
        where = self.engine.url.render_as_string(hide_password=True)
        return f"SQLAlchemyRepository({where!r}, schema={self.schema!r})"

    # -- connections and migrations ------------------------------------------------------

    def _connect(self) -> Connection:
        self._pinned.release()  # a small pool must not wait for the connection the hot calls keep idle
        for attempt in range(_RETRIES + 1):
            try:
                return self.engine.connect()
            except sa.exc.OperationalError as exc:
                if attempt == _RETRIES:
                    raise StorageError(f"cannot reach the database: {exc.orig}") from exc
                time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, run: Callable[[Connection], _T]) -> _T:
        for attempt in range(_RETRIES + 1):
            try:
                # autocommit: a read needs no BEGIN/ROLLBACK round trips
                with self._connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    return run(conn)
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                if attempt == _RETRIES:
                    raise StorageError(f"database read failed: {exc.orig}") from exc
                time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _migrate(self) -> None:
        version_table = sa.Table("ticketflow_schema", self._metadata, sa.Column("version", sa.Integer, nullable=False))
        with self._connect() as conn, conn.begin():
            if self.schema:
                conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {self._prefix[:-1]}"))
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            version_table.create(conn, checkfirst=True)
            version = conn.execute(sa.select(version_table.c.version)).scalar()
            if version is None:  # a new schema: today's tables, at today's version
                for table in self._t.values():
                    table.create(conn, checkfirst=True)
                conn.execute(sa.insert(version_table).values(version=self.SCHEMA_VERSION))
                return
            if version > self.SCHEMA_VERSION:
                raise StorageError(
                    f"ticketflow schema version {version} is newer than this ticketflow knows "
                    f"({self.SCHEMA_VERSION}); upgrade ticketflow"
                )
            for step in _MIGRATIONS[version - 1 :]:
                conn.execute(sa.text(step.format(schema=self._prefix)))
            conn.execute(sa.update(version_table).values(version=self.SCHEMA_VERSION))

    def drop_schema(self) -> None:
        """Drop ticketflow's schema and everything in it (tests; irreversible)."""
        if not self.schema:
            raise StorageError("drop_schema needs the repository to own a schema")
        with self._connect() as conn, conn.begin():
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {self._prefix[:-1]} CASCADE"))
        self.close()

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """One database transaction: everything staged commits together or not at all.

        Runs on the pinned connection (BEGIN ... COMMIT). A failure before the
        commit rolls back (nothing was written) and raises StorageError; a
        connection failure during the commit raises StorageError saying its
        outcome is unknown.
        """
        failures = self._dbapi.Error
        try:
            pinned = self._pinned.cursor()
            cursor = pinned.__enter__()
        except failures as exc:
            raise StorageError(f"cannot reach the database; nothing written: {exc}") from exc
        with ExitStack() as stack:
            stack.push(pinned)
            try:
                cursor.execute("BEGIN")
            except failures as exc:
                raise StorageError(f"database write failed and was rolled back: {exc}") from exc
            try:
                yield _Transaction(self, cursor)
            except failures as exc:
                self._rollback(cursor)
                raise StorageError(f"database write failed and was rolled back: {exc}") from exc
            except BaseException:
                self._rollback(cursor)
                raise
            try:
                cursor.execute("COMMIT")
            except (self._dbapi.OperationalError, self._dbapi.InterfaceError) as exc:
                raise StorageError(f"the commit failed; its outcome is unknown: {exc}") from exc
            except failures as exc:
                raise StorageError(f"the commit was refused and rolled back: {exc}") from exc

    def _rollback(self, cursor: Any) -> None:
        # on a broken connection the server rolled back already; the pinned connection is replaced
        with suppress(self._dbapi.Error):
            cursor.execute("ROLLBACK")

    def _write(self, run: Callable[[Connection], None]) -> None:
        """Run a one-transaction write through SQLAlchemy, retrying connection failures before the commit."""
        for attempt in range(_RETRIES + 1):
            conn = self._connect()
            try:
                trans = conn.begin()
                try:
                    run(conn)
                except (sa.exc.OperationalError, sa.exc.InterfaceError):
                    trans.rollback()
                    if attempt == _RETRIES:
                        raise
                    time.sleep(0.1 * 2**attempt)
                    continue
                except BaseException:
                    trans.rollback()
                    raise
                try:
                    trans.commit()
                except sa.exc.DBAPIError as exc:
                    raise StorageError(f"the commit failed; its outcome is unknown: {exc.orig}") from exc
                return
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                raise StorageError(f"database write failed: {exc.orig}") from exc
            finally:
                conn.close()

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None) -> None:
        """Store a new ticket with its first events (one statement; see :meth:`save` on failures)."""
        self._write_one(ticket.id, 0, _add_write(self._sql, ticket, events, due))

    def save(self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET) -> None:
        """Store the changed ticket and its events if nobody saved it meanwhile.

        One statement on the pinned connection (autocommit). If the
        connection fails under it, the outcome is read back before anything
        else happens: the version still at *expected_version* means it did
        not apply (retried); the first event stored as sent means it
        committed; anything else is a ``ConcurrencyConflict``. (A save
        without events cannot be read back: its failure is a StorageError.)
        """
        self._write_one(ticket.id, expected_version, _save_write(self._sql, ticket, events, expected_version, due))

    def _write_one(self, ticket_id: str, expected_version: int, write: _Write) -> None:
        """Run one autocommit write statement; after a connection failure, read its outcome back."""
        statement, parameters, bodies = write
        for attempt in range(_RETRIES + 1):
            sent = False
            try:
                with self._pinned.cursor() as cursor:
                    sent = True
                    cursor.execute(statement, parameters)
                    written = bool(cursor.fetchall())
            except (self._dbapi.OperationalError, self._dbapi.InterfaceError) as exc:
                if not sent:  # no connection: nothing was written
                    if attempt == _RETRIES:
                        raise StorageError(
                            f"ticket {ticket_id}: cannot reach the database; nothing written: {exc}"
                        ) from exc
                    time.sleep(0.1 * 2**attempt)
                    continue
                if not bodies:
                    raise StorageError(f"ticket {ticket_id}: write failed; its outcome is unknown: {exc}") from exc
                if self._committed(ticket_id, expected_version, bodies[0], exc):
                    return
                if attempt == _RETRIES:
                    raise StorageError(f"ticket {ticket_id}: write failed and was not applied: {exc}") from exc
                time.sleep(0.1 * 2**attempt)
                continue
            except self._dbapi.Error as exc:
                raise StorageError(f"ticket {ticket_id}: write failed: {exc}") from exc
            if not written:  # say why, from a read after it
                outcome = self._hot_read(self._sql.outcome, (expected_version + 1, ticket_id), one=True)
                raise _refusal(ticket_id, expected_version, outcome)
            return

    def _committed(self, ticket_id: str, expected_version: int, first_body: str, failure: Exception) -> bool:
        """After a failed one-statement write, tell whether it committed (a conflict or a missing ticket raises)."""
        try:
            row = self._hot_read(self._sql.outcome, (expected_version + 1, ticket_id), one=True)
        except StorageError as exc:
            raise StorageError(
                f"ticket {ticket_id}: write failed ({failure}) and its outcome is unknown: {exc}"
            ) from exc
        if row is None:
            if expected_version == 0:
                return False  # a new ticket that is not there: the insert did not apply
            raise TicketNotFound(ticket_id)
        version, body = row
        if body == first_body:
            return True
        if version == expected_version:
            return False
        raise ConcurrencyConflict(ticket_id, expected_version, int(version))

    def _hot_read(self, statement: str, parameters: Sequence[Any], *, one: bool = False) -> Any:
        """Run a read on the pinned connection, retrying connection failures."""
        for attempt in range(_RETRIES + 1):
            try:
                with self._pinned.cursor() as cursor:
                    cursor.execute(statement, parameters)
                    return cursor.fetchone() if one else cursor.fetchall()
            except (self._dbapi.OperationalError, self._dbapi.InterfaceError) as exc:
                if attempt == _RETRIES:
                    raise StorageError(f"database read failed: {exc}") from exc
                time.sleep(0.1 * 2**attempt)
            except self._dbapi.Error as exc:
                raise StorageError(f"database read failed: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def reschedule(self, ticket_id: str, due: datetime | None) -> None:
        """Set (or clear) the ticket's next due instant (and release any claim on it)."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        tickets = self._t["tickets"]

        def run(conn: Connection) -> None:
            updated = conn.execute(
                sa.update(tickets).where(tickets.c.id == ticket_id).values(**_due_values(due)).returning(tickets.c.id)
            ).first()
            if updated is None:
                raise TicketNotFound(ticket_id)

        self._write(run)

    def next_sequence(self, name: str) -> int:
        """The next number of the named sequence (1, 2, ...), unique under concurrency."""
        check_name("sequence name", name)
        sequences = self._t["sequences"]
        result: list[int] = []

        def run(conn: Connection) -> None:
            value = conn.execute(
                pg.insert(sequences)
                .values(name=name, value=1)
                .on_conflict_do_update(index_elements=["name"], set_={"value": sequences.c.value + 1})
                .returning(sequences.c.value)
            ).scalar_one()
            result.append(int(value))

        self._write(run)
        return result[-1]

    # -- reading -------------------------------------------------------------------------

    def _select(self) -> sa.Select[Any]:
        tickets = self._t["tickets"]
        return sa.select(*(tickets.c[name] for name in _TICKET_COLUMNS))

    def get(self, ticket_id: str) -> Ticket:
        """The ticket as last saved."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        row = self._hot_read(self._sql.get, (ticket_id,), one=True)
        if row is None:
            raise TicketNotFound(ticket_id)
        return _row_to_ticket(row)

    def get_with_history(self, ticket_id: str) -> tuple[Ticket, list[Event]]:
        """The ticket and its whole history, from one snapshot in one round trip (what a sweeper reads)."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        row = self._hot_read(self._sql.get_with_history, (ticket_id,), one=True)
        if row is None:
            raise TicketNotFound(ticket_id)
        return _row_to_ticket(row), [event_from_json(body) for body in row[len(_TICKET_COLUMNS)]]

    def history(self, ticket_id: str) -> list[Event]:
        """All events of the ticket, oldest first."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        rows = self._hot_read(self._sql.history, (ticket_id,))
        if not rows and self._hot_read(self._sql.exists, (ticket_id,), one=True) is None:
            raise TicketNotFound(ticket_id)
        return [event_from_json(row[0]) for row in rows]

    def _where(self, query: Query) -> list[Any]:
        t = self._t["tickets"]
        clauses: list[Any] = []
        if query.states is not None:
            clauses.append(t.c.state.in_(sorted(query.states)))
        if query.assignee is not None:
            clauses.append(t.c.assignee == query.assignee)
        if query.tag is not None:
            clauses.append(t.c.tags.contains([query.tag]))
        if query.field:
            clauses.append(t.c.fields.contains(json.loads(dumps(dict(query.field)))))
        if query.lifecycle_id is not None:
            clauses.append(t.c.lifecycle_id == query.lifecycle_id)
        if query.updated_before is not None:
            clauses.append(t.c.updated_us < epoch_us(query.updated_before))
        if query.requester is not None:
            clauses.append(t.c.requester == query.requester)
        if query.updated_after is not None:
            clauses.append(t.c.updated_us >= epoch_us(query.updated_after))
        return clauses

    def find(self, *, limit: int = 100, after: str | None = None, **filters: Unpack[TicketFilters]) -> Page:
        """One page of matching tickets in id order, from the indexes."""
        query = Query.build(**filters)
        limit = check_limit(limit)
        tickets = self._t["tickets"]
        clauses = self._where(query)
        start = decode_cursor(after)
        if start is not None:
            clauses.append(tickets.c.id > start)
        statement = self._select().where(*clauses).order_by(tickets.c.id).limit(limit + 1)
        rows = self._read(lambda c: c.execute(statement).all())
        found = tuple(_row_to_ticket(row) for row in rows[:limit])
        return Page(found, encode_cursor(found[-1].id) if len(rows) > limit else None)

    def count(self, **filters: Unpack[TicketFilters]) -> int:
        """How many tickets match."""
        clauses = self._where(Query.build(**filters))
        statement = sa.select(sa.func.count()).select_from(self._t["tickets"]).where(*clauses)
        return int(self._read(lambda c: c.execute(statement).scalar_one()))

    def due(self, now: datetime, limit: int = 100, *, lifecycle_id: str | None = None) -> list[tuple[str, datetime]]:
        """Tickets (of *lifecycle_id*, if given) whose next timer is at or before *now*, earliest first (no claim)."""
        require_aware(now, "now")
        limit = check_limit(limit)
        t = self._t["tickets"]
        statement = (
            sa.select(t.c.id, t.c.due_at)
            .where(t.c.due_us.is_not(None), t.c.due_us <= epoch_us(now), *self._of(lifecycle_id))
            .order_by(t.c.due_us, t.c.id)
            .limit(limit)
        )
        rows = self._read(lambda c: c.execute(statement).all())
        return [(row.id, datetime.fromisoformat(row.due_at)) for row in rows]

    def _of(self, lifecycle_id: str | None) -> list[Any]:
        return [] if lifecycle_id is None else [self._t["tickets"].c.lifecycle_id == lifecycle_id]

    def claim_due(
        self, now: datetime, limit: int = 100, *, lifecycle_id: str | None = None
    ) -> list[tuple[str, datetime]]:
        """Like :meth:`due`, but each ticket returned is leased to this caller.

        Uses ``FOR UPDATE SKIP LOCKED`` and a lease (``lease`` long, on the
        database's clock): N sweepers on N machines share the work without
        waiting for each other, and the claims of a sweeper that dies expire.
        Saving or rescheduling the ticket ends the lease.
        """
        require_aware(now, "now")
        limit = check_limit(limit)
        t = self._t["tickets"]
        lease_seconds = self.lease.total_seconds()
        candidates = (
            sa.select(t.c.id)
            .where(
                t.c.due_us.is_not(None),
                t.c.due_us <= epoch_us(now),
                sa.or_(t.c.lease_until.is_(None), t.c.lease_until < sa.func.clock_timestamp()),
                *self._of(lifecycle_id),
            )
            .order_by(t.c.due_us, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            sa.update(t)
            .where(t.c.id.in_(candidates))
            .values(lease_until=sa.func.clock_timestamp() + sa.func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds))
            .returning(t.c.id, t.c.due_at, t.c.due_us)
        )
        rows: list[Any] = []

        def run(conn: Connection) -> None:
            rows.extend(conn.execute(statement).all())

        self._write(run)
        rows.sort(key=lambda row: (row.due_us, row.id))
        return [(row.id, datetime.fromisoformat(row.due_at)) for row in rows]

    def pending_messages(self, limit: int = 100) -> list[OutboxMessage]:
        """Undelivered outbox messages, oldest first."""
        limit = check_limit(limit)
        o = self._t["outbox"]
        statement = (
            sa.select(o.c.key, o.c.ticket_id, o.c.kind, o.c.payload, o.c.created_at)
            .where(o.c.delivered.is_(False))
            .order_by(o.c.created_us, o.c.key)
            .limit(limit)
        )
        rows = self._read(lambda c: c.execute(statement).all())
        return [
            OutboxMessage(r.key, r.ticket_id, r.kind, loads(r.payload), datetime.fromisoformat(r.created_at))
            for r in rows
        ]

    def links(self, ticket_id: str) -> list[Link]:
        """The ticket's links, in (kind, target) order."""
        if unstorable(ticket_id):
            return []
        t = self._t["links"]
        statement = sa.select(t).where(t.c.ticket_id == ticket_id).order_by(t.c.kind, t.c.target)
        return [Link(r.ticket_id, r.kind, r.target) for r in self._read(lambda c: c.execute(statement).all())]

    def linked(self, target: str) -> list[Link]:
        """The links pointing at *target*, by ticket id."""
        if unstorable(target):
            return []
        t = self._t["links"]
        statement = sa.select(t).where(t.c.target == target).order_by(t.c.ticket_id, t.c.kind)
        return [Link(r.ticket_id, r.kind, r.target) for r in self._read(lambda c: c.execute(statement).all())]

    def mark_delivered(self, key: str, at: datetime | None = None) -> None:
        """Take a delivered message off the pending list (recording *at* as its delivery instant)."""
        check_name("message key", key)
        values = {
            "delivered": True,
            "undeliverable": False,
            "delivered_at": None if at is None else require_aware(at, "at").isoformat(),
            "attempts": self._t["outbox"].c.attempts + 1,
            "claimed_by": None,
            "lease_until": None,
        }
        self._update_message(key, values)

    def _update_message(self, key: str, values: dict[str, Any]) -> None:
        o = self._t["outbox"]

        def run(conn: Connection) -> None:
            if conn.execute(sa.update(o).where(o.c.key == key).values(**values).returning(o.c.key)).first() is None:
                raise StorageError(f"no outbox message with key {key!r}")

        self._write(run)

    def _delivery_columns(self) -> tuple[Any, ...]:
        o = self._t["outbox"]
        return (
            o.c.key,
            o.c.ticket_id,
            o.c.kind,
            o.c.payload,
            o.c.created_at,
            o.c.delivered,
            o.c.undeliverable,
            o.c.attempts,
            o.c.last_error,
            o.c.delivered_at,
            o.c.retry_at,
            o.c.created_us,
        )

    def claim_messages(
        self, kinds: Collection[str], now: datetime, *, owner: str, lease: timedelta, limit: int = 100
    ) -> list[Delivery]:
        """Lease up to *limit* undelivered messages of *kinds*, due for an attempt at *now*, oldest first.

        ``FOR UPDATE SKIP LOCKED`` and a lease on the database's clock: N
        sweepers share the outbox without waiting for each other and never
        hold the same message; the claims of a sweeper that dies expire.
        """
        require_aware(now, "now")
        limit = check_limit(limit)
        wanted = sorted(set(kinds))
        if not wanted:
            return []
        o = self._t["outbox"]
        candidates = (
            sa.select(o.c.key)
            .where(
                o.c.delivered.is_(False),
                o.c.kind.in_(wanted),
                sa.or_(o.c.retry_us.is_(None), o.c.retry_us <= epoch_us(now)),
                sa.or_(o.c.lease_until.is_(None), o.c.lease_until <= sa.func.clock_timestamp()),
            )
            .order_by(o.c.created_us, o.c.key)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        seconds = lease.total_seconds()
        statement = (
            sa.update(o)
            .where(o.c.key.in_(candidates))
            .values(
                claimed_by=owner,
                lease_until=sa.func.clock_timestamp() + sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds),
            )
            .returning(*self._delivery_columns())
        )
        rows: list[Any] = []

        def run(conn: Connection) -> None:
            rows.clear()
            rows.extend(conn.execute(statement).all())

        self._write(run)
        rows.sort(key=lambda row: (row.created_us, row.key))
        return [_delivery(row) for row in rows]

    def mark_failed(self, key: str, error: str, retry_at: datetime) -> None:
        """Record a failed attempt; the message is not claimed again before *retry_at*."""
        require_aware(retry_at, "retry_at")
        o = self._t["outbox"]
        values = {
            "attempts": o.c.attempts + 1,
            "last_error": error,
            "retry_at": retry_at.isoformat(),
            "retry_us": epoch_us(retry_at),
            "undeliverable": False,
            "claimed_by": None,
            "lease_until": None,
        }
        self._update_message(key, values)

    def mark_undeliverable(self, handled: Collection[str]) -> dict[str, int]:
        """Flag pending messages whose kind is not in *handled*; return how many were newly flagged, by kind."""
        o = self._t["outbox"]
        unhandled = (
            sa.select(o.c.key)
            .where(
                o.c.delivered.is_(False),
                o.c.undeliverable.is_(False),
                o.c.kind.not_in(sorted(set(handled))),
                sa.or_(o.c.lease_until.is_(None), o.c.lease_until <= sa.func.clock_timestamp()),
            )
            .with_for_update(skip_locked=True)  # sweepers flagging at once neither wait nor deadlock
            .scalar_subquery()
        )
        statement = (
            sa.update(o)
            .where(o.c.key.in_(unhandled))
            .values(
                undeliverable=True, last_error=sa.func.concat("no notifier for kind ", sa.func.quote_literal(o.c.kind))
            )
            .returning(o.c.kind)
        )
        flagged: dict[str, int] = {}

        def run(conn: Connection) -> None:
            flagged.clear()
            for (kind,) in conn.execute(statement).all():
                flagged[kind] = flagged.get(kind, 0) + 1

        self._write(run)
        return flagged

    def requeue(self, key: str) -> None:
        """Make a message pending again (delivered or not), to be delivered once more."""
        values: dict[str, Any] = {
            "delivered": False,
            "undeliverable": False,
            "delivered_at": None,
            "retry_at": None,
            "retry_us": None,
            "claimed_by": None,
            "lease_until": None,
        }
        self._update_message(key, values)

    def deliveries(
        self, *, ticket_id: str | None = None, key: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The delivery log: messages (of a ticket, a key, a status) with their attempts, oldest first."""
        limit = check_limit(limit)
        check_status(status)
        o = self._t["outbox"]
        clauses: list[Any] = []
        if ticket_id is not None:
            clauses.append(o.c.ticket_id == ticket_id)
        if key is not None:
            clauses.append(o.c.key == key)
        if status == "delivered":
            clauses.append(o.c.delivered.is_(True))
        elif status is not None:
            clauses += [o.c.delivered.is_(False), o.c.undeliverable.is_(status == "undeliverable")]
        statement = sa.select(*self._delivery_columns()).where(*clauses).order_by(o.c.created_us, o.c.key).limit(limit)
        return [_delivery(row) for row in self._read(lambda c: c.execute(statement).all())]
