"""The PostgreSQL repository: the ``TicketRepository`` Protocol over the tables of :mod:`._schema`.

- ``fields`` and ``tags`` are JSONB with GIN indexes (field and tag queries use
  ``@>``); the same B-tree indexes as SQLite for state, assignee, lifecycle,
  update time and next-due time.
- Saves are optimistic (``WHERE version = :expected``) with their events, in
  one statement (the ticket update and the event insert in data-modifying
  CTEs, :mod:`._statements`), on the pinned connection (:mod:`._connection`):
  a fire is one ``get`` and one ``save``, so it needs no BEGIN/COMMIT round
  trips. A transaction is staged and sent at its end: BEGIN and its writes in
  one pipeline, then COMMIT. Everything else goes through SQLAlchemy Core.
- Sweepers share due work with ``claim_due`` (one statement on the pinned
  connection): ``FOR UPDATE SKIP LOCKED`` plus a lease that expires, so a
  sweeper that dies releases its claims.
- A failure before a write commits is retried (one :class:`._connection.Retry`
  policy); a failure *during* a commit is a ``StorageError`` (the outcome is
  unknown and a blind retry could apply a step twice) — except for a
  one-statement ``save``, whose outcome is read back (the version and the
  stored event say whether it committed) before it is retried or reported.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Unpack

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine

from ticketflow.errors import ConcurrencyConflict, StorageError, TicketNotFound
from ticketflow.model import UNSET, Event, Ticket, require_aware
from ticketflow.protocols import Delivery, Link, OutboxMessage, Page, PartialFold, TicketFilters
from ticketflow.repository import _codec
from ticketflow.repository._codec import (
    dumps,
    epoch_us,
    events_from_json,
    fold_head,
    loads,
    outbox_row,
)
from ticketflow.repository._memory import check_message
from ticketflow.repository._query import (
    Query,
    check_limit,
    check_name,
    check_status,
    decode_cursor,
    encode_cursor,
    unstorable,
)
from ticketflow.repository.postgres._connection import Database
from ticketflow.repository.postgres._schema import SCHEMA_VERSION, migrate, tables
from ticketflow.repository.postgres._statements import Statements, Write, due_values, refusal, row_to_ticket

__all__ = ["PostgresRepository"]


def _delivery(row: Any) -> Delivery:
    """A delivery-log line from the columns of ``PostgresRepository._delivery_columns``."""
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


class _Transaction:
    """Writes staged for one transaction, sent together when the block ends (see ``PostgresRepository.transaction``).

    Each write's statement is made (and its events checked) when it is
    staged; nothing reaches the database before the block ends, as with
    :class:`~ticketflow.MemoryRepository`.
    """

    def __init__(self, sql: Statements) -> None:
        self.sql = sql
        #: (statement, parameters, (ticket id, expected version) for a versioned write, else None), in order
        self.staged: list[tuple[str, Sequence[Any], tuple[str, int] | None]] = []

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None, fold: Any = None) -> None:
        self._write(ticket.id, 0, self.sql.add_write(ticket, events, due, fold))

    def save(
        self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET, fold: Any = UNSET
    ) -> None:
        self._write(ticket.id, expected_version, self.sql.save_write(ticket, events, expected_version, due, fold))

    def _write(self, ticket_id: str, expected_version: int, write: Write) -> None:
        statement, parameters, _ = write
        self.staged.append((statement, parameters, (ticket_id, expected_version)))

    def enqueue(self, message: OutboxMessage) -> None:
        check_message(message)
        self.staged.append((self.sql.enqueue, outbox_row(message), None))

    def link(self, link: Link) -> None:
        self.staged.append((self.sql.link, (link.ticket_id, link.kind, link.target), None))

    def send(self, cursor: Any) -> None:
        """BEGIN and every staged write in one pipeline (one round trip), then say why a write matched no row.

        Runs of the same statement go as one ``executemany``; a versioned
        write that matched no row (its ticket missing or saved meanwhile)
        raises, which rolls the transaction back.
        """
        connection = cursor.connection
        checked: list[tuple[Any, list[tuple[str, int]]]] = []
        with connection.pipeline():
            cursor.execute("BEGIN")
            for statement, run in itertools.groupby(self.staged, key=lambda staged: (staged[0], staged[2] is None)):
                writes = list(run)
                parameters = [staged[1] for staged in writes]
                if statement[1]:  # enqueues, links: nothing to check
                    cursor.executemany(statement[0], parameters)
                    continue
                results = connection.cursor()  # a cursor keeps only its last result set
                results.executemany(statement[0], parameters, returning=True)
                checked.append((results, [staged[2] for staged in writes if staged[2] is not None]))
        try:
            for results, versions in checked:
                for ticket_id, expected_version in versions:
                    if not results.fetchall():  # say why from inside this transaction, on its own connection
                        cursor.execute(self.sql.outcome, (expected_version + 1, ticket_id))
                        raise refusal(ticket_id, expected_version, cursor.fetchone())
                    results.nextset()
        finally:
            for results, _ in checked:
                results.close()


class PostgresRepository:
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

    #: The schema version this code writes (see :mod:`._schema`).
    SCHEMA_VERSION = SCHEMA_VERSION

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
                "PostgresRepository supports PostgreSQL through psycopg 3 (postgresql+psycopg://...), "
                f"not {dialect.name}+{dialect.driver}"
            )
        self.schema = schema
        self.lease = lease
        self._metadata = sa.MetaData(schema=schema)
        self._t = tables(self._metadata)
        self._prefix = f"{dialect.identifier_preparer.quote_schema(schema)}." if schema else ""
        self._sql = Statements(self._t, self._prefix)
        self._db = Database(self.engine, None if ping_after is None else ping_after.total_seconds())
        self._pinned = self._db.pinned
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Return the pinned connection; close the pool of an engine this repository created."""
        database = getattr(self, "_db", None)
        if database is not None:
            database.pinned.release()
        if self._owns_engine:
            self.engine.dispose()

    def __repr__(self) -> str:
        where = self.engine.url.render_as_string(hide_password=True)
        return f"PostgresRepository({where!r}, schema={self.schema!r})"

    # -- schema ----------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._db.connect() as conn, conn.begin():
            migrate(conn, self._metadata, self._prefix)

    def drop_schema(self) -> None:
        """Drop ticketflow's schema and everything in it (tests; irreversible)."""
        if not self.schema:
            raise StorageError("drop_schema needs the repository to own a schema")
        with self._db.connect() as conn, conn.begin():
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {self._prefix[:-1]} CASCADE"))
        self.close()

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """One database transaction: everything staged commits together or not at all.

        The writes are staged while the block runs (nothing reaches the
        database, no row is locked) and sent when it ends, on the pinned
        connection: BEGIN and the writes in one pipeline, then COMMIT (two
        round trips). A save that matches no row raises then (a
        ``ConcurrencyConflict`` or ``TicketNotFound``) and nothing is written.
        A failure before the commit rolls back (nothing was written) and
        raises StorageError; a connection failure during the commit raises
        StorageError saying its outcome is unknown.
        """
        tx = _Transaction(self._sql)
        yield tx  # an exception in the block propagates here: nothing was sent
        if not tx.staged:
            return
        with self._db.transaction(begin=False) as cursor:
            tx.send(cursor)

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None, fold: Any = None) -> None:
        """Store a new ticket with its first events (one statement; see :meth:`save` on failures)."""
        self._write_one(ticket.id, 0, self._sql.add_write(ticket, events, due, fold))

    def save(
        self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET, fold: Any = UNSET
    ) -> None:
        """Store the changed ticket and its events if nobody saved it meanwhile.

        One statement on the pinned connection (autocommit). If the
        connection fails under it, the outcome is read back before anything
        else happens: the version still at *expected_version* means it did
        not apply (retried); the first event stored as sent means it
        committed; anything else is a ``ConcurrencyConflict``. (A save
        without events cannot be read back: its failure is a StorageError.)
        """
        write = self._sql.save_write(ticket, events, expected_version, due, fold)
        self._write_one(ticket.id, expected_version, write)

    def _write_one(self, ticket_id: str, expected_version: int, write: Write) -> None:
        """Run one autocommit write statement; after a connection failure, read its outcome back."""
        statement, parameters, bodies = write
        retry = self._db.retry
        for attempt in retry:
            sent = False
            try:
                with self._pinned.cursor() as cursor:
                    sent = True
                    cursor.execute(statement, parameters)
                    written = bool(cursor.fetchall())
            except self._db.lost as exc:
                if not sent:  # no connection: nothing was written
                    unreached = StorageError(f"ticket {ticket_id}: cannot reach the database; nothing written: {exc}")
                    retry.again(attempt, unreached, exc)
                    continue
                if not bodies:
                    raise StorageError(f"ticket {ticket_id}: write failed; its outcome is unknown: {exc}") from exc
                if self._committed(ticket_id, expected_version, bodies[0], exc):
                    return
                unapplied = StorageError(f"ticket {ticket_id}: write failed and was not applied: {exc}")
                retry.again(attempt, unapplied, exc)
                continue
            except self._db.dbapi.Error as exc:
                raise StorageError(f"ticket {ticket_id}: write failed: {exc}") from exc
            if not written:  # say why, from a read after it
                outcome = self._db.hot_read(self._sql.outcome, (expected_version + 1, ticket_id), one=True)
                raise refusal(ticket_id, expected_version, outcome)
            return

    def _committed(self, ticket_id: str, expected_version: int, first_body: str, failure: Exception) -> bool:
        """After a failed one-statement write, tell whether it committed (a conflict or a missing ticket raises)."""
        try:
            row = self._db.hot_read(self._sql.outcome, (expected_version + 1, ticket_id), one=True)
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

    def reschedule(self, ticket_id: str, due: datetime | None) -> None:
        """Set (or clear) the ticket's next due instant (and release any claim on it)."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        tickets = self._t["tickets"]

        def run(conn: Connection) -> None:
            updated = conn.execute(
                sa.update(tickets).where(tickets.c.id == ticket_id).values(**due_values(due)).returning(tickets.c.id)
            ).first()
            if updated is None:
                raise TicketNotFound(ticket_id)

        self._db.write(run)

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

        self._db.write(run)
        return result[-1]

    # -- reading -------------------------------------------------------------------------

    def _select(self) -> sa.Select[Any]:
        tickets = self._t["tickets"]
        return sa.select(*(tickets.c[name] for name in self._sql.ticket_columns))

    def get(self, ticket_id: str) -> Ticket:
        """The ticket as last saved."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        row = self._db.hot_read(self._sql.get, (ticket_id,), one=True)
        if row is None:
            raise TicketNotFound(ticket_id)
        return row_to_ticket(row)

    def get_with_history(self, ticket_id: str) -> tuple[Ticket, list[Event]]:
        """The ticket and its whole history, from one snapshot in one round trip (what a sweeper reads)."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        row = self._db.hot_read(self._sql.get_with_history, (ticket_id,), one=True)
        if row is None:
            raise TicketNotFound(ticket_id)
        return row_to_ticket(row), events_from_json(ticket_id, row[len(self._sql.ticket_columns)])

    def fold(self, ticket_id: str) -> tuple[str, list[Event]] | None:
        """The head and events of the ticket's stored fold (None: none), in one round trip.

        See :class:`~ticketflow.protocols.FoldStore`.
        """
        if unstorable(ticket_id):
            return None
        row = self._db.hot_read(self._sql.fold, (ticket_id,), one=True)
        if row is None or row[0] is None:
            return None
        return loads(row[0])[0], events_from_json(ticket_id, row[1])

    def get_with_folds(self, ticket_ids: Sequence[str]) -> dict[str, tuple[Ticket, tuple[str, list[Event]] | None]]:
        """Each stored ticket of *ticket_ids* with its fold, from one statement (one snapshot, one round trip).

        See :class:`~ticketflow.protocols.SnapshotFolds`; unknown ids are left out.
        """
        ids = list(dict.fromkeys(t for t in ticket_ids if not unstorable(t)))
        if not ids:
            return {}
        width = len(self._sql.ticket_columns)
        read: dict[str, tuple[Ticket, tuple[str, list[Event]] | None]] = {}
        for row in self._db.hot_read(self._sql.get_with_folds, (ids,)):
            ticket, stored = row_to_ticket(row), row[width]
            fold = None if stored is None else (loads(stored)[0], events_from_json(ticket.id, row[width + 1]))
            read[ticket.id] = (ticket, fold)
        return read

    def get_with_partial_folds(
        self, ticket_ids: Sequence[str], key: str, pick: Callable[[str], Sequence[int] | None]
    ) -> dict[str, tuple[Ticket, PartialFold | None]]:
        """Each stored ticket of *ticket_ids* with the part of its fold stored under *key* a write or sweep reads.

        One statement (one snapshot, one round trip): for a fold under
        *key*, the events its state names, named in SQL as ``Folder.reads``
        (*pick*) names them from the head (the seqs of its cuts, entry, rule
        firings, last comments, transient events and its last event;
        ``tests/test_fold.py`` checks both agree); a fold under another key,
        or a short one, is read whole. Each fold comes with its stored text.
        Unknown ids are left out.
        """
        ids = list(dict.fromkeys(t for t in ticket_ids if not unstorable(t)))
        if not ids:
            return {}
        width = len(self._sql.ticket_columns)
        read: dict[str, tuple[Ticket, PartialFold | None]] = {}
        prefix = f'["{key} '
        for row in self._db.hot_read(
            self._sql.partial_folds, (len(prefix), prefix, _codec.SHORT_FOLD + 1, len(key) + 2, ids)
        ):
            ticket, stored = row_to_ticket(row), row[width]
            if stored is None:
                read[ticket.id] = (ticket, None)
                continue
            events = events_from_json(ticket.id, row[width + 2])
            read[ticket.id] = (ticket, (fold_head(stored), events, stored, bool(row[width + 1])))
        return read

    def history(self, ticket_id: str) -> list[Event]:
        """All events of the ticket, oldest first."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        rows = self._db.hot_read(self._sql.history, (ticket_id,))
        if not rows and self._db.hot_read(self._sql.exists, (ticket_id,), one=True) is None:
            raise TicketNotFound(ticket_id)
        return events_from_json(ticket_id, [row[0] for row in rows])

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
        rows = self._db.read(lambda c: c.execute(statement).all())
        found = tuple(row_to_ticket(row) for row in rows[:limit])
        return Page(found, encode_cursor(found[-1].id) if len(rows) > limit else None)

    def count(self, **filters: Unpack[TicketFilters]) -> int:
        """How many tickets match."""
        clauses = self._where(Query.build(**filters))
        statement = sa.select(sa.func.count()).select_from(self._t["tickets"]).where(*clauses)
        return int(self._db.read(lambda c: c.execute(statement).scalar_one()))

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
        rows = self._db.read(lambda c: c.execute(statement).all())
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
        Saving or rescheduling the ticket ends the lease. One statement on the
        pinned connection; if its connection fails it is tried again (tickets
        it may have leased then are claimable again when their lease expires).
        """
        require_aware(now, "now")
        limit = check_limit(limit)
        statement, parameters = self._sql.claim(self.lease.total_seconds(), epoch_us(now), lifecycle_id, limit)
        rows = sorted(self._db.hot_read(statement, parameters, what="claim"), key=lambda row: (row[2], row[0]))
        return [(ticket_id, datetime.fromisoformat(due_at)) for ticket_id, due_at, _ in rows]

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
        rows = self._db.read(lambda c: c.execute(statement).all())
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
        return [Link(r.ticket_id, r.kind, r.target) for r in self._db.read(lambda c: c.execute(statement).all())]

    def linked(self, target: str) -> list[Link]:
        """The links pointing at *target*, by ticket id."""
        if unstorable(target):
            return []
        t = self._t["links"]
        statement = sa.select(t).where(t.c.target == target).order_by(t.c.ticket_id, t.c.kind)
        return [Link(r.ticket_id, r.kind, r.target) for r in self._db.read(lambda c: c.execute(statement).all())]

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

        self._db.write(run)

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

        self._db.write(run)
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

        self._db.write(run)
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
        return [_delivery(row) for row in self._db.read(lambda c: c.execute(statement).all())]
