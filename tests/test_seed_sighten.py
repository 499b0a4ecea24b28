"""Sighten's runbook (shared/seeds/001), sentence by sentence, through the public API with explicit times.

Times are in New York (Sighten's support calendar: Mon-Fri 09:00-17:00, US
holidays). Friday 2026-07-03 is the observed Independence Day holiday.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import ticketflow as tf

from .conftest import unchanged

NY = ZoneInfo("America/New_York")
CUSTOMER = tf.Actor("installer@solar.example", roles={"requester"})
AGENT = tf.Actor("sam", roles={"agent"})
SYSTEM = tf.Actor("system", roles={"system"})


def ny(day: int, hour: int, minute: int = 0, month: int = 7) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


def in_progress(wf: tf.Workflow, at: datetime, request_type: str = "technical_support") -> tf.Ticket:
    t = wf.open(CUSTOMER, title="Cannot de-archive project 42", at=at)
    return wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": request_type}, at=at)


def test_closing_when_customer_has_been_unresponsive_to_at_least_2_attempts():
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(6, 10))
    wf.fire(t.id, "ask_customer", AGENT, comment="Which project id?", at=ny(6, 11))
    for trigger in ("resolve", "close_unresponsive"):  # one attempt is not enough, with any method
        fields = {"resolution_method": "customer_unresponsive"} if trigger == "resolve" else None
        with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed, match="reach_attempts"):
            wf.fire(t.id, trigger, AGENT, comment="Closing", fields=fields, at=ny(6, 12))
    wf.fire(t.id, "chase", AGENT, comment="Reminder: which project id?", at=ny(7, 11))
    t = wf.fire(t.id, "resolve", AGENT, comment="Closing", fields={"resolution_method": "customer_unresponsive"})
    assert (t.state, t.fields["resolution_method"]) == ("resolved", "customer_unresponsive")


def test_closing_when_at_least_one_attempt_to_confirm_and_no_response_after_1_business_day():
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(6, 10))
    wf.fire(t.id, "ask_customer", AGENT, comment="Which project id?", at=ny(6, 11))
    method = {"resolution_method": "no_reply_after_confirmation"}
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed, match="confirmation_attempts"):
        wf.fire(t.id, "resolve", AGENT, comment="Closing", fields=method, at=ny(8, 11))  # no attempt to confirm
    t = wf.comment(t.id, CUSTOMER, "It is 42", at=ny(8, 12))
    wf.fire(t.id, "request_confirmation", AGENT, comment="Fixed: can you confirm?", at=ny(8, 14))
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed, match="elapsed"):
        wf.fire(t.id, "resolve", AGENT, comment="Closing", fields=method, at=ny(9, 13, 59))
    t = wf.fire(t.id, "resolve", AGENT, comment="Closing", fields=method, at=ny(9, 14))
    assert (t.state, t.fields["resolution_method"]) == ("resolved", "no_reply_after_confirmation")


def test_closing_when_there_is_an_active_low_priority_dev_ticket():
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(6, 10))
    method = {"resolution_method": "low_priority_dev_ticket"}
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="needs 'customer_confirmed'"):
        wf.fire(t.id, "resolve", AGENT, comment="Parked", fields=method, at=ny(6, 11))  # not escalated: no dev ticket
    bug = {"bug_ticket": "DEV-881", "reproduction_steps": "1. open 2. archive", "product_manager": "pm-pat"}
    wf.fire(t.id, "escalate", AGENT, comment="Linked DEV-881", fields=bug, at=ny(6, 12))
    wf.update(t.id, AGENT, fields={"dev_ticket_status": "active", "dev_ticket_priority": "high"}, at=ny(6, 13))
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed, match="dev_ticket_priority"):
        wf.fire(t.id, "resolve", AGENT, comment="Parked", fields=method, at=ny(6, 14))
    wf.update(t.id, AGENT, fields={"dev_ticket_priority": "low"}, at=ny(6, 15))
    assert wf.fire(t.id, "resolve", AGENT, comment="Parked", fields=method, at=ny(6, 16)).state == "resolved"


def test_closing_how_change_status_to_resolved_update_method_of_resolution_add_comments():
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(6, 10))
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as no_method:
        wf.fire(t.id, "resolve", AGENT, comment="Done", at=ny(6, 11))
    assert no_method.value.fields == ("resolution_method",)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as no_comment:
        wf.fire(t.id, "resolve", AGENT, fields={"resolution_method": "customer_confirmed"}, at=ny(6, 11))
    assert no_comment.value.fields == ("comment",)
    assert "resolve" in wf.allowed(t.id, AGENT)  # the state allows it; only the data decides
    done = wf.fire(
        t.id, "resolve", AGENT, comment="Confirmed by phone", fields={"resolution_method": "customer_confirmed"}
    )
    assert (done.state, done.fields["resolution_method"]) == ("resolved", "customer_confirmed")


def test_the_attempts_are_the_lifecycles_record_no_agent_sets_them():
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(6, 10))
    for fields in ({"reach_attempts": 2}, {"confirmation_attempts": 1}, {"last_attempt_at": ny(1, 9).isoformat()}):
        with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
            wf.update(t.id, AGENT, fields=fields, at=ny(6, 11))
        with pytest.raises(tf.PermissionDenied):
            wf.open(AGENT, title="x", requester=CUSTOMER.id, fields=fields, at=ny(6, 11))


def test_promptly_notify_customer_only_customer_facing_attempts_count():
    """'clicking Share with Customer': an attempt is a public comment; an internal note is none."""
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(6, 10))
    for trigger in ("ask_customer", "request_confirmation"):
        with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="public comment"):
            wf.fire(t.id, trigger, AGENT, comment="note to self", visibility="internal", at=ny(6, 11))
    t = wf.fire(t.id, "request_confirmation", AGENT, comment="Please confirm", at=ny(6, 11))
    assert (t.fields["confirmation_attempts"], t.fields["last_attempt_at"]) == (1, ny(6, 11).isoformat())


def test_no_response_after_1_business_day_an_internal_note_does_not_restart_the_day():
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(6, 10))
    wf.fire(t.id, "request_confirmation", AGENT, comment="Fixed: please confirm", at=ny(6, 11))
    wf.comment(t.id, AGENT, "Pinged them on Slack too", visibility="internal", at=ny(7, 10))
    assert wf.run_due(ny(7, 10, 59)).fired == ()
    wf.run_due(ny(7, 11))  # one business day after the customer-facing attempt, not after the note
    t = wf.get(t.id)
    assert (t.state, t.fields["resolution_method"]) == ("resolved", "no_reply_after_confirmation")


def test_close_unconfirmed_checks_the_business_day_of_silence_across_a_weekend_and_a_holiday():
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(2, 10))  # Thursday
    wf.fire(t.id, "request_confirmation", AGENT, comment="Fixed: please confirm", at=ny(2, 16))
    for early in (ny(3, 17), ny(5, 12), ny(6, 15, 59)):  # the observed holiday, Sunday, Monday before 16:00
        with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed, match="last_attempt_at"):
            wf.fire(t.id, "close_unconfirmed", AGENT, comment="No reply", at=early)
    t = wf.fire(t.id, "close_unconfirmed", AGENT, comment="No reply", at=ny(6, 16))
    assert t.fields["resolution_method"] == "no_reply_after_confirmation"


def test_linked_bug_ticket_will_include_comment_pinging_appropriate_product_manager():
    pinged: list[tf.OutboxMessage] = []
    registry = tf.Registry()
    registry.add_notifier("product_manager_ping", pinged.append)
    wf = tf.Workflow(tf.builtin("sighten"), registry=registry)
    t = in_progress(wf, ny(6, 10))
    bug = {"bug_ticket": "DEV-881", "reproduction_steps": "1. open 2. archive"}
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as caught:
        wf.fire(t.id, "escalate", AGENT, comment="Linked DEV-881", fields=bug, at=ny(6, 11))
    assert caught.value.fields == ("product_manager",)  # refused clearly: nobody to ping
    wf.fire(
        t.id, "escalate", AGENT, comment="Linked DEV-881", fields={**bug, "product_manager": "pm-pat"}, at=ny(6, 11)
    )
    assert wf.deliver(ny(6, 11)) >= 1
    [ping] = pinged
    assert (ping.ticket_id, ping.payload["fields"]["product_manager"], ping.payload["fields"]["bug_ticket"]) == (
        t.id,
        "pm-pat",
        "DEV-881",
    )


def test_support_will_transfer_ticket_to_appropriate_account_manager_css():
    owners = {CUSTOMER.id: "am-alex"}  # "listed as owner of the customer record" in Salesforce
    registry = tf.Registry()
    registry.add_policy("account_manager", lambda ticket, _repo: owners.get(ticket.requester or ""))
    wf = tf.Workflow(tf.builtin("sighten"), registry=registry)
    t = in_progress(wf, ny(6, 10), request_type="general_inquiry")
    assert t.assignee == AGENT.id
    t = wf.update(t.id, AGENT, fields={"request_type": "configuration_change"}, at=ny(6, 11))
    assert (t.assignee, "transferred_to_account_manager" in t.tags) == ("am-alex", True)
    assert wf.history(t.id)[-1].meta["route"] == "account_manager"
    # an application that registers no lookup keeps its tickets where they are
    plain = tf.Workflow(tf.builtin("sighten"))
    u = in_progress(plain, ny(6, 10), request_type="general_inquiry")
    assert plain.update(u.id, AGENT, fields={"request_type": "configuration_change"}, at=ny(6, 11)).assignee == AGENT.id


def test_follow_up_with_customer_regularly_follow_up_sla():
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(6, 10))
    wf.comment(t.id, AGENT, "Looking into it", at=ny(6, 10, 30))
    [follow_up] = [c for c in wf.sla(t.id, ny(8, 10, 29)) if c.metric == "follow_up"]
    assert (follow_up.kind, follow_up.target, follow_up.breached) == ("periodic_update", timedelta(hours=16), False)
    [late] = [c for c in wf.sla(t.id, ny(8, 10, 31)) if c.metric == "follow_up"]
    assert late.breached  # two working days without a public update


def test_dev_ticket_fields_follow_the_dev_tracker_when_it_parks_the_bug():
    wf = tf.Workflow(tf.builtin("sighten"))
    t = in_progress(wf, ny(6, 10))
    bug = {"bug_ticket": "DEV-881", "reproduction_steps": "1. open 2. archive", "product_manager": "pm-pat"}
    wf.fire(t.id, "escalate", AGENT, comment="Linked DEV-881", fields=bug, at=ny(6, 11))
    wf.link(t.id, AGENT, "caused_by", record=tf.ExternalRecord("dev", "DEV-881"), at=ny(6, 11))
    wf.linked_record_changed("dev", "DEV-881", status="active", priority="low", at=ny(6, 12))
    t = wf.get(t.id)
    assert (t.state, t.fields["dev_ticket_status"], t.fields["dev_ticket_priority"]) == ("resolved", "active", "low")


def test_sighten_seed_story_end_to_end():
    """Inbound Thursday, taken, a configuration change transferred, a bug escalated over the holiday weekend,
    confirmed fixed and closed by the one-business-day rule; each refusal on the way."""
    pinged: list[tf.OutboxMessage] = []
    registry = tf.Registry()
    registry.add_policy("account_manager", lambda ticket, _repo: {CUSTOMER.id: "am-alex"}.get(ticket.requester or ""))
    registry.add_notifier("product_manager_ping", pinged.append)
    wf = tf.Workflow(tf.builtin("sighten"), registry=registry)
    t = wf.open(CUSTOMER, title="Proposal PDF is blank", at=ny(2, 15))  # Thursday 15:00
    assert (t.id, t.state) == ("SUP-1", "awaiting_support")
    [first] = [c for c in wf.sla(t.id, ny(2, 15)) if c.metric == "first_response"]
    assert first.due_at == ny(2, 17)  # "first response within 2 hours" of business time
    with unchanged(wf, t.id), pytest.raises(tf.FieldError):
        wf.fire(t.id, "take", AGENT, at=ny(2, 15, 10))  # "change the assignee field to your name"
    wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": "technical_support"}, at=ny(2, 15, 10))
    t = wf.fire(t.id, "back_to_support", AGENT, comment="We are looking into it", at=ny(2, 15, 20))
    assert t.state == "awaiting_support"
    wf.fire(t.id, "take", AGENT, assignee=AGENT.id, at=ny(2, 15, 30))
    bug = {"bug_ticket": "DEV-881", "reproduction_steps": "1. open proposal 2. export PDF"}
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="product_manager"):
        wf.fire(t.id, "escalate", AGENT, comment="Cannot fix in support", fields=bug, at=ny(2, 16))
    wf.fire(t.id, "escalate", AGENT, comment="DEV-881", fields={**bug, "product_manager": "pm-pat"}, at=ny(2, 16))
    wf.deliver(ny(2, 16))
    assert [p.payload["fields"]["product_manager"] for p in pinged] == ["pm-pat"]
    wf.linked_record_changed("dev", "DEV-881", status="done", at=ny(3, 11))  # not linked: moves nothing
    t = wf.fire(t.id, "dev_fixed", SYSTEM, at=ny(3, 11))  # the observed holiday
    assert t.state == "in_progress"
    t = wf.fire(t.id, "request_confirmation", AGENT, comment="Fixed: can you confirm?", at=ny(3, 12))
    wf.comment(t.id, AGENT, "Customer is out until Tuesday", visibility="internal", at=ny(6, 9))
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed, match="reach_attempts"):
        wf.fire(t.id, "close_unresponsive", AGENT, comment="Closing", at=ny(6, 9, 30))
    assert wf.run_due(ny(6, 11, 59)).fired == ()  # holiday and weekend are no business days
    [closed] = wf.run_due(ny(6, 12)).fired  # asked on the holiday at noon: one business day later is Monday noon
    t = wf.get(t.id)
    assert (closed.trigger, t.state, t.fields["resolution_method"]) == (
        "close_unconfirmed",
        "resolved",
        "no_reply_after_confirmation",
    )
    # the configuration change of another request goes to the account manager
    change = in_progress(wf, ny(6, 13), request_type="general_inquiry")
    change = wf.update(change.id, AGENT, fields={"request_type": "configuration_change"}, at=ny(6, 14))
    assert change.assignee == "am-alex"


def test_confirm_reporter_is_customer_contact_and_add_request_participants():
    wf = tf.Workflow(tf.builtin("sighten"))
    forwarded = wf.open(AGENT, title="Forwarded: inverter missing", requester=AGENT.id, at=ny(6, 9))
    t = wf.update(forwarded.id, AGENT, requester=CUSTOMER.id, participants={"pm-ops@solar.example"}, at=ny(6, 10))
    assert (t.requester, t.participants) == (CUSTOMER.id, frozenset({"pm-ops@solar.example"}))
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.update(t.id, CUSTOMER, participants={"friend@solar.example"}, at=ny(6, 11))
