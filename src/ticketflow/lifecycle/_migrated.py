"""A migrated ticket's history in the names of the version it is on now.

A migration (``ticketflow.versions``) appends one ``migrated`` event whose
``meta["migrated"]`` records the state map and field renames it applied.
The events before it keep the names they were written with (history is the
truth, it is never rewritten); the rules that read a history (timed rules,
SLA clocks) read it through :func:`in_current_names`, so a renamed state is
the same state before and after the migration: its timers count from the
original entry and its SLA pause is not lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from ticketflow.model import Change, Event

__all__ = ["MIGRATED", "in_current_names", "recorded_version"]

#: The ``Event.meta`` key of a migration's record (library meta).
MIGRATED = "migrated"


def recorded_version(history: Sequence[Event]) -> tuple[int | None, str | None]:
    """The (version, fingerprint) of the lifecycle the ticket is on: its last migration's, else its opening's.

    ``(None, None)`` for a ticket whose opening predates recorded versions.
    """
    for event in reversed(history):
        meta = event.meta
        if "lifecycle_fingerprint" in meta:
            return meta.get("lifecycle_version"), meta.get("lifecycle_fingerprint")
    return None, None


def in_current_names(history: Sequence[Event]) -> Sequence[Event]:
    """*history* with every state and field named as the ticket's current version names it.

    Each event before a migration has its source/target states and field
    names mapped through that migration's maps (and every later one's). The
    migration's own event is no entry into a new state (its source reads as
    its target) unless the plan restarts timers (``timers = "restart"``):
    then a ticket whose state changed name entered it at the migration. A
    history without migrations is returned as it is.
    """
    if not any(MIGRATED in event.meta for event in history):
        return history
    states: dict[str, str] = {}
    fields: dict[str, str] = {}
    result: list[Event] = []
    for event in reversed(history):
        record = event.meta.get(MIGRATED)
        if record is not None:
            own_states: Mapping[str, str] = record.get("states", {})
            own_fields: Mapping[str, str] = record.get("fields", {})
            # this migration first, then the later ones (``states``/``fields`` map its names to today's)
            composed_states = {k: v for k, v in states.items() if k not in own_states}
            composed_states.update((old, states.get(new, new)) for old, new in own_states.items())
            composed_fields = {k: v for k, v in fields.items() if k not in own_fields}
            composed_fields.update((old, fields.get(new, new)) for old, new in own_fields.items())
            target = states.get(event.target, event.target)
            # kept: the same state under its new name, no new entry; restarted: an entry from the old name
            source = event.source if record.get("timers") == "restart" else target
            own_changes = {fields.get(k, k): v for k, v in event.field_changes.items() if k not in own_fields}
            result.append(attrs.evolve(event, source=source, target=target, field_changes=own_changes))
            states, fields = composed_states, composed_fields
            continue
        if not states and not fields:
            result.append(event)
            continue
        source = event.source if event.source is None else states.get(event.source, event.source)
        target = states.get(event.target, event.target)
        changes: Mapping[str, Change] = event.field_changes
        renamed = bool(fields) and any(k in fields for k in changes)
        if source == event.source and target == event.target and not renamed:
            result.append(event)  # nothing in it was renamed
            continue
        if renamed:
            changes = {fields.get(k, k): v for k, v in changes.items()}
        result.append(attrs.evolve(event, source=source, target=target, field_changes=changes))
    result.reverse()
    return result
