"""Tickets and events to and from JSON-compatible dicts (storage and export share it).

Datetimes are ISO 8601 strings with their UTC offset; JSON arrays come back as
tuples (as the engine stores ``list`` fields), so a value survives a round
trip through storage and compares equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ticketflow._brief import brief
from ticketflow.errors import StorageError
from ticketflow.model import Actor, Change, Comment, Event, Ticket, require_aware
from ticketflow.protocols import OutboxMessage

__all__ = ["dumps", "event_from_dict", "event_to_dict", "loads", "ticket_from_dict", "ticket_to_dict"]


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
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StorageError(f"a value has no strict JSON form ({brief(exc)})") from None


def loads(text: str) -> Any:
    """JSON with arrays as tuples."""
    return _tuples(json.loads(text))


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
