"""The kit's checks of every rule a lifecycle states, and what they exercised.

Each check walks a fresh ticket to a reachable state by the shortest path
(with the actors and data each step needs), does one thing there, and judges
the result against the *definition* — not against what the engine computed:

- :func:`check_data_rules`: for each transition from each reachable source,
  leaving out one required field, the comment, a ``when`` condition, a guard
  or the role is refused with the right error and changes nothing, and with
  everything the step is taken;
- :func:`check_allowed`: in every reachable state, for representative data
  (``when`` fields met and not, kit guards on and off) and actors,
  ``allowed()`` lists exactly the triggers a fire with full data accepts;
- :func:`check_views`: a requester's view never holds internal comments,
  fields, tags or meta (and still holds the public comments);
- :func:`check_timers`: each timed rule fires once per entry into its
  states, at its due instant and not a microsecond before;
- :func:`check_sla_history`: SLA clocks match an independent reading of the
  metric's start, stop, reset and pause rules, and report their last cycle.

:class:`KitCoverage` records what was exercised against what is reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from datetime import UTC, timedelta
from functools import partial
from typing import Any

import attrs

from ticketflow.calendar import BusinessCalendar
from ticketflow.clock import SteppableClock
from ticketflow.errors import (
    FieldError,
    PermissionDenied,
    TicketClosed,
    TicketflowError,
    TicketNotFound,
    TransitionNotAllowed,
)
from ticketflow.lifecycle import Compare, FieldSpec, GuardContext, Lifecycle, TimedRule, Transition
from ticketflow.lifecycle._definition import conditions_hold
from ticketflow.model import Actor, Event, Ticket, Visibility
from ticketflow.registry import Registry
from ticketflow.repository import MemoryRepository
from ticketflow.sla import SlaClock, SlaConfigError, SlaPolicy, policy_for
from ticketflow.sla._policy import NEVER, Conditions, SlaMetric
from ticketflow.testing._paths import (
    START,
    _actor_for,
    _needs,
    _sample,
    _satisfying,
    check_kit_arguments,
    kit_registry,
    path_coverage,
    take_path,
)
from ticketflow.testing._strategies import ASSIGNEE_ID, REQUESTER_ID
from ticketflow.workflow import Workflow

__all__ = [
    "KitCoverage",
    "check_allowed",
    "check_data_rules",
    "check_sla",
    "check_sla_history",
    "check_timers",
    "check_view",
    "check_views",
    "expected_coverage",
]

KINDS = ("states", "transitions", "rules", "timers", "metrics")
_ONE_US = timedelta(microseconds=1)
STRANGER = Actor("stranger")


# -- coverage ----------------------------------------------------------------------


@attrs.define
class KitCoverage:
    """What a run of the kit exercised, against what the lifecycle makes reachable.

    Attributes:
        reachable: by kind (``states``, ``transitions``, ``rules``,
            ``timers``), the labels a complete run exercises.
        exercised: by kind, the labels this run exercised.
        notes: why a reachable label was not exercised, where a check knows.
    """

    reachable: dict[str, set[str]] = attrs.field(factory=lambda: {k: set() for k in KINDS})
    exercised: dict[str, set[str]] = attrs.field(factory=lambda: {k: set() for k in KINDS})
    notes: dict[str, str] = attrs.field(factory=dict)

    def hit(self, kind: str, label: str) -> None:
        """Record *label* of *kind* as exercised."""
        self.exercised[kind].add(label)

    def missing(self, kinds: Iterable[str] = KINDS, accepted: Iterable[str] = ()) -> dict[str, list[str]]:
        """Reachable labels never exercised, by kind (leaving out *accepted* labels)."""
        skip = set(accepted)
        result = {}
        for kind in kinds:
            left = sorted(self.reachable[kind] - self.exercised[kind] - skip)
            if left:
                result[kind] = left
        return result

    def report(self, kinds: Iterable[str] = KINDS) -> str:
        """One line per kind: exercised / reachable, then what was missed and why."""
        lines = []
        for kind in kinds:
            reach = self.reachable[kind]
            lines.append(f"{kind}: {len(reach & self.exercised[kind])}/{len(reach)} exercised")
            for label in sorted(reach - self.exercised[kind]):
                lines.append(f"  never exercised: {label}" + (f" ({self.notes[label]})" if label in self.notes else ""))
        return "\n".join(lines)


def _transition_label(t: Transition, source: str) -> str:
    return f"{t.path} {t.trigger!r} from {source!r}"


def _rules_of(lifecycle: Lifecycle, t: Transition) -> list[tuple[str, str]]:
    """The data rules of *t* as (kind, name): role, comment, field, attribute, when, guard."""
    rules: list[tuple[str, str]] = [("role", "")]
    if t.require_comment:
        rules.append(("comment", ""))
    fields = [name for name, spec in lifecycle.fields.items() if t.dest in spec.required_in]
    fields += [name for name in t.require if name in lifecycle.fields and name not in fields]
    rules += [("field", name) for name in fields if name not in t.when and name not in t.set_fields]
    rules += [("attribute", name) for name in t.require if name in ("assignee", "requester")]
    rules += [("when", name) for name in t.when]
    rules += [("guard", name) for name in t.guards]
    return rules


def _rule_label(t: Transition, source: str, rule: tuple[str, str]) -> str:
    kind, name = rule
    return f"{_transition_label(t, source)}: {kind}" + (f" {name}" if name else "")


def expected_coverage(lifecycle: Lifecycle) -> KitCoverage:
    """The labels a complete run of the kit exercises on *lifecycle*."""
    check_kit_arguments("expected_coverage", lifecycle)
    paths = path_coverage(lifecycle)
    coverage = KitCoverage()
    coverage.reachable["states"] = set(paths.states)
    for (_index, source), path in paths.transitions.items():
        t = path[-1]  # a returning transition has one entry per way back, all of one index
        coverage.reachable["transitions"].add(_transition_label(t, source))
        if t.on is None:
            coverage.reachable["rules"].update(_rule_label(t, source, r) for r in _rules_of(lifecycle, t))
    coverage.reachable["timers"] = {rule.id for rule in lifecycle.timers if any(s in paths.states for s in rule.states)}
    policy = _policy(lifecycle, None)
    coverage.reachable["metrics"] = set() if policy is None else {m.id for m in policy.metrics}
    return coverage


def _policy(lifecycle: Lifecycle, calendar: BusinessCalendar | None) -> SlaPolicy | None:
    try:
        return policy_for(lifecycle, calendar or lifecycle.calendar)
    except SlaConfigError:
        return None  # it needs a calendar the kit was not given


# -- the walk ------------------------------------------------------------------------


class Switches:
    """Guards the kit controls: every guard the application did not register, on until switched off."""

    def __init__(self) -> None:
        self.off: set[str] = set()

    def guard(self, name: str) -> Callable[[GuardContext], bool]:
        """A guard that allows unless *name* is switched off."""
        return lambda _context: name not in self.off


class Bench:
    """A workflow with a steppable clock and kit guards, where the checks walk tickets."""

    def __init__(self, lifecycle: Lifecycle, registry: Registry | None, calendar: BusinessCalendar | None) -> None:
        self.lifecycle = lifecycle
        self.switches = Switches()
        combined = kit_registry(lifecycle, registry)
        self.kit_guards = set()
        for t in lifecycle.transitions:
            for name in t.guards:
                if name not in combined.guards:
                    combined.guards[name] = self.switches.guard(name)
                    self.kit_guards.add(name)
        self.clock = SteppableClock(START)
        counter = iter(range(1, 1 << 30))
        self.wf = Workflow(
            lifecycle,
            MemoryRepository(),
            clock=self.clock,
            calendar=calendar,
            registry=combined,
            id_factory=lambda: f"K-{next(counter)}",
        )

    def walk(self, path: Sequence[Transition]) -> Ticket:
        """A new ticket taken along *path*; AssertionError naming the step that failed."""
        return take_path(self.wf, self.clock, self.lifecycle, path)

    def setup(self, ticket_id: str, **changes: Any) -> Ticket:
        """Change fields/people as a set-up step (an update by an actor with every update role)."""
        actor = Actor("kit-setup", roles=set(self.lifecycle.update_roles))
        self.clock.advance(minutes=1)
        return self.wf.update(ticket_id, actor, **changes)


def _candidates(spec: FieldSpec) -> list[Any]:
    """Values to try for a field: unset, the choices, and samples around the example."""
    values: list[Any] = [None, *spec.choices]
    if spec.type in ("int", "float"):
        values += [-1000, -1, 0, 1, 2, 1000]
    elif spec.type == "bool":
        values += [True, False]
    else:
        values += [_sample(spec), "kit-other"]
    coerced = []
    for value in values:
        try:
            coerced.append(spec.coerce(value))
        except ValueError:
            continue
    return coerced


def _value(spec: FieldSpec, condition: Any, *, holds: bool) -> tuple[bool, Any]:
    """A value of *spec* that meets (or fails) one ``when`` *condition*; (False, None) if none found."""
    if isinstance(condition, Compare) and any(op == "elapsed" for op, _ in condition.ops):
        return True, (_satisfying(spec, condition) if holds else None)  # long ago, or unset: no time elapsed
    tries = _candidates(spec)
    if isinstance(condition, Compare):
        tries += [operand for _, operand in condition.ops if not isinstance(operand, bool)]
    elif isinstance(condition, tuple):
        tries += list(condition)
    else:
        tries.append(condition)
    for value in tries:
        if conditions_hold({spec.name: condition}, {spec.name: value}) == holds:
            return True, value
    return False, None


def _met(lifecycle: Lifecycle, t: Transition) -> dict[str, Any] | None:
    """Field values meeting every ``when`` condition of *t* (None if the kit finds none)."""
    values = {}
    for name, condition in t.when.items():
        found, value = _value(lifecycle.fields[name], condition, holds=True)
        if not found:
            return None
        values[name] = value
    return values


def _full_fire(
    wf: Workflow, ticket: Ticket, t: Transition, actor: Actor, *, leave_out: tuple[str, str] | None = None
) -> Ticket:
    """Fire *t*'s trigger with everything it needs, except the one rule *leave_out*."""
    fields = _needs(wf.lifecycle, t)
    kwargs: dict[str, Any] = {}
    for name in ("assignee", "requester"):
        if name in t.require and leave_out != ("attribute", name):
            kwargs[name] = ASSIGNEE_ID if name == "assignee" else REQUESTER_ID
    if leave_out is not None and leave_out[0] == "field":
        fields.pop(leave_out[1], None)
    comment = None if leave_out == ("comment", "") else "kit comment"
    return wf.fire(ticket.id, t.trigger, actor, fields=fields or None, comment=comment, **kwargs)


# -- data rules ----------------------------------------------------------------------


def _prepare(bench: Bench, path: Sequence[Transition], t: Transition, rule: tuple[str, str] | None) -> Ticket | None:
    """A ticket in *t*'s source with *t*'s conditions met, except *rule* broken; None if the kit cannot."""
    ticket = bench.walk(path)
    source = ticket.state
    met = _met(bench.lifecycle, t)
    if met is None:
        return None
    changes: dict[str, Any] = {name: value for name, value in met.items() if ticket.fields.get(name) != value}
    kind, name = rule or ("", "")
    if kind == "when":
        found, value = _value(bench.lifecycle.fields[name], t.when[name], holds=False)
        if not found:
            return None
        changes[name] = value
    elif kind == "field" and ticket.fields.get(name) is not None:
        changes[name] = None
    if changes and {k: v for k, v in changes.items() if ticket.fields.get(k) != v}:
        ticket = bench.setup(ticket.id, fields=changes)
    if kind == "attribute" and getattr(ticket, name) is not None:
        ticket = bench.setup(ticket.id, **{name: None})
    return ticket if ticket.state == source else None


def check_data_rules(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    calendar: BusinessCalendar | None = None,
    coverage: KitCoverage | None = None,
) -> KitCoverage:
    """Every transition's data rules are enforced, and with its data every transition is taken.

    For each transition from each reachable source, the step with all it
    needs is accepted and lands in the transition's ``dest``; and leaving out
    one rule is refused, changing nothing: a required field, attribute or
    comment with :class:`~ticketflow.FieldError` naming it, a ``when``
    condition or a kit guard (one the registry lacks) with
    :class:`~ticketflow.TransitionNotAllowed`, an actor without the role with
    :class:`~ticketflow.PermissionDenied`.

    Raises:
        AssertionError: naming the transition, the source and the rule.
    """
    check_kit_arguments("check_data_rules", lifecycle, registry, calendar)
    coverage = coverage if coverage is not None else expected_coverage(lifecycle)
    paths = path_coverage(lifecycle)
    bench = Bench(lifecycle, registry, calendar)
    for (_index, source), path in paths.transitions.items():
        t = path[-1]
        if t.on is not None:
            continue
        where = _transition_label(t, source)
        ticket = _prepare(bench, path[:-1], t, None)
        if ticket is None:
            coverage.notes[where] = "the kit found no values meeting its `when`"
            continue
        try:
            after = _full_fire(bench.wf, ticket, t, _actor_for(t))
        except TicketflowError as exc:
            raise AssertionError(f"{where}: refused with everything it needs: {exc!r}") from exc
        assert after.state == t.dest, f"{where}: landed in {after.state!r}, not {t.dest!r}"
        assert after.version == ticket.version + 1, f"{where}: version not bumped by one"
        for rule in _rules_of(lifecycle, t):
            label = _rule_label(t, source, rule)
            if rule[0] == "guard" and rule[1] not in bench.kit_guards:
                coverage.notes[label] = "the application's own guard: the kit cannot switch it"
                continue
            prepared = _prepare(bench, path[:-1], t, rule)
            if prepared is None:
                coverage.notes[label] = "the kit found no value breaking it"
                continue
            _expect_refusal(bench, prepared, t, rule, label)
            coverage.hit("rules", label)
    return coverage


def _expect_refusal(bench: Bench, ticket: Ticket, t: Transition, rule: tuple[str, str], label: str) -> None:
    wf = bench.wf
    kind, name = rule
    history = wf.history(ticket.id)
    actor = STRANGER if kind == "role" else _actor_for(t)
    if kind == "guard":
        bench.switches.off.add(name)
    try:
        after = _full_fire(wf, ticket, t, actor, leave_out=rule)
    except TicketflowError as exc:
        refusal: TicketflowError | None = exc
    else:
        refusal = None
    finally:
        bench.switches.off.clear()
    if refusal is None:
        others = [o for o in wf.lifecycle.engine.transitions_from(ticket.state, t.trigger) if o is not t]
        assert kind in ("when", "guard"), f"{label}: accepted without it (landed in {after.state!r})"
        assert others, f"{label}: accepted without it (landed in {after.state!r})"
        assert after.state != t.dest, f"{label}: accepted without it, by another transition into {t.dest!r}"
        return
    assert wf.get(ticket.id) == ticket, f"{label}: refused, yet the ticket changed"
    assert wf.history(ticket.id) == history, f"{label}: refused, yet the history changed"
    if kind in ("comment", "field", "attribute"):
        assert isinstance(refusal, FieldError), f"{label}: refused with {refusal!r}, expected a FieldError"
        assert (name or "comment") in refusal.fields, f"{label}: the FieldError names {refusal.fields}"
    elif kind == "role":
        # a stranger is not even told the ticket exists (TicketNotFound); related, PermissionDenied
        expected = PermissionDenied if wf.lifecycle.access.may_see(ticket, actor) else TicketNotFound
        assert isinstance(refusal, expected), f"{label}: refused with {refusal!r}, expected {expected.__name__}"
    else:
        assert isinstance(refusal, TransitionNotAllowed), (
            f"{label}: refused with {refusal!r}, expected TransitionNotAllowed"
        )


# -- allowed() ---------------------------------------------------------------------


def _variants(bench: Bench, state: str) -> list[tuple[str, dict[str, Any], frozenset[str]]]:
    """Ticket data worth judging allowed() on in *state*: (name, field changes, guards off)."""
    lc = bench.lifecycle
    variants: list[tuple[str, dict[str, Any], frozenset[str]]] = [("as reached", {}, frozenset())]
    leaving = [t for trigger in lc.triggers for t in lc.engine.transitions_from(state, trigger)]
    for t in leaving:
        met = _met(lc, t)
        if t.when and met is not None:
            variants.append((f"{t.path} `when` met", met, frozenset()))
            for name, condition in t.when.items():
                found, value = _value(lc.fields[name], condition, holds=False)
                if found:
                    variants.append((f"{t.path} `when` {name} not met", {**met, name: value}, frozenset()))
        guards = frozenset(t.guards) & bench.kit_guards
        for name in sorted(guards):
            variants.append((f"{t.path} guard {name} refusing", met or {}, frozenset({name})))
    return variants


def _actors(lifecycle: Lifecycle) -> list[Actor]:
    return [
        Actor(REQUESTER_ID),
        Actor(ASSIGNEE_ID),
        STRANGER,
        *(Actor("someone", roles={role}) for role in sorted(lifecycle.roles)),
    ]


def check_allowed(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    calendar: BusinessCalendar | None = None,
    coverage: KitCoverage | None = None,
) -> KitCoverage:
    """``allowed()`` equals "a fire with full data would succeed", in every reachable state.

    Judged for every trigger, for representative actors (the requester, the
    assignee, a stranger, one actor per role) and ticket data (as reached;
    each ``when`` met and each condition broken; each kit guard refusing).

    Raises:
        AssertionError: naming the state, the data, the actor and the trigger.
    """
    check_kit_arguments("check_allowed", lifecycle, registry, calendar)
    coverage = coverage if coverage is not None else expected_coverage(lifecycle)
    paths = path_coverage(lifecycle)
    bench = Bench(lifecycle, registry, calendar)
    wf = bench.wf
    for state, path in paths.states.items():
        coverage.hit("states", state)
        for name, fields, off in _variants(bench, state):

            def at_state(
                fields: dict[str, Any] = fields, path: Sequence[Transition] = path, state: str = state
            ) -> Ticket | None:
                ticket = bench.walk(path)
                if lifecycle.states[state].immutable:
                    return ticket  # nothing can be set up here: judged as reached
                if ticket.assignee is None:
                    ticket = bench.setup(ticket.id, assignee=ASSIGNEE_ID)
                changes = {k: v for k, v in fields.items() if ticket.fields.get(k) != v}
                if changes:
                    ticket = bench.setup(ticket.id, fields=changes)
                return ticket if ticket.state == state else None

            probe = at_state()
            if probe is None:
                continue
            for actor in _actors(lifecycle):
                if not lifecycle.access.may_see(probe, actor):
                    _expect_stranger(bench, probe, actor, f"in {state!r} ({name}), by {actor}")
                    continue
                bench.switches.off.update(off)
                try:
                    listed = set(wf.allowed(probe.id, actor))
                finally:
                    bench.switches.off.clear()
                for trigger in lifecycle.triggers:
                    fresh = at_state()
                    assert fresh is not None
                    where = f"in {state!r} ({name}), {trigger!r} by {actor}"
                    outcome = _fire_with_everything(bench, fresh, trigger, actor, off)
                    if outcome is None:
                        assert trigger in listed, f"{where}: fire accepted, but allowed() did not list it: {listed}"
                    elif not _for_data(outcome):
                        assert trigger not in listed, f"{where}: allowed() listed it, but fire refused: {outcome!r}"
                    if lifecycle.states[state].immutable:
                        assert isinstance(outcome, TicketClosed), f"{where}: immutable state answered {outcome!r}"
    return coverage


def _for_data(refusal: TicketflowError) -> bool:
    """A refusal for the data a fire carried (a field missing, or a part the actor may not set)."""
    return isinstance(refusal, FieldError) or (isinstance(refusal, PermissionDenied) and refusal.subject is not None)


def _expect_stranger(bench: Bench, ticket: Ticket, actor: Actor, where: str) -> None:
    """An actor not related to the ticket learns nothing: allowed(), view() and every fire say TicketNotFound."""
    wf = bench.wf
    history = wf.history(ticket.id)
    attempts: list[Callable[[], object]] = [
        lambda: wf.allowed(ticket.id, actor),
        lambda: wf.view(ticket.id, actor),
    ]
    for trigger in bench.lifecycle.triggers:
        attempts.append(partial(_fire_with_everything, bench, ticket, trigger, actor, frozenset(), raise_=True))
    for attempt in attempts:
        try:
            attempt()
        except TicketNotFound:
            continue
        except TicketflowError as exc:
            raise AssertionError(f"{where}: a stranger was answered {exc!r}, not TicketNotFound") from exc
        raise AssertionError(f"{where}: a stranger was answered")
    assert wf.history(ticket.id) == history, f"{where}: a stranger changed the ticket"


def _fire_with_everything(
    bench: Bench, ticket: Ticket, trigger: str, actor: Actor, off: frozenset[str], *, raise_: bool = False
) -> TicketflowError | None:
    """Fire *trigger* with the data of every transition it may take here; the refusal, or None.

    Transitions told apart by ``given`` (the data the step carries) are
    tried one by one, each with its own data: the first accepted one wins.
    """
    lc = bench.lifecycle
    fields: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    variants: list[dict[str, Any]] = []
    for t in lc.engine.transitions_from(ticket.state, trigger):
        needs = _needs(lc, t)
        if t.given:
            variants.append(needs)
        else:
            fields.update(needs)
        if "assignee" in t.require:
            kwargs["assignee"] = ASSIGNEE_ID
    refusal: TicketflowError | None = None
    for variant in variants or [{}]:
        data = {**fields, **variant}
        bench.switches.off.update(off)
        try:
            bench.wf.fire(ticket.id, trigger, actor, fields=data or None, comment="kit comment", **kwargs)
        except TicketflowError as exc:
            refusal = exc
            continue
        finally:
            bench.switches.off.clear()
        return None
    if raise_ and refusal is not None:
        raise refusal
    return refusal


# -- views ---------------------------------------------------------------------------

REQUESTER = Actor(REQUESTER_ID, roles={"requester"})


def check_view(wf: Workflow, ticket_id: str, where: str = "") -> None:
    """The requester's view of the ticket holds nothing internal, and every public comment.

    Raises:
        AssertionError: naming the leak.
    """
    lc = wf.lifecycle
    hidden = {name for name, spec in lc.fields.items() if spec.internal}
    internal = lc.internal_tags

    def is_internal(tag: str) -> bool:
        return bool(internal) and any(tag == p or (p.endswith("*") and tag.startswith(p[:-1])) for p in internal)

    history = wf.history(ticket_id)
    seen = wf.view(ticket_id, REQUESTER)
    prefix = f"{where}: requester's view" if where else "requester's view"
    assert not seen.full, f"{prefix} is the full (staff) view"
    assert not hidden & set(seen.ticket.fields), f"{prefix} holds internal fields {hidden & set(seen.ticket.fields)}"
    leaked = [tag for tag in seen.ticket.tags if is_internal(tag)]
    assert not leaked, f"{prefix} holds internal tags {leaked}"
    for event in seen.events:
        assert event.comment is None or event.comment.visibility == "public", (
            f"{prefix}, event {event.seq} holds an internal comment"
        )
    shown = [e for e in history if _visible(e, hidden, is_internal)]
    assert len(seen.events) == len(shown), f"{prefix} lost events, or shows one with nothing visible"
    assert [e.seq for e in seen.events] == list(range(1, len(shown) + 1)), f"{prefix} numbers events with gaps"
    assert seen.ticket.version == len(shown), f"{prefix} tells how many events there are"
    for event, original in zip(seen.events, shown, strict=True):
        at = f"{prefix}, event {event.seq}"
        assert event.comment is None or event.comment.visibility == "public", f"{at} holds an internal comment"
        if original.comment is not None and original.comment.visibility == "public":
            assert event.comment == original.comment, f"{at} lost a public comment"
        assert not hidden & set(event.field_changes), f"{at} holds internal field changes"
        assert not [t for t in (*event.tags_added, *event.tags_removed) if is_internal(t)], f"{at} holds internal tags"
        assert not event.meta, f"{at} holds meta {dict(event.meta)}"
    staff = sorted(lc.access.staff)
    if staff:
        full = wf.view(ticket_id, Actor(ASSIGNEE_ID, roles={staff[0]}))
        assert full.full, "staff view is not the full view"
        assert list(full.events) == history, "staff view is not the full history"


def _visible(event: Event, hidden: set[str], is_internal: Callable[[str], bool]) -> bool:
    """Whether a customer sees anything of *event*: a move, a public comment, a shared change."""
    public = event.comment is not None and event.comment.visibility == "public"
    return bool(
        event.source != event.target
        or public
        or set(event.field_changes) - hidden
        or event.attribute_changes
        or [t for t in (*event.tags_added, *event.tags_removed) if not is_internal(t)]
    )


def _internal_tags(lifecycle: Lifecycle) -> set[str]:
    tags = {p[:-1] + "kit" if p.endswith("*") else p for p in lifecycle.internal_tags}
    return {t for t in tags if lifecycle.tag_allowed(t)}


def check_views(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    calendar: BusinessCalendar | None = None,
) -> None:
    """In every reachable state: after an internal comment, internal fields and tags, the requester sees none.

    Raises:
        AssertionError: naming the state and the leak.
    """
    check_kit_arguments("check_views", lifecycle, registry, calendar)
    bench = Bench(lifecycle, registry, calendar)
    wf = bench.wf
    commenters = sorted(lifecycle.comment_roles & lifecycle.access.staff)
    hidden = {name: _sample(spec) for name, spec in lifecycle.fields.items() if spec.internal}
    for state, path in path_coverage(lifecycle).states.items():
        ticket = bench.walk(path)
        if not lifecycle.states[state].immutable:
            if commenters:
                staff = Actor(ASSIGNEE_ID, roles={commenters[0]})
                bench.clock.advance(minutes=1)
                wf.comment(ticket.id, staff, "kit internal note", visibility="internal")
                bench.clock.advance(minutes=1)
                wf.comment(ticket.id, staff, "kit public reply")
            if lifecycle.update_roles and (hidden or _internal_tags(lifecycle)):
                with suppress(TicketflowError):  # a state that refuses the change: the view is still checked
                    bench.setup(ticket.id, fields=hidden or None, add_tags=_internal_tags(lifecycle))
        check_view(wf, ticket.id, f"in {state!r}")


# -- timers --------------------------------------------------------------------------


def _entry_index(state: str, history: Sequence[Event]) -> int:
    for index in range(len(history) - 1, -1, -1):
        if history[index].target == state and history[index].source != state:
            return index
    return 0


def _expected_due(
    lifecycle: Lifecycle, rule: TimedRule, history: Sequence[Event], state: str, calendar: BusinessCalendar | None
) -> Any:
    """When *rule* is due, read from the definition (None for a field-anchored rule: not judged)."""
    since_entry = history[_entry_index(state, history) :]
    if rule.since == "state_entered":
        anchor = since_entry[0].at
    elif rule.since == "last_update":
        anchor = since_entry[-1].at
    elif rule.since in ("last_requester_comment", "last_agent_comment"):
        # the customer's side or the team's: roles from the lifecycle's [access], automations aside
        access = lifecycle.access
        roles = access.customers if rule.since == "last_requester_comment" else access.staff - {"system"}
        commented = [e.at for e in since_entry if e.comment is not None and e.actor.roles & roles]
        anchor = commented[-1] if commented else since_entry[0].at
    else:
        return None
    if rule.clock == "wall":  # elapsed time, whatever the zone of the clock that stamped the events
        return (anchor.astimezone(UTC) + rule.after).astimezone(anchor.tzinfo)
    assert calendar is not None, f"timer {rule.id!r} counts business time: give the contract a calendar"
    return calendar.add_days(anchor, rule.business_days) if rule.business_days else calendar.add(anchor, rule.after)


def _firings(history: Sequence[Event], rule_id: str, entry_seq: int) -> list[Event]:
    return [e for e in history if e.seq > entry_seq and e.meta.get("rule") == rule_id]


def check_timers(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    calendar: BusinessCalendar | None = None,
    coverage: KitCoverage | None = None,
) -> KitCoverage:
    """Each timed rule fires once per entry into each reachable state it watches, at its due instant.

    With a steppable clock and ``run_due``: not at one microsecond before the
    instant the definition gives, once at it (an event naming the rule and
    that instant), and never again while the ticket stays in that entry.
    Rules counted from a field are checked for once-per-entry only.

    Raises:
        AssertionError: naming the rule, the state and what went wrong.
    """
    check_kit_arguments("check_timers", lifecycle, registry, calendar)
    coverage = coverage if coverage is not None else expected_coverage(lifecycle)
    paths = path_coverage(lifecycle)
    for rule in lifecycle.timers:
        for state in rule.states:
            if state not in paths.states:
                continue
            bench = Bench(lifecycle, registry, calendar)
            wf = bench.wf
            ticket = bench.walk(paths.states[state])
            if rule.when:
                met = {}
                for name, condition in rule.when.items():
                    found, value = _value(lifecycle.fields[name], condition, holds=True)
                    met[name] = value if found else None
                if any(ticket.fields.get(k) != v for k, v in met.items()):
                    ticket = bench.setup(ticket.id, fields=met)
            if ticket.state != state or not conditions_hold(rule.when, ticket.fields):
                coverage.notes[rule.id] = f"the kit could not arm it in {state!r}"
                continue
            history = wf.history(ticket.id)
            entry_seq = history[_entry_index(state, history)].seq
            where = f"timer {rule.id!r} in {state!r}"
            due = _expected_due(lifecycle, rule, history, state, wf.timer_calendar)
            if due is None:
                due = max(bench.clock.now(), history[-1].at) + rule.after + timedelta(days=rule.business_days * 2)
            elif due - _ONE_US > bench.clock.now():
                bench.clock.set(due - _ONE_US)
                wf.run_due()
                early = _firings(wf.history(ticket.id), rule.id, entry_seq)
                assert not early, f"{where}: fired at {early[0].at}, before its due instant {due}"
                if wf.get(ticket.id).state != state:
                    coverage.notes[rule.id] = f"another rule moved the ticket out of {state!r} first"
                    continue
            bench.clock.set(max(due, bench.clock.now()))
            wf.run_due()
            fired = _firings(wf.history(ticket.id), rule.id, entry_seq)
            assert len(fired) == 1, f"{where}: fired {len(fired)} times at its due instant {due}, not once"
            if _expected_due(lifecycle, rule, history, state, wf.timer_calendar) is not None:
                assert fired[0].at == due, f"{where}: fired at {fired[0].at}, due {due}"
                assert fired[0].meta.get("due_at") == due.isoformat(), f"{where}: event names due {fired[0].meta}"
            for later in (timedelta(hours=1), rule.after + timedelta(days=1), rule.after * 3 + timedelta(days=30)):
                bench.clock.set(max(bench.clock.now(), due + later))
                wf.run_due()
                again = _firings(wf.history(ticket.id), rule.id, entry_seq)
                after_entry = [e for e in wf.history(ticket.id) if e.seq > fired[0].seq]
                reentered = any(e.target in rule.states and e.source not in rule.states for e in after_entry)
                if not reentered:
                    assert len(again) == 1, f"{where}: fired {len(again)} times in one entry into the state"
            refused = fired[0].meta.get("refused")
            if refused is not None:  # recorded once, as it should be, but its step never happened
                coverage.notes[rule.id] = f"its step was refused in {state!r} on the kit's ticket: {refused}"
                continue
            coverage.hit("timers", rule.id)
    return coverage


# -- SLA -----------------------------------------------------------------------------


@attrs.frozen
class _Cycle:
    started_at: Any
    stopped_at: Any
    elapsed: timedelta


def _oracle(
    metric: SlaMetric, lifecycle: Lifecycle, history: Sequence[Event], now: Any, calendar: BusinessCalendar
) -> tuple[list[_Cycle], bool, bool]:
    """The metric's cycles read straight from its rules (start, stop, reset, pause), one event at a time."""
    terminal = {s for s, st in lifecycle.states.items() if st.terminal}
    cycles: list[_Cycle] = []
    started = resumed = None
    elapsed = timedelta(0)
    for event in history:
        if event.at > now:
            break
        enters_terminal = event.target in terminal and event.source != event.target
        if started is not None:
            if enters_terminal or metric.stop.matches(event):
                if resumed is not None:
                    elapsed += calendar.between(resumed, event.at)
                cycles.append(_Cycle(started, event.at, elapsed))
                started = resumed = None
            elif metric.reset is not NEVER and metric.reset.matches(event):
                started, resumed, elapsed = event.at, event.at, timedelta(0)
        if started is None and metric.start.matches(event) and not enters_terminal:
            started, resumed, elapsed = event.at, event.at, timedelta(0)
        if started is not None:
            if event.target in metric.paused_in:
                if resumed is not None:
                    elapsed += calendar.between(resumed, event.at)
                    resumed = None
            elif resumed is None:
                resumed = event.at
    running = started is not None
    paused = running and resumed is None
    if running:
        if resumed is not None:
            elapsed += calendar.between(resumed, now)
        cycles.append(_Cycle(started, None, elapsed))
    return cycles, running, paused


def check_sla_history(wf: Workflow, ticket_id: str, now: Any, where: str = "") -> None:
    """The ticket's SLA clocks agree with the metrics' rules read independently.

    Each cycle starts, stops and is reset on the events the metric names,
    does not count time in its pause states, is breached once its due
    instant has passed (strictly after ``due_at``: past the target, or at it
    after closing time), and the clock reports its last cycle (the deciding one).

    Raises:
        AssertionError: naming the metric and the difference.
    """
    policy = wf.sla_policy
    if policy is None:
        return
    ticket = wf.get(ticket_id)
    history = wf.history(ticket_id)
    clocks: list[SlaClock] = wf.sla(ticket_id, now)
    for metric, clock in zip(policy.metrics, clocks, strict=True):
        chosen = metric.target_for(ticket.fields)
        calendar = (chosen or metric.targets[0]).calendar
        cycles, running, paused = _oracle(metric, wf.lifecycle, history, now, calendar)
        at = f"{where}: SLA {metric.id!r}" if where else f"SLA {metric.id!r}"
        got = [(c.started_at, c.stopped_at, c.elapsed) for c in clock.cycles]
        assert got == [(c.started_at, c.stopped_at, c.elapsed) for c in cycles], (
            f"{at}: cycles {got}, the metric's rules give {cycles}"
        )
        assert (clock.running, clock.paused) == (running, paused), f"{at}: running/paused {clock.running, clock.paused}"
        target = None if chosen is None else chosen.target
        if chosen is not None and chosen.business_days:
            target = clock.target  # business days: the business time of the cycle's days, counted by the calendar
        assert clock.target == target, f"{at}: target {clock.target}, expected {target}"
        for cycle in clock.cycles:
            # breached once the due instant has passed: past the target, or at it with the instant after due_at
            instant = now if cycle.stopped_at is None else cycle.stopped_at
            reached = target is not None and cycle.elapsed >= target
            if reached:
                assert cycle.due_at is not None, f"{at}: cycle {cycle} reached its target without a due instant"
                assert cycle.due_at <= instant, f"{at}: cycle {cycle} reached its target after {instant}"
            breached = reached and (cycle.elapsed > target or instant > cycle.due_at)  # type: ignore[operator]
            assert cycle.breached == breached, f"{at}: cycle {cycle} breach"
        if cycles:
            last = clock.cycles[-1]
            assert (clock.elapsed, clock.breached) == (last.elapsed, last.breached), (
                f"{at}: reports elapsed {clock.elapsed} breached {clock.breached}, its last cycle {last}"
            )


_CYCLES = (timedelta(hours=3), timedelta(hours=1))


def _drive(bench: Bench, ticket_id: str, conditions: Conditions) -> bool:
    """Make the ticket's next event one that meets *conditions*, if the lifecycle offers a way.

    A step from the ticket's state is tried first; when none leaves it by one
    that meets them (a resolution clock stopped by ``done``, two steps from
    ``new``), the ticket first takes the shortest way to a state that has one,
    at the same instant (so no business time passes on the way).
    """
    if _drive_here(bench, ticket_id, conditions):
        return True
    lc, wf = bench.lifecycle, bench.wf
    way = _way_to(lc, wf.get(ticket_id).state, conditions)
    for t in way or ():
        version = wf.get(ticket_id).version
        with suppress(TicketflowError):
            _full_fire(wf, wf.get(ticket_id), t, _actor_for(t))
        history = wf.history(ticket_id)
        if history[-1].seq == version:
            return False  # refused on the way: the kit cannot get there
        if conditions.matches(history[-1]):
            return True
    return bool(way) and _drive_here(bench, ticket_id, conditions)


def _way_to(lc: Lifecycle, state: str, conditions: Conditions) -> list[Transition] | None:
    """The shortest run of plain transitions from *state* to one with a step meeting *conditions*."""
    goals = {
        source
        for t in lc.transitions
        if t.trigger in conditions.triggers or t.dest in conditions.states
        for source in t.sources
    }
    ways: dict[str, list[Transition]] = {state: []}
    queue = [state]
    while queue:
        here = queue.pop(0)
        if here in goals and here != state:
            return ways[here]
        if lc.states[here].terminal:
            continue
        for t in lc.transitions:
            plain = t.on is None and not t.returns and not t.when and not t.given
            if plain and here in t.sources and t.dest not in ways:
                ways[t.dest] = [*ways[here], t]
                queue.append(t.dest)
    return None


def _drive_here(bench: Bench, ticket_id: str, conditions: Conditions) -> bool:
    """Make the ticket's next event one that meets *conditions* by one step from its state, if there is one."""
    lc, wf = bench.lifecycle, bench.wf
    ticket = wf.get(ticket_id)
    if lc.states[ticket.state].immutable:
        return False
    # each attempt: a comment (actor, visibility) or a transition to fire with full data
    attempts: list[tuple[Actor, Visibility] | Transition] = []
    if conditions.comment:
        for role in sorted(conditions.comment_by) or sorted(lc.comment_roles):
            if lc.expand_roles(frozenset({role})) & lc.comment_roles:
                actor = Actor(REQUESTER_ID if role == "requester" else ASSIGNEE_ID, roles={role})
                attempts.append((actor, "internal" if conditions.visibility == "internal" else "public"))
    for t in lc.transitions:
        if ticket.state not in t.sources or not (t.trigger in conditions.triggers or t.dest in conditions.states):
            continue
        if t.on is None:
            attempts.append(t)
        elif t.on.event == "comment":
            attempts.append((_actor_for(t), "internal" if t.on.visibility == "internal" else "public"))
    for attempt in attempts:
        version = wf.get(ticket_id).version
        with suppress(TicketflowError):
            if isinstance(attempt, Transition):
                _full_fire(wf, wf.get(ticket_id), attempt, _actor_for(attempt))
            else:
                wf.comment(ticket_id, attempt[0], "kit comment", visibility=attempt[1])
        history = wf.history(ticket_id)
        if history[-1].seq > version and conditions.matches(history[-1]):
            return True
    return False


def check_sla(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    calendar: BusinessCalendar | None = None,
    coverage: KitCoverage | None = None,
) -> KitCoverage:
    """Each SLA metric runs, stops and runs again: a cycle at its target, one past it, read against its rules.

    For each metric, on a new ticket: start a cycle (with an event the
    metric's ``start`` names), let exactly its target in business time pass,
    stop it (an event its ``stop`` names or a terminal state): met; then a
    second cycle one minute longer: breached (one cycle for a metric only
    opening starts); after each step and a day later the clocks must agree with
    :func:`check_sla_history`, so the stopped clock reports its last cycle.

    Raises:
        AssertionError: naming the metric and the difference.
    """
    check_kit_arguments("check_sla", lifecycle, registry, calendar)
    coverage = coverage if coverage is not None else expected_coverage(lifecycle)
    policy = _policy(lifecycle, calendar)
    if policy is None:
        return coverage
    for metric in policy.metrics:
        bench = Bench(lifecycle, registry, calendar)
        wf = bench.wf
        ticket = bench.walk(())
        where = f"SLA {metric.id!r}"
        stopped = 0
        start = metric.start
        once = not (start.states or start.triggers or start.comment)  # only opening starts it: one cycle
        chosen = metric.target_for(ticket.fields)
        # a cycle of exactly the target (met: a breach is strictly past it), then one a minute longer (breached)
        lengths = _CYCLES if chosen is None else (chosen.target, chosen.target + timedelta(minutes=1))
        cycles = lengths[:1] if once else lengths
        for length in cycles:
            chosen = metric.target_for(wf.get(ticket.id).fields)
            counting = (chosen or metric.targets[0]).calendar
            _, running, _ = _oracle(metric, lifecycle, wf.history(ticket.id), bench.clock.now(), counting)
            if not running and not _drive(bench, ticket.id, metric.start):
                if not (stopped and metric.start.open):
                    coverage.notes[metric.id] = "the kit found no step that starts it again"
                    break
                # the stop left no way to start it again (a resolution clock stopped by a terminal
                # state): the next cycle runs on a new ticket, which its opening starts
                check_sla_history(wf, ticket.id, bench.clock.now() + timedelta(days=1), f"{where} a day later")
                ticket = bench.walk(())
            check_sla_history(wf, ticket.id, bench.clock.now(), f"{where} started")
            bench.clock.set(counting.add(bench.clock.now(), length))
            check_sla_history(wf, ticket.id, bench.clock.now(), f"{where} running {length}")
            if not _drive(bench, ticket.id, metric.stop):
                coverage.notes[metric.id] = "the kit found no step that stops it"
                break
            stopped += 1
            check_sla_history(wf, ticket.id, bench.clock.now(), f"{where} stopped")
            bench.clock.advance(minutes=30)
        check_sla_history(wf, ticket.id, bench.clock.now() + timedelta(days=1), f"{where} a day later")
        if stopped == len(cycles):
            coverage.hit("metrics", metric.id)
    return coverage
