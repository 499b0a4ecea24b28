"""The five built-in lifecycles: load, property suite, the seeds' scenarios, docs in step."""

import re
from datetime import UTC, datetime, timedelta

import pytest

import ticketflow as tf
from ticketflow.testing import LifecycleContract, SteppableClock

from .conftest import ROOT, unchanged

SEEDS = ["clickup", "sighten", "zendesk", "interfacing", "devrev"]
CUSTOMER = tf.Actor("customer@client.example", roles={"requester"})
AGENT = tf.Actor("agent-7", roles={"agent"})
OTHER_AGENT = tf.Actor("agent-9", roles={"agent"})
SYSTEM = tf.Actor("system", roles={"system"})


def workflow(lifecycle_id: str) -> tuple[tf.Workflow, SteppableClock]:
    clock = SteppableClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    return tf.Workflow(tf.builtin(lifecycle_id), clock=clock), clock


def test_the_five_builtins_are_listed_and_load():
    assert tf.builtins() == sorted(SEEDS)
    for lifecycle_id in SEEDS:
        lc = tf.builtin(lifecycle_id)
        assert lc.id == lifecycle_id
        assert lc.source == f"builtin:{lifecycle_id}"
        assert tf.builtin(lifecycle_id) is lc  # compiled once


def test_unknown_builtin_is_an_invalid_lifecycle():
    with pytest.raises(tf.InvalidLifecycle, match=r"available: clickup, devrev"):
        tf.builtin("nope")


class TestClickUp(LifecycleContract):
    lifecycle = tf.builtin("clickup")


class TestSighten(LifecycleContract):
    lifecycle = tf.builtin("sighten")


class TestZendesk(LifecycleContract):
    lifecycle = tf.builtin("zendesk")


class TestInterfacing(LifecycleContract):
    lifecycle = tf.builtin("interfacing")


class TestDevRev(LifecycleContract):
    lifecycle = tf.builtin("devrev")


# -- ClickUp -----------------------------------------------------------------------


def test_clickup_statuses_move_on_events():
    wf, _ = workflow("clickup")
    poc = tf.Actor(CUSTOMER.id, roles={"requester"}, accounts={"acme"})  # the account's point of contact
    t = wf.open(poc, title="Deploy fails on staging", fields={"account": "acme"})
    assert t.state == "open"
    assert wf.fire(t.id, "acknowledge", AGENT).state == "pending"
    assert wf.comment(t.id, AGENT, "On it").state == "pending"  # the detour is optional: a comment moves nothing
    assert wf.fire(t.id, "request_clarification", AGENT, comment="Which environment?").state == "needs_clarification"
    assert wf.comment(t.id, CUSTOMER, "staging-eu").state == "pending"
    assert wf.comment(t.id, AGENT, "noted", visibility="internal").state == "pending"  # internal: no move
    t = wf.update(t.id, AGENT, fields={"due_date": "2026-03-06", "priority": "high"})
    assert t.state == "planned"
    assert wf.history(t.id)[-1].trigger == "due_date_added"
    assert wf.fire(t.id, "start", AGENT).state == "in_progress"
    assert wf.fire(t.id, "resolve", AGENT).state == "resolved"


def test_clickup_customer_cannot_acknowledge_their_own_ticket():
    wf, _ = workflow("clickup")
    t = wf.open(CUSTOMER, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.fire(t.id, "acknowledge", CUSTOMER)


# -- Zendesk -----------------------------------------------------------------------


def test_zendesk_agent_reply_sets_pending_on_hold_or_solved_and_requester_reply_reopens():
    wf, _ = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Need a new logo")
    assert t.state == "new"
    assert wf.fire(t.id, "ask", AGENT, comment="Which format?").state == "pending"
    assert wf.comment(t.id, CUSTOMER, "SVG please").state == "open"
    assert wf.fire(t.id, "hold", AGENT, comment="Take your time to gather the photos").state == "on_hold"
    assert wf.comment(t.id, CUSTOMER, "Here they are").state == "open"
    assert wf.fire(t.id, "solve", AGENT, comment="Done").state == "solved"
    assert wf.comment(t.id, CUSTOMER, "One more thing").state == "open"


def test_zendesk_an_agents_public_reply_opens_a_new_ticket():
    wf, _ = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Question")
    assert wf.comment(t.id, AGENT, "Looking into it").state == "open"


def test_zendesk_only_the_system_closes_and_closed_is_immutable():
    wf, clock = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Question")
    wf.fire(t.id, "solve", AGENT, comment="Answer", fields={"category": "question"})
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied) as caught:
        wf.fire(t.id, "close", AGENT)
    assert caught.value.allowed == ("system",)
    clock.advance(hours=24)
    assert wf.fire(t.id, "close", SYSTEM).state == "closed"
    for step in (
        lambda: wf.comment(t.id, CUSTOMER, "Another question"),
        lambda: wf.update(t.id, AGENT, fields={"category": "work_request"}),
        lambda: wf.fire(t.id, "ask", AGENT, comment="?"),
    ):
        with unchanged(wf, t.id), pytest.raises(tf.TicketClosed):
            step()


def test_zendesk_timed_rules_are_data():
    rules = {r.id: r for r in tf.builtin("zendesk").timers}
    assert rules["pending_reminder_24h"].after == timedelta(hours=24)
    assert rules["pending_reminder_5d"].after == timedelta(days=5)
    assert rules["pending_auto_close_7d"].after == timedelta(days=7)
    assert rules["pending_auto_close_7d"].add_tags == {"no_response"}
    assert rules["pending_auto_close_7d"].fire == "close"
    assert rules["solved_auto_close_24h"].fire == "close"


def test_zendesk_pending_path_closes_tagged_no_response_when_the_rule_fires():
    wf, clock = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Question")
    wf.fire(t.id, "ask", AGENT, comment="Which browser?")
    clock.advance(days=7)
    rule = {r.id: r for r in wf.lifecycle.timers}["pending_auto_close_7d"]
    t = wf.fire(t.id, rule.fire or "", SYSTEM, add_tags=rule.add_tags, meta={"rule": rule.id})
    assert (t.state, t.tags) == ("closed", {"no_response"})


def outbox(wf: tf.Workflow, ticket_id: str) -> list[tuple[str, dict]]:
    return [(m.kind, dict(m.payload)) for m in wf.repository.pending_messages(1000) if m.ticket_id == ticket_id]


def test_zendesk_you_will_get_an_email_notification_stating_that_we_have_received_the_request():
    wf, _ = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Need a new logo")
    [(kind, payload)] = outbox(wf, t.id)
    assert kind == "request_received"
    assert (payload["to"], payload["title"], payload["state"]) == (CUSTOMER.id, "Need a new logo", "new")


def test_zendesk_you_will_immediately_get_an_email_with_the_agent_questions():
    wf, _ = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Need a new logo")
    wf.comment(t.id, AGENT, "Looking at it", visibility="internal")
    wf.fire(t.id, "ask", AGENT, comment="Which format: SVG or PNG?")
    kinds = [kind for kind, _ in outbox(wf, t.id)]
    assert kinds == ["request_received", "agent_question"]
    question = outbox(wf, t.id)[-1][1]
    assert (question["to"], question["comment"], question["by"]) == (CUSTOMER.id, "Which format: SVG or PNG?", AGENT.id)
    wf.comment(t.id, CUSTOMER, "SVG")  # back to open: no message
    assert len(outbox(wf, t.id)) == 2


def test_zendesk_you_will_get_a_notification_stating_that_your_ticket_has_been_resolved():
    wf, _ = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Need a new logo")
    wf.fire(t.id, "solve", AGENT, comment="Attached: logo.svg")
    kind, payload = outbox(wf, t.id)[-1]
    assert (kind, payload["state"], payload["comment"], payload["to"]) == (
        "ticket_resolved",
        "solved",
        "Attached: logo.svg",
        CUSTOMER.id,
    )


def test_zendesk_a_refused_step_writes_no_notification():
    wf, _ = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Need a new logo")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError):
        wf.fire(t.id, "ask", AGENT)  # the question is missing
    assert [kind for kind, _ in outbox(wf, t.id)] == ["request_received"]


def test_zendesk_once_a_ticket_is_set_to_the_close_it_can_no_longer_be_updated_move_to():
    wf, clock = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Question")
    wf.fire(t.id, "solve", AGENT, comment="Answer")
    clock.advance(hours=24)
    wf.run_due()
    assert wf.get(t.id).state == "closed"
    for state in ("open", "closed", "pending"):
        with unchanged(wf, t.id), pytest.raises(tf.TicketClosed):
            wf.move_to(t.id, state, AGENT, comment="?")


def test_zendesk_if_you_try_to_update_it_the_system_will_automatically_create_a_new_ticket_linked():
    wf, clock = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Question")
    wf.fire(t.id, "solve", AGENT, comment="Answer")
    clock.advance(hours=24)
    wf.run_due()
    follow_up = wf.reply(t.id, CUSTOMER, "Another question")
    assert follow_up.id != t.id
    assert wf.links(follow_up.id) == [tf.Link(follow_up.id, "follow_up_of", t.id)]
    assert wf.linked_to(t.id) == [tf.Link(follow_up.id, "follow_up_of", t.id)]


def test_zendesk_existing_tickets_will_be_addressed_by_the_original_responding_agent():
    wf, _ = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Question")
    assert wf.comment(t.id, AGENT, "Looking into it").assignee == AGENT.id  # the responding agent, recorded
    wf.fire(t.id, "ask", OTHER_AGENT, comment="Which browser?")
    assert wf.get(t.id).assignee == AGENT.id  # a later reply by another agent keeps the original one
    other = wf.open(CUSTOMER, title="Another")
    assert wf.fire(other.id, "solve", OTHER_AGENT, comment="Done").assignee == OTHER_AGENT.id


def test_zendesk_assign_new_project_requests_to_the_agent_you_have_mostly_worked_with():
    wf, clock = workflow("zendesk")
    dora, eli = tf.Actor("dora", roles={"agent"}), tf.Actor("eli", roles={"agent"})
    for agent in (dora, dora, dora, eli):  # three earlier tickets with dora, the latest with eli
        t = wf.open(CUSTOMER, title="Earlier work", fields={"category": "question"})
        wf.fire(t.id, "take", agent)
        clock.advance(hours=1)
    new = wf.open(CUSTOMER, title="New project", fields={"category": "work_request"})
    assert new.assignee == "dora"


def test_zendesk_continuity_ties_go_to_the_agent_worked_with_most_recently():
    wf, clock = workflow("zendesk")
    for agent_id in ("dora", "eli", "eli", "dora"):
        t = wf.open(CUSTOMER, title="Earlier work", fields={"category": "question"})
        wf.fire(t.id, "take", tf.Actor(agent_id, roles={"agent"}))
        clock.advance(hours=1)
    assert wf.open(CUSTOMER, title="New", fields={"category": "project_communication"}).assignee == "dora"


# -- Sighten -----------------------------------------------------------------------


def sighten_in_progress(wf: tf.Workflow) -> tf.Ticket:
    t = wf.open(CUSTOMER, title="Cannot de-archive project 42")
    return wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": "general_inquiry"})


def test_sighten_taking_a_ticket_needs_an_assignee_and_a_request_type():
    wf, _ = workflow("sighten")
    t = wf.open(CUSTOMER, title="x")
    assert t.state == "awaiting_support"
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as caught:
        wf.fire(t.id, "take", AGENT)
    assert set(caught.value.fields) == {"request_type", "assignee"}


def test_sighten_resolution_method_and_comment_are_required_to_resolve():
    wf, _ = workflow("sighten")
    t = sighten_in_progress(wf)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as no_comment:
        wf.fire(t.id, "resolve", AGENT, fields={"resolution_method": "customer_confirmed"})
    assert no_comment.value.fields == ("comment",)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as no_method:
        wf.fire(t.id, "resolve", AGENT, comment="Done")
    assert no_method.value.fields == ("resolution_method",)
    t = wf.fire(t.id, "resolve", AGENT, comment="Done", fields={"resolution_method": "customer_confirmed"})
    assert t.state == "resolved"


def test_sighten_closing_rule_1_customer_confirmed():
    wf, _ = workflow("sighten")
    t = sighten_in_progress(wf)
    wf.fire(t.id, "request_confirmation", AGENT, comment="Is it fixed for you?")
    t = wf.fire(t.id, "customer_confirmed", CUSTOMER, comment="Yes, thanks!")
    assert (t.state, t.fields["resolution_method"]) == ("resolved", "customer_confirmed")


def test_sighten_closing_rule_2_silent_a_business_day_after_an_attempt_to_confirm():
    wf, clock = workflow("sighten")
    t = sighten_in_progress(wf)
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed):
        wf.fire(t.id, "close_unconfirmed", SYSTEM, comment="No reply")
    t = wf.fire(t.id, "request_confirmation", AGENT, comment="Can you confirm it works now?")
    assert t.fields["confirmation_attempts"] == 1
    rule = {r.id: r for r in wf.lifecycle.timers}["confirmation_silence_1bd"]
    assert (rule.business_days, rule.clock, rule.fire) == (1, "business", "close_unconfirmed")
    clock.advance(days=1, hours=5)  # Tue 14:00 UTC: 09:00 in New York, one business day after Mon's first hour
    t = wf.fire(t.id, "close_unconfirmed", SYSTEM, comment="Closing: no reply after one business day")
    assert (t.state, t.fields["resolution_method"]) == ("resolved", "no_reply_after_confirmation")


def test_sighten_closing_rule_3_two_unanswered_attempts():
    wf, _ = workflow("sighten")
    t = sighten_in_progress(wf)
    wf.fire(t.id, "ask_customer", AGENT, comment="We need the project id")
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed, match="needs gte 2"):
        wf.fire(t.id, "close_unresponsive", AGENT, comment="Closing")
    t = wf.fire(t.id, "chase", AGENT, comment="Reminder: we need the project id")
    assert t.fields["reach_attempts"] == 2
    t = wf.fire(t.id, "close_unresponsive", AGENT, comment="Closing after two attempts")
    assert t.fields["resolution_method"] == "customer_unresponsive"


def test_sighten_a_customer_answer_resets_the_attempts():
    wf, _ = workflow("sighten")
    t = sighten_in_progress(wf)
    wf.fire(t.id, "ask_customer", AGENT, comment="Project id?")
    wf.fire(t.id, "chase", AGENT, comment="Project id, please?")
    t = wf.comment(t.id, CUSTOMER, "It is 42")
    assert (t.state, t.fields["reach_attempts"]) == ("in_progress", 0)


def test_sighten_closing_rule_4_active_low_priority_dev_ticket():
    wf, _ = workflow("sighten")
    t = sighten_in_progress(wf)
    wf.update(t.id, AGENT, fields={"request_type": "technical_support"})
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as caught:
        wf.fire(t.id, "escalate", AGENT, comment="Bug")
    assert set(caught.value.fields) == {"bug_ticket", "reproduction_steps", "product_manager"}
    wf.fire(
        t.id,
        "escalate",
        AGENT,
        comment="Linked DEV-881; @pm please have a look",
        fields={
            "bug_ticket": "DEV-881",
            "reproduction_steps": "1. open project 2. click archive",
            "product_manager": "pm-1",
        },
    )
    wf.update(t.id, AGENT, fields={"dev_ticket_status": "active", "dev_ticket_priority": "high"})
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed, match="dev_ticket_priority"):
        wf.fire(t.id, "close_low_priority_dev", AGENT, comment="Closing")
    wf.update(t.id, AGENT, fields={"dev_ticket_priority": "low"})
    t = wf.fire(t.id, "close_low_priority_dev", AGENT, comment="Tracked in DEV-881")
    assert t.fields["resolution_method"] == "low_priority_dev_ticket"


def test_sighten_internal_and_shared_comments_are_kept_apart():
    wf, _ = workflow("sighten")
    t = sighten_in_progress(wf)
    wf.comment(t.id, AGENT, "Aha! link: https://aha.example/FEAT-1", visibility="internal")
    wf.fire(t.id, "back_to_support", AGENT, comment="We are looking into it")
    comments = [e.comment for e in wf.history(t.id) if e.comment]
    assert [(c.visibility, c.author) for c in comments] == [("internal", AGENT.id), ("public", AGENT.id)]


# -- Interfacing -------------------------------------------------------------------

PORTAL_FORM = {"type": "bug_report", "severity": "high", "product_component": "Process Modeler", "description": "Crash"}


def test_interfacing_portal_tickets_need_the_whole_form():
    wf, _ = workflow("interfacing")
    with pytest.raises(tf.FieldError) as caught:
        wf.open(CUSTOMER, title="Modeler crashes", fields={"type": "bug_report"})
    assert set(caught.value.fields) == {"severity", "product_component", "description"}
    with pytest.raises(tf.FieldError):
        wf.open(CUSTOMER, title="", fields=PORTAL_FORM)
    assert wf.open(CUSTOMER, title="Modeler crashes", fields=PORTAL_FORM).state == "opened"


def test_interfacing_only_the_assignee_closes():
    wf, _ = workflow("interfacing")
    t = wf.open(CUSTOMER, title="Modeler crashes", fields=PORTAL_FORM)
    wf.fire(t.id, "assign", AGENT, assignee=AGENT.id)
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.fire(t.id, "start", OTHER_AGENT)
    wf.fire(t.id, "start", AGENT)
    wf.fire(t.id, "resolve", AGENT, comment="Fixed in 7.2")
    for someone in (OTHER_AGENT, CUSTOMER, tf.Actor("boss", roles={"admin"})):
        with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied) as caught:
            wf.fire(t.id, "close", someone)
        assert caught.value.allowed == ("assignee",)
    assert wf.fire(t.id, "close", AGENT).state == "closed"


# -- DevRev ------------------------------------------------------------------------


def test_devrev_stages_follow_the_state_machine_of_the_seed():
    wf, _ = workflow("devrev")
    t = wf.open(CUSTOMER, title="Export to CSV times out", fields={"part": "exports"})
    assert t.state == "queued"
    wf.fire(t.id, "start", AGENT, fields={"severity": "high"})
    wf.fire(t.id, "ask_customer", AGENT, comment="Logs please")
    assert wf.comment(t.id, CUSTOMER, "attached").state == "work_in_progress"
    wf.fire(t.id, "escalate", AGENT)
    assert wf.get(t.id).tags == {"escalated"}
    wf.fire(t.id, "issue_created", AGENT)
    assert wf.fire(t.id, "development_started", SYSTEM).state == "in_development"
    assert wf.fire(t.id, "fix_shipped", SYSTEM).state == "awaiting_customer_response"
    t = wf.fire(t.id, "resolve", CUSTOMER, fields={"resolution": "fixed"})
    assert (t.state, lc_group(wf, t.state)) == ("resolved", "closed")


def lc_group(wf: tf.Workflow, state: str) -> str | None:
    return wf.lifecycle.states[state].group


def test_devrev_groups_and_tags():
    lc = tf.builtin("devrev")
    assert lc.groups == {
        "open": ("queued",),
        "in_progress": (
            "work_in_progress",
            "awaiting_product_assist",
            "awaiting_customer_response",
            "awaiting_development",
            "in_development",
        ),
        "closed": ("canceled", "accepted", "resolved"),
    }
    assert lc.tag_allowed("resolution:fixed")
    assert not lc.tag_allowed("urgent")


def test_devrev_the_creator_may_cancel_with_a_reason_and_others_may_not():
    wf, _ = workflow("devrev")
    t = wf.open(CUSTOMER, title="Oops, created by accident")
    with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound):  # a stranger: as if it did not exist
        wf.fire(t.id, "cancel", tf.Actor("stranger", roles={"requester"}), fields={"reason": "spam"})
    wf.update(t.id, AGENT, participants={"colleague"})
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):  # related, but not the creator
        wf.fire(t.id, "cancel", tf.Actor("colleague", roles={"requester"}), fields={"reason": "spam"})
    with unchanged(wf, t.id), pytest.raises(tf.FieldError):
        wf.fire(t.id, "cancel", CUSTOMER)
    assert wf.fire(t.id, "cancel", CUSTOMER, fields={"reason": "created_by_mistake"}).state == "canceled"


# -- docs stay in step -------------------------------------------------------------


@pytest.mark.parametrize("lifecycle_id", SEEDS)
def test_each_builtin_has_a_doc_whose_diagram_matches_its_definition(lifecycle_id: str):
    text = (ROOT / "docs" / "lifecycles" / f"{lifecycle_id}.md").read_text()
    match = re.search(r"```mermaid\n(.*?)```", text, re.DOTALL)
    assert match, "the page needs a mermaid block"
    assert match.group(1) == tf.builtin(lifecycle_id).to_mermaid()


@pytest.mark.parametrize("lifecycle_id", SEEDS)
def test_each_doc_maps_every_state_and_trigger(lifecycle_id: str):
    text = (ROOT / "docs" / "lifecycles" / f"{lifecycle_id}.md").read_text()
    table = text.split("```mermaid")[0]
    lc = tf.builtin(lifecycle_id)
    missing = [name for name in [*lc.states, *lc.triggers[:-2]] if f"`{name}`" not in table]
    assert missing == []


@pytest.mark.parametrize("lifecycle_id", SEEDS)
def test_each_doc_says_who_may_see_and_change_what(lifecycle_id: str):
    text = (ROOT / "docs" / "lifecycles" / f"{lifecycle_id}.md").read_text()
    section = text.split("## Who may see and change what")[1]
    access = tf.builtin(lifecycle_id).access
    customer_set = [name for name, roles in access.field_setters.items() if roles & access.customers]
    assert all(f"`{name}`" in section for name in customer_set), customer_set
    if access.shared_field is not None:
        assert f'shared_field = "{access.shared_field}"' in section.replace("\n  ", " ")
    assert "TicketNotFound" in section
