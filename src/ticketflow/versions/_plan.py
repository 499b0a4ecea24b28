"""A migration plan: how tickets of one lifecycle version become tickets of the next, as data, checked.

A plan is a small TOML/JSON/YAML file or a dict::

    from = 1                 # the version tickets are on
    to = 2                   # the version they move to
    timers = "keep"          # timed rules count from the original entry ("restart": from the migration)
    sla = "keep"             # cycles started before keep their target ("reapply": running ones take the new)

    [states]                 # every state of `from` that `to` lacks needs a target
    waiting_on_requester = "waiting_on_customer"   # a rename
    triaged = "new"                                # a merge
    rejected = { to = "resolved", set = { resolution = "rejected" } }   # a removal, with values

    [fields]
    rename = { category = "kind" }
    defaults = { severity = "minor" }              # for fields `to` requires in a target state
    drop = ["legacy_code"]                         # fields `to` does not have

    [tags]
    rename = { hardware = "hw" }
    drop = []

:func:`load_migration` checks it against both versions before any ticket is
touched; each problem is an :class:`~ticketflow.InvalidMigration` naming
the path inside the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from ticketflow._brief import brief
from ticketflow.errors import InvalidLifecycle, InvalidMigration
from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._definition import tag_allowed
from ticketflow.lifecycle._loader import parse_file
from ticketflow.lifecycle._migrated import MIGRATED
from ticketflow.model import SYSTEM, Change, Event, Ticket, apply_event

__all__ = ["MigrationPlan", "Refusal", "known_versions", "load_migration", "plan_for"]

_KEYS = {"from", "to", "timers", "sla", "states", "fields", "tags", "description"}
_FIELD_KEYS = {"rename", "defaults", "drop"}
_TAG_KEYS = {"rename", "drop"}
_TIMERS = ("keep", "restart")
_SLA = ("keep", "reapply")


class Refusal(Exception):
    """Why one ticket cannot move (a report line, not an error: the others move)."""


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class MigrationPlan:
    """A checked migration from one version of a lifecycle to another (see :func:`load_migration`).

    Attributes:
        old: the version tickets are on.
        new: the version they move to.
        states: the target in ``new`` of every state of ``old``.
        state_fields: field values set on the tickets of a state of ``old``
            (``{ to = ..., set = {...} }``), by that state.
        field_renames: old field name -> new name.
        field_defaults: values given to fields a ticket lacks after the move.
        field_drops: fields of ``old`` that ``new`` does not keep.
        tag_renames: old tag -> new tag.
        tag_drops: tags removed by the move.
        timers: ``"keep"`` (timed rules count from the original entry into
            a renamed state) or ``"restart"`` (the migration is a new entry).
        sla: ``"keep"``: every cycle started before the migration keeps the
            target the old version gave it (a policy change applies to cycles
            that start after it); ``"reapply"``: running cycles take the new
            version's target (finished ones keep theirs either way).
        source: where the plan came from.
    """

    old: Lifecycle
    new: Lifecycle
    states: Mapping[str, str]
    state_fields: Mapping[str, Mapping[str, Any]]
    field_renames: Mapping[str, str]
    field_defaults: Mapping[str, Any]
    field_drops: frozenset[str]
    tag_renames: Mapping[str, str]
    tag_drops: frozenset[str]
    timers: str
    sla: str
    source: str

    @property
    def record(self) -> Mapping[str, Any]:
        """What a ``migrated`` event records in ``meta["migrated"]``: versions, fingerprints, the maps applied."""
        return {
            "from_version": self.old.version,
            "to_version": self.new.version,
            "from_fingerprint": self.old.fingerprint,
            "to_fingerprint": self.new.fingerprint,
            "states": {a: b for a, b in self.states.items() if a != b},
            "fields": dict(self.field_renames),
            "timers": self.timers,
        }

    def move(
        self, ticket: Ticket, at: datetime, sla_applied: Mapping[str, Mapping[str, float]] | None = None
    ) -> tuple[Ticket, Event]:
        """The ticket on the new version and its ``migrated`` event.

        *sla_applied* (metric id -> cycle start (ISO) -> target in seconds)
        is recorded with it: the targets the old version applied to the
        ticket's SLA cycles, which those cycles keep.

        Raises:
            Refusal: this ticket cannot move (a value the new version refuses,
                a required field without a value); the reason is the message.
        """
        new = self.new
        target = self.states.get(ticket.state)
        if target is None:
            raise Refusal(f"state {ticket.state!r} is not a state of version {self.old.version}")
        fields: dict[str, Any] = {}
        for name, value in ticket.fields.items():
            if name in self.field_drops:
                continue
            renamed = self.field_renames.get(name, name)
            spec = new.fields.get(renamed)
            if spec is None:
                raise Refusal(f"field {name!r} is not a field of version {new.version}")
            try:
                fields[renamed] = spec.coerce(value)
            except ValueError as exc:
                raise Refusal(f"field {renamed!r}: {exc} (version {new.version})") from None
        fields.update(self.state_fields.get(ticket.state, {}))
        for name, value in self.field_defaults.items():
            fields.setdefault(name, value)
        for name, spec in new.fields.items():
            if target in spec.required_in and name not in fields:
                raise Refusal(f"field {name!r} is required in {target!r} of version {new.version} and has no value")
        changes = {name: Change(value, None) for name, value in ticket.fields.items() if name not in fields}
        for name, value in fields.items():
            before = ticket.fields.get(name)
            if before != value:
                changes[name] = Change(before, value)
        removed = {t for t in ticket.tags if t in self.tag_drops or t in self.tag_renames}
        added = {self.tag_renames[t] for t in ticket.tags if t in self.tag_renames} - (ticket.tags - removed)
        for tag in (ticket.tags - removed) | added:
            if not tag_allowed(new.tags, tag):
                raise Refusal(f"tag {tag!r} is not allowed by version {new.version}: rename or drop it in the plan")
        record = dict(self.record)
        if sla_applied:
            record["sla_applied"] = {metric: dict(cycles) for metric, cycles in sla_applied.items()}
        meta = {
            MIGRATED: record,
            "lifecycle_version": new.version,
            "lifecycle_fingerprint": new.fingerprint,
        }
        event = Event(
            ticket_id=ticket.id,
            seq=ticket.version + 1,
            at=at,
            actor=SYSTEM,
            trigger="migrate",
            source=ticket.state,
            target=target,
            field_changes=changes,
            tags_added=added - removed,
            tags_removed=removed - added,
            meta=meta,
        )
        return apply_event(ticket, event), event


def _fail(source: str, path: str, problem: str) -> InvalidMigration:
    return InvalidMigration(source, path, problem)


def _mapping(source: str, value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(source, path, f"must be a table (mapping), got {type(value).__name__} {brief(value)}")
    return value


def _names(source: str, value: Any, path: str) -> frozenset[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _fail(source, path, f"must be a list of names, got {brief(value)}")
    return frozenset(value)


def _unknown(source: str, given: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in given:
        if key not in known:
            path = f"{where}.{key}" if where else str(key)
            raise _fail(source, path, f"unknown key; a plan has: {', '.join(sorted(known))}")


def _choose(source: str, document: Mapping[str, Any], key: str, choices: tuple[str, ...], needed: str | None) -> str:
    value = document.get(key)
    if value is None:
        if needed is not None:
            raise _fail(source, key, f"{needed}: state what happens to them ({' or '.join(map(repr, choices))})")
        return choices[0]
    if value not in choices:
        raise _fail(source, key, f"must be {' or '.join(map(repr, choices))}, got {brief(value)}")
    return str(value)


def load_migration(
    definition: str | Path | Mapping[str, Any], old: Lifecycle, new: Lifecycle, *, source: str | None = None
) -> MigrationPlan:
    """Load a migration plan (a file path or a mapping) and check it against *old* and *new*.

    Checks: both are versions of one lifecycle and the plan's ``from``/``to``
    name them; every state of *old* has a target that exists in *new*
    (unlisted states keep their name, so they must exist in *new*); renamed
    and dropped fields exist; every field of *old* that *new* lacks is renamed
    or dropped; a field *new* requires in a target state is guaranteed a
    value (required in every state mapped there, a default of *new*, or one
    in the plan) and defaults are valid values; tags fit *new*'s vocabulary;
    what happens to timed rules and SLA cycles is stated when either version
    has them.

    Raises:
        InvalidMigration: the first problem found, with its path in the plan.
        TypeError: *old* or *new* is not a Lifecycle (a file name or a
            built-in's id: ``tf.load_lifecycle(path)`` makes one).
    """
    for which, lifecycle in (("old", old), ("new", new)):
        if not isinstance(lifecycle, Lifecycle):
            raise TypeError(
                f"load_migration: {which} must be a ticketflow Lifecycle (tf.load_lifecycle(path) or "
                f"tf.builtin(name) makes one), got {type(lifecycle).__name__} {brief(lifecycle)}"
            )
    name, document = _document(definition, source)
    _unknown(name, document, _KEYS, "")
    if old.id != new.id:
        raise _fail(name, "(document)", f"the versions are of two lifecycles ({old.id!r} and {new.id!r})")
    for key, version in (("from", old.version), ("to", new.version)):
        given = document.get(key)
        if given != version or isinstance(given, bool):
            raise _fail(name, key, f"must be {version} (the {key!r} version's number), got {brief(given)}")
    if old.version == new.version and old.fingerprint != new.fingerprint:
        raise _fail(name, "to", f"both definitions say version {new.version}; give the new one its own number")
    given_states = _mapping(name, document.get("states", {}), "states")
    states = _states(name, given_states, old, new)
    state_fields = _state_fields(name, given_states, new)
    fields = _mapping(name, document.get("fields", {}), "fields")
    _unknown(name, fields, _FIELD_KEYS, "fields")
    renames = {str(k): v for k, v in _mapping(name, fields.get("rename", {}), "fields.rename").items()}
    defaults = dict(_mapping(name, fields.get("defaults", {}), "fields.defaults"))
    drops = _names(name, fields.get("drop", []), "fields.drop")
    _check_fields(name, old, new, states, state_fields, renames, defaults, drops)
    tags = _mapping(name, document.get("tags", {}), "tags")
    _unknown(name, tags, _TAG_KEYS, "tags")
    tag_renames = {str(k): v for k, v in _mapping(name, tags.get("rename", {}), "tags.rename").items()}
    tag_drops = _names(name, tags.get("drop", []), "tags.drop")
    _check_tags(name, old, new, tag_renames, tag_drops)
    timed = "both versions' timed rules" if old.timers or new.timers else None
    timers = _choose(name, document, "timers", _TIMERS, timed and "the versions have timed rules")
    has_sla = "sla" in old.document or "sla" in new.document
    sla = _choose(name, document, "sla", _SLA, "the versions have an [sla] section" if has_sla else None)
    return MigrationPlan(
        old=old,
        new=new,
        states=_frozen(states),
        state_fields=_frozen(state_fields),
        field_renames=_frozen(renames),
        field_defaults=_frozen(defaults),
        field_drops=drops,
        tag_renames=_frozen(tag_renames),
        tag_drops=tag_drops,
        timers=timers,
        sla=sla,
        source=name,
    )


def _document(definition: str | Path | Mapping[str, Any], source: str | None) -> tuple[str, Mapping[str, Any]]:
    if isinstance(definition, Mapping):
        return source or "<dict>", definition
    if not isinstance(definition, str | PathLike):
        raise TypeError(f"plan must be a path, a mapping or a MigrationPlan, got {type(definition).__name__}")
    name = source or str(definition)
    try:
        document = parse_file(definition, source=name)
    except InvalidLifecycle as exc:
        raise _fail(exc.source, exc.path, exc.problem) from None
    return name, _mapping(name, document, "(document)")


def plan_for(
    definition: MigrationPlan | str | Path | Mapping[str, Any], versions: Mapping[int, Lifecycle], new: Lifecycle
) -> MigrationPlan:
    """A checked plan to *new* from the version among *versions* that the plan's ``from`` names.

    Raises:
        InvalidMigration: the plan's ``from`` is not among *versions*, or
            it does not fit (as :func:`load_migration`).
    """
    if isinstance(definition, MigrationPlan):
        if definition.new.fingerprint != new.fingerprint:
            raise _fail(definition.source, "to", f"the plan migrates to another definition than version {new.version}")
        return definition
    name, document = _document(definition, None)
    version = document.get("from")
    old = versions.get(version) if isinstance(version, int) and not isinstance(version, bool) else None
    if old is None:
        known = ", ".join(map(str, sorted(versions))) or "none: pass previous=[...] to the Workflow"
        raise _fail(name, "from", f"version {brief(version)} is not one this Workflow knows (it knows: {known})")
    return load_migration(document, old, new, source=name)


def _state_fields(source: str, given: Mapping[str, Any], new: Lifecycle) -> dict[str, Mapping[str, Any]]:
    """The ``set`` values of the states given as ``{ to = ..., set = {...} }``, checked against *new*."""
    result: dict[str, Mapping[str, Any]] = {}
    for state, entry in given.items():
        if not isinstance(entry, Mapping):
            continue
        _unknown(source, entry, {"to", "set"}, f"states.{state}")
        values = _mapping(source, entry.get("set", {}), f"states.{state}.set")
        for name, value in values.items():
            spec = new.fields.get(name)
            if spec is None:
                raise _fail(source, f"states.{state}.set.{name}", f"version {new.version} has no field {name!r}")
            try:
                spec.coerce(value)
            except ValueError as exc:
                raise _fail(source, f"states.{state}.set.{name}", str(exc)) from None
        result[state] = _frozen(values)
    return result


def _states(source: str, given: Mapping[str, Any], old: Lifecycle, new: Lifecycle) -> dict[str, str]:
    given = {k: v.get("to") if isinstance(v, Mapping) else v for k, v in given.items()}
    for state, target in given.items():
        path = f"states.{state}"
        if state not in old.states:
            raise _fail(source, path, f"version {old.version} has no state {state!r} (it has: {', '.join(old.states)})")
        if not isinstance(target, str) or target not in new.states:
            raise _fail(
                source,
                path,
                f"target {brief(target)} is not a state of version {new.version} (it has: {', '.join(new.states)})",
            )
    states = {}
    for state in old.states:
        target = given.get(state, state)
        if target not in new.states:
            raise _fail(
                source,
                "states",
                f"state {state!r} of version {old.version} is not in version {new.version}: give it a target, "
                f'e.g. {state} = "{next(iter(new.states))}" under [states]',
            )
        states[state] = target
    return states


def _check_fields(
    source: str,
    old: Lifecycle,
    new: Lifecycle,
    states: Mapping[str, str],
    state_fields: Mapping[str, Mapping[str, Any]],
    renames: Mapping[str, Any],
    defaults: Mapping[str, Any],
    drops: frozenset[str],
) -> None:
    for field, renamed in renames.items():
        path = f"fields.rename.{field}"
        if field not in old.fields:
            raise _fail(source, path, f"version {old.version} has no field {field!r}")
        if not isinstance(renamed, str) or renamed not in new.fields:
            raise _fail(source, path, f"{brief(renamed)} is not a field of version {new.version}")
    for field in sorted(drops):
        if field not in old.fields:
            raise _fail(source, "fields.drop", f"version {old.version} has no field {field!r}")
    for field, value in defaults.items():
        path = f"fields.defaults.{field}"
        spec = new.fields.get(field)
        if spec is None:
            raise _fail(source, path, f"version {new.version} has no field {field!r}")
        try:
            spec.coerce(value)
        except ValueError as exc:
            raise _fail(source, path, str(exc)) from None
    for field in old.fields:
        if field not in new.fields and field not in renames and field not in drops:
            raise _fail(
                source,
                "fields",
                f"field {field!r} of version {old.version} is not in version {new.version}: "
                f"rename it (fields.rename) or drop it (fields.drop)",
            )
    origin = {renamed: field for field, renamed in renames.items()}
    for state, target in states.items():
        for name, spec in new.fields.items():
            if target not in spec.required_in or name in defaults or spec.default is not None:
                continue
            if name in state_fields.get(state, {}):
                continue
            before = origin.get(name, name if name not in renames else None)
            spec_before = old.fields.get(before) if before is not None and before not in drops else None
            if spec_before is not None and state in spec_before.required_in:
                continue
            raise _fail(
                source,
                f"states.{state}",
                f"tickets in {state!r} move to {target!r}, where version {new.version} requires field {name!r}, "
                f"which version {old.version} does not guarantee there: give it a default under [fields.defaults] "
                f'or a value for these tickets ({state} = {{ to = "{target}", set = {{ {name} = ... }} }})',
            )


def _check_tags(source: str, old: Lifecycle, new: Lifecycle, renames: Mapping[str, Any], drops: frozenset[str]) -> None:
    for tag, renamed in renames.items():
        if not isinstance(renamed, str) or not tag_allowed(new.tags, renamed):
            raise _fail(source, f"tags.rename.{tag}", f"{brief(renamed)} is not a tag version {new.version} allows")
    for tag in sorted(old.tags):
        if tag.endswith("*") or tag in renames or tag in drops:
            continue
        if not tag_allowed(new.tags, tag):
            raise _fail(
                source,
                "tags",
                f"tag {tag!r} of version {old.version} is not allowed by version {new.version}: "
                "rename it (tags.rename) or drop it (tags.drop)",
            )


def known_versions(current: Lifecycle, previous: Sequence[Lifecycle]) -> dict[int, Lifecycle]:
    """The versions a Workflow knows by number: *current* and the *previous* ones (``Workflow(previous=...)``).

    Raises:
        InvalidLifecycle: a previous version is another lifecycle's, has
            *current*'s number, or repeats a version number. A higher number
            is allowed: a rollback (``Workflow(v1, previous=[v2])`` and a plan
            from 2 to 1, as ``load_migration`` accepts) migrates back.
    """
    versions = {current.version: current}
    for index, lifecycle in enumerate(previous):
        if lifecycle.id != current.id:
            raise InvalidLifecycle(lifecycle.source, "id", f"previous[{index}] is {lifecycle.id!r}, not {current.id!r}")
        if lifecycle.version == current.version:  # the current version given twice, or two lifecycles numbered alike
            raise InvalidLifecycle(
                lifecycle.source,
                "version",
                f"previous[{index}] is version {lifecycle.version}, the current version's number: "
                "previous= holds the other versions the Workflow serves and migrates from",
            )
        if lifecycle.version in versions:
            raise InvalidLifecycle(
                lifecycle.source, "version", f"previous[{index}] repeats version {lifecycle.version}: number each once"
            )
        versions[lifecycle.version] = lifecycle
    return versions
