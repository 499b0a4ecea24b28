"""The filters of ``find``/``count``, checked once and shared by every adapter."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Unpack

import attrs

from ticketflow._brief import brief
from ticketflow._values import text_problem, value_problem
from ticketflow.errors import StorageError
from ticketflow.model import Ticket, require_aware
from ticketflow.protocols import TicketFilters

__all__ = [
    "DELIVERY_STATUSES",
    "Query",
    "check_limit",
    "check_name",
    "check_status",
    "decode_cursor",
    "encode_cursor",
    "unstorable",
]

#: The statuses of the delivery log (:class:`~ticketflow.Delivery`).
DELIVERY_STATUSES = ("pending", "undeliverable", "delivered")

_FILTERS = frozenset(TicketFilters.__optional_keys__)


@attrs.frozen
class Query:
    """Filters for tickets; every given one must hold."""

    states: frozenset[str] | None = None
    assignee: str | None = None
    tag: str | None = None
    field: tuple[tuple[str, Any], ...] = ()
    lifecycle_id: str | None = None
    updated_before: datetime | None = None
    requester: str | None = None
    updated_after: datetime | None = None

    @classmethod
    def build(cls, **filters: Unpack[TicketFilters]) -> Query:
        """Check and normalise the keyword filters of ``find``/``count``.

        Raises:
            TypeError: a keyword that is not a filter (as a misspelt keyword
                argument would); NaiveDatetime: a naive instant.
        """
        unknown = sorted(set(filters) - _FILTERS)
        if unknown:
            raise TypeError(f"unknown filter {unknown[0]!r}; the filters are {', '.join(sorted(_FILTERS))}")
        state = filters.get("state")
        states = None
        if state is not None:
            if not isinstance(state, str) and not (
                isinstance(state, Iterable) and all(isinstance(s, str) for s in state)
            ):
                raise TypeError(f"filter 'state' must be a state id or a collection of them, got {brief(state)}")
            states = frozenset([state] if isinstance(state, str) else state)
            for name in states:
                _check_text("state", name)
        for name in ("assignee", "tag", "lifecycle_id", "requester"):
            value = filters.get(name)
            if value is not None:
                if not isinstance(value, str):
                    raise TypeError(f"filter {name!r} must be a string, got {type(value).__name__} {brief(value)}")
                _check_text(name, value)
        field = filters.get("field")
        if field is not None:
            if not isinstance(field, Mapping):
                raise TypeError(f"filter 'field' must be a mapping of field names to values, got {brief(field)}")
            problem = value_problem(dict(field))
            if problem:
                raise StorageError(f"filter 'field': {problem}; no ticket can hold it")
        for name in ("updated_before", "updated_after"):
            value = filters.get(name)
            if value is not None and not isinstance(value, datetime):
                raise TypeError(f"filter {name!r} must be an aware datetime, got {type(value).__name__} {brief(value)}")
        updated_before = filters.get("updated_before")
        if updated_before is not None:
            require_aware(updated_before, "updated_before")
        updated_after = filters.get("updated_after")
        if updated_after is not None:
            require_aware(updated_after, "updated_after")
        return cls(
            states,
            filters.get("assignee"),
            filters.get("tag"),
            tuple(sorted((filters.get("field") or {}).items())),
            filters.get("lifecycle_id"),
            updated_before,
            filters.get("requester"),
            updated_after,
        )

    def matches(self, ticket: Ticket) -> bool:
        """Whether *ticket* passes every filter (the in-memory evaluation)."""
        return (
            (self.states is None or ticket.state in self.states)
            and (self.assignee is None or ticket.assignee == self.assignee)
            and (self.tag is None or self.tag in ticket.tags)
            and all(ticket.fields.get(name) == value for name, value in self.field)
            and (self.lifecycle_id is None or ticket.lifecycle_id == self.lifecycle_id)
            and (self.updated_before is None or ticket.updated_at < self.updated_before)
            and (self.requester is None or ticket.requester == self.requester)
            and (self.updated_after is None or ticket.updated_at >= self.updated_after)
        )


def _check_text(name: str, value: str) -> None:
    problem = text_problem(value)
    if problem:
        raise StorageError(f"filter {name!r}: {problem}; no ticket can hold it")


def encode_cursor(ticket_id: str) -> str:
    """An opaque cursor pointing after *ticket_id*."""
    return base64.urlsafe_b64encode(ticket_id.encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    """The ticket id a cursor points after; StorageError for a cursor we did not make."""
    if cursor is None:
        return None
    if not isinstance(cursor, str):
        raise TypeError(f"after must be a cursor string from find(), got {type(cursor).__name__} {brief(cursor)}")
    try:
        ticket_id = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeError) as exc:
        raise StorageError(f"not a cursor from find(): {brief(cursor)}") from exc
    if text_problem(ticket_id):
        raise StorageError(f"not a cursor from find(): {brief(cursor)}")
    return ticket_id


#: The largest page a store is asked for; a larger ``limit`` means "all", which is no more than this.
MAX_LIMIT = 2**31 - 1


def check_limit(limit: int) -> int:
    """A page size must be a positive int; one beyond :data:`MAX_LIMIT` counts as MAX_LIMIT."""
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise TypeError(f"limit must be a positive integer, got {type(limit).__name__} {brief(limit)}")
    if limit < 1:
        raise StorageError(f"limit must be a positive integer, got {brief(limit)}")
    return min(limit, MAX_LIMIT)


def check_status(status: str | None) -> None:
    """A delivery-log status filter must be one of :data:`DELIVERY_STATUSES` (or None)."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise StorageError(f"status must be one of {', '.join(DELIVERY_STATUSES)}; got {status!r}")


def unstorable(key: object) -> bool:
    """Whether no store can hold *key* as an id: not a string, or with NUL or a lone surrogate.

    Lookups by such a key find nothing in every store alike (a ticket with it cannot exist).
    """
    return not isinstance(key, str) or text_problem(key) is not None


def check_name(what: str, name: object) -> None:
    """A sequence name or message key every store can hold; else StorageError."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string, got {type(name).__name__}")
    problem = text_problem(name)
    if problem:
        raise StorageError(f"{what} {brief(name)}: {problem}")
