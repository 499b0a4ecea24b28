"""Pages of tickets in time order: ``Workflow.find(order_by="opened_at")``.

Repositories page in id order (keyset pagination on the primary key, the
cheap path every store has). Ordering by time is done here, over the
matching tickets, so every repository — the application's own too — offers
it alike: the tickets matching the filters are read a page at a time,
sorted by ``(time, id)``, and a page is cut after the cursor, which names the
last ticket's time and id (stable while tickets change: a ticket updated
meanwhile moves, as in any time-ordered listing). It reads every matching
ticket per page, which suits queues ("OPEN tickets are prioritized by
reviewing date/time"); narrow it with filters (``group="open"``) on big stores.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import datetime

from ticketflow._brief import brief
from ticketflow.errors import LifecycleError, StorageError
from ticketflow.model import Ticket
from ticketflow.protocols import Page

__all__ = ["ORDERS", "ordered_page"]

#: The orders ``find`` takes, each with the ticket attribute it sorts by; ``-`` in front: newest first.
ORDERS = {"opened_at": "created_at", "updated_at": "updated_at"}


def _key(order_by: str) -> tuple[str, bool]:
    descending = order_by.startswith("-")
    name = order_by.removeprefix("-")
    if name not in ORDERS:
        known = ", ".join([*ORDERS, *(f"-{o}" for o in ORDERS)])
        raise LifecycleError(f"unknown order_by {order_by!r}; use one of {known}")
    return ORDERS[name], descending


def _cursor(at: datetime, ticket_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), ticket_id]).encode()).decode()


def _position(cursor: str) -> tuple[datetime, str]:
    try:
        at, ticket_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), str(ticket_id)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise StorageError(f"not a cursor from find(order_by=...): {brief(cursor)}") from exc


def ordered_page(tickets: Iterable[Ticket], order_by: str, *, limit: int, after: str | None) -> Page:
    """One page of *tickets* sorted by *order_by* (ties by id), after the cursor *after*.

    Raises:
        LifecycleError: an unknown order. StorageError: a cursor this function did not make.
    """
    attribute, descending = _key(order_by)
    ranked = sorted(tickets, key=lambda t: (getattr(t, attribute), t.id), reverse=descending)
    if after is not None:
        if not isinstance(after, str):
            raise TypeError(f"after must be a cursor string from find(), got {type(after).__name__}")
        mark = _position(after)
        if descending:
            ranked = [t for t in ranked if (getattr(t, attribute), t.id) < mark]
        else:
            ranked = [t for t in ranked if (getattr(t, attribute), t.id) > mark]
    page = tuple(ranked[:limit])
    more = len(ranked) > limit
    return Page(page, _cursor(getattr(page[-1], attribute), page[-1].id) if more and page else None)
