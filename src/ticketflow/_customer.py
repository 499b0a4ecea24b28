"""Reads on behalf of a customer: only the tickets they are related to, each as their view.

Staff read everything; a customer's list holds the tickets the lifecycle's
access rules relate them to (requester, participant, assignee, shared
account), each as :func:`~ticketflow.view` shows it to them: no internal
fields or tags, and the version and ``updated_at`` of what they may see.

The repository filters cannot express "requester, or participant, or one of
my accounts", so the lifecycle's tickets matching the other filters are read
a page at a time and kept when related: bounded memory, a cost linear in
those tickets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Unpack

from ticketflow._view import view
from ticketflow.lifecycle import Lifecycle
from ticketflow.model import Actor, Ticket
from ticketflow.protocols import Page, TicketFilters, TicketRepository
from ticketflow.repository._query import Query

__all__ = ["customer_page", "customer_tickets"]

_PAGE = 500


def customer_tickets(
    repository: TicketRepository,
    lifecycle: Lifecycle,
    actor: Actor,
    after: str | None = None,
    **filters: Unpack[TicketFilters],
) -> Iterator[Ticket]:
    """The tickets matching *filters* that *actor* may see, in id order, each as their view shows it.

    A filter on what the view may hide (an internal tag or field, the time of
    the last change) is judged on the view, never on the stored ticket, so
    the list cannot tell which of the customer's tickets carry an internal
    value or had internal work after a date.
    """
    access = lifecycle.access
    stored, shown = _split(lifecycle, filters)
    check = None if not shown else Query.build(**shown)
    cursor = after
    while True:
        page = repository.find(limit=_PAGE, after=cursor, **stored)
        for ticket in page.tickets:
            if access.related(ticket, actor):
                seen = view(lifecycle, ticket, repository.history(ticket.id), actor).ticket
                if check is None or check.matches(seen):
                    yield seen
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _split(lifecycle: Lifecycle, filters: TicketFilters) -> tuple[TicketFilters, TicketFilters]:
    """*filters* the store may apply to stored tickets, and those to judge on the customer's view.

    Internal tags and fields are not in the view, and its ``updated_at`` is
    that of the last event shown: those filters go to the view.
    """
    stored: TicketFilters = {**filters}
    shown: TicketFilters = {}
    if stored.get("updated_before") is not None:
        shown["updated_before"] = stored.pop("updated_before")
    if stored.get("updated_after") is not None:
        shown["updated_after"] = stored.pop("updated_after")
    tag = stored.get("tag")
    if tag is not None and isinstance(tag, str) and lifecycle.access.hides(tag):
        shown["tag"] = stored.pop("tag")
    field = stored.get("field")
    hidden = {name for name, spec in lifecycle.fields.items() if spec.internal}
    if field is not None and isinstance(field, Mapping) and hidden & set(field):
        shown["field"] = stored.pop("field")
    return stored, shown


def customer_page(
    repository: TicketRepository,
    lifecycle: Lifecycle,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    **filters: Unpack[TicketFilters],
) -> Page:
    """One page (up to *limit*) of :func:`customer_tickets`, with the cursor for the next."""
    found: list[Ticket] = []
    more = False
    for ticket in customer_tickets(repository, lifecycle, actor, after, **filters):
        if len(found) == limit:
            more = True
            break
        found.append(ticket)
    return Page(tuple(found), found[-1].id if more and found else None)
