"""Timers and delivery of the Workflow facade: sweeping due rules, handing outbox messages to notifiers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from ticketflow._facade._base import FacadeBase
from ticketflow.automation import (
    DEFAULT_LEASE,
    SweepResult,
    deliver,
    delivery_log,
    run_due,
    run_ticket,
    unhandled_kinds,
)
from ticketflow.model import Event, Ticket
from ticketflow.protocols import Delivery, Notifier
from ticketflow.repository._query import check_limit

__all__ = ["DeliveryPart"]


class DeliveryPart(FacadeBase):
    """Timed rules and the outbox: running what is due, delivering, the delivery log, listeners."""

    def run_due(self, now: datetime | None = None, *, limit: int = 100) -> SweepResult:
        """Fire the timed rules due at *now* and write due SLA alerts, for up to *limit* tickets.

        Each rule fires once per ticket and entry into its state, as the
        ``system`` actor, with an event naming the rule and the instant it was
        due; rules due long ago fire once each, in order; a rule made moot by
        a later change (the customer answered) does not fire.
        """
        limit = check_limit(limit)  # a TypeError naming it, as the stores' own check does
        at = self._at(now)
        result = run_due(self._scope, self._scheduler, at, limit)
        if self._dispatch is None:
            return result
        return self._dispatch.sweep(
            result, lambda older, ticket_id: run_ticket(older._scope, older._scheduler, ticket_id, at)
        )

    def deliver(
        self,
        now: datetime | None = None,
        *,
        limit: int = 100,
        owner: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> int:
        """Hand up to *limit* outbox messages to the registry's notifiers; return how many were delivered.

        Messages are claimed per kind with a lease (see ``docs/automation.md``),
        so several processes delivering from one store deliver each once; a
        message of a kind with no notifier is flagged undeliverable and holds
        nothing back. *owner* and *lease* name the claim (a
        :class:`~ticketflow.Sweeper` passes its own, and for a store shared
        by several lifecycles, *notifiers* covering all of them).
        """
        return deliver(
            self.repository,
            self.registry.notifiers if notifiers is None else notifiers,
            self._at(now),
            owner=owner or self._owner,
            lease=lease,
            limit=limit,
            state=self._delivery,
        )

    def subscribe(self, listener: Callable[[Ticket, Event], None]) -> Callable[[], None]:
        """Call *listener* after commit with (ticket, event) for every event this Workflow writes.

        Every write path: opens, fires, comments, follow-ups, timers, link
        rules, merges, broadcasts, imports. For audit and metrics; a listener that
        raises is logged and undoes nothing. Returns a function that
        unsubscribes it. (``registry.on_event`` does the same for every
        Workflow sharing the registry.)
        """
        return self.registry.subscribe(listener)

    @property
    def notifiers(self) -> Mapping[str, Notifier]:
        """The registry's notifiers by message kind (what :meth:`deliver` hands messages to)."""
        return self.registry.notifiers

    def unhandled_kinds(self) -> tuple[str, ...]:
        """The message kinds this lifecycle can write that have no notifier in the registry (sorted).

        ``Workflow(...)`` and ``Sweeper(...)`` log a warning naming them; their
        messages are kept as undeliverable until a notifier is registered.
        """
        return unhandled_kinds(self.lifecycle, self.sla_policy, self.registry.notifiers)

    def deliveries(
        self, ticket_id: str | None = None, *, key: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The delivery log: outbox messages (of a ticket, a key, a status) with attempts and errors.

        *status* is ``pending``, ``undeliverable`` or ``delivered``.
        """
        return delivery_log(self.repository).deliveries(ticket_id=ticket_id, key=key, status=status, limit=limit)

    def redeliver(self, key: str) -> None:
        """Deliver the message with *key* again at the next delivery (delivered, failed or undeliverable)."""
        delivery_log(self.repository).requeue(key)
