"""The statements of the hot calls and of transactions, as plain SQL for psycopg, derived from the tables.

Column lists, placeholders and casts come from the ``Table`` objects of
:mod:`._schema` (a ``JSONB`` column's placeholder is ``%s::jsonb``); the
parameters of a save or an add come from each column's ``info`` (how a ticket
fills it). Only fixed text, column names and the schema name, quoted by the
dialect, are joined into the statements (hence the ``S608`` exemption);
values are ``%s`` parameters, and psycopg prepares each statement after a
few uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from ticketflow.errors import ConcurrencyConflict, TicketflowError, TicketNotFound
from ticketflow.model import UNSET, Event, Ticket, require_aware
from ticketflow.repository._codec import dumps, epoch_us, event_to_json, fold_to_json, ticket_from_row
from ticketflow.repository._memory import changed_parts, check_events
from ticketflow.repository.postgres._schema import TICKET_ATTRIBUTES, Fill

__all__ = ["Statements", "Write", "due_values", "refusal", "row_to_ticket"]

#: A write statement, its parameters, the bodies of its events.
Write = tuple[str, list[Any], list[str]]

_DIALECT = pg.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated


def _placeholder(column: sa.Column[Any]) -> str:
    return "%s::jsonb" if isinstance(column.type, pg.JSONB) else "%s"


def _typed(column: sa.Column[Any]) -> str:
    return f"%s::{column.type.compile(dialect=_DIALECT).lower()}"


def row_to_ticket(row: Sequence[Any]) -> Ticket:
    """The ticket of a row of :attr:`Statements.ticket_columns` (tags are its last column, as JSONB)."""
    return ticket_from_row(row, row[len(TICKET_ATTRIBUTES) - 1])


def refusal(ticket_id: str, expected_version: int, outcome: Sequence[Any] | None) -> TicketflowError:
    """Why a versioned write matched no row, from the ``outcome`` row: the ticket is missing, or someone saved it."""
    if outcome is None:
        return TicketNotFound(ticket_id)
    return ConcurrencyConflict(ticket_id, expected_version, int(outcome[0]))


def _due_parameters(due: datetime | None) -> list[Any]:
    if due is None:
        return [None, None]
    require_aware(due, "due")
    return [due.isoformat(), epoch_us(due)]


def due_values(due: datetime | None) -> dict[str, Any]:
    """The due columns' values for *due* (``None``: no timer); any claim on the ticket ends."""
    due_at, due_us = _due_parameters(due)
    return {"due_at": due_at, "due_us": due_us, "lease_until": None}


def _bodies(events: Sequence[Event]) -> list[str]:
    return [event_to_json(e) for e in events]


def _event_parameters(first_seq: int, bodies: Sequence[str]) -> list[Any]:
    parameters: list[Any] = []
    for seq, body in enumerate(bodies, first_seq):
        parameters += [seq, body]
    return parameters


#: The ticket part a saved column holds, where its name does not say it; None: every save writes it.
_PART: dict[str, str | None] = {"version": None, "updated_at": None, "updated_us": None, "fields_text": "fields"}


def _writes(part: str | None, parts: frozenset[str] | None) -> bool:
    return part is None or parts is None or part in parts


class Statements:
    """The hot statements over *tables* (from :func:`._schema.tables`), the schema given by *prefix*.

    Args:
        tables: ticketflow's tables.
        prefix: the dialect-quoted schema name and a dot (empty for the search path).
    """

    def __init__(self, tables: dict[str, sa.Table], prefix: str) -> None:
        tickets = tables["tickets"].c
        by_attribute = {column.info["reads"]: column.name for column in tickets if "reads" in column.info}
        #: the columns a Ticket is read from, in the order :func:`row_to_ticket` expects
        self.ticket_columns = tuple(by_attribute[attribute] for attribute in TICKET_ATTRIBUTES)
        self._created = [column for column in tickets if "create" in column.info]
        self._saved = [column for column in tickets if "save" in column.info]
        self._created_fills: tuple[Fill, ...] = tuple(column.info["create"] for column in self._created)
        self._saved_fills: tuple[Fill, ...] = tuple(column.info["save"] for column in self._saved)
        #: the part of a ticket each saved column holds (None: written by every save)
        self._saved_parts = tuple(_PART.get(column.name, column.name) for column in self._saved)
        self._due = [column for column in tickets if "due" in column.info]
        events = tables["events"].c
        self._event_row = f"({_typed(events.seq)}, {_typed(events.body)})"
        self._prefix = prefix
        self.tickets = f"{prefix}tickets"
        self.events = f"{prefix}events"
        columns = ", ".join(self.ticket_columns)
        self.get = f"SELECT {columns} FROM {self.tickets} WHERE id = %s"
        self.history = f"SELECT body FROM {self.events} WHERE ticket_id = %s ORDER BY seq"
        self.get_with_history = (
            f"SELECT {columns}, "
            f"ARRAY(SELECT body FROM {self.events} e WHERE e.ticket_id = t.id ORDER BY e.seq) "
            f"FROM {self.tickets} t WHERE t.id = %s"
        )
        self.exists = f"SELECT 1 FROM {self.tickets} WHERE id = %s"
        # one primary-key lookup per seq (a join would scan the ticket's whole history)
        fold_events = (
            f"ARRAY(SELECT (SELECT e.body FROM {self.events} e "
            "WHERE e.ticket_id = t.id AND e.seq = j.value::int) "
            "FROM json_array_elements_text(t.fold::json) WITH ORDINALITY AS j(value, n) WHERE j.n > 1 "
            "ORDER BY j.value::int)"  # by seq: the stored seqs are the lasting ones, then the transient ones
        )
        self.fold = f"SELECT t.fold, {fold_events} FROM {self.tickets} t WHERE t.id = %s"
        #: several tickets, each with its fold and the fold's event bodies: one statement, one snapshot
        self.get_with_folds = (
            f"SELECT {', '.join(f't.{name}' for name in self.ticket_columns)}, t.fold, {fold_events} "
            f"FROM {self.tickets} t WHERE t.id = ANY(%s::text[])"
        )
        #: several tickets, each with its fold, whether it is read in part (stored under the key: its text starts
        #: '["key '; bound: that prefix's length, the prefix, where the state starts in the head, the ids) and the
        #: events read: for such a fold, those the seqs of its state's first five items and its eighth (its last
        #: event's) name, as Folder.reads; for another, or a short one (bound: SHORT_FOLD + 1 items), its whole fold
        named = (
            "ARRAY(SELECT (v #>> '{}')::int FROM jsonb_path_query(substr(t.fold::json->>0, %s)::jsonb, "
            "'strict $[0 to 4, 7].** ? (@.type() == \"number\")') AS v)"
        )
        whole = (
            "ARRAY(SELECT j.value::int FROM json_array_elements_text(t.fold::json) WITH ORDINALITY AS j(value, n) "
            "WHERE j.n > 1)"
        )
        self.partial_folds = (  # one primary-key lookup per seq named (a filter would scan the whole history)
            f"SELECT {', '.join(f't.{name}' for name in self.ticket_columns)}, t.fold, k.part, "
            f"ARRAY(SELECT (SELECT e.body FROM {self.events} e WHERE e.ticket_id = t.id AND e.seq = s.seq) "
            "FROM (SELECT DISTINCT u.seq FROM unnest(w.seqs) AS u(seq)) AS s ORDER BY s.seq) "
            f"FROM {self.tickets} t CROSS JOIN LATERAL "
            "(SELECT left(t.fold, %s) = %s AND json_array_length(t.fold::json) > %s AS part) AS k "
            f"CROSS JOIN LATERAL (SELECT CASE WHEN k.part THEN {named} ELSE {whole} END AS seqs) AS w "
            "WHERE t.id = ANY(%s::text[])"
        )
        self.outcome = (
            f"SELECT t.version, e.body FROM {self.tickets} t LEFT JOIN {self.events} e "
            "ON e.ticket_id = t.id AND e.seq = %s WHERE t.id = %s"
        )
        self._claims = {
            of: (
                f"UPDATE {self.tickets} SET lease_until = clock_timestamp() + make_interval(secs => %s) "
                # the ids as an array: a primary-key lookup each (IN (subquery) joins by scanning the table)
                f"WHERE id = ANY(ARRAY(SELECT id FROM {self.tickets} WHERE due_us IS NOT NULL AND due_us <= %s "
                "AND (lease_until IS NULL OR lease_until < clock_timestamp())"
                f"{' AND lifecycle_id = %s' if of else ''} ORDER BY due_us, id LIMIT %s FOR UPDATE SKIP LOCKED)) "
                "RETURNING id, due_at, due_us"
            )
            for of in (False, True)
        }
        outbox = ("key", "ticket_id", "kind", "payload", "created_at", "created_us")  # codec.outbox_row's order
        self.enqueue = self._insert(tables["outbox"], outbox, "ON CONFLICT (key) DO NOTHING")
        links = tuple(column.name for column in tables["links"].c)
        self.link = self._insert(tables["links"], links, "ON CONFLICT DO NOTHING")
        self._writes: dict[tuple[str, bool, int, frozenset[str] | None, bool], str] = {}

    def claim(self, lease_seconds: float, due_us: int, lifecycle_id: str | None, limit: int) -> tuple[str, list[Any]]:
        """The one statement that leases up to *limit* due tickets (of *lifecycle_id*), and its parameters.

        Returns a row (id, due_at, due_us) per ticket leased.
        """
        of = [] if lifecycle_id is None else [lifecycle_id]
        return self._claims[lifecycle_id is not None], [lease_seconds, due_us, *of, limit]

    def _insert(self, table: sa.Table, names: Sequence[str], tail: str) -> str:
        placeholders = ", ".join(_placeholder(table.c[name]) for name in names)
        return f"INSERT INTO {self._prefix}{table.name} ({', '.join(names)}) VALUES ({placeholders}) {tail}"

    def save(self, with_due: bool, events: int, parts: frozenset[str] | None = None, with_fold: bool = False) -> str:
        """The versioned ticket update, then its events only if the update matched: one statement.

        *parts*: the parts of the ticket that changed (``None``: all); the
        columns of the others are left as they are. *with_fold*: the fold
        column is set too (its parameter after the due ones). Returns one row
        per event written (one row if *events* is 0), none if the version did
        not match.
        """
        return self._write("save", with_due, events, parts, with_fold)

    def add(self, events: int) -> str:
        """The ticket insert unless its id exists, then its events: one statement (rows as for save)."""
        return self._write("add", True, events, None, True)

    def _written(self, parts: frozenset[str] | None) -> list[sa.Column[Any]]:
        return [c for c, part in zip(self._saved, self._saved_parts, strict=True) if _writes(part, parts)]

    def _write(self, kind: str, with_due: bool, events: int, parts: frozenset[str] | None, with_fold: bool) -> str:
        key = (kind, with_due, events, parts, with_fold)
        statement = self._writes.get(key)
        if statement is None:
            due = [column for column in self._due if column.name != "lease_until"]  # a write ends any claim
            if kind == "add":
                columns = [*self._created, *self._saved, *due]
                names = ", ".join([*(column.name for column in columns), "fold"])
                values = ", ".join([*(_placeholder(column) for column in columns), "%s"])
                head = (
                    f"INSERT INTO {self.tickets} ({names}) VALUES ({values}) ON CONFLICT (id) DO NOTHING RETURNING id"
                )
            else:
                sets = [f"{column.name} = {_placeholder(column)}" for column in self._written(parts)]
                if with_due:
                    sets += [f"{column.name} = {_placeholder(column)}" for column in due]
                    sets.append("lease_until = NULL")
                if with_fold:
                    sets.append("fold = %s")
                head = f"UPDATE {self.tickets} SET {', '.join(sets)} WHERE id = %s AND version = %s RETURNING id"
            if events == 0:
                statement = head
            else:
                rows = ", ".join([self._event_row] * events)
                statement = (
                    f"WITH written AS ({head}) INSERT INTO {self.events} (ticket_id, seq, body) "
                    f"SELECT written.id, e.seq, e.body FROM written, (VALUES {rows}) AS e(seq, body) RETURNING seq"
                )
            self._writes[key] = statement
        return statement

    def _saved_parameters(self, ticket: Ticket, parts: frozenset[str] | None = None) -> list[Any]:
        fields = dumps(dict(ticket.fields)) if _writes("fields", parts) else ""
        return [
            fill(ticket, fields)
            for fill, part in zip(self._saved_fills, self._saved_parts, strict=True)
            if _writes(part, parts)
        ]

    def add_write(self, ticket: Ticket, events: Sequence[Event], due: datetime | None, fold: Any = None) -> Write:
        """The one statement that adds *ticket* with its first *events*, its parameters and the event bodies."""
        check_events(ticket, events, 1)
        bodies = _bodies(events)
        created = [fill(ticket, "") for fill in self._created_fills]
        parameters = [*created, *self._saved_parameters(ticket), *_due_parameters(due), fold_to_json(fold)]
        parameters += _event_parameters(1, bodies)
        return self.add(len(bodies)), parameters, bodies

    def save_write(
        self, ticket: Ticket, events: Sequence[Event], expected_version: int, due: Any, fold: Any = UNSET
    ) -> Write:
        """The one statement that saves *ticket* over *expected_version* with its *events* (as :meth:`add_write`)."""
        check_events(ticket, events, expected_version + 1)
        bodies = _bodies(events)
        parts = changed_parts(ticket, events)  # only what the events changed is written
        parameters = self._saved_parameters(ticket, parts)
        if due is not UNSET:
            parameters += _due_parameters(due)
        if fold is not UNSET:
            parameters.append(fold_to_json(fold))
        parameters += [ticket.id, expected_version, *_event_parameters(expected_version + 1, bodies)]
        return self.save(due is not UNSET, len(bodies), parts, fold is not UNSET), parameters, bodies
