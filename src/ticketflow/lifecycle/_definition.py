"""The lifecycle definition: frozen values built from a checked document."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ticketflow._brief import brief
from ticketflow._values import INT_MAX, INT_MIN, text_problem
from ticketflow.calendar import BusinessCalendar

if TYPE_CHECKING:
    from ticketflow.lifecycle._access import Access
    from ticketflow.lifecycle._engine import Engine

__all__ = [
    "BUILTIN_ROLES",
    "Compare",
    "Elapsed",
    "FieldSpec",
    "Lifecycle",
    "LinkRule",
    "OnEvent",
    "State",
    "TimedRule",
    "Transition",
    "fingerprint",
    "set_extender",
]

#: Roles every lifecycle knows: ``admin`` may do what ``agent`` may by default;
#: ``system`` is the actor automations run as.
BUILTIN_ROLES = frozenset({"requester", "agent", "admin", "system"})

#: Triggers every lifecycle has: post a comment, change fields/tags/people.
BUILTIN_TRIGGERS = ("comment", "update")

_FROZEN_EMPTY: frozenset[str] = frozenset()


def _no_extender(lifecycle: Lifecycle, changes: Mapping[str, Any], source: str) -> Lifecycle:
    raise RuntimeError("Lifecycle.extend needs ticketflow.lifecycle's loader; import ticketflow.lifecycle")


#: How :meth:`Lifecycle.extend` loads a merged document: the loader's, set by :func:`set_extender` when the
#: loader is imported (the loader imports this module; this module never imports the loader: no import cycle).
_EXTENDER: list[Callable[[Lifecycle, Mapping[str, Any], str], Lifecycle]] = [_no_extender]


def set_extender(extend: Callable[[Lifecycle, Mapping[str, Any], str], Lifecycle]) -> None:
    """Make *extend* the function :meth:`Lifecycle.extend` delegates to (the loader calls this once)."""
    _EXTENDER[0] = extend


def _proxy(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def fingerprint(document: Mapping[str, Any]) -> str:
    """The sha256 (hex) of a checked lifecycle document, normalised: keys sorted, compact JSON.

    Equal definitions have equal fingerprints however they were written
    (key order, TOML or dict); any change to the definition changes it.
    """

    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, set | frozenset):
            return sorted((plain(v) for v in value), key=repr)
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        return str(value)  # dates, durations: their text form

    text = json.dumps(plain(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def tag_allowed(vocabulary: frozenset[str], tag: str) -> bool:
    """Whether *tag* is allowed by *vocabulary* (empty: every tag; ``prefix:*`` patterns)."""
    if not vocabulary or tag in vocabulary:
        return True
    return any(p.endswith("*") and tag.startswith(p[:-1]) for p in vocabulary)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b,
    "gte": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "lte": lambda a, b: a is not None and a <= b,
    "set": lambda a, b: (a is not None) == b,
}


@attrs.frozen
class Elapsed:
    """The operand of an ``elapsed`` comparison: at least this long since a date or datetime field.

    Attributes:
        text: the duration as written (``1bd``, ``24h``).
        after: the wall or business-hours duration (zero for business days).
        business_days: business days (``1bd``), counted in the lifecycle's calendar.
        business: business time (``clock = "business"`` hours, or business days).
    """

    text: str
    after: timedelta
    business_days: int = 0
    business: bool = False

    def passed(self, value: Any, at: datetime | None, calendar: BusinessCalendar | None) -> bool:
        """Whether the duration has passed between *value* (an ISO date or datetime) and *at*."""
        if value is None or at is None:
            return False
        since = datetime.fromisoformat(value) if "T" in value else None
        if since is None:
            zone = calendar.tz if calendar is not None else at.tzinfo
            since = datetime.combine(date.fromisoformat(value), datetime.min.time(), zone)
        if (
            since.tzinfo is not None and since > at
        ):  # nothing has passed since an instant still ahead (a calendar may not reach it)
            return False
        try:
            if not self.business or calendar is None:
                return since.astimezone(UTC) + self.after <= at
            if self.business_days:
                return calendar.add_days(since, self.business_days) <= at
            return calendar.add(since, self.after) <= at
        except OverflowError:  # a deadline datetime cannot hold (after 9999-12-31): never reached, as a timer's
            return False

    def __repr__(self) -> str:
        return repr(self.text)


@attrs.frozen
class Compare:
    """A ``when`` condition other than equality: ``{ gte = 2 }``, ``{ set = true }``, ``{ elapsed = "1bd" }``.

    Attributes:
        ops: ``(operator, operand)`` pairs, all of which must hold; operators
            are ``eq``, ``ne``, ``gt``, ``gte``, ``lt``, ``lte``, ``set``
            (the field is set, or with ``false`` unset) and, on transitions,
            ``elapsed`` (an :class:`Elapsed`: at least that long since the
            date or datetime the field holds, as of the step). An unset field
            is never greater or less than anything, and no time has elapsed
            since it.
    """

    ops: tuple[tuple[str, Any], ...]

    def holds(self, value: Any, at: datetime | None = None, calendar: BusinessCalendar | None = None) -> bool:
        """Whether *value* meets every comparison (``elapsed`` as of *at*, in *calendar*)."""
        return all(
            operand.passed(value, at, calendar) if op == "elapsed" else _COMPARE[op](value, operand)
            for op, operand in self.ops
        )

    def __str__(self) -> str:
        return " and ".join(f"{op} {operand!r}" for op, operand in self.ops)


def conditions_hold(when: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """Whether *fields* meet ``when`` conditions (a value, a tuple of values, or a :class:`Compare`)."""
    for name, expected in when.items():
        value = fields.get(name)
        if isinstance(expected, Compare):
            if not expected.holds(value):
                return False
        elif isinstance(expected, tuple) and not isinstance(value, tuple):
            if value not in expected:
                return False
        elif value != expected:
            return False
    return True


@attrs.frozen
class State:
    """One state of a lifecycle.

    Attributes:
        id: the state id.
        group: its category (``open``, ``in_progress``, ``closed``...), if any.
        terminal: no transition leaves it.
        immutable: nothing about a ticket may change once it is here.
        description: free text.
        notify: notifier names: entering the state (opening a ticket in
            it included) writes an outbox message of each kind with the step.
    """

    id: str
    group: str | None = None
    terminal: bool = False
    immutable: bool = False
    description: str = ""
    notify: tuple[str, ...] = ()


@attrs.frozen
class OnEvent:
    """What takes an event-driven transition by itself.

    Attributes:
        event: ``"comment"`` (a comment is posted) or ``"field_set"`` (a
            field gets a new, non-empty value through ``update``).
        visibility: for comments, only this visibility counts (None: any).
        field: for ``field_set``, the field whose setting counts.
    """

    event: Literal["comment", "field_set"]
    visibility: str | None = None
    field: str | None = None


@attrs.frozen
class Transition:
    """One transition of a lifecycle, as written (sources already expanded).

    Attributes:
        index: its position in the definition (``transitions[index]``).
        trigger: the trigger name.
        sources: the states it leaves from.
        dest: the state it enters.
        roles: roles that may fire it.
        who: ticket relations that may fire it (``assignee``, ``requester``,
            ``participant``).
        guards: guard names, looked up in the application's registry.
        actions: action names run after the change is saved.
        require: fields that must be set after the step.
        require_comment: the step must carry a comment.
        when: field conditions on the ticket as it is before the step: the
            field must equal the value, be one of a tuple of values, or meet
            a :class:`Compare`.
        increment: int fields increased by one on the way (counters such as
            attempts to reach the customer).
        set_fields: fields set on the way (``None`` unsets).
        add_tags: tags added on the way.
        remove_tags: tags removed on the way.
        on: set for event-driven transitions, which are not fired by name.
        claim: the actor becomes the assignee when the ticket has none
            (the agent who first responds keeps the ticket).
        given: conditions on the data the step carries: the ticket's fields
            with the values the caller gives merged in (before
            ``set_fields``); several transitions sharing a trigger and source
            are told apart by them ("resolve with this method").
        comment_visibility: with ``require_comment``, the comment must have
            this visibility (``public``: a customer-facing step).
        stamp: date or datetime fields set to the step's instant (when the
            customer was last reached).
        returns: the ticket goes back to the state it was in before it
            entered the source state; one such transition is compiled per
            state it may have come from (``dest`` is that state).
        description: free text.
    """

    index: int
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: frozenset[str]
    who: frozenset[str] = _FROZEN_EMPTY
    guards: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    require_comment: bool = False
    when: Mapping[str, Any] = attrs.field(factory=dict, converter=_proxy)
    set_fields: Mapping[str, Any] = attrs.field(factory=dict, converter=_proxy)
    add_tags: frozenset[str] = _FROZEN_EMPTY
    remove_tags: frozenset[str] = _FROZEN_EMPTY
    increment: tuple[str, ...] = ()
    on: OnEvent | None = None
    description: str = ""
    claim: bool = False
    given: Mapping[str, Any] = attrs.field(factory=dict, converter=_proxy)
    comment_visibility: str | None = None
    stamp: tuple[str, ...] = ()
    returns: bool = False

    @property
    def path(self) -> str:
        """Where it stands in its document: ``transitions[index]``."""
        return f"transitions[{self.index}]"


@attrs.frozen
class FieldSpec:
    """The schema of one field.

    Attributes:
        name: the field name.
        type: ``string``, ``text``, ``int``, ``float``, ``bool``, ``choice``,
            ``date`` (ISO ``YYYY-MM-DD``), ``datetime`` (ISO with offset),
            ``actor`` (an actor id) or ``list`` (of strings).
        choices: allowed values for ``choice``.
        required_in: states that cannot be entered while it is unset.
        default: value given on open when none is supplied.
        internal: hidden from requesters.
        description: free text.
    """

    name: str
    type: str
    choices: tuple[str, ...] = ()
    required_in: frozenset[str] = _FROZEN_EMPTY
    default: Any = None
    internal: bool = False
    description: str = ""

    def example(self) -> Any:
        """A valid value of this field (the first choice of a choice field): for demos and test data."""
        if self.type == "choice":
            return self.choices[0]
        return _EXAMPLES[self.type]

    def coerce(self, value: Any) -> Any:
        """Return *value* in its stored form, or raise ``ValueError`` saying why.

        Dates and datetimes are stored as ISO strings and lists as tuples, so
        every stored value is JSON-compatible and compares equal after a round
        trip through storage.
        """
        kind = self.type
        if value is None:
            return None
        if kind in ("string", "text", "actor"):
            if isinstance(value, str):
                problem = text_problem(value)
                if problem:
                    raise ValueError(problem)
                return value
        elif kind == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                if not INT_MIN <= value <= INT_MAX:
                    raise ValueError(f"{brief(value)} does not fit in 64 bits")
                return value
        elif kind == "float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                number = float(value) if isinstance(value, float) or abs(value) <= 2**1000 else math.inf
                if not math.isfinite(number):
                    raise ValueError(f"{brief(value)} is not a finite number")
                return number
        elif kind == "bool":
            if isinstance(value, bool):
                return value
        elif kind == "choice":
            if value in self.choices:
                return value
            raise ValueError(f"{brief(value)} is not one of {', '.join(self.choices)}")
        elif kind == "date":
            return _coerce_date(value)
        elif kind == "datetime":
            return _coerce_datetime(value)
        elif kind == "list" and isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            for item in value:
                problem = text_problem(item)
                if problem:
                    raise ValueError(problem)
            return tuple(value)
        raise ValueError(f"expected a {kind} value, got {type(value).__name__} {brief(value)}")


_EXAMPLES: dict[str, Any] = {
    "string": "sample",
    "text": "sample text",
    "actor": "agent-1",
    "int": 1,
    "float": 1.0,
    "bool": True,
    "date": "2026-01-06",
    "datetime": "2026-01-06T09:00:00+00:00",
    "list": ("a",),
}


def _coerce_date(value: Any) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValueError(f"expected a date (YYYY-MM-DD), got {brief(value)}")


def _coerce_datetime(value: Any) -> str:
    parsed = value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if not isinstance(parsed, datetime):
        raise ValueError(f"expected an ISO datetime with offset, got {brief(value)}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"datetime {brief(value)} is naive; give it an offset")
    return parsed.isoformat()


@attrs.frozen
class TimedRule:
    """A rule that acts after a while (executed by the automation sweeper).

    Attributes:
        id: unique rule id.
        states: states it watches; it is armed on entering one of them.
        after: the duration (wall or business time).
        business_days: when the duration is written in business days
            (``2bd``), their number; ``after`` is then zero.
        clock: ``wall`` or ``business``.
        since: what the duration counts from: ``state_entered``,
            ``last_update`` (the ticket's last event),
            ``last_requester_comment``, ``last_agent_comment`` or
            ``field:<name>``.
        fire: the trigger to fire as the ``system`` actor, if any.
        set_fields: fields to set.
        add_tags: tags to add.
        remove_tags: tags to remove.
        notify: notifier names to call.
        comment: a public comment the system posts with the step, if any.
        when: field conditions (as on transitions); the rule is armed only
            while the ticket meets them.
        description: free text.
    """

    id: str
    states: tuple[str, ...]
    after: timedelta
    business_days: int = 0
    clock: Literal["wall", "business"] = "wall"
    since: str = "state_entered"
    fire: str | None = None
    set_fields: Mapping[str, Any] = attrs.field(factory=dict, converter=_proxy)
    add_tags: frozenset[str] = _FROZEN_EMPTY
    remove_tags: frozenset[str] = _FROZEN_EMPTY
    notify: tuple[str, ...] = ()
    comment: str | None = None
    when: Mapping[str, Any] = attrs.field(factory=dict, converter=_proxy)
    description: str = ""


@attrs.frozen
class LinkRule:
    """When a linked external record reaches a status (and priority), fire a trigger on its tickets.

    Attributes:
        record: the record kind (``issue``).
        statuses: the statuses that trigger it.
        priorities: only at these priorities (empty: any).
        fire: the trigger fired as the ``system`` actor.
        description: free text.
        all: only when every record of this kind linked to the ticket has
            one of the statuses (the last status recorded for each), not
            just the one that changed.
    """

    record: str
    statuses: frozenset[str]
    priorities: frozenset[str]
    fire: str
    description: str = ""
    all: bool = False

    def applies(self, record: str, status: str, priority: str | None) -> bool:
        """Whether a change of *record* to *status*/*priority* triggers this rule."""
        return (
            record == self.record and status in self.statuses and (not self.priorities or priority in self.priorities)
        )


@attrs.frozen(eq=False)
class Lifecycle:
    """A validated, compiled lifecycle; load one with :func:`load_lifecycle`.

    Two lifecycles are equal only if they are the same object: compare
    ``lifecycle.document`` to compare definitions.

    Attributes:
        id: the lifecycle id.
        name: a display name.
        description: free text.
        version: the author's revision number.
        initial: the initial state id.
        states: states by id, in definition order.
        transitions: every transition, in definition order.
        fields: field schema by name.
        roles: every role known to the lifecycle.
        role_inherits: for each role, the roles it may act as.
        tags: the allowed tags (``prefix:*`` patterns allowed); empty: free.
        timers: the timed rules.
        open_roles: roles that may open tickets.
        comment_roles: roles that may comment.
        update_roles: roles that may update fields, tags and people.
        source: where the definition came from.
        document: the checked document it was built from (for ``extend``).
        calendar: the lifecycle's own business calendar (``[calendar]``), used
            by business-time rules and SLA targets unless the workflow gives one.
        internal_tags: tags requesters never see (patterns allowed).
        key_prefix: when set, new tickets get human keys as ids (``SUP-1042``).
        link_rules: rules that move tickets when a linked record changes.
        access: who may see each ticket and set each part of it
            (``[access]`` and each field's ``set_by``): staff roles,
            relations, setters.
    """

    id: str
    name: str
    description: str
    version: int
    initial: str
    states: Mapping[str, State]
    transitions: tuple[Transition, ...]
    fields: Mapping[str, FieldSpec]
    roles: frozenset[str]
    role_inherits: Mapping[str, frozenset[str]]
    tags: frozenset[str]
    timers: tuple[TimedRule, ...]
    open_roles: frozenset[str]
    comment_roles: frozenset[str]
    update_roles: frozenset[str]
    source: str
    document: Mapping[str, Any]
    calendar: BusinessCalendar | None = None
    internal_tags: frozenset[str] = frozenset()
    key_prefix: str | None = None
    link_rules: tuple[LinkRule, ...] = ()
    access: Access = attrs.field(kw_only=True)
    _engine: Engine | None = attrs.field(default=None, repr=False, alias="engine")
    _sections: Mapping[str, Any] = attrs.field(factory=dict, repr=False, alias="sections")

    @property
    def sections(self) -> Mapping[str, Any]:
        """What the packages above the lifecycle built from their sections when it loaded, by section name.

        ``"sla"``: the SLA policy (:func:`ticketflow.policy_for` binds it to a
        calendar). Empty for a lifecycle assembled without :func:`load_lifecycle`.
        """
        return self._sections

    @property
    def engine(self) -> Engine:
        """The compiled engine (built once, when the lifecycle was loaded)."""
        if self._engine is None:  # pragma: no cover - the loader always compiles
            raise RuntimeError("lifecycle was not compiled; build it with load_lifecycle()")
        return self._engine

    @property
    def fingerprint(self) -> str:
        """The sha256 (hex) of the normalised definition: with ``id`` and ``version``, this lifecycle's identity.

        Every opening event records it (``meta["lifecycle_fingerprint"]``,
        with ``lifecycle_version``), so a ticket knows the version it was
        opened under. Equal definitions have equal fingerprints.
        """
        return self.engine.fingerprint

    @property
    def triggers(self) -> tuple[str, ...]:
        """Trigger names users may fire, in definition order, then the built-ins."""
        seen: dict[str, None] = {}
        for t in self.transitions:
            if t.on is None:
                seen.setdefault(t.trigger)
        return (*seen, *BUILTIN_TRIGGERS)

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """State ids by group, in definition order (ungrouped states left out)."""
        result: dict[str, list[str]] = {}
        for state in self.states.values():
            if state.group is not None:
                result.setdefault(state.group, []).append(state.id)
        return {group: tuple(ids) for group, ids in result.items()}

    def expand_roles(self, roles: frozenset[str]) -> frozenset[str]:
        """The roles an actor holding *roles* may act as (with inheritance)."""
        result = set(roles)
        todo = list(roles)
        while todo:
            for inherited in self.role_inherits.get(todo.pop(), ()):
                if inherited not in result:
                    result.add(inherited)
                    todo.append(inherited)
        return frozenset(result)

    def tag_allowed(self, tag: str) -> bool:
        """Whether *tag* is in the lifecycle's vocabulary (always, if it is free)."""
        return tag_allowed(self.tags, tag)

    def to_mermaid(self) -> str:
        """The lifecycle as a Mermaid ``stateDiagram-v2``."""
        from ticketflow.lifecycle._diagram import to_mermaid

        return to_mermaid(self)

    def to_dot(self) -> str:
        """The lifecycle as Graphviz DOT text (no graphviz needed to produce it)."""
        from ticketflow.lifecycle._diagram import to_dot

        return to_dot(self)

    def extend(self, changes: Mapping[str, Any], *, source: str = "<extend>") -> Lifecycle:
        """A new lifecycle: this one's document with *changes* merged in.

        Tables merge key by key (``states``, ``fields``, ``roles``); lists
        (``transitions``, ``timers``) are appended to, except that a timer
        with an existing ``id`` replaces it; set ``remove_transitions`` to a
        list of trigger names, or ``remove_states`` / ``remove_timers`` to ids,
        to drop parts first. The result is validated like any definition.

        Calendars: a top-level ``calendar`` is the one calendar of timers *and*
        the SLA policy (the policy's default ``sla.calendar`` is dropped, so it
        counts in the lifecycle's calendar; a metric or target naming its own
        calendar keeps it). An ``sla`` without ``metrics`` changes the base's
        ``[sla]``: ``calendars`` merge by name, key by key (override only the
        SLA's calendar without copying the section), other keys are replaced;
        an ``sla`` with ``metrics`` replaces the section.
        """
        return _EXTENDER[0](self, changes, source)
