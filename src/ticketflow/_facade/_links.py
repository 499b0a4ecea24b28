"""Links of the Workflow facade: links between tickets and records, link rules, duplicates, broadcasts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ticketflow._facade._base import FacadeBase
from ticketflow.links import (
    ExternalRecord,
    acknowledge,
    acknowledgements,
    broadcast,
    broadcasts_for,
    link,
    linked_record_changed,
    mark_duplicate,
)
from ticketflow.model import Actor, Event, Ticket
from ticketflow.protocols import Link

__all__ = ["LinksPart"]


class LinksPart(FacadeBase):
    """Tickets in relation: links, records in other trackers, duplicates, broadcasts and acknowledgements."""

    def link(
        self,
        ticket_id: str,
        actor: Actor,
        kind: str,
        *,
        to_ticket: str | None = None,
        record: ExternalRecord | None = None,
        at: datetime | None = None,
    ) -> Ticket:
        """Link the ticket (``relates_to``, ``blocks``, ``caused_by``, ``follow_up_of``, ``duplicate_of``)."""
        with self._on_behalf(actor):
            return link(self._scope, ticket_id, actor, kind, to_ticket=to_ticket, record=record, at=self._at(at))

    def links(self, ticket_id: str) -> list[Link]:
        """The ticket's links."""
        self.get(ticket_id)
        return self.repository.links(ticket_id)

    def linked_to(self, ticket_id: str | None = None, *, record: ExternalRecord | None = None) -> list[Link]:
        """The links pointing at a ticket, or at a record."""
        return self.repository.linked(record.target if record is not None else ticket_id or "")

    def linked_record_changed(
        self, kind: str, key: str, *, status: str, priority: str | None = None, at: datetime | None = None
    ) -> list[Event]:
        """A record in another tracker changed: move the tickets linked to it (see ``link_rules``)."""
        return linked_record_changed(self._scope, kind, key, status=status, priority=priority, at=self._at(at))

    def mark_duplicate(
        self,
        duplicate_id: str,
        original_id: str,
        actor: Actor,
        *,
        trigger: str,
        fields: Mapping[str, Any] | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> Ticket:
        """Close a duplicate by *trigger*, moving its people to the original and linking it, atomically."""
        with self._on_behalf(actor):
            return mark_duplicate(
                self._scope, duplicate_id, original_id, actor, trigger=trigger, fields=dict(fields or {}),
                comment=comment, at=self._at(at),
            )  # fmt: skip

    def broadcast(
        self,
        actor: Actor,
        *,
        title: str,
        accounts: Sequence[str] | None = None,
        fields: Mapping[str, Any] | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> Ticket:
        """Open one ticket for every account (``accounts=None``) or for the accounts named (multicast)."""
        return broadcast(
            self._scope, actor, title=title, accounts=accounts, fields=fields, comment=comment, at=self._at(at)
        )

    def broadcasts_for(self, account: str) -> list[Ticket]:
        """The broadcast and multicast tickets an account sees."""
        return [t for t in broadcasts_for(self.repository, account) if t.lifecycle_id == self.lifecycle.id]

    def acknowledge(self, ticket_id: str, account: str, actor: Actor, *, at: datetime | None = None) -> Ticket:
        """Record an account's acknowledgement of a broadcast (once per account)."""
        with self._on_behalf(actor):
            return acknowledge(self._scope, ticket_id, account, actor, at=self._at(at))

    def acknowledgements(self, ticket_id: str) -> dict[str, datetime]:
        """The accounts that acknowledged a broadcast, and when."""
        self.get(ticket_id)
        return acknowledgements(self.repository, ticket_id)
