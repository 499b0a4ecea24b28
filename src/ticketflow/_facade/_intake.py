"""Intake of the Workflow facade: requests from channels, follow-ups of closed tickets, new ticket ids."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ticketflow._facade._base import FacadeBase
from ticketflow.intake import follow_up, receive
from ticketflow.model import Actor, Ticket
from ticketflow.protocols import OutboxMessage

__all__ = ["IntakePart"]


class IntakePart(FacadeBase):
    """Tickets coming in: a channel's requests (a ticket or a contact), follow-ups, the next ticket id."""

    def new_ticket_id(self) -> str:
        """An id for a new ticket: the next human key with a ``key_prefix``, else the id factory's."""
        return self._ids()

    def receive(
        self,
        actor: Actor,
        *,
        channel: str,
        authenticated: bool,
        title: str,
        fields: Mapping[str, Any] | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> Ticket | OutboxMessage:
        """Take a request from a channel: a ticket if the channel opens one for its type, else a contact.

        A contact is an outbox message of kind ``contact.recorded`` (for the
        team's inbox), written with nothing else. Refusals raise
        :class:`~ticketflow.intake.IntakeRefused` and store nothing.
        """
        return receive(
            self._scope, self.intake, self._policies, actor, self._at(at), channel=channel,
            authenticated=authenticated, title=title, fields=fields, comment=comment,
        )  # fmt: skip

    def follow_up(
        self, ticket_id: str, actor: Actor, body: str, *, title: str | None = None, at: datetime | None = None
    ) -> Ticket:
        """Open a new ticket continuing *ticket_id* (a reply to an immutable, closed ticket).

        The new ticket copies the requester, participants and the fields
        *actor* may set (a customer's copy does not carry staff's values,
        such as a priority an agent raised: those take their defaults;
        fields only the lifecycle sets start again), records
        ``follow_up_of`` in its opening event and as a link (``wf.links``),
        and carries *body* as its first comment.
        """
        with self._on_behalf(actor):
            previous = self._access.check_read(self.get(ticket_id), actor)
        return follow_up(self._scope, previous, actor, body, title=title, when=self._at(at))
