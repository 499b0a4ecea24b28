"""Intake channels, refusals, contacts, routing and assignment policies, from the seeds."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import ticketflow as tf
from ticketflow.testing import SteppableClock

USER = tf.Actor("pat@client.example", roles={"requester"})
AGENT = tf.Actor("ana", roles={"agent"})
FORM = {"type": "bug_report", "severity": "high", "product_component": "Modeler", "description": "Crash"}


@contextmanager
def nothing_stored(wf: tf.Workflow) -> Iterator[None]:
    tickets, messages = wf.repository.count(), wf.repository.pending_messages(limit=1000)
    yield
    assert wf.repository.count() == tickets
    assert wf.repository.pending_messages(limit=1000) == messages


def interfacing() -> tf.Workflow:
    return tf.Workflow(tf.builtin("interfacing"), clock=SteppableClock())


def test_an_unauthenticated_chat_request_for_a_sensitive_type_is_refused_and_nothing_stored():
    wf = interfacing()
    with nothing_stored(wf), pytest.raises(tf.IntakeRefused) as caught:
        wf.open(USER, title="Crash", fields=FORM, channel="chat", authenticated=False)
    refused = caught.value
    assert (refused.channel, refused.request_type, refused.instead) == ("chat", "bug_report", "portal")
    assert "cannot be authenticated" in refused.reason
    assert "use the 'portal' channel instead" in str(refused)
    with nothing_stored(wf), pytest.raises(tf.IntakeRefused):
        wf.open(USER, title="Crash", fields=FORM, channel="portal", authenticated=False)
    with nothing_stored(wf), pytest.raises(tf.IntakeRefused, match="unknown channel"):
        wf.open(USER, title="Crash", fields=FORM, channel="fax")


def test_a_portal_request_opens_a_ticket_with_a_key_and_a_confirmation():
    wf = interfacing()
    ticket = wf.open(USER, title="Modeler crashes on save", fields=FORM, channel="portal", authenticated=True)
    assert ticket.id == "INT-1"
    (confirmation,) = wf.repository.pending_messages()
    assert (confirmation.kind, confirmation.payload["key"], confirmation.payload["to"]) == (
        "ticket.opened",
        "INT-1",
        USER.id,
    )
    assert wf.history(ticket.id)[0].meta["channel"] == "portal"


def test_email_chat_and_phone_only_record_a_contact_for_other_types():
    wf = interfacing()
    how_to = {**FORM, "type": "how_to"}
    contact = wf.receive(USER, channel="email", authenticated=True, title="How do I export?", fields=how_to)
    assert isinstance(contact, tf.OutboxMessage)
    assert (contact.kind, contact.payload["channel"]) == ("contact.recorded", "email")
    assert wf.repository.count() == 0
    ticket = wf.receive(USER, channel="email", authenticated=True, title="Crash", fields=FORM)
    assert isinstance(ticket, tf.Ticket)
    assert ticket.state == "opened"
    chat_how_to = wf.receive(USER, channel="chat", authenticated=False, title="How do I?", fields=how_to)
    assert isinstance(chat_how_to, tf.Ticket)  # chat opens a ticket for how-to questions, unauthenticated
    with pytest.raises(tf.IntakeRefused, match="records a contact, not a ticket"):
        wf.open(USER, title="How do I?", fields=how_to, channel="email")


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"title": ""}, "title", "a request needs a non-empty title"),
        ({"title": "How do I\x00export?"}, "title", "a NUL character cannot be stored"),
        ({"title": "\ud800"}, "title", "a lone surrogate '\\ud800' at 0 is not text"),
        ({"comment": "a\x00b"}, "comment", "a NUL character cannot be stored"),
        ({"fields": {"type": "how_to", "colour": "red"}}, "colour", "unknown field; declared: type, severity"),
        ({"fields": {"type": "how_to", "severity": "dire"}}, "severity", "'dire' is not one of low, medium"),
        ({"fields": {"type": "how_to", "description": float("nan")}}, "description", "expected a text value"),
    ],
)
@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_a_contact_is_checked_as_a_ticket_would_be_and_a_refusal_stores_nothing(
    tmp_path, store: str, changes: dict[str, object], field: str, reason: str
):
    repository = tf.MemoryRepository() if store == "memory" else tf.SQLiteRepository(tmp_path / "t.db")
    wf = tf.Workflow(tf.builtin("interfacing"), repository, clock=SteppableClock())
    request: dict[str, object] = {"title": "How do I export?", "fields": {"type": "how_to"}, **changes}
    with nothing_stored(wf), pytest.raises(tf.FieldError) as caught:
        wf.receive(USER, channel="email", authenticated=True, **request)  # type: ignore[arg-type]
    assert caught.value.fields == (field,)
    assert caught.value.reason.startswith(reason)


def test_a_request_type_or_arguments_of_the_wrong_kind_are_refused_by_name_not_a_raw_error():
    wf = interfacing()
    with nothing_stored(wf), pytest.raises(tf.FieldError) as caught:
        wf.open(USER, title="Crash", fields={**FORM, "type": ["bug_report"]}, channel="chat", authenticated=False)
    assert (caught.value.trigger, caught.value.fields) == ("open", ("type",))
    with nothing_stored(wf), pytest.raises(tf.FieldError, match=r"\(type\)$"):
        wf.receive(USER, channel="email", authenticated=True, title="x", fields={"type": {"how": "to"}})
    for call, name in (
        (lambda: wf.receive(USER, channel="email", authenticated=True, title="x", fields=["type"]), "fields"),
        (lambda: wf.open(USER, title="x", fields=["type"], channel="portal"), "fields"),
        (lambda: wf.receive("pat", channel="email", authenticated=True, title="x", fields=FORM), "actor"),
        (lambda: wf.receive(USER, channel="email", authenticated=True, title="x", comment=5), "comment"),
    ):
        with nothing_stored(wf), pytest.raises(TypeError, match=f"^{name} must be"):
            call()  # type: ignore[arg-type]


def test_a_refused_open_or_follow_up_takes_no_human_key():
    wf = interfacing()
    refusals = [
        lambda: wf.open(USER, title="Crash", fields={**FORM, "severity": "dire"}, channel="portal"),
        lambda: wf.open(USER, title="Crash", fields={**FORM, "colour": "red"}, channel="portal"),
        lambda: wf.open(USER, title="", fields=FORM, channel="portal"),
        lambda: wf.open(USER, title="Crash", fields=FORM, assignee="ana", channel="portal"),  # staff's to set
    ]
    for refusal in refusals:
        with nothing_stored(wf), pytest.raises((tf.FieldError, tf.PermissionDenied)):
            refusal()
    assert wf.open(USER, title="Crash", fields=FORM, channel="portal").id == "INT-1"
    for title, comment in (("Cra\x00sh", None), ("Crash", "a NUL\x00 the stores refuse")):
        with nothing_stored(wf), pytest.raises(tf.StorageError, match="a NUL character cannot be stored"):
            wf.open(USER, title=title, fields=FORM, comment=comment, channel="portal")
    with nothing_stored(wf), pytest.raises(tf.StorageError):
        wf.follow_up("INT-1", AGENT, "More\x00")
    with nothing_stored(wf), pytest.raises(TypeError, match="comment"):
        wf.follow_up("INT-1", AGENT, 5)  # type: ignore[arg-type]
    assert wf.open(USER, title="Again", fields=FORM, channel="portal").id == "INT-2"
    assert wf.follow_up("INT-1", AGENT, "More").id == "INT-3"


def test_a_human_key_taken_by_a_ticket_opened_with_that_id_moves_the_next_open_to_the_next_key():
    wf = interfacing()
    assert wf.open(AGENT, title="first", fields=FORM).id == "INT-1"
    assert wf.open(AGENT, title="kept its old key", fields=FORM, ticket_id="INT-2").id == "INT-2"
    # was ConcurrencyConflict "re-read the ticket and retry" for a ticket the caller never named
    assert wf.open(AGENT, title="next", fields=FORM).id == "INT-3"
    assert wf.follow_up("INT-1", AGENT, "more").id == "INT-4"
    wf.open(AGENT, title="taken ahead", fields=FORM, ticket_id="INT-5")
    assert wf.follow_up("INT-1", AGENT, "again").id == "INT-6"
    with pytest.raises(tf.ConcurrencyConflict):  # an id the caller gives is theirs: never renumbered
        wf.open(AGENT, title="twice", fields=FORM, ticket_id="INT-5")


def test_staff_may_open_without_a_channel():
    wf = interfacing()
    assert wf.open(AGENT, title="Logged from a call", fields=FORM, requester=USER.id).requester == USER.id


SIGHTEN_ROUTES = {
    # customers pick the request type on this team's form (the built-in leaves it to support)
    "fields": {"request_type": {"set_by": ["requester", "agent"]}, "bug_ticket": {"set_by": ["requester", "agent"]}},
    "intake": {
        "type_field": "request_type",
        "routes": [
            {"when": {"request_type": ["general_inquiry", "technical_support"]}, "policy": "support_team"},
            {"when": {"request_type": "configuration_change"}, "policy": "account_manager"},
            {"when": {"request_type": "feedback"}, "policy": "support_team", "add_tags": ["documented_in_aha"]},
        ],
    },
}


def test_sighten_request_types_land_with_the_right_people():
    registry = tf.Registry()
    registry.add_policy("support_team", tf.RoundRobin(["ana", "ben"]))
    owners = {"SunCo": "carla-am"}
    registry.add_policy("account_manager", tf.PointOfContact(owners.get, field="bug_ticket"))
    lc = tf.builtin("sighten").extend(SIGHTEN_ROUTES)
    wf = tf.Workflow(lc, registry=registry)
    inquiry = wf.open(USER, title="Add a panel", fields={"request_type": "general_inquiry"})
    bug = wf.open(USER, title="Proposal PDF blank", fields={"request_type": "technical_support"})
    change = wf.open(
        USER, title="Update template", fields={"request_type": "configuration_change", "bug_ticket": "SunCo"}
    )
    idea = wf.open(USER, title="Bulk export", fields={"request_type": "feedback"})
    untyped = wf.open(USER, title="?")
    assert [t.assignee for t in (inquiry, bug, change, idea, untyped)] == ["ana", "ben", "carla-am", "ana", None]
    assert idea.tags == {"documented_in_aha"}
    assert wf.history(change.id)[0].meta["route"] == "account_manager"


def test_clickup_tickets_go_to_the_accounts_point_of_contact():
    registry = tf.Registry()
    contacts = {"acme": "facets-poc-1", "globex": "facets-poc-2"}
    registry.add_policy("point_of_contact", tf.PointOfContact(contacts.get))
    lc = tf.builtin("clickup").extend({"intake": {"routes": [{"policy": "point_of_contact"}]}})
    wf = tf.Workflow(lc, registry=registry)
    poc = tf.Actor(USER.id, roles={"requester"}, accounts={"globex", "initech"})
    assert wf.open(poc, title="x", fields={"account": "globex"}).assignee == "facets-poc-2"
    assert wf.open(poc, title="y", fields={"account": "initech"}).assignee is None


def test_a_returning_zendesk_requester_gets_their_previous_agent():
    clock = SteppableClock()
    wf = tf.Workflow(tf.builtin("zendesk"), clock=clock)
    # the help center evaluates and categorizes each request: an agent opens them from the e-mails
    first = wf.open(AGENT, title="Website refresh", fields={"category": "work_request"}, requester=USER.id)
    wf.update(first.id, AGENT, assignee="dora")
    clock.advance(days=3)
    other = wf.open(AGENT, title="x", fields={"category": "work_request"}, requester="sam@else.example")
    again = wf.open(AGENT, title="New landing page", fields={"category": "project_communication"}, requester=USER.id)
    question = wf.open(AGENT, title="Password?", fields={"category": "question"}, requester=USER.id)
    assert (again.assignee, other.assignee, question.assignee) == ("dora", None, None)


def test_least_loaded_counts_open_tickets_in_the_repository():
    registry = tf.Registry()
    lc = tf.builtin("zendesk").extend({"intake": {"routes": [{"policy": "balance"}]}})
    registry.add_policy("balance", tf.LeastLoaded(("ana", "ben"), open_states=frozenset({"new", "open"})))
    wf = tf.Workflow(lc, registry=registry)
    assignees = [wf.open(USER, title=f"t{i}").assignee for i in range(4)]
    assert assignees == ["ana", "ben", "ana", "ben"]


@pytest.mark.parametrize(
    ("intake", "path"),
    [
        ({"type_field": "colour"}, "intake.type_field"),
        ({"routes": [{"policy": "nobody_registered_this"}]}, "intake.routes[0].policy"),
        ({"routes": [{"when": {"colour": "red"}, "policy": "continuity"}]}, "intake.routes[0].when.colour"),
        ({"type_field": "category", "channels": {"chat": {"types": ["gossip"]}}}, "intake.channels.chat.types[0]"),
        ({"channels": {"chat": {"instead": "pigeon"}}}, "intake.channels.chat.instead"),
    ],
)
def test_intake_config_errors_name_their_path(intake: dict[str, object], path: str):
    """Refused when the lifecycle loads; only an unregistered policy waits for the Workflow's registry."""

    def load_and_bind() -> None:
        lc = tf.builtin("zendesk").extend({"id": "z2", "intake": intake})
        assert path.endswith(".policy")  # the one error load_lifecycle cannot know
        tf.Workflow(lc)

    with pytest.raises(tf.InvalidLifecycle) as caught:
        load_and_bind()
    assert caught.value.path == path


ROUTED = {
    "id": "routed",
    "initial": "new",
    "states": {"new": {}, "done": {"terminal": True}},
    "fields": {"kind": {"type": "choice", "choices": ["question", "change"]}},
    "transitions": [{"trigger": "finish", "source": "new", "dest": "done"}],
    "intake": {
        "routes": [
            {"when": {"kind": "change"}, "policy": "owner", "optional": True, "reassign": True, "add_tags": ["moved"]},
            {"when": {"kind": "question"}, "policy": "desk"},
        ]
    },
}


def routed(**policies: str) -> tf.Workflow:
    registry = tf.Registry()
    for name, agent in policies.items():
        registry.add_policy(name, lambda _ticket, _repo, agent=agent: agent)
    return tf.Workflow(tf.load_lifecycle(ROUTED), registry=registry)


def test_a_field_set_after_opening_routes_an_unassigned_ticket():
    wf = routed(desk="dee", owner="olga")
    t = wf.open(USER, title="?")
    assert t.assignee is None
    t = wf.update(t.id, AGENT, fields={"kind": "question"})
    assert (t.assignee, wf.history(t.id)[-1].meta["route"]) == ("dee", "desk")
    wf.update(t.id, AGENT, assignee="ana")
    assert wf.update(t.id, AGENT, fields={"kind": "question"}).assignee == "ana"  # no change: no routing


def test_a_reassigning_route_transfers_and_a_step_naming_the_assignee_wins():
    wf = routed(desk="dee", owner="olga")
    t = wf.open(AGENT, title="?", fields={"kind": "question"}, requester=USER.id)
    t = wf.update(t.id, AGENT, fields={"kind": "change"})
    assert (t.assignee, t.tags) == ("olga", frozenset({"moved"}))
    u = wf.open(AGENT, title="?", fields={"kind": "question"}, requester=USER.id)
    assert wf.update(u.id, AGENT, fields={"kind": "change"}, assignee="ana").assignee == "ana"


def test_an_optional_route_waits_for_its_policy_and_a_required_one_does_not():
    wf = routed(desk="dee")  # "owner" is optional: not registered, passed over
    t = wf.open(AGENT, title="?", fields={"kind": "change"}, requester=USER.id)
    assert t.assignee is None
    assert wf.update(t.id, AGENT, fields={"kind": "question"}).assignee == "dee"
    with pytest.raises(tf.InvalidLifecycle, match=r"desk.* is not registered"):
        routed(owner="olga")  # "desk" is required
