"""When something is next due for a ticket: its earliest pending timed rule or SLA alert.

:class:`Scheduler` is the recorder's scheduling collaborator for one
lifecycle (see :mod:`ticketflow.recording`): every write asks it for the
changed ticket's next due instant, so every path stores the same instant,
the one computed from the ticket's history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ticketflow.automation._fold import SHORT, Fold, Folder, Seqs
from ticketflow.automation._timers import PendingRule, earliest, pending_rules
from ticketflow.calendar import BusinessCalendar
from ticketflow.errors import InvalidLifecycle, StorageError
from ticketflow.lifecycle import Lifecycle
from ticketflow.model import UNSET, Event, Ticket
from ticketflow.recording import PartialReads
from ticketflow.sla import SlaClock, SlaPolicy, evaluate

if TYPE_CHECKING:
    from ticketflow.recording import Accept

__all__ = ["Scheduled", "Scheduler", "next_due", "sla_clocks"]


class Scheduled(Protocol):
    """What the next due instant depends on (a :class:`Scheduler`, or a Workflow, has these)."""

    @property
    def lifecycle(self) -> Lifecycle:
        """The lifecycle whose timed rules count."""
        ...

    def timer_calendar_for(self, ticket: Ticket) -> BusinessCalendar | None:
        """The calendar *ticket*'s business-time rules count in."""
        ...

    @property
    def sla_policy(self) -> SlaPolicy | None:
        """The SLA policy whose alerts count, if any."""
        ...


def sla_clocks(scheduled: Scheduled, ticket: Ticket, history: Sequence[Event], at: datetime) -> list[SlaClock]:
    """*ticket*'s SLA clocks as of *at* (none without a policy)."""
    policy = scheduled.sla_policy
    return [] if policy is None else evaluate(policy, scheduled.lifecycle, ticket, history, at)


def next_due(
    scheduled: Scheduled,
    ticket: Ticket,
    history: Sequence[Event],
    at: datetime,
    clocks: Sequence[SlaClock] | None = None,
) -> datetime | None:
    """The next instant something is due for *ticket* after *at*: a timed rule or an SLA alert.

    *clocks*: the ticket's SLA clocks as of *at*, when the caller has them
    already (:func:`sla_clocks`); evaluated here otherwise.
    """
    rules = pending_rules(scheduled.lifecycle, ticket, history, scheduled.timer_calendar_for(ticket))
    if clocks is None:
        clocks = sla_clocks(scheduled, ticket, history, at)
    return earliest([rules[0].due_at if rules else None, *(c.next_alert for c in clocks)])


def _counted(history: Sequence[Event], at: datetime) -> Fold | None:
    """*history* if it is a fold with its state and *at* is not before its last event (it counts as the whole then)."""
    if isinstance(history, Fold) and history.state is not None and history and at >= history[-1].at:
        return history
    # a part read is used only up to the instant of its last event (Reads.fold, _read): the whole is never needed
    assert not (isinstance(history, Fold) and history.partial), "a fold read in part cannot tell clocks before its end"  # noqa: S101
    return None


class Scheduler:
    """The next due instant of tickets of one lifecycle.

    Args:
        lifecycle: the lifecycle whose timed rules count.
        calendar: the calendar given to the workflow or named by the
            lifecycle, if any.
        sla_policy: the SLA policy whose alerts count, if any.

    Raises:
        InvalidLifecycle: a timed rule counts business time and there is no calendar.
    """

    __slots__ = (
        "_anchored_later",
        "_own_calendar",
        "folder",
        "folds",
        "lifecycle",
        "plain",
        "sla_policy",
        "timer_calendar",
    )

    def __init__(self, lifecycle: Lifecycle, calendar: BusinessCalendar | None, sla_policy: SlaPolicy | None) -> None:
        self.lifecycle = lifecycle
        self._own_calendar = calendar
        #: The calendar business-time rules count in by default: the workflow's, the lifecycle's, or the SLA policy's.
        self.timer_calendar = calendar or (sla_policy.calendar if sla_policy is not None else None)
        self.sla_policy = sla_policy
        #: Without timers or SLA nothing is ever due.
        self.plain = not lifecycle.timers and sla_policy is None
        #: What a ticket's fold keeps for these rules and clocks (see :mod:`ticketflow.automation._fold`).
        self.folder = Folder(lifecycle, sla_policy)
        # States with a rule counting from something later than the entry (a comment, an update, a field).
        self._anchored_later = frozenset(
            state for rule in lifecycle.timers if rule.since != "state_entered" for state in rule.states
        )
        #: Whether tickets keep a fold: only what reads past a state's entry needs one (an SLA policy, or a
        #: rule counting from a later event); rules counting from the entry need the entering event alone.
        self.folds = sla_policy is not None or bool(self._anchored_later)
        for index, rule in enumerate(lifecycle.timers):
            if rule.clock == "business" and self.timer_calendar is None:
                raise InvalidLifecycle(
                    lifecycle.source,
                    f"timers[{index}].clock",
                    "counts business time, but there is no calendar: pass calendar= to the Workflow",
                )

    def timer_calendar_for(self, ticket: Ticket) -> BusinessCalendar | None:
        """The calendar *ticket*'s timed rules count in: the workflow's or lifecycle's, else the SLA policy's for it.

        With ``[sla] calendar_by``, that is the calendar of the ticket's
        organisation (group, region), as for its SLA targets. This is the
        one place that decides it.
        """
        if self._own_calendar is None and self.sla_policy is not None:
            return self.sla_policy.calendar_for(ticket.fields)
        return self.timer_calendar

    def next_due(
        self, ticket: Ticket, history: Sequence[Event], at: datetime, clocks: Sequence[SlaClock] | None = None
    ) -> datetime | None:
        """The next due instant of *ticket* with its whole *history* or its fold, as of *at*.

        *clocks*: its SLA clocks then, as :meth:`clocks` gave them.
        """
        fold = _counted(history, at)
        if fold is not None:
            return self.folder.next_due(fold, ticket, at, self.timer_calendar_for(ticket), clocks)
        return next_due(self, ticket, history, at, clocks)

    def pending(self, ticket: Ticket, history: Sequence[Event]) -> list[PendingRule]:
        """The timed rules pending on *ticket*, from its whole *history* or its fold (its state's few events)."""
        calendar = self.timer_calendar_for(ticket)
        if isinstance(history, Fold) and history.state is not None:
            return self.folder.pending(history, ticket, calendar)
        return pending_rules(self.lifecycle, ticket, history, calendar)

    def clocks(self, ticket: Ticket, history: Sequence[Event], at: datetime) -> tuple[list[SlaClock], list[int]]:
        """*ticket*'s SLA clocks as of *at* for its alerts, and the number of each one's last cycle.

        From a fold with its state, each clock is counted from its cut and
        holds its last cycle alone (:meth:`Folder.clocks`), so a sweep's
        cost does not follow the cycles a ticket has had; from a whole
        history, the clocks are ``evaluate``'s.
        """
        if self.sla_policy is None:
            return [], []
        fold = _counted(history, at)
        if fold is not None and (fold.partial or len(fold) > SHORT):  # a short whole fold: counted whole, at once
            return self.folder.clocks(fold, ticket, at)
        clocks = evaluate(self.sla_policy, self.lifecycle, ticket, history, at)
        return clocks, [len(clock.cycles) - 1 for clock in clocks]

    def after(self, history: Sequence[Event], event: Event) -> Sequence[Event]:
        """*history* (a whole history or a fold) after *event*: a fold grows by it (:meth:`Folder.extend`)."""
        if isinstance(history, Fold) and history.state is not None:
            grown = self.folder.extend(history, [event])
            if grown is not None:
                return grown
            # a part read is used only up to the instant of its last event (Reads.fold, _read): never grown back
            assert not history.partial, "a fold read in part cannot tell a history that goes back in time"  # noqa: S101
        return [*history, event]

    def due_after(
        self, ticket: Ticket, events: Sequence[Event], history: Callable[[], Sequence[Event]], at: datetime
    ) -> Any:
        """The next due instant after *events* (``UNSET``: the stored one stands); reads the history only if needed."""
        if self.plain:
            return UNSET
        if self.sla_policy is None and len(events) == 1:
            event = events[0]
            if event.source != event.target:
                return next_due(self, ticket, events, at)  # a new entry: its own event is all the rules need
            if ticket.state not in self._anchored_later:
                return UNSET  # the rules armed in this state count from its entry: their instants stand
        known = history()
        if isinstance(known, Fold) and known.state is not None:
            return self.folder.next_due(known, ticket, at, self.timer_calendar_for(ticket))
        return next_due(self, ticket, known, at)

    def stored_fold(self, fold: Sequence[Event]) -> tuple[str, Sequence[int]]:
        """What is stored of *fold*: its head (see :meth:`Folder.head`) and its seqs (a :class:`Fold` keeps them)."""
        if isinstance(fold, Fold):
            return self.folder.head(fold), Seqs(fold)
        return self.folder.key, tuple(event.seq for event in fold)

    def partial(self, until: datetime) -> PartialReads:
        """How this schedule's folds are read in part for a change or sweep at *until* (:meth:`Folder.reads`)."""
        folder = self.folder
        return PartialReads(folder.key, folder.reads, folder.accept_partial, until)

    def fold_after(self, events: Sequence[Event], before: Callable[[Accept], Sequence[Event]]) -> Any:
        """The ticket's fold after *events*: ``UNSET`` to keep the stored one, None when it has none.

        *before* gives the ticket's fold before the change (reading a stored
        one through :meth:`Folder.accept`) or its whole history: both fold
        alike. It is not called for a new ticket (*events* are its whole
        history).
        """
        if not self.folds or not events:
            return UNSET  # no rule reads past the entry, or no new event: no fold is kept, or the stored one stands
        known = () if events[0].seq == 1 else before(self.folder.accept)
        return self.folder.extend(known, events)

    def imported(self, ticket: Ticket, history: Sequence[Event]) -> datetime | None:
        """The due instant of a ticket brought in whole (an import), as of its last event.

        Raises:
            StorageError: the ticket is of another lifecycle.
        """
        if ticket.lifecycle_id != self.lifecycle.id:
            raise StorageError(
                f"is of lifecycle {ticket.lifecycle_id!r}, not {self.lifecycle.id!r}: import it with its own Workflow"
            )
        return None if self.plain else next_due(self, ticket, history, history[-1].at)
