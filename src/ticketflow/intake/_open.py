"""Opening tickets: ids and human keys, channel rules, routing, confirmations, contacts and follow-ups.

Each function gets the narrow collaborators it needs (the writer's
:class:`~ticketflow.recording.Scope`, the lifecycle's intake rules, the
assignment policies) and writes through the recorder; ``Workflow.open``,
``receive`` and ``follow_up`` delegate here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

import attrs

from ticketflow._brief import brief
from ticketflow._values import text_problem
from ticketflow.errors import ConcurrencyConflict, FieldError, InvalidLifecycle, TicketNotFound
from ticketflow.intake._intake import IntakeRules, contact_message
from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._access import Standing
from ticketflow.model import Actor, Comment, Event, Ticket, as_comment
from ticketflow.protocols import AssignmentPolicy, Link, OutboxMessage, TicketRepository
from ticketflow.recording import Reads, Scope, Step, Write, opened
from ticketflow.repository._memory import check_events

__all__ = ["TicketIds", "check_key_prefix", "confirmation", "follow_up", "open_ticket", "receive"]


def _random_id() -> str:
    return uuid.uuid4().hex


class TicketIds:
    """Makes the ids of new tickets: the next human key with a ``key_prefix``, else *factory*'s (random UUID hex).

    Args:
        repository: where the lifecycle's key sequence is kept.
        lifecycle: the lifecycle (its ``key_prefix``).
        factory: the application's id factory (``Workflow(id_factory=...)``);
            given, it is used even with a ``key_prefix``.
    """

    def __init__(
        self, repository: TicketRepository, lifecycle: Lifecycle, factory: Callable[[], str] | None = None
    ) -> None:
        self.repository = repository
        self.lifecycle = lifecycle
        self.factory = factory or _random_id
        self._keys = lifecycle.key_prefix is not None and factory is None

    def __call__(self) -> str:
        """An id for a new ticket."""
        if self._keys:
            return f"{self.lifecycle.key_prefix}-{self.repository.next_sequence(self.lifecycle.id)}"
        return self.factory()


#: The id a new ticket is judged under before it takes its human key: a refused open takes none.
_PENDING = "(new)"


def _keyed(scope: Scope, ticket_id: str | None) -> bool:
    """Whether the new ticket's id is the next human key, drawn only once the engine accepted the ticket."""
    return ticket_id is None and scope.lifecycle.key_prefix is not None


def _take_key(scope: Scope, ticket: Ticket, event: Event) -> tuple[Ticket, Event]:
    """*ticket* and its opening *event* under the next human key (the sequence moves only now).

    Raises:
        StorageError: a value no store keeps (a NUL in the title or the
            comment, as a mail body may carry), checked before a key is drawn.
    """
    check_events(ticket, (event,), event.seq)  # the stores' own check: a refused save would waste the key
    key = scope.new_id()
    return attrs.evolve(ticket, id=key), attrs.evolve(event, ticket_id=key)


def check_key_prefix(repository: TicketRepository, lifecycle: Lifecycle, key: str) -> None:
    """Human keys are unique per store: refuse a prefix another lifecycle's ticket *key* already uses.

    Raises:
        InvalidLifecycle: *key* is a ticket of another lifecycle (path ``key_prefix``).
    """
    try:
        other = repository.get(key).lifecycle_id
    except TicketNotFound:
        return
    if other != lifecycle.id:
        raise InvalidLifecycle(
            lifecycle.source,
            "key_prefix",
            f"{lifecycle.key_prefix!r} is already used by lifecycle {other!r} in this store ({key} is "
            f"its ticket): human keys are unique per store, give {lifecycle.id!r} its own key_prefix",
        )


def confirmation(lifecycle: Lifecycle, ticket: Ticket, when: datetime) -> tuple[OutboxMessage, ...]:
    """The ``ticket.opened`` message written with a new ticket when the lifecycle has human keys."""
    if lifecycle.key_prefix is None:
        return ()
    payload = {"key": ticket.id, "title": ticket.title, "to": ticket.requester}
    return (OutboxMessage(f"{ticket.id}:opened", ticket.id, "ticket.opened", payload, when),)


def _request(scope: Scope, intake: IntakeRules, trigger: str, actor: object, fields: object) -> Mapping[str, Any]:
    """The request's fields for the channel rules, its type in stored form; a refusal naming a bad argument.

    Raises:
        TypeError: the actor is not an Actor, or *fields* not a mapping.
        FieldError: the request type is not a value its field takes (a list, a dict...).
    """
    if not isinstance(actor, Actor):
        raise TypeError(f"actor must be a ticketflow.Actor, got {type(actor).__name__}")
    if fields is None:
        return {}
    if not isinstance(fields, Mapping):
        raise TypeError(f"fields must be a mapping of field names to values, got {brief(fields)}")
    name = intake.type_field
    if name is None or fields.get(name) is None:
        return fields
    return {**fields, **scope.engine.coerce_fields(None, trigger, {name: fields[name]})}


def open_ticket(
    scope: Scope,
    intake: IntakeRules,
    policies: Mapping[str, AssignmentPolicy],
    actor: Actor,
    when: datetime,
    *,
    title: str,
    fields: Mapping[str, Any] | None,
    tags: Iterable[str],
    requester: str | None,
    assignee: str | None,
    participants: Iterable[str],
    comment: str | Comment | None,
    channel: str | None,
    authenticated: bool,
    ticket_id: str | None,
) -> Ticket:
    """Open and store a ticket (``Workflow.open``): channel rules, the engine, routing, a confirmation.

    Raises:
        IntakeRefused: the channel does not take this request (nothing stored).
    """
    intake.check_ticket(channel, _request(scope, intake, "open", actor, fields), authenticated)
    lifecycle = scope.lifecycle
    meta = {"channel": channel} if channel is not None else None
    keyed = _keyed(scope, ticket_id)
    ticket, event = scope.engine.open(
        _PENDING if keyed else scope.new_id() if ticket_id is None else ticket_id,
        actor,
        when,
        title=title,
        fields=fields,
        tags=tags,
        requester=requester,
        assignee=assignee,
        participants=participants,
        comment=as_comment(actor, comment, "public"),
        meta=meta,
    )
    if keyed:
        ticket, event = _take_key(scope, ticket, event)
    if assignee is None and intake.routes:
        ticket, event = _route(scope, intake, policies, ticket, event, actor, when, comment, meta)
    return _record_new(scope, ticket, event, keyed, lambda t, step: Write(t, (step,), confirmation(lifecycle, t, when)))


def _written(
    write: Callable[[Ticket, Step], Write[Ticket]], ticket: Ticket, step: Step, _reads: Reads
) -> Write[Ticket]:
    return write(ticket, step)


#: How many human keys an open tries when the next ones are taken by tickets opened with those ids given.
_KEY_TRIES = 100


def _record_new(
    scope: Scope, ticket: Ticket, event: Event, keyed: bool, write: Callable[[Ticket, Step], Write[Ticket]]
) -> Ticket:
    """Store a new ticket; a human key already taken (``open(ticket_id="INT-7")``) moves it to the next one.

    Raises:
        InvalidLifecycle: the key is another lifecycle's (they share a ``key_prefix``).
        ConcurrencyConflict: the id is taken (an id given by the caller, or
            every key tried).
    """
    for _ in range(_KEY_TRIES):
        step = opened(ticket, event)
        try:
            return scope.recorder.record(partial(_written, write, ticket, step))
        except ConcurrencyConflict:
            if not keyed:
                raise
            check_key_prefix(scope.repository, scope.lifecycle, ticket.id)  # the key is another lifecycle's
            ticket, event = _take_key(scope, ticket, event)  # one of ours, opened with this key as its id
    raise ConcurrencyConflict(ticket.id, 0, 1)


def _route(
    scope: Scope,
    intake: IntakeRules,
    policies: Mapping[str, AssignmentPolicy],
    ticket: Ticket,
    event: Event,
    actor: Actor,
    when: datetime,
    comment: str | Comment | None,
    meta: Mapping[str, Any] | None,
) -> tuple[Ticket, Event]:
    """The new ticket with the assignee and tags of the first matching route (as it was if none)."""
    chosen = intake.route(ticket, policies, scope.repository)
    if chosen is None:
        return ticket, event
    route, assignee = chosen
    return scope.engine.open(
        ticket.id,
        actor,
        when,
        title=ticket.title,
        fields=dict(ticket.fields),
        tags=ticket.tags | route.add_tags,
        requester=ticket.requester,
        assignee=assignee,
        participants=ticket.participants,
        comment=as_comment(actor, comment, "public"),
        meta={**(meta or {}), "route": route.policy},
        checked=False,  # the route's assignee and tags; the caller's parts were checked by the first open
    )


def receive(
    scope: Scope,
    intake: IntakeRules,
    policies: Mapping[str, AssignmentPolicy],
    actor: Actor,
    when: datetime,
    *,
    channel: str,
    authenticated: bool,
    title: str,
    fields: Mapping[str, Any] | None,
    comment: str | None,
) -> Ticket | OutboxMessage:
    """A request from a channel: a ticket if the channel opens one for its type, else a contact.

    The contact is a ``contact.recorded`` outbox message, written alone.

    Raises:
        IntakeRefused: the channel refuses the request (nothing stored).
    """
    if intake.opens_ticket(channel, _request(scope, intake, "receive", actor, fields), authenticated):
        return open_ticket(
            scope, intake, policies, actor, when, title=title, fields=fields, tags=(), requester=None, assignee=None,
            participants=(), comment=comment, channel=channel, authenticated=authenticated, ticket_id=None,
        )  # fmt: skip
    # a contact is no ticket, but what it records is checked as a ticket's would be, the same way in every store
    if not isinstance(title, str) or not title.strip():
        raise FieldError(None, "receive", ["title"], "a request needs a non-empty title")
    if comment is not None and not isinstance(comment, str):
        raise TypeError(f"comment must be a string, got {type(comment).__name__}")
    for name, text in (("title", title), ("comment", comment)):
        problem = None if text is None else text_problem(text)
        if problem:
            raise FieldError(None, "receive", [name], problem)
    values = scope.engine.coerce_fields(None, "receive", fields or {})
    contact = contact_message(channel, actor.id, title, values, comment, when)
    return scope.recorder.record(lambda _reads: Write(contact, messages=(contact,)))


def _copied_fields(lifecycle: Lifecycle, previous: Ticket, standing: Standing) -> dict[str, Any]:
    """The fields a follow-up by someone of *standing* copies from *previous*.

    Those the actor may set; and, whoever sets them, the account (the
    access's ``shared_field``: the follow-up belongs to the same customer,
    who could not see it otherwise) and the fields required to enter the
    initial state that have no default (the ticket cannot open without
    them; the value is the original's, not the actor's choice). Other staff
    values (an agent's ``priority = urgent``) take their defaults, and
    fields only the lifecycle sets start again.
    """
    access = lifecycle.access
    initial = lifecycle.initial
    needed = {name for name, spec in lifecycle.fields.items() if initial in spec.required_in and spec.default is None}
    if access.shared_field is not None:
        needed.add(access.shared_field)
    # what the actor could not set on a ticket of their own, a copy must not give them, beyond what it needs
    return {k: v for k, v in previous.fields.items() if k in needed or access.may_set_field(standing, k)}


def follow_up(scope: Scope, previous: Ticket, actor: Actor, body: str, *, title: str | None, when: datetime) -> Ticket:
    """Open a ticket continuing *previous* (a reply to a closed one), linked ``follow_up_of``.

    It copies the requester, participants and the fields *actor* may set
    (a customer's follow-up does not carry an agent's ``priority = urgent``;
    fields only the lifecycle sets, such as attempt counters, start again),
    always the account (``shared_field``) and the initial state's required
    fields without a default (see :func:`_copied_fields`), records
    ``follow_up_of`` in its opening event and as a link, and carries
    *body* as its first comment, checked as a fire's would be (a customer
    may not post it in someone else's name, nor as an internal note).

    Raises:
        PermissionDenied: *body* is a :class:`~ticketflow.Comment` the actor may not post.
    """
    note = as_comment(actor, body, "public")
    access = scope.lifecycle.access
    standing = access.standing(actor)
    if not standing.free:  # the people and fields are the library's copy; the comment is the caller's
        access.check_comment(previous.id, "follow_up", actor, standing, note)
    keyed = _keyed(scope, None)
    ticket, event = scope.engine.open(
        _PENDING if keyed else scope.new_id(),  # a human key with a key_prefix, confirmed like any new ticket
        actor,
        when,
        title=title or f"Follow-up: {previous.title}",
        fields=_copied_fields(scope.lifecycle, previous, standing),
        requester=previous.requester,
        participants=previous.participants,
        comment=note,
        meta={"follow_up_of": previous.id},
        checked=False,  # the people are the previous ticket's, the fields those the actor may set; the comment: above
    )
    if keyed:
        ticket, event = _take_key(scope, ticket, event)
    return _record_new(
        scope,
        ticket,
        event,
        keyed,
        lambda t, step: Write(
            t, (step,), confirmation(scope.lifecycle, t, when), links=(Link(t.id, "follow_up_of", previous.id),)
        ),
    )
