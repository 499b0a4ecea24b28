"""The tickets a Workflow saved last: a fire may start from one instead of reading it back.

A fire reads the ticket, judges the trigger on it, and saves with a version
check. When the ticket was saved by this Workflow a moment ago, the read is
a round trip to the database that usually returns what the process already
holds. Starting from the copy kept here is safe because nothing is decided
on it alone:

- a save from a copy commits only if the stored version still equals the
  copy's (the optimistic check every save makes), so an accepted fire was
  judged on the stored ticket;
- a refusal (or any exception) judged on a copy, and a save refused as a
  conflict, are judged again on the stored ticket, and neither counts
  against ``max_retries``.

So every outcome equals the outcome of a fresh read; a copy only saves the
read when it is current.
"""

from __future__ import annotations

import threading

from ticketflow.model import Ticket

__all__ = ["RecentTickets"]


class RecentTickets:
    """At most *size* tickets by id, oldest saved dropped first; ``size=0`` keeps none."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"ticket_cache must be 0 or more, not {size}")
        self._size = size
        self._items: dict[str, Ticket] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, ticket_id: str) -> Ticket | None:
        """The copy kept for *ticket_id*, if any (it may be stale)."""
        return self._items.get(ticket_id)

    def put(self, ticket: Ticket) -> None:
        """Keep *ticket* as the latest copy of its id."""
        if self._size == 0:
            return
        with self._lock:
            items = self._items
            items.pop(ticket.id, None)
            items[ticket.id] = ticket
            if len(items) > self._size:
                del items[next(iter(items))]

    def forget(self, ticket_id: str) -> None:
        """Drop the copy of *ticket_id* (it proved stale)."""
        with self._lock:
            self._items.pop(ticket_id, None)
