"""Which timed rules a ticket has pending, and when each is due — from its history alone.

A rule is armed when the ticket enters one of its states and fires at most
once per entry: its firing is an event naming the rule, so the history itself
says whether it fired, and two sweepers cannot both fire it (the second one's
save conflicts, and on re-reading the history it sees the rule has fired).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import attrs

from ticketflow.calendar import BusinessCalendar
from ticketflow.lifecycle import Lifecycle, TimedRule
from ticketflow.lifecycle._definition import conditions_hold
from ticketflow.lifecycle._migrated import in_current_names
from ticketflow.model import Event, Ticket, reply_of

__all__ = ["PendingRule", "pending_rules"]


@attrs.frozen
class PendingRule:
    """A timed rule armed on a ticket.

    Attributes:
        rule: the rule.
        due_at: when it fires.
        entry: the ``seq`` of the event that entered the state the rule watches.
    """

    rule: TimedRule
    due_at: datetime
    entry: int


def _entry(ticket: Ticket, history: Sequence[Event]) -> int:
    """Index of the event that entered the ticket's current state."""
    for index in range(len(history) - 1, -1, -1):
        event = history[index]
        if event.target == ticket.state and event.source != ticket.state:
            return index
    return 0


def _anchor(
    lifecycle: Lifecycle,
    rule: TimedRule,
    ticket: Ticket,
    since_entry: Sequence[Event],
    calendar: BusinessCalendar | None,
) -> datetime | None:
    entered = since_entry[0].at
    since = rule.since
    if since == "state_entered":
        return entered
    if since == "last_update":
        return since_entry[-1].at
    if since in ("last_requester_comment", "last_agent_comment"):
        # the customer's side (no staff role) or the team's (staff roles, automations aside)
        by_staff = since == "last_agent_comment"
        standing = lifecycle.access.standing
        for event in reversed(since_entry):
            if reply_of(event) is None:  # no comment, or an acknowledgement (no reply)
                continue
            roles = standing(event.actor).roles
            if "system" in roles:
                continue
            if bool(roles & lifecycle.access.staff) == by_staff:
                return event.at
        return entered
    value = ticket.fields.get(since.removeprefix("field:"))
    if value is None:
        return None
    parsed = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(parsed, datetime):
        return parsed
    zone = calendar.tz if calendar is not None else entered.tzinfo
    return datetime.combine(parsed, time(0), zone)


def due_instant(rule: TimedRule, anchor: datetime, calendar: BusinessCalendar | None) -> datetime:
    """When *rule* fires, counted from *anchor* in wall or business time.

    Wall time is elapsed time: ``2h`` is two real hours whatever the anchor's
    zone (Python's aware arithmetic would add wall-clock hours in a zone with
    DST), so a UTC and a Europe/Berlin clock fire at the same instant.
    """
    if rule.clock == "wall":
        return (anchor.astimezone(UTC) + rule.after).astimezone(anchor.tzinfo)
    if calendar is None:
        raise ValueError(f"timed rule {rule.id!r} counts business time but the workflow has no calendar")
    if rule.business_days:
        return calendar.add_days(anchor, rule.business_days)
    return calendar.add(anchor, rule.after)


def pending_rules(
    lifecycle: Lifecycle,
    ticket: Ticket,
    history: Sequence[Event],
    calendar: BusinessCalendar | None,
) -> list[PendingRule]:
    """The rules armed on *ticket* and not yet fired for this entry, earliest first.

    A rule that would fall due after the last instant ``datetime`` holds
    (9999-12-31) is not pending: it never falls due.
    """
    if not lifecycle.timers or not history:
        return []
    history = in_current_names(history)  # a renamed state is entered once, before its migration
    index = _entry(ticket, history)
    since_entry = history[index:]
    fired = {e.meta.get("rule") for e in since_entry[1:] if "rule" in e.meta}
    pending = []
    for order, rule in enumerate(lifecycle.timers):
        if ticket.state not in rule.states or rule.id in fired:
            continue
        if rule.when and not conditions_hold(rule.when, ticket.fields):
            continue
        anchor = _anchor(lifecycle, rule, ticket, since_entry, calendar)
        if anchor is None:
            continue
        try:
            due = due_instant(rule, anchor, calendar)
        except OverflowError:
            continue  # due after 9999-12-31: it never falls due
        pending.append((due, order, rule))
    pending.sort(key=lambda item: (item[0], item[1]))
    entry = history[index].seq
    return [PendingRule(rule, due, entry) for due, _, rule in pending]


def earliest(instants: Sequence[datetime | None]) -> datetime | None:
    """The earliest of the instants given (None if none)."""
    known = [i for i in instants if i is not None]
    return min(known) if known else None


def backoff(attempts: int, base: timedelta = timedelta(seconds=30), cap: timedelta = timedelta(hours=1)) -> timedelta:
    """Exponential backoff for a failing delivery: 30 s, 1 min, 2 min ... up to an hour."""
    delay: timedelta = base * (2 ** max(0, attempts - 1))
    return min(cap, delay)
