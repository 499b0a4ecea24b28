"""A fire that starts from a cached copy decides exactly as a fresh read would (ticketflow._recent)."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow._recent import RecentTickets
from ticketflow.testing import TicketFactory

from .conftest import unchanged

ALICE = tf.Actor("alice", roles={"requester"})
BOB = tf.Actor("bob", roles={"agent"})
LEAD = tf.Actor("lee", roles={"lead", "agent"})
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
CACHE = 1024  # a MemoryRepository's default is no cache (a read costs nothing there): these tests need one


def two_servers(helpdesk: tf.Lifecycle, tmp_path: Path, **kwargs: Any) -> tuple[tf.Workflow, tf.Workflow]:
    """Two Workflows on one SQLite file, as two app servers would be."""
    path = tmp_path / "shared.db"
    return tf.Workflow(helpdesk, tf.SQLiteRepository(path), **kwargs), tf.Workflow(helpdesk, tf.SQLiteRepository(path))


def test_refused_on_the_copy_but_allowed_on_the_stored_ticket_is_accepted(helpdesk: tf.Lifecycle, tmp_path: Path):
    a, b = two_servers(helpdesk, tmp_path)
    t = a.open(ALICE, title="x", at=T0)  # a keeps a copy in "new"
    b.fire(t.id, "triage", BOB, fields={"category": "access"}, at=T0)
    moved = a.fire(t.id, "start", BOB, assignee="bob", at=T0)  # "start" is refused in "new", allowed in "triaged"
    assert (moved.state, moved.version) == ("in_progress", 3)
    assert [e.trigger for e in b.history(t.id)] == ["open", "triage", "start"]


def test_allowed_on_the_copy_but_refused_on_the_stored_ticket_is_refused(helpdesk: tf.Lifecycle, tmp_path: Path):
    a, b = two_servers(helpdesk, tmp_path)
    t = a.open(ALICE, title="x", at=T0)
    a.fire(t.id, "triage", BOB, fields={"category": "access"}, at=T0)  # a's copy: "triaged"
    b.fire(t.id, "reject", LEAD, comment="duplicate of another", at=T0)
    with unchanged(b, t.id), pytest.raises(tf.TransitionNotAllowed, match="rejected"):
        a.fire(t.id, "start", BOB, assignee="bob", at=T0)


def test_allowed_on_both_is_applied_once_on_top_of_the_other_servers_change(helpdesk: tf.Lifecycle, tmp_path: Path):
    a, b = two_servers(helpdesk, tmp_path, max_retries=0)
    t = a.open(BOB, title="x", fields={"priority": "high"}, requester=ALICE.id, at=T0)
    a.fire(t.id, "triage", BOB, fields={"category": "access"}, at=T0)
    b.fire(t.id, "escalate", BOB, at=T0)
    # the copy's save conflicts; judged again on the stored ticket, it is not a retry (max_retries=0)
    escalated = a.fire(t.id, "escalate", BOB, at=T0)
    assert escalated.version == 4
    assert [e.trigger for e in a.history(t.id)] == ["open", "triage", "escalate", "escalate"]
    assert tf.replay(a.history(t.id)) == escalated


def test_the_cache_is_on_for_databases_and_off_in_memory(helpdesk: tf.Lifecycle, tmp_path: Path):
    assert tf.Workflow(helpdesk, tf.SQLiteRepository(tmp_path / "x.db"))._recent.size == 1024
    assert tf.Workflow(helpdesk)._recent.size == 0


def test_no_cache_reads_every_time(helpdesk: tf.Lifecycle, tmp_path: Path):
    a, b = two_servers(helpdesk, tmp_path, ticket_cache=0)
    t = a.open(ALICE, title="x", at=T0)
    b.fire(t.id, "triage", BOB, fields={"category": "access"}, at=T0)
    assert a.fire(t.id, "start", BOB, assignee="bob", at=T0).version == 3
    assert len(a._recent) == 0


def test_the_cache_is_bounded_and_refuses_a_negative_size():
    recent = RecentTickets(2)
    factory = TicketFactory()
    tickets = [factory.new()[0] for _ in range(3)]
    for ticket in tickets:
        recent.put(ticket)
    assert [recent.get(t.id) for t in tickets] == [None, (tickets[1], None, True), (tickets[2], None, True)]
    recent.forget(tickets[1].id)
    assert len(recent) == 1
    with pytest.raises(ValueError, match="ticket_cache must be 0 or more"):
        tf.Workflow(tf.builtin("zendesk"), ticket_cache=-1)


def test_histories_are_kept_within_their_event_budget_and_only_when_complete():
    recent = RecentTickets(10, max_events=5)
    factory = TicketFactory()
    opened = [factory.new() for _ in range(3)]
    grown = []
    for ticket, events in opened:
        for trigger in ("start", "finish"):
            ticket, event = factory.step(ticket, trigger)
            events = [*events, event]
        grown.append((ticket, events))  # three events each
    first, second, third = grown
    recent.put(first[0], first[1])
    recent.put(second[0], second[1])  # six events: the oldest history goes, its ticket stays
    assert recent.get(first[0].id) == (first[0], None, True)
    assert recent.get(second[0].id) == (second[0], tuple(second[1]), True)
    assert recent.events == 3
    recent.put(third[0], third[1][:2])  # not the whole history: not kept
    assert recent.get(third[0].id) == (third[0], None, True)
    assert recent.events == 3
    recent.forget(second[0].id)
    assert recent.events == 0


TRIGGERS = [
    ("triage", BOB, {"fields": {"category": "access"}}),
    ("start", BOB, {"assignee": "bob"}),
    ("escalate", BOB, {}),
    ("ask", BOB, {"comment": "which laptop?"}),
    ("requester_replied", ALICE, {"comment": "the grey one"}),
    ("resolve", BOB, {"fields": {"resolution": "replaced"}}),
    ("reopen", ALICE, {}),
    ("reject", LEAD, {"comment": "spam"}),
    ("comment", ALICE, {"comment": "any news?"}),
]


@settings(max_examples=60)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from(TRIGGERS)), min_size=1, max_size=25))
def test_every_outcome_equals_a_fresh_reads(steps: list[tuple[bool, Any]]):
    """Server a (cached) and server b interleave fires; each of a's equals the engine's verdict on the stored ticket."""
    helpdesk = tf.load_lifecycle(Path(__file__).parent.parent / "examples" / "custom_lifecycle.toml")
    repo = tf.MemoryRepository()
    a, b = (tf.Workflow(helpdesk, repo, max_retries=0, ticket_cache=CACHE) for _ in range(2))
    t = a.open(BOB, title="x", fields={"priority": "high"}, requester=ALICE.id, at=T0)
    for on_a, (trigger, actor, kwargs) in steps:
        server = a if on_a else b
        stored = repo.get(t.id)
        expected: Any
        try:
            fields = kwargs.get("fields")
            comment = tf.Comment(actor.id, kwargs["comment"]) if "comment" in kwargs else None
            attributes = {"assignee": kwargs["assignee"]} if "assignee" in kwargs else None
            expected = helpdesk.engine.apply(
                stored, trigger, actor, T0, fields=fields, comment=comment, attributes=attributes
            )[0]
        except tf.TicketflowError as refused:
            expected = (type(refused), str(refused))
        try:
            outcome: Any = server.fire(t.id, trigger, actor, at=T0, **kwargs)
        except tf.TicketflowError as refused:
            outcome = (type(refused), str(refused))
            assert repo.get(t.id) == stored
        assert outcome == expected


SUPPORT = tf.Actor("sam", roles={"agent"})
CUSTOMER = tf.Actor("cora", roles={"requester"})
ZENDESK_STEPS = [
    ("comment", SUPPORT, {"comment": "looking", "visibility": "internal"}),
    ("comment", SUPPORT, {"comment": "here is how", "visibility": "public"}),
    ("comment", CUSTOMER, {"comment": "thanks, still broken"}),
    ("take", SUPPORT, {"assignee": "sam"}),
    ("ask", SUPPORT, {"comment": "which version?"}),
    ("hold", SUPPORT, {"comment": "waiting for logs"}),
    ("solve", SUPPORT, {"comment": "fixed in 2.1"}),
]


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from(ZENDESK_STEPS), st.integers(min_value=1, max_value=600)),
        min_size=1,
        max_size=20,
    ),
    st.booleans(),
)
def test_the_stored_due_instant_equals_one_computed_from_the_stored_history(
    steps: list[tuple[bool, Any, int]], trusting: bool
):
    """Zendesk has an SLA policy: each fire's due instant needs the history, kept with a's copies.

    Not *trusting*, a's fires read first (as after a stale copy) and may
    reuse a kept history only when the stored version equals the copy's.
    """
    from datetime import timedelta

    from ticketflow.automation import next_due

    zendesk = tf.builtin("zendesk")
    repo = tf.MemoryRepository()
    a, b = (tf.Workflow(zendesk, repo, ticket_cache=CACHE) for _ in range(2))
    at = T0
    t = a.open(CUSTOMER, title="broken", at=at)
    for on_a, (trigger, actor, kwargs), minutes in steps:
        at += timedelta(minutes=minutes)
        kept = a._recent.get(t.id)
        if not trusting and kept is not None:
            a._recent.put(kept[0], kept[1], trusted=False)
        try:
            (a if on_a else b).fire(t.id, trigger, actor, at=at, **kwargs)
        except tf.TicketflowError:
            continue
        stored = dict(repo.due(at + timedelta(days=3650), limit=10)).get(t.id)
        assert stored == next_due(a, repo.get(t.id), repo.history(t.id), at)


def test_copies_are_trusted_while_more_than_half_prove_current():
    recent = RecentTickets(10)
    assert recent.trusted()
    for _ in range(20):
        recent.observe(False)
    assert not recent.trusted()
    for _ in range(30):
        recent.observe(True)
    assert recent.trusted()


class CountingRepository(tf.MemoryRepository):
    """Counts the saves refused as conflicts (a stale copy costs one)."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 0

    def save(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().save(*args, **kwargs)
        except tf.ConcurrencyConflict:
            self.conflicts += 1
            raise


def test_a_workflow_whose_copies_keep_proving_stale_stops_starting_from_them(helpdesk: tf.Lifecycle):
    repo = CountingRepository()
    a, b = (tf.Workflow(helpdesk, repo, ticket_cache=CACHE) for _ in range(2))
    t = a.open(BOB, title="x", fields={"priority": "high"}, requester=ALICE.id, at=T0)
    a.fire(t.id, "triage", BOB, fields={"category": "access"}, at=T0)
    counts = []
    for _ in range(60):
        b.fire(t.id, "escalate", BOB, at=T0)  # another server: a's copy is now stale
        a.fire(t.id, "escalate", BOB, at=T0)
        counts.append(repo.conflicts)
    # each paid for one stale copy of this ticket, then read first, as without a cache
    assert counts[-1] == 2
    assert not a._recent.get(t.id)[2]  # type: ignore[index]
    assert len(a.history(t.id)) == 2 + 120


def test_a_workflow_alone_keeps_starting_from_its_copies(helpdesk: tf.Lifecycle):
    repo = CountingRepository()
    wf = tf.Workflow(helpdesk, repo, ticket_cache=CACHE)
    t = wf.open(BOB, title="x", fields={"priority": "high"}, requester=ALICE.id, at=T0)
    wf.fire(t.id, "triage", BOB, fields={"category": "access"}, at=T0)
    for _ in range(50):
        wf.fire(t.id, "escalate", BOB, at=T0)
    assert repo.conflicts == 0
    assert wf._recent.get(t.id)[2]  # type: ignore[index]
