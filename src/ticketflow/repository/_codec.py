"""Tickets and events to and from JSON-compatible dicts (storage and export share it).

Datetimes are ISO 8601 strings with their UTC offset; JSON arrays come back as
tuples (as the engine stores ``list`` fields), so a value survives a round
trip through storage and compares equal.

The SQL stores keep each event as one JSON text. Since 0.1 it is a flat
array (:func:`event_to_json`: a format number, then the fields in a fixed
order), which parses about three times faster than the keyed object export
uses; rows written as objects before still read (:func:`events_from_json`
takes both).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import attrs

from ticketflow._brief import brief
from ticketflow.errors import StorageError, TicketflowError
from ticketflow.model import _EMPTY, _NO_FIELDS, Actor, Change, Comment, Event, Ticket, require_aware, stored_ticket
from ticketflow.protocols import OutboxMessage, PartialFold

__all__ = [
    "dumps",
    "event_from_dict",
    "event_to_dict",
    "event_to_json",
    "events_from_json",
    "fold_head",
    "fold_reads",
    "fold_to_json",
    "loads",
    "partial_folds",
    "ticket_from_dict",
    "ticket_to_dict",
]

#: The one encoder every stored JSON text goes through: compact, key-sorted, strict (NaN refused).
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)


def _one_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode``, built once: the C encoder that method makes anew on every call, where there is one.

    It skips the encoder's check for circular values; such a value raises
    RecursionError instead, which :func:`dumps` refuses the same way.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return _ENCODER.encode
    encoder = make(None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, False)
    join = "".join

    def encode(value: Any) -> str:
        return join(encoder(value, 0))

    return encode


_encode = _one_encoder()
_parse = json.loads
_fromiso = datetime.fromisoformat
#: The first item of a stored event array: the flat format's number (objects are the format before it).
FLAT_EVENT = 2
_FLAT_LENGTH = 15
_FLAT_MIN = 8  # through the target: the items after it may be left out when empty
_ABSENT = (None,) * _FLAT_LENGTH
_VISIBILITIES = frozenset({"public", "internal"})
_new = object.__new__


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch, in integers only (the SQL stores' sortable instants)."""
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def ticket_from_row(row: Sequence[Any], tags: Iterable[str]) -> Ticket:
    """A Ticket from the SQL stores' first eleven columns, with its tags given apart.

    The columns: id, lifecycle_id, state, version, created_at, updated_at,
    title, fields (JSON text), requester, assignee, participants (JSON text).

    Raises:
        StorageError: the row is damaged (bad JSON, a bad instant, a wrong kind).
    """
    try:
        fields = {} if row[7] == "{}" else loads(row[7])  # most tickets: no fields, no participants
        people = () if row[10] == "[]" else loads(row[10])
        created, updated = _fromiso(row[4]), _fromiso(row[5])
        if type(fields) is dict and type(people) is tuple and created.tzinfo is not None and updated.tzinfo is not None:
            # the values in their stored form already (what Ticket's converters would make): no converters again
            return stored_ticket(
                row[0], row[1], row[2], row[3], created, updated, row[6],
                MappingProxyType(fields) if fields else _NO_FIELDS,
                frozenset(tags) or _EMPTY, row[8], row[9], frozenset(people) or _EMPTY,
            )  # fmt: skip
        return Ticket(
            id=row[0],
            lifecycle_id=row[1],
            state=row[2],
            version=row[3],
            created_at=datetime.fromisoformat(row[4]),
            updated_at=datetime.fromisoformat(row[5]),
            title=row[6],
            fields=loads(row[7]),
            tags=tags,
            requester=row[8],
            assignee=row[9],
            participants=loads(row[10]),
        )
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise StorageError(
            f"ticket {brief(row[0])}: its stored row is damaged ({brief(exc)}); fix or restore it"
        ) from None


def outbox_row(message: OutboxMessage) -> tuple[str, str, str, str, str, int]:
    """The SQL stores' outbox columns: key, ticket_id, kind, payload (JSON text), created_at, created_us."""
    require_aware(message.created_at, "created_at")
    created = message.created_at
    payload = dumps(dict(message.payload))
    return (message.key, message.ticket_id, message.kind, payload, created.isoformat(), epoch_us(created))


def _tuples(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        return tuple([_tuples(v) for v in value])
    if kind is dict:
        return {k: _tuples(v) for k, v in value.items()}
    return value


def dumps(value: Any) -> str:
    """Compact, key-sorted, strict JSON (stable text for identical values; NaN and infinity refused).

    Raises:
        StorageError: the value has no strict JSON form.
    """
    try:
        return _encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StorageError(f"a value has no strict JSON form ({brief(exc)})") from None


def fold_to_json(fold: tuple[str, Sequence[int]] | None) -> str | None:
    """The stored form of a fold (:class:`~ticketflow.protocols.FoldStore`): a JSON array, its head first.

    The seqs follow the head, in the order of their ``text`` when they carry
    one (:class:`~ticketflow.automation._fold.Seqs`: kept as the fold grows,
    so a long fold is not encoded again on each write), else as given.
    Readers order the events by seq.
    """
    if fold is None:
        return None
    head, seqs = fold
    text = getattr(seqs, "text", None)
    if isinstance(text, str) and text:
        return f"[{dumps(head)},{text}]"
    return dumps([head, *seqs])


#: A fold read in part for a sweep (``get_with_partial_folds``): its head, its events read, its stored text, and
#: whether those events are only the ones the reader named (and the last) rather than the whole fold.
_DECODER = json.JSONDecoder()


def fold_head(stored: str) -> str:
    """The head of a stored fold (its first item), read without parsing the seqs after it."""
    return head_and_end(stored)[0]


def head_and_end(stored: str) -> tuple[str, int]:
    """The head of a stored fold and the index just after it in *stored* (where the seqs' text begins)."""
    head, end = _DECODER.raw_decode(stored, 1)
    return head, end


#: A fold of this many events or fewer is read whole (a part would save nothing) and evaluated in one pass.
SHORT_FOLD = 32


def fold_reads(stored: str, key: str, pick: Callable[[str], Sequence[int] | None]) -> tuple[str, list[int], bool]:
    """The head of a *stored* fold and the seqs to read of it, oldest first, and whether that is part of the fold.

    For a fold stored under *key*, *pick* names the seqs the reader needs
    from the head, the fold's last among them (None: it cannot tell). A fold
    under another key, one *pick* cannot tell, and a short one
    (:data:`SHORT_FOLD` events or fewer) are read whole
    (:class:`~ticketflow.protocols.PartialFolds`).
    """
    head, end = head_and_end(stored)
    named = None
    if head.startswith(f"{key} ") and stored.count(",", end) > SHORT_FOLD:  # a comma before each seq
        named = pick(head)
    if named is None:
        return head, sorted(_parse(stored)[1:]), False
    return head, sorted(named), True


def partial_folds(
    found: Sequence[tuple[Ticket, tuple[str, str, bool] | None]], bodies: Sequence[tuple[str, str]]
) -> dict[str, tuple[Ticket, PartialFold | None]]:
    """Each ticket of *found* (with its head, stored text and partial flag) with the events of *bodies* it owns.

    *bodies*: (ticket id, event text) rows, by ticket then seq.
    """
    by_ticket: dict[str, list[str]] = {}
    for ticket_id, body in bodies:
        by_ticket.setdefault(ticket_id, []).append(body)
    read: dict[str, tuple[Ticket, PartialFold | None]] = {}
    for ticket, part in found:
        if part is None:
            read[ticket.id] = (ticket, None)
        else:
            head, stored, partial = part
            read[ticket.id] = (
                ticket,
                (head, events_from_json(ticket.id, by_ticket.get(ticket.id, [])), stored, partial),
            )
    return read


def loads(text: str) -> Any:
    """JSON with arrays as tuples."""
    return _tuples(_parse(text))


def _changes(changes: Mapping[str, Change]) -> dict[str, list[Any]]:
    return {name: [c.before, c.after] for name, c in changes.items()}


def _from_changes(data: Mapping[str, Any], *, attributes: bool = False) -> dict[str, Change]:
    result = {}
    for name, (before, after) in data.items():
        if attributes and name == "participants":
            before = frozenset(before) if before is not None else None
            after = frozenset(after) if after is not None else None
        result[name] = Change(before, after)
    return result


def _people(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value


def ticket_to_dict(ticket: Ticket) -> dict[str, Any]:
    """A ticket as a JSON-compatible dict."""
    return {
        "id": ticket.id,
        "lifecycle_id": ticket.lifecycle_id,
        "state": ticket.state,
        "version": ticket.version,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "title": ticket.title,
        "fields": dict(ticket.fields),
        "tags": sorted(ticket.tags),
        "requester": ticket.requester,
        "assignee": ticket.assignee,
        "participants": sorted(ticket.participants),
    }


def ticket_from_dict(data: Mapping[str, Any]) -> Ticket:
    """The ticket back from :func:`ticket_to_dict` output.

    Raises:
        StorageError: the data is not a ticket.
    """
    try:
        return Ticket(
            id=data["id"],
            lifecycle_id=data["lifecycle_id"],
            state=data["state"],
            version=data["version"],
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            title=data["title"],
            fields=_tuples(dict(data["fields"])),
            tags=data["tags"],
            requester=data["requester"],
            assignee=data["assignee"],
            participants=data["participants"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"not a ticket record ({brief(exc)}): {brief(dict(data))}") from exc


def _actor_to_dict(actor: Actor) -> dict[str, Any]:
    # accounts only when there are some: older records (and most actors) have none
    if actor.accounts:
        return {"id": actor.id, "roles": sorted(actor.roles), "accounts": sorted(actor.accounts)}
    return {"id": actor.id, "roles": sorted(actor.roles)}


def event_to_dict(event: Event) -> dict[str, Any]:
    """An event as a JSON-compatible dict."""
    comment = event.comment
    return {
        "ticket_id": event.ticket_id,
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": _actor_to_dict(event.actor),
        "trigger": event.trigger,
        "source": event.source,
        "target": event.target,
        "field_changes": _changes(event.field_changes),
        "attribute_changes": {k: [_people(c.before), _people(c.after)] for k, c in event.attribute_changes.items()},
        "tags_added": sorted(event.tags_added),
        "tags_removed": sorted(event.tags_removed),
        "comment": None
        if comment is None
        else {"author": comment.author, "body": comment.body, "visibility": comment.visibility},
        "meta": dict(event.meta),
    }


def event_from_json(text: str) -> Event:
    """The event back from its stored JSON text (:func:`event_from_dict` turns arrays into tuples where they matter)."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StorageError(f"a stored event is damaged ({brief(exc)}); fix or restore it") from None
    if not isinstance(data, Mapping):
        raise StorageError(f"a stored event is damaged (not an object: {brief(data)}); fix or restore it")
    return event_from_dict(data)


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """The event back from :func:`event_to_dict` output.

    Raises:
        StorageError: the data is not an event.
    """
    try:
        comment = data["comment"]
        return Event(
            ticket_id=data["ticket_id"],
            seq=data["seq"],
            at=datetime.fromisoformat(data["at"]),
            actor=Actor(data["actor"]["id"], roles=data["actor"]["roles"], accounts=data["actor"].get("accounts", ())),
            trigger=data["trigger"],
            source=data["source"],
            target=data["target"],
            field_changes=_from_changes(_tuples(dict(data["field_changes"]))),
            attribute_changes=_from_changes(dict(data["attribute_changes"]), attributes=True),
            tags_added=data["tags_added"],
            tags_removed=data["tags_removed"],
            comment=None if comment is None else Comment(comment["author"], comment["body"], comment["visibility"]),
            meta=_tuples(dict(data["meta"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"not an event record ({brief(exc)}): {brief(dict(data))}") from exc


def event_to_json(event: Event) -> str:
    """An event as the SQL stores keep it: a flat JSON array, the format number first.

    ``[2, seq, at, actor_id, roles, trigger, source, target, comment,
    field_changes, tags_added, tags_removed, attribute_changes, meta,
    accounts]``, where a comment is ``[author, body, visibility]`` and a
    change ``[before, after]`` under its name; empty items at the end are left
    out (most events end at their comment or their target). The ticket id is
    the row's own column, so it is not repeated in each text.

    Raises:
        StorageError: a value has no strict JSON form.
    """
    actor = event.actor
    comment = event.comment
    row: list[Any] = [
        FLAT_EVENT,
        event.seq,
        event.at.isoformat(),
        actor.id,
        sorted(actor.roles),
        event.trigger,
        event.source,
        event.target,
    ]
    changes, added, removed = event.field_changes, event.tags_added, event.tags_removed
    attributes, meta, accounts = event.attribute_changes, event.meta, actor.accounts
    if changes or added or removed or attributes or meta or accounts:
        row += (
            None if comment is None else [comment.author, comment.body, comment.visibility],
            _changes(changes),
            sorted(added),
            sorted(removed),
            {k: [_people(c.before), _people(c.after)] for k, c in attributes.items()},
            dict(meta),
            sorted(accounts),
        )
        while not row[-1]:  # an item past the target is not empty
            row.pop()
    elif comment is not None:  # the usual event: it ends at its comment or its target
        row.append([comment.author, comment.body, comment.visibility])
    return dumps(row)


def events_from_json(ticket_id: str, bodies: Sequence[str]) -> list[Event]:
    """Ticket *ticket_id*'s events back from their stored texts, in order: flat arrays and older objects alike.

    One ``json.loads`` for the whole batch and one pass building the values
    (an actor met twice is one object); a damaged text is named on its own.

    Raises:
        StorageError: a text is not JSON, or not an event.
    """
    if not bodies:
        return []
    try:
        rows = _parse("[" + ",".join(bodies) + "]")
    except (TypeError, ValueError, RecursionError):
        for body in bodies:  # find and name the damaged one
            event_from_json(body)
        raise StorageError("stored events are damaged; fix or restore them") from None
    if len(rows) != len(bodies):  # a body such as `1,2` smuggled in more than one value
        return [event_from_json(body) for body in bodies]
    return _decoded(ticket_id, rows)


def _event_from_parsed(data: Any) -> Event:
    if not isinstance(data, Mapping):
        raise StorageError(f"a stored event is damaged (not an object: {brief(data)}); fix or restore it")
    return event_from_dict(data)


def _decoded(ticket_id: str, rows: list[Any]) -> list[Event]:
    """Parsed stored events to Events: flat arrays checked and built in one pass, objects the older way."""
    actors: dict[tuple[Any, ...], Actor] = {}
    decoded: list[Event] = []
    append = decoded.append
    for row in rows:
        if type(row) is not list:
            append(_event_from_parsed(row))
            continue
        length = len(row)
        if not _FLAT_MIN <= length <= _FLAT_LENGTH or row[0] != FLAT_EVENT:
            raise StorageError(f"not an event record (format {brief(row[:1])}, {length} items): {brief(row)}")
        if length < _FLAT_LENGTH:
            row += _ABSENT[length:]
        try:
            _, seq, at, actor_id, roles, trigger, source, target, c, fc, added, removed, ac, meta, accounts = row
            key = (actor_id, *roles, None, *accounts) if accounts else (actor_id, *roles)
            actor = actors.get(key)
            if actor is None:
                actor = actors[key] = Actor(actor_id, roles=roles, accounts=accounts or ())
            when = _fromiso(at)
            if type(seq) is not int or type(trigger) is not str or type(target) is not str:
                raise TypeError("seq is an integer, trigger and target are text")
            if when.tzinfo is None:
                raise ValueError(f"{at} has no UTC offset")
            comment = None
            if c is not None:
                author, body, visibility = c
                if type(author) is not str or type(body) is not str or visibility not in _VISIBILITIES:
                    raise ValueError(f"comment {brief(c)} is not [author, body, 'public' or 'internal']")
                comment = _new(Comment)
                _author(comment, author)
                _body(comment, body)
                _visibility(comment, visibility)
            # Every slot set from values checked and converted above (Event.__init__ would convert them again).
            event = _new(Event)
            _ticket_id(event, ticket_id)
            _seq(event, seq)
            _at(event, when)
            _actor(event, actor)
            _trigger(event, trigger)
            _source(event, source)
            _target(event, target)
            _field_changes(event, MappingProxyType(_field_changes_of(fc)) if fc else _NO_FIELDS)
            _attribute_changes(event, MappingProxyType(_from_changes(ac, attributes=True)) if ac else _NO_FIELDS)
            _tags_added(event, frozenset(added) if added else _EMPTY)
            _tags_removed(event, frozenset(removed) if removed else _EMPTY)
            _comment(event, comment)
            _meta(event, MappingProxyType(_tuples(meta)) if meta else _NO_FIELDS)
        except (AttributeError, KeyError, TypeError, ValueError, TicketflowError) as exc:
            raise StorageError(f"not an event record ({brief(exc)}): {brief(row)}") from None
        append(event)
    return decoded


def _field_changes_of(data: Mapping[str, Any]) -> dict[str, Change]:
    return {name: Change(_tuples(before), _tuples(after)) for name, (before, after) in data.items()}


# The slots' own setters, one per attribute (what a frozen class's __init__ uses underneath).
(
    _ticket_id,
    _seq,
    _at,
    _actor,
    _trigger,
    _source,
    _target,
    _field_changes,
    _attribute_changes,
    _tags_added,
    _tags_removed,
    _comment,
    _meta,
) = (getattr(Event, a.name).__set__ for a in attrs.fields(Event))
_author, _body, _visibility = (getattr(Comment, a.name).__set__ for a in attrs.fields(Comment))
