"""Value objects: tickets, actors, comments and the events that change tickets.

All of them are frozen, slotted attrs classes. A :class:`Ticket` is the
current state; its history of :class:`Event` s is the truth, and
:func:`replay` rebuilds the ticket from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs

from ticketflow._brief import brief
from ticketflow.errors import CalendarError, FieldError, NaiveDatetime

__all__ = [
    "APP_META",
    "LIBRARY_META",
    "SYSTEM",
    "UNSET",
    "Actor",
    "Change",
    "Comment",
    "Event",
    "Ticket",
    "as_comment",
    "blank_text",
    "replay",
    "reply_of",
    "require_aware",
]

Visibility = Literal["public", "internal"]


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


#: Marks a keyword argument that was not given (``None`` means "clear it").
UNSET: Any = _Unset()

_EMPTY: frozenset[str] = frozenset()
_ALWAYS_AWARE = (timezone, ZoneInfo)
_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return *value* unchanged, or raise :class:`NaiveDatetime` when it is naive.

    ticketflow never guesses a time zone: every instant must carry one.
    """
    if not isinstance(value, datetime):
        raise CalendarError(f"{name} must be an aware datetime, got {type(value).__name__} {brief(value)}")
    if value.utcoffset() is None:
        raise NaiveDatetime(name, value)
    return value


def _aware(_inst: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    # `timezone` and `ZoneInfo` always give an offset: skip the utcoffset() call for them.
    if type(value) is not datetime or type(value.tzinfo) not in _ALWAYS_AWARE:
        require_aware(value, attribute.name)


def _tags(value: Iterable[str]) -> frozenset[str]:
    # Fast path for what the engine passes; any other iterable is copied.
    result = value if type(value) is frozenset else frozenset(value)
    return result if result else _EMPTY


def _roles(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):  # iterable: "agent" would be the roles a, g, e, n, t
        raise TypeError(f"roles must be a collection of role names, got the string {brief(value)}; write {{{value!r}}}")
    return _tags(value)


def _accounts(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise TypeError(f"accounts must be a collection of account names, got the string {brief(value)}")
    return _tags(value)


def _mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(value, MappingProxyType):
        return value
    return MappingProxyType(dict(value)) if value else _NO_FIELDS


@attrs.frozen(slots=True)
class Actor:
    """Someone (or something) acting on tickets.

    Attributes:
        id: a stable identifier from the application (user id, ``"system"``).
        roles: the roles this actor holds, such as ``{"agent"}``.
        accounts: the customer accounts (organizations) this actor belongs
            to, as the application knows them: a customer sees the tickets
            whose ``[access].shared_field`` holds one of them, and may
            acknowledge broadcasts for them.
    """

    id: str
    roles: frozenset[str] = attrs.field(default=_EMPTY, converter=_roles)
    accounts: frozenset[str] = attrs.field(default=_EMPTY, converter=_accounts, kw_only=True)


#: The actor automations act as: timed rules, link rules (role ``system``).
SYSTEM = Actor("system", roles={"system"})


@attrs.frozen(slots=True)
class Comment:
    """A comment added with a step.

    Attributes:
        author: the actor id that wrote it.
        body: the text.
        visibility: ``"public"`` (shared with the requester) or ``"internal"``.
    """

    author: str
    body: str
    visibility: Visibility = "public"

    def __attrs_post_init__(self) -> None:
        if self.visibility not in ("public", "internal"):
            got = brief(self.visibility)
            raise FieldError(None, "comment", ["visibility"], f"visibility must be 'public' or 'internal', got {got}")


@attrs.frozen(slots=True)
class Change:
    """One value before and after a step (``None`` means unset)."""

    before: Any
    after: Any


class _TicketSlots:
    """The slots of :class:`Ticket`, settable: the engine fills a new ticket here, then makes it a Ticket."""

    __slots__ = (
        "__weakref__",
        "assignee",
        "created_at",
        "fields",
        "id",
        "lifecycle_id",
        "participants",
        "requester",
        "state",
        "tags",
        "title",
        "updated_at",
        "version",
    )


@attrs.frozen(slots=True, weakref_slot=False)
class Ticket(_TicketSlots):
    """A support ticket as it is now.

    Attributes:
        id: unique id.
        lifecycle_id: the lifecycle that governs it.
        state: the current state id.
        version: how many events its history holds (1 after opening).
        created_at: when it was opened (aware).
        updated_at: when it last changed (aware).
        title: a one-line summary.
        fields: field values by name (read-only mapping).
        tags: the current tags.
        requester: the actor id who asked for help.
        assignee: the actor id working on it, if any.
        participants: actor ids kept in the loop.
    """

    id: str
    lifecycle_id: str
    state: str
    version: int
    created_at: datetime = attrs.field(validator=_aware)
    updated_at: datetime = attrs.field(validator=_aware)
    title: str = ""
    fields: Mapping[str, Any] = attrs.field(default=_NO_FIELDS, converter=_mapping)
    tags: frozenset[str] = attrs.field(default=_EMPTY, converter=_tags)
    requester: str | None = None
    assignee: str | None = None
    participants: frozenset[str] = attrs.field(default=_EMPTY, converter=_tags)


#: Ticket attributes (besides fields and tags) that an event may change.
TICKET_ATTRIBUTES = ("title", "requester", "assignee", "participants")

#: The ``Event.meta`` keys the library writes and reads back (rule firings,
#: due instants, acknowledgements, links, routing...). Only the library writes
#: them; what a caller passes as ``meta`` is stored under :data:`APP_META`
#: and never drives a rule.
LIBRARY_META = frozenset(
    {
        "ack",  # an account's acknowledgement of a broadcast
        "broadcast",  # the audience of a broadcast ticket
        "channel",  # the intake channel a ticket came in by
        "due_at",  # the instant a timed rule was due
        "duplicate_of",  # the ticket a duplicate was closed into
        "entry",  # the state entry a timed rule fired for
        "follow_up_of",  # the closed ticket a follow-up continues
        "lifecycle_fingerprint",  # the opening event's lifecycle fingerprint (sha256 of the definition)
        "lifecycle_id",  # the opening event's lifecycle
        "lifecycle_version",  # the opening event's lifecycle version
        "link",  # a link recorded on the ticket
        "merged",  # a duplicate merged into this ticket
        "migrated",  # a migration's record: versions, fingerprints, the state and field maps applied
        "priority",  # a linked record's priority
        "record",  # a linked record that changed
        "refused",  # why a timed rule could not fire
        "route",  # the routing policy that assigned the ticket
        "rule",  # the timed or link rule that caused the event
        "similar_feedback",  # a thumbs up or down for a suggestion
        "status",  # a linked record's status
    }
)
#: Where caller-supplied meta lives in ``Event.meta``.
APP_META = "app"


class _EventSlots:
    """The slots of :class:`Event`, settable (see :class:`_TicketSlots`)."""

    __slots__ = (
        "__weakref__",
        "actor",
        "at",
        "attribute_changes",
        "comment",
        "field_changes",
        "meta",
        "seq",
        "source",
        "tags_added",
        "tags_removed",
        "target",
        "ticket_id",
        "trigger",
    )


@attrs.frozen(slots=True, weakref_slot=False)
class Event(_EventSlots):
    """One accepted change to a ticket; the history is a list of these.

    Attributes:
        ticket_id: the ticket it changed.
        seq: its position in the ticket's history, from 1; the ticket's
            version right after it.
        at: when it happened (aware).
        actor: who did it.
        trigger: the trigger fired (``"open"`` for the first event,
            ``"comment"``/``"update"`` for the built-in actions).
        source: the state before (``None`` for the opening event).
        target: the state after.
        field_changes: changed fields, each as before/after.
        attribute_changes: changed ticket attributes (title, requester,
            assignee, participants), each as before/after.
        tags_added: tags added by this step.
        tags_removed: tags removed by this step.
        comment: the comment posted with it, if any.
        meta: extra facts: the opening event records ``lifecycle_id``;
            other modules add a timed rule's id, the instant it was due, a
            linked record.
    """

    ticket_id: str
    seq: int
    at: datetime = attrs.field(validator=_aware)
    actor: Actor
    trigger: str
    source: str | None
    target: str
    field_changes: Mapping[str, Change] = attrs.field(default=_NO_FIELDS, converter=_mapping)
    attribute_changes: Mapping[str, Change] = attrs.field(default=_NO_FIELDS, converter=_mapping)
    tags_added: frozenset[str] = attrs.field(default=_EMPTY, converter=_tags)
    tags_removed: frozenset[str] = attrs.field(default=_EMPTY, converter=_tags)
    comment: Comment | None = None
    meta: Mapping[str, Any] = attrs.field(default=_NO_FIELDS, converter=_mapping)


def reply_of(event: Event) -> Comment | None:
    """The comment *event* posted as a reply: its comment, unless it is a broadcast's acknowledgement.

    An acknowledgement (``meta["ack"]``, written by ``acknowledge``) is a
    comment that answers nobody: SLA conditions on comments and the timed
    rules' last comment from each side do not count it.
    """
    return None if "ack" in event.meta else event.comment


def apply_event(ticket: Ticket | None, event: Event, lifecycle_id: str = "") -> Ticket:
    """Return the ticket as it is after *event* (the opening event needs ``None``)."""
    if ticket is None:
        fields: dict[str, Any] = {}
        attributes: dict[str, Any] = {"title": "", "requester": None, "assignee": None, "participants": _EMPTY}
        tags: frozenset[str] = _EMPTY
        created = event.at
        lifecycle = lifecycle_id or str(event.meta.get("lifecycle_id", ""))
    else:
        fields = dict(ticket.fields)
        attributes = {name: getattr(ticket, name) for name in TICKET_ATTRIBUTES}
        tags = ticket.tags
        created = ticket.created_at
        lifecycle = ticket.lifecycle_id
    for name, change in event.field_changes.items():
        if change.after is None:
            fields.pop(name, None)
        else:
            fields[name] = change.after
    for name, change in event.attribute_changes.items():
        attributes[name] = change.after
    return Ticket(
        id=event.ticket_id,
        lifecycle_id=lifecycle,
        state=event.target,
        version=event.seq,
        created_at=created,
        updated_at=event.at,
        fields=fields,
        tags=(tags - event.tags_removed) | event.tags_added,
        **attributes,
    )


def replay(events: Sequence[Event]) -> Ticket:
    """Rebuild a ticket from its whole history, oldest event first.

    Raises:
        ValueError: when the history is empty or its sequence numbers are not
            1, 2, 3, ... for one ticket.
    """
    if not events:
        raise ValueError("cannot replay an empty history")
    ticket: Ticket | None = None
    for expected, event in enumerate(events, start=1):
        if event.seq != expected or event.ticket_id != events[0].ticket_id:
            raise ValueError(f"history out of order at event {expected}: seq {event.seq} of {event.ticket_id!r}")
        ticket = apply_event(ticket, event)
    assert ticket is not None  # noqa: S101 - events is not empty, checked above
    return ticket


# -- the engine's hot path ---------------------------------------------------------------------------
# A fire builds one Ticket and one Event from parts that are already in their stored form (frozensets,
# read-only mappings, an instant checked once by the caller). attrs' __init__ runs the converters and
# validators again, and a frozen class sets each slot through object.__setattr__ (together most of a
# plain fire's cost). These two fill the settable base with plain assignments (the interpreter's fast
# slot stores), then give the object its frozen class: the same layout, so the same value, frozen.
# Anything else builds values through the classes themselves.
_new = object.__new__


def stored_ticket(
    id: str,
    lifecycle_id: str,
    state: str,
    version: int,
    created_at: datetime,
    updated_at: datetime,
    title: str,
    fields: Mapping[str, Any],
    tags: frozenset[str],
    requester: str | None,
    assignee: str | None,
    participants: frozenset[str],
) -> Ticket:
    """A :class:`Ticket` from attributes already in stored form (no conversion, no validation).

    For the engine's hot path only: *fields* must be a read-only mapping,
    *tags* and *participants* frozensets, the instants aware (checked by the caller).
    """
    ticket: Any = _new(_TicketSlots)  # the slots are the Ticket's: mypy does not see them on the base
    ticket.id = id
    ticket.lifecycle_id = lifecycle_id
    ticket.state = state
    ticket.version = version
    ticket.created_at = created_at
    ticket.updated_at = updated_at
    ticket.title = title
    ticket.fields = fields
    ticket.tags = tags
    ticket.requester = requester
    ticket.assignee = assignee
    ticket.participants = participants
    ticket.__class__ = Ticket
    return ticket  # type: ignore[no-any-return]  # its class is Ticket now


def stored_event(
    ticket_id: str,
    seq: int,
    at: datetime,
    actor: Actor,
    trigger: str,
    source: str | None,
    target: str,
    field_changes: Mapping[str, Change],
    attribute_changes: Mapping[str, Change],
    tags_added: frozenset[str],
    tags_removed: frozenset[str],
    comment: Comment | None,
    meta: Mapping[str, Any],
) -> Event:
    """An :class:`Event` from attributes already in stored form (no conversion), like :func:`stored_ticket`."""
    event: Any = _new(_EventSlots)
    event.ticket_id = ticket_id
    event.seq = seq
    event.at = at
    event.actor = actor
    event.trigger = trigger
    event.source = source
    event.target = target
    event.field_changes = field_changes
    event.attribute_changes = attribute_changes
    event.tags_added = tags_added
    event.tags_removed = tags_removed
    event.comment = comment
    event.meta = meta
    event.__class__ = Event
    return event  # type: ignore[no-any-return]  # its class is Event now


def blank_text(text: str) -> bool:
    """Whether *text* has no visible character: empty, whitespace, or format and control characters alone.

    A zero-width space (``"\u200b"``) or a lone byte-order mark shows
    nothing, as ``"  "`` does: such a comment is no comment.
    """
    return all(c.isspace() or not c.isprintable() for c in text)


def as_comment(actor: Actor, comment: str | Comment | None, visibility: Visibility) -> Comment | None:
    """The :class:`Comment` an API call's *comment* stands for: a string is *actor*'s, with *visibility*.

    A blank string or :class:`Comment` (no visible character: empty,
    whitespace, zero-width or other format characters; see
    :func:`blank_text`) is no comment (``None``): an empty form field neither
    satisfies a step that needs a comment nor posts an empty reply that would
    stop a response-time clock, whatever the trigger.

    Raises:
        TypeError: the actor is not an :class:`Actor`, or the comment neither a string nor a Comment.
    """
    if comment is None:
        return None
    if isinstance(comment, Comment):
        return None if isinstance(comment.body, str) and blank_text(comment.body) else comment
    if not isinstance(actor, Actor):
        raise TypeError(f"actor must be a ticketflow.Actor, got {type(actor).__name__}")
    if not isinstance(comment, str):
        raise TypeError(f"comment must be a string or a Comment, got {type(comment).__name__}")
    if blank_text(comment):
        return None
    return Comment(actor.id, comment, visibility)
