"""The recorder: the one write sequence every change to a ticket goes through.

read → judge (the engine, called by the writer's *plan*) → next due instant
(the :class:`Schedule` it is given) → one versioned save of every ticket the
write touches, with their events, outbox messages and links, in one
transaction → on a conflict, the whole sequence again (one retry policy) →
after commit, the actions of every transition the write fired, once each.

Writers (``Workflow.fire``, link rules, merges, broadcasts, timers,
imports...) only say *what* changes: a plan reads through :class:`Reads`
and returns a :class:`Write` of :class:`Step` s. How a new writer adds a
step kind:

1. write a function that builds a :class:`Step` (like :func:`opened`,
   :func:`fired`, :func:`imported`): the ticket after the change, its new
   events, the version it was read at (``None`` for a new ticket), the
   names of the actions to run after commit, and ``due`` when the writer
   knows the instant (else the schedule computes it);
2. return it in a :class:`Write` from a plan given to
   :meth:`Recorder.record`.

A plan must be a pure function of what it reads: it may run more than once
(a conflict re-runs it on fresh reads), and nothing it computes is stored
unless the whole write commits. A check that refuses a change (access, a
migration's precondition) raises a :class:`~ticketflow.TicketflowError`
from the plan; nothing is written then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

import attrs

from ticketflow.errors import ConcurrencyConflict, LifecycleError, TicketflowError
from ticketflow.model import UNSET, Actor, Comment, Event, Ticket
from ticketflow.protocols import Link, OutboxMessage, SnapshotFolds, TicketRepository

if TYPE_CHECKING:
    from ticketflow._recent import TicketCache
    from ticketflow.lifecycle import Engine, Lifecycle
    from ticketflow.protocols import Action, Guard

__all__ = [
    "Accept",
    "Reads",
    "Recorder",
    "Schedule",
    "Scope",
    "Step",
    "Write",
    "current_fold",
    "entry_notices",
    "fired",
    "imported",
    "opened",
    "record_step",
]

R = TypeVar("R")
log = logging.getLogger("ticketflow.events")


class Schedule(Protocol):
    """The recorder's scheduling collaborator: when something is next due for a ticket.

    ``due_after`` gets the ticket after a change, the change's new events,
    a function returning the ticket's whole history including them (read
    only when called), and the instant of the change. It returns the next
    due instant, ``None`` for nothing due, or ``UNSET`` to keep the stored
    instant (the change cannot have moved it).

    ``fold_after`` gives the ticket's *fold* after the change (the events its
    clocks and rules read, :mod:`ticketflow.automation._fold`): the recorder
    hands ``due_after`` the fold instead of the whole history, keeps it with
    the ticket's cached copy and stores it where the repository keeps folds
    (:class:`~ticketflow.protocols.FoldStore`), so a write's cost follows the
    fold, not the history.
    """

    def due_after(
        self, ticket: Ticket, events: Sequence[Event], history: Callable[[], Sequence[Event]], at: datetime
    ) -> Any:
        """The ticket's next due instant after *events* (``None``: nothing; ``UNSET``: unchanged)."""
        ...

    def stored_fold(self, fold: Sequence[Event]) -> tuple[str, Sequence[int]]:
        """What a repository stores of a fold of :meth:`fold_after`: its head (key and state) and its seqs."""
        ...

    def fold_after(self, events: Sequence[Event], before: Callable[[Accept], Sequence[Event]]) -> Any:
        """The ticket's fold after *events* (``None``: none; ``UNSET``: keep the stored one).

        *before* gives the fold before the change (or the whole history),
        reading a stored fold through the *accept* it is given.
        """
        ...

    def partial(self, until: datetime) -> PartialReads:
        """How a fold is read in part for a change (or a sweep) at *until*, where the repository can."""
        ...


#: Turns a stored fold (its head and events) into the schedule's fold, or None when it is not one of its own.
Accept = Callable[[str, Sequence[Event]], Sequence[Event] | None]


class PartialReads(NamedTuple):
    """How a sweep reads folds in part, where the repository can (:class:`~ticketflow.protocols.PartialFolds`).

    Attributes:
        key: the key of the folds read in part (another key's fold is read whole).
        pick: the seqs to read of a fold, from its head (None: read it whole).
        accept: a fold read in part (head, events, stored text) as the
            schedule's fold, or None when it is not one of its own.
        until: the change's or sweep's instant: a fold whose last event is
            later is not used (its clocks would need the whole history).
    """

    key: str
    pick: Callable[[str], Sequence[int] | None]
    accept: Callable[[str, Sequence[Event], str], Sequence[Event] | None]
    until: datetime


def current_fold(stored: tuple[str, Sequence[Event]] | None, accept: Accept, version: int) -> Sequence[Event] | None:
    """A fold a repository returned, if it ends at the ticket's *version* and *accept* takes it (else None)."""
    if stored is None or not stored[1] or stored[1][-1].seq != version:
        return None
    return accept(*stored)


def current_part(
    version: int,
    stored: tuple[str, Sequence[Event], str, bool] | None,
    accept: Accept,
    partial: PartialReads | None,
) -> Sequence[Event] | None:
    """The schedule's fold of a fold read whole or in part (head, events, stored text, in part?) at *version*.

    As :class:`~ticketflow.protocols.PartialFolds` reads it; a part is used
    only with *partial* and only up to ``partial.until`` (None otherwise).
    """
    if stored is None:
        return None
    head, events, text, in_part = stored
    if not in_part or partial is None:
        return current_fold((head, events), accept, version)
    if not events or events[-1].seq != version:  # the part read ends with the ticket's last event
        return None
    fold = partial.accept(head, events, text)
    if fold is None or fold[-1].at > partial.until:
        return None  # another's, or a clock as of an instant before its last event: the whole history tells
    return fold


class Step(NamedTuple):
    """One ticket's change within a write (an immutable tuple: it is built on every fire, so it is cheap).

    Attributes:
        ticket: the ticket after the change.
        events: its new events (continuing the history).
        expected_version: the version it was read at; ``None`` for a new ticket.
        actions: names of registry actions to run, after commit, with the
            ticket and its last new event (a fired transition's ``actions``).
        due: the next due instant if the writer knows it; ``UNSET`` lets
            the recorder's schedule compute it.
        notify: whether the recorder's notices apply (an import brings in
            history that already happened, and notifies nobody).
    """

    ticket: Ticket
    events: Sequence[Event]
    expected_version: int | None = None
    actions: tuple[str, ...] = ()
    due: Any = UNSET
    notify: bool = True


def opened(ticket: Ticket, event: Event) -> Step:
    """A new ticket with its opening event."""
    return Step(ticket, (event,))


def fired(before: Ticket, after: Ticket, event: Event, transition: Any = None) -> Step:
    """A step the engine judged on *before*; *transition* (or ``None``) is the one it took."""
    return Step(after, (event,), before.version, () if transition is None else transition.actions)


def imported(ticket: Ticket, events: Sequence[Event], due: datetime | None) -> Step:
    """A ticket brought in whole with its history (an import); *due* computed by the importer."""
    return Step(ticket, tuple(events), None, (), due, notify=False)


def entry_notices(lifecycle: Lifecycle) -> Callable[[Step], list[OutboxMessage]] | None:
    """The outbox messages of the lifecycle's state ``notify`` lists, per step (``None``: no state notifies).

    Each event that enters a state (an opening event enters the initial
    one) writes one message per name the state lists, keyed by ticket,
    event and name, so it is written once. The payload names the ticket,
    the state, the trigger, who acted, the requester (``to``), the
    step's public comment (an agent's question, a resolution), if any, the
    assignee and the ticket's fields but its internal ones (a product
    manager to ping).
    """
    notifying = {sid: state.notify for sid, state in lifecycle.states.items() if state.notify}
    if not notifying:
        return None
    internal = frozenset(name for name, spec in lifecycle.fields.items() if spec.internal)

    def notices(step: Step) -> list[OutboxMessage]:
        messages = []
        ticket = step.ticket
        for event in step.events:
            names = notifying.get(event.target, ())
            if not names or event.source == event.target:
                continue
            comment = event.comment
            payload = {
                "ticket_id": ticket.id,
                "title": ticket.title,
                "state": event.target,
                "trigger": event.trigger,
                "by": event.actor.id,
                "to": ticket.requester,
                "comment": comment.body if comment is not None and comment.visibility == "public" else None,
                "assignee": ticket.assignee,
                "fields": {k: v for k, v in ticket.fields.items() if k not in internal},
            }
            for name in names:
                key = f"{ticket.id}:{event.seq}:{name}"
                messages.append(OutboxMessage(key, ticket.id, name, payload, event.at))
        return messages

    return notices


class Write(NamedTuple, Generic[R]):
    """What a plan decided: the steps, outbox messages and links to commit together, and its result.

    An immutable tuple, like :class:`Step`.

    Attributes:
        result: what :meth:`Recorder.record` returns once the write committed.
        steps: the tickets' changes.
        messages: outbox messages.
        links: links to add.
    """

    result: R
    steps: Sequence[Step] = ()
    messages: Sequence[OutboxMessage] = ()
    links: Sequence[Link] = ()


class Reads:
    """What a plan reads, in one attempt: tickets (a cached copy unless the attempt is fresh) and histories."""

    __slots__ = ("_cache", "_folds", "_fresh", "_histories", "copies")

    def __init__(self, cache: TicketCache, fresh: bool) -> None:
        self._cache = cache
        self._fresh = fresh
        self._histories: dict[str, Sequence[Event]] | None = None
        self._folds: dict[str, Sequence[Event]] | None = None  # folds kept with the copies read
        #: ids of the tickets this attempt read from copies (judged again on a fresh read if refused)
        self.copies: list[str] | None = None

    @property
    def repository(self) -> TicketRepository:
        """The repository underneath (for queries that are not reads of one ticket)."""
        return self._cache.repository

    def ticket(self, ticket_id: str) -> Ticket:
        """The ticket (:class:`~ticketflow.TicketNotFound` if none)."""
        ticket, fold, copy = self._cache.read(ticket_id, self._fresh)
        if copy:
            if self.copies is None:
                self.copies = []
            self.copies.append(ticket_id)
        if fold is not None:
            self._keep_fold(ticket_id, fold)
        return ticket

    def fold(
        self, ticket_id: str, accept: Accept, version: int, partial: PartialReads | None = None
    ) -> Sequence[Event]:
        """The ticket's fold at *version*, or its whole history when no such fold is at hand.

        From this attempt's reads, the copy's kept fold, or the fold the
        repository stores (:class:`~ticketflow.protocols.FoldStore`); a
        fold of another key or version is not used. With *partial*, where
        the repository can, only the part of the stored fold its state names
        is read (``get_with_partial_folds``): a write and a sweep need no more.
        """
        history = self.known_history(ticket_id)
        if history is not None:
            return history
        fold = None if self._folds is None else self._folds.get(ticket_id)
        if fold and fold[-1].seq == version:
            return fold
        stores = self._cache.folds
        in_part = self._cache.partial_folds
        if stores is not None and partial is not None and in_part is not None:
            read = in_part.get_with_partial_folds([ticket_id], partial.key, partial.pick).get(ticket_id)
            found = current_part(version, None if read is None else read[1], accept, partial)
            if found is not None:
                self._keep_fold(ticket_id, found)  # read once per attempt, like a history
                return found
        elif stores is not None:
            stored = current_fold(stores.fold(ticket_id), accept, version)
            if stored is not None:
                self._keep_fold(ticket_id, stored)  # read once per attempt, like a history
                return stored
        return self.history(ticket_id)

    def tickets_and_folds(
        self, ticket_ids: Sequence[str], accept: Accept, partial: PartialReads | None = None
    ) -> dict[str, tuple[Ticket, Sequence[Event]]]:
        """Fresh tickets with what their rules and clocks read (the current fold, else the history), read together.

        Only where the repository reads several tickets with their folds from
        one snapshot (:class:`~ticketflow.protocols.SnapshotFolds`); else
        nothing is read and the result is empty. With *partial*, where the
        repository can, only the events a fold's state names are read
        (:class:`~ticketflow.protocols.PartialFolds`). A ticket left out
        (unknown, of another lifecycle, in a state this version lacks) is for
        the caller to read alone, where it fails as it would.
        """
        repository = self._cache.repository
        if not isinstance(repository, SnapshotFolds):
            return {}
        in_part = self._cache.partial_folds
        if partial is not None and in_part is not None:
            found = in_part.get_with_partial_folds(ticket_ids, partial.key, partial.pick)
        else:
            found = {
                tid: (t, None if f is None else (*f, "", False))
                for tid, (t, f) in repository.get_with_folds(ticket_ids).items()
            }
        read: dict[str, tuple[Ticket, Sequence[Event]]] = {}
        for ticket_id, (ticket, stored) in found.items():
            try:
                self._cache.check(ticket)
            except LifecycleError:
                continue
            fold = current_part(ticket.version, stored, accept, partial)
            if fold is None:
                read[ticket_id] = (ticket, self.history(ticket_id))
                continue
            self._keep_fold(ticket_id, fold)
            read[ticket_id] = (ticket, fold)
        return read

    def history(self, ticket_id: str) -> Sequence[Event]:
        """The ticket's stored history, oldest first (read once per attempt)."""
        history = self.known_history(ticket_id)
        if history is None:
            history = self._cache.repository.history(ticket_id)
            self._remember(ticket_id, history)
        return history

    def ticket_and_history(self, ticket_id: str) -> tuple[Ticket, Sequence[Event]]:
        """Both, always fresh: in one round trip where the repository offers it."""
        ticket, history = self._cache.read_with_history(ticket_id)
        self._remember(ticket_id, history)
        return ticket, history

    def _keep_fold(self, ticket_id: str, fold: Sequence[Event]) -> None:
        if self._folds is None:
            self._folds = {}
        self._folds[ticket_id] = fold

    def known_history(self, ticket_id: str) -> Sequence[Event] | None:
        """The history if this attempt has it already (read, or kept with a copy)."""
        return None if self._histories is None else self._histories.get(ticket_id)

    def _remember(self, ticket_id: str, history: Sequence[Event]) -> None:
        if self._histories is None:
            self._histories = {}
        self._histories[ticket_id] = history


class Recorder:
    """Runs writes: plan, schedule, one transaction, retry on conflict, actions after commit.

    Args:
        cache: the repository as the recorder reads it (a
            :class:`~ticketflow._recent.TicketCache`, with or without copies).
        schedule: computes the next due instant of a changed ticket
            (``None``: the recorder stores none, unless a step gives one).
        actions: the registry's actions by name (read at each write, so
            later registrations count).
        listeners: called after commit with (ticket, event) for every event
            written (a live list: later additions count).
        max_retries: how often a write refused by a concurrent writer is run
            again on fresh reads before :class:`~ticketflow.ConcurrencyConflict`
            reaches the caller. A conflict or refusal judged on a cached copy
            is judged again on the stored ticket without counting.
        notices: the outbox messages a step writes by itself (the
            lifecycle's state ``notify`` lists, see :func:`entry_notices`),
            committed with it whichever writer made it.
    """

    def __init__(
        self,
        cache: TicketCache,
        *,
        schedule: Schedule | None = None,
        actions: Mapping[str, Action] | None = None,
        max_retries: int = 3,
        listeners: Sequence[Callable[[Ticket, Event], None]] = (),
        notices: Callable[[Step], list[OutboxMessage]] | None = None,
    ) -> None:
        self.cache = cache
        self.notices = notices
        self.repository = cache.repository
        self.schedule = schedule
        self._keeps_folds = cache.folds is not None
        self.actions: Mapping[str, Action] = actions if actions is not None else {}
        self.listeners = listeners
        self.max_retries = max_retries

    def record(self, plan: Callable[[Reads], Write[R]]) -> R:
        """Run *plan* and commit what it returns; return its result.

        Raises:
            TicketflowError: whatever the plan raised (nothing written).
            ConcurrencyConflict: other writers kept winning for ``max_retries``
                attempts (nothing written).
        """
        attempt = 0
        fresh = False
        cache = self.cache
        while True:
            reads = Reads(cache, fresh)
            try:
                write = plan(reads)
                steps = write.steps
                if self.notices is not None:
                    write = self._with_notices(write)
                folds = None if self.schedule is None else [self._fold(step, reads) for step in steps]
                dues = None if folds is None else [self._due(s, f, reads) for s, f in zip(steps, folds, strict=True)]
            except TicketflowError:
                if not reads.copies:
                    raise
                cache.forget(reads.copies)  # judged on a copy: judge again on the stored tickets
                fresh = True
                continue
            try:
                self._commit(write, dues, folds)
            except ConcurrencyConflict:
                if reads.copies:
                    cache.stale(reads.copies)  # not a retry: the copy was stale
                    fresh = True
                    continue
                if attempt >= self.max_retries:
                    raise
                attempt += 1
                continue
            if cache.keeps:
                for index, step in enumerate(steps):
                    cache.saved(step, reads, None if folds is None else folds[index])
            if self.listeners:
                self._notify(steps)
            for step in steps:
                if step.actions:
                    event = step.events[-1]
                    for name in step.actions:
                        self.actions[name](step.ticket, event)
            return write.result

    def _notify(self, steps: Sequence[Step]) -> None:
        """The after-commit event hook: every listener sees every event written, once."""
        for step in steps:
            for event in step.events:
                for listener in self.listeners:
                    try:
                        listener(step.ticket, event)
                    except Exception:  # committed: a listener's failure undoes nothing and stops no other
                        log.exception("event listener %r failed on %s #%d", listener, event.ticket_id, event.seq)

    def _with_notices(self, write: Write[R]) -> Write[R]:
        notices = self.notices
        assert notices is not None  # noqa: S101 - called only with notices
        extra = [message for step in write.steps if step.notify for message in notices(step)]
        if not extra:
            return write
        return write._replace(messages=(*write.messages, *extra))

    def _fold(self, step: Step, reads: Reads) -> Any:
        """The step's ticket's fold after it (``UNSET``: none kept; None: none, read whole histories)."""
        assert self.schedule is not None  # noqa: S101 - called only with a schedule
        ticket_id, version, schedule = step.ticket.id, step.expected_version or 0, self.schedule
        if not step.events:
            return schedule.fold_after(step.events, lambda accept: reads.fold(ticket_id, accept, version))
        partial = schedule.partial(step.events[0].at)  # a fold ending after the change's instant: the history tells
        return schedule.fold_after(step.events, lambda accept: reads.fold(ticket_id, accept, version, partial))

    def _due(self, step: Step, fold: Any, reads: Reads) -> Any:
        if step.due is not UNSET or self.schedule is None:
            return step.due
        ticket, events = step.ticket, step.events
        if fold is not UNSET and fold is not None:
            return self.schedule.due_after(ticket, events, lambda: fold, events[-1].at)
        if step.expected_version is None:
            return self.schedule.due_after(ticket, events, lambda: events, events[-1].at)

        def history() -> Sequence[Event]:
            return [*reads.history(ticket.id), *events]

        return self.schedule.due_after(ticket, events, history, events[-1].at)

    def _stored(self, fold: Any) -> dict[str, Any]:
        """The ``fold=`` argument of a save (none when the repository keeps no folds or there is none to keep)."""
        if fold is UNSET or not self._keeps_folds:
            return {}
        if fold is None:
            return {"fold": None}
        assert self.schedule is not None  # noqa: S101 - folds come from the schedule
        return {"fold": self.schedule.stored_fold(fold)}

    def _commit(self, write: Write[Any], dues: list[Any] | None, folds: list[Any] | None) -> None:
        steps = write.steps
        repository: Any = self.repository  # with fold= where it is a FoldStore
        if len(steps) == 1 and not write.messages and not write.links:
            step = steps[0]
            due = step.due if dues is None else dues[0]
            stored = {} if folds is None else self._stored(folds[0])
            if step.expected_version is None:
                repository.add(step.ticket, step.events, due=None if due is UNSET else due, **stored)
            else:
                repository.save(step.ticket, step.events, step.expected_version, due=due, **stored)
            return
        if not steps and not write.messages and not write.links:
            return
        if dues is None:
            dues = [step.due for step in steps]
        with repository.transaction() as tx:
            for index, (step, due) in enumerate(zip(steps, dues, strict=True)):
                stored = {} if folds is None else self._stored(folds[index])
                if step.expected_version is None:
                    tx.add(step.ticket, step.events, due=None if due is UNSET else due, **stored)
                else:
                    tx.save(step.ticket, step.events, step.expected_version, due=due, **stored)
            for message in write.messages:
                tx.enqueue(message)
            for link in write.links:
                tx.link(link)


@attrs.frozen
class Scope:
    """What a writer of one lifecycle's tickets is given: the recorder, the engine, the guards, new ids.

    Attributes:
        recorder: the write path.
        engine: the lifecycle's engine (judges every change).
        guards: the registry's guards by name.
        new_id: makes the id of a new ticket.
    """

    recorder: Recorder
    engine: Engine
    guards: Mapping[str, Guard]
    new_id: Callable[[], str]

    @property
    def lifecycle(self) -> Lifecycle:
        """The lifecycle."""
        return self.engine.lifecycle

    @property
    def repository(self) -> TicketRepository:
        """The repository the recorder writes to."""
        return self.recorder.repository


def record_step(
    scope: Scope,
    ticket_id: str,
    trigger: str,
    actor: Actor,
    *,
    at: datetime,
    meta: Mapping[str, Any],
    comment: Comment | None = None,
    related: bool = False,
) -> Ticket:
    """Store a step the library makes with its own meta (an acknowledgement, feedback), retrying conflicts.

    *related* says the library established the actor's relation to the
    ticket by other means (a broadcast's audience); every other check of the
    engine applies.
    """
    engine, guards = scope.engine, scope.guards

    def plan(reads: Reads) -> Write[Ticket]:
        ticket = reads.ticket(ticket_id)
        new, event, taken = engine.apply(
            ticket, trigger, actor, at, comment=comment, meta=meta, guards=guards, related=related
        )
        return Write(new, (fired(ticket, new, event, taken),))

    return scope.recorder.record(plan)
