"""The seams of ticketflow, as Protocols, each with the contract it must keep.

Applications implement these to plug in their own clock, guards, actions,
notifiers and storage; ticketflow ships implementations of each and, in
:mod:`ticketflow.testing`, suites that check an implementation keeps its
contract.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Unpack, runtime_checkable

import attrs

from ticketflow.model import UNSET, Event, Ticket

if TYPE_CHECKING:
    from ticketflow.lifecycle import GuardContext

__all__ = [
    "Action",
    "AssignmentPolicy",
    "ClaimingOutbox",
    "Clock",
    "Delivery",
    "FoldStore",
    "Guard",
    "Link",
    "Notifier",
    "OutboxMessage",
    "Page",
    "PartialFolds",
    "SnapshotFolds",
    "TicketFilters",
    "TicketRepository",
    "Transaction",
]


@runtime_checkable
class Clock(Protocol):
    """Where "now" comes from.

    Contract: ``now()`` returns a timezone-aware datetime and never goes
    backwards between calls in one process.
    """

    def now(self) -> datetime:
        """The current instant (aware)."""
        ...


@runtime_checkable
class Guard(Protocol):
    """A named condition a transition may require, registered by the application.

    Contract: pure and quick — it reads the context and answers; it must not
    change the ticket or call back into the workflow. Returning ``False``
    refuses the transition with :class:`~ticketflow.TransitionNotAllowed`.
    """

    def __call__(self, context: GuardContext, /) -> bool:
        """Whether the transition may happen."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Delivers outbox messages of one kind (e-mail, Slack, a webhook...).

    Contract: called once per pending message, after the change that wrote it
    committed; returning means delivered; raising means "try again later".
    A crash between delivering and recording can deliver a message twice:
    deduplicate on ``message.key``.
    """

    def __call__(self, message: OutboxMessage, /) -> None:
        """Deliver the message."""
        ...


@runtime_checkable
class Action(Protocol):
    """A named side effect run after a transition has been saved.

    Contract: it receives the saved ticket and the event that changed it; the
    change is already committed, so an exception it raises reaches the caller
    but undoes nothing. It should be idempotent where it can be.
    """

    def __call__(self, ticket: Ticket, event: Event, /) -> None:
        """Do the side effect."""
        ...


@runtime_checkable
class AssignmentPolicy(Protocol):
    """Picks the assignee of a new (or rerouted) ticket (``[intake]`` routes name one).

    Contract: given the ticket as opened and the repository, return an actor
    id or None (leave it unassigned); read, never write.
    """

    def __call__(self, ticket: Ticket, repository: TicketRepository, /) -> str | None:
        """The assignee for *ticket*."""
        ...


@attrs.frozen
class Page:
    """One page of a query: tickets in id order, and the cursor for the next page.

    Attributes:
        tickets: the tickets of this page.
        next_cursor: pass as ``after=`` to get the next page; ``None`` on the last.
    """

    tickets: tuple[Ticket, ...]
    next_cursor: str | None


@attrs.frozen
class OutboxMessage:
    """A message to deliver, written in the same transaction as the change causing it.

    Attributes:
        key: unique idempotency key (a message with a known key is not stored twice).
        ticket_id: the ticket it is about.
        kind: what it is (``ticket.opened``, ``reminder``, ``sla.breached``...).
        payload: JSON-compatible data for the notifier.
        created_at: when it was written (aware).
    """

    key: str
    ticket_id: str
    kind: str
    payload: Mapping[str, Any]
    created_at: datetime


@attrs.frozen
class Delivery:
    """An outbox message and how its delivery went: one line of the delivery log.

    Attributes:
        message: the message.
        status: ``pending`` (waiting, or backing off after a failure),
            ``undeliverable`` (a sweeper found no notifier for its kind; it is
            delivered as soon as one is registered) or ``delivered``.
        attempts: notifier calls so far (failed ones, and the one that delivered it).
        last_error: the last failure, if any (``"no notifier for kind ..."`` when undeliverable).
        delivered_at: when the notifier returned (aware; None until delivered).
        next_attempt_at: a failed message is not tried again before this instant.
    """

    message: OutboxMessage
    status: str
    attempts: int = 0
    last_error: str | None = None
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None


@runtime_checkable
class ClaimingOutbox(Protocol):
    """The outbox calls of a repository that leases messages to one deliverer and keeps a delivery log.

    The built-in repositories implement it; :func:`ticketflow.automation.deliver`
    falls back to one-process delivery for a repository that does not.

    Contract, checked by :class:`ticketflow.testing.RepositoryContract`:

    - ``claim_messages`` leases undelivered messages of the given kinds whose
      ``next_attempt_at`` is not after *now*, oldest first, to *owner* for
      *lease* (real time); a leased message is not claimed again until the
      lease ends or the message is marked delivered or failed;
    - ``mark_delivered`` records the delivery (and one more attempt);
      ``mark_failed`` records an attempt, its error and ``next_attempt_at``;
    - ``mark_undeliverable`` flags the pending, unleased messages of kinds
      outside *handled* and returns how many it newly flagged, by kind; a
      flagged message is still claimed for its kind;
    - ``requeue`` makes a message pending again; ``deliveries`` lists the log
      (by ticket, key, status), oldest first.
    """

    def claim_messages(
        self, kinds: Collection[str], now: datetime, *, owner: str, lease: timedelta, limit: int = 100
    ) -> list[Delivery]:
        """Lease up to *limit* undelivered messages of *kinds* due for an attempt at *now*, oldest first."""
        ...

    def mark_delivered(self, key: str, at: datetime | None = None) -> None:
        """Record a delivery at *at*."""
        ...

    def mark_failed(self, key: str, error: str, retry_at: datetime) -> None:
        """Record a failed attempt; not claimed again before *retry_at*."""
        ...

    def mark_undeliverable(self, handled: Collection[str]) -> dict[str, int]:
        """Flag pending messages of kinds not in *handled*; how many were newly flagged, by kind."""
        ...

    def requeue(self, key: str) -> None:
        """Make a message pending again."""
        ...

    def deliveries(
        self, *, ticket_id: str | None = None, key: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The delivery log, oldest first."""
        ...


@runtime_checkable
class ClaimingDue(Protocol):
    """A repository that leases due tickets to one sweeper at a time (several sweepers on one database).

    :func:`ticketflow.automation.run_due` claims due work through it where a
    repository implements it (:class:`~ticketflow.PostgresRepository` does),
    and lists it with ``due`` otherwise.

    Contract, checked by :class:`ticketflow.testing.RepositoryContract`:

    - ``claim_due`` returns what ``due`` would (the tickets, of *lifecycle_id*
      when given, whose next due instant is at or before *now*, earliest
      first, at most *limit*), and leases each one to this caller: a leased
      ticket is not claimed again until the lease ends;
    - saving the ticket with a due instant, or rescheduling it, ends its lease.
    """

    def claim_due(
        self, now: datetime, limit: int = 100, *, lifecycle_id: str | None = None
    ) -> list[tuple[str, datetime]]:
        """Like ``due``, but each ticket returned is leased to this caller."""
        ...


@runtime_checkable
class SnapshotReads(Protocol):
    """A repository that reads a ticket and its history together, from one snapshot.

    A sweeper reads both for every due ticket; where a repository implements
    this, it is one call (one round trip on a database) and the two agree.

    Contract, checked by :class:`ticketflow.testing.RepositoryContract`:
    ``get_with_history(id) == (get(id), history(id))`` when nobody writes in
    between, and an unknown id raises :class:`~ticketflow.TicketNotFound`.
    """

    def get_with_history(self, ticket_id: str) -> tuple[Ticket, list[Event]]:
        """The ticket as last saved and its whole history, oldest first."""
        ...


@runtime_checkable
class FoldStore(Protocol):
    """A repository that keeps each ticket's *fold* beside it: the events its SLA clocks and timed rules read.

    A write that knows the fold passes it to ``add``/``save`` (and to a
    transaction's) as ``fold=(head, seqs)``: *head* is a text the library
    reads back as it was written (what the fold was made for, and its
    state), *seqs* the events it holds; ``fold=None`` clears it. The fold is
    written with the ticket, in the same transaction, so it is as current as
    the ticket's version. A Workflow then computes a ticket's next due
    instant and SLA clocks from a handful of events instead of its whole
    history. Optional: without it, the history is read instead.
    """

    def fold(self, ticket_id: str) -> tuple[str, Sequence[Event]] | None:
        """The head and the events (oldest first, a list or a tuple) of the fold stored with the ticket; None: none."""
        ...


@runtime_checkable
class SnapshotFolds(Protocol):
    """A :class:`FoldStore` that reads several tickets with their folds at once, from one snapshot.

    A sweep reads, for each due ticket, the ticket and the events its timed
    rules and SLA clocks read; where a repository implements this, a batch
    of due tickets is one call (a couple of statements on a database) and
    each ticket agrees with its fold. Optional: without it a sweep reads
    each ticket, then its fold.

    Contract, checked by :class:`ticketflow.testing.RepositoryContract`:
    ``get_with_folds(ids)[id] == (get(id), fold(id))`` for each stored id
    when nobody writes in between; unknown ids are left out.
    """

    def get_with_folds(self, ticket_ids: Sequence[str]) -> dict[str, tuple[Ticket, tuple[str, list[Event]] | None]]:
        """Each stored ticket of *ticket_ids* with its fold (head and events, as :meth:`FoldStore.fold`; None: none)."""
        ...


#: What :meth:`PartialFolds.get_with_partial_folds` returns per fold: its head, the events read, the stored
#: text of its seqs and whether the events are part of the fold (True) or all of it (False).
PartialFold = tuple[str, list[Event], str, bool]


@runtime_checkable
class PartialFolds(Protocol):
    """A :class:`FoldStore` that reads only the part of each fold a write or a sweep needs, with its ticket.

    A reply-heavy ticket's fold holds every public reply (each starts or
    stops a reply clock), yet a sweep and a write need only the events its
    head names: each SLA metric's last cycle, the timed rules' entry,
    firings and last comments, and the fold's last event. Where a repository
    implements this, those are read and nothing else, so a ticket of a
    thousand replies is swept in a few events. Optional: without it the
    whole fold is read (:meth:`FoldStore.fold`, :meth:`SnapshotFolds.get_with_folds`).

    *pick* is ticketflow's reading of a head it wrote (``Folder.reads`` of
    the Workflow whose folds are stored under *key*): the seqs of the events
    the head's state names, or None for a head it cannot read. A repository
    calls it, or names the same seqs itself from the head in its query
    language, as :class:`~ticketflow.repository.postgres.PostgresRepository`
    does; so *pick* is never anything but that reading, and the contract
    below holds for it.

    Contract, checked by :class:`ticketflow.testing.RepositoryContract`, for
    each id of *ticket_ids* the repository stores (others, and ids it could
    not store, are left out; an id asked twice comes once), when nobody
    writes in between:

    - the ticket equals ``get(id)``, read in the same snapshot as its fold;
      a ticket without a stored fold comes with None;
    - otherwise with ``(head, events, stored, partial)``: *head* is the
      stored fold's head, as :meth:`FoldStore.fold` returns it; *stored*
      is the stored JSON text of the fold (``[head, seq, ...]``, the seqs in
      the order they were saved); *partial* says whether *events* are a part;
    - a fold stored under *key* (its head starts with ``key + " "``) of
      more than 32 events is read in part: *events* are the ticket's events
      with the seqs *pick* names, each once, oldest first, and *partial* is
      True; any other fold (another key's, a shorter one: a part would save
      nothing) is read whole: *events* as :meth:`FoldStore.fold` returns
      them, *partial* False.
    """

    def get_with_partial_folds(
        self, ticket_ids: Sequence[str], key: str, pick: Callable[[str], Sequence[int] | None]
    ) -> dict[str, tuple[Ticket, PartialFold | None]]:
        """Each stored ticket of *ticket_ids* with the part of its fold *pick* names (or all of it), one snapshot."""
        ...


@attrs.frozen
class Link:
    """A typed link from a ticket to another ticket or to an external record.

    Attributes:
        ticket_id: the ticket the link belongs to.
        kind: ``relates_to``, ``blocks``, ``caused_by``, ``follow_up_of``,
            ``duplicate_of`` (or your own).
        target: another ticket's id, or ``record:<kind>:<key>`` for a record
            in another tracker.
    """

    ticket_id: str
    kind: str
    target: str


@runtime_checkable
class Transaction(Protocol):
    """Writes that commit together or not at all (see :meth:`TicketRepository.transaction`)."""

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None) -> None:
        """Stage a new ticket (as :meth:`TicketRepository.add`)."""
        ...

    def save(self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET) -> None:
        """Stage a change (as :meth:`TicketRepository.save`)."""
        ...

    def enqueue(self, message: OutboxMessage) -> None:
        """Stage an outbox message."""
        ...

    def link(self, link: Link) -> None:
        """Stage a link (adding an existing one changes nothing)."""
        ...


class TicketFilters(TypedDict, total=False):
    """The filters of ``find``/``count``; every one given must hold.

    Adapters take them as ``**filters`` and pass them to one place that checks
    them (``Query.build`` in ``ticketflow.repository``), so a new filter is
    added here and there, not in every signature.
    """

    #: one state, or any of several
    state: str | Collection[str] | None
    #: the assignee's id
    assignee: str | None
    #: a tag the ticket carries
    tag: str | None
    #: fields that must have exactly these values
    field: Mapping[str, Any] | None
    #: the lifecycle's id
    lifecycle_id: str | None
    #: last changed strictly before this instant (aware)
    updated_before: datetime | None
    #: the requester's id
    requester: str | None
    #: last changed at or after this instant (aware)
    updated_after: datetime | None


@runtime_checkable
class TicketRepository(Protocol):
    """Storage for tickets, their histories, their next due instants and an outbox.

    Contract, checked by :class:`ticketflow.testing.RepositoryContract`:

    - ``add`` stores a new ticket with its first events; an existing id is a
      :class:`~ticketflow.ConcurrencyConflict`.
    - ``get`` returns the latest saved ticket or raises
      :class:`~ticketflow.TicketNotFound` (``history`` too).
    - ``save`` writes the ticket **and** its new events atomically, only if
      the stored version is still ``expected_version``; otherwise it raises
      :class:`~ticketflow.ConcurrencyConflict` and writes nothing. Events
      must continue the history (``seq`` = version + 1, + 2, ...) and the
      ticket's ``version`` must equal the last one, else
      :class:`~ticketflow.StorageError`.
    - ``due`` (keyword of ``add``/``save``): the ticket's next timer instant,
      or ``None``; ``save`` keeps the stored one when it is not given.
      ``due(now, limit)`` lists ``(ticket_id, instant)`` with instant <= now,
      earliest first (ties by id), from an index, only those of
      ``lifecycle_id`` when it is given; ``reschedule`` moves it
      without a change to the ticket.
    - ``find``/``count`` filter by state(s), assignee, tag, field values,
      lifecycle and ``updated_before``; ``find`` pages in id order with an
      opaque cursor, so paging never skips or repeats a ticket that exists
      throughout.
    - ``transaction()`` is a context manager yielding a :class:`Transaction`:
      everything staged in it commits together when the block ends, or
      nothing does if it raises.
    - the outbox: ``enqueue`` (in a transaction) stores a message once per
      key; ``pending_messages`` lists undelivered ones, oldest first;
      ``mark_delivered`` removes one from that list.
    - links (staged with ``tx.link``) are queryable both ways: ``links`` of
      a ticket, and ``linked`` to a target.
    """

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None) -> None:
        """Store a new ticket and its opening events."""
        ...

    def get(self, ticket_id: str) -> Ticket:
        """The ticket as last saved."""
        ...

    def save(self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET) -> None:
        """Store the changed ticket and its new events, or raise ConcurrencyConflict."""
        ...

    def history(self, ticket_id: str) -> list[Event]:
        """All events of the ticket, oldest first."""
        ...

    def reschedule(self, ticket_id: str, due: datetime | None) -> None:
        """Set (or clear) the ticket's next due instant without changing the ticket."""
        ...

    def next_sequence(self, name: str) -> int:
        """The next number (1, 2, ...) of a named sequence, unique under concurrency."""
        ...

    def find(self, *, limit: int = 100, after: str | None = None, **filters: Unpack[TicketFilters]) -> Page:
        """One page of tickets matching every filter given (see :class:`TicketFilters`), in id order."""
        ...

    def count(self, **filters: Unpack[TicketFilters]) -> int:
        """How many tickets match every filter given (see :class:`TicketFilters`)."""
        ...

    def due(self, now: datetime, limit: int = 100, *, lifecycle_id: str | None = None) -> list[tuple[str, datetime]]:
        """Tickets (of *lifecycle_id*, if given) whose next timer is at or before *now*, earliest first."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A unit of work: staged writes commit together or not at all."""
        ...

    def pending_messages(self, limit: int = 100) -> list[OutboxMessage]:
        """Outbox messages not yet delivered, oldest first."""
        ...

    def mark_delivered(self, key: str) -> None:
        """Take a delivered message off the pending list."""
        ...

    def links(self, ticket_id: str) -> list[Link]:
        """The links of a ticket (to tickets and records), in (kind, target) order."""
        ...

    def linked(self, target: str) -> list[Link]:
        """The links pointing at *target* (a ticket id or ``record:<kind>:<key>``), by ticket id."""
        ...
