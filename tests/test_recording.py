"""One write path (ticketflow.recording): every writer gets due instants and after-commit actions the same way."""

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import ticketflow as tf
from ticketflow.recording import Recorder, Write, opened
from ticketflow.testing import SteppableClock

from .conftest import unchanged

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
CUSTOMER = tf.Actor("customer", roles={"requester"})
AGENT = tf.Actor("agent-7", roles={"agent"})
ISSUE = tf.ExternalRecord("issue", "ENG-7")

#: A small lifecycle where every path can fire a transition with an action and a timer can follow.
FLOW: dict[str, Any] = {
    "id": "flow",
    "initial": "open",
    "states": {"open": {}, "waiting": {}, "closed": {"immutable": True}},
    "transitions": [
        {"trigger": "wait", "source": "open", "dest": "waiting", "roles": ["agent", "system"], "actions": ["count"]},
        {
            "trigger": "close",
            "source": ["open", "waiting"],
            "dest": "closed",
            "roles": ["agent", "system"],
            "actions": ["count"],
        },
    ],
    "timers": [
        {"id": "nudge", "state": "open", "after": "3d", "fire": "wait"},
        {"id": "auto_close", "state": "waiting", "after": "2d", "fire": "close"},
    ],
    "link_rules": [{"record": "issue", "status": "done", "fire": "wait"}],
}


@pytest.fixture(params=["memory", "sqlite"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> tf.TicketRepository:
    return tf.MemoryRepository() if request.param == "memory" else tf.SQLiteRepository(tmp_path / "r.db")


def flow(repository: tf.TicketRepository | None = None, **kwargs: Any) -> tuple[tf.Workflow, SteppableClock, list]:
    """A FLOW workflow whose `count` action records (ticket id, trigger, version) per call."""
    clock = SteppableClock(T0)
    registry = tf.Registry()
    calls: list[tuple[str, str, int]] = []
    registry.add_action("count", lambda ticket, event: calls.append((ticket.id, event.trigger, ticket.version)))
    wf = tf.Workflow(tf.load_lifecycle({**FLOW, **kwargs}), repository, clock=clock, registry=registry)
    return wf, clock, calls


def stored_due(repository: tf.TicketRepository, ticket_id: str) -> datetime | None:
    return dict(repository.due(T0 + timedelta(days=3650), limit=1000)).get(ticket_id)


def test_a_ticket_moved_by_a_link_rule_gets_the_timer_of_its_new_state(repository: tf.TicketRepository):
    wf, clock, _ = flow(repository)
    t = wf.open(CUSTOMER, title="x")
    wf.link(t.id, AGENT, "caused_by", record=ISSUE)
    clock.advance(hours=1)
    (moved,) = wf.linked_record_changed("issue", "ENG-7", status="done")
    assert moved.target == "waiting"
    assert stored_due(repository, t.id) == clock.now() + timedelta(days=2)
    clock.advance(days=2)
    (closing,) = wf.run_due().fired
    assert (closing.meta["rule"], wf.get(t.id).state) == ("auto_close", "closed")


def test_a_broadcast_gets_the_timer_of_its_initial_state(repository: tf.TicketRepository):
    wf, clock, _ = flow(repository)
    t = wf.broadcast(AGENT, title="Maintenance tonight")
    assert stored_due(repository, t.id) == T0 + timedelta(days=3)
    clock.advance(days=3)
    assert [e.meta["rule"] for e in wf.run_due().fired] == ["nudge"]
    assert wf.get(t.id).state == "waiting"


def test_actions_run_once_after_commit_on_timer_link_rule_and_merge(repository: tf.TicketRepository):
    wf, clock, calls = flow(repository)
    timed, linked, dup, original = (wf.open(CUSTOMER, title=n) for n in ("timed", "linked", "dup", "original"))
    clock.advance(days=1)
    wf.link(linked.id, AGENT, "caused_by", record=ISSUE)
    wf.linked_record_changed("issue", "ENG-7", status="done")  # linked: open -> waiting by the link rule
    assert calls == [(linked.id, "wait", 3)]
    wf.mark_duplicate(dup.id, original.id, AGENT, trigger="close")
    assert calls[1:] == [(dup.id, "close", 2)]
    clock.advance(days=2)  # timed and original: nudge (3 days in open); linked: auto_close (2 days in waiting)
    wf.run_due()
    expected = [(timed.id, "wait", 2), (original.id, "wait", 3), (linked.id, "close", 4)]
    assert sorted(calls[2:]) == sorted(expected)
    wf.run_due()  # nothing more is due at this instant: nothing runs twice
    assert len(calls) == 5


class Flaky(tf.MemoryRepository):
    """Refuses the next *conflicts* saves as if another writer got there first, or fails them all (*broken*)."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 0
        self.broken = False

    def transaction(self) -> Any:
        if self.broken:
            raise tf.StorageError("disk full")
        return super().transaction()

    def save(self, ticket: tf.Ticket, events: Any, expected_version: int, **kwargs: Any) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise tf.ConcurrencyConflict(ticket.id, expected_version, expected_version + 1)
        if self.broken:
            raise tf.StorageError("disk full")
        super().save(ticket, events, expected_version, **kwargs)


def test_an_action_never_runs_for_a_change_that_was_not_saved():
    repository = Flaky()
    wf, _, calls = flow(repository)
    a, b = wf.open(CUSTOMER, title="a"), wf.open(CUSTOMER, title="b")
    repository.conflicts = 2  # two attempts lose to "another writer": the action runs once, for the saved one
    wf.fire(a.id, "wait", AGENT)
    assert calls == [(a.id, "wait", 2)]
    repository.broken = True
    with unchanged(wf, a.id, b.id), pytest.raises(tf.StorageError):
        wf.mark_duplicate(b.id, a.id, AGENT, trigger="close")
    with unchanged(wf, a.id), pytest.raises(tf.StorageError):
        wf.fire(a.id, "close", AGENT)
    repository.broken = False
    repository.conflicts = 4  # more than max_retries: refused, and no action
    with unchanged(wf, a.id), pytest.raises(tf.ConcurrencyConflict):
        wf.fire(a.id, "close", AGENT)
    assert calls == [(a.id, "wait", 2)]


def test_export_then_import_the_copy_fires_the_same_rules_as_the_source(tmp_path: Path):
    source, clock, _ = flow(tf.SQLiteRepository(tmp_path / "source.db"))
    for title in ("a", "b", "c"):
        source.open(CUSTOMER, title=title)
    dump = io.StringIO()
    tf.export_jsonl(source.repository, dump)
    copy = tf.Workflow(source.lifecycle, tf.SQLiteRepository(tmp_path / "copy.db"), clock=clock, registry=_counting())
    assert copy.import_jsonl(io.StringIO(dump.getvalue())) == 3
    fired: dict[str, list[str]] = {"source": [], "copy": []}
    for _ in range(30):  # a sweep a day for 30 days
        clock.advance(days=1)
        for name, wf in (("source", source), ("copy", copy)):
            fired[name] += [f"{e.ticket_id}:{e.meta['rule']}" for e in wf.run_due().fired]
    assert len(fired["source"]) == 6  # nudge then auto_close on each ticket
    assert fired["copy"] == fired["source"]


def test_the_cli_import_stores_due_instants_of_built_in_lifecycles(tmp_path: Path):
    from click.testing import CliRunner

    from ticketflow.cli import cli

    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(tmp_path / "a.db"), clock=SteppableClock(T0))
    t = wf.open(CUSTOMER, title="Which plan?", fields={"category": "question"})
    wf.fire(t.id, "ask", AGENT, comment="Which plan are you on?")
    dump = tmp_path / "dump.jsonl"
    with dump.open("w") as out:
        tf.export_jsonl(wf.repository, out)
    result = CliRunner().invoke(cli, ["import", "--create", "--db", str(tmp_path / "b.db"), str(dump)])
    assert result.exit_code == 0, result.output
    copy = tf.SQLiteRepository(tmp_path / "b.db")
    assert stored_due(copy, t.id) == stored_due(wf.repository, t.id) is not None


def test_a_workflow_imports_only_its_own_lifecycle(tmp_path: Path):
    source, _, _ = flow()
    source.open(CUSTOMER, title="a")
    dump = io.StringIO()
    tf.export_jsonl(source.repository, dump)
    other = tf.Workflow(tf.builtin("zendesk"))
    with pytest.raises(tf.StorageError, match=r"<jsonl>:1: .*lifecycle 'flow', not 'zendesk'"):
        other.import_jsonl(io.StringIO(dump.getvalue()))
    assert other.repository.count() == 0


def test_a_guard_that_fails_with_a_programming_error_is_not_judged_again(tmp_path: Path):
    """The ticket cache re-judges only ticketflow's refusals on the stored ticket; a bug propagates at once."""
    registry = tf.Registry()
    calls: list[int] = []

    def broken(_context: Any) -> bool:
        calls.append(1)
        raise RuntimeError("bug in the guard")

    registry.add_guard("broken", broken)
    document = {**FLOW, "transitions": [{**FLOW["transitions"][0], "guards": ["broken"]}, FLOW["transitions"][1]]}
    registry.add_action("count", lambda *_: None)
    wf = tf.Workflow(tf.load_lifecycle(document), tf.SQLiteRepository(tmp_path / "g.db"), registry=registry)
    t = wf.open(CUSTOMER, title="x", at=T0)  # the workflow keeps a copy
    with unchanged(wf, t.id), pytest.raises(RuntimeError, match="bug in the guard"):
        wf.fire(t.id, "wait", AGENT, at=T0)
    assert calls == [1]


def test_a_plan_runs_again_on_a_conflict_and_its_result_is_returned_once_committed():
    repository = tf.MemoryRepository()
    wf = tf.Workflow(tf.load_lifecycle({**FLOW, "timers": []}), repository, registry=_counting())
    t = wf.open(CUSTOMER, title="x", at=T0)
    recorder: Recorder = wf._recorder
    runs: list[int] = []

    def plan(reads: Any) -> Write[str]:
        ticket = reads.ticket(t.id)
        runs.append(ticket.version)
        if len(runs) == 1:  # another writer gets there first
            wf.fire(t.id, "wait", AGENT, at=T0)
        new, event, taken = wf.lifecycle.engine.apply(ticket, "close", AGENT, T0)
        return Write("done", (tf.recording.fired(ticket, new, event, taken),))

    assert recorder.record(plan) == "done"
    assert runs == [1, 2]
    assert [e.trigger for e in wf.history(t.id)] == ["open", "wait", "close"]


def test_a_new_ticket_step_with_a_known_due_instant_stores_it():
    repository = tf.MemoryRepository()
    wf = tf.Workflow(tf.load_lifecycle(FLOW), repository, registry=_counting())
    ticket, event = wf.lifecycle.engine.open("T-1", CUSTOMER, T0, title="x")
    step = opened(ticket, event)
    wf._recorder.record(lambda _reads: Write(None, (step,)))
    assert stored_due(repository, "T-1") == T0 + timedelta(days=3)


def _counting() -> tf.Registry:
    registry = tf.Registry()
    registry.add_action("count", lambda *_: None)
    return registry


NOTIFYING = {
    "id": "notifying",
    "initial": "new",
    "states": {
        "new": {"notify": ["received"]},
        "waiting": {},
        "done": {"terminal": True, "notify": ["done", "survey"]},
    },
    "transitions": [
        {"trigger": "ask", "source": "new", "dest": "waiting", "claim": True},
        {"trigger": "finish", "source": ["new", "waiting"], "dest": "done", "roles": ["agent", "system"]},
    ],
    "timers": [{"id": "give_up", "state": "waiting", "after": "2d", "fire": "finish"}],
}


def test_state_notify_writes_a_message_on_every_entry_whichever_writer_makes_the_step():
    clock = SteppableClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    wf = tf.Workflow(tf.load_lifecycle(NOTIFYING), clock=clock)
    agent = tf.Actor("ann", roles={"agent"})
    t = wf.open(tf.Actor("cat", roles={"requester"}), title="x")
    wf.fire(t.id, "ask", agent, comment="internal", visibility="internal")
    assert wf.get(t.id).assignee == "ann"  # claim: the actor keeps an unassigned ticket
    clock.advance(days=2)
    wf.run_due()  # the timed rule enters `done`: its messages are written with the step
    messages = wf.repository.pending_messages()
    assert [(m.kind, m.payload["state"], m.payload["by"]) for m in messages] == [
        ("received", "new", "cat"),
        ("done", "done", "system"),
        ("survey", "done", "system"),
    ]
    assert messages[0].payload["comment"] is None
