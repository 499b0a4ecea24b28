"""Reads of one lifecycle's tickets: find, export views, SLA reports (what ``Workflow`` delegates its queries to).

Every query is scoped to the lifecycle (a Workflow reads its own tickets);
a read on a customer's behalf gets only the tickets they are related to, as
they see them (:mod:`ticketflow._customer`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Unpack

from ticketflow._customer import customer_page, customer_tickets
from ticketflow._ordering import ordered_page
from ticketflow.errors import LifecycleError
from ticketflow.lifecycle import Lifecycle
from ticketflow.model import Actor, Event, Ticket
from ticketflow.protocols import Page, TicketFilters, TicketRepository
from ticketflow.repository._export import export_csv, export_json_view, iter_tickets
from ticketflow.repository._query import check_limit
from ticketflow.sla import SlaPolicy, SlaReport, attainment

__all__ = ["export_view", "find", "group_states", "sla_report"]


def group_states(lifecycle: Lifecycle, group: str) -> tuple[str, ...]:
    """The states of a group of *lifecycle*.

    Raises:
        LifecycleError: an unknown group (naming the known ones).
    """
    groups = lifecycle.groups
    if group not in groups:
        raise LifecycleError(f"unknown state group {group!r}; this lifecycle has: {', '.join(groups)}")
    return groups[group]


def _scoped(lifecycle: Lifecycle, group: str | None, filters: TicketFilters) -> TicketFilters:
    if group is not None:
        filters["state"] = group_states(lifecycle, group)
    filters["lifecycle_id"] = lifecycle.id  # a Workflow reads its own lifecycle's tickets
    return filters


def find(
    repository: TicketRepository,
    lifecycle: Lifecycle,
    *,
    group: str | None,
    limit: int,
    after: str | None,
    actor: Actor | None,
    order_by: str | None = None,
    **filters: Unpack[TicketFilters],
) -> Page:
    """One page of the lifecycle's tickets (``Workflow.find``); a customer *actor* gets only theirs, as seen.

    With *order_by* the page is in time order (:func:`ticketflow._ordering.ordered_page`).
    """
    scoped = _scoped(lifecycle, group, filters)
    customer = actor is not None and not lifecycle.access.is_staff(actor)
    if order_by is not None:
        limit = check_limit(limit)
        if customer:
            assert actor is not None  # noqa: S101 - customer implies an actor
            matching = customer_tickets(repository, lifecycle, actor, **scoped)
        else:
            matching = iter_tickets(repository, **scoped)
        return ordered_page(matching, order_by, limit=limit, after=after)
    if actor is not None and not lifecycle.access.is_staff(actor):
        return customer_page(repository, lifecycle, actor, limit=limit, after=after, **scoped)
    return repository.find(limit=limit, after=after, **scoped)


def export_view(
    repository: TicketRepository,
    lifecycle: Lifecycle,
    out: IO[str],
    *,
    format: str,
    columns: Sequence[str],
    group: str | None,
    actor: Actor | None,
    raw: bool = False,
    **filters: Unpack[TicketFilters],
) -> int:
    """Write a filtered view of the lifecycle's tickets as CSV or JSON (``Workflow.export_view``); rows written.

    CSV cells that would run as spreadsheet formulas get a ``'`` in front unless *raw* (see :func:`export_csv`).

    Raises:
        LifecycleError: an unknown format or group.
    """
    scoped = _scoped(lifecycle, group, filters)
    tickets = None
    if actor is not None and not lifecycle.access.is_staff(actor):
        tickets = customer_tickets(repository, lifecycle, actor, **scoped)
    if format == "csv":
        return export_csv(repository, out, columns, tickets=tickets, raw=raw, **scoped)
    if format == "json":
        return export_json_view(repository, out, columns, tickets=tickets, **scoped)
    raise LifecycleError(f"unknown export format {format!r}; use csv or json")


def sla_report(
    repository: TicketRepository,
    lifecycle: Lifecycle,
    policy: SlaPolicy | None,
    at: datetime,
    *,
    group_by: Sequence[str],
    by_version: bool,
    events: Callable[[Ticket], Sequence[Event]] | None = None,
    **filters: Unpack[TicketFilters],
) -> SlaReport:
    """Attainment of *policy* over the lifecycle's tickets matching *filters* (``Workflow.sla_report``).

    *events*: what a ticket's clocks read (its stored fold, when current);
    default: its whole history.

    Raises:
        LifecycleError: the lifecycle has no SLA policy.
    """
    if policy is None:
        raise LifecycleError(f"lifecycle {lifecycle.id!r} has no [sla] section")
    filters["lifecycle_id"] = lifecycle.id
    read = events if events is not None else (lambda ticket: repository.history(ticket.id))
    items = ((ticket, read(ticket)) for ticket in iter_tickets(repository, **filters))
    return attainment(policy, lifecycle, items, at, group_by=group_by, by_version=by_version)
