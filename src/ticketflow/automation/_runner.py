"""Running what is due: timed rules, SLA warnings and breaches, and outbox delivery.

Exactly once, crash-safe:

- a rule's firing is one event (naming the rule, the entry it belongs to and
  the instant it was due) saved with the optimistic version check, in the
  same transaction as its outbox messages; a second sweeper's save conflicts,
  it re-reads the history, sees the rule fired, and moves on;
- SLA warnings and breaches are outbox messages whose key names the ticket,
  metric, cycle and threshold, so writing one twice stores it once;
- delivery marks a message delivered only after its notifier returned; a
  failing notifier leaves it pending and is retried with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from ticketflow.automation._timers import PendingRule, backoff, earliest, pending_rules
from ticketflow.errors import ConcurrencyConflict, FieldError, PermissionDenied, TransitionNotAllowed
from ticketflow.model import Actor, Comment, Event, Ticket
from ticketflow.protocols import OutboxMessage
from ticketflow.sla import SlaClock, evaluate

if TYPE_CHECKING:
    from ticketflow.workflow import Workflow

__all__ = ["SYSTEM", "SweepResult", "deliver", "next_due", "run_due"]

log = logging.getLogger("ticketflow.automation")

#: The actor timed rules act as.
SYSTEM = Actor("system", roles={"system"})


@attrs.frozen
class SweepResult:
    """What one ``run_due`` did.

    Attributes:
        fired: the events timed rules wrote, in order.
        alerts: SLA warning/breach messages written to the outbox.
        tickets: how many due tickets were looked at.
    """

    fired: tuple[Event, ...] = ()
    alerts: int = 0
    tickets: int = 0


def _sla_clocks(wf: Workflow, ticket: Ticket, history: Sequence[Event], at: datetime) -> list[SlaClock]:
    if wf.sla_policy is None:
        return []
    return evaluate(wf.sla_policy, wf.lifecycle, ticket, history, at)


def next_due(wf: Workflow, ticket: Ticket, history: Sequence[Event], at: datetime) -> datetime | None:
    """The next instant something is due for *ticket* after *at*: a timed rule or an SLA alert."""
    rules = pending_rules(wf.lifecycle, ticket, history, wf.timer_calendar_for(ticket))
    alerts = [c.next_alert for c in _sla_clocks(wf, ticket, history, at)]
    return earliest([rules[0].due_at if rules else None, *alerts])


def _alert_messages(ticket: Ticket, clocks: Sequence[SlaClock], now: datetime) -> list[OutboxMessage]:
    messages = []
    for clock in clocks:
        if not clock.cycles or clock.target is None:
            continue
        cycle = len(clock.cycles) - 1
        base = {"ticket_id": ticket.id, "metric": clock.metric, "cycle": cycle, "target": str(clock.target)}
        for threshold in clock.warned:
            key = f"{ticket.id}:sla:{clock.metric}:{cycle}:warn:{threshold}"
            messages.append(OutboxMessage(key, ticket.id, "sla.warning", {**base, "threshold": threshold}, now))
        if clock.breached:
            key = f"{ticket.id}:sla:{clock.metric}:{cycle}:breach"
            messages.append(OutboxMessage(key, ticket.id, "sla.breached", base, now))
    return messages


def _fire(
    wf: Workflow, ticket: Ticket, history: Sequence[Event], pending: PendingRule, now: datetime
) -> tuple[Ticket, Event]:
    rule = pending.rule
    meta: dict[str, Any] = {"rule": rule.id, "due_at": pending.due_at.isoformat(), "entry": pending.entry}
    engine = wf.lifecycle.engine
    try:
        new, event, _ = engine.apply(
            ticket,
            rule.fire or "update",
            SYSTEM,
            now,
            fields=dict(rule.set_fields),
            add_tags=rule.add_tags,
            remove_tags=rule.remove_tags,
            comment=Comment(SYSTEM.id, rule.comment, "public") if rule.comment else None,
            meta=meta,
            guards=wf.registry.guards,
        )
    except (TransitionNotAllowed, PermissionDenied, FieldError) as refused:
        # Recorded, so it is not retried forever; the ticket itself is left as it was.
        log.warning("timed rule %s on ticket %s refused: %s", rule.id, ticket.id, refused)
        new, event, _ = engine.apply(ticket, "update", SYSTEM, now, meta={**meta, "refused": str(refused)})
    messages = [
        OutboxMessage(
            f"{ticket.id}:{rule.id}:{pending.entry}:{name}",
            ticket.id,
            name,
            {
                "ticket_id": ticket.id,
                "rule": rule.id,
                "state": new.state,
                "title": new.title,
                "to": new.requester,
            },
            now,
        )
        for name in ([] if "refused" in event.meta else rule.notify)
    ]
    full = [*history, event]
    with wf.repository.transaction() as tx:
        tx.save(new, [event], ticket.version, due=next_due(wf, new, full, now))
        for message in messages:
            tx.enqueue(message)
    return new, event


def _read(wf: Workflow, ticket_id: str) -> tuple[Ticket, list[Event]]:
    """The ticket and its history: in one round trip where the repository offers it (PostgreSQL)."""
    both = getattr(wf.repository, "get_with_history", None)
    if both is not None:
        ticket, history = both(ticket_id)
        return ticket, history
    return wf.repository.get(ticket_id), wf.repository.history(ticket_id)


def _run_ticket(wf: Workflow, ticket_id: str, now: datetime) -> tuple[list[Event], int]:
    fired: list[Event] = []
    conflicts = 0
    ticket, history = _read(wf, ticket_id)
    while True:
        due = [
            p for p in pending_rules(wf.lifecycle, ticket, history, wf.timer_calendar_for(ticket)) if p.due_at <= now
        ]
        if not due:
            break
        try:
            ticket, event = _fire(wf, ticket, history, due[0], now)
        except ConcurrencyConflict:
            conflicts += 1  # another writer (or sweeper) got there first: re-read and re-check
            if conflicts > 100:
                raise
            ticket, history = _read(wf, ticket_id)
            continue
        history = [*history, event]
        fired.append(event)
    clocks = _sla_clocks(wf, ticket, history, now)
    alerts = _alert_messages(ticket, clocks, now)
    if alerts:
        with wf.repository.transaction() as tx:
            for message in alerts:
                tx.enqueue(message)
    if alerts or not fired:  # a fired rule already saved the next due instant with its event
        wf.repository.reschedule(ticket_id, next_due(wf, ticket, history, now))
    return fired, len(alerts)


def run_due(wf: Workflow, now: datetime, limit: int = 100) -> SweepResult:
    """Fire every timed rule due at *now* and write due SLA alerts, for up to *limit* tickets."""
    fired: list[Event] = []
    alerts = 0
    claim = getattr(wf.repository, "claim_due", None)  # shared databases lease due work to one sweeper
    due = claim(now, limit) if claim is not None else wf.repository.due(now, limit)
    for ticket_id, _ in due:
        events, written = _run_ticket(wf, ticket_id, now)
        fired.extend(events)
        alerts += written
    return SweepResult(tuple(fired), alerts, len(due))


@attrs.define
class DeliveryState:
    """Per-process retry bookkeeping for failing notifiers."""

    attempts: dict[str, int] = attrs.field(factory=dict)
    retry_at: dict[str, datetime] = attrs.field(factory=dict)


def deliver(wf: Workflow, notifiers: Mapping[str, Any], now: datetime, state: DeliveryState, limit: int = 100) -> int:
    """Hand pending outbox messages to their notifiers; return how many were delivered.

    A message whose kind has no notifier stays pending (it may be for another
    process); a notifier that raises is retried after a growing delay.
    """
    delivered = 0
    for message in wf.repository.pending_messages(limit):
        notifier = notifiers.get(message.kind)
        if notifier is None or state.retry_at.get(message.key, now) > now:
            continue
        try:
            notifier(message)
        except Exception:  # a notifier's failure must never lose the message
            attempts = state.attempts[message.key] = state.attempts.get(message.key, 0) + 1
            state.retry_at[message.key] = now + backoff(attempts)
            log.exception("notifier %r failed on %s (attempt %d)", message.kind, message.key, attempts)
            continue
        wf.repository.mark_delivered(message.key)
        state.attempts.pop(message.key, None)
        state.retry_at.pop(message.key, None)
        delivered += 1
    return delivered
