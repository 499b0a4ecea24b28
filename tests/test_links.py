"""Links, link-driven stages, duplicates: DevRev and Sighten scenarios."""

from pathlib import Path

import pytest

import ticketflow as tf
from ticketflow.testing import SteppableClock

from .conftest import unchanged

CUSTOMER = tf.Actor("customer", roles={"requester"})
OTHER = tf.Actor("other-customer", roles={"requester"})
AGENT = tf.Actor("agent-7", roles={"agent"})
ISSUE = tf.ExternalRecord("issue", "ENG-1042", url="https://tracker.example/ENG-1042")


@pytest.fixture(params=["memory", "sqlite"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> tf.TicketRepository:
    return tf.MemoryRepository() if request.param == "memory" else tf.SQLiteRepository(tmp_path / "links.db")


def devrev(repository: tf.TicketRepository) -> tf.Workflow:
    return tf.Workflow(tf.builtin("devrev"), repository, clock=SteppableClock())


def test_devrev_stages_follow_the_linked_issue(repository: tf.TicketRepository):
    wf = devrev(repository)
    t = wf.open(CUSTOMER, title="Export times out")
    wf.fire(t.id, "start", AGENT)
    wf.link(t.id, AGENT, "caused_by", record=ISSUE)
    assert wf.links(t.id) == [tf.Link(t.id, "caused_by", "record:issue:ENG-1042")]
    assert wf.linked_to(record=ISSUE) == [tf.Link(t.id, "caused_by", "record:issue:ENG-1042")]
    assert [e.trigger for e in wf.linked_record_changed("issue", "ENG-1042", status="planned")] == ["issue_created"]
    assert wf.get(t.id).state == "awaiting_development"
    wf.linked_record_changed("issue", "ENG-1042", status="in_progress")
    assert wf.get(t.id).state == "in_development"
    assert wf.linked_record_changed("issue", "ENG-1042", status="in_progress") == []  # once per change
    (shipped,) = wf.linked_record_changed("issue", "ENG-1042", status="done", priority="high")
    assert (shipped.trigger, shipped.target) == ("fix_shipped", "awaiting_customer_response")
    assert shipped.meta["record"] == "record:issue:ENG-1042"
    assert shipped.actor == tf.Actor("system", roles={"system"})


def test_a_change_no_rule_applies_to_is_still_recorded_once(repository: tf.TicketRepository):
    wf = devrev(repository)
    t = wf.open(CUSTOMER, title="x")
    wf.link(t.id, AGENT, "relates_to", record=ISSUE)
    (noted,) = wf.linked_record_changed("issue", "ENG-1042", status="in_progress")  # queued: no rule can move it
    assert (noted.trigger, noted.target, noted.meta["status"]) == ("update", "queued", "in_progress")
    assert wf.linked_record_changed("issue", "ENG-1042", status="in_progress") == []
    assert wf.linked_record_changed("issue", "ENG-9999", status="done") == []  # nobody links to it


def test_every_ticket_linked_to_the_record_moves(repository: tf.TicketRepository):
    wf = devrev(repository)
    ids = []
    for who in (CUSTOMER, OTHER):
        t = wf.open(who, title="Same bug")
        wf.fire(t.id, "start", AGENT)
        wf.link(t.id, AGENT, "caused_by", record=ISSUE)
        ids.append(t.id)
    wf.linked_record_changed("issue", "ENG-1042", status="planned")
    assert [wf.get(i).state for i in ids] == ["awaiting_development"] * 2


def test_duplicates_merge_into_the_original_atomically(repository: tf.TicketRepository):
    wf = devrev(repository)
    original = wf.open(AGENT, title="Login loop", participants={"watcher-1"}, requester=CUSTOMER.id)
    duplicate = wf.open(AGENT, title="Cannot log in", participants={"watcher-2"}, requester=OTHER.id)
    closed = wf.mark_duplicate(duplicate.id, original.id, AGENT, trigger="cancel", fields={"reason": "duplicate"})
    assert (closed.state, closed.fields["reason"]) == ("canceled", "duplicate")
    assert wf.get(original.id).participants == {"watcher-1", "watcher-2", OTHER.id}
    assert wf.links(duplicate.id) == [tf.Link(duplicate.id, "duplicate_of", original.id)]
    assert wf.linked_to(original.id) == [tf.Link(duplicate.id, "duplicate_of", original.id)]
    assert wf.history(original.id)[-1].meta["merged"] == duplicate.id


def test_a_refused_merge_changes_neither_ticket(repository: tf.TicketRepository):
    wf = devrev(repository)
    original = wf.open(CUSTOMER, title="a")
    duplicate = wf.open(OTHER, title="b")
    with unchanged(wf, original.id, duplicate.id), pytest.raises(tf.FieldError):
        wf.mark_duplicate(duplicate.id, original.id, AGENT, trigger="cancel")  # `reason` is required to cancel
    with unchanged(wf, original.id, duplicate.id), pytest.raises(tf.TransitionNotAllowed):
        wf.mark_duplicate(duplicate.id, original.id, AGENT, trigger="resolve")
    with pytest.raises(tf.FieldError, match="itself"):
        wf.mark_duplicate(original.id, original.id, AGENT, trigger="cancel")


def test_bad_links_are_refused_and_change_nothing(repository: tf.TicketRepository):
    wf = devrev(repository)
    t = wf.open(CUSTOMER, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="unknown link kind"):
        wf.link(t.id, AGENT, "likes", record=ISSUE)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="exactly one"):
        wf.link(t.id, AGENT, "relates_to")
    with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound):
        wf.link(t.id, AGENT, "blocks", to_ticket="nope")
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.link(t.id, CUSTOMER, "relates_to", record=ISSUE)


def test_a_caller_cannot_address_a_ticket_as_the_library_does_a_broadcast(repository: tf.TicketRepository):
    wf = devrev(repository)
    t = wf.open(AGENT, title="x", requester=CUSTOMER.id)
    other = wf.open(AGENT, title="y", requester=OTHER.id)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="broadcast"):
        wf.link(t.id, AGENT, "addressed_to", to_ticket=other.id)  # the audience of a broadcast: the library's own
    assert wf.links(t.id) == []


def test_a_record_link_keeps_its_kind_in_the_history(repository: tf.TicketRepository):
    wf = devrev(repository)
    t = wf.open(CUSTOMER, title="x")
    wf.link(t.id, AGENT, "blocks", record=ISSUE)
    recorded = wf.history(t.id)[-1].meta["link"]
    assert (recorded["kind"], recorded["target"], recorded["key"]) == ("blocks", "record:issue:ENG-1042", "ENG-1042")


def test_link_rules_are_validated():
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.builtin("devrev").extend({"id": "d2", "link_rules": [{"record": "issue", "status": "x", "fire": "accept"}]})
    assert caught.value.path == "link_rules[0].fire"


def test_a_broadcast_reaches_every_account_and_a_multicast_only_those_named(repository: tf.TicketRepository):
    wf = devrev(repository)
    everyone = wf.broadcast(AGENT, title="Scheduled maintenance Saturday", comment="Two hours of downtime.")
    wf.clock.advance(minutes=5)  # type: ignore[attr-defined]
    some = wf.broadcast(AGENT, title="Beta: new exports", accounts=["acme", "globex"])
    assert [t.id for t in wf.broadcasts_for("acme")] == [everyone.id, some.id]
    assert [t.id for t in wf.broadcasts_for("initech")] == [everyone.id]
    assert wf.history(some.id)[0].meta["broadcast"] == ("account:acme", "account:globex")


def test_a_multicast_to_a_string_is_refused_not_sent_to_its_letters(repository: tf.TicketRepository):
    wf = devrev(repository)
    with pytest.raises(TypeError, match=r"^accounts must be a collection of account names, got the string 'acme'"):
        wf.broadcast(AGENT, title="Beta: new exports", accounts="acme")
    for accounts in ([5], ["acme", ""]):
        with pytest.raises(tf.FieldError, match="expected account names"):
            wf.broadcast(AGENT, title="Beta: new exports", accounts=accounts)  # type: ignore[list-item]
    assert repository.count() == 0
    assert wf.broadcasts_for("a") == []  # "acme" never became the accounts a, c, m, e


def test_an_acknowledgement_by_something_that_is_not_an_actor_is_a_type_error(repository: tf.TicketRepository):
    wf = devrev(repository)
    notice = wf.broadcast(AGENT, title="New feature idea: tell us", accounts=["acme"])
    with unchanged(wf, notice.id), pytest.raises(TypeError, match=r"actor must be a ticketflow\.Actor, got str"):
        wf.acknowledge(notice.id, "acme", "customer")  # type: ignore[arg-type]


def test_each_customer_acknowledges_a_broadcast_once(repository: tf.TicketRepository):
    wf = devrev(repository)
    notice = wf.broadcast(AGENT, title="New feature idea: tell us", accounts=["acme", "globex"])
    acme = tf.Actor("pat@acme.example", roles={"requester"}, accounts={"acme"})
    wf.acknowledge(notice.id, "acme", acme)
    version = wf.get(notice.id).version
    wf.acknowledge(notice.id, "acme", acme)  # again: nothing new
    assert wf.get(notice.id).version == version
    assert set(wf.acknowledgements(notice.id)) == {"acme"}
    with unchanged(wf, notice.id), pytest.raises(tf.TicketNotFound):  # not addressed to initech
        wf.acknowledge(notice.id, "initech", tf.Actor("x@initech.example", roles={"requester"}, accounts={"initech"}))
    plain = wf.open(CUSTOMER, title="not a broadcast")
    member = tf.Actor(CUSTOMER.id, roles={"requester"}, accounts={"acme"})
    with unchanged(wf, plain.id), pytest.raises(tf.FieldError, match="not a broadcast"):
        wf.acknowledge(plain.id, "acme", member)
    with pytest.raises(tf.FieldError, match="at least one account"):
        wf.broadcast(AGENT, title="to nobody", accounts=[])


def test_an_acknowledgement_moves_no_broadcast_as_a_customers_reply_would(repository: tf.TicketRepository):
    wf = devrev(repository)
    notice = wf.broadcast(AGENT, title="Maintenance on Saturday")
    wf.fire(notice.id, "start", AGENT)
    wf.fire(notice.id, "ask_customer", AGENT, comment="Tell us if Saturday does not suit you")
    pat = tf.Actor("pat@acme.example", roles={"requester"}, accounts={"acme"})
    acked = wf.acknowledge(notice.id, "acme", pat)  # anyone in the audience: not the broadcast's requester
    assert acked.state == "awaiting_customer_response"
    assert wf.history(notice.id)[-1].trigger == "comment"
    assert set(wf.acknowledgements(notice.id)) == {"acme"}


def test_export_views_filter_by_group_tag_customer_and_dates(repository: tf.TicketRepository):
    import io
    import json
    from datetime import timedelta

    wf = devrev(repository)
    clock = wf.clock
    early = wf.open(AGENT, title="early", tags={"blocked"}, requester=CUSTOMER.id)
    clock.advance(days=2)  # type: ignore[attr-defined]
    late = wf.open(AGENT, title="late", tags={"blocked"}, requester=OTHER.id)
    wf.fire(late.id, "start", AGENT)
    cut = early.created_at + timedelta(days=1)
    out = io.StringIO()
    assert wf.export_view(out, format="json", columns=["id", "state"], group="in_progress", tag="blocked") == 1
    assert json.loads(out.getvalue()) == {"id": late.id, "state": "work_in_progress"}
    out = io.StringIO()
    assert wf.export_view(out, columns=["id", "title"], requester=CUSTOMER.id, updated_before=cut) == 1
    assert out.getvalue().splitlines() == ["id,title", f"{early.id},early"]
    assert wf.export_view(io.StringIO(), format="json", updated_after=cut) == 1
    with pytest.raises(tf.LifecycleError, match="unknown export format"):
        wf.export_view(io.StringIO(), format="xml")


def test_sighten_closes_when_the_linked_dev_ticket_is_active_at_low_priority():
    wf = tf.Workflow(tf.builtin("sighten"), clock=SteppableClock())
    t = wf.open(CUSTOMER, title="Proposal PDF blank")
    wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": "technical_support"})
    wf.fire(
        t.id, "escalate", AGENT, comment="Bug: linked DEV-881",
        fields={"bug_ticket": "DEV-881", "reproduction_steps": "1. open 2. export", "product_manager": "pm-1"},
    )  # fmt: skip
    wf.link(t.id, AGENT, "caused_by", record=tf.ExternalRecord("dev", "DEV-881"))
    wf.linked_record_changed("dev", "DEV-881", status="active", priority="high")
    assert wf.get(t.id).state == "escalated"
    (closing,) = wf.linked_record_changed("dev", "DEV-881", status="active", priority="low")
    ticket = wf.get(t.id)
    assert (closing.trigger, ticket.state, ticket.fields["resolution_method"]) == (
        "dev_ticket_parked",
        "resolved",
        "low_priority_dev_ticket",
    )


def test_an_export_from_before_record_links_kept_their_kind_imports_them_as_relates_to():
    import io
    import json

    wf = tf.Workflow(tf.builtin("zendesk"))
    t = wf.open(AGENT, title="Printer", requester="dana")
    wf.link(t.id, AGENT, "blocks", record=ISSUE)
    wf.link(t.id, AGENT, "caused_by", record=tf.ExternalRecord("incident", "INC-9"))
    out = io.StringIO()
    tf.export_jsonl(wf.repository, out)
    record = json.loads(out.getvalue())
    for event in record["events"]:  # as written before: the record's kind where the link's belongs
        if "link" in event["meta"]:
            event["meta"]["link"]["kind"] = event["meta"]["link"]["target"].split(":")[1]
    fresh = tf.Workflow(tf.builtin("zendesk"), tf.MemoryRepository())
    assert fresh.import_jsonl(io.StringIO(json.dumps(record) + "\n")) == 1
    assert {(link.kind, link.target) for link in fresh.links(t.id)} == {
        ("relates_to", "record:issue:ENG-1042"),
        ("relates_to", "record:incident:INC-9"),
    }
    again = tf.Workflow(tf.builtin("zendesk"), tf.MemoryRepository())  # today's exports keep the kind
    again.import_jsonl(io.StringIO(out.getvalue()))
    assert {link.kind for link in again.links(t.id)} == {"blocks", "caused_by"}
