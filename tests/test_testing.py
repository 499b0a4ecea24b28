"""ticketflow.testing: the clock, the strategies, the property suite and path coverage."""

import __future__

import inspect
import os
import re
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow._view import view
from ticketflow.automation._timers import due_instant, pending_rules
from ticketflow.lifecycle._engine import Engine
from ticketflow.sla import _clock as sla_clock
from ticketflow.testing import (
    DataRulesContract,
    LifecycleContract,
    SteppableClock,
    TimerContract,
    check_data_rules,
    check_lifecycle,
    check_migration,
    check_steps,
    check_timers,
    lifecycle_documents,
    path_coverage,
    replay_path,
    steps,
)

from .conftest import EXAMPLES

HELPDESK = tf.load_lifecycle(EXAMPLES / "custom_lifecycle.toml")


class TestHelpdeskLifecycle(LifecycleContract):
    """The property suite and path coverage over the example lifecycle, as a user runs them."""

    lifecycle = HELPDESK


def test_steppable_clock_moves_only_forward():
    clock = SteppableClock(datetime(2026, 3, 1, tzinfo=UTC))
    assert clock.advance(hours=2) == datetime(2026, 3, 1, 2, tzinfo=UTC)
    assert clock.advance(timedelta(minutes=1)) == clock.now()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(hours=-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(tf.NaiveDatetime):
        SteppableClock(datetime(2026, 1, 1))
    assert isinstance(clock, tf.Clock)


def test_path_coverage_reaches_every_state_and_transition_by_shortest_paths():
    coverage = path_coverage(HELPDESK)
    assert set(coverage.states) == set(HELPDESK.states)
    assert [t.trigger for t in coverage.states["closed"]] == ["triage", "start", "resolve", "close"]
    assert coverage.states["new"] == ()
    assert len(coverage.transitions) == sum(len(t.sources) for t in HELPDESK.transitions)
    reopen = next(t for t in HELPDESK.transitions if t.trigger == "reopen")
    assert [t.trigger for t in coverage.transitions[(reopen.index, "resolved")]] == [
        "triage",
        "start",
        "resolve",
        "reopen",
    ]


@settings(max_examples=25)
@given(lifecycle_documents(), st.data())
def test_random_valid_definitions_pass_the_property_suite(document: dict[str, Any], data: st.DataObject):
    lifecycle = tf.load_lifecycle(document)
    for path in path_coverage(lifecycle).paths():
        replay_path(lifecycle, path)
    for _ in range(3):
        check_steps(lifecycle, data.draw(steps(lifecycle)))


def test_the_suite_catches_an_engine_that_breaks_a_rule(monkeypatch: pytest.MonkeyPatch):
    original = tf.Workflow.allowed

    def lying_allowed(self: tf.Workflow, ticket_id: str, actor: tf.Actor, **kw: Any) -> list[str]:
        return [t for t in original(self, ticket_id, actor, **kw) if t != "triage"]

    monkeypatch.setattr(tf.Workflow, "allowed", lying_allowed)
    with pytest.raises(AssertionError, match="allowed\\(\\) did not list it"):
        check_lifecycle(HELPDESK, max_examples=200, shrink=False)


def test_the_suite_catches_a_refusal_that_changes_the_ticket(monkeypatch: pytest.MonkeyPatch):
    original = tf.Workflow.fire

    def leaky_fire(self: tf.Workflow, ticket_id: str, trigger: str, actor: tf.Actor, **kw: Any) -> tf.Ticket:
        try:
            return original(self, ticket_id, trigger, actor, **kw)
        except tf.PermissionDenied:
            ticket = self.get(ticket_id)
            original(self, ticket_id, "comment", tf.Actor("x", roles={"agent"}), comment="leak")
            raise tf.PermissionDenied(ticket.id, trigger, actor.id, [], []) from None

    monkeypatch.setattr(tf.Workflow, "fire", leaky_fire)
    with pytest.raises(AssertionError, match="refused, yet the ticket changed"):
        check_lifecycle(HELPDESK, max_examples=200, shrink=False)


# -- the kit alone catches planted bugs -----------------------------------------------------


def plant(monkeypatch: pytest.MonkeyPatch, function: Any, old: str, new: str) -> None:
    """Replace *function* everywhere ticketflow refers to it by its source with *old* turned into *new*."""
    source = textwrap.dedent(inspect.getsource(function))
    assert source.count(old) == 1, f"{function.__qualname__} no longer holds {old!r}: update the planted bug"
    module = sys.modules[function.__module__]
    namespace = dict(vars(module))
    code = compile(source.replace(old, new), inspect.getfile(function), "exec", __future__.annotations.compiler_flag)
    exec(code, namespace)  # noqa: S102 - our own source, with one planted change
    planted = namespace[function.__name__]
    owner = function.__qualname__.rpartition(".")[0]
    if owner:
        monkeypatch.setattr(getattr(module, owner), function.__name__, planted)
        return
    for name, loaded in list(sys.modules.items()):
        if name.startswith("ticketflow") and getattr(loaded, function.__name__, None) is function:
            monkeypatch.setattr(loaded, function.__name__, planted)


# (bug, function, old source, planted source, what the kit's failure says)
PLANTED = {
    "require_comment not enforced": (
        Engine.apply,
        "if chosen.require_comment and _blank(comment):",
        "if False:",
        "comment: accepted without it",
    ),
    "required fields not enforced": (
        Engine._check_required,
        "if missing:",
        "if False:",
        "field \\w+: accepted without it",
    ),
    "allowed() ignores when and guards": (
        Engine.allowed,
        " and self._holds(t, ticket, actor, ticket.fields, at, guards)",
        "",
        "allowed\\(\\) listed it, but fire refused",
    ),
    "allowed() ignores roles": (
        Engine.allowed,
        "if self._may(t, ticket, actor, roles) and ",
        "if ",
        "allowed\\(\\) listed it, but fire refused",
    ),
    "requester sees internal comments": (
        view,
        'comment = event.comment if event.comment is not None and event.comment.visibility == "public" else None',
        "comment = event.comment",
        "holds an internal comment",
    ),
    "a timer fires twice per entry": (
        pending_rules,
        'fired = {e.meta.get("rule") for e in since_entry[1:] if "rule" in e.meta}',
        'fired = {e.meta.get("rule") for e in since_entry[2:] if "rule" in e.meta}',
        "fired 2 times",
    ),
    "an immutable state accepts changes": (
        Engine.apply,
        "if lc.states[state].immutable:",
        "if False:",
        "immutable state answered",
    ),
    "a timer fires before its due instant": (
        due_instant,
        "return (anchor.astimezone(UTC) + rule.after).astimezone(anchor.tzinfo)",
        "return (anchor.astimezone(UTC) + rule.after - timedelta(minutes=1)).astimezone(anchor.tzinfo)",
        "before its due instant",
    ),
    "a stopped SLA clock reports its first cycle": (
        sla_clock._clock,
        "final = done[-1]",
        "final = done[0]",
        "its last cycle",
    ),
    "an SLA cycle stopped at its target is breached": (
        sla_clock._clock,
        "late = due_at is not None and ats[index] > due_at",
        "late = due_at is not None and ats[index] >= due_at",
        "breach",
    ),
}
ZENDESK = tf.builtin("zendesk")
# A bug a lifecycle gives no way to observe (the code it breaks never decides anything there), and why.
EQUIVALENT = {
    ("allowed() ignores when and guards", "zendesk"): lambda lc: not any(t.when or t.guards for t in lc.transitions),
    ("required fields not enforced", "zendesk"): lambda lc: (
        not any(t.require for t in lc.transitions) and not any(spec.required_in for spec in lc.fields.values())
    ),
    ("a stopped SLA clock reports its first cycle", "helpdesk"): lambda lc: tf.policy_for(lc) is None,
    ("an SLA cycle stopped at its target is breached", "helpdesk"): lambda lc: tf.policy_for(lc) is None,
    # its one timer closes the ticket when it fires: nothing is left in the state to fire again
    ("a timer fires twice per entry", "helpdesk"): lambda lc: all(
        rule.fire
        and all(t.dest not in rule.states for s in rule.states for t in lc.engine.transitions_from(s, rule.fire))
        for rule in lc.timers
    ),
}
SEEDS = range(10) if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else range(1)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("lifecycle", [HELPDESK, ZENDESK], ids=["helpdesk", "zendesk"])
@pytest.mark.parametrize("bug", list(PLANTED))
def test_the_kit_alone_catches_each_planted_bug(
    monkeypatch: pytest.MonkeyPatch, bug: str, lifecycle: tf.Lifecycle, seed: int
):
    if (bug, lifecycle.id) in EQUIVALENT:
        assert EQUIVALENT[bug, lifecycle.id](lifecycle), "the lifecycle now has what the bug breaks: catch it"
        pytest.skip(f"{bug!r} cannot change anything on {lifecycle.id}")
    function, old, new, says = PLANTED[bug]
    plant(monkeypatch, function, old, new)
    with pytest.raises(AssertionError, match=says):
        check_lifecycle(lifecycle, max_examples=20, shrink=False, seed=seed)


def test_allowed_ignoring_when_and_guards_answers_the_same_on_zendesk(monkeypatch: pytest.MonkeyPatch):
    honest = ZENDESK.engine.allowed
    function, old, new, _ = PLANTED["allowed() ignores when and guards"]
    plant(monkeypatch, function, old, new)
    at = datetime(2026, 3, 9, 9, tzinfo=UTC)
    for state in path_coverage(ZENDESK).states:
        ticket = tf.Ticket(
            id="T", lifecycle_id="zendesk", state=state, version=2, created_at=at, updated_at=at, title="x",
            fields={}, tags=frozenset(), requester="r", assignee="a", participants=frozenset(),
        )  # fmt: skip
        for actor in (tf.Actor("r", roles={"requester"}), tf.Actor("a", roles={"agent"}), tf.Actor("s")):
            assert ZENDESK.engine.allowed(ticket, actor, at, {}) == honest(ticket, actor, at, {})


# -- coverage: the contracts fail on what they never exercised -------------------------------

PRE_EMPTED = HELPDESK.extend(
    {"id": "pre-empted", "timers": [{"id": "late_reminder", "state": "resolved", "after": "5d", "add_tags": ["vip"]}]}
)


def test_a_timer_another_timer_always_pre_empts_is_reported_and_fails_the_contract():
    coverage = check_timers(PRE_EMPTED)
    assert coverage.exercised["timers"] == {"auto_close"}
    assert coverage.missing(["timers"]) == {"timers": ["late_reminder"]}
    assert "never exercised: late_reminder (another rule moved the ticket out of 'resolved' first)" in (
        coverage.report(["timers"])
    )

    class TestPreEmpted(TimerContract):
        lifecycle = PRE_EMPTED

    with pytest.raises(AssertionError, match=re.escape("reachable but never exercised: {'timers': ['late_reminder']}")):
        TestPreEmpted().test_every_timed_rule_fires_once_per_entry_at_its_due_instant()

    class TestAccepted(TimerContract):
        lifecycle = PRE_EMPTED
        unexercised = frozenset({"late_reminder"})

    TestAccepted().test_every_timed_rule_fires_once_per_entry_at_its_due_instant()


def test_the_applications_own_guard_is_called_not_switched_and_reported_as_not_exercised():
    guarded = HELPDESK.extend(
        {
            "id": "guarded",
            "transitions": [
                {"trigger": "fast_track", "source": "new", "dest": "triaged", "roles": ["agent"], "guards": ["vip"]},
                {"trigger": "hold", "source": "new", "dest": "triaged", "roles": ["agent"], "guards": ["kit_only"]},
            ],
        }
    )
    registry = tf.Registry()
    registry.add_guard("vip", lambda context: True)
    coverage = check_data_rules(guarded, registry)
    label = "transitions[9] 'fast_track' from 'new': guard vip"
    assert coverage.missing(["rules"]) == {"rules": [label]}
    assert coverage.notes[label] == "the application's own guard: the kit cannot switch it"
    assert "transitions[10] 'hold' from 'new': guard kit_only" in coverage.exercised["rules"]

    class TestGuarded(DataRulesContract):
        lifecycle = guarded
        registry = tf.Registry()

    TestGuarded.registry.add_guard("vip", lambda context: True)
    with pytest.raises(AssertionError, match="guard vip"):
        TestGuarded().test_every_data_rule_is_enforced_and_met_rules_are_accepted()


def test_check_lifecycle_reports_every_kind_for_the_example():
    coverage = check_lifecycle(HELPDESK, max_examples=5)
    assert coverage.missing() == {}
    assert coverage.report().splitlines() == [
        "states: 7/7 exercised",
        "transitions: 12/12 exercised",
        "rules: 20/20 exercised",
        "timers: 1/1 exercised",
        "metrics: 0/0 exercised",
    ]


# -- the migration property ------------------------------------------------------------------


def test_check_migration_passes_the_example_plan_from_every_reachable_state():
    from .conftest import EXAMPLES

    v1 = tf.load_lifecycle(EXAMPLES / "custom_lifecycle.toml")
    v2 = tf.load_lifecycle(EXAMPLES / "custom_lifecycle_v2.toml")
    plan = tf.load_migration(EXAMPLES / "migrate_v1_to_v2.toml", v1, v2)
    check_migration(plan, max_examples=30)


def test_check_migration_finds_tickets_a_checked_plan_cannot_move():
    from .conftest import EXAMPLES

    v1 = tf.load_lifecycle(EXAMPLES / "custom_lifecycle.toml")
    text = (EXAMPLES / "custom_lifecycle_v2.toml").read_text().replace('"high", "urgent"]', '"high"]')
    v2 = tf.loads_lifecycle(text, source="v2")
    plan = tf.load_migration(EXAMPLES / "migrate_v1_to_v2.toml", v1, v2)  # statically fine: values are dynamic
    with pytest.raises(AssertionError, match="cannot move: field 'priority'"):
        check_migration(plan, max_examples=60)


# -- what a user hands the kit ---------------------------------------------------------------


def test_the_kit_refuses_a_builtin_id_for_a_lifecycle_with_a_type_error_naming_it():
    with pytest.raises(TypeError, match=r"check_lifecycle: lifecycle must be a ticketflow Lifecycle \(tf.builtin"):
        check_lifecycle("zendesk")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"check_lifecycle: registry must be a tf\.Registry"):
        check_lifecycle(HELPDESK, "registry")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="check_migration: plan must be a MigrationPlan"):
        check_migration("migrate_v1_to_v2.toml")  # type: ignore[arg-type]

    class TestById(LifecycleContract):
        lifecycle = "zendesk"  # type: ignore[assignment]

    with pytest.raises(TypeError, match="TestById: lifecycle must be a ticketflow Lifecycle"):
        TestById().setup_method(None)


_ONE_STEP_SLA = """
id = "one_step"
initial = "new"
[states.new]
group = "open"
[states.done]
group = "closed"
terminal = true
[fields.organisation]
type = "text"
[[transitions]]
trigger = "finish"
source = "new"
dest = "done"
[sla]
calendar = "new_york"
[sla.calendars.new_york]
timezone = "America/New_York"
hours = { mon-fri = ["09:00-17:00"] }
[sla.calendars.berlin]
timezone = "Europe/Berlin"
hours = { mon-fri = ["09:00-17:00"] }
[[sla.metrics]]
id = "resolution"
targets = [{ target = "16h" }]
"""


def test_a_resolution_metric_a_terminal_state_stops_is_met_and_breached_on_two_tickets():
    coverage = check_lifecycle(tf.loads_lifecycle(_ONE_STEP_SLA, "toml"), max_examples=3)
    assert coverage.missing() == {}
    assert "metrics: 1/1 exercised" in coverage.report().splitlines()


def test_the_kit_keeps_the_applications_calendar_resolvers_and_notifiers(caplog: pytest.LogCaptureFixture):
    by_resolver = 'calendar = "new_york"\ncalendar_by = { resolver = "region" }'
    text = _ONE_STEP_SLA.replace('calendar = "new_york"', by_resolver)
    text += '\n[[timers]]\nid = "nudge"\nstate = "new"\nafter = "3d"\nnotify = ["email"]\n'
    lifecycle = tf.loads_lifecycle(text, "toml")
    registry = tf.Registry()
    registry.add_calendar_resolver("region", lambda fields: {"acme": "berlin"}.get(fields.get("organisation")))
    coverage = check_lifecycle(lifecycle, registry, max_examples=3)
    assert coverage.missing() == {}
    # the kit never delivers: its workflows do not each warn that nobody would
    assert "no notifier" not in caplog.text


def test_a_timer_whose_step_is_always_refused_is_reported_with_the_refusal_and_fails_the_contract():
    text = _ONE_STEP_SLA.split("[sla]")[0].replace('dest = "done"', 'dest = "done"\nroles = ["agent", "system"]')
    text += '[fields.resolution]\ntype = "text"\nrequired_in = ["done"]\n'
    text += '[[timers]]\nid = "give_up"\nstate = "new"\nafter = "3d"\nfire = "finish"\n'  # sets no resolution
    stuck = tf.loads_lifecycle(text, "toml")
    coverage = check_timers(stuck)
    assert coverage.missing(["timers"]) == {"timers": ["give_up"]}
    report = coverage.report(["timers"])
    assert "never exercised: give_up (its step was refused in 'new' on the kit's ticket: " in report
    assert "'finish' refused: required by" in coverage.notes["give_up"]

    class TestStuck(TimerContract):
        lifecycle = stuck

    with pytest.raises(AssertionError, match=re.escape("reachable but never exercised: {'timers': ['give_up']}")):
        TestStuck().test_every_timed_rule_fires_once_per_entry_at_its_due_instant()


def test_a_resolution_metric_stopped_two_steps_from_the_opening_is_met_and_breached():
    text = _ONE_STEP_SLA.replace("[states.done]", '[states.working]\ngroup = "in_progress"\n[states.done]')
    start = 'trigger = "start"\nsource = "new"\ndest = "working"\n[[transitions]]\n'
    text = text.replace('trigger = "finish"\nsource = "new"', start + 'trigger = "finish"\nsource = "working"')
    two_steps = tf.loads_lifecycle(text, "toml")
    assert [(t.trigger, t.dest) for t in two_steps.transitions] == [("start", "working"), ("finish", "done")]
    coverage = check_lifecycle(two_steps, max_examples=3)
    assert coverage.missing() == {}, coverage.report()  # was: resolution (the kit found no step that stops it)


def test_an_application_guard_that_raises_for_the_kits_made_up_people_is_explained():
    guarded = tf.loads_lifecycle(
        _ONE_STEP_SLA.split("[sla]")[0].replace('dest = "done"', 'dest = "done"\nguards = ["vip_only"]'), "toml"
    )
    customers = {"vip-1": True}
    registry = tf.Registry()
    registry.add_guard("vip_only", lambda context: customers[context.ticket.requester])  # KeyError for others
    with pytest.raises(
        AssertionError, match=r"the application's guard 'vip_only' raised KeyError: KeyError\('requester-"
    ) as caught:
        check_lifecycle(guarded, registry, max_examples=3)
    assert "a guard must answer (False is fine) for people and data it does not know" in str(caught.value)
    assert isinstance(caught.value.__cause__, KeyError)


def test_the_kit_does_not_call_the_applications_event_listeners():
    from ticketflow.testing import check_steps
    from ticketflow.testing._strategies import Step

    heard: list[str] = []
    registry = tf.Registry()
    registry.on_event(lambda ticket, event: heard.append(event.trigger))  # a production audit trail
    agent = tf.Actor("agent-1", roles={"agent"})
    steps = [Step("take", agent, assignee="agent-1"), Step("comment", agent, comment="hi")]
    check_steps(tf.builtin("zendesk"), steps, registry=registry)
    assert heard == []
    assert len(registry.listeners) == 1  # the application's registry is left as it was
