"""The lifecycle property suite and path coverage, for any lifecycle.

Run it on your own lifecycle in a couple of lines of pytest::

    from ticketflow.testing import LifecycleContract

    class TestOurLifecycle(LifecycleContract):
        lifecycle = ticketflow.load_lifecycle("support.toml")

or call :func:`check_lifecycle` from any test.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import attrs
from hypothesis import HealthCheck, Phase, given, settings

from ticketflow.clock import SteppableClock
from ticketflow.errors import FieldError, PermissionDenied, TicketClosed, TicketflowError, TransitionNotAllowed
from ticketflow.lifecycle import UNSET, Compare, FieldSpec, GuardContext, Lifecycle, Transition
from ticketflow.model import Actor, Ticket, replay
from ticketflow.registry import Registry
from ticketflow.repository import MemoryRepository
from ticketflow.testing._strategies import ASSIGNEE_ID, REQUESTER_ID, Step, steps
from ticketflow.workflow import Workflow

__all__ = [
    "LifecycleContract",
    "PathCoverage",
    "check_lifecycle",
    "check_steps",
    "path_coverage",
    "permissive_registry",
    "run_random_steps",
]

_START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def permissive_registry(lifecycle: Lifecycle, base: Registry | None = None) -> Registry:
    """A registry with every guard and action the lifecycle names.

    Names *base* does not have get a guard that always allows and an action
    that does nothing, so suites can explore the graph without the app.
    """
    registry = Registry()
    if base is not None:
        registry.guards.update(base.guards)
        registry.actions.update(base.actions)
    for t in lifecycle.transitions:
        for name in t.guards:
            registry.guards.setdefault(name, _always)
        for name in t.actions:
            registry.actions.setdefault(name, _nothing)
    return registry


def _always(_context: GuardContext) -> bool:
    return True


def _nothing(*_args: object) -> None:
    return None


def _sample(spec: FieldSpec) -> Any:
    return ASSIGNEE_ID if spec.type == "actor" else spec.example()


def _opening_fields(lifecycle: Lifecycle) -> dict[str, Any]:
    return {name: _sample(spec) for name, spec in lifecycle.fields.items() if lifecycle.initial in spec.required_in}


def _opener(lifecycle: Lifecycle) -> Actor:
    role = "requester" if "requester" in lifecycle.open_roles else sorted(lifecycle.open_roles)[0]
    return Actor(REQUESTER_ID, roles={role})


def _workflow(lifecycle: Lifecycle, registry: Registry | None) -> tuple[Workflow, SteppableClock]:
    clock = SteppableClock(_START)
    counter = iter(range(1, 1 << 30))
    wf = Workflow(
        lifecycle,
        MemoryRepository(),
        clock=clock,
        registry=permissive_registry(lifecycle, registry),
        id_factory=lambda: f"T-{next(counter)}",
    )
    return wf, clock


def _follows_definition(lifecycle: Lifecycle, source: str, trigger: str, dest: str, actor: Actor) -> bool:
    engine = lifecycle.engine
    if trigger in ("comment", "update"):
        return source == dest
    roles = engine.roles_of(actor)
    for t in lifecycle.transitions:
        permitted = bool(roles & t.roles) or bool(t.who)
        if t.trigger == trigger and source in t.sources and t.dest == dest and permitted:
            return True
    return False


def check_steps(lifecycle: Lifecycle, sequence: Sequence[Step], registry: Registry | None = None) -> None:
    """Fire *sequence* on a fresh ticket and check every rule of the engine.

    Checks, after each step: an accepted fire follows a transition of the
    definition, left a non-immutable state, was listed by ``allowed()``,
    appended exactly one event and bumped the version by one, and the
    history replays to the ticket; a refused fire raised a ticketflow
    refusal, changed nothing, and (unless it was refused for the data it
    carried) was not listed by ``allowed()``.

    Raises:
        AssertionError: naming the step and the broken rule.
    """
    wf, clock = _workflow(lifecycle, registry)
    ticket = wf.open(_opener(lifecycle), title="property", fields=_opening_fields(lifecycle), assignee=ASSIGNEE_ID)
    for number, original in enumerate(sequence):
        clock.advance(original.wait)
        before = wf.get(ticket.id)
        step = _assisted(lifecycle, before, original) if original.assist else original
        history = wf.history(ticket.id)
        allowed = wf.allowed(ticket.id, step.actor)
        where = f"step {number} ({step.trigger!r} by {step.actor} in {before.state!r})"
        try:
            after = wf.fire(
                ticket.id,
                step.trigger,
                step.actor,
                fields=step.fields,
                comment=step.comment,
                visibility="internal" if step.visibility == "internal" else "public",
                assignee=step.assignee if step.assignee else UNSET,
            )
        except TicketflowError as exc:
            assert isinstance(exc, TransitionNotAllowed | PermissionDenied | FieldError), f"{where}: raised {exc!r}"
            assert wf.get(ticket.id) == before, f"{where}: refused, yet the ticket changed"
            assert wf.history(ticket.id) == history, f"{where}: refused, yet the history changed"
            if lifecycle.states[before.state].immutable:
                assert isinstance(exc, TicketClosed), f"{where}: immutable state refused with {exc!r}"
            if step.trigger in allowed:
                assert isinstance(exc, FieldError), f"{where}: allowed() listed it, but fire refused: {exc!r}"
            continue
        assert not lifecycle.states[before.state].immutable, f"{where}: an immutable ticket changed"
        assert step.trigger in allowed, f"{where}: accepted, but allowed() did not list it: {allowed}"
        new_history = wf.history(ticket.id)
        assert new_history[:-1] == history, f"{where}: earlier events changed"
        assert len(new_history) == len(history) + 1, f"{where}: not exactly one new event"
        event = new_history[-1]
        assert after.version == before.version + 1 == event.seq, f"{where}: version not bumped by one"
        assert event.source == before.state, f"{where}: event source is not the state before"
        assert event.target == after.state, f"{where}: event target is not the state after"
        assert _follows_definition(lifecycle, before.state, event.trigger, after.state, step.actor), (
            f"{where}: moved to {after.state!r} by {event.trigger!r}, which the definition does not allow"
        )
        assert replay(new_history) == after == wf.get(ticket.id), f"{where}: replay differs from the ticket"


def _actor_for(t: Transition) -> Actor:
    if t.roles:
        role = sorted(t.roles)[0]
        return Actor(REQUESTER_ID if role == "requester" else ASSIGNEE_ID, roles={role})
    return Actor(REQUESTER_ID if "requester" in t.who else ASSIGNEE_ID)


def _needs(lifecycle: Lifecycle, t: Transition) -> dict[str, Any]:
    """Field values entering *t.dest* through *t* needs (required_in, require)."""
    fields = {name: _sample(spec) for name, spec in lifecycle.fields.items() if t.dest in spec.required_in}
    fields.update({name: _sample(lifecycle.fields[name]) for name in t.require if name in lifecycle.fields})
    return fields


def _assisted(lifecycle: Lifecycle, ticket: Ticket, step: Step) -> Step:
    engine = lifecycle.engine
    leaving = [t for trigger in lifecycle.triggers for t in engine.transitions_from(ticket.state, trigger)]
    if not leaving:
        return step
    t = leaving[step.choice % len(leaving)]
    return attrs.evolve(
        step,
        trigger=t.trigger,
        actor=_actor_for(t),
        fields=_needs(lifecycle, t) or None,
        comment=step.comment or ("assisted" if t.require_comment else None),
        assignee=ASSIGNEE_ID if "assignee" in t.require else step.assignee,
    )


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
    to_state: dict[str, tuple[Transition, ...]] = {lifecycle.initial: ()}
    queue = deque([lifecycle.initial])
    while queue:
        state = queue.popleft()
        for t in lifecycle.transitions:
            if state in t.sources and t.dest not in to_state:
                to_state[t.dest] = (*to_state[state], t)
                queue.append(t.dest)
    to_transition = {
        (t.index, source): (*to_state[source], t)
        for t in lifecycle.transitions
        for source in t.sources
        if source in to_state
    }
    return PathCoverage(states=to_state, transitions=to_transition)


def replay_path(lifecycle: Lifecycle, path: Sequence[Transition], registry: Registry | None = None) -> None:
    """Open a ticket and take *path*, with actors and data each step needs.

    Raises:
        AssertionError: a step was refused or did not land where the
            definition says, or the history does not replay to the ticket.
    """
    wf, clock = _workflow(lifecycle, registry)
    ticket = wf.open(_opener(lifecycle), title="path", fields=_opening_fields(lifecycle))
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
    return value


def _other_value(spec: FieldSpec, current: Any) -> Any:
    value = _sample(spec)
    if value != current:
        return value
    if spec.type == "choice" and len(spec.choices) > 1:
        return spec.choices[1]
    return {"date": "2026-02-01", "int": 2, "float": 2.0, "bool": False}.get(spec.type, f"{value}-2")


# -- entry points ------------------------------------------------------------------


def run_random_steps(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    max_examples: int | None = None,
    shrink: bool = True,
) -> None:
    """Check random step sequences with :func:`check_steps` under hypothesis.

    The budget defaults to the active hypothesis profile's ``max_examples``.
    No example database is used: the same function checks many lifecycles.
    """
    budget = settings().max_examples if max_examples is None else max_examples

    @settings(
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        deadline=None,
        max_examples=budget,
        report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if shrink else [])],
        database=None,
    )
    @given(steps(lifecycle))
    def random_steps(sequence: list[Step]) -> None:
        check_steps(lifecycle, sequence, registry)

    random_steps()


def check_lifecycle(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    max_examples: int | None = None,
    shrink: bool = True,
) -> PathCoverage:
    """Run path coverage and the random-step property check on *lifecycle*.

    Args:
        lifecycle: any lifecycle, built-in or your own.
        registry: your guards and actions; names it lacks get stand-ins that
            always allow / do nothing.
        max_examples: random sequences to try (default: the active hypothesis
            profile's budget).
        shrink: shrink a failing sequence to a minimal one (slower on failure).

    Returns:
        The coverage that was replayed.

    Raises:
        AssertionError: with the rule that failed and a minimal example.
    """
    coverage = path_coverage(lifecycle)
    for path in coverage.paths():
        replay_path(lifecycle, path, registry)

    run_random_steps(lifecycle, registry, max_examples=max_examples, shrink=shrink)
    return coverage


class LifecycleContract:
    """Subclass in a pytest module with ``lifecycle = ...`` to check a lifecycle.

    Attributes:
        lifecycle: the lifecycle under test (a class attribute you set).
        registry: your guards and actions, if the lifecycle names any.
    """

    lifecycle: ClassVar[Lifecycle]
    registry: ClassVar[Registry | None] = None

    def test_every_state_is_reached_by_its_shortest_path(self) -> None:
        """Each state's shortest path replays and lands there."""
        coverage = path_coverage(self.lifecycle)
        assert set(coverage.states) == set(self.lifecycle.states)
        for path in coverage.states.values():
            replay_path(self.lifecycle, path, self.registry)

    def test_every_transition_is_taken_by_its_shortest_path(self) -> None:
        """Each transition, from each of its sources, can be taken."""
        coverage = path_coverage(self.lifecycle)
        expected = {(t.index, s) for t in self.lifecycle.transitions for s in t.sources}
        assert set(coverage.transitions) == expected
        for path in coverage.transitions.values():
            replay_path(self.lifecycle, path, self.registry)

    def test_random_steps_keep_every_engine_rule(self) -> None:
        """Random triggers by random actors keep the engine's rules (see check_steps)."""
        run_random_steps(self.lifecycle, self.registry)
