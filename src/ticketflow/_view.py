"""What an actor may see of a ticket: requesters never see internal comments, fields or tags."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import attrs

from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._definition import tag_allowed
from ticketflow.model import Actor, Event, Ticket

__all__ = ["STAFF_ROLES", "TicketView", "view"]

#: Roles that see everything; anyone else sees the shared view.
STAFF_ROLES = frozenset({"agent", "admin", "system"})


@attrs.frozen
class TicketView:
    """A ticket and its history as one actor may see them.

    Attributes:
        ticket: the ticket, without internal fields and tags for a requester.
        events: the history, without internal comments, fields, tags or meta
            for a requester.
        full: whether nothing was held back (staff).
    """

    ticket: Ticket
    events: tuple[Event, ...]
    full: bool


def view(lifecycle: Lifecycle, ticket: Ticket, history: Sequence[Event], actor: Actor) -> TicketView:
    """The view of *ticket* for *actor*: everything for staff, the shared part for others."""
    if lifecycle.expand_roles(actor.roles) & STAFF_ROLES:
        return TicketView(ticket, tuple(history), True)
    hidden_fields = {name for name, spec in lifecycle.fields.items() if spec.internal}
    internal = lifecycle.internal_tags

    def shown(tags: frozenset[str]) -> frozenset[str]:
        return frozenset(t for t in tags if not internal or not tag_allowed(internal, t))

    events = tuple(
        attrs.evolve(
            event,
            field_changes={k: v for k, v in event.field_changes.items() if k not in hidden_fields},
            tags_added=shown(event.tags_added),
            tags_removed=shown(event.tags_removed),
            comment=event.comment if event.comment is None or event.comment.visibility == "public" else None,
            meta=MappingProxyType({}),
        )
        for event in history
    )
    shared = attrs.evolve(
        ticket,
        fields={k: v for k, v in ticket.fields.items() if k not in hidden_fields},
        tags=shown(ticket.tags),
    )
    return TicketView(shared, events, False)
