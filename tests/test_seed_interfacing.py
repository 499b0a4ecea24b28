"""Interfacing's SOP-7 (shared/seeds/003), sentence by sentence, with explicit times (a weekend and a holiday)."""

from datetime import UTC, datetime

import pytest

import ticketflow as tf

from .conftest import unchanged

USER = tf.Actor("ops@client.example", roles={"requester"}, accounts={"client"})
COLLEAGUE = tf.Actor("qa@client.example", roles={"requester"}, accounts={"client"})
OUTSIDER = tf.Actor("eve@other.example", roles={"requester"}, accounts={"other"})
ASSIGNEE = tf.Actor("int-ana", roles={"agent"})
DISPATCH = tf.Actor("int-dispatch", roles={"agent"})
FORM = {"type": "bug_report", "severity": "high", "product_component": "EPC", "description": "Export fails"}


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 7, day, hour, tzinfo=UTC)


def test_on_the_details_page_you_can_link_documents_to_your_ticket():
    wf = tf.Workflow(tf.builtin("interfacing"))
    t = wf.open(USER, title="Export fails", fields=FORM, channel="portal", at=at(6, 9))
    spec = tf.ExternalRecord("document", "spec-v2.pdf", url="https://files.client.example/spec-v2.pdf")
    wf.link(t.id, USER, "relates_to", record=spec, at=at(6, 10))
    assert wf.links(t.id) == [tf.Link(t.id, "relates_to", spec.target)]
    wf.link(t.id, COLLEAGUE, "relates_to", record=tf.ExternalRecord("document", "log.txt"), at=at(6, 11))
    with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound):  # not their organization's ticket
        wf.link(t.id, OUTSIDER, "relates_to", record=tf.ExternalRecord("document", "x.pdf"), at=at(6, 12))


def test_requesters_fill_in_the_form_but_not_the_internal_tasks():
    wf = tf.Workflow(tf.builtin("interfacing"))
    t = wf.open(USER, title="Export fails", fields=FORM, channel="portal", at=at(6, 9))
    assert wf.update(t.id, USER, fields={"severity": "critical"}, at=at(6, 10)).fields["severity"] == "critical"
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.update(t.id, USER, assignee=USER.id, at=at(6, 11))
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.fire(t.id, "assign", USER, assignee=USER.id, at=at(6, 11))


def test_reopen_more_work_before_closing_goes_back_to_in_progress_by_the_assignee_only():
    wf = tf.Workflow(tf.builtin("interfacing"))
    t = wf.open(USER, title="Export fails", fields=FORM, channel="portal", at=at(6, 9))
    wf.fire(t.id, "assign", DISPATCH, assignee=ASSIGNEE.id, at=at(6, 10))
    wf.fire(t.id, "start", ASSIGNEE, at=at(6, 11))
    wf.fire(t.id, "resolve", ASSIGNEE, comment="Fixed the export", at=at(6, 12))
    for someone in (DISPATCH, USER):
        with unchanged(wf, t.id), pytest.raises((tf.PermissionDenied, tf.TransitionNotAllowed)):
            wf.fire(t.id, "reopen", someone, at=at(6, 13))
    assert wf.fire(t.id, "reopen", ASSIGNEE, at=at(6, 13)).state == "in_progress"


def test_interfacing_seed_story_end_to_end():
    """Portal ticket over the holiday weekend: assigned, worked, resolved and closed by the assignee only."""
    wf = tf.Workflow(tf.builtin("interfacing"))
    with pytest.raises(tf.IntakeRefused, match="portal"):
        wf.open(USER, title="Export fails", fields=FORM, channel="chat", authenticated=False, at=at(2, 15))
    t = wf.open(USER, title="Export fails", fields=FORM, channel="portal", at=at(2, 15))  # Thursday
    assert (t.id, t.state, t.fields["organization"]) == ("INT-1", "opened", "client")
    assert [m.kind for m in wf.repository.pending_messages(10)] == ["ticket.opened"]  # the confirmation e-mail
    wf.fire(t.id, "assign", DISPATCH, assignee=ASSIGNEE.id, at=at(3, 9))  # the observed holiday
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.fire(t.id, "start", DISPATCH, at=at(3, 10))  # only the assignee
    wf.fire(t.id, "start", ASSIGNEE, at=at(3, 10))
    wf.comment(t.id, ASSIGNEE, "Can you share the export settings?", at=at(4, 10))  # Saturday
    wf.link(t.id, USER, "relates_to", record=tf.ExternalRecord("document", "settings.json"), at=at(5, 9))
    wf.comment(t.id, USER, "Linked the settings", at=at(5, 9))
    with unchanged(wf, t.id), pytest.raises(tf.FieldError):
        wf.fire(t.id, "resolve", ASSIGNEE, at=at(6, 9))  # a comment is required
    wf.fire(t.id, "resolve", ASSIGNEE, comment="Fixed in 7.2.1", at=at(6, 9))
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.fire(t.id, "close", tf.Actor("int-admin", roles={"admin"}), at=at(6, 10))
    t = wf.fire(t.id, "close", ASSIGNEE, at=at(6, 10))
    assert t.state == "closed"
    assert [x.id for x in wf.find(actor=COLLEAGUE).tickets] == [t.id]
    assert wf.find(actor=OUTSIDER).tickets == ()
