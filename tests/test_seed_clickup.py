"""Facets' customer support on ClickUp (shared/seeds/000), sentence by sentence, with explicit times.

The story runs over a weekend and a public holiday (Friday 2026-07-03, the
observed Independence Day): ClickUp names no business hours, so nothing in
it counts business time, and the steps hold on any day.
"""

from datetime import UTC, datetime

import pytest

import ticketflow as tf

from .conftest import unchanged

POC = tf.Actor("pat@acme.example", roles={"requester"}, accounts={"acme"})  # the customer account's PoC
OTHER_POC = tf.Actor("gil@globex.example", roles={"requester"}, accounts={"globex"})
FACETS = tf.Actor("facets-poc-1", roles={"agent"})


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 7, day, hour, tzinfo=UTC)


def acknowledged(wf: tf.Workflow) -> tf.Ticket:
    t = wf.open(POC, title="Deploy fails on staging", at=at(1, 9))
    return wf.fire(t.id, "acknowledge", FACETS, at=at(1, 10))


def test_open_ticket_creation_by_customer_account_poc():
    wf = tf.Workflow(tf.builtin("clickup"))
    t = wf.open(POC, title="Deploy fails on staging", at=at(1, 9))
    assert (t.state, t.requester, t.fields["account"]) == ("open", POC.id, "acme")


def test_pending_ticket_acknowledgement_facets_poc_has_received_initial_details():
    wf = tf.Workflow(tf.builtin("clickup"))
    t = wf.open(POC, title="Deploy fails on staging", at=at(1, 9))
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.fire(t.id, "acknowledge", POC, at=at(1, 10))
    assert wf.fire(t.id, "acknowledge", FACETS, at=at(1, 10)).state == "pending"


def test_needs_clarification_is_optional_a_public_comment_moves_nothing():
    wf = tf.Workflow(tf.builtin("clickup"))
    t = acknowledged(wf)
    assert wf.comment(t.id, FACETS, "Looking at the logs", at=at(1, 11)).state == "pending"
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="public comment"):
        wf.fire(t.id, "request_clarification", FACETS, comment="ask?", visibility="internal", at=at(1, 12))
    t = wf.fire(t.id, "request_clarification", FACETS, comment="Which environment exactly?", at=at(1, 12))
    assert t.state == "needs_clarification"


@pytest.mark.parametrize("came_from", ["pending", "planned", "in_progress"])
def test_needs_clarification_the_customers_answer_returns_it_to_the_status_it_had(came_from: str):
    wf = tf.Workflow(tf.builtin("clickup"))
    t = acknowledged(wf)
    if came_from in ("planned", "in_progress"):
        t = wf.update(t.id, FACETS, fields={"due_date": "2026-07-10"}, at=at(1, 11))
    if came_from == "in_progress":
        t = wf.fire(t.id, "start", FACETS, at=at(1, 12))
    assert t.state == came_from
    wf.fire(t.id, "request_clarification", FACETS, comment="Which environment?", at=at(2, 9))
    t = wf.comment(t.id, POC, "staging-eu", at=at(2, 10))
    assert (t.state, wf.history(t.id)[-1].trigger) == (came_from, "clarified")


def test_planned_due_date_added_for_the_ticket():
    wf = tf.Workflow(tf.builtin("clickup"))
    t = acknowledged(wf)
    t = wf.update(t.id, FACETS, fields={"due_date": "2026-07-10"}, at=at(1, 11))
    assert (t.state, wf.history(t.id)[-1].trigger) == ("planned", "due_date_added")


def test_in_progress_being_worked_on_by_facets_then_resolved():
    wf = tf.Workflow(tf.builtin("clickup"))
    t = acknowledged(wf)
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.fire(t.id, "start", POC, at=at(1, 11))
    assert wf.fire(t.id, "start", FACETS, at=at(1, 11)).state == "in_progress"
    assert wf.fire(t.id, "resolve", FACETS, at=at(1, 12)).state == "resolved"


def test_you_can_also_add_edit_a_description_after_creating_the_ticket_with_just_a_title():
    wf = tf.Workflow(tf.builtin("clickup"))
    t = wf.open(POC, title="Deploy fails", at=at(1, 9))
    t = wf.update(t.id, POC, fields={"description": "Since 9:00, on staging only"}, at=at(1, 9))
    t = wf.update(t.id, POC, fields={"description": "Since 9:00, staging and prod"}, at=at(1, 10))
    assert t.fields["description"] == "Since 9:00, staging and prod"
    with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound):  # someone else's PoC
        wf.update(t.id, OTHER_POC, fields={"description": "mine now"}, at=at(1, 11))


def test_facets_poc_will_get_in_touch_with_you_to_assign_priority():
    wf = tf.Workflow(tf.builtin("clickup"))
    t = wf.open(POC, title="Deploy fails", at=at(1, 9))
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.update(t.id, POC, fields={"priority": "urgent"}, at=at(1, 9))
    assert wf.update(t.id, FACETS, fields={"priority": "high"}, at=at(1, 10)).fields["priority"] == "high"


def test_the_ticket_will_now_be_auto_assigned_to_the_facets_poc_for_your_account():
    registry = tf.Registry()
    registry.add_policy("point_of_contact", tf.PointOfContact({"acme": "facets-poc-1"}.get))
    wf = tf.Workflow(tf.builtin("clickup"), registry=registry)
    assert wf.open(POC, title="Deploy fails", at=at(1, 9)).assignee == "facets-poc-1"
    assert wf.open(OTHER_POC, title="Other account", at=at(1, 9)).assignee is None  # no PoC known for it
    unwired = tf.Workflow(tf.builtin("clickup"))  # the lookup is the application's: without it, unassigned
    assert unwired.open(POC, title="Deploy fails", at=at(1, 9)).assignee is None


def test_point_of_contacts_see_a_list_of_tickets_raised_by_their_account_only():
    wf = tf.Workflow(tf.builtin("clickup"))
    t = wf.open(POC, title="Deploy fails", at=at(1, 9))
    colleague = tf.Actor("kim@acme.example", roles={"requester"}, accounts={"acme"})
    assert wf.view(t.id, colleague).ticket.id == t.id
    assert [x.id for x in wf.find(actor=colleague).tickets] == [t.id]
    with pytest.raises(tf.TicketNotFound):
        wf.view(t.id, OTHER_POC)
    with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound):
        wf.comment(t.id, OTHER_POC, "hello?", at=at(1, 10))
    assert wf.find(actor=OTHER_POC).tickets == ()


def test_any_communication_regarding_tickets_every_new_ticket_writes_a_notification():
    wf = tf.Workflow(tf.builtin("clickup"))
    t = wf.open(POC, title="Deploy fails", at=at(1, 9))
    [message] = [m for m in wf.repository.pending_messages(10) if m.ticket_id == t.id]
    assert (message.kind, message.payload["key"]) == ("ticket.opened", t.id)


def test_clickup_seed_story_end_to_end():
    """Open, acknowledge, clarify from planned over the holiday weekend, work, resolve."""
    registry = tf.Registry()
    registry.add_policy("point_of_contact", tf.PointOfContact({"acme": "facets-poc-1"}.get))
    wf = tf.Workflow(tf.builtin("clickup"), registry=registry)
    t = wf.open(POC, title="Deploy fails on staging", at=at(2, 16))  # Thursday
    assert (t.state, t.assignee, t.id) == ("open", "facets-poc-1", "CU-1")
    t = wf.update(t.id, POC, fields={"description": "Error 502 since the last release"}, at=at(2, 17))
    with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound):
        wf.view(t.id, OTHER_POC)
    t = wf.fire(t.id, "acknowledge", FACETS, at=at(3, 9))  # Friday, the observed holiday
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.update(t.id, POC, fields={"priority": "urgent", "due_date": "2026-07-06"}, at=at(3, 10))
    t = wf.update(t.id, FACETS, fields={"priority": "high", "due_date": "2026-07-08"}, at=at(3, 10))
    assert t.state == "planned"
    assert wf.comment(t.id, FACETS, "We are on it", at=at(3, 11)).state == "planned"
    t = wf.fire(t.id, "request_clarification", FACETS, comment="Which region?", at=at(4, 12))  # Saturday
    assert t.state == "needs_clarification"
    t = wf.comment(t.id, POC, "eu-west", at=at(5, 18))  # Sunday
    assert t.state == "planned"
    t = wf.fire(t.id, "start", FACETS, at=at(6, 9))
    assert wf.fire(t.id, "resolve", FACETS, at=at(6, 15)).state == "resolved"
    assert [e.trigger for e in wf.history(t.id)] == [
        "open", "update", "acknowledge", "due_date_added", "comment", "request_clarification", "clarified",
        "start", "resolve",
    ]  # fmt: skip
