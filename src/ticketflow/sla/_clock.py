"""SLA clocks as a pure function of (policy, ticket, history, now).

Nothing here reads a wall clock or storage: the same inputs give the same
clocks, so a policy change recomputed over old histories gives the new answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from ticketflow.calendar import BusinessCalendar
from ticketflow.lifecycle import Lifecycle
from ticketflow.model import Event, Ticket, require_aware
from ticketflow.sla._policy import SlaMetric, SlaPolicy

__all__ = ["SlaClock", "SlaCycle", "evaluate", "evaluate_metric"]

_ZERO = timedelta(0)


@attrs.frozen
class SlaCycle:
    """One run of a metric's clock, from a start event to a stop (or now).

    Attributes:
        started_at: the start event's instant.
        stopped_at: the stop event's instant; None while running.
        elapsed: business time counted (pauses excluded).
        breached: elapsed went past the target.
        due_at: the instant the target was (or will be) reached, if known.
    """

    started_at: datetime
    stopped_at: datetime | None
    elapsed: timedelta
    breached: bool
    due_at: datetime | None


@attrs.frozen
class SlaClock:
    """A metric's clock on one ticket, as of ``now``.

    Attributes:
        metric: the metric id.
        kind: the metric kind.
        target: the business time allowed (None: no target selects the ticket).
        elapsed: business time counted in the current (or last) cycle.
        remaining: target minus elapsed (negative once breached; None without target).
        due_at: when the current cycle reaches its target; None while paused
            before reaching it, or when no cycle ran.
        paused: the current cycle is running but its clock is stopped.
        running: a cycle is open (paused or not).
        breached: the current (or last) cycle went past its target.
        warned: the warning thresholds the current cycle has crossed.
        cycles: every cycle so far, oldest first.
        next_alert: the next instant a warning or the breach happens, if the
            clock is running (for the automation sweeper).
    """

    metric: str
    kind: str
    target: timedelta | None
    elapsed: timedelta
    remaining: timedelta | None
    due_at: datetime | None
    paused: bool
    running: bool
    breached: bool
    warned: tuple[float, ...]
    cycles: tuple[SlaCycle, ...]
    next_alert: datetime | None


class _Cycle:
    __slots__ = ("acc", "due_at", "resume", "start")

    def __init__(self, start: datetime, resume: datetime | None) -> None:
        self.start = start
        self.acc = _ZERO
        self.resume = resume  # None while paused
        self.due_at: datetime | None = None


def evaluate_metric(
    metric: SlaMetric,
    lifecycle: Lifecycle,
    ticket: Ticket,
    history: Sequence[Event],
    now: datetime,
) -> SlaClock:
    """The clock of one metric (see :func:`evaluate`)."""
    chosen = metric.target_for(ticket.fields)
    calendar: BusinessCalendar = (chosen or metric.targets[0]).calendar
    target = chosen.target if chosen is not None else None
    states = lifecycle.states
    paused_in = metric.paused_in
    done: list[SlaCycle] = []
    cur: _Cycle | None = None

    def advance(cycle: _Cycle, until: datetime) -> None:
        if cycle.resume is None:
            return
        segment = calendar.between(cycle.resume, until)
        if target is not None and cycle.due_at is None and cycle.acc < target <= cycle.acc + segment:
            cycle.due_at = calendar.add(cycle.resume, target - cycle.acc)
        cycle.acc += segment
        cycle.resume = until

    def close(cycle: _Cycle, at: datetime) -> None:
        done.append(SlaCycle(cycle.start, at, cycle.acc, target is not None and cycle.acc > target, cycle.due_at))

    for event in history:
        at = event.at
        if at > now:
            break
        entered_terminal = states[event.target].terminal and event.source != event.target
        if cur is not None:
            advance(cur, at)
            if entered_terminal or metric.stop.matches(event):
                close(cur, at)
                cur = None
            elif metric.reset.matches(event):
                cur = _Cycle(at, at)
        if cur is None and not entered_terminal and metric.start.matches(event):
            cur = _Cycle(at, at)
        if cur is not None:
            paused = event.target in paused_in
            if paused:
                cur.resume = None
            elif cur.resume is None:
                cur.resume = at

    warned: tuple[float, ...] = ()
    next_alert = None
    if cur is not None:
        advance(cur, now)
        elapsed = cur.acc
        running, paused, due_at = True, cur.resume is None, cur.due_at
        breached = target is not None and elapsed > target
        if target is not None:
            warned = tuple(f for f in metric.warn_at if elapsed >= f * target)
            if not paused and due_at is None:
                due_at = calendar.add(now, target - elapsed)
            if not paused:
                upcoming = [f * target for f in metric.warn_at if f not in warned]
                if not breached:
                    upcoming.append(target + timedelta(microseconds=1))  # breach: strictly past the target
                if upcoming:
                    next_alert = calendar.add(now, min(upcoming) - elapsed)
        cycles = (*done, SlaCycle(cur.start, None, elapsed, breached, due_at))
    elif done:
        last = done[-1]
        elapsed, running, paused, due_at, breached = last.elapsed, False, False, last.due_at, last.breached
        if target is not None:
            warned = tuple(f for f in metric.warn_at if elapsed >= f * target)
        cycles = tuple(done)
    else:
        elapsed, running, paused, due_at, breached, cycles = _ZERO, False, False, None, False, ()
    return SlaClock(
        metric=metric.id,
        kind=metric.kind,
        target=target,
        elapsed=elapsed,
        remaining=None if target is None else target - elapsed,
        due_at=due_at,
        paused=paused,
        running=running,
        breached=breached,
        warned=warned,
        cycles=cycles,
        next_alert=next_alert,
    )


def evaluate(
    policy: SlaPolicy,
    lifecycle: Lifecycle,
    ticket: Ticket,
    history: Sequence[Event],
    now: datetime,
) -> list[SlaClock]:
    """Every metric's clock for *ticket* as of *now*, from its *history* alone.

    Events after *now* are ignored; targets are chosen by the ticket's
    current fields, each counted in its own calendar.
    """
    require_aware(now, "now")
    return [evaluate_metric(metric, lifecycle, ticket, history, now) for metric in policy.metrics]
