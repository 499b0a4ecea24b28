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

from collections.abc import Iterator
from typing import Unpack

from ticketflow._view import view
from ticketflow.lifecycle import Lifecycle
from ticketflow.model import Actor, Ticket
from ticketflow.protocols import Page, TicketFilters, TicketRepository

__all__ = ["customer_page", "customer_tickets"]

_PAGE = 500


def customer_tickets(
    repository: TicketRepository,
    lifecycle: Lifecycle,
    actor: Actor,
    after: str | None = None,
    **filters: Unpack[TicketFilters],
) -> Iterator[Ticket]:
    """The tickets matching *filters* that *actor* may see, in id order, each as their view shows it."""
    access = lifecycle.access
    cursor = after
    while True:
        page = repository.find(limit=_PAGE, after=cursor, **filters)
        for ticket in page.tickets:
            if access.related(ticket, actor):
                yield view(lifecycle, ticket, repository.history(ticket.id), actor).ticket
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


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
