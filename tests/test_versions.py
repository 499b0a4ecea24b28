"""Lifecycle versions: tickets know the version they were opened under; a Workflow refuses states it lacks."""

import os
import tomllib
from datetime import UTC, datetime, timedelta
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


@pytest.mark.parametrize("call", ["allowed", "comment", "move_to", "view"])
def test_a_stranger_meeting_a_version_mismatch_is_told_only_that_no_such_ticket_exists(call: str):
    repository = tf.MemoryRepository()
    ticket_id = waiting_ticket(repository)
    wf = tf.Workflow(v2_renamed(), repository)
    stranger = tf.Actor("mallory", roles={"requester"})
    doors: dict[str, Any] = {
        "allowed": lambda key: wf.allowed(key, stranger, at=T0),
        "comment": lambda key: wf.comment(key, stranger, "hi", at=T0),
        "move_to": lambda key: wf.move_to(key, "in_progress", stranger, at=T0),
        "view": lambda key: wf.view(key, stranger),
    }
    answers = []
    for key in (ticket_id, "no-such-ticket"):  # the state and the versions of a ticket they may not see: nothing
        with pytest.raises(tf.TicketNotFound) as raised:
            doors[call](key)
        answers.append(str(raised.value).replace(key, "KEY"))
    assert answers[0] == answers[1]


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


# -- migrations ------------------------------------------------------------------------------

SLA = """
[sla]
calendar = "office"
warn_at = [0.5]

[sla.calendars.office]
timezone = "UTC"
hours = { mon-fri = ["09:00-17:00"] }

[[sla.metrics]]
id = "resolution"
targets = [{ target = "8h" }]
pause = { states = ["waiting_on_requester"] }
"""

RENAME_PLAN = {
    "from": 1,
    "to": 2,
    "timers": "keep",
    "sla": "keep",
    "states": {"waiting_on_requester": "waiting_on_customer"},
}


def with_sla(lifecycle_text: str, source: str) -> tf.Lifecycle:
    return tf.loads_lifecycle(lifecycle_text + SLA, source=source)


def v1_sla() -> tf.Lifecycle:
    return with_sla(EXAMPLE.read_text(), "v1")


def v2_sla() -> tf.Lifecycle:
    text = (EXAMPLE.read_text() + SLA).replace("waiting_on_requester", "waiting_on_customer")
    return tf.loads_lifecycle(text.replace("version = 1", "version = 2", 1), source="v2")


def at(hour: int, minute: int = 0, day: int = 5) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def asked(wf: tf.Workflow, when: datetime) -> str:
    """A ticket opened at 09:00 and put in the waiting state at *when*."""
    t = wf.open(ALICE, title="Laptop broken", at=at(9))
    wf.fire(t.id, "triage", BOB, fields={"category": "hardware"}, at=at(9))
    wf.fire(t.id, "start", BOB, assignee="bob", at=at(9))
    return wf.fire(t.id, "ask", BOB, comment="Which model?", at=when).id


def test_a_renamed_state_migrated_with_a_plan_keeps_working_and_keeps_its_sla_pause():
    repository = tf.MemoryRepository()
    old = tf.Workflow(v1_sla(), repository)
    ticket_id = asked(old, at(10))
    before = old.sla(ticket_id, at(12))[0]
    assert (before.paused, before.elapsed) == (True, timedelta(hours=1))
    with pytest.raises(LifecycleVersionMismatch):  # version 2 alone does not know the state
        tf.Workflow(v2_sla(), repository).get(ticket_id)
    new = tf.Workflow(v2_sla(), repository, previous=[v1_sla()])
    assert new.get(ticket_id).state == "waiting_on_requester"  # until migrated, served under version 1
    report = new.migrate(RENAME_PLAN, at=at(12))
    assert (report.moves, report.already, report.refused, report.dry_run) == (
        {("waiting_on_requester", "waiting_on_customer"): 1},
        0,
        (),
        False,
    )
    ticket = new.get(ticket_id)
    assert (ticket.state, ticket.version) == ("waiting_on_customer", 5)
    event = new.history(ticket_id)[-1]
    assert (event.trigger, event.source, event.target, event.actor) == (
        "migrate",
        "waiting_on_requester",
        "waiting_on_customer",
        tf.model.SYSTEM,
    )
    assert event.meta["migrated"]["states"] == {"waiting_on_requester": "waiting_on_customer"}
    assert (event.meta["migrated"]["from_version"], event.meta["migrated"]["to_version"]) == (1, 2)
    assert event.meta["lifecycle_fingerprint"] == v2_sla().fingerprint
    assert tf.replay(new.history(ticket_id)) == ticket
    clock = new.sla(ticket_id, at(14))[0]
    assert (clock.paused, clock.elapsed) == (True, timedelta(hours=1))  # paused since 10:00, across the migration
    assert "start" in new.allowed(ticket_id, BOB, at=at(14))
    with pytest.raises(LifecycleVersionMismatch) as raised:  # the old process meets a state only version 2 has
        tf.Workflow(v1_sla(), repository).comment(ticket_id, ALICE, "It is a T14", at=at(14))
    assert (raised.value.recorded_version, raised.value.current_version) == (2, 1)  # migrated to 2, not opened
    replied = new.comment(ticket_id, ALICE, "It is a T14", at=at(14))
    assert replied.state == "in_progress"
    running = new.sla(ticket_id, at(15))[0]
    assert (running.paused, running.elapsed) == (False, timedelta(hours=2))


def test_a_migration_runs_once_per_ticket_a_rerun_skips_the_migrated():
    repository = tf.MemoryRepository()
    old = tf.Workflow(v1(), repository)
    waiting = [asked_plain(old) for _ in range(3)]
    fresh = old.open(ALICE, title="new one", at=T0).id
    new = tf.Workflow(v2_renamed(), repository, previous=[v1()])
    opened_new = new.open(ALICE, title="opened by v2", at=T0).id
    plan = {**RENAME_PLAN, "sla": None}
    del plan["sla"]
    dry = new.migrate(plan, dry_run=True, at=T0)
    assert (dry.dry_run, dry.moves, dry.already, dry.refused) == (
        True,
        {("waiting_on_requester", "waiting_on_customer"): 3, ("new", "new"): 1},
        1,
        (),
    )
    assert [repository.get(i).version for i in waiting] == [4, 4, 4]  # dry: nothing written
    first = new.migrate(plan, batch=2, at=T0)
    assert (first.migrated, first.already) == (4, 1)
    again = new.migrate(plan, at=T0)
    assert (again.migrated, again.already, again.refused) == (0, 5, ())
    for ticket_id in [*waiting, fresh]:
        assert [e.trigger for e in repository.history(ticket_id)].count("migrate") == 1
    assert [e.trigger for e in repository.history(opened_new)] == ["open"]
    assert "would migrate 4 tickets" in "\n".join(dry.lines())


def asked_plain(wf: tf.Workflow) -> str:
    t = wf.open(ALICE, title="Laptop broken", at=T0)
    wf.fire(t.id, "triage", BOB, fields={"category": "hardware"}, at=T0)
    wf.fire(t.id, "start", BOB, assignee="bob", at=T0)
    return wf.fire(t.id, "ask", BOB, comment="Which model?", at=T0).id


def test_tickets_that_cannot_move_are_reported_with_the_reason_and_left_alone():
    repository = tf.MemoryRepository()
    old = tf.Workflow(v1(), repository)
    ok = asked_plain(old)
    urgent = old.open(BOB, title="x", fields={"priority": "urgent"}, at=T0).id
    text = EXAMPLE.read_text().replace('"high", "urgent"]', '"high"]').replace("version = 1", "version = 2", 1)
    new = tf.Workflow(tf.loads_lifecycle(text, source="v2"), repository, previous=[v1()])
    report = new.migrate({"from": 1, "to": 2, "timers": "keep"}, at=T0)
    assert report.moves == {("waiting_on_requester", "waiting_on_requester"): 1}
    ((ticket_id, why),) = report.refused
    assert ticket_id == urgent
    assert "priority" in why
    assert "urgent" in why
    assert [e.trigger for e in repository.history(urgent)] == ["open"]
    assert repository.history(ok)[-1].trigger == "migrate"


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"states": {}}, "states", "waiting_on_requester"),
        ({"states": {"waiting_on_requester": "nowhere"}}, "states.waiting_on_requester", "nowhere"),
        ({"states": {"limbo": "new"}}, "states.limbo", "no state"),
        ({"from": 3}, "from", "3"),
        ({"to": 7}, "to", "7"),
        ({"timers": None}, "timers", "timed rules"),
        ({"timers": "forget"}, "timers", "keep"),
        ({"fields": {"rename": {"nope": "priority"}}}, "fields.rename.nope", "no field"),
        ({"fields": {"defaults": {"priority": "p0"}}}, "fields.defaults.priority", "p0"),
        ({"fields": {"color": 1}}, "fields.color", "unknown key"),
        ({"tags": {"rename": {"vip": "very-important"}}}, "tags.rename.vip", "very-important"),
        ({"oops": 1}, "oops", "unknown key"),
    ],
)
def test_a_plan_that_does_not_fit_the_versions_is_refused_with_its_path(change, path, words):
    plan = {**RENAME_PLAN, **change}
    plan = {k: v for k, v in plan.items() if v is not None and k != "sla"}
    repository = tf.MemoryRepository()
    ticket_id = asked_plain(tf.Workflow(v1(), repository))
    new = tf.Workflow(v2_renamed(), repository, previous=[v1()])
    with pytest.raises(tf.InvalidMigration) as raised:
        new.migrate(plan, at=T0)
    assert isinstance(raised.value, tf.InvalidLifecycle)
    assert raised.value.path == path
    assert words in raised.value.problem
    assert len(repository.history(ticket_id)) == 4  # nothing written


def test_a_field_the_new_version_requires_in_a_target_state_needs_a_default():
    text = EXAMPLE.read_text().replace("version = 1", "version = 2", 1)
    text = text.replace(
        '[fields.due]\ntype = "date"',
        '[fields.due]\ntype = "date"\n\n[fields.team]\ntype = "string"\nrequired_in = ["in_progress"]',
    )
    new = tf.loads_lifecycle(text, source="v2")
    with pytest.raises(tf.InvalidMigration) as raised:
        tf.load_migration({"from": 1, "to": 2, "timers": "keep"}, v1(), new)
    assert raised.value.path in ("states.in_progress", "states.waiting_on_requester")
    assert "team" in raised.value.problem
    assert "default" in raised.value.problem
    plan = tf.load_migration({"from": 1, "to": 2, "timers": "keep", "fields": {"defaults": {"team": "l1"}}}, v1(), new)
    repository = tf.MemoryRepository()
    ticket_id = asked_plain(tf.Workflow(v1(), repository))
    tf.Workflow(new, repository, previous=[v1()]).migrate(plan, at=T0)
    assert repository.get(ticket_id).fields["team"] == "l1"


def test_field_and_tag_renames_are_recorded_and_replay():
    text = EXAMPLE.read_text().replace("version = 1", "version = 2", 1)
    text = text.replace("[fields.category]", "[fields.kind]").replace('"vip", "hardware"', '"vip", "hw"')
    text = text.replace('category = "hardware"', 'kind = "hardware"')
    new = tf.loads_lifecycle(text, source="v2")
    repository = tf.MemoryRepository()
    old = tf.Workflow(v1(), repository)
    ticket_id = asked_plain(old)
    old.update(ticket_id, BOB, add_tags=["hardware"], at=T0)
    plan = {
        "from": 1,
        "to": 2,
        "timers": "keep",
        "fields": {"rename": {"category": "kind"}},
        "tags": {"rename": {"hardware": "hw"}},
    }
    tf.Workflow(new, repository, previous=[v1()]).migrate(plan, at=T0)
    ticket = repository.get(ticket_id)
    assert dict(ticket.fields) == {"priority": "normal", "kind": "hardware"}
    assert ticket.tags == {"hw"}
    assert tf.replay(repository.history(ticket_id)) == ticket
    assert repository.history(ticket_id)[-1].meta["migrated"]["fields"] == {"category": "kind"}


def resolved_v2(text_change: bool = True) -> tf.Lifecycle:
    text = EXAMPLE.read_text().replace("version = 1", "version = 2", 1)
    text = text.replace('"resolved"', '"done"').replace("[states.resolved]", "[states.done]")
    text = text.replace('source = "resolved"', 'source = "done"').replace('state = "resolved"', 'state = "done"')
    text = text.replace('required_in = ["resolved"]', 'required_in = ["done"]')
    return tf.loads_lifecycle(text, source="v2")


@pytest.mark.parametrize(("timers", "due"), [("keep", T0 + timedelta(days=3)), ("restart", T0 + timedelta(days=4))])
def test_timers_count_from_the_original_entry_or_restart_as_the_plan_says(timers, due):
    repository = tf.MemoryRepository()
    old = tf.Workflow(v1(), repository)
    ticket_id = asked_plain(old)
    old.comment(ticket_id, ALICE, "T14", at=T0)
    old.fire(ticket_id, "resolve", BOB, fields={"resolution": "swapped"}, at=T0)
    assert repository.due(T0 + timedelta(days=9)) == [(ticket_id, T0 + timedelta(days=3))]
    new = tf.Workflow(resolved_v2(), repository, previous=[v1()])
    plan = {"from": 1, "to": 2, "timers": timers, "states": {"resolved": "done"}}
    new.migrate(plan, at=T0 + timedelta(days=1))
    assert repository.due(T0 + timedelta(days=9)) == [(ticket_id, due)]
    assert new.run_due(due - timedelta(seconds=1)).fired == ()
    (closed,) = new.run_due(due).fired
    assert (closed.source, closed.target, closed.meta["rule"]) == ("done", "closed", "auto_close")


def test_a_workflow_refuses_previous_versions_of_another_lifecycle_or_a_repeated_number():
    with pytest.raises(tf.InvalidLifecycle, match="repeats version 1"):
        tf.Workflow(v2_renamed(), previous=[v1(), v1()])
    with pytest.raises(tf.InvalidLifecycle, match="not 'helpdesk'"):
        tf.Workflow(v2_renamed(), previous=[tf.builtin("zendesk")])
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.Workflow(v2_renamed(), previous=[v2_sla()])  # the current version's number again
    assert caught.value.path == "version"
    assert "previous[0] is version 2, the current version's number" in str(caught.value)
    wf = tf.Workflow(v2_renamed(), previous=[v1()])
    assert sorted(wf.versions) == [1, 2]
    with pytest.raises(tf.InvalidMigration, match="knows: 2"):
        tf.Workflow(v2_renamed()).migrate(RENAME_PLAN)


BACK_PLAN = {"from": 2, "to": 1, "timers": "keep", "states": {"waiting_on_customer": "waiting_on_requester"}}


def test_a_rollback_plan_runs_from_a_workflow_on_the_lower_version_and_from_the_cli(tmp_path: Path):
    repository = tf.MemoryRepository()
    ticket_id = waiting_ticket(repository)
    tf.Workflow(v2_renamed(), repository, previous=[v1()]).migrate(RENAME_PLAN, at=T0)
    plan = tf.load_migration(BACK_PLAN, v2_renamed(), v1())
    back = tf.Workflow(v1(), repository, previous=[v2_renamed()])  # a higher "previous" version: a rollback
    assert sorted(back.versions) == [1, 2]
    assert back.migrate(plan, at=T0).migrated == 1
    assert back.get(ticket_id).state == "waiting_on_requester"
    assert [e.trigger for e in back.history(ticket_id)].count("migrate") == 2

    from click.testing import CliRunner

    from ticketflow.cli import cli

    db = tmp_path / "t.db"
    older, newer, plan_file = tmp_path / "v1.toml", tmp_path / "v2.toml", tmp_path / "back.toml"
    older.write_text(EXAMPLE.read_text())
    newer.write_text(
        EXAMPLE.read_text()
        .replace("waiting_on_requester", "waiting_on_customer")
        .replace("version = 1", "version = 2", 1)
    )
    plan_file.write_text('from = 2\nto = 1\ntimers = "keep"\n[states]\nwaiting_on_customer = "waiting_on_requester"\n')
    store = tf.SQLiteRepository(db)
    opened = tf.Workflow(tf.load_lifecycle(newer), store).open(ALICE, title="x", at=T0)
    result = CliRunner().invoke(cli, ["migrate", str(newer), str(older), "--plan", str(plan_file), "--db", str(db)])
    assert result.exit_code == 0, result.output
    last = store.history(opened.id)[-1]
    assert (last.trigger, last.meta["migrated"]["to_version"]) == ("migrate", 1)


def test_a_sweep_meeting_a_ticket_of_another_version_skips_it_and_serves_the_rest():
    repository = tf.MemoryRepository()
    old = tf.Workflow(v1(), repository)
    stranger = asked_plain(old)
    old.comment(stranger, ALICE, "T14", at=T0)
    old.fire(stranger, "resolve", BOB, fields={"resolution": "swapped"}, at=T0)  # version 2 calls it "done"
    new = tf.Workflow(resolved_v2(), repository)
    served = asked_plain(new)
    new.comment(served, ALICE, "T14", at=T0)
    new.fire(served, "resolve", BOB, fields={"resolution": "swapped"}, at=T0 + timedelta(hours=1))
    result = new.run_due(T0 + timedelta(days=5))
    assert [ticket_id for ticket_id, _ in result.skipped] == [stranger]
    assert "'resolved'" in result.skipped[0][1]
    assert [e.ticket_id for e in result.fired] == [served]
    assert repository.get(stranger).state == "resolved"
    assert repository.due(T0 + timedelta(days=5)) == [(stranger, T0 + timedelta(days=3))]  # left due, for its version


EXAMPLES = Path(__file__).parent.parent / "examples"


def test_the_migration_example_runs_on_sqlite(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    import runpy

    report = runpy.run_path(str(EXAMPLES / "migrate_lifecycle.py"))["main"](tmp_path / "tickets.db")
    out = capsys.readouterr().out
    assert report.moves == {
        ("new", "new"): 1,
        ("rejected", "resolved"): 1,
        ("waiting_on_requester", "waiting_on_customer"): 1,
    }
    assert "VPN drops: waiting_on_customer, kind=access, team=desk" in out
    assert "after the customer's answer: in_progress" in out
    assert "Buy me a yacht: resolved, resolution=rejected" in out
    assert "migrated 0 tickets; 3 already on the new version" in out


def test_the_migrate_command_reports_dry_then_migrates(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    from ticketflow.cli import main

    db = tmp_path / "tickets.db"
    repository = tf.SQLiteRepository(db)
    old = tf.Workflow(tf.load_lifecycle(EXAMPLES / "custom_lifecycle.toml"), repository)
    ticket_id = asked_plain(old)
    repository.close()
    argv = [
        "migrate",
        str(EXAMPLES / "custom_lifecycle.toml"),
        str(EXAMPLES / "custom_lifecycle_v2.toml"),
        "--plan",
        str(EXAMPLES / "migrate_v1_to_v2.toml"),
        "--db",
        str(db),
    ]
    assert main([*argv, "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "would migrate 1 tickets; 0 already on the new version; 0 cannot move",
        "  waiting_on_requester -> waiting_on_customer: 1",
    ]
    assert main([*argv, "--part", "1/2"]) == 0
    assert main([*argv, "--part", "2/2"]) == 0
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "migrated 1 tickets" in out
    assert "migrated 0 tickets; 1 already on the new version" in out
    repository = tf.SQLiteRepository(db)
    assert repository.get(ticket_id).state == "waiting_on_customer"
    repository.close()
    assert main([*argv[:4], str(EXAMPLES / "custom_lifecycle.toml"), *argv[5:]]) == 1
    assert "Error: " in capsys.readouterr().err


# -- rescheduling: a tightened target's alerts arrive at the new times ------------------------

FIRST_RESPONSE = """
[sla]
calendar = "office"
warn_at = [0.75]

[sla.calendars.office]
timezone = "UTC"
hours = { mon-fri = ["09:00-17:00"] }

[[sla.metrics]]
id = "first_response"
targets = [{ target = "TARGET" }]
"""


def first_response(target: str, version: int) -> tf.Lifecycle:
    text = EXAMPLE.read_text().replace("version = 1", f"version = {version}", 1)
    return tf.loads_lifecycle(text + FIRST_RESPONSE.replace("TARGET", target), source=f"v{version}")


def alerts_over_the_day(
    wf: tf.Workflow, repository: tf.MemoryRepository, start: datetime
) -> list[tuple[str, datetime]]:
    """Sweep every 5 minutes until 18:00; (kind, sweep instant) of each SLA alert as it is written."""
    seen: set[str] = set()
    arrived = []
    now = start
    while now <= at(18):
        wf.run_due(now)
        for message in repository.pending_messages(1000):
            if message.key not in seen and message.kind.startswith("sla."):
                seen.add(message.key)
                arrived.append((message.kind, now))
        now += timedelta(minutes=5)
    return arrived


def opened_under_8h(repository: tf.MemoryRepository) -> str:
    old = tf.Workflow(first_response("8h", 1), repository)
    return old.open(ALICE, title="Printer jam", at=at(9)).id  # 8h: warning 15:00, breach after 17:00


def test_after_tightening_a_target_by_a_migration_the_warning_then_the_breach_arrive_at_the_new_times():
    repository = tf.MemoryRepository()
    ticket_id = opened_under_8h(repository)
    assert repository.due(at(23)) == [(ticket_id, at(15))]
    new = tf.Workflow(first_response("4h", 2), repository, previous=[first_response("8h", 1)])
    new.migrate({"from": 1, "to": 2, "timers": "keep", "sla": "reapply"}, at=at(10))  # the running cycle too
    assert repository.due(at(23)) == [(ticket_id, at(12))]  # 4h: warning at 12:00, breach after 13:00
    assert alerts_over_the_day(new, repository, at(10)) == [("sla.warning", at(12)), ("sla.breached", at(13, 5))]
    (clock,) = new.sla(ticket_id, at(14))
    assert (clock.target, clock.breached, clock.cycles[0].version) == (timedelta(hours=4), True, 1)


def test_a_policy_change_applies_to_cycles_that_start_after_it_and_never_to_finished_ones():
    repository = tf.MemoryRepository()
    old = tf.Workflow(first_response("8h", 1), repository)
    answered = old.open(ALICE, title="answered", at=at(9)).id
    old.comment(answered, BOB, "On it", at=at(14))  # met after 5h against 8h
    running = old.open(ALICE, title="running", at=at(9)).id
    new = tf.Workflow(first_response("4h", 2), repository, previous=[first_response("8h", 1)])
    new.migrate({"from": 1, "to": 2, "timers": "keep", "sla": "keep"}, at=at(15))
    later = new.open(ALICE, title="opened under version 2", at=at(15)).id
    now = at(16, 30)
    (met,) = new.sla(answered, now)
    assert (met.target, met.breached, met.cycles[0].version) == (timedelta(hours=8), False, 1)  # never re-judged
    (kept,) = new.sla(running, now)
    assert (kept.target, kept.breached, kept.due_at) == (timedelta(hours=8), False, at(17))  # started under v1
    (fresh,) = new.sla(later, now)
    assert (fresh.target, fresh.cycles[0].version) == (timedelta(hours=4), 2)
    due = [(running, at(17) + timedelta(microseconds=1)), (later, at(10, day=6))]
    assert repository.due(at(23, day=6)) == due  # the kept 8h breach, then the 4h warning of the new one
    report = new.sla_report(now, by_version=True)
    assert [(m.version, m.target, m.met, m.running) for m in report.for_metric("first_response")] == [
        (1, timedelta(hours=8), 1, 1),
        (2, timedelta(hours=4), 0, 1),
    ]
    assert report.for_metric("first_response")[0].line().startswith("first_response (v1) within 8:00:00")


def test_reschedule_recomputes_every_stored_due_instant_through_the_write_path():
    repository = tf.MemoryRepository()
    ticket_id = opened_under_8h(repository)
    other = opened_under_8h(repository)
    tightened = tf.Workflow(first_response("4h", 1), repository)  # the same version number, loaded anew
    written: list[tf.Event] = []
    tightened.subscribe(lambda _t, e: written.append(e))
    report = tightened.reschedule(batch=1, at=at(10))
    assert (report.rescheduled, report.skipped) == (2, ())
    assert written == []  # no event: only the due instant changes
    assert [e.trigger for e in repository.history(ticket_id)] == ["open"]
    assert sorted(repository.due(at(23))) == sorted([(ticket_id, at(12)), (other, at(12))])
    kinds = alerts_over_the_day(tightened, repository, at(10))
    assert kinds == [("sla.warning", at(12))] * 2 + [("sla.breached", at(13, 5))] * 2


def test_migrate_and_reschedule_refuse_bad_arguments_by_name_and_write_nothing():
    repository = tf.MemoryRepository()
    ticket_id = waiting_ticket(repository)
    wf = tf.Workflow(v2_renamed(), repository, previous=[v1()])
    refusals: list[tuple[Any, type[Exception], str]] = [
        (lambda: wf.migrate(RENAME_PLAN, batch=0), tf.StorageError, "batch must be at least 1, got 0"),
        (lambda: wf.migrate(RENAME_PLAN, batch="10"), TypeError, "batch must be a positive integer, got str '10'"),
        (lambda: wf.migrate(RENAME_PLAN, part=(2, 2)), tf.StorageError, "part must be (index, count) with 0 <= index"),
        (lambda: wf.migrate(RENAME_PLAN, part="1/2"), TypeError, "part must be (index, count), two integers"),
        (lambda: wf.migrate(RENAME_PLAN, dry_run="no"), TypeError, "dry_run must be True or False, got str 'no'"),
        (lambda: wf.migrate(RENAME_PLAN, dry_run=0), TypeError, "dry_run must be True or False, got int 0"),
        (lambda: wf.migrate(None), TypeError, "plan must be a path, a mapping or a MigrationPlan, got NoneType"),
        (lambda: wf.reschedule(batch=-1), tf.StorageError, "batch must be at least 1, got -1"),
        (lambda: wf.reschedule(batch=2.5), TypeError, "batch must be a positive integer, got float 2.5"),
    ]
    for call, error, message in refusals:
        with unchanged(wf, ticket_id), pytest.raises(error) as caught:
            call()
        assert str(caught.value).startswith(message)
    assert wf.migrate(RENAME_PLAN, part=[0, 1]).moves == {("waiting_on_requester", "waiting_on_customer"): 1}


def test_reschedule_skips_tickets_in_states_this_version_lacks():
    repository = tf.MemoryRepository()
    stranger = asked_plain(tf.Workflow(v1(), repository))
    report = tf.Workflow(v2_renamed(), repository).reschedule(at=T0)
    assert (report.rescheduled, report.skipped) == (0, (stranger,))


# -- crash and concurrency: every ticket migrated exactly once --------------------------------

PG_URL = os.environ.get("TICKETFLOW_TEST_POSTGRES_URL")
V1_FILE, V2_FILE, PLAN_FILE = (
    EXAMPLES / "custom_lifecycle.toml",
    EXAMPLES / "custom_lifecycle_v2.toml",
    EXAMPLES / "migrate_v1_to_v2.toml",
)

KILLED_MIDWAY = """
import os, signal, sys
from datetime import UTC, datetime
import ticketflow as tf

v1, v2 = tf.load_lifecycle(sys.argv[2]), tf.load_lifecycle(sys.argv[3])
where = sys.argv[1]
if where.startswith("postgresql"):
    import ticketflow.repository.postgres as pg

    url, _, schema = where.partition("#")
    repository = (getattr(pg, "PostgresRepository", None) or pg.SQLAlchemyRepository)(url, schema=schema)
else:
    repository = tf.SQLiteRepository(where)
wf = tf.Workflow(v2, repository, previous=[v1])
seen = 0

def crash_after_two_batches(ticket, event):
    global seen
    seen += 1
    if seen == 2 * 50 + 1:  # the third batch committed; die before reporting, as a kill -9 would
        os.kill(os.getpid(), signal.SIGKILL)

wf.subscribe(crash_after_two_batches)
wf.migrate(sys.argv[4], batch=50, at=datetime(2026, 1, 6, tzinfo=UTC))
print("not killed")
"""


def many_tickets(repository: tf.TicketRepository, count: int) -> list[str]:
    """*count* version-1 tickets, a third waiting on the requester, loaded in one transaction."""
    engine = tf.load_lifecycle(V1_FILE).engine
    ids = []
    with repository.transaction() as tx:
        for i in range(count):
            ticket, opened = engine.open(f"K{i:05d}", ALICE, T0, title="t", fields={"category": "access"})
            events = [opened]
            if i % 3 == 0:
                ticket, event, _ = engine.apply(ticket, "triage", BOB, T0)
                events.append(event)
                ticket, event, _ = engine.apply(ticket, "start", BOB, T0, attributes={"assignee": "bob"})
                events.append(event)
                ticket, event, _ = engine.apply(ticket, "ask", BOB, T0, comment=tf.Comment("bob", "?"))
                events.append(event)
            tx.add(ticket, events, due=None)
            ids.append(ticket.id)
    return ids


def migrations(repository: tf.TicketRepository, ids: list[str]) -> list[int]:
    return [[e.trigger for e in repository.history(i)].count("migrate") for i in ids]


def test_a_migration_killed_midway_and_run_again_migrates_every_ticket_exactly_once(store: Any, tmp_path: Path):
    import subprocess
    import sys

    ids = many_tickets(store(), 400)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_MIDWAY)
    run = subprocess.run(  # noqa: S603 - our own interpreter running our own script
        [sys.executable, str(script), store.where, str(V1_FILE), str(V2_FILE), str(PLAN_FILE)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == -9, run.stderr
    assert "not killed" not in run.stdout
    repository = store()
    assert sorted(set(migrations(repository, ids))) == [0, 1]  # killed midway: some moved, some not
    assert migrations(repository, ids).count(1) == 150  # three whole batches, nothing half-written
    v1, v2 = tf.load_lifecycle(V1_FILE), tf.load_lifecycle(V2_FILE)
    report = tf.Workflow(v2, repository, previous=[v1]).migrate(PLAN_FILE, batch=50)
    assert (report.migrated, report.already, report.refused) == (250, 150, ())
    assert migrations(repository, ids) == [1] * 400


def pg_repository(schema: str) -> tf.TicketRepository:
    import ticketflow.repository.postgres as pg

    kind: Any = getattr(pg, "PostgresRepository", None) or pg.SQLAlchemyRepository
    assert PG_URL is not None
    repository: tf.TicketRepository = kind(PG_URL, schema=schema)
    return repository


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.skipif(not PG_URL, reason="PostgreSQL TESTS SKIPPED: no URL")),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A factory of repositories on one store (each worker opens its own), closed and dropped afterwards."""
    made: list[Any] = []
    schema = None
    if request.param == "postgres":
        import uuid

        schema = f"tf_test_{uuid.uuid4().hex[:12]}"

    def make() -> Any:
        repository = tf.SQLiteRepository(tmp_path / "shared.db") if schema is None else pg_repository(schema)
        made.append(repository)
        return repository

    make.where = str(tmp_path / "shared.db") if schema is None else f"{PG_URL}#{schema}"  # for a subprocess
    yield make
    for repository in made:
        repository.close()
    if schema is not None:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_concurrent_migrations_and_an_old_writer_migrate_every_ticket_once_and_lose_no_write(store: Any):
    import threading

    first = store()
    ids = many_tickets(first, 120)
    v1, v2 = tf.load_lifecycle(V1_FILE), tf.load_lifecycle(V2_FILE)
    reports: list[tf.MigrationReport] = []
    errors: list[BaseException] = []
    updated: list[str] = []

    def migrator() -> None:
        try:
            reports.append(tf.Workflow(v2, store(), previous=[v1]).migrate(PLAN_FILE, batch=10))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def old_writer() -> None:  # an old process still serving the tickets it can during the migration
        wf = tf.Workflow(v1, store())
        for ticket_id in ids[1::3]:  # tickets in `new`, a state both versions have
            try:
                wf.update(ticket_id, BOB, fields={"priority": "high"}, at=T0)
                updated.append(ticket_id)
            except (tf.LifecycleVersionMismatch, tf.ConcurrencyConflict):
                pass

    threads = [threading.Thread(target=migrator) for _ in range(3)] + [threading.Thread(target=old_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.migrated for r in reports) == 120
    assert all(r.refused == () for r in reports)
    check = store()
    assert migrations(check, ids) == [1] * 120
    for ticket_id in updated:  # no write lost: the update is in the history, before or after the migration
        history = check.history(ticket_id)
        assert [e.trigger for e in history].count("update") == 1
        assert tf.replay(history) == check.get(ticket_id)


def test_two_migrations_compose_a_rename_of_a_rename_keeps_the_pause_and_the_entry():
    repository = tf.MemoryRepository()
    ticket_id = asked(tf.Workflow(v1_sla(), repository), at(10))
    text = (EXAMPLE.read_text() + SLA).replace("waiting_on_requester", "awaiting")
    v3 = tf.loads_lifecycle(text.replace("version = 1", "version = 3", 1), source="v3")
    tf.Workflow(v2_sla(), repository, previous=[v1_sla()]).migrate(RENAME_PLAN, at=at(11))
    plan = {"from": 2, "to": 3, "timers": "keep", "sla": "keep", "states": {"waiting_on_customer": "awaiting"}}
    third = tf.Workflow(v3, repository, previous=[v2_sla()])
    third.migrate(plan, at=at(12))
    history = third.history(ticket_id)
    assert [(e.source, e.target) for e in history[-2:]] == [
        ("waiting_on_requester", "waiting_on_customer"),
        ("waiting_on_customer", "awaiting"),
    ]
    named = tf.versions.in_current_names(history)
    assert [(e.source, e.target) for e in named[-3:]] == [
        ("in_progress", "awaiting"),  # the entry, in today's name
        ("awaiting", "awaiting"),  # each migration: no new entry
        ("awaiting", "awaiting"),
    ]
    assert tf.versions.recorded_version(history) == (3, v3.fingerprint)
    (clock,) = third.sla(ticket_id, at(15))
    assert (clock.paused, clock.elapsed) == (True, timedelta(hours=1))


def test_tickets_of_another_version_never_starve_the_rest_of_a_sweep():
    repository = tf.MemoryRepository()
    old = tf.Workflow(v1(), repository)
    strangers = []
    for _ in range(3):  # resolved under version 1: due first, in a state version 2 calls "done"
        ticket_id = asked_plain(old)
        old.comment(ticket_id, ALICE, "T14", at=T0)
        strangers.append(old.fire(ticket_id, "resolve", BOB, fields={"resolution": "x"}, at=T0).id)
    new = tf.Workflow(resolved_v2(), repository, clock=tf.SteppableClock(T0 + timedelta(days=5)))
    served = asked_plain(new)
    new.comment(served, ALICE, "T14", at=T0)
    new.fire(served, "resolve", BOB, fields={"resolution": "x"}, at=T0 + timedelta(hours=1))  # due after them
    result = new.run_due(limit=2)
    assert sorted(ticket_id for ticket_id, _ in result.skipped) == sorted(strangers)
    assert [e.ticket_id for e in result.fired] == [served]
    report = tf.Sweeper(new, batch=2).run_once()  # terminates, though the skipped stay due
    assert sorted(ticket_id for ticket_id, _ in report.result.skipped) == sorted(strangers)
    assert report.result.fired == ()


# -- one Workflow, several versions: each ticket under the version it is on ---------------------


def test_a_workflow_with_previous_versions_serves_each_ticket_under_its_own_version():
    repository = tf.MemoryRepository()
    old_ticket = asked_plain(tf.Workflow(v1(), repository))  # in waiting_on_requester: version 1 only
    with pytest.raises(LifecycleVersionMismatch):  # without previous=: refused, as before
        tf.Workflow(v2_renamed(), repository).get(old_ticket)
    wf = tf.Workflow(v2_renamed(), repository, previous=[v1()])
    new_ticket = asked_plain(wf)  # opened by version 2: in waiting_on_customer
    assert (wf.get(old_ticket).state, wf.get(new_ticket).state) == ("waiting_on_requester", "waiting_on_customer")
    assert "start" in wf.allowed(old_ticket, BOB, at=T0)
    assert len(wf.history(old_ticket)) == 4
    assert wf.sla(old_ticket, T0) == []
    assert wf.view(old_ticket, BOB).ticket.state == "waiting_on_requester"
    replied = wf.comment(old_ticket, ALICE, "It is a T14", at=T0)  # version 1's `requester_replied`
    assert (replied.state, replied.version) == ("in_progress", 5)
    assert wf.comment(new_ticket, ALICE, "Mine too", at=T0).state == "in_progress"
    # back in a state both versions have, it is served by the current one (it has no migrated event, though)
    assert wf.move_to(old_ticket, "waiting_on_customer", BOB, comment="Which model?", at=T0).state == (
        "waiting_on_customer"
    )


def test_a_sweep_with_previous_versions_fires_each_tickets_own_rules():
    repository = tf.MemoryRepository()
    old = tf.Workflow(v1(), repository)
    ticket_id = asked_plain(old)
    old.comment(ticket_id, ALICE, "T14", at=T0)
    old.fire(ticket_id, "resolve", BOB, fields={"resolution": "swapped"}, at=T0)  # version 2 calls it "done"
    wf = tf.Workflow(resolved_v2(), repository, previous=[v1()])
    result = wf.run_due(T0 + timedelta(days=5))
    assert result.skipped == ()
    (closed,) = result.fired
    assert (closed.ticket_id, closed.source, closed.target, closed.meta["rule"]) == (
        ticket_id,
        "resolved",
        "closed",
        "auto_close",
    )
    assert repository.due(T0 + timedelta(days=30)) == []


def test_the_reschedule_command_recomputes_due_instants(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    from ticketflow.cli import main

    db = tmp_path / "tickets.db"
    repository = tf.SQLiteRepository(db)
    ticket_id = opened_under_8h(repository)
    repository.close()
    tightened = tmp_path / "tightened.toml"
    tightened.write_text(EXAMPLE.read_text() + FIRST_RESPONSE.replace("TARGET", "4h"))
    assert main(["reschedule", str(tightened), "--db", str(db), "--now", "2026-01-05T10:00+00:00"]) == 0
    assert capsys.readouterr().out.splitlines() == ["rescheduled 1 tickets; 0 in states this version lacks"]
    repository = tf.SQLiteRepository(db)
    assert repository.due(at(23)) == [(ticket_id, at(12))]
    repository.close()


def test_an_imported_ticket_on_an_earlier_version_is_due_by_that_version_s_rules():
    """import_jsonl with previous=: a ticket in a state only v1 has gets v1's due instant, and the sweep fires it."""
    import io

    timer = '\n[[timers]]\nid = "nudge"\nstate = "waiting_on_requester"\nafter = "2h"\nadd_tags = ["escalated"]\n'
    text = EXAMPLE.read_text() + timer
    old = tf.loads_lifecycle(text, source="v1")
    renamed = text.replace("waiting_on_requester", "waiting_on_customer").replace("version = 1", "version = 2", 1)
    new = tf.loads_lifecycle(renamed, source="v2")
    source = tf.MemoryRepository()
    wf_old = tf.Workflow(old, source)
    t = wf_old.open(ALICE, title="Laptop broken", at=T0)
    wf_old.fire(t.id, "triage", BOB, fields={"category": "hardware"}, at=T0)
    wf_old.fire(t.id, "start", BOB, assignee="bob", at=T0)
    wf_old.fire(t.id, "ask", BOB, comment="Which model?", at=T0)
    exported = io.StringIO()
    tf.export_jsonl(source, exported)
    target = tf.MemoryRepository()
    wf = tf.Workflow(new, target, previous=[old])
    assert wf.import_jsonl(io.StringIO(exported.getvalue())) == 1
    assert target.due(T0 + timedelta(days=30), 10) == [(t.id, T0 + timedelta(hours=2))]
    fired = wf.run_due(T0 + timedelta(hours=3))
    assert [e.meta["rule"] for e in fired.fired] == ["nudge"]
    assert "escalated" in target.get(t.id).tags


def test_load_migration_names_a_version_that_is_not_a_lifecycle():
    v2 = tf.load_lifecycle(EXAMPLES / "custom_lifecycle_v2.toml")
    plan = EXAMPLES / "migrate_v1_to_v2.toml"
    with pytest.raises(TypeError, match=r"load_migration: old must be a ticketflow Lifecycle \(tf\.load_lifecycle"):
        tf.load_migration(plan, str(EXAMPLES / "custom_lifecycle.toml"), v2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="load_migration: new must be a ticketflow Lifecycle"):
        tf.load_migration(plan, v2, None)  # type: ignore[arg-type]
