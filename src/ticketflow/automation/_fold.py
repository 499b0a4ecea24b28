"""A ticket's *fold*: the few events of its history its SLA clocks and timed rules read.

The SLA clocks (:func:`ticketflow.sla.evaluate`) and the pending timed rules
(:func:`~ticketflow.automation._timers.pending_rules`) are pure functions of
the ticket and its history, and most events change neither: an internal
note, a tag, a field no target chooses by. The fold keeps only the events
that can:

- for the SLA policy: the opening, every event a metric's start, stop or
  reset conditions match, every move into a terminal state, every event
  that moves the ticket into or out of a metric's pause states, every event
  that changes a field a target or calendar is chosen by (any field, when a
  calendar resolver chooses), and every event that records a lifecycle
  version or a migration;
- for the timed rules: the entry into the current state, the rule firings
  since, the last comment from each side since, and the last event.

So ``evaluate(policy, lifecycle, ticket, fold, now)`` equals the clocks of the
whole history, and so do the pending rules, as long as *now* is not before
the last event (``tests/test_fold.py`` checks both on random histories).

A write extends the fold by its new events alone (:meth:`Folder.extend`),
with a small :class:`FoldState`: for each SLA metric, the events since its
last stop (a running cycle starts there or later, so nothing before it can
move the metric's next alert), and for the timed rules, the entry, firings
and last comments since. :meth:`Folder.next_due` computes the next due
instant from that state, so a write's cost does not follow the history. A
migrated history is folded again on each write (its events read in the
names of its version), and a history whose events go back in time has no
fold (``None``): its readers read the whole history.

The fold is stored with the ticket by repositories that can
(:class:`~ticketflow.protocols.FoldStore`), its head naming what it was
folded for (a key) and its state: a Workflow whose lifecycle or policy
differs reads a key it does not know and folds the history again.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

import attrs

from ticketflow.automation._timers import PendingRule, earliest, pending_rules
from ticketflow.calendar import BusinessCalendar
from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._migrated import MIGRATED, in_current_names
from ticketflow.model import Event, Ticket, reply_of
from ticketflow.repository._codec import SHORT_FOLD, dumps, head_and_end
from ticketflow.sla import SlaClock, SlaPolicy
from ticketflow.sla._clock import _chooses_by, _metric_clock, _Vectors
from ticketflow.sla._policy import Conditions

__all__ = ["Fold", "FoldState", "Folder", "Seqs"]

_SEQ = attrgetter("seq")


class FoldState(NamedTuple):
    """What a fold tracks so a write extends it by its own events only (see :meth:`Folder.extend`).

    Attributes:
        cuts: per SLA metric (in policy order), the seqs its clock reads
            now: the start of its last cycle (the opening before any), then
            every later event that stops, resets or pauses it, or changes a
            field that chooses its target or calendar. Nothing before that
            start changes its last cycle, so that cycle (running or stopped:
            its due instant, thresholds passed, breach) and the next alert
            are counted from these alone (:meth:`Folder.clocks`).
        entry: the seq of the event that entered the current state.
        rules: the seqs of the timed rules fired since (the entry aside).
        comments: the seqs of the last comment since the entry from a
            customer and from staff (automations aside), None for none.
        transient: the seqs in the fold only for the timed rules (or as its
            last event), which a later write may drop.
        cycles: per SLA metric, how many cycles it has begun (its last
            cycle's number is one less).
        running: per SLA metric, whether its last cycle runs.
        last: the seq of the fold's last event (the ticket's version when it
            was folded): a fold read in part is current only if it is the
            stored ticket's version.
        version: the lifecycle version the opening recorded (None: none): the
            version of every cycle, as a fold with a state has no migration
            (``SlaCycle.version``).
    """

    cuts: tuple[tuple[int, ...], ...]
    entry: int
    rules: tuple[int, ...]
    comments: tuple[int | None, int | None]
    transient: frozenset[int]
    cycles: tuple[int, ...]
    running: tuple[bool, ...]
    last: int
    version: Any


class Seqs(tuple[int, ...]):
    """The seqs of a :class:`Fold`, oldest first, as a repository stores them, carrying the fold as ``events``.

    A repository that keeps events in memory may keep ``events`` as they are
    rather than look each seq up again on the next read
    (:class:`~ticketflow.MemoryRepository` does), so a long fold is copied,
    not walked, on each write. ``text`` is the same seqs as JSON array items
    (``"1,2,7"``), the fold's lasting seqs first, then its transient ones (so
    not in order), or None: a fold keeps that text as it grows, so a
    repository storing JSON (SQLite, PostgreSQL) appends to it instead of
    encoding every seq again (:func:`~ticketflow.repository._codec.fold_to_json`).
    """

    events: Fold

    def __new__(cls, fold: Fold) -> Seqs:
        """The seqs of *fold*, carrying it."""
        seqs = super().__new__(cls, fold.seqs)
        seqs.events = fold
        return seqs

    @property
    def text(self) -> str | None:
        """The JSON text of the seqs, when the fold keeps it (made only for a store that asks: not memory)."""
        return self.events.text()

    def __reduce__(self) -> tuple[type[tuple[int, ...]], tuple[tuple[int, ...]]]:
        """Copied or pickled, a plain tuple of the seqs (what a repository stores)."""
        return tuple, (tuple(self),)


class Fold(tuple[Event, ...]):
    """A ticket's fold: its events the SLA clocks and timed rules read, oldest first, with its :class:`FoldState`.

    ``state`` is None for a fold that is re-made from its events on each
    write (a migrated history: its events read in the names of the version).
    ``partial``: the fold holds only what its state names (and its last
    event), as a sweep reads it (:meth:`Folder.reads`): it grows and tells
    the next due instant, pending rules and alerts, but it is not the events
    every clock reads, so nothing evaluates whole clocks from it.
    """

    state: FoldState | None
    partial: bool
    _seqs: Sequence[int] | None
    _lasting: str | None

    def __new__(
        cls,
        events: Sequence[Event],
        state: FoldState | None = None,
        seqs: Sequence[int] | None = None,
        lasting: str | None = None,
        partial: bool = False,
    ) -> Fold:
        """The fold of *events* with *state*.

        *seqs*: their seqs, when the caller has them (not copied); *lasting*:
        the JSON text of the seqs not in ``state.transient``, when the caller
        has it (see :meth:`text`; a *partial* fold must have it).
        """
        fold = super().__new__(cls, events)
        fold.state = state
        fold.partial = partial
        fold._seqs = seqs
        fold._lasting = lasting
        return fold

    @property
    def seqs(self) -> Sequence[int]:
        """The events' seqs, oldest first (kept as a write grows the fold, so storing them copies, not walks)."""
        if self._seqs is None:
            self._seqs = [event.seq for event in self]
        return self._seqs

    def lasting(self) -> str | None:
        """The seqs a later write keeps (all but ``state.transient``) as JSON array items, e.g. ``"1,2,7"``.

        Kept as a write grows the fold (the new lasting seqs appended), so a
        long fold's stored text is not encoded again on each write; made
        once from the seqs for a fold read from a store. None for a fold
        without state (re-made on each write).
        """
        state = self.state
        if state is None:
            return None
        if self._lasting is None:
            assert not self.partial  # noqa: S101 - a partial fold is read with its stored text
            transient = state.transient
            self._lasting = ",".join([str(seq) for seq in self.seqs if seq not in transient])
        return self._lasting

    def text(self) -> str | None:
        """All the fold's seqs as JSON array items: the lasting ones (:meth:`lasting`), then the transient ones.

        None for a fold without state.
        """
        lasting = self.lasting()
        if lasting is None:
            return None
        transient = sorted(self.state.transient)  # type: ignore[union-attr]  # lasting() is None without a state
        return ",".join([lasting, *map(str, transient)]) if transient else lasting

    def event(self, seq: int) -> Event:
        """The event with *seq* (one of the fold's)."""
        seqs = self._seqs
        return self[bisect_left(self, seq, key=_SEQ) if seqs is None else bisect_left(seqs, seq)]


_VERSION_KEYS = ("lifecycle_version", "lifecycle_fingerprint", MIGRATED)
#: How a fold's seqs are stored (in its key, so a ticketflow that stores them otherwise folds again, not misreads):
#: the lasting seqs, then the transient ones (Seqs.text), which is not in order.
_STORED_FORM = (
    "lasting seqs, then transient; cuts from the last cycle's start, with cycles, running, last, version;"
    " acknowledgements are no comments"
)


def _conditions(conditions: Conditions) -> str:
    return repr(
        (
            conditions.open,
            sorted(conditions.states),
            sorted(conditions.triggers),
            conditions.comment,
            sorted(conditions.comment_by),
            conditions.visibility,
        )
    )


_UNKNOWN = object()
#: A whole fold this long or shorter is read as it is (one pass) rather than through its state's events.
SHORT = SHORT_FOLD


def _lasting_of(stored: str, transient: frozenset[int]) -> str:
    """The lasting seqs' text of a stored fold (its head, the lasting seqs, then the *transient* ones in order).

    Cut off the stored text, not parsed, when the tail holds the transient
    seqs as stored; else (another writer's order) made from the seqs.
    """
    end = head_and_end(stored)[1]
    body = stored[end + 1 : -1] if stored[end] == "," else ""
    if not transient:
        return body
    tail = ",".join(map(str, sorted(transient)))
    if body.endswith(tail) and (len(body) == len(tail) or body[-len(tail) - 1] == ","):
        return body[: -len(tail) - 1]
    return ",".join(item for item in body.split(",") if int(item) not in transient)


def _same(these: Sequence[Event], those: Sequence[Event]) -> bool:
    """Whether both hold the same event objects, in order."""
    return len(these) == len(those) and all(a is b for a, b in zip(these, those, strict=True))


class Folder:
    """Folds the histories of one lifecycle's tickets for its SLA policy and timed rules.

    Args:
        lifecycle: the lifecycle (its terminal states, staff roles and timed rules).
        policy: the SLA policy whose clocks the fold must keep, if any.
    """

    __slots__ = (
        "_access",
        "_choosing",
        "_conditions",
        "_cut_fields",
        "_grown",
        "_lifecycle",
        "_metrics",
        "_paused",
        "_states",
        "_terminal",
        "_timers",
        "key",
    )

    def __init__(self, lifecycle: Lifecycle, policy: SlaPolicy | None) -> None:
        metrics = () if policy is None else policy.metrics
        self._lifecycle = lifecycle
        self._metrics = metrics
        self._terminal = frozenset(s for s, state in lifecycle.states.items() if state.terminal)
        self._conditions = tuple(
            c for m in metrics for c in (m.start, m.stop, m.reset) if c.open or c.states or c.triggers or c.comment
        )
        self._paused = tuple({m.paused_in for m in metrics if m.paused_in})
        choosing: set[str] | None = set()
        for metric in metrics:
            for target in metric.targets:
                if choosing is None:
                    break
                choosing.update(target.when)
                if target.calendar_by is not None:
                    if target.calendar_by.field is None:
                        choosing = None  # a resolver may read any field
                    else:
                        choosing.add(target.calendar_by.field)
        #: the fields whose changes the SLA reads (None: every field)
        self._choosing = None if choosing is None else frozenset(choosing)
        #: per metric, the fields whose changes re-choose a stopped cycle's target or calendar (None: every field)
        self._cut_fields = tuple(
            frozenset() if len(m.targets) == 1 and m.targets[0].calendar_by is None else _chooses_by(m) for m in metrics
        )
        self._timers = bool(lifecycle.timers)
        self._access = lifecycle.access
        # what the fold depends on, so a stored fold is used only by a Workflow that folds alike
        described = repr(
            (
                _STORED_FORM,
                lifecycle.fingerprint,
                sorted(self._terminal),
                [_conditions(c) for c in self._conditions],
                [  # each metric's roles of its conditions: its cuts and cycles follow them
                    (_conditions(m.start), _conditions(m.stop), _conditions(m.reset), sorted(m.paused_in), by)
                    for m, by in zip(metrics, [None if f is None else sorted(f) for f in self._cut_fields], strict=True)
                ],
                sorted(sorted(p) for p in self._paused),
                None if self._choosing is None else sorted(self._choosing),
                self._timers,
                sorted(self._access.staff),
            )
        )
        self._states: dict[str, FoldState | None] = {}  # recent heads' states, parsed once
        self._grown: dict[int, tuple[Fold, tuple[Event, ...], Fold | None]] = {}  # recent folds grown, by what
        #: names what this folder keeps (stored with a fold; another key means: fold again)
        self.key = hashlib.sha256(described.encode()).hexdigest()[:16]

    def extend(self, before: Sequence[Event], events: Sequence[Event]) -> Fold | None:
        """The fold of a history after *events*, given *before*: the fold (or whole history) before them.

        A :class:`Fold` with its state grows by *events* alone; anything else
        (a whole history, a migrated ticket's fold) is folded from the start.
        None when the history goes back in time (an event earlier than the
        one before it): then only the whole history tells.
        """
        # a sweep grows each due ticket's fold by its firing, then the batch's write grows the same folds again
        recent = self._grown
        grown = recent.get(id(before))
        if grown is not None and grown[0] is before and _same(grown[1], events):
            return grown[2]
        if isinstance(before, Fold) and before.state is not None and not any(MIGRATED in e.meta for e in events):
            fold = self._grow(before, before.state, events)
            if len(recent) >= 256:
                recent.clear()
            recent[id(before)] = (before, tuple(events), fold)
            return fold
        if isinstance(before, Fold) and before.partial:
            return None  # not the whole fold: folding again needs the history (a reader reads it, a write re-folds)
        history = [*before, *events]
        if any(MIGRATED in e.meta for e in history):
            plain = self.fold(history)
            return None if plain is None else Fold(plain)
        return self._grow(None, None, history)

    def _grow(self, fold: Fold | None, state: FoldState | None, events: Sequence[Event]) -> Fold | None:
        """*fold* (with *state*; None: nothing yet, *events* start with the opening) extended by *events*."""
        metrics, terminal, choosing, paused_in = self._metrics, self._terminal, self._choosing, self._paused
        standing, staff = self._access.standing, self._access.staff
        if fold is None or state is None:
            opening, events = events[0], events[1:]
            kept, seqs = [opening], [opening.seq]
            base, added = None, [opening.seq]  # the lasting seqs' text so far, and the ones this write adds
            cuts = [[opening.seq] for _ in metrics]
            running = [metric.start.matches(opening) and opening.target not in terminal for metric in metrics]
            cycles = [int(on) for on in running]
            entry, rules = opening.seq, []
            version = opening.meta.get("lifecycle_version")
            comments: list[int | None] = [None, None]
            previous = opening
            if reply_of(opening) is not None:
                self._comment(opening, comments, standing, staff)
        else:
            transient = state.transient
            base, added = fold.lasting(), []
            kept, seqs = list(fold), [*fold.seqs]  # copies (C speed): a fold can be long
            for seq in sorted(transient, reverse=True):  # a few seqs, near the end: found by halving, not a walk
                at = bisect_left(seqs, seq)
                if at < len(seqs) and seqs[at] == seq:
                    del kept[at], seqs[at]
            cuts = [list(cut) for cut in state.cuts]
            running, cycles = list(state.running), list(state.cycles)
            entry, rules, comments = state.entry, list(state.rules), list(state.comments)
            version = state.version
            previous = fold[-1]
        known = {e.seq: e for e in events}  # the new events by seq (the timed rules' ones are looked up)
        for event in events:
            if event.at < previous.at:
                return None
            target, before = event.target, previous.target
            moved = event.source != target
            ends = moved and target in terminal
            relevant = (
                ends
                or any(key in event.meta for key in _VERSION_KEYS)
                or any((target in p) != (before in p) for p in paused_in)
                or bool(event.field_changes and (choosing is None or not choosing.isdisjoint(event.field_changes)))
            )
            changes = event.field_changes
            for index, metric in enumerate(metrics):
                # the decisions of the clock (ticketflow.sla._clock._clock), in its order: stop, reset, start, pause
                stops = ends or metric.stop.matches(event)
                starts = metric.start.matches(event)
                resets = metric.reset.matches(event)
                pauses = (target in metric.paused_in) != (before in metric.paused_in)
                if not (stops or starts or resets or pauses):
                    by = self._cut_fields[index]
                    if changes and (by is None or not by.isdisjoint(changes)):
                        cuts[index].append(event.seq)  # re-chooses the target (or calendar) of its last cycle
                    continue
                relevant = True
                was = running[index]
                if was and stops:
                    running[index] = False
                if not running[index] and starts and not ends:
                    running[index] = True
                    cycles[index] += 1
                    cuts[index] = [event.seq]  # a new cycle: the last one counts from here
                elif was or (changes and ((by := self._cut_fields[index]) is None or not by.isdisjoint(changes))):
                    cuts[index].append(event.seq)
            if relevant:
                kept.append(event)
                seqs.append(event.seq)
                added.append(event.seq)
            if moved:
                entry, rules, comments = event.seq, [], [None, None]
            elif "rule" in event.meta:
                rules.append(event.seq)
            if reply_of(event) is not None:  # an acknowledgement is no reply (as the timed rules)
                self._comment(event, comments, standing, staff)
            previous = event
        timed: set[int] = {entry, *rules, *(c for c in comments if c is not None)} if self._timers else set()
        timed.add(previous.seq)  # the last event: a fold ends at the ticket's version
        extra: list[int] = []  # the seqs kept for the timed rules alone
        for seq in sorted(timed):
            at = bisect_left(seqs, seq)
            if at == len(seqs) or seqs[at] != seq:
                extra.append(seq)
                kept.insert(at, known[seq] if seq in known else fold.event(seq))  # type: ignore[union-attr]  # a new or an old one
                seqs.insert(at, seq)
        state = FoldState(
            tuple(tuple(cut) for cut in cuts),
            entry,
            tuple(rules),
            (comments[0], comments[1]),
            frozenset(extra),
            tuple(cycles),
            tuple(running),
            previous.seq,
            version,
        )
        if added:
            appended = ",".join(map(str, added))
            base = f"{base},{appended}" if base else appended
        return Fold(kept, state, seqs, base, fold is not None and fold.partial)

    @staticmethod
    def _comment(event: Event, comments: list[int | None], standing: Any, staff: frozenset[str]) -> None:
        roles = standing(event.actor).roles  # as the rules judge the author (inherited roles)
        if "system" not in roles:
            comments[1 if not staff.isdisjoint(roles) else 0] = event.seq

    def pending(self, fold: Fold, ticket: Ticket, calendar: BusinessCalendar | None) -> list[PendingRule]:
        """The pending timed rules of *ticket* from a fold with its state: as from the whole history, read less.

        The rules read the entry into the current state, the rules fired and
        the last comment from each side since, and the last event.
        """
        state = fold.state
        assert state is not None  # noqa: S101 - called with a fold that has its state
        if not fold.partial and len(fold) <= SHORT:  # a short whole fold: read as it is
            return pending_rules(self._lifecycle, ticket, fold, calendar)
        since = sorted({state.entry, *state.rules, *(c for c in state.comments if c is not None), fold[-1].seq})
        return pending_rules(self._lifecycle, ticket, [fold.event(seq) for seq in since], calendar)

    def clocks(self, fold: Fold, ticket: Ticket, at: datetime) -> tuple[list[SlaClock], list[int]]:
        """Each SLA metric's clock as of *at* counted from its cut alone, and the number of its last cycle.

        A clock's ``cycles`` hold its last cycle only (none before it began
        any), and a cycle's ``version`` is not kept: enough for its alerts
        and the next one (``warned``, ``breached``, ``target``,
        ``next_alert``), which equal the whole history's as long as *at* is
        not before the fold's last event. The numbers count every cycle
        (``len(cycles) - 1`` of the whole history's clock; -1: none yet).
        """
        state = fold.state
        assert state is not None  # noqa: S101 - called with a fold that has its state
        lifecycle, fields = self._lifecycle, ticket.fields
        shared: dict[tuple[int, ...], tuple[_Vectors, list[datetime], dict[int, list[int]]]] = {}
        clocks = []
        for metric, cut in zip(self._metrics, state.cuts, strict=True):
            if cut not in shared:  # metrics counted from the same events share their columns and positions
                vectors = _Vectors(lifecycle, [fold.event(seq) for seq in cut])
                shared[cut] = (vectors, [*vectors.ats, at], {})
            vectors, instants, positions = shared[cut]
            clocks.append(_metric_clock(metric, fields, vectors, instants, positions, at, from_cut=True))
        return clocks, [count - 1 for count in state.cycles]

    def last_cycles(self, fold: Fold, ticket: Ticket, at: datetime) -> list[SlaClock]:
        """Each SLA metric's clock as of *at* with its last cycle alone: the whole history's, but for earlier cycles.

        :meth:`clocks`, each last cycle given the version the opening
        recorded (a fold with a state has no migration, so every cycle has
        it), so every attribute equals the whole history's clock but
        ``cycles``, which holds its last cycle only — as long as *at* is not
        before the fold's last event.
        """
        state = fold.state
        assert state is not None  # noqa: S101 - called with a fold that has its state
        clocks = self.clocks(fold, ticket, at)[0]
        return [
            attrs.evolve(clock, cycles=(clock.cycles[-1]._replace(version=state.version),)) if clock.cycles else clock
            for clock in clocks
        ]

    def next_due(
        self,
        fold: Fold,
        ticket: Ticket,
        at: datetime,
        calendar: BusinessCalendar | None,
        clocks: Sequence[SlaClock] | None = None,
    ) -> datetime | None:
        """The next due instant after *at* from a fold with its state: as from the whole history, read less.

        The timed rules read the events since the entry (:meth:`pending`);
        each SLA metric's next alert comes from its last cycle, counted from
        the metric's cut (:meth:`clocks`; *clocks*: those, when the caller
        has them).
        """
        due: list[datetime | None] = []
        if self._lifecycle.timers:
            rules = self.pending(fold, ticket, calendar)
            due.append(rules[0].due_at if rules else None)
        if clocks is None:
            clocks = self.clocks(fold, ticket, at)[0] if self._metrics else []
        due.extend(clock.next_alert for clock in clocks)
        return earliest(due)

    def head(self, fold: Fold) -> str:
        """What is stored with the fold's seqs: this folder's key, then the fold's state (JSON)."""
        state = fold.state
        if state is None:
            return self.key
        return f"{self.key} " + dumps(
            [
                [list(cut) for cut in state.cuts],
                state.entry,
                list(state.rules),
                list(state.comments),
                sorted(state.transient),
                list(state.cycles),
                list(state.running),
                state.last,
                state.version,
            ]
        )

    def accept(self, head: str, events: Sequence[Event]) -> Fold | None:
        """A stored fold (*head* and *events*) if this folder made it, with its state; else None."""
        key, _, encoded = head.partition(" ")
        if key != self.key:
            return None
        if not encoded:
            return Fold(events)
        state = self._state(encoded)
        if state is None:
            return None
        if isinstance(events, Fold) and events.state == state:
            return events  # the fold a write carried, as it was (MemoryRepository keeps it): immutable, not copied
        return Fold(events, state)

    def _state(self, encoded: str) -> FoldState | None:
        """The state a head stored after its key (see :meth:`head`), None when it is not one of this folder's.

        Parsed once per head: a sweep names a fold's part from its head, then
        accepts the part with the same head (a few recent heads are kept).
        """
        states = self._states
        state = states.get(encoded, _UNKNOWN)
        if state is _UNKNOWN:
            if len(states) >= 256:
                states.clear()
            state = states[encoded] = self._parse_state(encoded)
        return state  # type: ignore[return-value]  # a FoldState or None once the sentinel is ruled out

    def _parse_state(self, encoded: str) -> FoldState | None:
        decoded = json.loads(encoded)
        if not isinstance(decoded, list) or len(decoded) != len(FoldState._fields):
            return None
        cuts, entry, rules, comments, transient, cycles, running, last, version = decoded
        if not len(cuts) == len(cycles) == len(running) == len(self._metrics):
            return None
        return FoldState(
            tuple(tuple(cut) for cut in cuts),
            entry,
            tuple(rules),
            (comments[0], comments[1]),
            frozenset(transient),
            tuple(cycles),
            tuple(running),
            last,
            version,
        )

    def reads(self, head: str) -> list[int] | None:
        """The seqs a sweep reads of a fold stored with *head*: the events its state names, oldest first.

        Its cuts, the entry, rule firings, last comments and transient
        events the timed rules read, and its last event (``state.last``:
        when that is not the ticket's version, the fold is stale and is not
        used). None when the fold is not one of this folder's with a state:
        then the whole fold is read.
        """
        key, _, encoded = head.partition(" ")
        state = self._state(encoded) if key == self.key and encoded else None
        if state is None:
            return None
        named = {state.entry, *state.rules, *state.transient, *(c for c in state.comments if c is not None), state.last}
        for cut in state.cuts:
            named.update(cut)
        return sorted(named)

    def accept_partial(self, head: str, events: Sequence[Event], stored: str) -> Fold | None:
        """A fold read in part (*events*: those :meth:`reads` named) with its *stored* text.

        A partial :class:`Fold`: what a write and a sweep read of it is
        there, and the stored seqs' text gives its lasting seqs, so a write
        stores the whole fold again without its other events. None when the
        head is not one of this folder's with a state, or the events do not
        end with its last (the caller compares that with the ticket's
        version: a fold a save left behind is stale).
        """
        key, _, encoded = head.partition(" ")
        state = self._state(encoded) if key == self.key and encoded else None
        if state is None or not events or events[-1].seq != state.last:
            return None
        return Fold(events, state, [event.seq for event in events], _lasting_of(stored, state.transient), True)

    def fold(self, history: Sequence[Event]) -> tuple[Event, ...] | None:
        """The events of *history* the clocks and rules read, folded from the start (no state kept).

        The same walk as :meth:`extend` (:meth:`_grow`), over the events read
        in the names of the version a migration moved the ticket to; the
        events returned are the history's own.
        """
        if not history:
            return ()
        grown = self._grow(None, None, in_current_names(history))
        if grown is None:
            return None
        kept = {event.seq for event in grown}
        return tuple(event for event in history if event.seq in kept)
