"""A Workflow owns its lifecycle's tickets only; one sweeper serves a store holding several lifecycles."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import ticketflow as tf
from ticketflow.testing import SteppableClock

from .conftest import unchanged

T0 = datetime(2026, 3, 2, 14, tzinfo=UTC)  # a Monday, inside business hours
CUSTOMER = tf.Actor("customer", roles={"requester"})
AGENT = tf.Actor("agent-7", roles={"agent"})


@pytest.fixture(params=["memory", "sqlite"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> tf.TicketRepository:
    return tf.MemoryRepository() if request.param == "memory" else tf.SQLiteRepository(tmp_path / "s.db")


def test_a_workflow_refuses_a_ticket_of_another_lifecycle_and_changes_nothing(
    repository: tf.TicketRepository, helpdesk: tf.Lifecycle
):
    zendesk = tf.Workflow(tf.builtin("zendesk"), repository)
    desk = tf.Workflow(helpdesk, repository)
    t = desk.open(AGENT, title="laptop", fields={"priority": "high"}, requester=CUSTOMER.id)
    with unchanged(desk, t.id):
        with pytest.raises(tf.LifecycleMismatch, match=rf"{t.id} belongs to lifecycle 'helpdesk', not 'zendesk'"):
            zendesk.fire(t.id, "take", AGENT, assignee=AGENT.id)
        for call in (
            lambda: zendesk.comment(t.id, AGENT, "hi"),
            lambda: zendesk.update(t.id, AGENT, add_tags=["x"]),
            lambda: zendesk.get(t.id),
            lambda: zendesk.history(t.id),
            lambda: zendesk.allowed(t.id, AGENT),
            lambda: zendesk.view(t.id, AGENT),
            lambda: zendesk.sla(t.id, T0),
            lambda: zendesk.link(t.id, AGENT, "relates_to", record=tf.ExternalRecord("issue", "E-1")),
        ):
            with pytest.raises(tf.LifecycleMismatch) as refused:
                call()
            assert (refused.value.ticket_lifecycle, refused.value.workflow_lifecycle) == ("helpdesk", "zendesk")
    assert desk.fire(t.id, "triage", AGENT, fields={"category": "access"}).state == "triaged"  # still usable


def test_a_merge_across_lifecycles_is_refused_and_changes_neither(repository: tf.TicketRepository):
    devrev = tf.Workflow(tf.builtin("devrev"), repository)
    zendesk = tf.Workflow(tf.builtin("zendesk"), repository)
    ours, theirs = devrev.open(CUSTOMER, title="a"), zendesk.open(CUSTOMER, title="b")
    with unchanged(devrev, ours.id), unchanged(zendesk, theirs.id), pytest.raises(tf.LifecycleMismatch):
        devrev.mark_duplicate(ours.id, theirs.id, AGENT, trigger="cancel", fields={"reason": "duplicate"})


def test_a_sweeper_over_a_store_of_two_lifecycles_writes_both_lifecycles_sla_alerts(repository: tf.TicketRepository):
    clock = SteppableClock(T0)
    zendesk = tf.Workflow(tf.builtin("zendesk"), repository, clock=clock)
    sighten = tf.Workflow(tf.builtin("sighten"), repository, clock=clock)
    a = zendesk.open(CUSTOMER, title="a", fields={"category": "question"})
    b = sighten.open(CUSTOMER, title="b")
    clock.advance(days=3)
    zendesk.run_due()  # a sweep of one lifecycle leaves the other's due tickets to their own rules
    assert {m.ticket_id for m in repository.pending_messages(1000) if m.kind == "sla.breached"} == {a.id}
    report = tf.Sweeper([zendesk, sighten]).run_once()
    assert report.result.tickets >= 1
    breached = {
        (m.ticket_id, m.payload["metric"])
        for m in repository.pending_messages(1000)
        if m.kind == "sla.breached" and m.payload["metric"] == "first_response"
    }
    assert breached == {(a.id, "first_response"), (b.id, "first_response")}


def test_a_workflows_own_sweep_leaves_other_lifecycles_due_tickets_alone(repository: tf.TicketRepository):
    clock = SteppableClock(T0)
    zendesk = tf.Workflow(tf.builtin("zendesk"), repository, clock=clock)
    devrev = tf.Workflow(tf.builtin("devrev"), repository, clock=clock)
    theirs = zendesk.open(CUSTOMER, title="z", fields={"category": "question"})
    due_before = dict(repository.due(T0 + timedelta(days=3650)))[theirs.id]
    clock.advance(days=3)
    assert devrev.run_due().tickets == 0  # nothing of devrev's is due; zendesk's ticket is not its to judge
    assert dict(repository.due(T0 + timedelta(days=3650)))[theirs.id] == due_before
    assert zendesk.run_due().alerts >= 1


def test_a_sweeper_needs_one_workflow_per_lifecycle():
    wf = tf.Workflow(tf.builtin("zendesk"))
    with pytest.raises(ValueError, match="one workflow per lifecycle"):
        tf.Sweeper([wf, tf.Workflow(tf.builtin("zendesk"), wf.repository)])
    with pytest.raises(ValueError, match="at least one"):
        tf.Sweeper([])


def test_link_rules_move_only_the_workflows_own_tickets(repository: tf.TicketRepository):
    devrev = tf.Workflow(tf.builtin("devrev"), repository)
    zendesk = tf.Workflow(tf.builtin("zendesk"), repository)
    ours = devrev.open(CUSTOMER, title="ours")
    devrev.fire(ours.id, "start", AGENT)
    theirs = zendesk.open(CUSTOMER, title="theirs")
    issue = tf.ExternalRecord("issue", "ENG-1")
    devrev.link(ours.id, AGENT, "caused_by", record=issue)
    zendesk.link(theirs.id, AGENT, "caused_by", record=issue)
    with unchanged(zendesk, theirs.id):
        (event,) = devrev.linked_record_changed("issue", "ENG-1", status="planned")
    assert event.ticket_id == ours.id


def _zendesk_document(**changes: object) -> dict:
    import copy

    document = copy.deepcopy(dict(tf.builtin("zendesk").document))
    document.update(changes)
    return document


def test_an_invalid_sla_section_is_refused_by_load_lifecycle_with_its_path():
    document = _zendesk_document(id="broken_sla")
    document["sla"]["metrics"][1]["pause"] = {"states": ["nowhere"]}
    with pytest.raises(tf.InvalidLifecycle) as refused:
        tf.load_lifecycle(document)
    assert refused.value.path == "sla.metrics[1].pause.states[0]"
    assert "unknown state 'nowhere'" in str(refused.value)


def test_an_invalid_intake_section_is_refused_by_load_lifecycle_with_its_path():
    document = _zendesk_document(id="broken_intake")
    document["intake"] = {**document["intake"], "routes": [{"when": {"colour": "red"}, "policy": "continuity"}]}
    with pytest.raises(tf.InvalidLifecycle) as refused:
        tf.load_lifecycle(document)
    assert refused.value.path == "intake.routes[0].when.colour"


def test_an_sla_without_a_calendar_still_loads_and_needs_one_at_the_workflow():
    document = _zendesk_document(id="no_calendar")
    document["sla"] = {k: v for k, v in document["sla"].items() if k not in ("calendar", "calendars")}
    lifecycle = tf.load_lifecycle(document)  # the workflow may give the calendar
    with pytest.raises(tf.InvalidLifecycle, match="no calendar"):
        tf.Workflow(lifecycle)
    assert tf.Workflow(lifecycle, calendar=tf.BusinessCalendar.always_open()).sla_policy is not None


def test_two_lifecycles_with_one_key_prefix_in_one_store_are_refused(repository: tf.TicketRepository):
    first = tf.Workflow(tf.builtin("interfacing"), repository)
    second_lc = tf.builtin("clickup").extend({"id": "clickup_int", "key_prefix": "INT"})
    early = tf.Workflow(second_lc, repository)  # made before the store held any INT- key
    opened = first.open(AGENT, title="first", fields=_required(first.lifecycle))
    assert opened.id == "INT-1"
    with pytest.raises(tf.InvalidLifecycle, match=r"key_prefix.*'INT' is already used by lifecycle 'interfacing'"):
        tf.Workflow(second_lc, repository)
    before = repository.count()
    with pytest.raises(tf.InvalidLifecycle, match="already used by lifecycle 'interfacing'"):
        early.open(AGENT, title="second", fields=_required(second_lc))
    assert repository.count() == before
    assert first.get("INT-1") == opened


def _required(lifecycle: tf.Lifecycle) -> dict[str, object]:
    return {
        name: (spec.choices[0] if spec.choices else spec.example())
        for name, spec in lifecycle.fields.items()
        if lifecycle.initial in spec.required_in
    }


def test_a_sweeper_over_two_lifecycles_delivers_each_ones_messages_and_flags_none_undeliverable(
    repository: tf.TicketRepository,
):
    # each workflow registers notifiers only for its own kinds; before, the first workflow's delivery flagged
    # the other lifecycle's kinds undeliverable (and the demo printed a warning per sweep)
    clock = SteppableClock(T0)
    got: list[tuple[str, str, str]] = []

    def registry(name: str, kinds: list[str]) -> tf.Registry:
        reg = tf.Registry()
        for kind in kinds:
            reg.add_notifier(kind, lambda m, name=name: got.append((name, m.kind, m.ticket_id)))
        return reg

    zendesk = tf.Workflow(
        tf.builtin("zendesk"), repository, clock=clock,
        registry=registry("zendesk", ["request_received", "sla.breached", "sla.warning"]),
    )  # fmt: skip
    sighten = tf.Workflow(
        tf.builtin("sighten"), repository, clock=clock,
        registry=registry("sighten", ["ticket.opened", "sla.breached", "sla.warning"]),
    )  # fmt: skip
    a = zendesk.open(CUSTOMER, title="a", fields={"category": "question"})
    b = sighten.open(CUSTOMER, title="b")
    clock.advance(days=3)
    report = tf.Sweeper([sighten, zendesk]).run_once()
    assert report.delivered == len(got) > 0
    assert ("zendesk", "request_received", a.id) in got
    assert ("sighten", "ticket.opened", b.id) in got
    # a kind both deliver goes to the notifier of the message's own lifecycle
    breached = {(name, ticket) for name, kind, ticket in got if kind == "sla.breached"}
    assert breached == {("zendesk", a.id), ("sighten", b.id)}
    assert zendesk.deliveries(status="undeliverable", limit=1000) == []


def test_a_bad_sla_or_intake_section_is_refused_right_after_a_plain_import(tmp_path: Path):
    # `import ticketflow` loads its packages lazily; the first load_lifecycle must still build [sla] and [intake]
    # (a fresh interpreter: this test module has imported everything already)
    import json
    import subprocess
    import sys

    bad_sla = _zendesk_document(id="broken_sla")
    bad_sla["sla"]["metrics"][1]["pause"] = {"states": ["nowhere"]}
    bad_intake = _zendesk_document(id="broken_intake")
    bad_intake["intake"] = {**bad_intake["intake"], "routes": [{"when": {"colour": "red"}, "policy": "continuity"}]}
    for document, path in ((bad_sla, "sla.metrics[1].pause.states[0]"), (bad_intake, "intake.routes[0].when.colour")):
        file = tmp_path / f"{document['id']}.json"
        file.write_text(json.dumps(document))
        script = (
            "import sys, ticketflow as tf\n"
            "try:\n"
            f"    tf.load_lifecycle({str(file)!r})\n"
            "except tf.InvalidLifecycle as refused:\n"
            "    print(refused.path)\n"
            "else:\n"
            "    print('loaded')\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)  # noqa: S603
        assert done.stdout.strip() == path
