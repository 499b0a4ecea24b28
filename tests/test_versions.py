"""Lifecycle versions: tickets know the version they were opened under; a Workflow refuses states it lacks."""

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import ticketflow as tf
from ticketflow.errors import LifecycleVersionMismatch

from .conftest import unchanged

EXAMPLE = Path(__file__).parent.parent / "examples" / "custom_lifecycle.toml"
ALICE = tf.Actor("alice", roles={"requester"})
BOB = tf.Actor("bob", roles={"agent"})
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def v1() -> tf.Lifecycle:
    return tf.loads_lifecycle(EXAMPLE.read_text(), source="v1")


def v2_renamed() -> tf.Lifecycle:
    """Version 2: ``waiting_on_requester`` is renamed ``waiting_on_customer``."""
    text = EXAMPLE.read_text().replace("waiting_on_requester", "waiting_on_customer")
    return tf.loads_lifecycle(text.replace("version = 1", "version = 2", 1), source="v2")


def waiting_ticket(repository: tf.MemoryRepository) -> str:
    """A ticket driven to ``waiting_on_requester`` under version 1."""
    wf = tf.Workflow(v1(), repository)
    t = wf.open(ALICE, title="Laptop broken", at=T0)
    wf.fire(t.id, "triage", BOB, fields={"category": "hardware"}, at=T0)
    wf.fire(t.id, "start", BOB, assignee="bob", at=T0)
    return wf.fire(t.id, "ask", BOB, comment="Which model?", at=T0).id


CALLS: dict[str, Any] = {
    "allowed": lambda wf, i: wf.allowed(i, BOB, at=T0),
    "comment": lambda wf, i: wf.comment(i, ALICE, "It is a T14", at=T0),
    "fire": lambda wf, i: wf.fire(i, "start", BOB, at=T0),
    "update": lambda wf, i: wf.update(i, BOB, fields={"priority": "high"}, at=T0),
    "move_to": lambda wf, i: wf.move_to(i, "in_progress", BOB, at=T0),
    "sla": lambda wf, i: wf.sla(i, T0),
    "view": lambda wf, i: wf.view(i, BOB),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("cache", [0, 16])
def test_a_renamed_state_is_a_version_mismatch_not_a_key_error(call: str, cache: int):
    repository = tf.MemoryRepository()
    ticket_id = waiting_ticket(repository)
    old, new = v1(), v2_renamed()
    wf = tf.Workflow(new, repository, ticket_cache=cache)
    with unchanged(tf.Workflow(old, repository), ticket_id), pytest.raises(LifecycleVersionMismatch) as raised:
        CALLS[call](wf, ticket_id)
    error = raised.value
    assert isinstance(error, tf.TicketflowError)
    assert (error.ticket_id, error.state) == (ticket_id, "waiting_on_requester")
    assert (error.recorded_version, error.recorded_fingerprint) == (1, old.fingerprint)
    assert (error.current_version, error.current_fingerprint) == (2, new.fingerprint)
    assert "waiting_on_requester" in str(error)
    assert "migrate" in str(error)


def test_an_old_process_meeting_a_state_only_the_new_version_has_is_refused():
    repository = tf.MemoryRepository()
    new = v2_renamed()
    wf_new = tf.Workflow(new, repository)
    t = wf_new.open(ALICE, title="Laptop broken", at=T0)
    wf_new.fire(t.id, "triage", BOB, fields={"category": "hardware"}, at=T0)
    wf_new.fire(t.id, "start", BOB, assignee="bob", at=T0)
    wf_new.fire(t.id, "ask", BOB, comment="Which model?", at=T0)
    old = tf.Workflow(v1(), repository)
    with unchanged(wf_new, t.id), pytest.raises(LifecycleVersionMismatch) as raised:
        old.comment(t.id, ALICE, "It is a T14", at=T0)
    assert (raised.value.recorded_version, raised.value.current_version) == (2, 1)
    assert raised.value.recorded_fingerprint == new.fingerprint


def test_tickets_in_states_both_versions_have_keep_working():
    repository = tf.MemoryRepository()
    t = tf.Workflow(v1(), repository).open(ALICE, title="Laptop broken", at=T0)
    moved = tf.Workflow(v2_renamed(), repository).fire(t.id, "triage", BOB, fields={"category": "hardware"}, at=T0)
    assert (moved.state, moved.version) == ("triaged", 2)


def test_the_opening_event_records_the_lifecycle_identity():
    lifecycle = v1()
    wf = tf.Workflow(lifecycle)
    t = wf.open(ALICE, title="x", channel="portal", at=T0)
    (event,) = wf.history(t.id)
    assert event.meta == {
        "lifecycle_id": "helpdesk",
        "lifecycle_version": 1,
        "lifecycle_fingerprint": lifecycle.fingerprint,
        "channel": "portal",
    }
    assert {"lifecycle_version", "lifecycle_fingerprint"} <= tf.model.LIBRARY_META


def test_a_caller_cannot_forge_the_recorded_version():
    wf = tf.Workflow(v1())
    t = wf.open(ALICE, title="x", at=T0)
    wf.fire(t.id, "comment", ALICE, comment="hi", meta={"lifecycle_version": 9}, at=T0)
    last = wf.history(t.id)[-1]
    assert last.meta == {"app": {"lifecycle_version": 9}}
    assert wf.history(t.id)[0].meta["lifecycle_version"] == 1


def test_equal_definitions_have_equal_fingerprints_and_a_change_differs():
    a, b = v1(), v1()
    assert a is not b
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 64
    assert int(a.fingerprint, 16) >= 0
    assert v2_renamed().fingerprint != a.fingerprint
    tightened = a.extend({"states": {"resolved": {"description": "done, for now"}}})
    assert tightened.fingerprint != a.fingerprint
    document = tomllib.loads(EXAMPLE.read_text())
    reordered = tf.load_lifecycle(dict(reversed(document.items())))  # a dict, keys in another order
    assert reordered.fingerprint == a.fingerprint
