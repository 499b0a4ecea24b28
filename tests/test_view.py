"""What each actor may see, human ticket keys and their confirmation."""

import contextlib
import multiprocessing
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow.testing import SteppableClock, steps

CUSTOMER = tf.Actor("customer", roles={"requester"})
AGENT = tf.Actor("agent-7", roles={"agent"})
SIGHTEN = tf.builtin("sighten")


def sighten() -> tf.Workflow:
    return tf.Workflow(SIGHTEN, clock=SteppableClock())


def test_a_requester_never_sees_internal_comments_fields_or_tags():
    wf = sighten()
    t = wf.open(CUSTOMER, title="Feature idea: bulk export")
    wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": "feedback"})
    wf.comment(t.id, AGENT, "Logged as FEAT-12 in Aha!", visibility="internal")
    wf.update(t.id, AGENT, fields={"aha_link": "https://aha.example/FEAT-12"}, add_tags={"documented_in_aha"})
    wf.comment(t.id, AGENT, "Thanks, we have logged your idea.")
    shared = wf.view(t.id, CUSTOMER)
    assert not shared.full
    assert "aha_link" not in shared.ticket.fields
    assert shared.ticket.tags == frozenset()
    comments = [e.comment.body for e in shared.events if e.comment]
    assert comments == ["Thanks, we have logged your idea."]
    assert all("aha_link" not in e.field_changes for e in shared.events)
    staff = wf.view(t.id, AGENT)
    assert staff.full
    assert staff.ticket == wf.get(t.id)
    assert len([e for e in staff.events if e.comment]) == 2


def test_a_customers_view_names_each_actor_by_id_without_roles_or_accounts():
    wf = tf.Workflow(tf.builtin("clickup"), clock=SteppableClock())
    requester = tf.Actor("dana", roles={"requester"}, accounts={"acme"})
    colleague = tf.Actor("lee", roles={"requester"}, accounts={"acme", "lee-consulting"})
    agent = tf.Actor("agent-7", roles={"agent", "tier2-security"}, accounts={"vendor-staff"})
    t = wf.open(requester, title="Export times out")
    wf.comment(t.id, colleague, "Same for me")
    wf.comment(t.id, agent, "Looking into it")
    shared = wf.view(t.id, requester)
    assert [e.actor for e in shared.events] == [tf.Actor("dana"), tf.Actor("lee"), tf.Actor("agent-7")]
    assert [e.actor for e in wf.view(t.id, agent).events] == [requester, colleague, agent]  # staff: as recorded


@given(st.data())
def test_no_internal_item_ever_reaches_a_requesters_view(data: st.DataObject):
    wf = sighten()
    t = wf.open(CUSTOMER, title="x")
    wf.update(t.id, AGENT, participants={"watcher"})
    for step in data.draw(steps(SIGHTEN, max_size=20)):
        with contextlib.suppress(tf.TicketflowError):
            wf.fire(
                t.id,
                step.trigger,
                step.actor,
                fields=step.fields,
                comment=step.comment,
                visibility="internal" if step.visibility == "internal" else "public",
            )
        if data.draw(st.booleans()):
            with contextlib.suppress(tf.TicketflowError):
                wf.update(t.id, AGENT, fields={"aha_link": "secret"}, add_tags={"documented_in_aha"})
    viewer = data.draw(st.sampled_from([CUSTOMER, tf.Actor("watcher", roles=set())]))
    shared = wf.view(t.id, viewer)
    internal_fields = {n for n, spec in SIGHTEN.fields.items() if spec.internal}
    assert not internal_fields & set(shared.ticket.fields)
    assert not shared.ticket.tags & SIGHTEN.internal_tags
    for event in shared.events:
        assert event.comment is None or event.comment.visibility == "public"
        assert not internal_fields & set(event.field_changes)
        assert not (event.tags_added | event.tags_removed) & SIGHTEN.internal_tags
        assert not event.meta
        assert event.actor == tf.Actor(event.actor.id)


def test_new_tickets_get_human_keys_and_a_confirmation():
    wf = sighten()
    first = wf.open(CUSTOMER, title="a")
    second = wf.open(CUSTOMER, title="b")
    assert (first.id, second.id) == ("SUP-1", "SUP-2")
    messages = wf.repository.pending_messages()
    assert [(m.kind, m.payload["key"], m.payload["to"]) for m in messages] == [
        ("ticket.opened", "SUP-1", CUSTOMER.id),
        ("ticket.opened", "SUP-2", CUSTOMER.id),
    ]


def _open_many(path: str, count: int) -> list[str]:
    wf = tf.Workflow(tf.builtin("sighten"), tf.SQLiteRepository(path))
    return [wf.open(CUSTOMER, title=f"t{i}").id for i in range(count)]


def test_keys_are_unique_and_gap_free_across_four_processes(tmp_path: Path):
    path = str(tmp_path / "keys.db")
    tf.SQLiteRepository(path)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        keys = [key for batch in pool.starmap(_open_many, [(path, 25)] * 4) for key in batch]
    numbers = sorted(int(key.removeprefix("SUP-")) for key in keys)
    assert numbers == list(range(1, 101))
    assert len(tf.SQLiteRepository(path).pending_messages(limit=500)) == 100


def test_a_bad_key_prefix_is_an_invalid_lifecycle():
    import pytest

    with pytest.raises(tf.InvalidLifecycle) as caught:
        SIGHTEN.extend({"key_prefix": "sup-"})
    assert caught.value.path == "key_prefix"
