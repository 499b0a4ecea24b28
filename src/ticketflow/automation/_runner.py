"""Running what is due: timed rules, SLA warnings and breaches, and outbox delivery.

Exactly once, crash-safe:

- a rule's firing is one event (naming the rule, the entry it belongs to and
  the instant it was due) saved with the optimistic version check, in the
  same transaction as its outbox messages; a second sweeper's save conflicts,
  it re-reads the history, sees the rule fired, and moves on;
- SLA warnings and breaches are outbox messages whose key names the ticket,
  metric, cycle and threshold, so writing one twice stores it once;
- delivery (``_delivery.py``) claims messages per kind with a lease and marks
  one delivered only after its notifier returned.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from ticketflow.automation._fold import Fold
from ticketflow.automation._schedule import Scheduler, next_due
from ticketflow.automation._timers import PendingRule
from ticketflow.errors import (
    ConcurrencyConflict,
    FieldError,
    LifecycleVersionMismatch,
    PermissionDenied,
    TransitionNotAllowed,
)
from ticketflow.model import SYSTEM, UNSET, Comment, Event, Ticket
from ticketflow.protocols import ClaimingDue, OutboxMessage
from ticketflow.recording import Reads, Scope, Step, Write, fired
from ticketflow.sla import SlaClock

__all__ = ["SYSTEM", "SweepResult", "next_due", "run_due", "run_ticket"]

log = logging.getLogger("ticketflow.automation")


@attrs.frozen
class SweepResult:
    """What one ``run_due`` did.

    Attributes:
        fired: the events timed rules wrote, in order.
        alerts: SLA warning/breach messages written to the outbox.
        tickets: how many due tickets were looked at.
        skipped: ``(ticket id, why)`` of due tickets this process cannot
            serve: they are in a state its version of the lifecycle does not
            have (a rolling deploy: a newer process serves them, or they await
            a migration). They are left due, untouched, and logged.
    """

    fired: tuple[Event, ...] = ()
    alerts: int = 0
    tickets: int = 0
    skipped: tuple[tuple[str, str], ...] = ()


def _alert_messages(
    ticket: Ticket, clocks: tuple[Sequence[SlaClock], Sequence[int]], now: datetime
) -> list[OutboxMessage]:
    """The warnings and breaches of *clocks* (with the number of each one's last cycle, :meth:`Scheduler.clocks`)."""
    messages = []
    for clock, cycle in zip(*clocks, strict=True):
        if not clock.cycles or clock.target is None:
            continue
        base = {"ticket_id": ticket.id, "metric": clock.metric, "cycle": cycle, "target": str(clock.target)}
        for threshold in clock.warned:
            key = f"{ticket.id}:sla:{clock.metric}:{cycle}:warn:{threshold}"
            messages.append(OutboxMessage(key, ticket.id, "sla.warning", {**base, "threshold": threshold}, now))
        if clock.breached:
            key = f"{ticket.id}:sla:{clock.metric}:{cycle}:breach"
            messages.append(OutboxMessage(key, ticket.id, "sla.breached", base, now))
    return messages


def _firing(
    scope: Scope, scheduler: Scheduler, ticket: Ticket, history: Sequence[Event], pending: PendingRule, now: datetime
) -> tuple[Step, list[OutboxMessage], tuple[list[SlaClock], list[int]], Sequence[Event]]:
    """The step firing *pending* on *ticket* (or recording its refusal), its notifications, SLA clocks after it.

    And the history (or fold) after it, as :meth:`Scheduler.after` grows it.
    """
    rule = pending.rule
    meta: dict[str, Any] = {"rule": rule.id, "due_at": pending.due_at.isoformat(), "entry": pending.entry}
    engine = scope.engine
    try:
        new, event, taken = engine.apply(
            ticket,
            rule.fire or "update",
            SYSTEM,
            now,
            fields=dict(rule.set_fields),
            add_tags=rule.add_tags,
            remove_tags=rule.remove_tags,
            comment=Comment(SYSTEM.id, rule.comment, "public") if rule.comment else None,
            meta=meta,
            guards=scope.guards,
        )
    except (TransitionNotAllowed, PermissionDenied, FieldError) as refused:
        # Recorded, so it is not retried forever; the ticket itself is left as it was.
        log.warning("timed rule %s on ticket %s refused: %s", rule.id, ticket.id, refused)
        new, event, taken = engine.apply(ticket, "update", SYSTEM, now, meta={**meta, "refused": str(refused)})
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
    step = fired(ticket, new, event, taken)
    after = scheduler.after(history, event)
    clocks = scheduler.clocks(new, after, now)
    due = scheduler.next_due(new, after, now, clocks[0])
    return Step(step.ticket, step.events, step.expected_version, step.actions, due), messages, clocks, after


def _read(reads: Reads, scheduler: Scheduler, ticket_id: str, now: datetime) -> tuple[Ticket, Sequence[Event]]:
    """The ticket and the events its timed rules and SLA clocks read: its fold where it keeps one, else its history.

    Both tell the same as of *now* (see :mod:`ticketflow.automation._fold`);
    the fold keeps a sweep's cost flat however long the ticket has lived. A
    fold read in part (kept from an earlier sweep) whose last event is after
    *now* cannot tell the clocks as of *now*: the whole history is read.
    """
    if not scheduler.folds:
        return reads.ticket_and_history(ticket_id)
    ticket = reads.ticket(ticket_id)
    fold = reads.fold(ticket_id, scheduler.folder.accept, ticket.version, scheduler.partial(now))
    if isinstance(fold, Fold) and fold.partial and fold and fold[-1].at > now:
        return reads.ticket_and_history(ticket_id)
    return ticket, fold


def _run_ticket(scope: Scope, scheduler: Scheduler, ticket_id: str, now: datetime) -> tuple[list[Event], int]:
    """Fire the rules due on one ticket, one write each, then write its due SLA alerts and reschedule it.

    The SLA clocks are evaluated once per state of the ticket: after a rule
    fired, the clocks that chose the saved due instant also give the alerts.
    """
    recorder = scope.recorder
    fired_events: list[Event] = []
    known: tuple[Ticket, Sequence[Event], tuple[list[SlaClock], list[int]] | None] | None = None

    def plan(
        reads: Reads,
    ) -> Write[tuple[Ticket, Sequence[Event], Event | None, tuple[list[SlaClock], list[int]] | None, bool]]:
        nonlocal known
        if known is not None:
            ticket, history, clocks = known
        else:
            (ticket, history), clocks = _read(reads, scheduler, ticket_id, now), None
        known = None  # a second attempt (after a conflict) reads again
        due = [p for p in scheduler.pending(ticket, history) if p.due_at <= now]
        if not due:
            return Write((ticket, history, None, clocks, False))
        step, messages, counted, after = _firing(scope, scheduler, ticket, history, due[0], now)
        event = step.events[-1]
        return Write((step.ticket, after, event, counted, _more_due(step, now)), (step,), messages)

    while True:
        ticket, history, event, clocks, more = recorder.record(plan)
        if event is None:
            break
        fired_events.append(event)
        if not more:  # the due instant saved with the event is after now: no other rule is due
            break
        known = (ticket, history, clocks)
    if clocks is None:
        clocks = scheduler.clocks(ticket, history, now)
    alerts = _alert_messages(ticket, clocks, now)
    if alerts:
        recorder.record(lambda _reads: Write(None, messages=alerts))
    if alerts or not fired_events:  # a fired rule already saved the next due instant with its event
        recorder.repository.reschedule(ticket_id, scheduler.next_due(ticket, history, now, clocks[0]))
    return fired_events, len(alerts)


def _more_due(step: Step, now: datetime) -> bool:
    """Whether something may still be due at *now* after *step* (its saved due instant is not after now)."""
    return step.due is not None and step.due is not UNSET and step.due <= now


#: How many due tickets one write serves: each ticket's first due rule, in one transaction.
BATCH = 50


def _first_rules(
    scope: Scope, scheduler: Scheduler, ticket_ids: Sequence[str], now: datetime
) -> dict[str, tuple[Event, bool, int]]:
    """Fire the first due rule of each of *ticket_ids* in one write (one transaction, one commit for them all).

    Each ticket's step is what :func:`_run_ticket` would write first: the
    same version check, event, notifications and due instant; its SLA alerts
    go with it when nothing else is due on the ticket. Returns, by ticket
    that fired: the event, whether more may be due, and the alerts written.
    A ticket absent from the result had no rule due, or failed (a state
    this version lacks...): it is run alone, where it fails as it would have.
    """

    def plan(reads: Reads) -> Write[dict[str, tuple[Event, bool, int]]]:
        outcome: dict[str, tuple[Event, bool, int]] = {}
        steps: list[Step] = []
        messages: list[OutboxMessage] = []
        partial = scheduler.partial(now)  # a fold's state, not its every cycle
        together = reads.tickets_and_folds(ticket_ids, scheduler.folder.accept, partial) if scheduler.folds else {}
        for ticket_id in ticket_ids:
            try:
                ticket, history = together.get(ticket_id) or _read(reads, scheduler, ticket_id, now)
                due = [p for p in scheduler.pending(ticket, history) if p.due_at <= now]
                if not due:
                    continue
                step, notices, clocks, _ = _firing(scope, scheduler, ticket, history, due[0], now)
            except Exception:  # noqa: BLE001, S112 - left to the one-at-a-time run, which reports it
                continue
            more = _more_due(step, now)
            alerts = [] if more else _alert_messages(step.ticket, clocks, now)  # else after its last rule
            steps.append(step)
            messages += notices
            messages += alerts
            outcome[ticket_id] = (step.events[-1], more, len(alerts))
        return Write(outcome, steps, messages)

    return scope.recorder.record(plan)


def run_ticket(scope: Scope, scheduler: Scheduler, ticket_id: str, now: datetime) -> tuple[list[Event], int]:
    """Fire what is due on one ticket under *scope*'s lifecycle (a sweep hands it a ticket of an earlier version).

    Returns the events fired and the number of SLA alerts written.
    """
    return _run_ticket(scope, scheduler, ticket_id, now)


def run_due(scope: Scope, scheduler: Scheduler, now: datetime, limit: int = 100) -> SweepResult:
    """Fire every timed rule due at *now* and write due SLA alerts, for up to *limit* tickets.

    A ticket on which other writers kept winning is left due, for the next run.
    A ticket in a state this version of the lifecycle lacks is skipped (left
    due for the process that has its version) and does not count against
    *limit*: the tickets due after it are served, so skipped ones never
    starve the rest.
    """
    fired_events: list[Event] = []
    alerts = 0
    repository = scope.repository
    lifecycle_id = scope.lifecycle.id  # each lifecycle's tickets are served by its own rules only
    claiming = isinstance(repository, ClaimingDue)  # shared databases lease due work to one sweeper
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    while True:
        want = limit + len(skipped)
        if isinstance(repository, ClaimingDue):
            due = repository.claim_due(now, limit, lifecycle_id=lifecycle_id)  # a claim leases them away
        else:
            due = repository.due(now, want, lifecycle_id=lifecycle_id)
        fresh = [ticket_id for ticket_id, _ in due if ticket_id not in seen]
        before = len(skipped)
        for start in range(0, len(fresh), BATCH):
            chunk = fresh[start : start + BATCH]
            seen.update(chunk)
            first: dict[str, tuple[Event, bool, int]] = {}
            if len(chunk) > 1:
                try:
                    first = _first_rules(scope, scheduler, chunk, now)
                except ConcurrencyConflict:  # other writers kept winning on one of them: one at a time, then
                    log.debug("a write of %d due tickets kept conflicting; running them one at a time", len(chunk))
            for ticket_id in chunk:
                done = first.get(ticket_id)
                if done is not None:
                    event, more, written = done
                    fired_events.append(event)
                    alerts += written
                    if not more:
                        continue
                try:
                    events, written = _run_ticket(scope, scheduler, ticket_id, now)
                except ConcurrencyConflict:
                    log.warning("ticket %s: other writers kept winning; left due for the next run", ticket_id)
                    continue
                except LifecycleVersionMismatch as mismatch:  # one ticket of another version never stops the sweep
                    log.warning("ticket %s skipped, left due: %s", ticket_id, mismatch)
                    skipped.append((ticket_id, str(mismatch)))
                    continue
                fired_events.extend(events)
                alerts += written
        # look further only past tickets skipped this round, while there may be more due
        if claiming or len(skipped) == before or len(due) < want or len(seen) - len(skipped) >= limit:
            break
    return SweepResult(tuple(fired_events), alerts, len(seen), tuple(skipped))
