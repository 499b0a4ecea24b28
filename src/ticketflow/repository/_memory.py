"""The in-memory repository: for tests, prototypes and the property suites."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ticketflow.errors import ConcurrencyConflict, StorageError, TicketNotFound
from ticketflow.model import Event, Ticket

__all__ = ["MemoryRepository"]


def check_events(ticket: Ticket, events: Sequence[Event], first_seq: int) -> None:
    """Refuse events that do not continue the history up to the ticket's version."""
    for offset, event in enumerate(events):
        if event.ticket_id != ticket.id or event.seq != first_seq + offset:
            raise StorageError(
                f"ticket {ticket.id}: event {offset} has seq {event.seq} for {event.ticket_id!r}, "
                f"expected seq {first_seq + offset}"
            )
    if events and ticket.version != events[-1].seq:
        raise StorageError(f"ticket {ticket.id}: version {ticket.version} does not match its last event")


class MemoryRepository:
    """Tickets and histories in process memory, safe across threads.

    Nothing survives the process; use :class:`~ticketflow.SQLiteRepository`
    for that.
    """

    def __init__(self) -> None:
        self._tickets: dict[str, Ticket] = {}
        self._events: dict[str, list[Event]] = {}
        self._lock = threading.Lock()

    def add(self, ticket: Ticket, events: Sequence[Event]) -> None:
        """Store a new ticket with its first events."""
        check_events(ticket, events, 1)
        with self._lock:
            if ticket.id in self._tickets:
                raise ConcurrencyConflict(ticket.id, 0, self._tickets[ticket.id].version)
            self._tickets[ticket.id] = ticket
            self._events[ticket.id] = list(events)

    def get(self, ticket_id: str) -> Ticket:
        """The ticket as last saved."""
        try:
            return self._tickets[ticket_id]
        except KeyError:
            raise TicketNotFound(ticket_id) from None

    def save(self, ticket: Ticket, events: Sequence[Event], expected_version: int) -> None:
        """Store the changed ticket and its events if nobody saved it meanwhile."""
        with self._lock:
            current = self._tickets.get(ticket.id)
            if current is None:
                raise TicketNotFound(ticket.id)
            if current.version != expected_version:
                raise ConcurrencyConflict(ticket.id, expected_version, current.version)
            check_events(ticket, events, expected_version + 1)
            self._tickets[ticket.id] = ticket
            self._events[ticket.id].extend(events)

    def history(self, ticket_id: str) -> list[Event]:
        """All events of the ticket, oldest first."""
        try:
            return list(self._events[ticket_id])
        except KeyError:
            raise TicketNotFound(ticket_id) from None

    def count(self) -> int:
        """How many tickets are stored."""
        return len(self._tickets)

    def __repr__(self) -> str:
        return f"MemoryRepository({len(self._tickets)} tickets)"
