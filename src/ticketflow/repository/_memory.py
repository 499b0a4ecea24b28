"""The in-memory repository: for tests, prototypes and the property suites."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Unpack

import attrs

from ticketflow._brief import brief
from ticketflow._values import scalars_fine, text_problem, texts_fine, value_problem
from ticketflow.errors import ConcurrencyConflict, StorageError, TicketNotFound
from ticketflow.model import UNSET, Actor, Event, Ticket, require_aware
from ticketflow.protocols import Delivery, Link, OutboxMessage, Page, TicketFilters
from ticketflow.repository._codec import dumps, epoch_us, loads
from ticketflow.repository._query import Query, check_limit, check_name, check_status, decode_cursor, encode_cursor

__all__ = ["MemoryRepository", "check_events", "check_message"]


def _refuse(ticket: Ticket, where: str, problem: str) -> StorageError:
    return StorageError(f"ticket {brief(ticket.id)}: {where}: {problem}; nothing was written")


#: the last actor whose id and roles were found fine (an Actor is immutable: the same object needs no new look)
_fine_actor: list[Actor | None] = [None]
#: state names and triggers found fine (a lifecycle has few; bounded all the same)
_fine_names: set[str] = set()


def _plain_step_fine(ticket: Ticket, event: Event, before: Ticket, seq: int) -> bool:
    """The fast yes for the most common save: one event that only moved the ticket, by the last actor seen.

    Everything it stores was checked before: the ticket's other values are
    *before* 's own objects, the actor the same object as the last one
    found fine, the state and trigger names among those found fine.
    """
    if not (
        event.seq == seq == ticket.version
        and event.ticket_id is ticket.id
        and event.actor is _fine_actor[0]
        and event.comment is None
        and not (event.tags_added or event.tags_removed or event.meta or event.field_changes)
        and not event.attribute_changes
        and event.source is before.state
        and event.target is ticket.state
        and _same_parts(ticket, before)
    ):
        return False
    names = _fine_names
    if ticket.state in names and event.trigger in names:
        return True
    if not texts_fine([ticket.state, event.trigger]):
        return False
    if len(names) > 4096:
        names.clear()
    names.add(ticket.state)
    names.add(event.trigger)
    return True


def _same_parts(ticket: Ticket, before: Ticket) -> bool:
    """Whether *ticket* keeps every value of *before* except its state and instants (the same objects)."""
    return (
        ticket.id is before.id
        and ticket.lifecycle_id is before.lifecycle_id
        and ticket.title is before.title
        and ticket.fields is before.fields
        and ticket.tags is before.tags
        and ticket.requester is before.requester
        and ticket.assignee is before.assignee
        and ticket.participants is before.participants
    )


def _values_fine(ticket: Ticket, events: Sequence[Event], before: Ticket | None = None) -> bool:
    """The fast yes of :func:`_check_values` for the usual ticket: flat values, ids that are not empty.

    With *before* (the stored ticket this one changes), the values it kept
    as the very same objects were checked when *before* was stored: only
    the rest is looked at.
    """
    if before is not None and _same_parts(ticket, before):
        texts = [ticket.state]
    else:
        requester, assignee = ticket.requester, ticket.assignee
        if not ticket.id or requester == "" or assignee == "" or "" in ticket.participants:
            return False
        texts = [ticket.id, ticket.lifecycle_id, ticket.state, ticket.title, *ticket.tags, *ticket.participants]
        if requester is not None:
            texts.append(requester)
        if assignee is not None:
            texts.append(assignee)
        if not scalars_fine(ticket.fields.values(), texts):
            return False
    state = ticket.state
    for event in events:
        actor = event.actor
        if actor is not _fine_actor[0]:  # the same (immutable) actor as the last one found fine: not again
            texts += (actor.id, *actor.roles)
        texts.append(event.trigger)
        if event.tags_added or event.tags_removed:
            texts += (*event.tags_added, *event.tags_removed)
        source, target = event.source, event.target
        if source is not None and (before is None or source is not before.state):
            texts.append(source)
        if target is not None and target is not state:
            texts.append(target)
        comment = event.comment
        if comment is not None:
            texts += (comment.author, comment.body, comment.visibility)
        if event.meta:
            texts += event.meta.keys()
            if not scalars_fine(event.meta.values(), texts):
                return False
        for change in event.field_changes.values():
            if not scalars_fine((change.before, change.after), texts):
                return False
    if not texts_fine(texts):
        return False
    if events:
        _fine_actor[0] = events[-1].actor
    return True


def _check_values(ticket: Ticket, events: Sequence[Event], before: Ticket | None = None) -> None:
    """Refuse what not every store can keep (see :mod:`ticketflow._values`), the same way in each."""
    if _values_fine(ticket, events, before):
        return
    texts: list[tuple[str, Any]] = [
        ("id", ticket.id),
        ("lifecycle_id", ticket.lifecycle_id),
        ("state", ticket.state),
        ("title", ticket.title),
        ("requester", ticket.requester),
        ("assignee", ticket.assignee),
    ]
    texts += [("tags", tag) for tag in ticket.tags] + [("participants", p) for p in ticket.participants]
    for where, text in texts:
        if text is None:
            continue
        if not isinstance(text, str):
            raise _refuse(ticket, where, f"expected a string, got {type(text).__name__} {brief(text)}")
        if not text and where in ("id", "requester", "assignee", "participants"):
            raise _refuse(ticket, where, "an empty string is not an id")
        problem = text_problem(text)
        if problem:
            raise _refuse(ticket, where, problem)
    problem = value_problem(dict(ticket.fields))
    if problem:
        raise _refuse(ticket, "fields", problem)
    for event in events:
        where = f"event {event.seq}"
        pieces: list[Any] = [event.actor.id, *event.actor.roles, event.trigger, event.source, event.target]
        if event.comment is not None:
            pieces += [event.comment.author, event.comment.body, event.comment.visibility]
        pieces += [*event.tags_added, *event.tags_removed, dict(event.meta)]
        pieces += [[c.before, c.after] for c in event.field_changes.values()]
        problem = value_problem(pieces)
        if problem:
            raise _refuse(ticket, where, problem)


def changed_parts(ticket: Ticket, events: Sequence[Event]) -> frozenset[str] | None:
    """What of the stored ticket *events* change: ``state``, ``fields``, ``tags`` and attribute names.

    ``None`` when there are no events to tell (then every part is written).
    The stored state is the first event's source; a part set back to what
    it was within the events still counts as changed.
    """
    if not events:
        return None
    parts: set[str] = set()
    if events[0].source != ticket.state:
        parts.add("state")
    for event in events:
        if event.field_changes:
            parts.add("fields")
        if event.tags_added or event.tags_removed:
            parts.add("tags")
        if event.attribute_changes:
            parts.update(event.attribute_changes)
    return frozenset(parts)


def check_events(ticket: Ticket, events: Sequence[Event], first_seq: int, before: Ticket | None = None) -> None:
    """Refuse events that do not continue the history up to the ticket's version, and values no store can keep.

    *before* is the stored ticket that *ticket* changes, when the caller has
    it at hand: what the two share (the same objects) is not checked again.
    """
    if before is not None and len(events) == 1 and _plain_step_fine(ticket, events[0], before, first_seq):
        return
    _check_values(ticket, events, before)
    for offset, event in enumerate(events):
        if event.ticket_id != ticket.id or event.seq != first_seq + offset:
            raise StorageError(
                f"ticket {ticket.id}: event {offset} has seq {event.seq} for {event.ticket_id!r}, "
                f"expected seq {first_seq + offset}"
            )
    if events and ticket.version != events[-1].seq:
        raise StorageError(f"ticket {ticket.id}: version {ticket.version} does not match its last event")
    if not events and first_seq == 1:
        raise StorageError(f"ticket {ticket.id}: a new ticket needs its opening event")


def check_message(message: OutboxMessage) -> None:
    """Refuse an outbox message some store could not keep, the same way in every store, before anything is written.

    Its key, ticket id and kind are text every store keeps (the key and kind
    not empty), its ``created_at`` is aware, and its payload a mapping of
    values every store keeps (:func:`ticketflow._values.value_problem`: text,
    64-bit integers, finite floats, lists and string-keyed mappings), so a
    notifier gets the same payload whichever store held it.

    Raises:
        StorageError: naming the message and the part at fault; TypeError: an
            argument that is no OutboxMessage, or a key that is no string.
        NaiveDatetime: ``created_at`` without a zone.
    """
    if not isinstance(message, OutboxMessage):
        raise TypeError(f"expected an OutboxMessage, got {type(message).__name__} {brief(message)}")
    if not isinstance(message.key, str):
        raise TypeError(f"an outbox message's key must be a string, got {type(message.key).__name__}")

    def refuse(where: str, problem: str) -> StorageError:
        return StorageError(f"outbox message {brief(message.key)}: {where}: {problem}; nothing was written")

    for where in ("key", "ticket_id", "kind"):
        text = getattr(message, where)
        if not isinstance(text, str):
            raise refuse(where, f"expected a string, got {type(text).__name__} {brief(text)}")
        if not text and where != "ticket_id":  # a contact or a refusal mail is about no ticket
            raise refuse(where, "an empty string cannot name a message")
        problem = text_problem(text)
        if problem:
            raise refuse(where, problem)
    require_aware(message.created_at, "created_at")
    payload = message.payload
    if not isinstance(payload, Mapping):
        raise refuse("payload", f"expected a mapping, got {type(payload).__name__} {brief(payload)}")
    problem = value_problem(dict(payload))
    if problem:
        raise refuse("payload", problem)


def _as_stored(message: OutboxMessage) -> OutboxMessage:
    """*message* with its payload as the SQL stores give it back: a copy, with lists as tuples."""
    return attrs.evolve(message, payload=loads(dumps(dict(message.payload))))


class _MemoryTransaction:
    def __init__(self) -> None:
        self.ops: list[tuple[str, Any]] = []

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None, fold: Any = None) -> None:
        check_events(ticket, events, 1)
        self.ops.append(("add", (ticket, list(events), due, fold)))

    def save(
        self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET, fold: Any = UNSET
    ) -> None:
        check_events(ticket, events, expected_version + 1)
        self.ops.append(("save", (ticket, list(events), expected_version, due, fold)))

    def enqueue(self, message: OutboxMessage) -> None:
        check_message(message)
        self.ops.append(("enqueue", _as_stored(message)))

    def link(self, link: Link) -> None:
        self.ops.append(("link", link))


@attrs.define
class _Outboxed:
    """A stored outbox message with its delivery state (mutated under the repository's lock)."""

    message: OutboxMessage
    delivered: bool = False
    undeliverable: bool = False
    attempts: int = 0
    last_error: str | None = None
    delivered_at: datetime | None = None
    retry_at: datetime | None = None
    owner: str | None = None
    lease_until: float = 0.0  # time.time() of the claim's end

    def record(self) -> Delivery:
        status = "delivered" if self.delivered else "undeliverable" if self.undeliverable else "pending"
        return Delivery(self.message, status, self.attempts, self.last_error, self.delivered_at, self.retry_at)


class MemoryRepository:
    """Tickets and histories in process memory, safe across threads.

    Nothing survives the process; use :class:`~ticketflow.SQLiteRepository`
    for that. Queries scan every ticket; ``due`` keeps a sorted index
    (a heap with lazy deletion: setting a due instant costs O(log n), moving one away nothing).
    """

    def __init__(self) -> None:
        self._tickets: dict[str, Ticket] = {}
        self._events: dict[str, list[Event]] = {}
        # Each ticket's due instant, with the token of its entry in the heap below.
        self._due: dict[str, tuple[datetime, int]] = {}
        # (epoch µs, ticket id, token): a min-heap, so the earliest (ties in ticket-id order) comes first. An
        # entry whose token is no longer its ticket's is stale: skipped when read, dropped when the heap is
        # compacted. Setting a due instant is one push (a later instant than most: about O(1) comparisons),
        # moving or clearing one touches nothing in the heap, at any store size.
        self._due_heap: list[tuple[int, str, int]] = []
        self._due_tokens = itertools.count()
        self._outbox: dict[str, _Outboxed] = {}
        self._lock = threading.RLock()
        self._sequences: dict[str, int] = {}
        self._links: set[Link] = set()
        # FoldStore: (head, seqs, their events or None: looked up on read) by ticket
        self._folds: dict[str, tuple[str, tuple[int, ...], Sequence[Event] | None]] = {}

    # -- writing -------------------------------------------------------------------

    def add(self, ticket: Ticket, events: Sequence[Event], *, due: datetime | None = None, fold: Any = None) -> None:
        """Store a new ticket with its first events (and its fold, :class:`~ticketflow.protocols.FoldStore`)."""
        with self.transaction() as tx:
            tx.add(ticket, events, due=due, fold=fold)

    def save(
        self, ticket: Ticket, events: Sequence[Event], expected_version: int, *, due: Any = UNSET, fold: Any = UNSET
    ) -> None:
        """Store the changed ticket and its events if nobody saved it meanwhile."""
        tickets = self._tickets
        ticket_id = ticket.id
        check_events(ticket, events, expected_version + 1, tickets.get(ticket_id))
        with self._lock:  # the version check and _apply_save, inlined: this is every fire's save
            current = tickets.get(ticket_id)
            if current is None:
                raise TicketNotFound(ticket_id)
            if current.version != expected_version:
                raise ConcurrencyConflict(ticket_id, expected_version, current.version)
            tickets[ticket_id] = ticket
            self._events[ticket_id].extend(events)
            if due is not UNSET:
                self._set_due(ticket_id, due)
            if fold is not UNSET:
                self._set_fold(ticket_id, fold)

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        """Stage writes; they are checked and applied together when the block ends."""
        tx = _MemoryTransaction()
        yield tx
        with self._lock:
            pending: dict[str, int] = {}
            for kind, op in tx.ops:  # check everything first: all or nothing
                if kind == "add":
                    ticket = op[0]
                    if ticket.id in self._tickets or ticket.id in pending:
                        raise ConcurrencyConflict(ticket.id, 0, self._version(ticket.id, pending))
                    pending[ticket.id] = ticket.version
                elif kind == "save":
                    ticket, _, expected, _, _ = op
                    current = self._version(ticket.id, pending)
                    if current is None:
                        raise TicketNotFound(ticket.id)
                    if current != expected:
                        raise ConcurrencyConflict(ticket.id, expected, current)
                    pending[ticket.id] = ticket.version
            for kind, op in tx.ops:
                if kind == "add":
                    ticket, events, due, fold = op
                    self._tickets[ticket.id] = ticket
                    self._events[ticket.id] = events
                    self._set_due(ticket.id, due)
                    self._set_fold(ticket.id, fold)
                elif kind == "save":
                    self._apply_save(*op[:2], *op[3:])
                elif kind == "link":
                    self._links.add(op)
                elif op.key not in self._outbox:
                    self._outbox[op.key] = _Outboxed(op)

    def _version(self, ticket_id: str, pending: Mapping[str, int]) -> int | None:
        if ticket_id in pending:
            return pending[ticket_id]
        ticket = self._tickets.get(ticket_id)
        return None if ticket is None else ticket.version

    def _apply_save(self, ticket: Ticket, events: Sequence[Event], due: Any, fold: Any) -> None:
        self._tickets[ticket.id] = ticket
        self._events[ticket.id].extend(events)
        if due is not UNSET:
            self._set_due(ticket.id, due)
        if fold is not UNSET:
            self._set_fold(ticket.id, fold)

    def _set_fold(self, ticket_id: str, fold: tuple[str, Sequence[int]] | None) -> None:
        if fold is None:
            self._folds.pop(ticket_id, None)
        else:
            seqs = fold[1]
            # the recorder's seqs carry their events (ticketflow.automation._fold.Seqs): kept, not looked up again
            events = getattr(seqs, "events", None)
            carried = isinstance(events, tuple) and len(events) == len(seqs)
            if not (carried and (not seqs or events[-1].seq == seqs[-1])):  # type: ignore[index]
                events = None  # none carried, or not these seqs' events: looked up on read
            self._folds[ticket_id] = (fold[0], seqs if isinstance(seqs, tuple) else tuple(seqs), events)

    def next_sequence(self, name: str) -> int:
        """The next number of the named sequence."""
        check_name("sequence name", name)
        with self._lock:
            value = self._sequences[name] = self._sequences.get(name, 0) + 1
            return value

    def reschedule(self, ticket_id: str, due: datetime | None) -> None:
        """Set (or clear) the ticket's next due instant."""
        with self._lock:
            if ticket_id not in self._tickets:
                raise TicketNotFound(ticket_id)
            self._set_due(ticket_id, due)

    def _set_due(self, ticket_id: str, due: datetime | None) -> None:
        if due is None:
            self._due.pop(ticket_id, None)  # its heap entry is stale now
            return
        require_aware(due, "due")
        token = next(self._due_tokens)
        self._due[ticket_id] = (due, token)
        heap = self._due_heap
        heapq.heappush(heap, (epoch_us(due), ticket_id, token))
        if len(heap) > 2 * len(self._due) + 1024:  # mostly stale: rebuild from the live entries (amortised O(1))
            self._due_heap = [(epoch_us(when), tid, tok) for tid, (when, tok) in self._due.items()]
            heapq.heapify(self._due_heap)

    # -- reading -------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        """The ticket as last saved."""
        try:
            return self._tickets[ticket_id]
        except (KeyError, TypeError):  # TypeError: an unhashable id, which no store can hold either
            raise TicketNotFound(ticket_id) from None

    def get_with_history(self, ticket_id: str) -> tuple[Ticket, list[Event]]:
        """The ticket and its whole history, read together (:class:`~ticketflow.protocols.SnapshotReads`)."""
        with self._lock:
            try:
                return self._tickets[ticket_id], list(self._events[ticket_id])
            except (KeyError, TypeError):
                raise TicketNotFound(ticket_id) from None

    def fold(self, ticket_id: str) -> tuple[str, Sequence[Event]] | None:
        """The head and events of the ticket's stored fold (:class:`~ticketflow.protocols.FoldStore`).

        The events a write carried are returned as they were kept (an
        immutable tuple with their seqs, not copied or walked again).
        """
        with self._lock:
            stored = self._folds.get(ticket_id)
            if stored is None:
                return None
            if stored[2] is not None:
                return stored[0], stored[2]
            events = self._events[ticket_id]
            return stored[0], [events[seq - 1] for seq in stored[1]]

    def history(self, ticket_id: str) -> list[Event]:
        """All events of the ticket, oldest first."""
        with self._lock:
            try:
                return list(self._events[ticket_id])
            except (KeyError, TypeError):
                raise TicketNotFound(ticket_id) from None

    def find(self, *, limit: int = 100, after: str | None = None, **filters: Unpack[TicketFilters]) -> Page:
        """One page of matching tickets in id order (a scan: this is the memory adapter)."""
        query = Query.build(**filters)
        limit = check_limit(limit)
        start = decode_cursor(after)
        with self._lock:
            ids = sorted(i for i in self._tickets if start is None or i > start)
            found: list[Ticket] = []
            for ticket_id in ids:
                ticket = self._tickets[ticket_id]
                if query.matches(ticket):
                    if len(found) == limit:
                        return Page(tuple(found), encode_cursor(found[-1].id))
                    found.append(ticket)
        return Page(tuple(found), None)

    def count(self, **filters: Unpack[TicketFilters]) -> int:
        """How many tickets match."""
        query = Query.build(**filters)
        with self._lock:
            return sum(1 for t in self._tickets.values() if query.matches(t))

    def due(self, now: datetime, limit: int = 100, *, lifecycle_id: str | None = None) -> list[tuple[str, datetime]]:
        """Tickets (of *lifecycle_id*, if given) whose next timer is at or before *now*, earliest first."""
        require_aware(now, "now")
        limit = check_limit(limit)
        until = epoch_us(now)
        with self._lock:
            result: list[tuple[str, datetime]] = []
            heap, live = self._due_heap, self._due
            taken: list[tuple[int, str, int]] = []  # the live entries looked at, pushed back after
            while heap and heap[0][0] <= until and len(result) < limit:
                entry = heapq.heappop(heap)
                _, ticket_id, token = entry
                current = live.get(ticket_id)
                if current is None or current[1] != token:
                    continue  # stale: dropped for good
                taken.append(entry)
                if lifecycle_id is None or self._tickets[ticket_id].lifecycle_id == lifecycle_id:
                    result.append((ticket_id, current[0]))
            for entry in taken:
                heapq.heappush(heap, entry)
            return result

    def pending_messages(self, limit: int = 100) -> list[OutboxMessage]:
        """Undelivered outbox messages, oldest first."""
        limit = check_limit(limit)
        with self._lock:
            pending = [o.message for o in self._outbox.values() if not o.delivered]
        return sorted(pending, key=lambda m: (m.created_at, m.key))[:limit]

    def _outboxed(self, key: str) -> _Outboxed:
        found = self._outbox.get(key)
        if found is None:
            raise StorageError(f"no outbox message with key {key!r}")
        return found

    def mark_delivered(self, key: str, at: datetime | None = None) -> None:
        """Take a message off the pending list (recording *at* as its delivery instant)."""
        check_name("message key", key)
        with self._lock:
            entry = self._outboxed(key)
            entry.delivered, entry.delivered_at, entry.owner, entry.lease_until = True, at, None, 0.0
            entry.attempts += 1

    def claim_messages(
        self, kinds: Collection[str], now: datetime, *, owner: str, lease: timedelta, limit: int = 100
    ) -> list[Delivery]:
        """Lease up to *limit* undelivered messages of *kinds*, due for an attempt at *now*, oldest first."""
        require_aware(now, "now")
        limit = check_limit(limit)
        wanted = frozenset(kinds)
        with self._lock:
            clock = time.time()
            free = [
                o
                for o in self._outbox.values()
                if not o.delivered
                and o.message.kind in wanted
                and (o.retry_at is None or o.retry_at <= now)
                and o.lease_until <= clock
            ]
            free.sort(key=lambda o: (o.message.created_at, o.message.key))
            for entry in free[:limit]:
                entry.owner, entry.lease_until = owner, clock + lease.total_seconds()
            return [entry.record() for entry in free[:limit]]

    def mark_failed(self, key: str, error: str, retry_at: datetime) -> None:
        """Record a failed attempt; the message is not claimed again before *retry_at*."""
        require_aware(retry_at, "retry_at")
        with self._lock:
            entry = self._outboxed(key)
            entry.attempts += 1
            entry.last_error, entry.retry_at, entry.owner, entry.lease_until = error, retry_at, None, 0.0
            entry.undeliverable = False

    def mark_undeliverable(self, handled: Collection[str]) -> dict[str, int]:
        """Flag pending messages whose kind is not in *handled*; return how many were newly flagged, by kind."""
        wanted = frozenset(handled)
        flagged: dict[str, int] = {}
        with self._lock:
            clock = time.time()
            for entry in self._outbox.values():
                kind = entry.message.kind
                free = not entry.delivered and not entry.undeliverable and entry.lease_until <= clock
                if free and kind not in wanted:
                    entry.undeliverable, entry.last_error = True, f"no notifier for kind {kind!r}"
                    flagged[kind] = flagged.get(kind, 0) + 1
        return flagged

    def requeue(self, key: str) -> None:
        """Make a message pending again (delivered or not), to be delivered once more."""
        with self._lock:
            entry = self._outboxed(key)
            entry.delivered = entry.undeliverable = False
            entry.delivered_at = entry.retry_at = entry.owner = None
            entry.lease_until = 0.0

    def deliveries(
        self, *, ticket_id: str | None = None, key: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The delivery log: messages (of a ticket, a key, a status) with their attempts, oldest first."""
        limit = check_limit(limit)
        check_status(status)
        with self._lock:
            found = [
                o.record()
                for o in self._outbox.values()
                if (ticket_id is None or o.message.ticket_id == ticket_id) and (key is None or o.message.key == key)
            ]
        found = [d for d in found if status is None or d.status == status]
        found.sort(key=lambda d: (d.message.created_at, d.message.key))
        return found[:limit]

    def links(self, ticket_id: str) -> list[Link]:
        """The ticket's links, in (kind, target) order."""
        with self._lock:
            return sorted(
                (link for link in self._links if link.ticket_id == ticket_id), key=lambda k: (k.kind, k.target)
            )

    def linked(self, target: str) -> list[Link]:
        """The links pointing at *target*, by ticket id."""
        with self._lock:
            return sorted((link for link in self._links if link.target == target), key=lambda k: (k.ticket_id, k.kind))

    def __repr__(self) -> str:
        return f"MemoryRepository({len(self._tickets)} tickets)"
