"""Where mail bookkeeping lives: Message-IDs per ticket, kept (unusable) mail, attachment bytes.

None of it is written into ticket histories: the library's own event meta
stays the library's, and a history never holds attachment bytes. Each store
is a Protocol with an in-memory and a file-backed implementation.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import attrs

from ticketflow.errors import StorageError
from ticketflow.mail._message import AttachmentInfo
from ticketflow.model import require_aware

__all__ = [
    "DirectoryAttachments",
    "DirectoryQuarantine",
    "MailRecord",
    "MemoryAttachments",
    "MemoryMessageIds",
    "MemoryQuarantine",
    "MessageIdStore",
    "Quarantine",
    "SQLiteMessageIds",
]

Direction = Literal["in", "out"]


@attrs.frozen
class MailRecord:
    """One message ticketflow received or sent, and what became of it.

    Attributes:
        message_id: its Message-ID (no angle brackets).
        direction: ``"in"`` (received) or ``"out"`` (sent by the notifier).
        ticket_id: the ticket it belongs to (``None``: none, e.g. dropped).
        action: what ingesting it did (``opened``, ``commented``,
            ``follow_up``, ``contact``, ``dropped``, ``refused``, ``bounce``;
            ``sent`` for outgoing mail).
        rule: the threading rule that matched (``in_reply_to``,
            ``references``, ``subject_key``, ``plus_address``,
            ``same_subject``, ``new``), or why it was dropped.
        at: when it was recorded (aware).
        sender: the From address.
        subject: the subject.
        original: the reference of the full original message in the
            :class:`~ticketflow.mail.AttachmentStore`, for audit.
        attachments: the message's attachments, as metadata.
        recipients: for sent mail, the addresses it went to (lower case): a
            bounce is recorded on the ticket only for one of these.
    """

    message_id: str
    direction: Direction
    ticket_id: str | None
    action: str
    rule: str
    at: datetime = attrs.field(validator=lambda _i, _a, v: require_aware(v, "at"))
    sender: str = ""
    subject: str = ""
    original: str | None = None
    attachments: tuple[AttachmentInfo, ...] = ()
    recipients: tuple[str, ...] = ()


@runtime_checkable
class MessageIdStore(Protocol):
    """The Message-IDs of each ticket's mail, so replies thread and a message is ingested once.

    Contract: ``record`` keeps the first record of a ``(message_id,
    direction)`` and ignores later ones (idempotent); ``find`` returns the
    sent (``"out"``) record of a Message-ID, else its received one, else
    None (a received message reusing the id of mail we sent must not hide
    it: bounces and replies are matched to what we sent);
    ``ticket_for`` returns the ticket of the first of the given ids that has
    one; ``thread`` lists a ticket's records oldest first. Safe to share
    between threads.
    """

    def record(self, record: MailRecord, /) -> None:
        """Keep *record* (a second record of the same message and direction changes nothing)."""
        ...

    def find(self, message_id: str, /) -> MailRecord | None:
        """The record of *message_id*, if any."""
        ...

    def ticket_for(self, message_ids: Sequence[str], /) -> str | None:
        """The ticket of the first of *message_ids* known with one."""
        ...

    def thread(self, ticket_id: str, /) -> list[MailRecord]:
        """The ticket's mail records, oldest first."""
        ...


def _first_ticket(store: MessageIdStore, message_ids: Sequence[str]) -> str | None:
    for message_id in message_ids:
        found = store.find(message_id)
        if found is not None and found.ticket_id is not None:
            return found.ticket_id
    return None


class MemoryMessageIds:
    """A :class:`MessageIdStore` in memory (tests, one-process desks)."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], MailRecord] = {}
        self._lock = threading.Lock()

    def record(self, record: MailRecord, /) -> None:
        """Keep *record* unless its message and direction are known."""
        with self._lock:
            self._records.setdefault((record.message_id, record.direction), record)

    def find(self, message_id: str, /) -> MailRecord | None:
        """The sent record of *message_id*, else its received one."""
        with self._lock:
            return self._records.get((message_id, "out")) or self._records.get((message_id, "in"))

    def ticket_for(self, message_ids: Sequence[str], /) -> str | None:
        """The ticket of the first known id with one."""
        return _first_ticket(self, message_ids)

    def thread(self, ticket_id: str, /) -> list[MailRecord]:
        """The ticket's records, oldest first."""
        with self._lock:
            return sorted((r for r in self._records.values() if r.ticket_id == ticket_id), key=lambda r: r.at)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS mail_messages (
    message_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    ticket_id TEXT,
    action TEXT NOT NULL,
    rule TEXT NOT NULL,
    at TEXT NOT NULL,
    sender TEXT NOT NULL,
    subject TEXT NOT NULL,
    original TEXT,
    attachments TEXT NOT NULL,
    PRIMARY KEY (message_id, direction)
);
CREATE INDEX IF NOT EXISTS mail_messages_ticket ON mail_messages (ticket_id, at);
CREATE TABLE IF NOT EXISTS mail_recipients (
    message_id TEXT NOT NULL PRIMARY KEY,
    recipients TEXT NOT NULL
);
"""

# mail_messages keeps the ten columns of every release, so a process still on an earlier one (rolling upgrade)
# keeps inserting into it; the recipients of sent mail are in their own table, which earlier releases ignore.
_COLUMNS = "message_id, direction, ticket_id, action, rule, at, sender, subject, original, attachments"
_INSERT = f"INSERT OR IGNORE INTO mail_messages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 - constants
_INSERT_RECIPIENTS = "INSERT OR IGNORE INTO mail_recipients (message_id, recipients) VALUES (?, ?)"
_SELECT = (
    "SELECT m.message_id, m.direction, m.ticket_id, m.action, m.rule, m.at, m.sender, m.subject, m.original, "
    "m.attachments, r.recipients FROM mail_messages AS m "
    "LEFT JOIN mail_recipients AS r ON r.message_id = m.message_id AND m.direction = 'out'"
)
_BY_ID = f"{_SELECT} WHERE m.message_id = ? ORDER BY m.direction DESC"  # 'out' first
_BY_TICKET = f"{_SELECT} WHERE m.ticket_id = ? ORDER BY m.at, m.rowid"


class SQLiteMessageIds:
    """A :class:`MessageIdStore` in a SQLite file (tables ``mail_messages`` and ``mail_recipients``).

    It may be the tickets' own SQLite file or a separate one; it opens its
    own connection (WAL, one per thread). The ``mail_messages`` table is the
    one earlier releases wrote, unchanged, so processes on either release may
    share the file during an upgrade; the recipients of sent mail are kept in
    ``mail_recipients`` (created when missing).

    Args:
        path: the database file.

    Raises:
        StorageError: the file cannot be opened as a SQLite database.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        try:
            with self._connect() as db:
                db.executescript(_SCHEMA)
            self._move_recipients_column()
        except sqlite3.DatabaseError as error:
            raise StorageError(f"{self.path}: cannot keep mail records there: {error}") from error

    def _move_recipients_column(self) -> None:
        """Move the ``recipients`` column a development build added to mail_messages into mail_recipients.

        That column made earlier releases' inserts (ten values) fail on the
        table; without it they work again. Where SQLite cannot drop a column
        (before 3.35) it stays, unused (inserts name their columns).
        """
        db = self._connect()
        if "recipients" not in {row[1] for row in db.execute("PRAGMA table_info(mail_messages)")}:
            return
        with db:
            db.execute("BEGIN IMMEDIATE")  # one process moves it; another finds it gone below
            if "recipients" not in {row[1] for row in db.execute("PRAGMA table_info(mail_messages)")}:
                return
            db.execute(
                "INSERT OR IGNORE INTO mail_recipients (message_id, recipients) SELECT message_id, recipients "
                "FROM mail_messages WHERE direction = 'out' AND recipients != '[]'"
            )
            if sqlite3.sqlite_version_info >= (3, 35):
                db.execute("ALTER TABLE mail_messages DROP COLUMN recipients")

    def __repr__(self) -> str:
        return f"SQLiteMessageIds({self.path!r})"

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    def record(self, record: MailRecord, /) -> None:
        """Keep *record* unless its message and direction are known."""
        attachments = json.dumps([attrs.asdict(a) for a in record.attachments])
        with self._connect() as db:
            inserted = db.execute(
                _INSERT,
                (
                    record.message_id,
                    record.direction,
                    record.ticket_id,
                    record.action,
                    record.rule,
                    record.at.isoformat(),
                    record.sender,
                    record.subject,
                    record.original,
                    attachments,
                ),
            ).rowcount
            if inserted and record.direction == "out" and record.recipients:
                db.execute(_INSERT_RECIPIENTS, (record.message_id, json.dumps(list(record.recipients))))

    @staticmethod
    def _row(row: tuple[str, ...]) -> MailRecord:
        direction: Direction = "in" if row[1] == "in" else "out"
        return MailRecord(
            message_id=row[0],
            direction=direction,
            ticket_id=row[2],
            action=row[3],
            rule=row[4],
            at=datetime.fromisoformat(row[5]),
            sender=row[6],
            subject=row[7],
            original=row[8],
            attachments=tuple(AttachmentInfo(**a) for a in json.loads(row[9])),
            recipients=tuple(json.loads(row[10])) if row[10] else (),
        )

    def find(self, message_id: str, /) -> MailRecord | None:
        """The sent record of *message_id*, else its received one."""
        rows = self._connect().execute(_BY_ID, (message_id,)).fetchall()
        return self._row(rows[0]) if rows else None

    def ticket_for(self, message_ids: Sequence[str], /) -> str | None:
        """The ticket of the first known id with one."""
        return _first_ticket(self, message_ids)

    def thread(self, ticket_id: str, /) -> list[MailRecord]:
        """The ticket's records, oldest first."""
        rows = self._connect().execute(_BY_TICKET, (ticket_id,)).fetchall()
        return [self._row(row) for row in rows]


@runtime_checkable
class Quarantine(Protocol):
    """Keeps mail that could not be ingested, with the reason, for someone to inspect.

    Contract: ``keep`` stores the bytes and the reason durably before it
    returns (a message is never lost) and returns a reference.
    """

    def keep(self, raw: bytes, reason: str, at: datetime, /) -> str:
        """Store *raw* with *reason*; return its reference."""
        ...


class MemoryQuarantine:
    """A :class:`Quarantine` in memory; ``kept`` lists ``(reference, reason, raw)``."""

    def __init__(self) -> None:
        self.kept: list[tuple[str, str, bytes]] = []

    def keep(self, raw: bytes, reason: str, at: datetime, /) -> str:
        """Keep *raw* and *reason* in ``kept``."""
        ref = f"{at.isoformat()}-{hashlib.sha256(raw).hexdigest()[:16]}"
        self.kept.append((ref, reason, raw))
        return ref


class DirectoryQuarantine:
    """A :class:`Quarantine` in a directory: ``<ref>.eml`` with the bytes and ``<ref>.reason`` beside it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def keep(self, raw: bytes, reason: str, at: datetime, /) -> str:
        """Write the message and its reason; return the file name stem."""
        ref = f"{at.strftime('%Y%m%dT%H%M%S')}-{hashlib.sha256(raw).hexdigest()[:16]}"
        (self.path / f"{ref}.eml").write_bytes(raw)
        (self.path / f"{ref}.reason").write_text(reason + "\n", encoding="utf-8")
        return ref


class MemoryAttachments:
    """An :class:`~ticketflow.mail.AttachmentStore` in memory, keyed by content digest."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes, info: AttachmentInfo, /) -> str:
        """Keep *data*; its reference is ``sha256:<digest>``."""
        ref = f"sha256:{hashlib.sha256(data).hexdigest()}"
        self.blobs[ref] = data
        return ref


class DirectoryAttachments:
    """An :class:`~ticketflow.mail.AttachmentStore` in a directory, one file per content digest."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes, info: AttachmentInfo, /) -> str:
        """Write *data* (once per content); its reference is the file name."""
        name = hashlib.sha256(data).hexdigest()
        target = self.path / name
        if not target.exists():
            target.write_bytes(data)
        return name
