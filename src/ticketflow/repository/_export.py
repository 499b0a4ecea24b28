"""Export and import of tickets with their histories: JSON Lines and CSV.

JSON Lines holds one ticket per line, ``{"ticket": {...}, "events": [...]}``,
and loses nothing: ``export -> import -> export`` gives the same text, and
the import rebuilds the link index (follow-ups, duplicates, a broadcast's
audience, links to tickets and records) from the events that recorded each
link. CSV is one row per ticket with chosen columns, for spreadsheets
(export only).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any, Unpack

from ticketflow._brief import brief
from ticketflow._recent import TicketCache
from ticketflow.errors import StorageError
from ticketflow.model import Event, Ticket, replay
from ticketflow.protocols import Link, TicketFilters, TicketRepository
from ticketflow.recording import Recorder, Write, imported
from ticketflow.repository._codec import dumps, event_from_dict, event_to_dict, loads, ticket_from_dict, ticket_to_dict

__all__ = [
    "DEFAULT_CSV_COLUMNS",
    "FORMULA_STARTS",
    "export_csv",
    "export_json_view",
    "export_jsonl",
    "import_jsonl",
    "iter_tickets",
    "neutralize",
]

#: Columns of a CSV export when none are chosen; ``field:<name>`` picks a field.
DEFAULT_CSV_COLUMNS = (
    "id",
    "lifecycle_id",
    "state",
    "title",
    "requester",
    "assignee",
    "tags",
    "created_at",
    "updated_at",
    "version",
)


def iter_tickets(
    repository: TicketRepository, page_size: int = 500, **filters: Unpack[TicketFilters]
) -> Iterator[Ticket]:
    """Every ticket matching *filters*, in id order, a page at a time (bounded memory)."""
    cursor: str | None = None
    while True:
        page = repository.find(limit=page_size, after=cursor, **filters)
        yield from page.tickets
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def export_jsonl(repository: TicketRepository, out: IO[str], **filters: Unpack[TicketFilters]) -> int:
    """Write matching tickets with their whole histories, one JSON object per line.

    Returns:
        How many tickets were written.
    """
    written = 0
    for ticket in iter_tickets(repository, **filters):
        events = [event_to_dict(e) for e in repository.history(ticket.id)]
        out.write(dumps({"ticket": ticket_to_dict(ticket), "events": events}) + "\n")
        written += 1
    return written


def import_jsonl(
    repository: TicketRepository,
    lines: IO[str],
    *,
    source: str = "<jsonl>",
    schedule: Callable[[Ticket, Sequence[Event]], datetime | None] | None = None,
    listeners: Sequence[Callable[[Ticket, Event], None]] = (),
) -> int:
    """Read tickets written by :func:`export_jsonl` into *repository*, all or nothing.

    Each ticket must equal the replay of its history, and must not exist yet.
    *schedule* gives each ticket's next due instant from its history (its
    timed rules and SLA alerts); :meth:`Workflow.import_jsonl
    <ticketflow.Workflow.import_jsonl>` passes its lifecycle's. Without one,
    no due instant is stored and nothing fires on the imported tickets.
    The link index is rebuilt from the histories (:func:`history_links`),
    in the same transaction, so ``wf.links``, ``wf.linked_to``, broadcasts
    and link rules find what they found in the source store.

    Returns:
        How many tickets were imported.

    Raises:
        StorageError: naming the line of a malformed or inconsistent record;
            nothing is imported then.
        ConcurrencyConflict: a ticket with the same id exists already.
    """
    records = []
    links: list[Link] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            ticket, events = _record(loads(line))
        except StorageError as exc:  # says what is wrong, and where in the record
            raise StorageError(f"{source}:{number}: {exc}") from None
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise StorageError(f"{source}:{number}: not a ticket record: {brief(exc)}") from None
        try:
            rebuilt = replay(events)
        except ValueError as exc:
            raise StorageError(f"{source}:{number}: ticket {ticket.id}: {exc}") from exc
        if rebuilt != ticket:
            raise StorageError(f"{source}:{number}: ticket {ticket.id} does not equal the replay of its history")
        try:
            due = None if schedule is None else schedule(ticket, events)
        except StorageError as exc:
            raise StorageError(f"{source}:{number}: ticket {ticket.id}: {exc}") from exc
        records.append(imported(ticket, events, due))
        links.extend(history_links(ticket.id, events))
    recorder = Recorder(TicketCache(repository, 0), max_retries=0, listeners=listeners)  # after commit, each event
    return recorder.record(lambda _reads: Write(len(records), records, links=links))


#: The kinds ``wf.link`` writes (``addressed_to`` is a broadcast's, recorded as ``meta["broadcast"]``).
_LINKED_KINDS = frozenset({"relates_to", "blocks", "caused_by", "follow_up_of", "duplicate_of"})
#: The kind of a record link whose event did not keep it (see :func:`history_links`).
FALLBACK_LINK_KIND = "relates_to"


def _link_kind(recorded: str) -> str:
    """The link kind an event's ``meta["link"]["kind"]`` stands for: itself, or ``relates_to`` when it is no link kind.

    Before ticketflow kept the link's kind there, a record link's event held
    the record's kind (``issue`` for a ``blocks`` link to an issue) and
    nothing else in the event names the link's kind, so it cannot be
    recovered: such a link comes back as the neutral ``relates_to``.
    """
    return recorded if recorded in _LINKED_KINDS else FALLBACK_LINK_KIND


def history_links(ticket_id: str, events: Sequence[Event]) -> list[Link]:
    """The links a ticket's history recorded, as the writers put them in the link index (first seen first).

    Every writer of a link records it in the same transaction as an event
    of the ticket, in the library's meta: ``link`` (``wf.link``: its kind
    and target), ``follow_up_of`` (a follow-up's opening), ``duplicate_of``
    (a duplicate's closing) and ``broadcast`` (a broadcast's audience, as
    ``addressed_to`` links). Callers' meta lives apart (``meta["app"]``),
    so none of it can pose as a link. A ``link`` whose kind is no kind
    ``wf.link`` writes — an export from before the link's kind was kept,
    whose record link recorded the record's kind (``issue``) — is rebuilt
    as ``relates_to`` (its target, the record, is kept).
    """
    found: dict[Link, None] = {}
    for event in events:
        meta = event.meta
        recorded = meta.get("link")
        if isinstance(recorded, Mapping) and isinstance(recorded.get("kind"), str):
            target = recorded.get("target")
            if isinstance(target, str):
                found[Link(ticket_id, _link_kind(recorded["kind"]), target)] = None
        for key, kind in (("follow_up_of", "follow_up_of"), ("duplicate_of", "duplicate_of")):
            if isinstance(meta.get(key), str):
                found[Link(ticket_id, kind, meta[key])] = None
        audience = meta.get("broadcast")
        if isinstance(audience, list | tuple):
            for target in audience:
                if isinstance(target, str):
                    found[Link(ticket_id, "addressed_to", target)] = None
    return list(found)


def _record(data: Any) -> tuple[Ticket, list[Event]]:
    """The ticket and events of one line of :func:`export_jsonl` output.

    Raises:
        StorageError: naming the part of the record at fault (``ticket``, ``events[1]``) and why.
    """
    if not isinstance(data, Mapping) or "ticket" not in data or "events" not in data:
        raise StorageError(f"not a ticket record: expected an object with 'ticket' and 'events', got {brief(data)}")
    parts, listed = data["ticket"], data["events"]
    if not isinstance(parts, Mapping):
        raise StorageError(f"ticket: expected an object, got {brief(parts)}")
    if not isinstance(listed, list | tuple):
        raise StorageError(f"events: expected a list, got {brief(listed)}")
    try:
        ticket = ticket_from_dict(parts)
    except StorageError as exc:
        raise StorageError(f"ticket: {exc}") from None
    events = []
    for i, item in enumerate(listed):
        if not isinstance(item, Mapping):
            raise StorageError(f"events[{i}]: expected an object, got {brief(item)}")
        try:
            events.append(event_from_dict(item))
        except StorageError as exc:
            raise StorageError(f"events[{i}]: {exc}") from None
    return ticket, events


def _cell(ticket: Ticket, column: str) -> Any:
    if column.startswith("field:"):
        value = ticket.fields.get(column[6:])
        return ";".join(value) if isinstance(value, tuple) else value
    if column in ("tags", "participants"):
        return ";".join(sorted(getattr(ticket, column)))
    if column in ("created_at", "updated_at"):
        return getattr(ticket, column).isoformat()
    return getattr(ticket, column)


#: What a spreadsheet reads as the start of a formula (or a DDE call) when a cell begins with it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """*value* safe to open in a spreadsheet: a text starting like a formula gets a ``'`` in front (OWASP).

    Only text is changed (numbers, booleans and ``None`` are written as they
    are), so ``=HYPERLINK(...)`` in a title becomes ``'=HYPERLINK(...)``,
    which Excel, LibreOffice and Google Sheets show as text.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _check_columns(columns: Sequence[str]) -> None:
    known = {*DEFAULT_CSV_COLUMNS, "participants"}
    for column in columns:
        if column not in known and not column.startswith("field:"):
            raise StorageError(f"unknown CSV column {column!r}; use {', '.join(sorted(known))} or field:<name>")


def export_csv(
    repository: TicketRepository,
    out: IO[str],
    columns: Sequence[str] = DEFAULT_CSV_COLUMNS,
    *,
    tickets: Iterable[Ticket] | None = None,
    raw: bool = False,
    **filters: Unpack[TicketFilters],
) -> int:
    """Write one CSV row per matching ticket with *columns* (``field:<name>`` for fields).

    *tickets*, when given, are written instead of those matching *filters*
    (a customer's own tickets, as they may see them).

    Titles, fields and the rest are what customers typed: a cell whose text
    starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would
    run as a formula when the file is opened in a spreadsheet (CSV
    injection), so it is written with a ``'`` in front (:func:`neutralize`).
    *raw* writes every value exactly as stored, for programs reading the file
    (never open such a file in a spreadsheet).

    Returns:
        How many tickets were written.

    Raises:
        StorageError: an unknown column.
    """
    _check_columns(columns)
    writer = csv.writer(out)
    writer.writerow(columns)
    written = 0
    for ticket in iter_tickets(repository, **filters) if tickets is None else tickets:
        cells = [_cell(ticket, c) for c in columns]
        writer.writerow(cells if raw else [neutralize(cell) for cell in cells])
        written += 1
    return written


def export_json_view(
    repository: TicketRepository,
    out: IO[str],
    columns: Sequence[str] = DEFAULT_CSV_COLUMNS,
    *,
    tickets: Iterable[Ticket] | None = None,
    **filters: Unpack[TicketFilters],
) -> int:
    """Write one JSON object per matching ticket with *columns* (a view, without histories).

    Streams a page at a time, like the CSV export, so memory stays bounded;
    *tickets*, when given, are written instead of those matching *filters*.
    """
    _check_columns(columns)
    written = 0
    for ticket in iter_tickets(repository, **filters) if tickets is None else tickets:
        row = {c: _cell(ticket, c) for c in columns}
        out.write(dumps(row) + "\n")
        written += 1
    return written
