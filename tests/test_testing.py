"""ticketflow.testing: the clock, the strategies, the property suite and path coverage."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow.testing import (
    LifecycleContract,
    SteppableClock,
    check_lifecycle,
    check_steps,
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
