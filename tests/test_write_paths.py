"""Every public write path, in random order: stored due instants equal the history's, actions run once per firing."""

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow.automation import next_due

from .test_recording import FLOW as RECORDING_FLOW

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
CUSTOMER = tf.Actor("customer", roles={"requester"})
AGENT = tf.Actor("agent-7", roles={"agent"})
#: test_recording's FLOW with a rule counting from the last update, and a later auto-close.
FLOW: dict[str, Any] = {
    **RECORDING_FLOW,
    "timers": [
        {"id": "nudge", "state": "open", "after": "3d", "fire": "wait"},
        {"id": "remind", "state": "waiting", "after": "1d", "since": "last_update", "add_tags": ["reminded"]},
        {"id": "auto_close", "state": "waiting", "after": "4d", "fire": "close"},
    ],
}
MOVING = {"wait", "close"}  # the triggers whose transitions have the `count` action
#: FLOW with SLA clocks too: each write computes the due instant from the ticket's fold (its timers' and clocks'
#: events), multi-ticket writes (merge, link rules, broadcasts) included.
SLA_FLOW: dict[str, Any] = {
    **FLOW,
    "sla": {
        "calendar": "24x7",
        "warn_at": [0.5],
        "metrics": [
            {"id": "first_response", "start": {"open": True}, "stop": {"comment": {"by": ["agent"]}},
             "targets": [{"target": "4h"}]},
            {"id": "resolution", "start": {"open": True}, "stop": {"states": ["closed"]},
             "pause": {"states": ["waiting"]}, "targets": [{"target": "30h"}]},
        ],
    },
}  # fmt: skip

ticket = st.integers(0, 7)
OPERATIONS = st.one_of(
    st.tuples(st.just("open")),
    st.tuples(st.just("fire"), ticket, st.sampled_from(sorted(MOVING))),
    st.tuples(st.just("update"), ticket),
    st.tuples(st.just("comment"), ticket),
    st.tuples(st.just("link"), ticket),
    st.tuples(st.just("record"), st.sampled_from(["done", "open"])),
    st.tuples(st.just("merge"), ticket, ticket),
    st.tuples(st.just("broadcast")),
    st.tuples(st.just("sweep"), st.integers(1, 80)),
)


def _workflows(
    repository: tf.TicketRepository, calls: list[tuple[str, int]], flow: dict[str, Any] = FLOW
) -> list[tf.Workflow]:
    registry = tf.Registry()
    registry.add_action("count", lambda t, e: calls.append((t.id, e.seq)))
    for kind in ("sla.warning", "sla.breached"):
        registry.add_notifier(kind, lambda message: None)
    lifecycle = tf.load_lifecycle(flow)
    # two app servers on one store, both keeping ticket copies (stale ones must not matter)
    return [tf.Workflow(lifecycle, repository, registry=registry, ticket_cache=64) for _ in range(2)]


def _check(wf: tf.Workflow, at: datetime | None) -> None:
    """Each stored due instant is the history's as of *at* (None: as of each ticket's last event, as an import)."""
    stored = dict(wf.repository.due(datetime(2036, 1, 1, tzinfo=UTC), limit=10_000))
    for t in wf.repository.find(limit=1000).tickets:
        history = wf.repository.history(t.id)
        assert stored.get(t.id) == next_due(wf, t, history, history[-1].at if at is None else at), t.id


@pytest.mark.parametrize(
    ("flow", "store"), [("timers", "memory"), ("timers and SLA", "memory"), ("timers and SLA", "sqlite")]
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.booleans(), OPERATIONS), min_size=1, max_size=30))
def test_every_write_path_stores_the_due_instant_of_the_history_and_runs_actions_once(
    flow: str, store: str, tmp_path: Path, operations: list[tuple[bool, tuple[Any, ...]]]
):
    """With an SLA, the due instants come from each ticket's stored fold; on SQLite, from a real file's."""
    document = FLOW if flow == "timers" else SLA_FLOW
    database = tmp_path / f"w{len(list(tmp_path.iterdir()))}.db"  # a new file per example
    repository = tf.MemoryRepository() if store == "memory" else tf.SQLiteRepository(database)
    calls: list[tuple[str, int]] = []
    servers = _workflows(repository, calls, document)
    for wf in servers:
        wf.clock = tf.SteppableClock(T0)
    ids: list[str] = []
    at = T0
    issue = tf.ExternalRecord("issue", "ENG-1")
    for on_first, (kind, *args) in operations:
        wf = servers[0 if on_first else 1]
        pick = (lambda i: ids[i % len(ids)]) if ids else None
        try:
            if kind == "open":
                ids.append(wf.open(AGENT, title="t", requester=CUSTOMER.id).id)
            elif kind == "broadcast":
                ids.append(wf.broadcast(AGENT, title="b", accounts=["acme"]).id)
            elif pick is None:
                continue
            elif kind == "fire":
                wf.fire(pick(args[0]), args[1], AGENT)
            elif kind == "update":
                wf.update(pick(args[0]), AGENT, add_tags=["touched"])
            elif kind == "comment":
                wf.comment(pick(args[0]), AGENT, "note")
            elif kind == "link":
                wf.link(pick(args[0]), AGENT, "caused_by", record=issue)
            elif kind == "record":
                wf.linked_record_changed("issue", "ENG-1", status=args[0])
            elif kind == "merge":
                wf.mark_duplicate(pick(args[0]), pick(args[1]), AGENT, trigger="close")
            elif kind == "sweep":
                at += timedelta(hours=args[0])
                for server in servers:
                    server.clock.set(at)  # type: ignore[attr-defined]
                wf.run_due()
        except tf.TicketflowError:
            pass  # refused: nothing changed (checked below through the histories)
        _check(wf, at)
    firings = sorted(
        (t.id, e.seq)
        for t in repository.find(limit=1000).tickets
        for e in repository.history(t.id)
        if e.trigger in MOVING
    )
    assert sorted(calls) == firings  # once per firing, none for a change not stored
    # import: a copy of the store stores the same due instants
    dump = io.StringIO()
    tf.export_jsonl(repository, dump)
    copy = _workflows(tf.MemoryRepository(), [], document)[0]
    copy.import_jsonl(io.StringIO(dump.getvalue()))
    _check(copy, None)  # an import computes each due instant as of the ticket's last event
    if isinstance(repository, tf.SQLiteRepository):
        repository.close()
