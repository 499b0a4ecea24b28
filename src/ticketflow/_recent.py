"""The tickets a Workflow saved last: a fire may start from one instead of reading it back.

A fire reads the ticket, judges the trigger on it, and saves with a version
check. When the ticket was saved by this Workflow a moment ago, the read is
a round trip to the database that usually returns what the process already
holds. Starting from the copy kept here is safe because nothing is decided
on it alone:

- a save from a copy commits only if the stored version still equals the
  copy's (the optimistic check every save makes), so an accepted fire was
  judged on the stored ticket;
- a refusal (or any exception) judged on a copy, and a save refused as a
  conflict, are judged again on the stored ticket, and neither counts
  against ``max_retries``.

So every outcome equals the outcome of a fresh read; a copy only saves the
read when it is current.

A stale copy costs a round trip (the refused save) on top of the read it
meant to save, so copies pay only when more than half of them are current.
Two estimates decide whether a fire starts from its copy, and both must
agree:

- per ticket, what the last fire on it learned: a ticket whose last copy
  proved stale (another process fires on it too) is read first next time;
- per Workflow, a moving estimate of how often copies prove current: where
  several processes take turns on the same hot tickets, even a copy that was
  current last time is usually stale this time, and copies stop being used.

A fire that reads first still compares the stored version with its copy's,
so both estimates recover when the workload changes. Tickets a process keeps
to itself start from their copies; hot tickets shared by several processes
cost what they would without a cache.

With timers or an SLA policy, the next due instant after a fire depends on
the ticket's history, through its *fold* (the few events the clocks and
rules read, :mod:`ticketflow.automation._fold`). The copy then keeps the
fold it was saved with (when the fold ends with the event of ``version``),
within a budget of events per Workflow: the due instant computed from it is
stored only if the version check passes, i.e. only if that fold was the
stored ticket's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ticketflow.errors import LifecycleMismatch, LifecycleVersionMismatch
from ticketflow.lifecycle._migrated import recorded_version
from ticketflow.model import Event, Ticket
from ticketflow.protocols import FoldStore, PartialFolds, SnapshotReads, TicketRepository

if TYPE_CHECKING:
    from ticketflow.lifecycle import Lifecycle
    from ticketflow.recording import Reads, Step

__all__ = ["HISTORY_EVENTS", "RecentTickets", "TicketCache"]

#: How many events of folds one Workflow keeps with its copies, at most.
HISTORY_EVENTS = 20_000
_RATE = 0.05  # weight of the latest observation in the moving estimate (about the last 20 fires)


class RecentTickets:
    """At most *size* tickets by id (oldest saved dropped first), with folds up to *max_events* events in all.

    ``size=0`` keeps none.
    """

    def __init__(self, size: int, max_events: int = HISTORY_EVENTS) -> None:
        if size < 0:
            raise ValueError(f"ticket_cache must be 0 or more, not {size}")
        self._size = size
        self._max_events = max_events
        self._items: dict[str, tuple[Ticket, tuple[Event, ...] | None, bool]] = {}
        self._events = 0
        self._lock = threading.Lock()
        self._current = 1.0  # moving estimate of the share of copies that prove current

    def __len__(self) -> int:
        return len(self._items)

    def trusted(self) -> bool:
        """Whether copies pay lately: more than half of them have proved current."""
        return self._current > 0.5

    def observe(self, current: bool) -> None:
        """Record whether a copy proved current (its save passed, or the stored version equalled it)."""
        self._current += _RATE * ((1.0 if current else 0.0) - self._current)

    @property
    def size(self) -> int:
        """How many tickets are kept at most (0: the cache is off)."""
        return self._size

    @property
    def events(self) -> int:
        """How many history events are kept."""
        return self._events

    def get(self, ticket_id: str) -> tuple[Ticket, tuple[Event, ...] | None, bool] | None:
        """The copy kept for *ticket_id*, its fold if kept (both may be stale), and whether to trust it."""
        return self._items.get(ticket_id)

    def put(self, ticket: Ticket, history: Sequence[Event] | None = None, *, trusted: bool = True) -> None:
        """Keep *ticket* as the latest copy of its id, with *history* (its fold) if that ends at its version.

        *trusted*: whether the next fire should start from this copy (False
        when the last copy of this ticket proved stale).
        """
        if self._size == 0:
            return
        kept = None
        if history and history[-1].seq == ticket.version and len(history) <= self._max_events:
            kept = history if isinstance(history, tuple) else tuple(history)  # a Fold keeps its state
        with self._lock:
            self._drop(ticket.id)
            self._items[ticket.id] = (ticket, kept, trusted)
            self._events += 0 if kept is None else len(kept)
            if len(self._items) > self._size:
                self._drop(next(iter(self._items)))
            if self._events > self._max_events:
                self._trim()

    def forget(self, ticket_id: str) -> None:
        """Drop the copy of *ticket_id* (it proved stale)."""
        with self._lock:
            self._drop(ticket_id)

    def _drop(self, ticket_id: str) -> None:
        entry = self._items.pop(ticket_id, None)
        if entry is not None and entry[1] is not None:
            self._events -= len(entry[1])

    def _trim(self) -> None:
        """Forget the oldest folds (keeping their tickets) until the budget holds."""
        for ticket_id, (ticket, history, trusted) in list(self._items.items()):
            if self._events <= self._max_events:
                return
            if history is not None:
                self._items[ticket_id] = (ticket, None, trusted)
                self._events -= len(history)


class TicketCache:
    """The repository as the recorder reads it: a ticket's kept copy when copies pay, else the stored ticket.

    The recorder asks for a ticket with one flag, *fresh* (the attempt
    before was judged on a copy and refused, or its save conflicted); it
    tells the cache what each attempt learned with :meth:`forget`,
    :meth:`stale` and :meth:`saved`. The trust estimates above live here.

    Args:
        repository: the repository underneath.
        size: how many tickets to keep copies of (0: none; every read goes
            to the repository).
        max_events: the budget of fold events kept with the copies.
        histories: whether to keep folds at all (not when nothing is
            ever due: the next due instant is the only reader).
        lifecycle: the lifecycle whose tickets may be read (None: any);
            a ticket of another is refused with
            :class:`~ticketflow.LifecycleMismatch`, one in a state this
            version of it does not have with
            :class:`~ticketflow.LifecycleVersionMismatch`.
    """

    __slots__ = (
        "_doubted",
        "_snapshots",
        "folds",
        "histories",
        "keeps",
        "lifecycle",
        "lifecycle_id",
        "partial_folds",
        "recent",
        "repository",
    )

    def __init__(
        self,
        repository: TicketRepository,
        size: int,
        max_events: int = HISTORY_EVENTS,
        *,
        histories: bool = True,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.repository = repository
        #: the repository, if it reads a ticket and its history in one call (checked once, not per read)
        self._snapshots = repository if isinstance(repository, SnapshotReads) else None
        #: the repository, if it keeps each ticket's fold (checked once)
        self.folds = repository if histories and isinstance(repository, FoldStore) else None
        #: the repository, if it also reads the part of a fold a write or sweep needs (checked once)
        self.partial_folds = repository if isinstance(repository, PartialFolds) else None
        self.lifecycle = lifecycle
        self.lifecycle_id = None if lifecycle is None else lifecycle.id
        self.recent = RecentTickets(size, max_events)
        self.histories = histories
        #: whether copies are kept at all (``size`` > 0)
        self.keeps = size > 0
        self._doubted: set[str] = set()  # tickets whose copy proved stale during the write under way

    def read(self, ticket_id: str, fresh: bool) -> tuple[Ticket, tuple[Event, ...] | None, bool]:
        """The ticket, its fold if a current copy kept it, and whether the ticket is a copy."""
        try:
            entry = self.recent._items.get(ticket_id) if self.keeps else None
        except TypeError:  # an unhashable id: the store says TicketNotFound, as for any id it cannot hold
            entry = None
        if entry is None:
            return self._get(ticket_id), None, False
        copy, kept, trusted = entry  # a copy is of a ticket this cache read or saved: of its lifecycle
        if not fresh and trusted and self.recent.trusted():
            return copy, kept, True
        ticket = self._get(ticket_id)  # read first; the version tells whether the copy was current
        current = ticket.version == copy.version
        self.recent.observe(current)
        if current:
            self._doubted.discard(ticket_id)
            return ticket, kept, False
        self._doubt(ticket_id)
        return ticket, None, False

    def read_with_history(self, ticket_id: str) -> tuple[Ticket, list[Event]]:
        """The stored ticket and its history: in one round trip where the repository offers it."""
        if self._snapshots is not None:
            ticket, history = self._snapshots.get_with_history(ticket_id)
            self.check(ticket)
            return ticket, history
        return self._get(ticket_id), self.repository.history(ticket_id)

    def _get(self, ticket_id: str) -> Ticket:
        ticket = self.repository.get(ticket_id)
        self.check(ticket)
        return ticket

    def check(self, ticket: Ticket) -> None:
        """Refuse a stored *ticket* this cache's lifecycle cannot handle (before anything judges it).

        Raises:
            LifecycleMismatch: the ticket is of another lifecycle.
            LifecycleVersionMismatch: it is in a state this version of the
                lifecycle does not have (renamed, or added by a newer version).
        """
        lifecycle = self.lifecycle
        if lifecycle is None:
            return
        if ticket.lifecycle_id != lifecycle.id:
            raise LifecycleMismatch(ticket.id, ticket.lifecycle_id, lifecycle.id)
        if ticket.state not in lifecycle.states:
            version, fingerprint = recorded_version(self.repository.history(ticket.id))  # a migration's, if any
            raise LifecycleVersionMismatch(
                ticket.id,
                ticket.state,
                version,
                fingerprint,
                lifecycle.version,
                lifecycle.fingerprint,
            )

    def forget(self, ticket_ids: Iterable[str]) -> None:
        """Drop the copies of *ticket_ids* (a refusal judged on them is judged again on the stored tickets)."""
        for ticket_id in ticket_ids:
            self.recent.forget(ticket_id)

    def stale(self, ticket_ids: Iterable[str]) -> None:
        """The save of a write judged on these copies conflicted: they were stale."""
        for ticket_id in ticket_ids:
            self.recent.observe(False)
            self.recent.forget(ticket_id)
            self._doubt(ticket_id)

    def saved(self, step: Step, reads: Reads, fold: Sequence[Event] | None = None) -> None:
        """A step committed: keep its ticket (and its *fold* after the step, when the write made one)."""
        ticket = step.ticket
        if reads.copies and ticket.id in reads.copies:
            self.recent.observe(True)
        trusted = ticket.id not in self._doubted
        self._doubted.discard(ticket.id)
        self.recent.put(ticket, fold if self.histories and isinstance(fold, tuple) else None, trusted=trusted)

    def _doubt(self, ticket_id: str) -> None:
        if len(self._doubted) > self.recent._size:
            self._doubted.clear()
        self._doubted.add(ticket_id)
