"""Walking a lifecycle: shortest paths to every state and transition, and the data each step needs."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from os import PathLike
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, settings

from ticketflow._brief import brief
from ticketflow.automation import emitted_kinds
from ticketflow.calendar import BusinessCalendar
from ticketflow.clock import SteppableClock
from ticketflow.errors import TicketflowError
from ticketflow.lifecycle import Compare, FieldSpec, GuardContext, Lifecycle, Transition
from ticketflow.model import Actor, Ticket, replay
from ticketflow.protocols import Guard
from ticketflow.registry import Registry
from ticketflow.repository import MemoryRepository
from ticketflow.testing._strategies import ASSIGNEE_ID, REQUESTER_ID
from ticketflow.workflow import Workflow

__all__ = [
    "START",
    "PathCoverage",
    "check_kit_arguments",
    "kit_registry",
    "path_coverage",
    "permissive_registry",
    "replay_path",
    "take_path",
]

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def check_kit_arguments(where: str, lifecycle: object, registry: object = None, calendar: object = None) -> None:
    """A TypeError naming *where* and the argument of the wrong type, before any check runs.

    A built-in's id or a file name is refused rather than guessed at: the
    kit checks the very Lifecycle value the application runs
    (``tf.builtin(name)`` or ``tf.load_lifecycle(path)`` makes one).
    """
    if not isinstance(lifecycle, Lifecycle):
        hint = (
            " (tf.builtin(name) or tf.load_lifecycle(path) makes one)" if isinstance(lifecycle, str | PathLike) else ""
        )
        got = f"{type(lifecycle).__name__} {brief(lifecycle)}"
        raise TypeError(f"{where}: lifecycle must be a ticketflow Lifecycle{hint}, got {got}")
    if registry is not None and not isinstance(registry, Registry):
        raise TypeError(f"{where}: registry must be a tf.Registry or None, got {type(registry).__name__}")
    if calendar is not None and not isinstance(calendar, BusinessCalendar):
        raise TypeError(
            f"{where}: calendar must be a tf.BusinessCalendar or None, got {type(calendar).__name__} {brief(calendar)}"
        )


def permissive_registry(lifecycle: Lifecycle, base: Registry | None = None) -> Registry:
    """A registry with every guard and action the lifecycle names.

    Names *base* does not have get a guard that always allows and an action
    that does nothing, so suites can explore the graph without the app.
    """
    registry = kit_registry(lifecycle, base)
    for t in lifecycle.transitions:
        for name in t.guards:
            registry.guards.setdefault(name, _always)
    return registry


def kit_registry(lifecycle: Lifecycle, base: Registry | None) -> Registry:
    """A copy of *base* (everything the application registered), with stand-ins for what the kit needs.

    The application's guards, actions, notifiers, assignment policies and
    calendar resolvers are kept (a lifecycle whose SLA picks calendars by a
    resolver cannot be wired without it). Its event listeners are not: they
    are the application's own after-commit side effects (an audit trail, a
    search index), which nothing the kit checks needs, and the kit's tickets
    and people are made up. Actions *base* lacks
    do nothing, and so do notifiers for the kinds the lifecycle writes:
    the kit never delivers, so its many workflows need not each warn of them.
    Guards are left to the caller (always allowing, or switched by the kit).
    """
    registry = Registry()
    if base is not None:
        registry.guards.update({name: _explained(name, guard) for name, guard in base.guards.items()})
        registry.actions.update(base.actions)
        registry.notifiers.update(base.notifiers)
        registry.policies.update(base.policies)
        registry.calendar_resolvers.update(base.calendar_resolvers)
    for t in lifecycle.transitions:
        for name in t.actions:
            registry.actions.setdefault(name, _nothing)
    for kind in emitted_kinds(lifecycle, None) | _SLA_KINDS:
        registry.notifiers.setdefault(kind, _nothing)
    return registry


def _explained(name: str, guard: Guard) -> Guard:
    """*guard* as registered, but an exception it raises says which guard, ticket, person and step it was."""

    def explained(context: GuardContext) -> bool:
        try:
            return guard(context)
        except Exception as exc:  # the application's code: any exception, explained once
            ticket = context.ticket
            raise AssertionError(
                f"the application's guard {name!r} raised {type(exc).__name__}: {brief(exc)} when asked about "
                f"{context.trigger!r} on ticket {ticket.id} in {ticket.state!r} by actor {context.actor.id!r} "
                f"(requester {ticket.requester!r}, assignee {ticket.assignee!r}): the kit's tickets and actors are "
                "made up, so a guard must answer (False is fine) for people and data it does not know"
            ) from exc

    return explained


_SLA_KINDS = frozenset({"sla.breached", "sla.warning"})  # emitted_kinds names them only when given the policy


def _always(_context: GuardContext) -> bool:
    return True


def _nothing(*_args: object) -> None:
    return None


def _sample(spec: FieldSpec) -> Any:
    return ASSIGNEE_ID if spec.type == "actor" else spec.example()


def _opening_fields(lifecycle: Lifecycle) -> dict[str, Any]:
    return {name: _sample(spec) for name, spec in lifecycle.fields.items() if lifecycle.initial in spec.required_in}


def _opener(lifecycle: Lifecycle) -> Actor:
    """A staff member opening for the requester (who may not set the assignee or staff fields), if one may."""
    staff = sorted(lifecycle.open_roles & lifecycle.access.staff - {"system"})
    if staff:
        return Actor(ASSIGNEE_ID, roles={staff[0]})
    role = "requester" if "requester" in lifecycle.open_roles else sorted(lifecycle.open_roles)[0]
    return Actor(REQUESTER_ID, roles={role})


def _workflow(
    lifecycle: Lifecycle, registry: Registry | None, calendar: BusinessCalendar | None = None
) -> tuple[Workflow, SteppableClock]:
    clock = SteppableClock(START)
    counter = iter(range(1, 1 << 30))
    wf = Workflow(
        lifecycle,
        MemoryRepository(),
        clock=clock,
        calendar=calendar,
        registry=permissive_registry(lifecycle, registry),
        id_factory=lambda: f"T-{next(counter)}",
    )
    return wf, clock


def _actor_for(t: Transition) -> Actor:
    if t.roles:
        role = sorted(t.roles)[0]
        return Actor(REQUESTER_ID if role == "requester" else ASSIGNEE_ID, roles={role})
    return Actor(REQUESTER_ID if "requester" in t.who else ASSIGNEE_ID)


#: A date-time long before any kit clock: every ``elapsed`` condition holds since it.
LONG_AGO = "2000-01-03T12:00:00+00:00"


def _needs(lifecycle: Lifecycle, t: Transition) -> dict[str, Any]:
    """Field values entering *t.dest* through *t* needs (required_in, require)."""
    fields = {name: _sample(spec) for name, spec in lifecycle.fields.items() if t.dest in spec.required_in}
    fields.update({name: _sample(lifecycle.fields[name]) for name in t.require if name in lifecycle.fields})
    fields.update({name: _satisfying(lifecycle.fields[name], value) for name, value in t.given.items()})
    return fields


# -- path coverage -----------------------------------------------------------------


@attrs.frozen
class PathCoverage:
    """Shortest paths from the initial state.

    Attributes:
        states: for each reachable state, the shortest list of transitions
            from the initial state into it.
        transitions: for each transition index and source state, the
            shortest path that ends by taking it.
    """

    states: dict[str, tuple[Transition, ...]]
    transitions: dict[tuple[int, str], tuple[Transition, ...]]

    def paths(self) -> Iterable[tuple[Transition, ...]]:
        """Every path to replay: one per state, one per transition and source."""
        yield from self.states.values()
        yield from self.transitions.values()


def path_coverage(lifecycle: Lifecycle) -> PathCoverage:
    """Shortest paths reaching every state and taking every transition (breadth first)."""
    check_kit_arguments("path_coverage", lifecycle)
    to_state: dict[str, tuple[Transition, ...]] = {lifecycle.initial: ()}
    queue = deque([lifecycle.initial])
    while queue:
        state = queue.popleft()
        for t in lifecycle.transitions:
            if state in t.sources and t.dest not in to_state and not t.returns:
                to_state[t.dest] = (*to_state[state], t)
                queue.append(t.dest)
    to_transition: dict[tuple[int, str], tuple[Transition, ...]] = {}
    for t in lifecycle.transitions:
        for source in t.sources:
            if source not in to_state:
                continue
            if not t.returns:
                to_transition.setdefault((t.index, source), (*to_state[source], t))
                continue
            # a way back to t.dest: reach it, enter the source from it, return
            into = next(
                (u for u in lifecycle.transitions if not u.returns and u.dest == source and t.dest in u.sources), None
            )
            if t.dest in to_state and into is not None:
                to_transition.setdefault((t.index, f"{source}<-{t.dest}"), (*to_state[t.dest], into, t))
    return PathCoverage(states=to_state, transitions=to_transition)


def replay_path(
    lifecycle: Lifecycle,
    path: Sequence[Transition],
    registry: Registry | None = None,
    *,
    calendar: BusinessCalendar | None = None,
) -> None:
    """Open a ticket and take *path*, with actors and data each step needs.

    Raises:
        AssertionError: a step was refused or did not land where the
            definition says, or the history does not replay to the ticket.
    """
    wf, clock = _workflow(lifecycle, registry, calendar)
    take_path(wf, clock, lifecycle, path)


def take_path(wf: Workflow, clock: SteppableClock, lifecycle: Lifecycle, path: Sequence[Transition]) -> Ticket:
    """Open a ticket in *wf* and take *path* (see :func:`replay_path`); return the ticket at its end."""
    ticket = wf.open(_opener(lifecycle), title="path", fields=_opening_fields(lifecycle), requester=REQUESTER_ID)
    for number, t in enumerate(path):
        clock.advance(timedelta(minutes=5))
        fields = _needs(lifecycle, t)
        for name, value in t.when.items():
            fields[name] = _satisfying(lifecycle.fields[name], value)
        current = wf.get(ticket.id)
        fields = {k: v for k, v in fields.items() if current.fields.get(k) != v or k in t.when}
        actor = _actor_for(t)
        where = f"path step {number} ({t.path}: {t.trigger!r} from {current.state!r})"
        if fields:
            try:
                wf.update(ticket.id, Actor("path-setup", roles=set(lifecycle.update_roles)), fields=fields)
            except TicketflowError as exc:
                raise AssertionError(f"{where}: could not set up fields {fields}: {exc}") from exc
            current = wf.get(ticket.id)
            if current.state == t.dest and t.on is not None and t.on.event == "field_set":
                ticket = current
                continue  # setting the field was the step
            assert current.state == path[number - 1].dest if number else lifecycle.initial, where
        try:
            if t.on is not None and t.on.event == "comment":
                ticket = wf.comment(
                    ticket.id,
                    actor,
                    "path comment",
                    visibility="internal" if t.on.visibility == "internal" else "public",
                )
            elif t.on is not None:
                spec = lifecycle.fields[t.on.field or ""]
                ticket = wf.update(
                    ticket.id, actor, fields={spec.name: _other_value(spec, current.fields.get(spec.name))}
                )
            else:
                kwargs: dict[str, Any] = {"assignee": ASSIGNEE_ID} if "assignee" in t.require else {}
                ticket = wf.fire(ticket.id, t.trigger, actor, comment="path comment", **kwargs)
        except TicketflowError as exc:
            raise AssertionError(f"{where}: refused: {exc}") from exc
        assert ticket.state == t.dest, f"{where}: landed in {ticket.state!r}, expected {t.dest!r}"
        assert replay(wf.history(ticket.id)) == ticket, f"{where}: history does not replay to the ticket"
    return ticket


def _satisfying(spec: FieldSpec, condition: Any) -> Any:
    """A value of *spec* that meets a ``when`` condition."""
    if isinstance(condition, tuple) and spec.type != "list":
        return condition[0]
    if not isinstance(condition, Compare):
        return condition
    value = _sample(spec)
    for op, operand in condition.ops:
        if op in ("eq", "gte", "lte"):
            value = operand
        elif op == "gt":
            value = operand + 1 if spec.type in ("int", "float") else f"{operand}~"
        elif op == "lt":
            value = operand - 1
        elif op == "ne" and value == operand:
            value = _other_value(spec, operand)
        elif op == "set" and not operand:
            value = None
        elif op == "elapsed":
            value = LONG_AGO if spec.type == "datetime" else LONG_AGO[:10]
    return value


def _other_value(spec: FieldSpec, current: Any) -> Any:
    value = _sample(spec)
    if value != current:
        return value
    if spec.type == "choice" and len(spec.choices) > 1:
        return spec.choices[1]
    return {"date": "2026-02-01", "int": 2, "float": 2.0, "bool": False}.get(spec.type, f"{value}-2")


def kit_settings(max_examples: int | None, *, shrink: bool = True, derandomize: bool | None = None) -> settings:
    """The hypothesis settings of the kit's property runs: the profile's budget unless given, no database.

    No example database is used: the same function checks many lifecycles.
    """
    return settings(
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        deadline=None,
        max_examples=settings().max_examples if max_examples is None else max_examples,
        report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if shrink else [])],
        database=None,
        derandomize=settings().derandomize if derandomize is None else derandomize,
    )
