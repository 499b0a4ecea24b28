"""SLA policies: metrics, their conditions and targets, read from a lifecycle's ``[sla]`` section."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import attrs

from ticketflow._selectors import selects
from ticketflow.calendar import BusinessCalendar
from ticketflow.calendar._calendar import folder_of, located
from ticketflow.errors import CalendarError, InvalidLifecycle
from ticketflow.lifecycle import Lifecycle, parse_duration
from ticketflow.lifecycle._loader import DAYS_IN_BUSINESS_TIME, SECTION_CHECKS, counts_days
from ticketflow.lifecycle._shape import METRIC_KIND_NAMES, SLA, ShapeError, check_shape
from ticketflow.model import Event, reply_of

__all__ = [
    "METRIC_KINDS",
    "CalendarChoice",
    "CalendarResolver",
    "Conditions",
    "SlaConfigError",
    "SlaMetric",
    "SlaPolicy",
    "SlaTarget",
    "policy_for",
]

#: An application's calendar lookup: the ticket's fields -> a calendar name of the policy (None: the default).
CalendarResolver = Callable[[Mapping[str, Any]], "str | None"]
DEFAULT_CALENDAR = "default"

METRIC_KINDS = METRIC_KIND_NAMES
ALWAYS_OPEN = "24x7"


class SlaConfigError(InvalidLifecycle):
    """An SLA section that cannot be used (unknown state, metric, calendar; overlapping selectors)."""


@attrs.frozen(cache_hash=True)  # a dict key on every evaluation
class Conditions:
    """Events that meet any of these: opening, entering states, triggers, comments.

    Attributes:
        open: the opening event.
        states: entering one of these states (from another state).
        triggers: one of these triggers.
        comment_by: a comment whose author holds one of these roles (empty:
            any author) — only when ``comment`` is set.
        comment: whether comments count at all (a broadcast's acknowledgement
            never does: it is no reply, see :func:`ticketflow.model.reply_of`).
        visibility: only comments of this visibility (None: any).
    """

    open: bool = False
    states: frozenset[str] = frozenset()
    triggers: frozenset[str] = frozenset()
    comment: bool = False
    comment_by: frozenset[str] = frozenset()
    visibility: str | None = None

    def _comment_matches(self, event: Event) -> bool:
        comment = reply_of(event)
        if comment is None or (self.visibility is not None and comment.visibility != self.visibility):
            return False
        return not self.comment_by or bool(event.actor.roles & self.comment_by)

    def matches(self, event: Event) -> bool:
        """Whether *event* meets any of the conditions."""
        if self.open and event.source is None:
            return True
        if self.states and event.target in self.states and event.source != event.target:
            return True
        if self.triggers and event.trigger in self.triggers:
            return True
        return self.comment and self._comment_matches(event)


_INTERNED: dict[Conditions, Conditions] = {}


def intern_conditions(conditions: Conditions) -> Conditions:
    """One shared object per distinct conditions, so evaluation can cache by identity."""
    return _INTERNED.setdefault(conditions, conditions)


#: Conditions no event meets (a metric without reset conditions).
NEVER = intern_conditions(Conditions())


@attrs.frozen
class CalendarChoice:
    """How a target takes its calendar from the ticket: a field through a mapping, or a resolver.

    Attributes:
        calendars: every calendar it may choose, by name (the default's too).
        default: the name chosen when the field's value is not mapped (or the
            resolver answers None).
        field: the ticket field read, such as ``organisation`` or ``group``.
        mapping: field value -> calendar name.
        resolver: the name of the application's resolver (instead of
            field/mapping), registered with ``Registry.add_calendar_resolver``.
        resolve: that resolver, once the policy is built with it.
    """

    calendars: Mapping[str, BusinessCalendar]
    default: str
    field: str | None = None
    mapping: Mapping[Any, str] = attrs.field(factory=dict)
    resolver: str | None = None
    resolve: CalendarResolver | None = attrs.field(default=None, eq=False, repr=False)
    #: where the choice is written in the lifecycle (for errors found when a Workflow binds its resolver)
    path: str = attrs.field(default="", eq=False, repr=False)

    def choose(self, fields: Mapping[str, Any]) -> str:
        """The name of the calendar a ticket with *fields* counts in.

        Raises:
            CalendarError: the resolver named a calendar the policy does not have.
        """
        if self.resolve is not None:
            name = self.resolve(fields)
        elif self.field is not None:
            value = fields.get(self.field)
            name = self.mapping.get(value) if isinstance(value, str | int | float | bool) else None
        else:
            name = None
        if name is None:
            return self.default
        if name not in self.calendars:
            raise CalendarError(
                f"calendar resolver {self.resolver!r} answered {name!r}; known: {', '.join(sorted(self.calendars))}"
            )
        return name


@attrs.frozen
class SlaTarget:
    """A goal and the tickets it applies to.

    Attributes:
        target: business time allowed per cycle (zero when it is given in business days).
        when: field values a ticket must have (a tuple means any of); empty
            for every ticket.
        calendar: the calendar this target counts in (the default, with ``calendar_by``).
        calendar_by: a per-ticket choice of calendar (by organisation, group,
            region), or None for ``calendar`` always.
        business_days: a target written in business days (``3bd``): each
            cycle is due at the same local time that many business days after
            it started (``BusinessCalendar.add_days``), counted as the business
            time in between, so pauses still extend it.
    """

    target: timedelta
    when: Mapping[str, Any]
    calendar: BusinessCalendar
    calendar_by: CalendarChoice | None = None
    business_days: int = 0

    def selects(self, fields: Mapping[str, Any]) -> bool:
        """Whether a ticket with *fields* gets this target."""
        return selects(self.when, fields)

    def calendar_for(self, fields: Mapping[str, Any]) -> tuple[str | None, BusinessCalendar]:
        """The calendar's name (None without ``calendar_by``) and the calendar a ticket with *fields* counts in."""
        if self.calendar_by is None:
            return None, self.calendar
        name = self.calendar_by.choose(fields)
        return name, self.calendar_by.calendars[name]


@attrs.frozen
class SlaMetric:
    """One measured promise.

    Attributes:
        id: unique id within the policy.
        kind: one of :data:`METRIC_KINDS`.
        start: events that start a cycle (when none runs).
        stop: events that end the running cycle (entering a terminal state
            always does).
        reset: events that restart the running cycle from zero.
        paused_in: states in which the clock does not run.
        targets: goals, the first whose selector matches applies.
        warn_at: fractions of the target that raise warnings.
    """

    id: str
    kind: str
    start: Conditions
    stop: Conditions
    reset: Conditions
    paused_in: frozenset[str]
    targets: tuple[SlaTarget, ...]
    warn_at: tuple[float, ...]

    def target_for(self, fields: Mapping[str, Any]) -> SlaTarget | None:
        """The target a ticket with *fields* gets, or None when no selector matches."""
        for target in self.targets:
            if target.selects(fields):
                return target
        return None


@attrs.frozen
class SlaPolicy:
    """A lifecycle's SLA metrics (see :func:`policy_for`) and its default calendar."""

    lifecycle_id: str
    metrics: tuple[SlaMetric, ...]
    calendar: BusinessCalendar | None = None
    calendar_by: CalendarChoice | None = None

    def calendar_for(self, fields: Mapping[str, Any]) -> BusinessCalendar | None:
        """The policy's calendar for a ticket with *fields*: by ``sla.calendar_by`` if set, else the default."""
        if self.calendar_by is None:
            return self.calendar
        return self.calendar_by.calendars[self.calendar_by.choose(fields)]

    def metric(self, metric_id: str) -> SlaMetric:
        """The metric with *metric_id* (KeyError if none)."""
        for metric in self.metrics:
            if metric.id == metric_id:
                return metric
        raise KeyError(metric_id)


def _defaults(kind: str, lifecycle: Lifecycle) -> dict[str, Any]:
    agents = lifecycle.access.staff - {"system"}  # the team: staff roles from the lifecycle, automations aside
    agent_public = Conditions(comment=True, comment_by=agents, visibility="public")
    closed = frozenset(s for s, st in lifecycle.states.items() if st.terminal or st.group == "closed")
    live = frozenset(lifecycle.states) - closed
    waiting = frozenset(lifecycle.groups.get("waiting", ()))
    working = frozenset(lifecycle.groups.get("in_progress", ()))
    if kind == "first_response":
        return {"start": Conditions(open=True), "stop": agent_public, "paused_in": frozenset()}
    if kind == "next_reply":
        requester = Conditions(comment=True, comment_by=lifecycle.access.customers, visibility="public")
        return {"start": requester, "stop": agent_public, "paused_in": frozenset()}
    if kind == "periodic_update":
        return {
            "start": Conditions(open=True, comment=True, comment_by=agents, visibility="public"),
            "stop": agent_public,
            "paused_in": waiting,
        }
    if kind == "agent_work":
        return {
            "start": Conditions(open=True, states=working),
            "stop": Conditions(states=closed),
            "paused_in": frozenset(lifecycle.states) - working,
        }
    # resolution and requester_wait: from opening (or reopening) to a closed state
    return {
        "start": Conditions(open=True, states=live),
        "stop": Conditions(states=closed),
        "paused_in": waiting if kind == "requester_wait" else frozenset(),
    }


class _PolicyBuilder:
    """Builds a lifecycle's policy when it loads: the workflow's calendar and resolvers are bound later."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lc = lifecycle
        self.source = lifecycle.source
        #: the paths that count in the default calendar (the workflow's, bound later), in order
        self.default_uses: list[str] = []

    def fail(self, path: str, problem: str) -> SlaConfigError:
        return SlaConfigError(self.source, path, problem)

    def build(self, section: Mapping[str, Any]) -> SlaPolicy:
        try:
            section = check_shape(SLA, section, "sla")
        except ShapeError as exc:
            raise self.fail(exc.path, exc.problem) from exc
        self.calendars: dict[str, BusinessCalendar] = {ALWAYS_OPEN: BusinessCalendar.always_open()}
        for name, config in section.get("calendars", {}).items():
            try:
                self.calendars[name] = BusinessCalendar.from_config(config, base=folder_of(self.source))
            except CalendarError as exc:
                raise self.fail(*located(exc, f"sla.calendars.{name}")) from exc
        self.policy_calendar = section.get("calendar")
        if self.policy_calendar is not None and self.policy_calendar not in self.calendars:
            raise self.fail("sla.calendar", self._unknown_calendar(self.policy_calendar, self.calendars))
        self.policy_choice = section.get("calendar_by")
        self.warn_at = self._fractions("sla.warn_at", section.get("warn_at", [0.75]))
        metrics = []
        seen: set[str] = set()
        for i, spec in enumerate(section["metrics"]):
            if spec["id"] in seen:
                raise self.fail(f"sla.metrics[{i}].id", f"duplicate metric id {spec['id']!r}")
            seen.add(spec["id"])
            metrics.append(self._metric(f"sla.metrics[{i}]", spec))
        default = self.calendars[self.policy_calendar] if self.policy_calendar else _WORKFLOW_CALENDAR
        choice = None
        if self.policy_choice is not None:
            uses = len(self.default_uses)
            choice = self._choice("sla.calendar_by", self.policy_choice, None)
            del self.default_uses[uses:]  # the policy's own choice is dropped, not refused, without a default
        return SlaPolicy(self.lc.id, tuple(metrics), default, choice)

    def _fractions(self, path: str, values: Sequence[float]) -> tuple[float, ...]:
        for i, value in enumerate(values):
            if not 0 < value < 1:
                raise self.fail(f"{path}[{i}]", f"a warning threshold is a fraction between 0 and 1, got {value}")
        return tuple(sorted(values))

    def _calendar(self, path: str, name: str | None) -> BusinessCalendar:
        name = name or self.policy_calendar
        if name is None:
            self.default_uses.append(path)
            return _WORKFLOW_CALENDAR
        if name not in self.calendars:
            raise self.fail(path, self._unknown_calendar(name, self.calendars))
        return self.calendars[name]

    @staticmethod
    def _unknown_calendar(name: str, calendars: Mapping[str, BusinessCalendar]) -> str:
        return f"unknown calendar {name!r}; known: {', '.join(sorted(calendars))}"

    def _states(self, path: str, spec: Mapping[str, Any]) -> frozenset[str]:
        states = set()
        for i, state in enumerate(spec.get("states", ())):
            if state not in self.lc.states:
                raise self.fail(f"{path}.states[{i}]", f"unknown state {state!r}; known: {', '.join(self.lc.states)}")
            states.add(state)
        groups = self.lc.groups
        for i, group in enumerate(spec.get("groups", ())):
            if group not in groups:
                raise self.fail(f"{path}.groups[{i}]", f"unknown state group {group!r}; known: {', '.join(groups)}")
            states.update(groups[group])
        return frozenset(states)

    def _conditions(self, path: str, spec: Mapping[str, Any]) -> Conditions:
        triggers = {*self.lc.triggers, *(t.trigger for t in self.lc.transitions)}
        for i, trigger in enumerate(spec.get("triggers", ())):
            if trigger not in triggers:
                raise self.fail(f"{path}.triggers[{i}]", f"unknown trigger {trigger!r}")
        comment = spec.get("comment")
        by: frozenset[str] = frozenset()
        if comment is not None:
            for i, role in enumerate(comment.get("by", ())):
                if role not in self.lc.roles:
                    raise self.fail(f"{path}.comment.by[{i}]", f"unknown role {role!r}")
            named = frozenset(comment.get("by", ()))
            # a role that may act as a named one counts too (admin for agent)
            by = frozenset(r for r in self.lc.roles if self.lc.expand_roles(frozenset({r})) & named)
        return intern_conditions(
            Conditions(
                open=spec.get("open", False),
                states=self._states(path, spec),
                triggers=frozenset(spec.get("triggers", ())),
                comment=comment is not None,
                comment_by=by,
                visibility=None if comment is None else comment.get("visibility"),
            )
        )

    def _metric(self, path: str, spec: Mapping[str, Any]) -> SlaMetric:
        kind = spec.get("kind", spec["id"])
        if kind not in METRIC_KINDS:
            raise self.fail(f"{path}.kind", f"unknown metric {kind!r}; use one of {', '.join(METRIC_KINDS)}")
        defaults = _defaults(kind, self.lc)
        if "pause" in spec and "run_in" in spec:
            raise self.fail(f"{path}.run_in", "give either pause or run_in, not both")
        paused = defaults["paused_in"]
        if "pause" in spec:
            paused = self._states(f"{path}.pause", spec["pause"])
        if "run_in" in spec:
            paused = frozenset(self.lc.states) - self._states(f"{path}.run_in", spec["run_in"])
        if "calendar_by" in spec:
            choice = self._choice(f"{path}.calendar_by", spec["calendar_by"], spec.get("calendar"))
        elif self.policy_choice is not None and "calendar" not in spec:
            choice = self._choice("sla.calendar_by", self.policy_choice, None)
        else:
            choice = None
        targets = tuple(
            self._target(f"{path}.targets[{i}]", t, spec.get("calendar"), choice) for i, t in enumerate(spec["targets"])
        )
        if not targets:
            raise self.fail(f"{path}.targets", "a metric needs at least one target")
        self._check_overlaps(f"{path}.targets", targets)
        return SlaMetric(
            id=spec["id"],
            kind=kind,
            start=self._conditions(f"{path}.start", spec["start"])
            if "start" in spec
            else intern_conditions(defaults["start"]),
            stop=self._conditions(f"{path}.stop", spec["stop"])
            if "stop" in spec
            else intern_conditions(defaults["stop"]),
            reset=self._conditions(f"{path}.reset", spec.get("reset", {})),
            paused_in=paused,
            targets=targets,
            warn_at=self._fractions(f"{path}.warn_at", spec["warn_at"]) if "warn_at" in spec else self.warn_at,
        )

    def _choice(self, path: str, spec: Mapping[str, Any], default_name: str | None) -> CalendarChoice:
        default = self._calendar(path, default_name)
        name = default_name or self.policy_calendar or DEFAULT_CALENDAR
        calendars = {**self.calendars, name: default}
        if ("field" in spec) == ("resolver" in spec):
            raise self.fail(path, "give either field (with map) or resolver")
        if "resolver" in spec:  # the application's function is bound with the workflow (LoadedPolicy.bind)
            return CalendarChoice(calendars, name, resolver=spec["resolver"], path=f"{path}.resolver")
        field = self.lc.fields.get(spec["field"])
        if field is None:
            raise self.fail(f"{path}.field", f"unknown field {spec['field']!r}")
        mapping: dict[Any, str] = {}
        for value, calendar in spec.get("map", {}).items():
            if calendar not in calendars:
                raise self.fail(f"{path}.map.{value}", self._unknown_calendar(calendar, calendars))
            try:
                mapping[field.coerce(value)] = calendar
            except ValueError as exc:
                raise self.fail(f"{path}.map.{value}", str(exc)) from exc
        return CalendarChoice(calendars, name, field=spec["field"], mapping=mapping)

    def _target(
        self, path: str, spec: Mapping[str, Any], metric_calendar: str | None, choice: CalendarChoice | None = None
    ) -> SlaTarget:
        try:
            target, business_days = parse_duration(spec["target"])
        except ValueError as exc:
            raise self.fail(f"{path}.target", str(exc)) from exc
        if not business_days and counts_days(spec["target"]):
            raise self.fail(f"{path}.target", DAYS_IN_BUSINESS_TIME)
        when: dict[str, Any] = {}
        for name, value in spec.get("when", {}).items():
            field = self.lc.fields.get(name)
            if field is None:
                raise self.fail(f"{path}.when.{name}", f"unknown field {name!r}")
            values = value if isinstance(value, list) else [value]
            try:
                coerced = tuple(field.coerce(v) for v in values)
            except ValueError as exc:
                raise self.fail(f"{path}.when.{name}", str(exc)) from exc
            when[name] = coerced if isinstance(value, list) else coerced[0]
        calendar = self._calendar(f"{path}.calendar", spec.get("calendar", metric_calendar))
        return SlaTarget(target, when, calendar, None if "calendar" in spec else choice, business_days)

    def _check_overlaps(self, path: str, targets: Sequence[SlaTarget]) -> None:
        def values(target: SlaTarget, name: str) -> set[Any] | None:
            if name not in target.when:
                return None
            value = target.when[name]
            return set(value) if isinstance(value, tuple) else {value}

        for i, a in enumerate(targets):
            for j in range(i + 1, len(targets)):
                b = targets[j]
                if not a.when:
                    raise self.fail(f"{path}[{i}].when", "a catch-all target must come last; later targets never apply")
                if not b.when and j == len(targets) - 1:
                    continue  # the catch-all default
                disjoint = any(
                    (va := values(a, name)) is not None and (vb := values(b, name)) is not None and not va & vb
                    for name in {*a.when, *b.when}
                )
                if not disjoint:
                    raise self.fail(
                        f"{path}[{j}].when",
                        f"overlaps targets[{i}]: a ticket could match both; make the selectors disjoint",
                    )


def policy_for(
    lifecycle: Lifecycle,
    calendar: BusinessCalendar | None = None,
    *,
    resolvers: Mapping[str, CalendarResolver] | None = None,
) -> SlaPolicy | None:
    """The SLA policy in *lifecycle*'s ``[sla]`` section bound to a calendar and resolvers, or None if it has none.

    The policy is built once, when the lifecycle loads (:func:`load_lifecycle`
    refuses a bad ``[sla]`` with its path); this only binds it.

    Args:
        lifecycle: the lifecycle.
        calendar: the workflow's calendar, used where the policy names none.
        resolvers: the application's calendar resolvers by name, for
            ``calendar_by = { resolver = "..." }`` (None: not checked, and a
            resolver-chosen calendar is the default).

    Raises:
        SlaConfigError: with the path inside the lifecycle: a part of the
            policy counts in the default calendar and there is none, or a
            resolver the registry does not have.
    """
    loaded = lifecycle.sections.get("sla")
    if loaded is None:
        if "sla" not in lifecycle.document:
            return None
        loaded = _load_section(lifecycle)  # a lifecycle assembled without the loader's last stage
    assert isinstance(loaded, LoadedPolicy)  # noqa: S101 - the section's builder is this module's
    return loaded.bind(calendar, resolvers)


_NO_CALENDAR = "no calendar: name one here, set sla.calendar, or give the workflow a calendar"

#: Stands in for the workflow's calendar in a policy built at load time; :meth:`LoadedPolicy.bind` replaces it.
_WORKFLOW_CALENDAR = BusinessCalendar.always_open()


@attrs.frozen
class LoadedPolicy:
    """A lifecycle's SLA policy as built at load time, before a Workflow binds its calendar and resolvers.

    Attributes:
        policy: the policy, with a stand-in wherever the default calendar counts.
        source: the lifecycle's source (for errors at binding).
        default_uses: the paths that count in the default calendar, in order.
    """

    policy: SlaPolicy
    source: str
    default_uses: tuple[str, ...]

    def bind(
        self, calendar: BusinessCalendar | None, resolvers: Mapping[str, CalendarResolver] | None = None
    ) -> SlaPolicy:
        """The policy counting in *calendar* where it names none, with the application's *resolvers*."""
        if calendar is None and self.default_uses:
            raise SlaConfigError(self.source, self.default_uses[0], _NO_CALENDAR)
        policy = self.policy

        def bound(used: BusinessCalendar) -> BusinessCalendar:
            return calendar if used is _WORKFLOW_CALENDAR and calendar is not None else used

        def swap(choice: CalendarChoice | None) -> CalendarChoice | None:
            if choice is None:
                return None
            calendars = {name: bound(c) for name, c in choice.calendars.items()}
            resolve = choice.resolve
            if choice.resolver is not None and resolvers is not None:
                if choice.resolver not in resolvers:
                    raise SlaConfigError(
                        self.source,
                        choice.path,
                        f"no calendar resolver {choice.resolver!r}; register it with "
                        f"registry.add_calendar_resolver({choice.resolver!r}, fn)",
                    )
                resolve = resolvers[choice.resolver]
            return attrs.evolve(choice, calendars=calendars, resolve=resolve)

        metrics = tuple(
            attrs.evolve(
                metric,
                targets=tuple(
                    attrs.evolve(
                        target,
                        calendar=bound(target.calendar),
                        calendar_by=swap(target.calendar_by),
                    )
                    for target in metric.targets
                ),
            )
            for metric in policy.metrics
        )
        default = calendar if policy.calendar is _WORKFLOW_CALENDAR else policy.calendar
        choice = None if default is None else swap(policy.calendar_by)
        return attrs.evolve(policy, metrics=metrics, calendar=default, calendar_by=choice)


def _load_section(lifecycle: Lifecycle) -> LoadedPolicy:
    """The ``[sla]`` section built when the lifecycle loads (stage 5 of :func:`load_lifecycle`).

    The calendar a Workflow gives later is stood in for; everything else
    (states, triggers, metrics, targets, calendars) is checked and built here.
    """
    builder = _PolicyBuilder(lifecycle)
    policy = builder.build(lifecycle.document["sla"])
    return LoadedPolicy(policy, lifecycle.source, tuple(builder.default_uses))


SECTION_CHECKS["sla"] = _load_section
