"""The embedded default: tickets and histories in one SQLite file.

- stdlib ``sqlite3``, WAL journal, foreign keys, a busy timeout;
- every write is one ``BEGIN IMMEDIATE`` transaction (ticket row, events,
  tags, outbox), so a killed process leaves either all of a change or none;
- a connection per thread, so one repository serves many threads, and many
  processes may open the same file;
- a schema version (``PRAGMA user_version``) with forward migrations, and an
  application id, so a foreign or newer database is refused, never overwritten.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, Unpack

from ticketflow.errors import ConcurrencyConflict, StorageError, TicketNotFound
from ticketflow.model import UNSET, Event, Ticket, require_aware
from ticketflow.protocols import Delivery, Link, OutboxMessage, Page, PartialFold, TicketFilters
from ticketflow.repository._codec import (
    dumps,
    epoch_us,
    event_to_json,
    events_from_json,
    fold_reads,
    fold_to_json,
    loads,
    outbox_row,
    partial_folds,
    ticket_from_row,
)
from ticketflow.repository._memory import changed_parts, check_events, check_message
from ticketflow.repository._query import (
    Query,
    check_limit,
    check_name,
    check_status,
    decode_cursor,
    encode_cursor,
    unstorable,
)

__all__ = ["SCHEMA_VERSION", "SQLiteRepository"]

#: ``PRAGMA application_id`` of ticketflow databases ("tflw").
APPLICATION_ID = 0x74666C77
_T = TypeVar("_T")

# Forward migrations: MIGRATIONS[n] takes a database from version n to n + 1.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE tickets (
        id TEXT PRIMARY KEY,
        lifecycle_id TEXT NOT NULL,
        state TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_us INTEGER NOT NULL,
        title TEXT NOT NULL,
        fields TEXT NOT NULL,
        requester TEXT,
        assignee TEXT,
        participants TEXT NOT NULL,
        due_at TEXT,
        due_us INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX tickets_state ON tickets (state, id);
    CREATE INDEX tickets_assignee ON tickets (assignee, id);
    CREATE INDEX tickets_lifecycle ON tickets (lifecycle_id, id);
    CREATE INDEX tickets_updated ON tickets (updated_us);
    CREATE INDEX tickets_due ON tickets (due_us, id) WHERE due_us IS NOT NULL;
    CREATE TABLE ticket_tags (
        tag TEXT NOT NULL,
        ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
        PRIMARY KEY (tag, ticket_id)
    ) WITHOUT ROWID;
    CREATE INDEX ticket_tags_ticket ON ticket_tags (ticket_id);
    CREATE TABLE events (
        ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (ticket_id, seq)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE outbox (
        key TEXT PRIMARY KEY,
        ticket_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX outbox_pending ON outbox (created_us, key) WHERE delivered = 0;
    """,
    """
    CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    """,
    """
    CREATE INDEX tickets_requester ON tickets (requester, id);
    """,
    """
    CREATE TABLE links (
        ticket_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (ticket_id, kind, target)
    ) WITHOUT ROWID;
    CREATE INDEX links_target ON links (target, ticket_id);
    """,
    """
    ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN last_error TEXT;
    ALTER TABLE outbox ADD COLUMN delivered_at TEXT;
    ALTER TABLE outbox ADD COLUMN retry_at TEXT;
    ALTER TABLE outbox ADD COLUMN retry_us INTEGER;
    ALTER TABLE outbox ADD COLUMN undeliverable INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claim_until_us INTEGER;
    CREATE INDEX outbox_ticket ON outbox (ticket_id, created_us, key);
    CREATE INDEX outbox_kind_pending ON outbox (kind, created_us, key) WHERE delivered = 0;
    """,
    """
    ALTER TABLE tickets ADD COLUMN fold TEXT;
    """,
)
#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = "id, lifecycle_id, state, version, created_at, updated_at, title, fields, requester, assignee, participants"


def _fold_events(count: int) -> str:
    """The statement reading the fold events of *count* tickets (ids bound in order), by ticket then seq.

    CROSS JOIN fixes the order: each ticket, its fold's seqs, each event by
    its key. Left to itself the planner scans each ticket's whole history
    and looks each event up in the fold, which costs what the history does.
    """
    marks = ",".join("?" * count)
    return (
        "SELECT e.ticket_id, e.body FROM tickets AS t CROSS JOIN json_each(t.fold) AS j "  # noqa: S608
        "CROSS JOIN events AS e ON e.ticket_id = t.id AND e.seq = j.value "
        f"WHERE t.id IN ({marks}) AND t.fold IS NOT NULL AND j.key > 0 ORDER BY e.ticket_id, e.seq"
    )


#: The events named by a JSON array of [ticket id, seq] pairs, each looked up by its key (CROSS JOIN fixes the order).
_NAMED_EVENTS = (
    "SELECT e.ticket_id, e.body FROM json_each(?) AS w CROSS JOIN events AS e "
    "ON e.ticket_id = json_extract(w.value, '$[0]') AND e.seq = json_extract(w.value, '$[1]') "
    "ORDER BY e.ticket_id, e.seq"
)


def _row_to_ticket(row: Sequence[Any]) -> Ticket:
    return ticket_from_row(row, row[11].split("\x1f") if row[11] else ())


#: The ticket columns a save may change besides the version, each with how its stored value is made.
_COLUMN_VALUE: dict[str, Callable[[Ticket], Any]] = {
    "state": lambda t: t.state,
    "title": lambda t: t.title,
    "fields": lambda t: dumps(dict(t.fields)),
    "requester": lambda t: t.requester,
    "assignee": lambda t: t.assignee,
    "participants": lambda t: dumps(sorted(t.participants)),
}
_ALL_COLUMNS = tuple(_COLUMN_VALUE)
#: UPDATE statements by (changed columns, with due, with fold): a few shapes, made once.
_UPDATES: dict[tuple[tuple[str, ...], bool, bool], str] = {}


_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?)"
#: The columns of each set of changed parts (a few sets occur: state, fields, an attribute...).
_COLUMNS_OF: dict[frozenset[str], tuple[str, ...]] = {}


def _changed_columns(ticket: Ticket, events: Sequence[Event]) -> tuple[str, ...]:
    """The ticket columns *events* changed, in a fixed order (all of them when there are no events to tell)."""
    parts = changed_parts(ticket, events)
    if parts is None:
        return _ALL_COLUMNS
    columns = _COLUMNS_OF.get(parts)
    if columns is None:
        columns = tuple(column for column in _ALL_COLUMNS if column in parts)
        if len(_COLUMNS_OF) < 1024:  # attribute names are the model's few; bounded all the same
            _COLUMNS_OF[parts] = columns
    return columns


def _update_sql(changed: tuple[str, ...], with_due: bool, with_fold: bool) -> str:
    """The UPDATE of the version, the instants, *changed* columns (the due instant, the fold), version checked."""
    sets = ["version = ?", "updated_at = ?", "updated_us = ?", *(f"{column} = ?" for column in changed)]
    if with_due:
        sets += ["due_at = ?", "due_us = ?"]
    if with_fold:
        sets.append("fold = ?")
    sql = f"UPDATE tickets SET {', '.join(sets)} WHERE id = ? AND version = ?"  # noqa: S608
    _UPDATES[(changed, with_due, with_fold)] = sql
    return sql


class _SQLiteTransaction:
    """Writes on one connection inside ``BEGIN IMMEDIATE``."""

    def __init__(self, conn: sqlite3.Connection, cursor: sqlite3.Cursor | None = None) -> None:
        self.conn = conn
        #: for statements whose rows are not read (a save's): one kept cursor, not a new one per statement
        self.cursor = conn.cursor() if cursor is None else cursor

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None, fold: Any = None) -> None:
        check_events(ticket, events, 1)
        due_at, due_us = _due_columns(due)
        try:
            self.conn.execute(
                "INSERT INTO tickets VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ticket.id,
                    ticket.lifecycle_id,
                    ticket.state,
                    ticket.version,
                    ticket.created_at.isoformat(),
                    ticket.updated_at.isoformat(),
                    epoch_us(ticket.updated_at),
                    ticket.title,
                    dumps(dict(ticket.fields)),
                    ticket.requester,
                    ticket.assignee,
                    dumps(sorted(ticket.participants)),
                    due_at,
                    due_us,
                    fold_to_json(fold),
                ),
            )
        except sqlite3.IntegrityError:
            raise ConcurrencyConflict(ticket.id, 0, self._version(ticket.id)) from None
        self.conn.executemany("INSERT INTO ticket_tags VALUES (?, ?)", [(tag, ticket.id) for tag in ticket.tags])
        self._events(events)

    def save(
        self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET, fold: Any = UNSET
    ) -> None:
        check_events(ticket, events, expected_version + 1)
        self.checked_save(ticket, events, expected_version, due, fold)

    def checked_save(self, ticket: Ticket, events: Sequence[Event], expected_version: int, due: Any, fold: Any) -> None:
        """:meth:`save` of events :func:`check_events` has passed already."""
        cursor = self.cursor
        # Only the columns the events changed (and the version): an unchanged indexed column costs no index write.
        changed = _changed_columns(ticket, events)
        updated = ticket.updated_at
        values: list[Any] = [ticket.version, updated.isoformat(), epoch_us(updated)]
        if changed:
            values += [_COLUMN_VALUE[column](ticket) for column in changed]
        with_due = due is not UNSET
        if with_due:
            values += _due_columns(due)
        with_fold = fold is not UNSET
        if with_fold:
            values.append(fold_to_json(fold))
        values += (ticket.id, expected_version)
        sql = _UPDATES.get((changed, with_due, with_fold))
        if sql is None:
            sql = _update_sql(changed, with_due, with_fold)
        if cursor.execute(sql, values).rowcount != 1:
            actual = self._version(ticket.id)
            if actual is None:
                raise TicketNotFound(ticket.id)
            raise ConcurrencyConflict(ticket.id, expected_version, actual)
        if len(events) == 1:
            event = events[0]
            if event.tags_removed or event.tags_added:
                self._tags(ticket.id, event)
            cursor.execute(_INSERT_EVENT, (event.ticket_id, event.seq, event_to_json(event)))
            return
        for event in events:
            if event.tags_removed or event.tags_added:
                self._tags(ticket.id, event)
        self._events(events)

    def _tags(self, ticket_id: str, event: Event) -> None:
        if event.tags_removed:
            self.conn.executemany(
                "DELETE FROM ticket_tags WHERE tag = ? AND ticket_id = ?",
                [(tag, ticket_id) for tag in event.tags_removed],
            )
        if event.tags_added:
            self.conn.executemany(
                "INSERT OR IGNORE INTO ticket_tags VALUES (?, ?)", [(tag, ticket_id) for tag in event.tags_added]
            )

    def enqueue(self, message: OutboxMessage) -> None:
        check_message(message)
        self.conn.execute(
            "INSERT OR IGNORE INTO outbox (key, ticket_id, kind, payload, created_at, created_us) VALUES (?,?,?,?,?,?)",
            outbox_row(message),
        )

    def link(self, link: Link) -> None:
        self.conn.execute("INSERT OR IGNORE INTO links VALUES (?, ?, ?)", (link.ticket_id, link.kind, link.target))

    def _events(self, events: Sequence[Event]) -> None:
        self.conn.executemany(_INSERT_EVENT, [(e.ticket_id, e.seq, event_to_json(e)) for e in events])

    def _version(self, ticket_id: str) -> int | None:
        row = self.conn.execute("SELECT version FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return None if row is None else int(row[0])


def _delivery(row: Sequence[Any]) -> Delivery:
    """A delivery-log line from the columns of ``SQLiteRepository._DELIVERY``."""
    status = "delivered" if row[5] else "undeliverable" if row[6] else "pending"
    message = OutboxMessage(row[0], row[1], row[2], loads(row[3]), datetime.fromisoformat(row[4]))
    return Delivery(
        message,
        status,
        row[7],
        row[8],
        None if row[9] is None else datetime.fromisoformat(row[9]),
        None if row[10] is None else datetime.fromisoformat(row[10]),
    )


def _why(exc: sqlite3.Error) -> str:
    """The SQLite error in words a user can act on."""
    code = getattr(exc, "sqlite_errorname", "")
    if code.startswith("SQLITE_FULL"):
        return f"the disk (or the database's size limit) is full: {exc}"
    if code.startswith("SQLITE_READONLY"):
        return f"the database is read-only: {exc}"
    if code.startswith("SQLITE_CORRUPT"):
        return f"the database file is damaged: {exc}"
    return str(exc)


def _due_columns(due: datetime | None) -> tuple[str | None, int | None]:
    if due is None:
        return None, None
    require_aware(due, "due")
    return due.isoformat(), epoch_us(due)


class SQLiteRepository:
    """Tickets, histories, due timers and an outbox in one SQLite file.

    Args:
        path: the database file (created if missing); ``":memory:"`` is
            refused — use :class:`~ticketflow.MemoryRepository`.
        timeout: seconds a writer waits for another one to finish.

    Raises:
        StorageError: the file is not a database, belongs to another
            application, has a newer schema than this ticketflow knows, or
            cannot be opened or written.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        if str(path) == ":memory:":
            raise StorageError("SQLiteRepository needs a file; use MemoryRepository for memory")
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self._applied = 0  # migrations this instance applied (a race test counts them)
        self._prepared = False
        self._migrate()
        self._prepared = True

    def __repr__(self) -> str:
        return f"SQLiteRepository({str(self.path)!r})"

    # -- connections -----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if self._prepared:  # the first connection, _migrate's, sets it once it knows the file is ours
                self._synchronous(conn)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open the database: {exc}") from exc
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            self._local.cursor = conn.cursor()  # the writes' kept cursor (see _SQLiteTransaction)
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self) -> None:
        conn = self._conn
        try:
            # One statement, so one snapshot: another process creating the schema meanwhile is seen
            # either not at all or entirely (read apart, its tables could show without its id).
            app_id, version, tables = conn.execute(
                "SELECT a.application_id, v.user_version, (SELECT count(*) FROM sqlite_master) "
                "FROM pragma_application_id AS a, pragma_user_version AS v"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            if self.path.exists() and not os.access(self.path, os.W_OK):
                raise StorageError(f"{self.path}: the file is read-only ({exc}); ticketflow needs to write") from exc
            raise StorageError(f"{self.path}: not a ticketflow database ({_why(exc)})") from exc
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
            raise StorageError(f"{self.path}: this database belongs to another application; ticketflow leaves it alone")
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path}: schema version {version} is newer than this ticketflow knows ({SCHEMA_VERSION}); "
                "upgrade ticketflow"
            )
        try:
            self._wal(conn)
            self._synchronous(conn)
            if version < SCHEMA_VERSION:
                # Every pending migration in one write transaction, the version re-read under its lock:
                # of processes opening a fresh file at once, exactly one creates the whole schema.
                conn.execute("BEGIN IMMEDIATE")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                for step in range(version, SCHEMA_VERSION):
                    for statement in MIGRATIONS[step].split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    self._applied += 1
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            raise StorageError(f"{self.path}: cannot prepare the database ({_why(exc)}); nothing was written") from exc

    @staticmethod
    def _synchronous(conn: sqlite3.Connection) -> None:
        """Per connection, so on every thread's: in WAL mode a commit needs no fsync (a checkpoint still does)."""
        conn.execute("PRAGMA synchronous = NORMAL")

    def _wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL journaling; another process switching it at the same moment is waited for."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                    return
            except sqlite3.OperationalError as exc:  # the switch does not wait for readers by itself
                if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                    raise
            if time.monotonic() > deadline:
                raise StorageError(f"{self.path}: cannot switch the database to WAL journaling")
            time.sleep(0.005)

    def _read(self, run: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            return run(self._conn)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from exc

    def _snapshot(self, run: Callable[[sqlite3.Connection], _T]) -> _T:
        """:meth:`_read` with *run*'s statements in one read transaction: one snapshot (WAL: readers never wait)."""

        def snapshot(conn: sqlite3.Connection) -> _T:
            nested = conn.in_transaction
            if not nested:
                conn.execute("BEGIN")
            try:
                return run(conn)
            finally:
                if not nested:
                    conn.execute("COMMIT")

        return self._read(snapshot)

    # -- writing -------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteTransaction]:
        """One ``BEGIN IMMEDIATE`` transaction: everything staged commits together."""
        conn = self._begin()
        try:
            yield _SQLiteTransaction(conn, self._local.cursor)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._rolled_back(conn, exc) from exc
        except BaseException:
            self._rollback(conn)
            raise

    def _begin(self) -> sqlite3.Connection:
        """This thread's connection inside a fresh ``BEGIN IMMEDIATE``."""
        conn = self._conn
        if conn.in_transaction:
            raise StorageError("transactions do not nest; finish the open one first")
        try:
            self._local.cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot start a write ({_why(exc)}); nothing was written") from exc
        return conn

    def _rolled_back(self, conn: sqlite3.Connection, exc: sqlite3.Error) -> StorageError:
        """Undo the open write after *exc*; the error to raise."""
        self._rollback(conn)
        return StorageError(f"{self.path}: {_why(exc)}; the write was rolled back, nothing was written")

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        # SQLite may have rolled back already (a full disk, an I/O error): then there is nothing to undo.
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None, fold: Any = None) -> None:
        """Store a new ticket with its first events (and its fold, :class:`~ticketflow.protocols.FoldStore`)."""
        with self.transaction() as tx:
            tx.add(ticket, events, due=due, fold=fold)

    def save(
        self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET, fold: Any = UNSET
    ) -> None:
        """Store the changed ticket and its events if nobody saved it meanwhile."""
        check_events(ticket, events, expected_version + 1)  # once, before taking the write lock
        conn = self._begin()  # what transaction() does, without its generator (this is every fire's path)
        local = self._local
        try:
            _SQLiteTransaction(conn, local.cursor).checked_save(ticket, events, expected_version, due, fold)
            local.cursor.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._rolled_back(conn, exc) from exc
        except BaseException:
            self._rollback(conn)
            raise

    # -- reading -------------------------------------------------------------------

    _SELECT = (
        f"SELECT {_COLUMNS}, (SELECT group_concat(tag, char(31)) FROM ticket_tags WHERE ticket_id = t.id) "  # noqa: S608
        "FROM tickets AS t"
    )
    _SELECT_FOLD = _SELECT.replace(" FROM tickets AS t", ", t.fold FROM tickets AS t")

    def get(self, ticket_id: str) -> Ticket:
        """The ticket as last saved."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        row = self._read(lambda c: c.execute(f"{self._SELECT} WHERE id = ?", (ticket_id,)).fetchone())
        if row is None:
            raise TicketNotFound(ticket_id)
        return _row_to_ticket(row)

    def get_with_history(self, ticket_id: str) -> tuple[Ticket, list[Event]]:
        """The ticket and its whole history from one read transaction (:class:`~ticketflow.protocols.SnapshotReads`)."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)

        def run(conn: sqlite3.Connection) -> tuple[Any, list[Any]]:
            row = conn.execute(f"{self._SELECT} WHERE id = ?", (ticket_id,)).fetchone()
            rows = conn.execute("SELECT body FROM events WHERE ticket_id = ? ORDER BY seq", (ticket_id,)).fetchall()
            return row, rows

        row, rows = self._snapshot(run)
        if row is None:
            raise TicketNotFound(ticket_id)
        return _row_to_ticket(row), events_from_json(ticket_id, [body for (body,) in rows])

    def fold(self, ticket_id: str) -> tuple[str, list[Event]] | None:
        """The head and events of the ticket's stored fold (:class:`~ticketflow.protocols.FoldStore`)."""
        if unstorable(ticket_id):
            return None

        def run(conn: sqlite3.Connection) -> tuple[str | None, list[Any]]:
            row = conn.execute("SELECT fold FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
            if row is None or row[0] is None:
                return None, []
            rows = conn.execute(
                "SELECT body FROM events WHERE ticket_id = ? AND seq IN (SELECT value FROM json_each(?) WHERE key > 0) "
                "ORDER BY seq",
                (ticket_id, row[0]),
            ).fetchall()
            return row[0], rows

        stored, rows = self._read(run)  # events never change: the fold's seqs name the same events after any write
        if stored is None:
            return None
        return loads(stored)[0], events_from_json(ticket_id, [body for (body,) in rows])

    def get_with_folds(self, ticket_ids: Sequence[str]) -> dict[str, tuple[Ticket, tuple[str, list[Event]] | None]]:
        """Each stored ticket of *ticket_ids* with its fold, from one read transaction (two statements).

        See :class:`~ticketflow.protocols.SnapshotFolds`; unknown ids are left out.
        """
        ids = list(dict.fromkeys(t for t in ticket_ids if not unstorable(t)))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))

        def run(conn: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
            rows = conn.execute(f"{self._SELECT_FOLD} WHERE id IN ({marks})", ids).fetchall()
            return rows, conn.execute(_fold_events(len(ids)), ids).fetchall()

        rows, bodies = self._snapshot(run)
        by_ticket: dict[str, list[str]] = {}
        for ticket_id, body in bodies:
            by_ticket.setdefault(ticket_id, []).append(body)
        read: dict[str, tuple[Ticket, tuple[str, list[Event]] | None]] = {}
        for row in rows:
            ticket, stored = _row_to_ticket(row), row[-1]
            fold = None
            if stored is not None:
                fold = (loads(stored)[0], events_from_json(ticket.id, by_ticket.get(ticket.id, [])))
            read[ticket.id] = (ticket, fold)
        return read

    def get_with_partial_folds(
        self, ticket_ids: Sequence[str], key: str, pick: Callable[[str], Sequence[int] | None]
    ) -> dict[str, tuple[Ticket, PartialFold | None]]:
        """Each stored ticket of *ticket_ids* with the part of its fold *pick* names, from one read transaction.

        For a write or a sweep: *pick* names, from the head of a fold stored
        under *key*, the events its reader needs (its state's,
        ``Folder.reads``), so a ticket whose fold holds a thousand replies is
        read in a few events; a fold *pick* does not know is read whole. Each
        fold comes with its stored text (its seqs, for the next write) and
        its last event. Unknown ids are left out.
        """
        ids = list(dict.fromkeys(t for t in ticket_ids if not unstorable(t)))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))

        def run(conn: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
            found: list[Any] = []
            wanted: list[Any] = []
            for row in conn.execute(f"{self._SELECT_FOLD} WHERE id IN ({marks})", ids).fetchall():
                ticket, stored = _row_to_ticket(row), row[-1]
                if stored is None:
                    found.append((ticket, None))
                    continue
                head, seqs, partial = fold_reads(stored, key, pick)
                wanted.extend([ticket.id, seq] for seq in seqs)
                found.append((ticket, (head, stored, partial)))
            return found, conn.execute(_NAMED_EVENTS, (dumps(wanted),)).fetchall() if wanted else []

        found, bodies = self._snapshot(run)
        return partial_folds(found, bodies)

    def history(self, ticket_id: str) -> list[Event]:
        """All events of the ticket, oldest first."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)

        def run(conn: sqlite3.Connection) -> list[Any]:
            rows = conn.execute("SELECT body FROM events WHERE ticket_id = ? ORDER BY seq", (ticket_id,)).fetchall()
            exists = rows or conn.execute("SELECT 1 FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
            if not exists:
                raise TicketNotFound(ticket_id)
            return rows

        return events_from_json(ticket_id, [row[0] for row in self._read(run)])

    @staticmethod
    def _where(query: Query) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.states is not None:
            clauses.append(f"state IN ({','.join('?' * len(query.states))})")
            params.extend(sorted(query.states))
        if query.assignee is not None:
            clauses.append("assignee = ?")
            params.append(query.assignee)
        if query.tag is not None:
            clauses.append("id IN (SELECT ticket_id FROM ticket_tags WHERE tag = ?)")
            params.append(query.tag)
        for name, value in query.field:
            if '"' in name:  # a JSON path cannot quote it: look the key up instead
                clauses.append("(SELECT value FROM json_each(fields) WHERE key = ?) IS ?")
                params.append(name)
            else:
                clauses.append("json_extract(fields, ?) IS ?")
                params.append(f'$."{name}"')
            params.append(dumps(value) if isinstance(value, list | tuple | dict) else value)
        if query.lifecycle_id is not None:
            clauses.append("lifecycle_id = ?")
            params.append(query.lifecycle_id)
        if query.updated_before is not None:
            clauses.append("updated_us < ?")
            params.append(epoch_us(query.updated_before))
        if query.requester is not None:
            clauses.append("requester = ?")
            params.append(query.requester)
        if query.updated_after is not None:
            clauses.append("updated_us >= ?")
            params.append(epoch_us(query.updated_after))
        return clauses, params

    def find(self, *, limit: int = 100, after: str | None = None, **filters: Unpack[TicketFilters]) -> Page:
        """One page of matching tickets in id order, from the indexes."""
        query = Query.build(**filters)
        limit = check_limit(limit)
        clauses, params = self._where(query)
        start = decode_cursor(after)
        if start is not None:
            clauses.append("id > ?")
            params.append(start)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"{self._SELECT}{where} ORDER BY id LIMIT ?"
        rows = self._read(lambda c: c.execute(sql, (*params, limit + 1)).fetchall())
        tickets = tuple(_row_to_ticket(row) for row in rows[:limit])
        return Page(tickets, encode_cursor(tickets[-1].id) if len(rows) > limit else None)

    def count(self, **filters: Unpack[TicketFilters]) -> int:
        """How many tickets match."""
        clauses, params = self._where(Query.build(**filters))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return int(self._read(lambda c: c.execute(f"SELECT count(*) FROM tickets{where}", params).fetchone()[0]))  # noqa: S608

    DUE_SQL = "SELECT id, due_at FROM tickets WHERE due_us IS NOT NULL AND due_us <= ? ORDER BY due_us, id LIMIT ?"
    DUE_OF_SQL = (
        "SELECT id, due_at FROM tickets WHERE due_us IS NOT NULL AND due_us <= ? AND lifecycle_id = ? "
        "ORDER BY due_us, id LIMIT ?"
    )

    def due(self, now: datetime, limit: int = 100, *, lifecycle_id: str | None = None) -> list[tuple[str, datetime]]:
        """Tickets (of *lifecycle_id*, if given) whose next timer is at or before *now*, earliest first."""
        require_aware(now, "now")
        limit = check_limit(limit)
        if lifecycle_id is None:
            rows = self._read(lambda c: c.execute(self.DUE_SQL, (epoch_us(now), limit)).fetchall())
        else:
            of = (epoch_us(now), lifecycle_id, limit)
            rows = self._read(lambda c: c.execute(self.DUE_OF_SQL, of).fetchall())
        return [(row[0], datetime.fromisoformat(row[1])) for row in rows]

    def next_sequence(self, name: str) -> int:
        """The next number of the named sequence (one write transaction: unique across processes)."""
        check_name("sequence name", name)
        with self.transaction() as tx:
            row = tx.conn.execute(
                "INSERT INTO sequences VALUES (?, 1) "
                "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                (name,),
            ).fetchone()
        return int(row[0])

    def reschedule(self, ticket_id: str, due: datetime | None) -> None:
        """Set (or clear) the ticket's next due instant."""
        if unstorable(ticket_id):
            raise TicketNotFound(ticket_id)
        due_at, due_us = _due_columns(due)
        with self.transaction() as tx:
            cursor = tx.conn.execute(
                "UPDATE tickets SET due_at = ?, due_us = ? WHERE id = ?", (due_at, due_us, ticket_id)
            )
            if cursor.rowcount != 1:
                raise TicketNotFound(ticket_id)

    def pending_messages(self, limit: int = 100) -> list[OutboxMessage]:
        """Undelivered outbox messages, oldest first."""
        limit = check_limit(limit)
        rows = self._read(
            lambda c: c.execute(
                "SELECT key, ticket_id, kind, payload, created_at FROM outbox WHERE delivered = 0 "
                "ORDER BY created_us, key LIMIT ?",
                (limit,),
            ).fetchall()
        )
        return [OutboxMessage(r[0], r[1], r[2], loads(r[3]), datetime.fromisoformat(r[4])) for r in rows]

    def mark_delivered(self, key: str, at: datetime | None = None) -> None:
        """Take a message off the pending list (recording *at* as its delivery instant)."""
        check_name("message key", key)
        delivered_at = None if at is None else require_aware(at, "at").isoformat()
        with self.transaction() as tx:
            cursor = tx.conn.execute(
                "UPDATE outbox SET delivered = 1, undeliverable = 0, delivered_at = ?, attempts = attempts + 1, "
                "claimed_by = NULL, claim_until_us = NULL WHERE key = ?",
                (delivered_at, key),
            )
            if cursor.rowcount != 1:
                raise StorageError(f"no outbox message with key {key!r}")

    def claim_messages(
        self, kinds: Collection[str], now: datetime, *, owner: str, lease: timedelta, limit: int = 100
    ) -> list[Delivery]:
        """Lease up to *limit* undelivered messages of *kinds*, due for an attempt at *now*, oldest first.

        One ``BEGIN IMMEDIATE`` transaction selects and marks them, so two
        sweepers (threads or processes) never hold the same message; a lease
        ends when it is marked delivered or failed, or *lease* after the claim
        (real time), so a sweeper that dies releases its messages.
        """
        require_aware(now, "now")
        limit = check_limit(limit)
        wanted = sorted(set(kinds))
        if not wanted:
            return []
        clock = int(time.time() * 1_000_000)
        marks = ",".join("?" * len(wanted))
        sql = (
            "UPDATE outbox SET claimed_by = ?, claim_until_us = ? WHERE key IN ("  # noqa: S608 - only fixed text
            f"SELECT key FROM outbox WHERE delivered = 0 AND kind IN ({marks}) "
            "AND (retry_us IS NULL OR retry_us <= ?) AND (claim_until_us IS NULL OR claim_until_us <= ?) "
            "ORDER BY created_us, key LIMIT ?) "
            f"RETURNING {self._DELIVERY}"
        )
        until = clock + int(lease.total_seconds() * 1_000_000)
        with self.transaction() as tx:
            rows = tx.conn.execute(sql, (owner, until, *wanted, epoch_us(now), clock, limit)).fetchall()
        rows.sort(key=lambda row: (row[-1], row[0]))
        return [_delivery(row) for row in rows]

    def mark_failed(self, key: str, error: str, retry_at: datetime) -> None:
        """Record a failed attempt; the message is not claimed again before *retry_at*."""
        require_aware(retry_at, "retry_at")
        with self.transaction() as tx:
            cursor = tx.conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, retry_at = ?, retry_us = ?, "
                "undeliverable = 0, claimed_by = NULL, claim_until_us = NULL WHERE key = ?",
                (error, retry_at.isoformat(), epoch_us(retry_at), key),
            )
            if cursor.rowcount != 1:
                raise StorageError(f"no outbox message with key {key!r}")

    def mark_undeliverable(self, handled: Collection[str]) -> dict[str, int]:
        """Flag pending messages whose kind is not in *handled*; return how many were newly flagged, by kind."""
        kinds = sorted(set(handled))
        marks = ",".join("?" * len(kinds))
        sql = (
            "UPDATE outbox SET undeliverable = 1, last_error = 'no notifier for kind ' || quote(kind) "  # noqa: S608
            f"WHERE delivered = 0 AND undeliverable = 0 AND kind NOT IN ({marks}) "
            "AND (claim_until_us IS NULL OR claim_until_us <= ?) RETURNING kind"
        )
        with self.transaction() as tx:
            rows = tx.conn.execute(sql, (*kinds, int(time.time() * 1_000_000))).fetchall()
        flagged: dict[str, int] = {}
        for (kind,) in rows:
            flagged[kind] = flagged.get(kind, 0) + 1
        return flagged

    def requeue(self, key: str) -> None:
        """Make a message pending again (delivered or not), to be delivered once more."""
        with self.transaction() as tx:
            cursor = tx.conn.execute(
                "UPDATE outbox SET delivered = 0, undeliverable = 0, delivered_at = NULL, retry_at = NULL, "
                "retry_us = NULL, claimed_by = NULL, claim_until_us = NULL WHERE key = ?",
                (key,),
            )
            if cursor.rowcount != 1:
                raise StorageError(f"no outbox message with key {key!r}")

    _DELIVERY = (
        "key, ticket_id, kind, payload, created_at, delivered, undeliverable, attempts, last_error, "
        "delivered_at, retry_at, created_us"
    )

    def deliveries(
        self, *, ticket_id: str | None = None, key: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The delivery log: messages (of a ticket, a key, a status) with their attempts, oldest first."""
        limit = check_limit(limit)
        check_status(status)
        clauses, params = [], []
        if ticket_id is not None:
            clauses.append("ticket_id = ?")
            params.append(ticket_id)
        if key is not None:
            clauses.append("key = ?")
            params.append(key)
        if status is not None:
            clauses.append(
                {
                    "delivered": "delivered = 1",
                    "undeliverable": "delivered = 0 AND undeliverable = 1",
                    "pending": "delivered = 0 AND undeliverable = 0",
                }[status]
            )
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {self._DELIVERY} FROM outbox{where} ORDER BY created_us, key LIMIT ?"  # noqa: S608
        return [_delivery(row) for row in self._read(lambda c: c.execute(sql, (*params, limit)).fetchall())]

    def links(self, ticket_id: str) -> list[Link]:
        """The ticket's links, in (kind, target) order."""
        if unstorable(ticket_id):
            return []
        rows = self._read(
            lambda c: c.execute(
                "SELECT ticket_id, kind, target FROM links WHERE ticket_id = ? ORDER BY kind, target", (ticket_id,)
            ).fetchall()
        )
        return [Link(*row) for row in rows]

    def linked(self, target: str) -> list[Link]:
        """The links pointing at *target*, by ticket id."""
        if unstorable(target):
            return []
        rows = self._read(
            lambda c: c.execute(
                "SELECT ticket_id, kind, target FROM links WHERE target = ? ORDER BY ticket_id, kind", (target,)
            ).fetchall()
        )
        return [Link(*row) for row in rows]

    def explain_due(self, now: datetime, limit: int = 100) -> list[str]:
        """SQLite's query plan for :meth:`due` (to show it uses the index)."""
        rows = self._read(lambda c: c.execute(f"EXPLAIN QUERY PLAN {self.DUE_SQL}", (epoch_us(now), limit)).fetchall())
        return [str(row[-1]) for row in rows]
