"""The stored event encoding: flat arrays that decode in one pass, and the older keyed objects still read."""

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow.repository._codec import (
    FLAT_EVENT,
    dumps,
    event_from_json,
    event_to_dict,
    event_to_json,
    events_from_json,
)

_TEXT = st.text(max_size=8)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT,
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_NAMES = st.frozensets(_TEXT, max_size=3)


@st.composite
def events(draw: st.DrawFn) -> tf.Event:
    at = draw(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])))
    participants = st.none() | _NAMES
    return tf.Event(
        ticket_id=draw(_TEXT),
        seq=draw(st.integers(1, 10**9)),
        at=at,
        actor=tf.Actor(draw(_TEXT), roles=draw(_NAMES), accounts=draw(_NAMES)),
        trigger=draw(_TEXT),
        source=draw(st.none() | _TEXT),
        target=draw(_TEXT),
        field_changes={k: tf.Change(*v) for k, v in draw(st.dictionaries(_TEXT, st.tuples(_JSON, _JSON))).items()},
        attribute_changes=draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "title": st.builds(tf.Change, st.none() | _TEXT, _TEXT),
                    "assignee": st.builds(tf.Change, st.none() | _TEXT, st.none() | _TEXT),
                    "participants": st.builds(tf.Change, participants, participants),
                },
            )
        ),
        tags_added=draw(_NAMES),
        tags_removed=draw(_NAMES),
        comment=draw(st.none() | st.builds(tf.Comment, _TEXT, _TEXT, st.sampled_from(["public", "internal"]))),
        meta=draw(st.dictionaries(_TEXT, _JSON, max_size=3)),
    )


@given(st.lists(events(), max_size=5))
def test_flat_encoding_round_trips_every_event(history: list[tf.Event]):
    history = [attrs.evolve(e, ticket_id="T") for e in history]
    bodies = [event_to_json(e) for e in history]
    assert all(body.startswith(f"[{FLAT_EVENT},") for body in bodies)
    assert events_from_json("T", bodies) == history


@given(st.lists(events(), max_size=5))
def test_older_keyed_objects_decode_as_before_alone_and_mixed_with_flat_rows(history: list[tf.Event]):
    history = [attrs.evolve(e, ticket_id="T") for e in history]
    old = [dumps(event_to_dict(e)) for e in history]
    assert events_from_json("T", old) == [event_from_json(body) for body in old] == history
    mixed = [body if n % 2 else event_to_json(e) for n, (e, body) in enumerate(zip(history, old, strict=True))]
    assert events_from_json("T", mixed) == history


def _sqlite_with_history(tmp_path: Path) -> tuple[Path, str, list[tf.Event]]:
    path = tmp_path / "t.db"
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(path))
    agent = tf.Actor("agent", roles={"agent"}, accounts={"acme"})
    t0 = datetime(2026, 1, 5, 14, tzinfo=UTC)
    ticket = wf.open(tf.Actor("customer", roles={"requester"}), title="printer", at=t0)
    wf.fire(ticket.id, "take", agent, assignee="agent", at=t0 + timedelta(minutes=1))
    wf.comment(ticket.id, agent, "internal note", visibility="internal", at=t0 + timedelta(minutes=2))
    return path, ticket.id, wf.history(ticket.id)


def test_sqlite_writes_flat_rows_and_reads_rows_written_as_objects_before(tmp_path: Path):
    path, ticket_id, history = _sqlite_with_history(tmp_path)
    with sqlite3.connect(path) as conn:
        bodies = [row[0] for row in conn.execute("SELECT body FROM events ORDER BY seq")]
        assert all(body.startswith(f"[{FLAT_EVENT},") for body in bodies)
        conn.executemany(  # as the earlier versions wrote them
            "UPDATE events SET body = ? WHERE seq = ?", [(dumps(event_to_dict(e)), e.seq) for e in history[::2]]
        )
    repo = tf.SQLiteRepository(path)
    assert repo.history(ticket_id) == history
    wf = tf.Workflow(tf.builtin("zendesk"), repo)
    wf.comment(ticket_id, tf.Actor("agent", roles={"agent"}), "after the upgrade", visibility="internal")
    assert repo.history(ticket_id)[: len(history)] == history


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[2, 2", "damaged"),
        ("[3]", "format"),
        ('[2,1,"2026-01-05T14:00:00","a",[],"open",null,"new"]', "no UTC offset"),
        ('[2,"1","2026-01-05T14:00:00+00:00","a",[],"open",null,"new"]', "seq"),
        ('[2,1,"2026-01-05T14:00:00+00:00","a",[],"open",null,"new",["a","b","x"]]', "'public' or 'internal'"),
        ('[2,1,"2026-01-05T14:00:00+00:00","a",[],"open",null]', "7 items"),
        ('[2,1,"2026-01-05T14:00:00+00:00","a",[],"open",null,"new",null,{"f":[1]}]', "not an event record"),
        ('"text"', "not an object"),
        ("1,2", "damaged"),
    ],
)
def test_a_damaged_stored_event_is_a_storage_error_naming_the_problem(body: str, problem: str):
    with pytest.raises(tf.StorageError, match=problem):
        events_from_json("T", [event_to_json(_an_event()), body])


def _an_event(seq: int = 1) -> tf.Event:
    at = datetime(2026, 1, 5, 14, tzinfo=UTC)
    return tf.Event("T", seq, at, tf.Actor("a", roles={"agent"}), "open", None, "new")


def test_an_actor_met_twice_in_a_history_is_decoded_once():
    first, second = events_from_json("T", [event_to_json(_an_event()), event_to_json(_an_event(seq=2))])
    assert first.actor is second.actor
    assert (
        event_to_json(first) == '[2,1,"2026-01-05T14:00:00+00:00","a",["agent"],"open",null,"new"]'
    )  # nothing empty kept


def _full_row(event: tf.Event) -> list[object]:
    """The flat format as documented: all fifteen items, then the empty ones at the end left out (not the target)."""
    comment = event.comment
    row: list[object] = [
        FLAT_EVENT,
        event.seq,
        event.at.isoformat(),
        event.actor.id,
        sorted(event.actor.roles),
        event.trigger,
        event.source,
        event.target,
        None if comment is None else [comment.author, comment.body, comment.visibility],
        {name: [c.before, c.after] for name, c in event.field_changes.items()},
        sorted(event.tags_added),
        sorted(event.tags_removed),
        {
            name: [sorted(v) if isinstance(v, frozenset) else v for v in (c.before, c.after)]
            for name, c in event.attribute_changes.items()
        },
        dict(event.meta),
        sorted(event.actor.accounts),
    ]
    while len(row) > 8 and not row[-1]:
        row.pop()
    return row


@given(events())
def test_an_event_is_stored_as_its_full_row_without_the_empty_items_at_the_end(event: tf.Event):
    reference = json.dumps(_full_row(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert event_to_json(event) == reference


@given(_JSON)
def test_stored_json_is_compact_key_sorted_and_the_same_text_for_equal_values(value: object):
    assert dumps(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("value", [float("nan"), {"x": float("inf")}, object(), {1: "a", "b": 2}])
def test_a_value_without_a_strict_json_form_is_refused(value: object):
    with pytest.raises(tf.StorageError, match="no strict JSON form"):
        dumps(value)


def test_a_value_that_contains_itself_is_refused_not_encoded_forever():
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(tf.StorageError, match="no strict JSON form"):
        dumps({"a": looped})
    assert dumps({"b": [1], "a": None}) == '{"a":null,"b":[1]}'  # the encoder is fine after the refusal
