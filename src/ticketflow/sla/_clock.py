"""SLA clocks as a pure function of (policy, ticket, history, now).

Nothing here reads a wall clock or storage: the same inputs give the same
clocks, so a policy change recomputed over old histories gives the new answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import NamedTuple

import attrs

from ticketflow.calendar import BusinessCalendar
from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._migrated import MIGRATED, in_current_names
from ticketflow.model import Event, Ticket, reply_of, require_aware
from ticketflow.sla._policy import NEVER, Conditions, SlaMetric, SlaPolicy, SlaTarget

__all__ = ["SlaClock", "SlaCycle", "evaluate", "evaluate_metric"]

_ZERO = timedelta(0)
_ONE_US = timedelta(microseconds=1)


class SlaCycle(NamedTuple):
    """One run of a metric's clock, from a start event to a stop (or now).

    A named tuple rather than an attrs class: a long history makes many of
    them, and a tuple is several times cheaper to build.

    Attributes:
        started_at: the start event's instant.
        stopped_at: the stop event's instant; None while running.
        elapsed: business time counted (pauses excluded).
        breached: the cycle ran past its due instant: stopped (or, while
            running, now) strictly after ``due_at``.
        due_at: the instant the target was (or will be) reached, if known; a
            cycle stopped before its target keeps the instant it would have
            been due at.
        calendar: the name of the calendar it was counted in, when the target
            chooses one per ticket (``calendar_by``); a stopped cycle keeps the
            one chosen by the ticket's fields when it stopped.
        target: the business time it was allowed (None: no target selected
            the ticket); a stopped cycle keeps the one its ticket's fields chose
            when it stopped, so a later field change leaves its verdict alone.
        version: the lifecycle (and so policy) version the ticket was on when
            the cycle started (None before versions were recorded).
    """

    started_at: datetime
    stopped_at: datetime | None
    elapsed: timedelta
    breached: bool
    due_at: datetime | None
    calendar: str | None = None
    target: timedelta | None = None
    version: int | None = None


@attrs.frozen
class SlaClock:
    """A metric's clock on one ticket, as of ``now``.

    Attributes:
        metric: the metric id.
        kind: the metric kind.
        target: the business time allowed (None: no target selects the ticket).
        elapsed: business time counted in the current (or last) cycle.
        remaining: target minus elapsed, in business time (None without target).
        due_at: when the current cycle reaches its target (a met cycle: when
            it would have); None while paused before reaching it, or when no
            cycle ran.
        paused: the current cycle is running but its clock is stopped.
        running: a cycle is open (paused or not).
        breached: the current (or last) cycle's due instant has passed: it is
            true from the first instant strictly after ``due_at`` (a clock due
            at 17:00 is breached at 17:00:00.000001, and at 18:00 after the
            office closed), and for a cycle stopped after ``due_at``.
        early_by: for a stopped cycle met in time, the wall-clock time from
            its stop to ``due_at`` ("answered 5 minutes before due"); else None.
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
    early_by: timedelta | None = None


_NOTHING_APPLIED: Mapping[datetime, timedelta] = MappingProxyType({})


class _Vectors:
    """Per-event facts shared by every metric of one evaluation.

    Conditions are evaluated a condition at a time over these columns rather
    than an event at a time, which keeps a long history cheap.
    """

    def __init__(self, lifecycle: Lifecycle, events: Sequence[Event]) -> None:
        named = in_current_names(events)  # a migrated ticket's states and fields, as its version names them
        #: whether a migration is in the history (else one version throughout, nothing recorded to keep)
        self.migrated = named is not events
        events = named
        terminal = frozenset(s for s, state in lifecycle.states.items() if state.terminal)
        self.events = events
        self.ats = [e.at for e in events]
        self.targets = [e.target for e in events]
        self.moved = [e.source != e.target for e in events]
        self.terminal = [t in terminal and m for t, m in zip(self.targets, self.moved, strict=True)]
        self.comments = [
            (i, c.visibility, e.actor.roles) for i, e in enumerate(events) if (c := reply_of(e)) is not None
        ]  # an acknowledgement is no reply (as Conditions.matches)
        self._cache: dict[int, list[bool]] = {}  # by id: the policy interns its conditions
        self._changed: frozenset[str] | None = None
        self._applied: dict[str, dict[datetime, timedelta]] | None = None
        self._versions: list[int | None] | None = None
        self._in: dict[frozenset[str], list[bool]] = {}

    def of(self, conditions: Conditions) -> list[bool]:
        """Which events meet *conditions* (computed once per distinct conditions)."""
        vector = self._cache.get(id(conditions))
        if vector is not None:
            return vector
        if conditions.states:
            states = conditions.states
            vector = [t in states and m for t, m in zip(self.targets, self.moved, strict=True)]
        else:
            vector = [False] * len(self.events)
        if conditions.open:
            for i, event in enumerate(self.events):
                if event.source is None:
                    vector[i] = True
        if conditions.triggers:
            triggers = conditions.triggers
            for i, event in enumerate(self.events):
                if event.trigger in triggers:
                    vector[i] = True
        if conditions.comment:
            visibility, by = conditions.visibility, conditions.comment_by
            for i, seen, roles in self.comments:
                if (visibility is None or seen == visibility) and (not by or not by.isdisjoint(roles)):
                    vector[i] = True
        self._cache[id(conditions)] = vector
        return vector

    def applied(self, metric_id: str) -> Mapping[datetime, timedelta]:
        """The targets migrations recorded for this metric's cycles, by cycle start (``sla_applied``)."""
        if not self.migrated:
            return _NOTHING_APPLIED
        if self._applied is None:
            self._applied = {}
            for event in self.events:
                record = event.meta.get(MIGRATED)
                if record is None:
                    continue
                for metric, cycles in record.get("sla_applied", {}).items():
                    into = self._applied.setdefault(metric, {})
                    for started, seconds in cycles.items():
                        into.setdefault(datetime.fromisoformat(started), timedelta(seconds=seconds))
        return self._applied.get(metric_id, {})

    def version_at(self, index: int) -> int | None:
        """The lifecycle version the ticket was on at event *index* (its opening's, or its last migration's)."""
        if not self.migrated:
            return self.events[0].meta.get("lifecycle_version") if self.events else None
        if self._versions is None:
            versions: list[int | None] = []
            current = None
            for event in self.events:
                current = event.meta.get("lifecycle_version", current)
                versions.append(current)
            self._versions = versions
        return self._versions[index]

    def changed(self) -> frozenset[str]:
        """The fields some event after the opening changed (computed once)."""
        if self._changed is None:
            self._changed = frozenset(name for event in self.events[1:] for name in event.field_changes)
        return self._changed

    def entering(self, states: frozenset[str]) -> list[bool]:
        """Which events leave the ticket in one of *states*."""
        vector = self._in.get(states)
        if vector is None:
            vector = self._in[states] = [t in states for t in self.targets]
        return vector


def evaluate_metric(
    metric: SlaMetric,
    lifecycle: Lifecycle,
    ticket: Ticket,
    history: Sequence[Event],
    now: datetime,
) -> SlaClock:
    """The clock of one metric (see :func:`evaluate`, which shares work between metrics)."""
    require_aware(now, "now")
    vectors = _Vectors(lifecycle, [e for e in history if e.at <= now])
    return _metric_clock(metric, ticket.fields, vectors, [*vectors.ats, now], {}, now)


def _metric_clock(
    metric: SlaMetric,
    fields: Mapping[str, object],
    vectors: _Vectors,
    instants: list[datetime],
    positions: dict[int, list[int]],
    now: datetime,
    from_cut: bool = False,
) -> SlaClock:
    """One metric's clock; each stopped cycle keeps the target (and calendar) its ticket's fields chose when it stopped.

    The running cycle follows the ticket's current fields, so a field change
    (priority raised, organisation moved) re-targets only the running cycle:
    a met or breached cycle keeps its verdict. A cycle a migration recorded
    the target of (``sla_applied``: the earlier version's) keeps that target.

    *from_cut*: the events start at the metric's last cycle, not at the
    opening (a fold's cut, :meth:`ticketflow.automation._fold.Folder.clocks`),
    and hold every later change of a field that chooses its target: the
    fields before them are the ticket's with those changes undone.
    """
    chosen = metric.target_for(fields)
    target = chosen or metric.targets[0]

    def counted_in(calendar: BusinessCalendar) -> list[int]:  # business positions, once per calendar
        key = id(calendar)
        if key not in positions:
            positions[key] = calendar.business_positions(instants)
        return positions[key]

    name, calendar = target.calendar_for(fields)
    clock = _clock(metric, chosen, vectors, counted_in(calendar), now, calendar, name)
    if not clock.cycles:
        return clock
    applied = vectors.applied(metric.id)
    if not applied:
        if len(metric.targets) == 1 and target.calendar_by is None:
            return clock  # one target, one calendar: every cycle counts alike
        chooses_by = _chooses_by(metric)
        if chooses_by is not None and vectors.changed().isdisjoint(chooses_by):
            return clock  # the fields that choose never changed: every cycle chose as the ticket does now
    then: list[tuple[SlaTarget | None, str | None, BusinessCalendar]] = []
    if len(metric.targets) == 1 and target.calendar_by is None:
        then = [(chosen, name, calendar)] * len(clock.cycles)
    else:
        stops = _stop_indices(metric, vectors, clock.cycles)
        for stopped_fields in _fields_after(
            vectors.events, stops, _fields_before(fields, vectors.events) if from_cut else {}
        ):
            picked = metric.target_for(stopped_fields)
            then.append((picked, *(picked or metric.targets[0]).calendar_for(stopped_fields)))
        if clock.running:
            then.append((chosen, name, calendar))
    fixed: dict[tuple[timedelta, str | None], SlaTarget] = {}
    for index, cycle in enumerate(clock.cycles):
        recorded = applied.get(cycle.started_at)
        if recorded is not None:  # the target an earlier version applied to this cycle
            _, other, other_calendar = then[index]
            if (recorded, other) not in fixed:
                fixed[recorded, other] = SlaTarget(recorded, {}, other_calendar)
            then[index] = (fixed[recorded, other], other, other_calendar)
    if all(p is chosen and n == name for p, n, _ in then):
        return clock
    counted: dict[tuple[int, str | None], SlaClock] = {(id(chosen), name): clock}
    cycles = list(clock.cycles)
    for index, (picked, other, other_calendar) in enumerate(then):
        key = (id(picked), other)
        if key not in counted:
            counted[key] = _clock(metric, picked, vectors, counted_in(other_calendar), now, other_calendar, other)
        cycles[index] = counted[key].cycles[index]
    last = then[-1]
    final = counted[id(last[0]), last[1]]  # the clock's own facts are its last cycle's
    return attrs.evolve(final, cycles=tuple(cycles))


def _chooses_by(metric: SlaMetric) -> frozenset[str] | None:
    """The fields that choose a cycle's target and calendar (None: a resolver may read any)."""
    names: set[str] = set()
    for target in metric.targets:
        names.update(target.when)
        if target.calendar_by is not None:
            if target.calendar_by.field is None:
                return None
            names.add(target.calendar_by.field)
    return frozenset(names)


def _stop_indices(metric: SlaMetric, vectors: _Vectors, cycles: Sequence[SlaCycle]) -> list[int]:
    """The index of the event that stopped each stopped cycle, as :func:`_clock` decides it.

    The same start and stop decisions, replayed in event order (a history
    whose instants go back in time is read in that order too, so nothing
    here searches by instant).
    """
    stopping, terminal, starts = vectors.of(metric.stop), vectors.terminal, vectors.of(metric.start)
    wanted = sum(1 for cycle in cycles if cycle.stopped_at is not None)
    indices: list[int] = []
    running = False
    for index in range(len(stopping)):
        if len(indices) == wanted:
            break
        if running and (terminal[index] or stopping[index]):
            indices.append(index)
            running = False
        if not running and starts[index] and not terminal[index]:
            running = True
    return indices


def _fields_before(fields: Mapping[str, object], events: Sequence[Event]) -> dict[str, object]:
    """The ticket's *fields* (now) with the changes of *events* undone, last first: its fields before them."""
    before = dict(fields)
    for event in reversed(events):
        for field, change in event.field_changes.items():
            if change.before is None:
                before.pop(field, None)
            else:
                before[field] = change.before
    return before


def _fields_after(
    events: Sequence[Event], indices: Sequence[int], fields: dict[str, object] | None = None
) -> list[dict[str, object]]:
    """The ticket's fields right after each event of *indices* (ascending), replayed from *fields* (none: {})."""
    fields = {} if fields is None else fields
    result = []
    position = 0
    for index in indices:
        while position <= index:
            for field, change in events[position].field_changes.items():
                if change.after is None:
                    fields.pop(field, None)
                else:
                    fields[field] = change.after
            position += 1
        result.append(dict(fields))
    return result


_NO_LIMIT = 1 << 62  # "no target": a business time no cycle reaches


def _clock(
    metric: SlaMetric,
    chosen: SlaTarget | None,
    vectors: _Vectors,
    positions: Sequence[int],
    now: datetime,
    calendar: BusinessCalendar,
    calendar_name: str | None = None,
) -> SlaClock:
    """One metric's clock from the shared per-event columns and business positions (events, then now)."""
    days = chosen.business_days if chosen is not None else 0
    target_us = _us(chosen.target) if chosen is not None else None
    if days:  # N business days from a cycle's start, as the business time they hold
        target_us = _days_us(calendar, now, days)
    limit = _NO_LIMIT if target_us is None else target_us

    def reach(start: datetime, business_us: int) -> datetime:
        """When *business_us* more business time has passed after *start*.

        The earliest such instant (``calendar.add``), except for a target in
        business days: then the next open one, as ``add_days`` counts (a day
        that ends at 17:00 is due at the next day's opening, not at 17:00).
        """
        reached = calendar.add(start, _delta(business_us))
        return calendar.next_open(reached) if days else reached

    ats = vectors.ats
    terminal = vectors.terminal
    stops, starts = vectors.of(metric.stop), vectors.of(metric.start)
    resets = vectors.of(metric.reset) if metric.reset is not NEVER else None
    in_pause = vectors.entering(metric.paused_in)
    done: list[SlaCycle] = []
    # the running cycle: its start, business µs counted, the index it counts from (None: paused), due instant
    started: datetime | None = None
    begun = 0  # the index of the running cycle's start
    acc = 0
    resumed: int | None = None
    due_at: datetime | None = None

    for index in range(len(ats)):
        if started is not None:
            if terminal[index] or stops[index]:
                if resumed is not None:
                    segment = positions[index] - positions[resumed]
                    if due_at is None and acc < limit <= acc + segment:
                        due_at = reach(ats[resumed], limit - acc)
                    acc += segment
                if due_at is None and target_us is not None:  # met: when it would have been due
                    due_at = reach(ats[index], limit - acc)
                late = due_at is not None and ats[index] > due_at
                allowed = None if target_us is None else _delta(target_us)
                version = vectors.version_at(begun)
                done.append(SlaCycle(started, ats[index], _ONE_US * acc, late, due_at, calendar_name, allowed, version))
                started = resumed = None
            elif resets is not None and resets[index]:
                started, acc, resumed, due_at, begun = ats[index], 0, index, None, index
                if days:
                    target_us = limit = _days_us(calendar, started, days)
        if started is None and starts[index] and not terminal[index]:
            started, acc, resumed, due_at, begun = ats[index], 0, index, None, index
            if days:
                target_us = limit = _days_us(calendar, started, days)
        if started is not None:
            if in_pause[index]:
                if resumed is not None:
                    segment = positions[index] - positions[resumed]
                    if due_at is None and acc < limit <= acc + segment:
                        due_at = reach(ats[resumed], limit - acc)
                    acc += segment
                    resumed = None
            elif resumed is None:
                resumed = index

    last = len(ats)  # positions[last] is now's
    warned: tuple[float, ...] = ()
    next_alert = None
    early_by: timedelta | None = None
    target = None if target_us is None else _delta(target_us)
    if started is not None:
        paused = resumed is None
        if resumed is not None:
            segment = positions[last] - positions[resumed]
            if target_us is not None and due_at is None and acc < target_us <= acc + segment:
                due_at = reach(ats[resumed], target_us - acc)
            acc += segment
        elapsed = _delta(acc)
        if target_us is not None and not paused and due_at is None:
            due_at = reach(now, target_us - acc)
        breached = due_at is not None and now > due_at  # the deadline has passed, open hours or not
        if target_us is not None:
            warned = tuple(f for f in metric.warn_at if acc >= f * target_us)
            alerts = []
            if not paused:
                upcoming = [round(f * target_us) for f in metric.warn_at if f not in warned]
                if upcoming:
                    alerts.append(calendar.add(now, _delta(min(upcoming) - acc)))
            if not breached and due_at is not None:
                alerts.append(due_at + _ONE_US)  # breach: the first instant after the due instant
            next_alert = min(alerts, default=None)
        version = vectors.version_at(begun)
        cycles = (*done, SlaCycle(started, None, elapsed, breached, due_at, calendar_name, target, version))
        running = True
    elif done:
        final = done[-1]
        elapsed, running, paused, due_at, breached = final.elapsed, False, False, final.due_at, final.breached
        if target_us is not None:
            warned = tuple(f for f in metric.warn_at if _us(elapsed) >= f * target_us)
        cycles = tuple(done)
        if not breached and due_at is not None and final.stopped_at is not None:
            early_by = due_at - final.stopped_at
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
        early_by=early_by,
    )


def _days_us(calendar: BusinessCalendar, start: datetime, days: int) -> int:
    """The business µs from *start* to the same local time *days* business days later (``add_days``)."""
    return _us(calendar.between(start, calendar.add_days(start, days)))


def _us(value: timedelta) -> int:
    return (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds


def _delta(microseconds: int) -> timedelta:
    return _ONE_US * microseconds


def evaluate(
    policy: SlaPolicy,
    lifecycle: Lifecycle,
    ticket: Ticket,
    history: Sequence[Event],
    now: datetime,
) -> list[SlaClock]:
    """Every metric's clock for *ticket* as of *now*, from its *history* alone.

    Events after *now* are ignored; targets are chosen by the ticket's
    current fields, each counted in its own calendar (with ``calendar_by``,
    a stopped cycle in the one chosen when it stopped). Each event's business
    position is computed once per calendar, whatever the number of metrics.
    """
    require_aware(now, "now")
    vectors = _Vectors(lifecycle, [e for e in history if e.at <= now])
    instants = [*vectors.ats, now]
    positions: dict[int, list[int]] = {}
    return [_metric_clock(metric, ticket.fields, vectors, instants, positions, now) for metric in policy.metrics]
