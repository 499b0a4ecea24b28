"""The lifecycle property suite and path coverage, for any lifecycle.

Run it on your own lifecycle in a couple of lines of pytest::

    from ticketflow.testing import LifecycleContract

    class TestOurLifecycle(LifecycleContract):
        lifecycle = ticketflow.load_lifecycle("support.toml")

or call :func:`check_lifecycle` from any test.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import ClassVar

import attrs
import hypothesis
import pytest
from hypothesis import given, settings

from ticketflow.calendar import BusinessCalendar
from ticketflow.errors import (
    FieldError,
    PermissionDenied,
    TicketClosed,
    TicketflowError,
    TicketNotFound,
    TransitionNotAllowed,
)
from ticketflow.lifecycle import UNSET, Lifecycle
from ticketflow.model import Actor, Ticket, replay
from ticketflow.registry import Registry
from ticketflow.sla import policy_for
from ticketflow.testing._checks import (
    KitCoverage,
    _for_data,
    check_allowed,
    check_data_rules,
    check_sla,
    check_sla_history,
    check_timers,
    check_view,
    check_views,
    expected_coverage,
)
from ticketflow.testing._paths import (
    _actor_for,
    _needs,
    _opener,
    _opening_fields,
    _workflow,
    check_kit_arguments,
    kit_settings,
    path_coverage,
    replay_path,
)
from ticketflow.testing._strategies import ASSIGNEE_ID, REQUESTER_ID, Step, steps

__all__ = [
    "ContractBase",
    "DataRulesContract",
    "EngineContract",
    "LifecycleContract",
    "SlaContract",
    "TimerContract",
    "ViewContract",
    "check_lifecycle",
    "check_steps",
    "run_random_steps",
]


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


def check_steps(
    lifecycle: Lifecycle,
    sequence: Sequence[Step],
    registry: Registry | None = None,
    *,
    calendar: BusinessCalendar | None = None,
    views: bool = False,
    sla: bool = False,
) -> None:
    """Fire *sequence* on a fresh ticket and check every rule of the engine.

    Checks, after each step: an accepted fire follows a transition of the
    definition, left a non-immutable state, was listed by ``allowed()``,
    appended exactly one event and bumped the version by one, and the
    history replays to the ticket; a refused fire raised a ticketflow
    refusal, changed nothing, and (unless it was refused for the data it
    carried) was not listed by ``allowed()``. With *views*, the requester's
    view after each step holds nothing internal (:func:`check_view`); with
    *sla*, the SLA clocks after each accepted step, at the end and a day
    later follow their metrics' rules (:func:`check_sla_history`).

    Raises:
        AssertionError: naming the step and the broken rule.
    """
    check_kit_arguments("check_steps", lifecycle, registry, calendar)
    wf, clock = _workflow(lifecycle, registry, calendar)
    ticket = wf.open(
        _opener(lifecycle),
        title="property",
        fields=_opening_fields(lifecycle),
        assignee=ASSIGNEE_ID,
        requester=REQUESTER_ID,
    )
    for number, original in enumerate(sequence):
        clock.advance(original.wait)
        before = wf.get(ticket.id)
        step = _assisted(lifecycle, before, original) if original.assist else original
        history = wf.history(ticket.id)
        stranger = not lifecycle.access.may_see(before, step.actor)
        allowed = [] if stranger else wf.allowed(ticket.id, step.actor)
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
            assert wf.get(ticket.id) == before, f"{where}: refused, yet the ticket changed"
            assert wf.history(ticket.id) == history, f"{where}: refused, yet the history changed"
            if stranger:
                assert isinstance(exc, TicketNotFound), f"{where}: a stranger was refused with {exc!r}"
                continue
            assert isinstance(exc, TransitionNotAllowed | PermissionDenied | FieldError), f"{where}: raised {exc!r}"
            if lifecycle.states[before.state].immutable:
                assert isinstance(exc, TicketClosed), f"{where}: immutable state refused with {exc!r}"
            if step.trigger in allowed:
                assert _for_data(exc), f"{where}: allowed() listed it, but fire refused: {exc!r}"
            if views:
                check_view(wf, ticket.id, where)
            continue
        assert not stranger, f"{where}: a stranger changed the ticket"
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
        if views:
            check_view(wf, ticket.id, where)
        if sla:
            check_sla_history(wf, ticket.id, clock.now(), where)
    if sla:
        for later in (timedelta(0), timedelta(hours=30)):
            check_sla_history(wf, ticket.id, clock.now() + later, f"after {len(sequence)} steps, +{later}")


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


# -- entry points ------------------------------------------------------------------


def run_random_steps(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    max_examples: int | None = None,
    shrink: bool = True,
    calendar: BusinessCalendar | None = None,
    views: bool = False,
    sla: bool = False,
    seed: int | None = None,
) -> None:
    """Check random step sequences with :func:`check_steps` under hypothesis.

    The budget defaults to the active hypothesis profile's ``max_examples``.
    No example database is used: the same function checks many lifecycles.
    A *seed* makes the sequences those of that seed (else the profile decides).
    """
    check_kit_arguments("run_random_steps", lifecycle, registry, calendar)

    @kit_settings(max_examples, shrink=shrink, derandomize=settings().derandomize and seed is None)
    @given(steps(lifecycle))
    def random_steps(sequence: list[Step]) -> None:
        check_steps(lifecycle, sequence, registry, calendar=calendar, views=views, sla=sla)

    (random_steps if seed is None else hypothesis.seed(seed)(random_steps))()


def check_lifecycle(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    max_examples: int | None = None,
    shrink: bool = True,
    calendar: BusinessCalendar | None = None,
    seed: int | None = None,
) -> KitCoverage:
    """Run every check of the kit on *lifecycle* and return what it exercised.

    Path coverage, ``allowed()`` per reachable state, data rules, views,
    timers, SLA metrics, and random step sequences (with view and SLA checks).

    Args:
        lifecycle: any lifecycle, built-in or your own.
        registry: your guards and actions; names it lacks get stand-ins that
            the kit switches (guards) or that do nothing (actions).
        max_examples: random sequences to try (default: the active hypothesis
            profile's budget).
        shrink: shrink a failing sequence to a minimal one (slower on failure).
        calendar: the business calendar business-time timers count in.
        seed: the random sequences' seed (default: the hypothesis profile's).

    Returns:
        The coverage; ``coverage.missing()`` lists reachable states,
        transitions, rules, timers and SLA metrics no check exercised.

    Raises:
        AssertionError: with the rule that failed and a minimal example.
        TypeError: *lifecycle* is not a Lifecycle (a built-in's id is not
            looked up: pass ``tf.builtin(name)``), or *registry* or
            *calendar* is of the wrong type.
    """
    check_kit_arguments("check_lifecycle", lifecycle, registry, calendar)
    coverage = expected_coverage(lifecycle)
    _replay_all(lifecycle, registry, calendar, coverage)
    check_allowed(lifecycle, registry, calendar=calendar, coverage=coverage)
    check_data_rules(lifecycle, registry, calendar=calendar, coverage=coverage)
    check_views(lifecycle, registry, calendar=calendar)
    check_timers(lifecycle, registry, calendar=calendar, coverage=coverage)
    check_sla(lifecycle, registry, calendar=calendar, coverage=coverage)
    run_random_steps(
        lifecycle,
        registry,
        max_examples=max_examples,
        shrink=shrink,
        calendar=calendar,
        views=True,
        sla=True,
        seed=seed,
    )
    return coverage


def _replay_all(
    lifecycle: Lifecycle, registry: Registry | None, calendar: BusinessCalendar | None, coverage: KitCoverage
) -> None:
    paths = path_coverage(lifecycle)
    for state, path in paths.states.items():
        replay_path(lifecycle, path, registry, calendar=calendar)
        coverage.hit("states", state)
    for (_index, source), path in paths.transitions.items():
        replay_path(lifecycle, path, registry, calendar=calendar)
        coverage.hit("transitions", f"{path[-1].path} {path[-1].trigger!r} from {source!r}")


def _assert_covered(coverage: KitCoverage, kinds: tuple[str, ...], accepted: frozenset[str]) -> None:
    missing = coverage.missing(kinds, accepted)
    assert not missing, f"reachable but never exercised: {missing}\n{coverage.report(kinds)}"


# -- the contracts: pick the concerns you want, or LifecycleContract for all -----------


class ContractBase:
    """What every contract mixin reads from your test class; a new suite plugs in by subclassing it.

    Attributes:
        lifecycle: the lifecycle under test (set it on your class).
        registry: your guards and actions, if the lifecycle names any
            (guards it lacks are switched by the kit, actions do nothing).
        calendar: the business calendar, if timers count business time.
        unexercised: labels you accept as never exercised (from a coverage
            report), e.g. a timer another timer always pre-empts.
    """

    lifecycle: ClassVar[Lifecycle]
    registry: ClassVar[Registry | None] = None
    calendar: ClassVar[BusinessCalendar | None] = None
    unexercised: ClassVar[frozenset[str]] = frozenset()

    def setup_method(self, _method: object) -> None:
        """Refuse a class whose ``lifecycle``, ``registry`` or ``calendar`` is not what the kit reads, by name."""
        check_kit_arguments(type(self).__name__, getattr(self, "lifecycle", None), self.registry, self.calendar)

    def assert_covered(self, coverage: KitCoverage, *kinds: str) -> None:
        """Fail when a reachable label of *kinds* was never exercised (minus ``unexercised``)."""
        _assert_covered(coverage, kinds, self.unexercised)


class EngineContract(ContractBase):
    """The engine's rules: paths, ``allowed()`` in every reachable state, random steps."""

    def test_every_state_is_reached_by_its_shortest_path(self) -> None:
        """Each state's shortest path replays and lands there."""
        coverage = path_coverage(self.lifecycle)
        assert set(coverage.states) == set(self.lifecycle.states)
        for path in coverage.states.values():
            replay_path(self.lifecycle, path, self.registry, calendar=self.calendar)

    def test_every_transition_is_taken_by_its_shortest_path(self) -> None:
        """Each transition, from each of its sources, can be taken."""
        coverage = expected_coverage(self.lifecycle)
        _replay_all(self.lifecycle, self.registry, self.calendar, coverage)
        self.assert_covered(coverage, "states", "transitions")

    def test_allowed_is_exactly_what_fire_accepts_in_every_reachable_state(self) -> None:
        """For every state, actor, trigger and condition outcome, allowed() lists what a fire accepts."""
        check_allowed(self.lifecycle, self.registry, calendar=self.calendar)

    def test_random_steps_keep_every_engine_rule(self) -> None:
        """Random triggers by random actors keep the engine's rules (see check_steps)."""
        run_random_steps(self.lifecycle, self.registry, calendar=self.calendar)


class DataRulesContract(ContractBase):
    """Each transition's required fields, comment, attributes, ``when``, guards and roles are enforced."""

    def test_every_data_rule_is_enforced_and_met_rules_are_accepted(self) -> None:
        """Leaving out any one rule is refused with its error and changes nothing; with all, the step is taken."""
        coverage = check_data_rules(self.lifecycle, self.registry, calendar=self.calendar)
        self.assert_covered(coverage, "rules")


class ViewContract(ContractBase):
    """A requester's view never holds internal comments, fields, tags or meta."""

    def test_requesters_never_see_internal_data_in_any_reachable_state(self) -> None:
        """An internal note, internal fields and tags in every state stay out of the requester's view."""
        check_views(self.lifecycle, self.registry, calendar=self.calendar)

    def test_requesters_never_see_internal_data_after_random_steps(self) -> None:
        """After every random step, the requester's view holds nothing internal."""
        run_random_steps(self.lifecycle, self.registry, calendar=self.calendar, views=True)


class TimerContract(ContractBase):
    """Each timed rule fires once per entry into its states, at its due instant."""

    def test_every_timed_rule_fires_once_per_entry_at_its_due_instant(self) -> None:
        """Not a microsecond early, once at the instant, never again in the same entry."""
        coverage = check_timers(self.lifecycle, self.registry, calendar=self.calendar)
        self.assert_covered(coverage, "timers")


class SlaContract(ContractBase):
    """SLA clocks follow their metric's start, stop, reset and pause rules and report the deciding cycle."""

    def test_every_metric_meets_its_target_exactly_and_breaches_just_past_it(self) -> None:
        """Each metric runs a cycle of exactly its target (met) and one a minute longer (breached)."""
        coverage = check_sla(self.lifecycle, self.registry, calendar=self.calendar)
        self.assert_covered(coverage, "metrics")

    def test_sla_clocks_follow_their_metrics_over_random_steps(self) -> None:
        """After random steps, every metric's cycles match its rules read independently."""
        if policy_for(self.lifecycle, self.calendar or self.lifecycle.calendar) is None:
            pytest.skip(f"lifecycle {self.lifecycle.id!r} has no [sla] section")
        run_random_steps(self.lifecycle, self.registry, calendar=self.calendar, sla=True)


class LifecycleContract(EngineContract, DataRulesContract, ViewContract, TimerContract, SlaContract):
    """Every concern of the kit: subclass in a pytest module with ``lifecycle = ...``.

    Attributes:
        lifecycle: the lifecycle under test (a class attribute you set).
        registry: your guards and actions, if the lifecycle names any.
    """
