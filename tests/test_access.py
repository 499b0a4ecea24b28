"""Access per ticket: relations, who may set what, identity and the library's meta, broadcasts, views.

One test per bullet of issue #17's "tried as a new user" list, each showing
the refusal (or the harmless outcome) and that the ticket, its version and
its history did not change; then the ``[access]`` format and its errors.
"""

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import ticketflow as tf
from ticketflow.testing import AccessContract, SteppableClock

from .conftest import EXAMPLES, unchanged

CUSTOMER = tf.Actor("customer@client.example", roles={"requester"})
FRIEND = tf.Actor("friend@client.example", roles={"requester"})
STRANGER = tf.Actor("mallory@elsewhere.example", roles={"requester"})
AGENT = tf.Actor("agent-7", roles={"agent"})
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def workflow(lifecycle: str | tf.Lifecycle) -> tf.Workflow:
    lc = tf.builtin(lifecycle) if isinstance(lifecycle, str) else lifecycle
    return tf.Workflow(lc, clock=SteppableClock(T0))


class unchanged_count:  # noqa: N801 - reads as a context manager
    def __init__(self, wf: tf.Workflow) -> None:
        self.wf = wf

    def __enter__(self) -> None:
        self.before = self.wf.repository.count()  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        assert self.wf.repository.count() == self.before  # type: ignore[attr-defined]


# -- bullet 1: a requester's comment (or reopen) also accepted fields, tags and people ------------


@pytest.mark.parametrize(
    "extra",
    [
        {"fields": {"priority": "urgent"}},
        {"add_tags": {"vip"}},
        {"assignee": "friend-agent"},
        {"requester": "victim@client.example"},
        {"participants": {"friend@client.example"}},
    ],
    ids=["priority", "tag", "assignee", "requester", "participants"],
)
def test_a_requesters_comment_or_reopen_cannot_carry_staff_only_changes(helpdesk: tf.Lifecycle, extra: dict[str, Any]):
    wf = workflow(helpdesk)
    t = wf.open(CUSTOMER, title="VPN drops")
    wf.fire(t.id, "triage", AGENT, fields={"category": "access"})
    wf.fire(t.id, "start", AGENT, assignee=AGENT.id)
    wf.fire(t.id, "ask", AGENT, comment="Which client?")
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied) as caught:
        wf.fire(t.id, "comment", CUSTOMER, comment="v2", **extra)
    assert caught.value.subject is not None
    assert caught.value.trigger == "comment"
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.update(t.id, CUSTOMER, **extra)  # the plain update door was already shut; it stays shut
    assert wf.comment(t.id, CUSTOMER, "v2").state == "in_progress"  # the comment alone is fine


def test_a_requester_cannot_raise_the_priority_to_get_a_faster_sla(helpdesk: tf.Lifecycle):
    wf = workflow(helpdesk)
    t = wf.open(CUSTOMER, title="VPN drops")
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied, match="set field 'priority'"):
        wf.fire(t.id, "comment", CUSTOMER, comment="it is urgent", fields={"priority": "urgent"})
    assert wf.get(t.id).fields["priority"] == "normal"


# -- bullet 2: open() by a requester set internal fields and tags, the assignee, people, requester --


@pytest.mark.parametrize(
    "extra",
    [
        {"fields": {"aha_link": "https://aha.example/FEAT-1"}},
        {"tags": {"documented_in_aha"}},
        {"assignee": "agent-9"},
        {"participants": {"friend@client.example"}},
        {"requester": "victim@client.example"},
    ],
    ids=["internal-field", "internal-tag", "assignee", "participants", "requester"],
)
def test_a_requester_cannot_open_with_staff_only_parts(extra: dict[str, Any]):
    wf = workflow("sighten")
    with unchanged_count(wf), pytest.raises(tf.PermissionDenied) as caught:
        wf.open(CUSTOMER, title="Cannot export", **extra)
    assert caught.value.ticket_id == "(new)"
    assert wf.repository.pending_messages() == []  # no confirmation either
    t = wf.open(CUSTOMER, title="Cannot export", requester=CUSTOMER.id)  # naming oneself is the default
    assert (t.requester, t.assignee, t.participants, t.tags) == (CUSTOMER.id, None, frozenset(), frozenset())


def test_staff_open_for_a_customer_with_every_part():
    wf = workflow("sighten")
    t = wf.open(AGENT, title="From a call", requester=CUSTOMER.id, participants={FRIEND.id}, tags={"documented_in_aha"})
    assert (t.requester, t.participants, t.tags) == (CUSTOMER.id, {FRIEND.id}, {"documented_in_aha"})
    assert wf.view(t.id, FRIEND).ticket.id == t.id  # a participant sees it


# -- bullet 3: a comment in an agent's name -----------------------------------------------------


def test_a_requester_cannot_post_a_comment_in_someone_elses_name():
    wf = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Logo")
    forged = tf.Comment("bob-the-agent", "We will refund you in full.", "public")
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied, match="authored by 'bob-the-agent'"):
        wf.fire(t.id, "comment", CUSTOMER, comment=forged)
    with unchanged_count(wf), pytest.raises(tf.PermissionDenied):
        wf.open(CUSTOMER, title="x", comment=forged)


def test_staff_may_record_a_comment_on_a_customers_behalf_and_both_names_are_kept():
    wf = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Logo")
    wf.fire(t.id, "comment", AGENT, comment=tf.Comment(CUSTOMER.id, "(by phone) it is the PNG", "public"))
    event = wf.history(t.id)[-1]
    assert (event.actor.id, event.comment and event.comment.author) == (AGENT.id, CUSTOMER.id)


# -- bullet 4: caller meta drove rules ------------------------------------------------------------


def test_caller_meta_is_namespaced_and_never_stops_an_auto_close():
    wf = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Question")
    wf.fire(t.id, "solve", AGENT, comment="Answer")
    t = wf.comment(t.id, AGENT, "note", visibility="internal")  # stays solved
    wf.fire(t.id, "comment", AGENT, comment="x", visibility="internal", meta={"rule": "solved_auto_close_24h"})
    assert wf.history(t.id)[-1].meta == {"app": {"rule": "solved_auto_close_24h"}}
    customer_note = wf.fire(t.id, "comment", CUSTOMER, comment="thanks", meta={"rule": "solved_auto_close_24h"})
    assert wf.history(t.id)[-1].meta == {"app": {"rule": "solved_auto_close_24h"}}
    assert customer_note.state == "open"  # the customer's reply reopened it, as the lifecycle says
    wf.fire(t.id, "solve", AGENT, comment="Answer again")
    wf.fire(t.id, "comment", AGENT, comment="y", visibility="internal", meta={"rule": "solved_auto_close_24h"})
    result = wf.run_due(T0 + timedelta(days=2))
    assert [e.meta["rule"] for e in result.fired] == ["solved_auto_close_24h"]
    assert wf.get(t.id).state == "closed"


def test_caller_meta_cannot_record_an_acknowledgement():
    wf = workflow("devrev")
    notice = wf.broadcast(AGENT, title="Maintenance tonight", accounts=["acme"])
    wf.fire(notice.id, "comment", AGENT, comment="fyi", meta={"ack": "acme"})
    assert wf.acknowledgements(notice.id) == {}


def test_every_meta_key_the_library_reads_is_declared_once():
    import re

    from .conftest import ROOT

    read = set()
    for path in (ROOT / "src" / "ticketflow").rglob("*.py"):
        text = path.read_text()
        read |= set(re.findall(r"meta(?:\.get\(|\[)\"(\w+)\"", text))
        read |= set(re.findall(r"\"(\w+)\" in \w+\.meta\b", text))
    read.discard(tf.APP_META)  # named in the docstrings that explain where caller meta goes
    assert read
    assert read <= tf.LIBRARY_META
    assert tf.APP_META not in tf.LIBRARY_META


# -- bullet 5: broadcasts and acknowledgements ----------------------------------------------------


def test_a_requester_may_not_broadcast_nor_acknowledge_for_another_account():
    wf = workflow("devrev")
    with unchanged_count(wf), pytest.raises(tf.PermissionDenied):
        wf.broadcast(CUSTOMER, title="Free credits for all")
    notice = wf.broadcast(AGENT, title="New feature: tell us", accounts=["acme", "globex"])
    acme = tf.Actor("pat@acme.example", roles={"requester"}, accounts={"acme"})
    with unchanged(wf, notice.id), pytest.raises(tf.PermissionDenied, match="do not belong to"):
        wf.acknowledge(notice.id, "globex", acme)
    wf.acknowledge(notice.id, "acme", acme)
    assert set(wf.acknowledgements(notice.id)) == {"acme"}
    assert wf.view(notice.id, acme).ticket.id == notice.id  # the audience sees the broadcast


# -- bullet 6: any requester could view and comment on any ticket ---------------------------------


def test_a_stranger_can_neither_see_nor_touch_a_ticket_and_cannot_tell_it_exists():
    wf = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Invoice is wrong")
    wf.fire(t.id, "solve", AGENT, comment="Fixed")
    for attempt in (
        lambda: wf.view(t.id, STRANGER),
        lambda: wf.comment(t.id, STRANGER, "reopen!"),  # used to reopen someone else's ticket
        lambda: wf.allowed(t.id, STRANGER),
        lambda: wf.move_to(t.id, "open", STRANGER),
        lambda: wf.reply(t.id, STRANGER, "hi"),
        lambda: wf.similar(t.id, actor=STRANGER),
    ):
        with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound) as caught:
            attempt()
        with pytest.raises(tf.TicketNotFound) as missing:
            wf.view("no-such-ticket", STRANGER)
        assert type(caught.value) is type(missing.value)  # the same answer as for an id that does not exist
    assert wf.get(t.id).state == "solved"


def test_guessable_keys_reveal_nothing_to_a_stranger():
    wf = workflow("interfacing")
    form = {"type": "bug_report", "severity": "high", "product_component": "Modeler", "description": "Crash"}
    t = wf.open(CUSTOMER, title="Crash", fields=form)
    assert t.id == "INT-1"
    answers = []
    for key in ("INT-1", "INT-2"):  # one exists, one does not
        with pytest.raises(tf.TicketNotFound) as caught:
            wf.view(key, STRANGER)
        answers.append((type(caught.value), str(caught.value).replace(key, "KEY")))
    assert answers[0] == answers[1]


def test_mark_duplicate_tells_a_stranger_nothing_about_which_ids_exist():
    # the stranger marks a guessed id as a duplicate of their own ticket: the same refusal whether it exists or not
    wf = workflow("clickup")
    theirs = wf.open(CUSTOMER, title="Theirs")
    own = wf.open(STRANGER, title="Mine")
    answers = []
    for probe in (theirs.id, f"{theirs.id}-nope"):
        with unchanged(wf, theirs.id), unchanged(wf, own.id), pytest.raises(tf.TicketNotFound) as caught:
            wf.mark_duplicate(probe, own.id, STRANGER, trigger="close")
        answers.append((type(caught.value), str(caught.value).replace(probe, "KEY")))
    assert answers[0] == answers[1]


def test_a_ticket_of_another_lifecycle_in_the_store_is_not_found_by_a_stranger():
    # "several lifecycles share a store safely": another Workflow's ticket must not answer a stranger differently
    repository = tf.MemoryRepository()
    zendesk = tf.Workflow(tf.builtin("zendesk"), repository, clock=SteppableClock(T0))
    devrev = tf.Workflow(tf.builtin("devrev"), repository, clock=SteppableClock(T0))
    theirs = devrev.open(CUSTOMER, title="Secret roadmap question")
    own = zendesk.open(STRANGER, title="Mine")
    doors: dict[str, Any] = {
        "view": lambda wf, key, who: wf.view(key, who),
        "allowed": lambda wf, key, who: wf.allowed(key, who),
        "fire": lambda wf, key, who: wf.fire(key, "reopen", who),
        "comment": lambda wf, key, who: wf.comment(key, who, "hi"),
        "update": lambda wf, key, who: wf.update(key, who, fields={"category": "question"}),
        "move_to": lambda wf, key, who: wf.move_to(key, "open", who),
        "reply": lambda wf, key, who: wf.reply(key, who, "hi"),
        "follow_up": lambda wf, key, who: wf.follow_up(key, who, "hi"),
        "similar": lambda wf, key, who: wf.similar(key, actor=who),
        "similar_feedback": lambda wf, key, who: wf.similar_feedback(own.id, key, who, helpful=True),
        "link": lambda wf, key, who: wf.link(key, who, "relates_to", to_ticket=own.id),
        "link_to": lambda wf, key, who: wf.link(own.id, who, "relates_to", to_ticket=key),
        "mark_duplicate": lambda wf, key, who: wf.mark_duplicate(key, own.id, who, trigger="solve"),
        "acknowledge": lambda wf, key, who: wf.acknowledge(key, "acme", who),
    }
    for name, door in doors.items():
        answers = []
        for key in (theirs.id, "no-such-ticket"):
            with unchanged(devrev, theirs.id), pytest.raises(tf.TicketflowError) as caught:
                door(zendesk, key, STRANGER)
            answers.append((type(caught.value), str(caught.value).replace(key, "KEY")))
        assert answers[0] == answers[1], name
        assert answers[0][0] is tf.TicketNotFound or name == "acknowledge", name
    with pytest.raises(tf.LifecycleMismatch):  # the application, its staff and the requester are told why
        zendesk.view(theirs.id, AGENT)
    with pytest.raises(tf.LifecycleMismatch):
        zendesk.comment(theirs.id, CUSTOMER, "hi")


def test_an_actors_accounts_survive_storage(tmp_path: Any):
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(tmp_path / "t.db"), clock=SteppableClock(T0))
    pat = tf.Actor("pat", roles={"requester"}, accounts={"acme", "globex"})
    t = wf.open(pat, title="x")
    assert wf.history(t.id)[0].actor == pat
    assert tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(tmp_path / "t.db")).history(t.id)[0].actor == pat


def test_a_stranger_cannot_follow_up_someone_elses_closed_ticket():
    wf = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Invoice is wrong")
    wf.fire(t.id, "solve", AGENT, comment="Fixed")
    wf.run_due(T0 + timedelta(days=2))
    assert wf.get(t.id).state == "closed"
    with unchanged_count(wf), pytest.raises(tf.TicketNotFound):
        wf.follow_up(t.id, STRANGER, "me too")
    assert wf.reply(t.id, CUSTOMER, "one more thing").requester == CUSTOMER.id


def test_a_customers_follow_up_copies_only_the_fields_they_may_set(helpdesk: tf.Lifecycle):
    wf = workflow(helpdesk)
    t = wf.open(CUSTOMER, title="VPN drops", fields={"category": "software"})
    wf.fire(t.id, "triage", AGENT, fields={"category": "access", "priority": "urgent", "due": "2026-03-09"})
    mine = wf.follow_up(t.id, CUSTOMER, "and again")  # the original is still open: anyone could mint copies
    assert mine.fields == {"category": "access", "priority": "normal"}  # the team's priority and due are not copied
    theirs = wf.follow_up(t.id, AGENT, "splitting this off")
    assert theirs.fields == wf.get(t.id).fields  # staff may set them all: all copied


def test_a_customers_follow_up_copies_a_staff_field_the_new_ticket_cannot_open_without():
    lc = tf.builtin("interfacing").extend({"id": "if2", "fields": {"severity": {"set_by": ["agent"]}}})
    wf = tf.Workflow(lc)
    dana = tf.Actor("dana", roles={"requester"})
    form = {"type": "bug_report", "severity": "high", "product_component": "x", "description": "d"}
    t = wf.open(AGENT, title="Crash", requester="dana", fields=form)
    copy = wf.follow_up(t.id, dana, "still crashing")  # severity is required to open: the original's is copied
    assert copy.fields["severity"] == "high"


def test_a_follow_up_always_keeps_the_account_so_the_colleague_who_wrote_it_sees_it():
    lc = tf.builtin("clickup").extend({"id": "cu2", "fields": {"account": {"set_by": ["agent"]}}})
    wf = tf.Workflow(lc)
    kim = tf.Actor("kim", roles={"requester"}, accounts={"acme", "beta"})  # related by the account alone
    t = wf.open(AGENT, title="SSO broken", requester="pat", fields={"account": "acme", "priority": "urgent"})
    copy = wf.follow_up(t.id, kim, "It broke again")
    assert copy.fields["account"] == "acme"
    assert copy.fields.get("priority") != "urgent"  # other staff values still are not copied
    assert wf.view(copy.id, kim).ticket.id == copy.id


def test_a_follow_up_does_not_copy_the_counters_only_the_lifecycle_sets():
    wf = workflow("sighten")
    t = wf.open(CUSTOMER, title="Invoice export fails")
    wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": "technical_support"}, comment="On it")
    wf.fire(t.id, "ask_customer", AGENT, comment="Which browser?")
    assert wf.get(t.id).fields["reach_attempts"] == 1
    for who in (CUSTOMER, AGENT):
        copy = wf.follow_up(t.id, who, "a related problem")
        assert copy.fields["reach_attempts"] == 0
        assert "last_attempt_at" not in copy.fields


@pytest.mark.parametrize(
    "forged",
    [tf.Comment(AGENT.id, "We will refund you in full.", "public"), tf.Comment(CUSTOMER.id, "psst", "internal")],
    ids=["authored-by-an-agent", "internal"],
)
def test_a_follow_up_checks_its_comment_as_a_fire_would(forged: tf.Comment):
    wf = workflow("zendesk")
    t = wf.open(CUSTOMER, title="Invoice is wrong")
    wf.fire(t.id, "solve", AGENT, comment="Fixed")
    wf.run_due(T0 + timedelta(days=2))
    assert wf.get(t.id).state == "closed"
    for door in (lambda: wf.follow_up(t.id, CUSTOMER, forged), lambda: wf.reply(t.id, CUSTOMER, forged)):  # type: ignore[arg-type]
        with unchanged_count(wf), pytest.raises(tf.PermissionDenied):
            door()
    recorded = wf.follow_up(t.id, AGENT, tf.Comment(CUSTOMER.id, "(by phone) one more thing", "public"))  # type: ignore[arg-type]
    opening = wf.history(recorded.id)[0]
    assert (opening.actor.id, opening.comment and opening.comment.author) == (AGENT.id, CUSTOMER.id)


def test_customers_of_one_organization_see_its_tickets_and_no_others():
    wf = workflow("interfacing")
    form = {"type": "bug_report", "severity": "high", "product_component": "Modeler", "description": "Crash"}
    pat = tf.Actor("pat@acme.example", roles={"requester"}, accounts={"acme"})
    kim = tf.Actor("kim@acme.example", roles={"requester"}, accounts={"acme"})
    lee = tf.Actor("lee@globex.example", roles={"requester"}, accounts={"globex"})
    t = wf.open(pat, title="Crash on save", fields=form)
    assert t.fields["organization"] == "acme"  # a customer's ticket belongs to their one account
    assert wf.view(t.id, kim).ticket.id == t.id  # "you or your organization"
    with pytest.raises(tf.TicketNotFound):
        wf.view(t.id, lee)
    with unchanged_count(wf), pytest.raises(tf.PermissionDenied, match="do not belong to"):
        wf.open(lee, title="spam", fields={**form, "organization": "acme"})


# -- bullet 7: views showed traces of internal notes; refusals quoted internal values ------------


def test_a_customers_view_holds_no_trace_of_internal_events():
    wf = workflow("sighten")
    t = wf.open(CUSTOMER, title="Feature idea")
    wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": "feedback"})
    before = wf.view(t.id, CUSTOMER)
    wf.comment(t.id, AGENT, "Logged as FEAT-12 in Aha!", visibility="internal")
    wf.update(t.id, AGENT, fields={"aha_link": "https://aha.example/FEAT-12"}, add_tags={"documented_in_aha"})
    after = wf.view(t.id, CUSTOMER)
    assert after == before  # no empty event, no count, no author, no time
    assert [e.seq for e in after.events] == list(range(1, len(after.events) + 1))
    assert after.ticket.version == len(after.events)
    assert wf.view(t.id, AGENT).ticket.version == len(after.events) + 2


def test_a_customers_find_and_export_filters_read_only_what_their_view_shows():
    wf = workflow("sighten")
    t = wf.open(CUSTOMER, title="Feature idea")
    wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": "feedback"})
    shown = wf.view(t.id, CUSTOMER).ticket.updated_at
    later = shown + timedelta(hours=1)
    wf.update(t.id, AGENT, fields={"aha_link": "https://aha.example/FEAT-12"}, add_tags={"documented_in_aha"}, at=later)
    probes: list[dict[str, Any]] = [
        {"tag": "documented_in_aha"},  # an internal tag
        {"field": {"aha_link": "https://aha.example/FEAT-12"}},  # an internal field's value
        {"updated_after": later},  # when internal work happened
    ]
    for probe in probes:
        assert [x.id for x in wf.find(**probe).tickets] == [t.id]  # the application's own read sees it
        assert wf.find(actor=CUSTOMER, **probe).tickets == ()
        assert wf.find(actor=CUSTOMER, order_by="updated_at", **probe).tickets == ()
        assert wf.export_view(io.StringIO(), actor=CUSTOMER, **probe) == 0
    # what the view shows still filters as it shows it
    visible: list[dict[str, Any]] = [{"field": {"request_type": "feedback"}}, {"updated_before": later}, {}]
    for probe in visible:
        assert [x.id for x in wf.find(actor=CUSTOMER, **probe).tickets] == [t.id]
        assert wf.export_view(io.StringIO(), actor=CUSTOMER, **probe) == 1


def test_a_refusal_shown_to_a_customer_never_quotes_an_internal_value():
    lc = tf.builtin("sighten").extend(
        {
            "transitions": [
                {"trigger": "nudge", "source": "in_progress", "dest": "awaiting_customer", "roles": ["requester"],
                 "when": {"aha_link": "none"}},
            ]
        }
    )  # fmt: skip
    wf = workflow(lc)
    t = wf.open(CUSTOMER, title="Feature idea")
    wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": "feedback"})
    wf.update(t.id, AGENT, fields={"aha_link": "https://aha.example/SECRET-42"})
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed) as caught:
        wf.fire(t.id, "nudge", CUSTOMER)
    assert "SECRET-42" not in str(caught.value)
    assert "SECRET-42" not in caught.value.reason
    assert "aha_link" in caught.value.reason


# -- bullet 8: requesters posted internal comments ------------------------------------------------


def test_a_requester_cannot_post_an_internal_comment():
    wf = workflow("sighten")
    t = wf.open(CUSTOMER, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied, match="internal comment"):
        wf.comment(t.id, CUSTOMER, "psst", visibility="internal")
    lc = tf.builtin("sighten").extend({"access": {"internal_comments": ["agent", "requester"]}})
    allowed = workflow(lc)
    u = allowed.open(CUSTOMER, title="x")
    assert allowed.comment(u.id, CUSTOMER, "psst", visibility="internal").version == 2  # unless the lifecycle says


# -- bullet 9: staff roles were hard-coded -------------------------------------------------------


def test_staff_roles_come_from_the_lifecycle():
    lc = tf.builtin("zendesk").extend({"roles": {"supervisor": []}, "access": {"staff": ["agent", "supervisor"]}})
    wf = workflow(lc)
    boss = tf.Actor("boss", roles={"supervisor"})
    t = wf.open(CUSTOMER, title="Logo")
    wf.comment(t.id, AGENT, "internal", visibility="internal")
    assert wf.view(t.id, boss).full  # staff by the lifecycle, though not an agent
    assert lc.access.staff == {"agent", "admin", "supervisor", "system"}
    assert lc.access.customers == {"requester"}  # admin acts as agent; system (automations) is always staff
    sighten = tf.builtin("sighten").extend({"roles": {"lead": ["agent"]}})
    assert "lead" in sighten.access.staff  # a role acting as agent is staff by default
    wf = workflow(sighten)
    t = wf.open(CUSTOMER, title="x")
    wf.comment(t.id, tf.Actor("lee", roles={"lead"}), "On it.")
    (first_response, *_) = wf.sla(t.id, T0 + timedelta(hours=1))
    assert (first_response.metric, first_response.running) == ("first_response", False)


# -- the format ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("access", "path"),
    [
        ({"staff": ["wizard"]}, "access.staff[0]"),
        ({"staff": []}, "access.staff"),
        ({"relations": ["friend"]}, "access.relations[0]"),
        ({"shared_field": "nope"}, "access.shared_field"),
        ({"shared_field": "confirmation_attempts"}, "access.shared_field"),
        ({"shared_field": "aha_link"}, "access.shared_field"),
        ({"attributes": {"assignee": ["wizard"]}}, "access.attributes.assignee[0]"),
        ({"attributes": {"colour": ["agent"]}}, "access.attributes.colour"),
        ({"tags": {"documented_in_aha": ["wizard"]}}, "access.tags.documented_in_aha[0]"),
        ({"tags": {"vip": ["agent"]}}, "access.tags.vip"),
        ({"internal_comments": ["wizard"]}, "access.internal_comments[0]"),
        ({"on_behalf": ["wizard"]}, "access.on_behalf[0]"),
        ({"broadcast": ["wizard"]}, "access.broadcast[0]"),
        ({"sttaf": ["agent"]}, "access.sttaf"),
    ],
)
def test_access_errors_name_their_path(access: dict[str, Any], path: str):
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.builtin("sighten").extend({"access": access})
    assert caught.value.path == path


def test_set_by_errors_name_their_path():
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.builtin("sighten").extend({"fields": {"aha_link": {"set_by": ["wizard"]}}})
    assert caught.value.path == "fields.aha_link.set_by[0]"


def test_a_tag_rule_lets_customers_set_that_tag_only():
    lc = tf.builtin("devrev").extend({"access": {"tags": {"impact:*": ["requester", "agent"]}}})
    wf = workflow(lc)
    t = wf.open(CUSTOMER, title="x", tags={"impact:single_user"})
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied, match="set tag 'escalated'"):
        wf.open(CUSTOMER, title="y", tags={"escalated"})
    assert t.tags == {"impact:single_user"}


# -- the access property suite over the built-ins and the example --------------------------------


class TestZendeskAccess(AccessContract):
    lifecycle = tf.builtin("zendesk")


class TestSightenAccess(AccessContract):
    lifecycle = tf.builtin("sighten")


class TestClickUpAccess(AccessContract):
    lifecycle = tf.builtin("clickup")


class TestInterfacingAccess(AccessContract):
    lifecycle = tf.builtin("interfacing")


class TestDevRevAccess(AccessContract):
    lifecycle = tf.builtin("devrev")


class TestExampleAccess(AccessContract):
    lifecycle = tf.load_lifecycle(EXAMPLES / "custom_lifecycle.toml")


PLANTED: dict[str, tuple[str, Any]] = {
    "strangers are related to every ticket": ("ticketflow.lifecycle._access.Access.related", lambda *_: True),
    "parts of a step are never checked": ("ticketflow.lifecycle._access.Access.check_change", lambda *_a, **_k: None),
    "customers see the full view": (
        "ticketflow._facade._reads.view",
        lambda _lc, ticket, history, _actor: tf.TicketView(ticket, tuple(history), False),
    ),
}


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_the_access_suite_catches_each_planted_bug(bug: str, monkeypatch: pytest.MonkeyPatch):
    from ticketflow.testing import check_access

    target, replacement = PLANTED[bug]
    monkeypatch.setattr(target, replacement)
    with pytest.raises(AssertionError):
        check_access(tf.builtin("sighten"), max_examples=200, shrink=False)
