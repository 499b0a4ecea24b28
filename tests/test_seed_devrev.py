"""DevRev tickets (shared/seeds/004), sentence by sentence, with explicit times.

The stalled timer counts business days (Mon-Fri 09:00-17:00 UTC, the
built-in's calendar); the story crosses a weekend.
"""

from datetime import UTC, datetime

import pytest

import ticketflow as tf

from .conftest import unchanged

CUSTOMER = tf.Actor("ana@client.example", roles={"requester"})
ENGINEER = tf.Actor("cxe-1", roles={"agent"})
STRANGER = tf.Actor("eve@other.example", roles={"requester"})


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 7, day, hour, minute, tzinfo=UTC)


def in_development(wf: tf.Workflow, issues: tuple[str, ...]) -> tf.Ticket:
    t = wf.open(CUSTOMER, title="Export to CSV drops rows", fields={"part": "exports"}, at=at(6, 9))
    wf.fire(t.id, "start", ENGINEER, at=at(6, 10))
    for key in issues:
        wf.link(t.id, ENGINEER, "caused_by", record=tf.ExternalRecord("issue", key), at=at(6, 11))
    wf.linked_record_changed("issue", issues[0], status="planned", at=at(6, 12))
    wf.linked_record_changed("issue", issues[0], status="in_progress", at=at(7, 9))
    return wf.get(t.id)


def test_in_development_to_awaiting_customer_response_when_the_corresponding_issues_have_been_resolved():
    wf = tf.Workflow(tf.builtin("devrev"))
    t = in_development(wf, ("ENG-1", "ENG-2"))
    assert t.state == "in_development"
    wf.linked_record_changed("issue", "ENG-1", status="done", at=at(8, 9))
    assert wf.get(t.id).state == "in_development"  # ENG-2 is not resolved yet
    wf.linked_record_changed("issue", "ENG-2", status="in_progress", at=at(8, 10))
    assert wf.get(t.id).state == "in_development"
    wf.linked_record_changed("issue", "ENG-2", status="shipped", at=at(9, 9))
    t = wf.get(t.id)
    assert (t.state, wf.history(t.id)[-1].trigger) == ("awaiting_customer_response", "fix_shipped")


def test_one_linked_issue_resolved_moves_the_ticket_at_once():
    wf = tf.Workflow(tf.builtin("devrev"))
    t = in_development(wf, ("ENG-1",))
    wf.linked_record_changed("issue", "ENG-1", status="done", at=at(8, 9))
    assert wf.get(t.id).state == "awaiting_customer_response"


def test_change_the_assignee_or_accept_the_default_of_the_part():
    registry = tf.Registry()
    registry.add_policy("part_owner", tf.PointOfContact({"exports": "cxe-exports"}.get, field="part"))
    wf = tf.Workflow(tf.builtin("devrev"), registry=registry)
    default = wf.open(CUSTOMER, title="Export drops rows", fields={"part": "exports"}, at=at(6, 9))
    chosen = wf.open(ENGINEER, title="Export drops rows", fields={"part": "exports"}, assignee="cxe-2", at=at(6, 9))
    unknown = wf.open(CUSTOMER, title="Billing", fields={"part": "billing"}, at=at(6, 9))
    assert (default.assignee, chosen.assignee, unknown.assignee) == ("cxe-exports", "cxe-2", None)
    assert tf.Workflow(tf.builtin("devrev")).open(CUSTOMER, title="x", fields={"part": "exports"}).assignee is None


def test_the_creator_may_cancel_and_nobody_else_outside_the_team():
    wf = tf.Workflow(tf.builtin("devrev"))
    t = wf.open(CUSTOMER, title="Oops", at=at(6, 9))
    with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound):
        wf.fire(t.id, "cancel", STRANGER, fields={"reason": "spam"}, at=at(6, 10))
    assert wf.fire(t.id, "cancel", CUSTOMER, fields={"reason": "created_by_mistake"}, at=at(6, 10)).state == "canceled"


def test_devrev_seed_story_end_to_end():
    """Queued, work, ask the customer, product assist, two issues through development, validate, resolve."""
    registry = tf.Registry()
    registry.add_policy("part_owner", tf.PointOfContact({"exports": "cxe-1"}.get, field="part"))
    wf = tf.Workflow(tf.builtin("devrev"), registry=registry)
    t = wf.open(CUSTOMER, title="Export to CSV drops rows", fields={"part": "exports"}, at=at(2, 15))  # Thursday
    assert (t.state, t.assignee) == ("queued", "cxe-1")
    wf.fire(t.id, "start", ENGINEER, at=at(2, 16))
    wf.fire(t.id, "ask_customer", ENGINEER, comment="Can you send the file?", at=at(3, 9))  # the holiday
    assert wf.comment(t.id, CUSTOMER, "Attached", at=at(4, 11)).state == "work_in_progress"  # Saturday
    wf.fire(t.id, "request_product_assist", ENGINEER, at=at(6, 9))
    t = wf.fire(t.id, "escalate", ENGINEER, at=at(6, 10))
    assert (t.state, "escalated" in t.tags) == ("awaiting_product_assist", True)
    for key in ("ENG-7", "ENG-8"):
        wf.link(t.id, ENGINEER, "caused_by", record=tf.ExternalRecord("issue", key), at=at(6, 11))
    wf.linked_record_changed("issue", "ENG-7", status="planned", at=at(6, 12))
    assert wf.get(t.id).state == "awaiting_development"
    wf.linked_record_changed("issue", "ENG-7", status="in_progress", at=at(7, 9))
    wf.linked_record_changed("issue", "ENG-8", status="in_progress", at=at(7, 9))
    assert wf.get(t.id).state == "in_development"
    wf.linked_record_changed("issue", "ENG-7", status="done", at=at(8, 9))
    assert wf.get(t.id).state == "in_development"  # ENG-8 still open
    wf.linked_record_changed("issue", "ENG-8", status="done", at=at(9, 9))
    assert wf.get(t.id).state == "awaiting_customer_response"
    with unchanged(wf, t.id), pytest.raises(tf.FieldError):
        wf.fire(t.id, "resolve", CUSTOMER, at=at(9, 10))  # a resolution is required
    t = wf.fire(t.id, "resolve", CUSTOMER, fields={"resolution": "fixed"}, at=at(9, 10))
    assert t.state == "resolved"
