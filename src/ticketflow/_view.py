"""What an actor may see of a ticket: customers never see internal comments, fields, tags or meta.

A customer's view holds no trace of internal data: an event left with nothing
visible (an internal note, a change to internal fields only) is dropped,
the remaining events are numbered 1, 2, 3 ... in the view, and the ticket's
version and ``updated_at`` are those of the last event shown, so neither a
count, an author nor a time of internal work shows through. Each event's
actor is named by id only: other people's roles (the staff's team structure)
and accounts (their organisations) are not the customer's to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import attrs

from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._definition import tag_allowed
from ticketflow.model import Actor, Event, Ticket

__all__ = ["TicketView", "view"]

_NOTHING: MappingProxyType[str, object] = MappingProxyType({})


@attrs.frozen
class TicketView:
    """A ticket and its history as one actor may see them.

    Attributes:
        ticket: the ticket; for a customer without internal fields and tags,
            with the version and ``updated_at`` of the last event shown.
        events: the history; for a customer only the events with something
            visible, without internal comments, fields, tags or meta, numbered
            1, 2, 3 ... in the view, each actor by id only (no roles, no
            accounts).
        full: whether nothing was held back (staff).
    """

    ticket: Ticket
    events: tuple[Event, ...]
    full: bool


def view(lifecycle: Lifecycle, ticket: Ticket, history: Sequence[Event], actor: Actor) -> TicketView:
    """The view of *ticket* for *actor*: everything for staff, the shared part for customers.

    Staff roles come from the lifecycle (``[access].staff``). Whether the
    actor may see the ticket at all is checked by the caller
    (``lifecycle.access.check_read``).
    """
    if lifecycle.access.is_staff(actor):
        return TicketView(ticket, tuple(history), True)
    hidden_fields = {name for name, spec in lifecycle.fields.items() if spec.internal}
    internal = lifecycle.internal_tags

    def shown(tags: frozenset[str]) -> frozenset[str]:
        return frozenset(t for t in tags if not internal or not tag_allowed(internal, t))

    events: list[Event] = []
    named: dict[str, Actor] = {}
    for event in history:
        comment = event.comment if event.comment is not None and event.comment.visibility == "public" else None
        field_changes = {k: v for k, v in event.field_changes.items() if k not in hidden_fields}
        added, removed = shown(event.tags_added), shown(event.tags_removed)
        moved = event.source != event.target
        if not (moved or comment or field_changes or added or removed or event.attribute_changes):
            continue  # nothing of it is visible: no trace at all
        events.append(
            attrs.evolve(
                event,
                seq=len(events) + 1,
                actor=named.setdefault(event.actor.id, Actor(event.actor.id)),  # who, not their roles or accounts
                field_changes=field_changes,
                tags_added=added,
                tags_removed=removed,
                comment=comment,
                meta=_NOTHING,
            )
        )
    last = events[-1] if events else None
    shared = attrs.evolve(
        ticket,
        fields={k: v for k, v in ticket.fields.items() if k not in hidden_fields},
        tags=shown(ticket.tags),
        version=len(events),
        updated_at=last.at if last is not None else ticket.created_at,
    )
    return TicketView(shared, tuple(events), False)
