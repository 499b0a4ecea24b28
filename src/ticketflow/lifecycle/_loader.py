"""Loading a lifecycle in stages.

1. safe parse (TOML, JSON, or YAML with the ``yaml`` extra) — syntax errors
   carry their line;
2. shape (:mod:`._shape`) — unknown or missing keys, wrong kinds;
3. the attrs definition — durations, field values, role names;
4. structure — unknown states/roles/fields/guards, unreachable states,
   non-terminal dead ends, ambiguous triggers, timers that cannot fire;
5. the compiled engine.

Every problem is an :class:`~ticketflow.errors.InvalidLifecycle` naming the
source, the path inside the document and what to do.
"""

from __future__ import annotations

import copy
import functools
import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from ticketflow._brief import brief
from ticketflow.calendar import BusinessCalendar
from ticketflow.calendar._calendar import folder_of, located
from ticketflow.errors import CalendarError, InvalidLifecycle
from ticketflow.lifecycle._access import ATTRIBUTES, RELATIONS, Access, expand_roles
from ticketflow.lifecycle._definition import (
    BUILTIN_ROLES,
    BUILTIN_TRIGGERS,
    Compare,
    Elapsed,
    FieldSpec,
    Lifecycle,
    LinkRule,
    OnEvent,
    State,
    TimedRule,
    Transition,
    set_extender,
    tag_allowed,
)
from ticketflow.lifecycle._engine import Engine
from ticketflow.lifecycle._parse import MAX_BYTES, check_document, decode, parse
from ticketflow.lifecycle._shape import LIFECYCLE, ShapeError, check_shape

__all__ = [
    "MAX_BUSINESS_DAYS",
    "MAX_DURATION",
    "builtin",
    "builtins",
    "extend_document",
    "load_lifecycle",
    "loads_lifecycle",
    "parse_duration",
    "parse_file",
]

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_FORMATS = {".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}  # seconds
#: The longest duration: the span ``datetime`` can hold (years 1 to 9999), about 9,999 years.
MAX_DURATION = timedelta(days=(datetime.max - datetime.min).days)
#: The most business days a duration may count (about 20 years of working days).
MAX_BUSINESS_DAYS = 5000
_UNIT_WORDS = {
    "week": "w",
    "weeks": "w",
    "day": "d",
    "days": "d",
    "hour": "h",
    "hours": "h",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "business day": "bd",
    "business days": "bd",
}
_TOKEN = re.compile(r"(\d+)\s*(business days?|[a-z]+)")
_ISO = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?\Z")


def parse_duration(text: str) -> tuple[timedelta, int]:
    """Parse ``24h``, ``5d``, ``1d 12h``, ``90 minutes``, ``2bd``, ``PT24H``.

    Returns the wall/business duration and a number of business days (``bd``);
    a duration mixes the two only as ``Nbd`` alone. A duration is positive, at
    most :data:`MAX_DURATION` (what ``datetime`` can span) or
    :data:`MAX_BUSINESS_DAYS` business days. Raises ``ValueError``.
    """
    if not isinstance(text, str):
        raise ValueError(f"a duration is a string such as '24h', got {type(text).__name__} {brief(text)}")
    cleaned = text.strip()
    if len(cleaned) > 100:
        raise ValueError(f"duration {brief(text)} is too long to be a duration")
    seconds = business_days = 0
    iso = _ISO.match(cleaned.upper())
    if iso and any(iso.groups()):
        weeks, days, hours, minutes, secs = (int(g or 0) for g in iso.groups())
        seconds = weeks * _UNITS["w"] + days * _UNITS["d"] + hours * _UNITS["h"] + minutes * _UNITS["m"] + secs
    else:
        lowered = cleaned.lower()
        pos = 0
        for match in _TOKEN.finditer(lowered):
            if lowered[pos : match.start()].strip(" ,"):
                break
            unit = _UNIT_WORDS.get(match.group(2), match.group(2))
            if unit == "bd":
                business_days += int(match.group(1))
            elif unit in _UNITS:
                seconds += int(match.group(1)) * _UNITS[unit]
            else:
                raise ValueError(f"unknown unit {match.group(2)!r} in duration {text!r}; use w, d, h, m, s or bd")
            pos = match.end()
        if pos == 0 or lowered[pos:].strip():
            raise ValueError(f"cannot read duration {text!r}; write e.g. '24h', '5d', '1d12h', '2bd' or 'PT24H'")
        if business_days:
            if seconds:
                raise ValueError(f"duration {text!r} mixes business days with hours; use one or the other")
            if business_days > MAX_BUSINESS_DAYS:
                raise ValueError(f"duration {text!r} is over {MAX_BUSINESS_DAYS:,} business days")
            return timedelta(0), business_days
    if seconds > MAX_DURATION.days * _UNITS["d"]:
        raise ValueError(f"duration {text!r} is over {MAX_DURATION.days:,} days, longer than a datetime can span")
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return timedelta(seconds=seconds), 0


#: Why ``d``/``w`` are refused where time counts in business hours.
DAYS_IN_BUSINESS_TIME = (
    "in business time a day is ambiguous (24 business hours is about three working days); "
    "write business days as '3bd' (the same local time 3 business days later) or business hours as '24h'"
)


def counts_days(text: str) -> bool:
    """Whether a duration (as :func:`parse_duration` reads it) uses calendar days or weeks (``d``, ``w``)."""
    cleaned = text.strip()
    iso = _ISO.match(cleaned.upper())
    if iso and any(iso.groups()):
        return bool(iso.group(1) or iso.group(2))
    return any(_UNIT_WORDS.get(m.group(2), m.group(2)) in ("d", "w") for m in _TOKEN.finditer(cleaned.lower()))


# -- stage 1: parse (see ._parse) -------------------------------------------------


def loads_lifecycle(
    text: str, fmt: str = "toml", *, source: str = "<string>", guards: Iterable[str] | None = None
) -> Lifecycle:
    """Load a lifecycle from *text* in format *fmt* (``toml``, ``json``, ``yaml``).

    Raises:
        InvalidLifecycle: as :func:`load_lifecycle` does.
        TypeError: *text* is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"loads_lifecycle: text must be a str, got {type(text).__name__}")
    if len(text) > MAX_BYTES:
        raise InvalidLifecycle(
            source, "(document)", f"{len(text):,} characters; a lifecycle may be at most {MAX_BYTES:,} bytes"
        )
    return load_lifecycle(parse(text, fmt, source), source=source, guards=guards)


def parse_file(definition: str | Path, *, source: str | None = None) -> Any:
    """Read and parse a lifecycle file into its document, without checking it (``ticketflow validate``).

    The file's size, encoding and nesting are checked (see :mod:`._parse`).
    """
    path = Path(definition)
    name = source or str(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidLifecycle(name, "(file)", f"cannot tell the format of {path.name!r}; use .toml, .json or .yaml")
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or exc
        raise InvalidLifecycle(name, "(file)", f"cannot read the file: {reason}") from None
    return parse(decode(data, name), fmt, name)


#: The last stage of loading: the builders of the sections the packages above the
#: lifecycle own (``sla``, ``intake``), by section name; what a builder returns
#: (the SLA policy) is kept in :attr:`Lifecycle.sections`. Each package adds
#: its own when it is imported (``import ticketflow`` imports them all), so
#: the arrows still point one way and a bad ``[sla]`` or ``[intake]`` is an
#: :class:`InvalidLifecycle` with its path at :func:`load_lifecycle`, not at
#: ``Workflow(...)``.
SECTION_CHECKS: dict[str, Callable[[Lifecycle], object]] = {}
#: The package that adds each section's builder, imported by name when a
#: document has the section and the builder is not there yet: a plain
#: ``import ticketflow`` loads its packages lazily, and a bad ``[sla]`` must
#: still be refused by the first ``load_lifecycle`` (a plug-in lookup, like
#: an entry point: the lifecycle package does not depend on them).
SECTION_OWNERS: Mapping[str, str] = MappingProxyType({"sla": "ticketflow.sla", "intake": "ticketflow.intake"})


def load_lifecycle(
    definition: str | Path | Mapping[str, Any],
    *,
    source: str | None = None,
    guards: Iterable[str] | None = None,
) -> Lifecycle:
    """Load, validate and compile a lifecycle.

    Args:
        definition: a path to a ``.toml``, ``.json``, ``.yaml``/``.yml`` file,
            or an already parsed mapping.
        source: the name used in error messages (default: the path, or
            ``"<dict>"``).
        guards: when given, the guard names the application registers; a
            transition naming another guard is an error. A
            :class:`~ticketflow.Workflow` checks this against its registry.

    Raises:
        InvalidLifecycle: with the source, the path inside it and the problem.
    """
    if isinstance(definition, str | Path):
        name = source or str(definition)
        document: Any = parse_file(definition, source=name)
    elif isinstance(definition, Mapping):
        name = source or "<dict>"
        document = definition
        check_document(document, name)
    else:
        raise TypeError(f"load_lifecycle: definition must be a path or a mapping, got {type(definition).__name__}")
    if isinstance(document, Mapping) and "extends" in document:
        return _extend_builtin(document, name)
    try:
        checked = check_shape(LIFECYCLE, document)
    except ShapeError as exc:
        raise InvalidLifecycle(name, exc.path or "(document)", exc.problem) from None
    return _Builder(checked, name, None if guards is None else frozenset(guards)).build()


def _extend_builtin(document: Mapping[str, Any], name: str) -> Lifecycle:
    """A file with ``extends = "<built-in id>"``: the built-in with the rest of the file merged in."""
    base = document["extends"]
    if not isinstance(base, str) or base not in builtins():
        raise InvalidLifecycle(
            name, "extends", f"{brief(base)} is not a built-in lifecycle; known: {', '.join(builtins())}"
        )
    return builtin(base).extend({k: v for k, v in document.items() if k != "extends"}, source=name)


# -- stages 3 to 5: definition, structure, engine ---------------------------------


class _Builder:
    def __init__(self, doc: dict[str, Any], source: str, guards: frozenset[str] | None) -> None:
        self.doc = doc
        self.source = source
        self.guards = guards

    def fail(self, path: str, problem: str) -> InvalidLifecycle:
        return InvalidLifecycle(self.source, path, problem)

    def build(self) -> Lifecycle:
        doc = self.doc
        if not _ID.match(doc["id"]):
            raise self.fail("id", f"{doc['id']!r} is not a valid id; use letters, digits, '_' and '-'")
        self.states = self._states()
        if doc["initial"] not in self.states:
            raise self.fail("initial", self._unknown("state", doc["initial"], self.states))
        self.roles, self.inherits = self._roles()
        self.fields = self._fields()
        self.tags = frozenset(doc.get("tags", ()))
        transitions = self._returning(tuple(self._transition(i, t) for i, t in enumerate(doc["transitions"])))
        self._check_graph(transitions)
        timers = self._timers(transitions)
        update_roles = self._role_list("update_roles", frozenset({"agent", "system"}))
        if timers and "system" not in update_roles:
            raise self.fail("update_roles", "timed rules act as role 'system', which must be in update_roles")
        lifecycle = Lifecycle(
            id=doc["id"],
            name=doc.get("name", doc["id"]),
            description=doc.get("description", ""),
            version=doc.get("version", 1),
            initial=doc["initial"],
            states=self.states,
            transitions=transitions,
            fields=self.fields,
            roles=self.roles,
            role_inherits=self.inherits,
            tags=self.tags,
            timers=timers,
            open_roles=self._role_list("open_roles", self.roles),
            comment_roles=self._role_list("comment_roles", self.roles - {"system"}),
            update_roles=update_roles,
            source=self.source,
            document=doc,
            calendar=self._calendar(),
            internal_tags=frozenset(doc.get("internal_tags", ())),
            key_prefix=self._key_prefix(),
            link_rules=self._link_rules(transitions),
            access=self._access(),
        )
        try:
            engine = Engine(lifecycle)
        except Exception as exc:
            raise self.fail("(document)", f"the engine could not compile it: {exc}") from exc
        object.__setattr__(lifecycle, "_engine", engine)
        sections = {}
        for name, owner in SECTION_OWNERS.items():
            if name in doc and name not in SECTION_CHECKS:
                importlib.import_module(owner)  # registers its builder in SECTION_CHECKS
        for name, build in SECTION_CHECKS.items():
            if name in doc:
                built = build(lifecycle)  # raises InvalidLifecycle with the path inside the section
                if built is not None:
                    sections[name] = built
        object.__setattr__(lifecycle, "_sections", MappingProxyType(sections))
        return lifecycle

    def _access(self) -> Access:
        spec = self.doc.get("access", {})
        staff_default = frozenset(r for r in self.roles if expand_roles(self.inherits, {r}) & {"agent", "system"})
        staff = self._role_list("access.staff", staff_default, spec.get("staff"))
        if not staff - {"system"}:
            raise self.fail("access.staff", "at least one staff role is needed (agent, admin, ...)")
        # roles acting as a staff role are staff; automations always are
        staff = frozenset(r for r in self.roles if expand_roles(self.inherits, {r}) & staff) | {"system"}
        shared = spec.get("shared_field")
        if shared is not None:
            if shared not in self.fields:
                raise self.fail("access.shared_field", self._unknown("field", shared, self.fields))
            if self.fields[shared].type not in ("string", "choice", "actor"):
                raise self.fail(
                    "access.shared_field",
                    f"field {shared!r} is of type {self.fields[shared].type}; use a string, choice or actor field",
                )
            if self.fields[shared].internal:
                raise self.fail(
                    "access.shared_field", f"field {shared!r} is internal: customers could not see what relates them"
                )
        tags = []
        for pattern, roles in spec.get("tags", {}).items():
            if not (tag_allowed(self.tags, pattern) or tag_allowed(self.tags, pattern.rstrip("*"))):
                raise self.fail(f"access.tags.{pattern}", f"tag {pattern!r} is not in the lifecycle's `tags`")
            tags.append((pattern, self._check_roles(f"access.tags.{pattern}", roles)))
        attributes = spec.get("attributes", {})
        field_setters = {
            name: self._check_roles(f"fields.{name}.set_by", self.doc["fields"][name]["set_by"])
            if "set_by" in self.doc["fields"][name]
            else staff
            for name in self.fields
        }
        return Access(
            staff=staff,
            customers=frozenset(r for r in self.roles if not expand_roles(self.inherits, {r}) & staff),
            relations=frozenset(spec.get("relations", RELATIONS)),
            shared_field=shared,
            field_setters=field_setters,
            attribute_setters={
                name: self._check_roles(f"access.attributes.{name}", attributes[name]) if name in attributes else staff
                for name in ATTRIBUTES
            },
            tag_setters=tuple(tags),
            default_setters=staff,
            internal_comments=self._role_list("access.internal_comments", staff, spec.get("internal_comments")),
            on_behalf=self._role_list("access.on_behalf", staff, spec.get("on_behalf")),
            broadcast=self._role_list("access.broadcast", staff, spec.get("broadcast")),
            role_inherits=self.inherits,
            hidden=frozenset(name for name, spec in self.fields.items() if spec.internal),
            internal_tags=frozenset(self.doc.get("internal_tags", ())),
            field_specs=self.fields,
        )

    def _link_rules(self, transitions: tuple[Transition, ...]) -> tuple[LinkRule, ...]:
        rules = []
        for i, spec in enumerate(self.doc.get("link_rules", ())):
            fire = spec["fire"]
            if not any(t.trigger == fire and t.on is None and "system" in t.roles for t in transitions):
                raise self.fail(
                    f"link_rules[{i}].fire",
                    f"no transition {fire!r} that role 'system' may fire; add 'system' to its roles",
                )
            rules.append(
                LinkRule(
                    record=spec["record"],
                    statuses=frozenset(spec["status"]),
                    priorities=frozenset(spec.get("priority", ())),
                    fire=fire,
                    description=spec.get("description", ""),
                    all=spec.get("all", False),
                )
            )
        return tuple(rules)

    def _key_prefix(self) -> str | None:
        prefix = self.doc.get("key_prefix")
        if prefix is not None and not re.fullmatch(r"[A-Z][A-Z0-9]{0,9}", prefix):
            raise self.fail("key_prefix", f"{prefix!r}: use 1 to 10 capital letters or digits, starting with a letter")
        return prefix

    def _calendar(self) -> BusinessCalendar | None:
        if "calendar" not in self.doc:
            return None
        try:
            return BusinessCalendar.from_config(self.doc["calendar"], base=folder_of(self.source))
        except CalendarError as exc:
            raise self.fail(*located(exc, "calendar")) from exc

    @staticmethod
    def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
        return f"unknown {kind} {name!r}; known: {', '.join(sorted(known)) or 'none'}"

    def _states(self) -> dict[str, State]:
        states: dict[str, State] = {}
        if not self.doc["states"]:
            raise self.fail("states", "a lifecycle needs at least one state")
        for sid, spec in self.doc["states"].items():
            if not _ID.match(sid) or sid == "*":
                raise self.fail(f"states.{sid}", "a state id uses letters, digits, '_' and '-'")
            immutable = spec.get("immutable", False)
            states[sid] = State(
                id=sid,
                group=spec.get("group"),
                terminal=spec.get("terminal", False) or immutable,
                immutable=immutable,
                description=spec.get("description", ""),
                notify=tuple(spec.get("notify", ())),
            )
        return states

    def _roles(self) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
        declared = self.doc.get("roles", {})
        roles = BUILTIN_ROLES | frozenset(declared)
        inherits: dict[str, frozenset[str]] = {"admin": frozenset({"agent"})}
        for role, parents in declared.items():
            for i, parent in enumerate(parents):
                if parent not in roles:
                    raise self.fail(f"roles.{role}[{i}]", self._unknown("role", parent, roles))
            inherits[role] = frozenset(parents)
        return roles, inherits

    def _role_list(self, key: str, default: frozenset[str], given: Iterable[str] | None = None) -> frozenset[str]:
        if given is None:
            if "." in key or key not in self.doc:
                return default
            given = self.doc[key]
        return self._check_roles(key, given)

    def _check_roles(self, path: str, names: Iterable[str]) -> frozenset[str]:
        names = list(names)
        for i, role in enumerate(names):
            if role not in self.roles:
                raise self.fail(f"{path}[{i}]", self._unknown("role", role, self.roles))
        return frozenset(names)

    def _fields(self) -> dict[str, FieldSpec]:
        fields: dict[str, FieldSpec] = {}
        for name, spec in self.doc.get("fields", {}).items():
            path = f"fields.{name}"
            choices = tuple(spec.get("choices", ()))
            if spec["type"] == "choice" and not choices:
                raise self.fail(f"{path}.choices", "a choice field needs a non-empty list of choices")
            if choices and spec["type"] != "choice":
                raise self.fail(f"{path}.choices", "only a field of type 'choice' takes choices")
            for i, state in enumerate(spec.get("required_in", ())):
                if state not in self.states:
                    raise self.fail(f"{path}.required_in[{i}]", self._unknown("state", state, self.states))
            field = FieldSpec(
                name=name,
                type=spec["type"],
                choices=choices,
                required_in=frozenset(spec.get("required_in", ())),
                internal=spec.get("internal", False),
                description=spec.get("description", ""),
            )
            default = self._value(f"{path}.default", field, spec.get("default"))
            fields[name] = FieldSpec(
                name=name,
                type=field.type,
                choices=field.choices,
                required_in=field.required_in,
                default=default,
                internal=field.internal,
                description=field.description,
            )
        return fields

    def _value(self, path: str, field: FieldSpec, value: Any) -> Any:
        try:
            return field.coerce(value)
        except ValueError as exc:
            raise self.fail(path, f"field {field.name!r}: {exc}") from exc

    def _field_values(
        self, path: str, values: Mapping[str, Any], *, allow_lists: bool = False, elapsed: bool = False
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in values.items():
            if name not in self.fields:
                raise self.fail(f"{path}.{name}", self._unknown("field", name, self.fields))
            field = self.fields[name]
            if allow_lists and isinstance(value, list) and field.type != "list":
                result[name] = tuple(self._value(f"{path}.{name}[{i}]", field, v) for i, v in enumerate(value))
            elif allow_lists and isinstance(value, Mapping):
                result[name] = self._compare(f"{path}.{name}", field, value, elapsed=elapsed)
            else:
                result[name] = self._value(f"{path}.{name}", field, value)
        return result

    def _compare(self, path: str, field: FieldSpec, spec: Mapping[str, Any], *, elapsed: bool = False) -> Compare:
        if not spec:
            raise self.fail(path, "an empty comparison; write e.g. { gte = 2 } or { set = true }")
        ops: list[tuple[str, Any]] = []
        for op, operand in spec.items():
            if op == "set":
                if not isinstance(operand, bool):
                    raise self.fail(f"{path}.set", "`set` takes true or false")
                ops.append((op, operand))
            elif op in ("eq", "ne"):
                ops.append((op, self._value(f"{path}.{op}", field, operand)))
            elif op in ("gt", "gte", "lt", "lte"):
                if field.type not in ("int", "float", "date", "datetime", "string", "text"):
                    raise self.fail(f"{path}.{op}", f"field {field.name!r} of type {field.type} cannot be ordered")
                ops.append((op, self._value(f"{path}.{op}", field, operand)))
            elif op == "elapsed" and elapsed:
                ops.append((op, self._elapsed(f"{path}.{op}", field, operand)))
            else:
                known = "eq, ne, gt, gte, lt, lte, set" + (" or elapsed" if elapsed else " (elapsed: on transitions)")
                raise self.fail(f"{path}.{op}", f"unknown comparison; use {known}")
        return Compare(tuple(ops))

    def _elapsed(self, path: str, field: FieldSpec, operand: Any) -> Elapsed:
        if field.type not in ("date", "datetime"):
            raise self.fail(path, f"`elapsed` counts from a date or datetime field; {field.name!r} is {field.type}")
        try:
            after, business_days = parse_duration(operand)
        except ValueError as exc:
            raise self.fail(path, str(exc)) from exc
        if business_days and "calendar" not in self.doc:
            raise self.fail(path, "business days count in the lifecycle's calendar: add a top-level [calendar]")
        return Elapsed(operand, after, business_days, business=bool(business_days))

    def _tags(self, path: str, tags: Iterable[str]) -> frozenset[str]:
        tags = list(tags)
        for i, tag in enumerate(tags):
            if not tag_allowed(self.tags, tag):
                raise self.fail(f"{path}[{i}]", f"tag {tag!r} is not in the lifecycle's `tags`")
        return frozenset(tags)

    def _guards(self, path: str, names: list[str]) -> tuple[str, ...]:
        if self.guards is not None:
            for i, name in enumerate(names):
                if name not in self.guards:
                    raise self.fail(f"{path}[{i}]", self._unknown("guard", name, self.guards) + "; register it")
        return tuple(names)

    def _transition(self, index: int, spec: dict[str, Any]) -> Transition:
        path = f"transitions[{index}]"
        trigger = spec["trigger"]
        if not _ID.match(trigger) or trigger in (*BUILTIN_TRIGGERS, "open"):
            raise self.fail(f"{path}.trigger", f"{trigger!r} is reserved or not a valid name; pick another")
        sources: list[str] = []
        for i, source in enumerate(spec["source"]):
            if source == "*":
                sources.extend(s for s, st in self.states.items() if not st.terminal and s not in sources)
            elif source not in self.states:
                raise self.fail(f"{path}.source[{i}]", self._unknown("state", source, self.states))
            elif self.states[source].terminal:
                raise self.fail(
                    f"{path}.source[{i}]",
                    f"state {source!r} is terminal: no transition may leave it; drop `terminal` or this source",
                )
            elif source not in sources:
                sources.append(source)
        if not sources:
            raise self.fail(f"{path}.source", "no source state")
        returns = spec.get("returns", False)
        if returns == ("dest" in spec):
            raise self.fail(
                f"{path}.dest", "give a `dest`, or `returns = true` to go back where the ticket came from (not both)"
            )
        dest = spec.get("dest", sources[0])  # a returning transition's dests are filled in by _returning
        if dest not in self.states:
            raise self.fail(f"{path}.dest", self._unknown("state", dest, self.states))
        require_comment = spec.get("require_comment", False)
        if require_comment not in (True, False, "public", "internal"):
            raise self.fail(f"{path}.require_comment", 'use true, false, "public" or "internal"')
        for i, name in enumerate(spec.get("stamp", ())):
            if name not in self.fields:
                raise self.fail(f"{path}.stamp[{i}]", self._unknown("field", name, self.fields))
            if self.fields[name].type not in ("date", "datetime"):
                raise self.fail(
                    f"{path}.stamp[{i}]",
                    f"only date or datetime fields take the step's instant; {name!r} is {self.fields[name].type}",
                )
        for i, name in enumerate(spec.get("require", ())):
            if name not in self.fields and name not in ("assignee", "requester"):
                raise self.fail(f"{path}.require[{i}]", self._unknown("field", name, self.fields))
        on = None
        if "on" in spec:
            on_spec = spec["on"]
            if on_spec["event"] == "field_set":
                if "field" not in on_spec:
                    raise self.fail(f"{path}.on.field", "an `on = field_set` transition needs the field it watches")
                if on_spec["field"] not in self.fields:
                    raise self.fail(f"{path}.on.field", self._unknown("field", on_spec["field"], self.fields))
            elif "field" in on_spec:
                raise self.fail(f"{path}.on.field", "only `event = field_set` takes a field")
            on = OnEvent(
                event=on_spec["event"],
                visibility=on_spec.get("visibility"),
                field=on_spec.get("field"),
            )
        if "who" in spec:
            default_roles: Iterable[str] = []
        else:
            default_roles = self.roles if "on" in spec else ["agent"]
        return Transition(
            index=index,
            trigger=trigger,
            sources=tuple(sources),
            dest=dest,
            roles=self._check_roles(f"{path}.roles", spec.get("roles", default_roles)),
            who=frozenset(spec.get("who", ())),
            guards=self._guards(f"{path}.guards", spec.get("guards", [])),
            actions=tuple(spec.get("actions", ())),
            require=tuple(spec.get("require", ())),
            require_comment=bool(require_comment),
            comment_visibility=require_comment if isinstance(require_comment, str) else None,
            when=self._field_values(f"{path}.when", spec.get("when", {}), allow_lists=True, elapsed=True),
            given=self._field_values(f"{path}.given", spec.get("given", {}), allow_lists=True),
            stamp=tuple(spec.get("stamp", ())),
            returns=returns,
            set_fields=self._field_values(f"{path}.set_fields", spec.get("set_fields", {})),
            add_tags=self._tags(f"{path}.add_tags", spec.get("add_tags", ())),
            remove_tags=self._tags(f"{path}.remove_tags", spec.get("remove_tags", ())),
            increment=self._counters(f"{path}.increment", spec.get("increment", ())),
            on=on,
            description=spec.get("description", ""),
            claim=spec.get("claim", False),
        )

    def _returning(self, transitions: tuple[Transition, ...]) -> tuple[Transition, ...]:
        """Each ``returns`` transition as one transition per (source, state a ticket may have come from)."""
        if not any(t.returns for t in transitions):
            return transitions
        came_from: dict[str, list[str]] = {}
        for t in transitions:
            if not t.returns:
                for source in t.sources:
                    if source != t.dest and source not in came_from.setdefault(t.dest, []):
                        came_from[t.dest].append(source)
        result: list[Transition] = []
        for t in transitions:
            if not t.returns:
                result.append(t)
                continue
            pairs = [(source, back) for source in t.sources for back in came_from.get(source, ())]
            if not pairs:
                raise self.fail(
                    f"{t.path}.returns", "no transition enters its source state: there is nowhere to return to"
                )
            result.extend(attrs.evolve(t, sources=(source,), dest=back) for source, back in pairs)
        return tuple(result)

    def _counters(self, path: str, names: Iterable[str]) -> tuple[str, ...]:
        names = list(names)
        for i, name in enumerate(names):
            if name not in self.fields:
                raise self.fail(f"{path}[{i}]", self._unknown("field", name, self.fields))
            if self.fields[name].type != "int":
                raise self.fail(
                    f"{path}[{i}]", f"only int fields can be incremented; {name!r} is {self.fields[name].type}"
                )
        return tuple(names)

    def _check_graph(self, transitions: tuple[Transition, ...]) -> None:
        seen: dict[tuple[Any, ...], Transition] = {}
        for t in transitions:
            kind = ("on", t.on) if t.on is not None else ("trigger", t.trigger)
            conditions = (
                tuple(sorted((k, repr(v)) for k, v in t.when.items())),
                tuple(sorted((k, repr(v)) for k, v in t.given.items())),
                frozenset(t.guards),
                t.dest if t.returns else None,
            )
            for source in t.sources:
                key = (*kind, source, conditions)
                if key in seen:
                    first = seen[key]
                    raise self.fail(
                        f"{t.path}.source",
                        f"ambiguous: {first.path} already takes {t.trigger!r} from {source!r} under the same "
                        "conditions; tell them apart with `when` or `guards`, or remove one",
                    )
                seen[key] = t
        outgoing: dict[str, set[str]] = {sid: set() for sid in self.states}
        for t in transitions:
            for source in t.sources:
                outgoing[source].add(t.dest)
        reached = {self.doc["initial"]}
        todo = [self.doc["initial"]]
        while todo:
            for dest in outgoing[todo.pop()]:
                if dest not in reached:
                    reached.add(dest)
                    todo.append(dest)
        for sid, state in self.states.items():
            if sid not in reached:
                raise self.fail(
                    f"states.{sid}",
                    f"unreachable from the initial state {self.doc['initial']!r}; "
                    "add a transition into it or remove it",
                )
            if not state.terminal and not outgoing[sid]:
                raise self.fail(
                    f"states.{sid}",
                    "dead end: no transition leaves it; mark it `terminal = true` or add a transition out",
                )

    def _timers(self, transitions: tuple[Transition, ...]) -> tuple[TimedRule, ...]:
        timers: list[TimedRule] = []
        ids: set[str] = set()
        for index, spec in enumerate(self.doc.get("timers", ())):
            path = f"timers[{index}]"
            if spec["id"] in ids:
                raise self.fail(f"{path}.id", f"duplicate timer id {spec['id']!r}")
            ids.add(spec["id"])
            for i, state in enumerate(spec["state"]):
                if state not in self.states:
                    raise self.fail(f"{path}.state[{i}]", self._unknown("state", state, self.states))
            try:
                after, business_days = parse_duration(spec["after"])
            except ValueError as exc:
                raise self.fail(f"{path}.after", str(exc)) from exc
            clock = spec.get("clock", "business" if business_days else "wall")
            if business_days and clock != "business":
                raise self.fail(f"{path}.clock", "business days (`bd`) count in business time; set clock = 'business'")
            if clock == "business" and not business_days and counts_days(spec["after"]):
                raise self.fail(f"{path}.after", DAYS_IN_BUSINESS_TIME)
            since = spec.get("since", "state_entered")
            if since.startswith("field:"):
                if since[6:] not in self.fields:
                    raise self.fail(f"{path}.since", self._unknown("field", since[6:], self.fields))
                if self.fields[since[6:]].type not in ("date", "datetime"):
                    raise self.fail(
                        f"{path}.since",
                        f"field {since[6:]!r} is {self.fields[since[6:]].type}; a timer counts from a date or "
                        "datetime field",
                    )
            elif since not in ("state_entered", "last_update", "last_requester_comment", "last_agent_comment"):
                raise self.fail(
                    f"{path}.since",
                    f"unknown start {since!r}; use state_entered, last_update, last_requester_comment, "
                    "last_agent_comment or field:<name>",
                )
            fire = spec.get("fire")
            if fire is not None:
                for state in spec["state"]:
                    if not any(
                        t.trigger == fire and t.on is None and state in t.sources and "system" in t.roles
                        for t in transitions
                    ):
                        raise self.fail(
                            f"{path}.fire",
                            f"no transition {fire!r} leaves {state!r} that role 'system' may fire; "
                            "add one or add 'system' to its roles",
                        )
            if not (
                fire or spec.get("notify") or spec.get("set_fields") or spec.get("add_tags") or spec.get("remove_tags")
            ):
                raise self.fail(
                    path, "the rule does nothing; give it fire, notify, set_fields, add_tags or remove_tags"
                )
            timers.append(
                TimedRule(
                    id=spec["id"],
                    states=tuple(spec["state"]),
                    after=after,
                    business_days=business_days,
                    clock=clock,
                    since=since,
                    fire=fire,
                    set_fields=self._field_values(f"{path}.set_fields", spec.get("set_fields", {})),
                    add_tags=self._tags(f"{path}.add_tags", spec.get("add_tags", ())),
                    remove_tags=self._tags(f"{path}.remove_tags", spec.get("remove_tags", ())),
                    notify=tuple(spec.get("notify", ())),
                    comment=spec.get("comment"),
                    when=self._field_values(f"{path}.when", spec.get("when", {}), allow_lists=True),
                    description=spec.get("description", ""),
                )
            )
        return tuple(timers)


# -- extend ----------------------------------------------------------------------


def extend_document(base: Mapping[str, Any], changes: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Merge *changes* into a copy of the checked document *base* (see Lifecycle.extend)."""
    if not isinstance(changes, Mapping):
        raise TypeError(f"extend: changes must be a mapping, got {type(changes).__name__}")
    check_document(changes, source)
    doc: dict[str, Any] = copy.deepcopy(dict(base))
    changes = dict(changes)
    for key, path in (("remove_states", "states"), ("remove_timers", "timers"), ("remove_transitions", "transitions")):
        names = changes.pop(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InvalidLifecycle(source, key, "expected a list of names")
        if path == "states":
            for name in names:
                if name not in doc["states"]:
                    raise InvalidLifecycle(source, key, f"unknown state {name!r}")
                del doc["states"][name]
        elif path == "timers":
            doc["timers"] = [t for t in doc.get("timers", []) if t["id"] not in names]
        else:
            doc["transitions"] = [t for t in doc["transitions"] if t["trigger"] not in names]
    for key, value in changes.items():
        if key in ("states", "fields", "roles", "access") and isinstance(value, Mapping):
            merged = dict(doc.get(key, {}))
            for name, spec in value.items():
                if isinstance(spec, Mapping) and isinstance(merged.get(name), Mapping):
                    merged[name] = {**merged[name], **spec}
                else:
                    merged[name] = spec
            doc[key] = merged
        elif key == "timers" and isinstance(value, list):
            replaced = {t.get("id") for t in value if isinstance(t, Mapping) and isinstance(t.get("id"), str)}
            doc["timers"] = [t for t in doc.get("timers", []) if t["id"] not in replaced] + list(value)
        elif key == "transitions" and isinstance(value, list):
            doc["transitions"] = doc["transitions"] + list(value)
        elif key == "sla" and isinstance(value, Mapping) and "metrics" not in value and "sla" in doc:
            doc["sla"] = _extend_sla(doc["sla"], value)  # no metrics: a change to the base's section
        else:
            doc[key] = value
    if "calendar" in changes and isinstance(doc.get("sla"), Mapping) and "calendar" not in changes.get("sla", {}):
        # one calendar for everything: the SLA's default calendar becomes the lifecycle's new one
        # (metrics and targets that name a calendar of their own keep it)
        doc["sla"] = {k: v for k, v in doc["sla"].items() if k != "calendar"}
    return doc


def _extend_sla(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Merge an extension's ``[sla]`` (without metrics) into the base's: calendars by name, key by key."""
    sla = dict(base)
    for key, value in changes.items():
        if key == "calendars" and isinstance(value, Mapping) and isinstance(sla.get("calendars"), Mapping):
            calendars = dict(sla["calendars"])
            for name, spec in value.items():
                known = calendars.get(name)
                both = isinstance(spec, Mapping) and isinstance(known, Mapping)
                calendars[name] = {**known, **spec} if both else spec  # type: ignore[dict-item]
            sla["calendars"] = calendars
        else:
            sla[key] = value
    return sla


# -- the built-in lifecycles: TOML files shipped in ``builtin/``, loaded like any other ---------


def _builtin_folder() -> Traversable:
    """The folder of the built-in TOML files, found without importing it as a package.

    Imported, ``ticketflow.lifecycle.builtin`` would become that package,
    shadowing the :func:`builtin` function ``ticketflow.lifecycle`` exports.
    """
    return resources.files("ticketflow.lifecycle").joinpath("builtin")


def builtins() -> list[str]:
    """The ids of the built-in lifecycles, sorted."""
    files = _builtin_folder().iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


@functools.cache
def builtin(lifecycle_id: str) -> Lifecycle:
    """Load the built-in lifecycle *lifecycle_id* (compiled once per process).

    Raises:
        InvalidLifecycle: there is no built-in with that id.
    """
    if lifecycle_id not in builtins():
        raise InvalidLifecycle(
            f"builtin:{lifecycle_id}", "", f"no built-in lifecycle {lifecycle_id!r}; available: {', '.join(builtins())}"
        )
    text = _builtin_folder().joinpath(f"{lifecycle_id}.toml").read_text(encoding="utf-8")
    return loads_lifecycle(text, "toml", source=f"builtin:{lifecycle_id}")


def _extend(lifecycle: Lifecycle, changes: Mapping[str, Any], source: str) -> Lifecycle:
    """``Lifecycle.extend``: the lifecycle's document with *changes* merged in, loaded anew."""
    return load_lifecycle(extend_document(lifecycle.document, changes, source), source=source)


set_extender(_extend)  # the definition calls back into the loader without importing it (no import cycle)
