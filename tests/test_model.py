from datetime import UTC, datetime

import attrs
import pytest

import ticketflow as tf
from ticketflow.model import Change

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def ticket(**changes: object) -> tf.Ticket:
    base = {"id": "T-1", "lifecycle_id": "x", "state": "new", "version": 1, "created_at": T0, "updated_at": T0}
    return tf.Ticket(**{**base, **changes})  # type: ignore[arg-type]


def test_ticket_refuses_naive_datetimes():
    with pytest.raises(tf.NaiveDatetime) as caught:
        ticket(created_at=datetime(2026, 1, 5, 9))
    assert caught.value.name == "created_at"
    assert isinstance(caught.value, tf.CalendarError)


def test_event_refuses_naive_datetimes():
    with pytest.raises(tf.NaiveDatetime):
        tf.Event("T-1", 1, datetime(2026, 1, 5), tf.Actor("a"), "open", None, "new")


def test_values_are_frozen_and_fields_read_only():
    t = ticket(fields={"priority": "high"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        t.state = "open"  # type: ignore[misc]
    with pytest.raises(TypeError):
        t.fields["priority"] = "low"  # type: ignore[index]


def test_values_compare_by_value():
    assert ticket(tags={"a", "b"}) == ticket(tags=["b", "a"])
    assert tf.Actor("a", roles=["agent"]) == tf.Actor("a", roles={"agent"})


def test_comment_visibility_is_checked():
    with pytest.raises(ValueError, match="visibility"):
        tf.Comment("a", "hi", visibility="secret")  # type: ignore[arg-type]


def test_replay_rebuilds_the_ticket_from_its_events():
    actor = tf.Actor("a", roles={"agent"})
    opened = tf.Event(
        "T-1",
        1,
        T0,
        actor,
        "open",
        None,
        "new",
        field_changes={"priority": Change(None, "low")},
        attribute_changes={"title": Change(None, "Broken"), "requester": Change(None, "a")},
        tags_added={"vip"},
        meta={"lifecycle_id": "x"},
    )
    later = datetime(2026, 1, 5, 10, tzinfo=UTC)
    moved = tf.Event(
        "T-1",
        2,
        later,
        actor,
        "start",
        "new",
        "open",
        field_changes={"priority": Change("low", None)},
        tags_removed={"vip"},
        tags_added={"seen"},
    )
    expected = ticket(state="open", version=2, updated_at=later, title="Broken", requester="a", tags={"seen"})
    assert expected == tf.replay([opened, moved])


def test_replay_refuses_out_of_order_history():
    actor = tf.Actor("a")
    first = tf.Event("T-1", 1, T0, actor, "open", None, "new")
    with pytest.raises(ValueError, match="out of order"):
        tf.replay([first, first])
    with pytest.raises(ValueError, match="empty"):
        tf.replay([])


def test_stored_ticket_and_event_equal_the_values_attrs_builds():
    # the engine's hot path sets slots directly; what it builds must be the very same values
    from ticketflow.model import stored_event, stored_ticket

    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    parts = ("T-1", "lc", "open", 2, at, at, "t", tf.Ticket("x", "y", "z", 1, at, at).fields, frozenset({"a"}),
             "req", None, frozenset({"p"}))  # fmt: skip
    built = stored_ticket(*parts)
    assert type(built) is tf.Ticket
    assert built == tf.Ticket(*parts)
    assert attrs.astuple(built, recurse=False) == parts
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.state = "closed"  # type: ignore[misc]
    actor = tf.Actor("a", roles={"agent"})
    event_parts = ("T-1", 2, at, actor, "go", "a", "b", built.fields, built.fields, frozenset(), frozenset(), None,
                   built.fields)  # fmt: skip
    event = stored_event(*event_parts)
    assert type(event) is tf.Event
    assert event == tf.Event(*event_parts)
    assert attrs.astuple(event, recurse=False) == event_parts
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.target = "c"  # type: ignore[misc]
    # the same layout as what the classes build: weak references and evolve behave alike
    import weakref

    assert weakref.ref(built)() is built
    assert attrs.evolve(built, state="x") == tf.Ticket(*parts[:2], "x", *parts[3:])


@pytest.mark.parametrize("name", ["roles", "accounts"])
def test_an_actor_with_a_string_for_roles_or_accounts_is_a_type_error(name: str):
    with pytest.raises(TypeError, match=f"^{name} must be a collection"):
        tf.Actor("bob", **{name: "agent"})
