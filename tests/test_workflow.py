"""Workflow: open, fire, comment, update, move_to, allowed, refusals, retries."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import ticketflow as tf
from ticketflow.testing import SteppableClock

from .conftest import unchanged

ALICE = tf.Actor("alice", roles={"requester"})
BOB = tf.Actor("bob", roles={"agent"})
CAROL = tf.Actor("carol", roles={"lead"})
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture
def clock() -> SteppableClock:
    return SteppableClock(T0)


@pytest.fixture
def wf(helpdesk: tf.Lifecycle, clock: SteppableClock) -> tf.Workflow:
    ids = iter(range(1, 1000))
    return tf.Workflow(helpdesk, clock=clock, id_factory=lambda: f"T-{next(ids)}")


def in_progress(wf: tf.Workflow) -> tf.Ticket:
    t = wf.open(ALICE, title="Laptop broken")
    wf.fire(t.id, "triage", BOB, fields={"category": "hardware"})
    return wf.fire(t.id, "start", BOB, assignee="bob")


def test_open_stores_a_ticket_with_one_event(wf: tf.Workflow):
    t = wf.open(
        BOB, title="Laptop broken", fields={"priority": "high"}, tags={"vip"}, requester="alice", channel="portal"
    )
    assert (t.id, t.state, t.version, t.requester) == ("T-1", "new", 1, "alice")
    assert t.fields == {"priority": "high"}
    assert t.created_at == t.updated_at == T0
    (event,) = wf.history(t.id)
    assert (event.trigger, event.source, event.target, event.seq) == ("open", None, "new", 1)
    assert event.meta == {
        "lifecycle_id": "helpdesk",
        "lifecycle_version": 1,
        "lifecycle_fingerprint": wf.lifecycle.fingerprint,
        "channel": "portal",
    }
    assert event.tags_added == {"vip"}
    assert tf.replay([event]) == t == wf.get(t.id)


def test_open_fills_defaults_and_refuses_bad_data(wf: tf.Workflow):
    assert wf.open(ALICE, title="x").fields == {"priority": "normal"}
    with pytest.raises(tf.FieldError) as no_title:
        wf.open(ALICE, title="  ")
    assert no_title.value.fields == ("title",)
    with pytest.raises(tf.FieldError) as unknown:
        wf.open(ALICE, title="x", fields={"colour": "red"})
    assert (unknown.value.ticket_id, unknown.value.fields) == (None, ("colour",))
    with pytest.raises(tf.FieldError, match="not allowed"):
        wf.open(BOB, title="x", tags={"random"})
    with pytest.raises(tf.NaiveDatetime):
        wf.open(ALICE, title="x", at=datetime(2026, 1, 5))
    assert wf.repository.count() == 1  # type: ignore[attr-defined]


def test_fire_moves_the_ticket_and_appends_exactly_one_event(wf: tf.Workflow, clock: SteppableClock):
    t = wf.open(ALICE, title="Laptop broken")
    clock.advance(minutes=10)
    t2 = wf.fire(t.id, "triage", BOB, fields={"category": "hardware"}, comment="Looking", visibility="internal")
    assert (t2.state, t2.version, t2.updated_at) == ("triaged", 2, T0 + timedelta(minutes=10))
    event = wf.history(t.id)[-1]
    assert (event.trigger, event.source, event.target, event.actor) == ("triage", "new", "triaged", BOB)
    assert event.field_changes == {"category": tf.Change(None, "hardware")}
    assert event.comment == tf.Comment("bob", "Looking", "internal")
    assert tf.replay(wf.history(t.id)) == t2


def test_unknown_trigger_is_refused_and_changes_nothing(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed) as caught:
        wf.fire(t.id, "teleport", BOB)
    assert (caught.value.ticket_id, caught.value.trigger, caught.value.state) == (t.id, "teleport", "new")
    assert "unknown trigger" in caught.value.reason


def test_trigger_from_the_wrong_state_is_refused_and_changes_nothing(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed) as caught:
        wf.fire(t.id, "resolve", BOB)
    assert caught.value.state == "new"
    assert "from here: triage, reject" in caught.value.reason


def test_wrong_role_is_refused_with_its_facts_and_changes_nothing(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied) as caught:
        wf.fire(t.id, "triage", ALICE, fields={"category": "access"})
    assert (caught.value.actor_id, caught.value.roles, caught.value.allowed) == ("alice", ("requester",), ("agent",))
    assert caught.value.ticket_id == t.id
    assert caught.value.trigger == "triage"


def test_inherited_roles_may_fire(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    admin = tf.Actor("root", roles={"admin"})
    assert wf.fire(t.id, "triage", admin, fields={"category": "access"}).state == "triaged"
    assert wf.fire(t.id, "reject", CAROL, comment="duplicate").state == "rejected"


def test_required_field_missing_is_refused_and_changes_nothing(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as caught:
        wf.fire(t.id, "triage", BOB)
    assert (caught.value.ticket_id, caught.value.trigger, caught.value.fields) == (t.id, "triage", ("category",))
    assert "into 'triaged'" in caught.value.reason


def test_require_and_require_comment_are_enforced(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    wf.fire(t.id, "triage", BOB, fields={"category": "access"})
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as no_assignee:
        wf.fire(t.id, "start", BOB)
    assert no_assignee.value.fields == ("assignee",)
    wf.fire(t.id, "start", BOB, assignee="bob")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as no_comment:
        wf.fire(t.id, "ask", BOB)
    assert no_comment.value.fields == ("comment",)


def test_invalid_field_value_is_refused_and_changes_nothing(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as caught:
        wf.fire(t.id, "triage", BOB, fields={"category": "plumbing"})
    assert "not one of hardware, software, access" in caught.value.reason
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="expected a date"):
        wf.update(t.id, BOB, fields={"due": "next week"})


def test_when_condition_is_checked_on_the_ticket(wf: tf.Workflow):
    t = in_progress(wf)
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed) as caught:
        wf.fire(t.id, "escalate", BOB)
    assert "field 'priority' is 'normal', needs one of ['high', 'urgent']" in caught.value.reason
    wf.update(t.id, BOB, fields={"priority": "urgent"})
    t = wf.fire(t.id, "escalate", BOB)
    assert t.tags == {"escalated"}
    assert wf.history(t.id)[-1].tags_added == {"escalated"}


def test_closed_ticket_rejects_every_trigger_comment_and_update(wf: tf.Workflow):
    t = in_progress(wf)
    wf.fire(t.id, "resolve", BOB, fields={"resolution": "new battery"})
    t = wf.fire(t.id, "close", ALICE)  # `who = ["requester"]`
    assert t.state == "closed"
    for trigger in [*wf.lifecycle.triggers, "teleport"]:
        with unchanged(wf, t.id), pytest.raises(tf.TicketClosed) as caught:
            wf.fire(t.id, trigger, BOB, comment="again")
        assert caught.value.state == "closed"
        assert "follow-up" in str(caught.value)
    assert wf.allowed(t.id, BOB) == []


def test_who_lets_the_requester_close_but_not_another_requester(wf: tf.Workflow):
    t = in_progress(wf)
    wf.fire(t.id, "resolve", BOB, fields={"resolution": "done"})
    wf.update(t.id, BOB, participants={"dave"})
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied) as caught:
        wf.fire(t.id, "close", tf.Actor("dave", roles={"requester"}))  # related (a participant), but not the requester
    assert "requester" in caught.value.allowed
    with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound):
        wf.fire(t.id, "close", tf.Actor("mallory", roles={"requester"}))  # a stranger: as if it did not exist


def test_a_requester_comment_moves_the_ticket_by_itself(wf: tf.Workflow):
    t = in_progress(wf)
    wf.fire(t.id, "ask", BOB, comment="Which model?")
    internal = wf.comment(t.id, BOB, "note to self", visibility="internal")
    assert internal.state == "waiting_on_requester"
    assert wf.history(t.id)[-1].trigger == "comment"
    t = wf.comment(t.id, ALICE, "A T14")
    assert t.state == "in_progress"
    event = wf.history(t.id)[-1]
    assert (event.trigger, event.source, event.target) == ("requester_replied", "waiting_on_requester", "in_progress")
    assert event.comment == tf.Comment("alice", "A T14", "public")


def test_a_field_being_set_moves_the_ticket_by_itself(helpdesk: tf.Lifecycle):
    lc = helpdesk.extend(
        {
            "id": "planned",
            "states": {"planned": {"group": "in_progress"}},
            "transitions": [
                {
                    "trigger": "due_date_set",
                    "source": "triaged",
                    "dest": "planned",
                    "on": {"event": "field_set", "field": "due"},
                },
                {"trigger": "begin", "source": "planned", "dest": "in_progress"},
            ],
        }
    )
    wf = tf.Workflow(lc)
    t = wf.open(ALICE, title="x")
    wf.fire(t.id, "triage", BOB, fields={"category": "software"})
    t = wf.update(t.id, BOB, fields={"due": "2026-02-01"})
    assert t.state == "planned"
    assert wf.history(t.id)[-1].trigger == "due_date_set"
    t = wf.update(t.id, BOB, fields={"priority": "high"})
    assert t.state == "planned"


def test_comment_and_update_permissions(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.update(t.id, ALICE, fields={"priority": "urgent"})
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.comment(t.id, tf.Actor("bot", roles={"system"}), "beep")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError):
        wf.fire(t.id, "comment", ALICE)


def test_update_changes_people_and_tags(wf: tf.Workflow):
    t = wf.open(BOB, title="x", tags={"vip"}, requester="alice")
    t = wf.update(
        t.id, BOB, assignee="bob", participants={"dave"}, title="Laptop", add_tags={"hardware"}, remove_tags={"vip"}
    )
    assert (t.assignee, t.participants, t.title, t.tags) == ("bob", {"dave"}, "Laptop", {"hardware"})
    event = wf.history(t.id)[-1]
    assert event.attribute_changes["assignee"] == tf.Change(None, "bob")
    assert (event.tags_added, event.tags_removed) == ({"hardware"}, {"vip"})
    assert tf.replay(wf.history(t.id)) == t
    t = wf.update(t.id, BOB, assignee=None, fields={"priority": None})
    assert t.assignee is None
    assert "priority" not in t.fields
    with unchanged(wf, t.id), pytest.raises(tf.FieldError):
        wf.update(t.id, BOB, participants="dave")


def test_move_to_fires_the_one_trigger_that_leads_there(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    assert wf.move_to(t.id, "triaged", BOB, fields={"category": "access"}).state == "triaged"
    refusals = {
        "in_progress": "several triggers lead to 'in_progress' (start, escalate); fire one by name",
        "closed": "no trigger leads to 'closed'",
        "mars": "unknown state 'mars'",
    }
    for state, reason in refusals.items():
        with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed) as refused:
            wf.move_to(t.id, state, BOB)
        assert (refused.value.ticket_id, refused.value.trigger, refused.value.state) == (t.id, f"->{state}", "triaged")
        assert refused.value.reason == reason


def test_move_to_on_a_closed_ticket_says_it_is_closed(wf: tf.Workflow):
    t = in_progress(wf)
    wf.fire(t.id, "resolve", BOB, fields={"resolution": "new battery"})
    wf.fire(t.id, "close", BOB)
    with unchanged(wf, t.id), pytest.raises(tf.TicketClosed) as refused:
        wf.move_to(t.id, "in_progress", BOB)
    assert str(refused.value) == (
        f"ticket {t.id}: '->in_progress' is not allowed in state 'closed': "
        "state 'closed' is immutable; open a follow-up ticket instead"
    )


def test_allowed_lists_what_the_actor_may_fire_now(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    assert wf.allowed(t.id, BOB) == ["triage", "comment", "update"]
    assert wf.allowed(t.id, CAROL) == ["triage", "reject", "comment", "update"]
    assert wf.allowed(t.id, ALICE) == ["comment"]


def test_unknown_ticket_is_not_found(wf: tf.Workflow):
    for call in (lambda: wf.get("nope"), lambda: wf.history("nope"), lambda: wf.fire("nope", "triage", BOB)):
        with pytest.raises(tf.TicketNotFound) as caught:
            call()
        assert caught.value.ticket_id == "nope"
        assert isinstance(caught.value, LookupError)


def test_a_registry_refuses_what_cannot_be_called_when_it_is_registered_not_at_first_use():
    registry = tf.Registry()
    for register, kind in (
        (registry.add_guard, "guard"),
        (registry.add_action, "action"),
        (registry.add_notifier, "notifier"),
        (registry.add_policy, "assignment policy"),
        (registry.add_calendar_resolver, "calendar resolver"),
    ):
        with pytest.raises(TypeError, match=f"^{kind} 'x' must be callable, got int"):
            register("x", 5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=f"^a {kind}'s name must be a string"):
            register(5, lambda *_: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="event listener must be callable"):
        registry.subscribe(5)  # type: ignore[arg-type]
    assert (registry.guards, registry.actions, registry.notifiers, registry.listeners) == ({}, {}, {}, [])


def test_guards_and_actions_come_from_the_registry(helpdesk: tf.Lifecycle):
    lc = helpdesk.extend(
        {
            "id": "guarded",
            "transitions": [
                {
                    "trigger": "fast_track",
                    "source": "new",
                    "dest": "triaged",
                    "guards": ["is_vip"],
                    "actions": ["page_lead"],
                    "set_fields": {"category": "access"},
                }
            ],
        }
    )
    registry = tf.Registry()
    paged: list[tuple[str, str]] = []

    @registry.guard("is_vip")
    def is_vip(context: tf.GuardContext) -> bool:
        return "vip" in context.ticket.tags

    registry.add_action("page_lead", lambda ticket, event: paged.append((ticket.id, event.trigger)))
    wf = tf.Workflow(lc, registry=registry)
    plain = wf.open(ALICE, title="x")
    with unchanged(wf, plain.id), pytest.raises(tf.TransitionNotAllowed, match="guard 'is_vip' refused"):
        wf.fire(plain.id, "fast_track", BOB)
    assert paged == []
    vip = wf.open(BOB, title="x", tags={"vip"}, requester="alice")
    assert "fast_track" in wf.allowed(vip.id, BOB)
    assert wf.fire(vip.id, "fast_track", BOB).fields["category"] == "access"
    assert paged == [(vip.id, "fast_track")]


class FlakyRepository(tf.MemoryRepository):
    """Lets another writer win the first *conflicts* saves."""

    def __init__(self, conflicts: int) -> None:
        super().__init__()
        self.conflicts = conflicts

    def save(self, ticket: tf.Ticket, events: Any, expected_version: int, **kwargs: Any) -> None:
        if self.conflicts:
            self.conflicts -= 1
            current = self.get(ticket.id)
            raise tf.ConcurrencyConflict(ticket.id, expected_version, current.version + 1)
        super().save(ticket, events, expected_version, **kwargs)


# With a cache, the copy left by the triage fire is not trusted (that fire's first save conflicted), so the
# next fire reads first and the count is the same; a trusted copy's conflict is free (see test_recent.py).
@pytest.mark.parametrize(("cache", "saves"), [(0, 4), (1024, 4)])
def test_a_refused_save_is_retried_a_bounded_number_of_times(helpdesk: tf.Lifecycle, cache: int, saves: int):
    repo = FlakyRepository(conflicts=2)
    wf = tf.Workflow(helpdesk, repo, max_retries=3, ticket_cache=cache)
    t = wf.open(ALICE, title="x")
    assert wf.fire(t.id, "triage", BOB, fields={"category": "access"}).version == 2
    repo.conflicts = 10
    with unchanged(wf, t.id), pytest.raises(tf.ConcurrencyConflict) as caught:
        wf.fire(t.id, "start", BOB, assignee="bob")
    assert caught.value.ticket_id == t.id
    assert repo.conflicts == 10 - saves  # 1 + max_retries saves, each from a fresh read


class BrokenRepository(tf.MemoryRepository):
    """A store whose saves fail outright (a disk full, a dropped connection)."""

    def save(self, ticket: tf.Ticket, events: Any, expected_version: int, **kwargs: Any) -> None:
        raise OSError("disk full")


def paging_workflow(helpdesk: tf.Lifecycle, repo: tf.MemoryRepository, cache: int) -> tuple[tf.Workflow, list[Any]]:
    """The help desk with a ``page_lead`` action on ``triage`` that records (ticket id, version, event seq)."""
    triage = {"trigger": "triage", "source": "new", "dest": "triaged", "roles": ["agent"], "actions": ["page_lead"]}
    lc = helpdesk.extend({"id": "paging", "remove_transitions": ["triage"], "transitions": [triage]})
    registry = tf.Registry()
    paged: list[Any] = []
    registry.add_action("page_lead", lambda ticket, event: paged.append((ticket.id, ticket.version, event.seq)))
    return tf.Workflow(lc, repo, registry=registry, max_retries=3, ticket_cache=cache), paged


@pytest.mark.parametrize("cache", [0, 1024])
def test_an_action_runs_once_after_the_save_even_when_a_conflicting_save_was_retried(
    helpdesk: tf.Lifecycle, cache: int
):
    repo = FlakyRepository(conflicts=0)
    wf, paged = paging_workflow(helpdesk, repo, cache)
    t = wf.open(ALICE, title="x")
    repo.conflicts = 2  # two other writers win first; the third attempt saves
    saved = wf.fire(t.id, "triage", BOB, fields={"category": "access"})
    assert repo.conflicts == 0
    assert paged == [(t.id, saved.version, saved.version)]
    assert wf.history(t.id)[-1].seq == saved.version  # the action saw the stored ticket and its event


@pytest.mark.parametrize("cache", [0, 1024])
def test_an_action_never_runs_for_a_change_that_was_not_saved(helpdesk: tf.Lifecycle, cache: int):
    repo = FlakyRepository(conflicts=0)
    wf, paged = paging_workflow(helpdesk, repo, cache)
    t = wf.open(ALICE, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError):
        wf.fire(t.id, "triage", BOB)  # refused: no category
    repo.conflicts = 10  # other writers keep winning past max_retries
    with unchanged(wf, t.id), pytest.raises(tf.ConcurrencyConflict):
        wf.fire(t.id, "triage", BOB, fields={"category": "access"})
    assert paged == []
    broken, paged_broken = paging_workflow(helpdesk, BrokenRepository(), cache)
    u = broken.open(ALICE, title="x")
    with unchanged(broken, u.id), pytest.raises(OSError, match="disk full"):
        broken.fire(u.id, "triage", BOB, fields={"category": "access"})
    assert paged_broken == []


def test_a_stale_save_is_refused_by_the_repository(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    new, event, _ = wf.lifecycle.engine.apply(t, "triage", BOB, T0, fields={"category": "access"})
    wf.repository.save(new, [event], expected_version=1)
    with unchanged(wf, t.id), pytest.raises(tf.ConcurrencyConflict) as caught:
        wf.repository.save(new, [event], expected_version=1)
    assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)


def test_find_by_group_and_filters(wf: tf.Workflow):
    first = wf.open(ALICE, title="a")
    second = in_progress(wf)
    assert [t.id for t in wf.find(group="open").tickets] == [first.id]
    assert [t.id for t in wf.find(group="in_progress", assignee="bob").tickets] == [second.id]
    with pytest.raises(tf.LifecycleError, match="unknown state group 'nope'"):
        wf.find(group="nope")


# -- hostile arguments (issue #19): a TicketflowError or a TypeError naming the parameter, nothing changed --


@pytest.mark.parametrize("actor", [None, "bob", 5, {"id": "bob", "roles": ["agent"]}])
def test_an_actor_that_is_not_an_actor_is_a_type_error_and_changes_nothing(wf: tf.Workflow, actor: Any):
    t = wf.open(ALICE, title="Laptop broken")
    calls = [
        lambda: wf.open(actor, title="x"),
        lambda: wf.fire(t.id, "triage", actor, fields={"category": "hardware"}),
        lambda: wf.comment(t.id, actor, "hello"),
        lambda: wf.update(t.id, actor, fields={"priority": "high"}),
        lambda: wf.allowed(t.id, actor),
    ]
    for call in calls:
        with unchanged(wf, t.id), pytest.raises(TypeError, match="actor"):
            call()
    assert wf.repository.count() == 1


@pytest.mark.parametrize("fields", [["priority"], "priority", 5])
def test_fields_that_are_not_a_mapping_are_a_type_error_and_change_nothing(wf: tf.Workflow, fields: Any):
    t = wf.open(ALICE, title="Laptop broken")
    for call in (
        lambda: wf.open(ALICE, title="x", fields=fields),
        lambda: wf.fire(t.id, "triage", BOB, fields=fields),
        lambda: wf.update(t.id, BOB, fields=fields),
    ):
        with unchanged(wf, t.id), pytest.raises(TypeError, match="fields"):
            call()
    assert wf.repository.count() == 1


def test_a_string_where_tags_or_people_are_expected_is_refused_not_split_into_characters(wf: tf.Workflow):
    t = wf.open(ALICE, title="Laptop broken")
    for call, name in (
        (lambda: wf.open(BOB, title="x", tags="vip"), "tags"),
        (lambda: wf.update(t.id, BOB, add_tags="vip"), "add_tags"),
        (lambda: wf.update(t.id, BOB, remove_tags="vip"), "remove_tags"),
        (lambda: wf.fire(t.id, "triage", BOB, fields={"category": "hardware"}, add_tags="vip"), "add_tags"),
    ):
        with unchanged(wf, t.id), pytest.raises(TypeError, match=f"^{name} must be a collection of tags"):
            call()
    with pytest.raises(tf.FieldError) as caught:
        wf.open(BOB, title="x", participants="carol")
    assert str(caught.value) == "new ticket: 'open' refused: expected a collection of actor ids (participants)"
    assert wf.repository.count() == 1  # "carol" never became the participants c, a, r, o, l


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lifecycle": "zendesk"}, "lifecycle must be a ticketflow Lifecycle (tf.builtin(name) or tf.load_lifecycle"),
        (
            {"repository": "tickets.db"},
            "repository must be a TicketRepository such as tf.SQLiteRepository('tickets.db')",
        ),
        ({"calendar": "America/New_York"}, "calendar must be a tf.BusinessCalendar, got str"),
        ({"clock": "now"}, "clock must have a now() method"),
        ({"registry": {}}, "registry must be a tf.Registry, got dict"),
        ({"previous": "v1"}, "previous must be a list of earlier Lifecycle versions"),
    ],
)
def test_a_workflow_built_from_the_wrong_parts_is_a_type_error_naming_the_part(kwargs: dict[str, Any], message: str):
    parts: dict[str, Any] = {"lifecycle": tf.builtin("zendesk"), **kwargs}
    with pytest.raises(TypeError) as caught:
        tf.Workflow(**parts)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("key", "shown"), [(1, "1"), (None, "None"), (b"x", "b'x'")])
def test_a_field_name_that_is_not_a_string_is_an_unknown_field_not_a_type_error(wf: tf.Workflow, key: Any, shown: str):
    t = wf.open(ALICE, title="Laptop broken")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as caught:
        wf.update(t.id, BOB, fields={key: "x"})
    assert caught.value.fields == (shown,)
    assert str(caught.value).endswith(f"unknown field; declared: {', '.join(wf.lifecycle.fields)} ({shown})")
    with pytest.raises(tf.FieldError, match="unknown field"):
        wf.open(ALICE, title="x", fields={key: "x"})
    assert wf.repository.count() == 1


@pytest.mark.parametrize(("filters", "name"), [({"field": "s"}, "field"), ({"after": 123}, "after")])
def test_find_with_filters_of_the_wrong_type_names_them(wf: tf.Workflow, filters: dict[str, Any], name: str):
    with pytest.raises(TypeError, match=name):
        wf.find(**filters)


def test_a_bad_comment_visibility_or_meta_is_refused_and_changes_nothing(wf: tf.Workflow):
    t = wf.open(ALICE, title="Laptop broken")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="visibility"):
        wf.comment(t.id, BOB, "hello", visibility="secret")  # type: ignore[arg-type]
    with unchanged(wf, t.id), pytest.raises(TypeError, match="meta"):
        wf.fire(t.id, "triage", BOB, fields={"category": "hardware"}, meta=5)  # type: ignore[arg-type]
    with unchanged(wf, t.id), pytest.raises(TypeError, match="comment"):
        wf.comment(t.id, BOB, 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [10**400, float("nan"), float("inf"), -float("inf")])
def test_a_float_field_that_is_not_a_finite_number_is_a_field_error(value: float):
    lc = tf.load_lifecycle(
        {
            "id": "scored",
            "initial": "open",
            "states": {"open": {}, "done": {"terminal": True}},
            "fields": {"score": {"type": "float"}, "count": {"type": "int"}},
            "transitions": [{"trigger": "finish", "source": "open", "dest": "done"}],
        }
    )
    wf = tf.Workflow(lc)
    t = wf.open(ALICE, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="score"):
        wf.update(t.id, BOB, fields={"score": value})
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="count"):
        wf.update(t.id, BOB, fields={"count": 2**64})


@pytest.mark.parametrize("repository", ["memory", "sqlite"])
def test_a_ticket_id_that_is_not_a_string_is_refused_and_nothing_is_stored(
    helpdesk: tf.Lifecycle, tmp_path: Any, repository: str
):
    repo = tf.MemoryRepository() if repository == "memory" else tf.SQLiteRepository(tmp_path / "t.db")
    wf = tf.Workflow(helpdesk, repo)
    with pytest.raises(tf.StorageError, match="nothing was written"):
        wf.open(ALICE, title="x", ticket_id=["a"])  # type: ignore[arg-type]
    assert repo.count() == 0


@pytest.mark.parametrize("who", ["requester", "assignee"])
def test_an_empty_requester_or_assignee_is_refused_instead_of_replaying_as_none(wf: tf.Workflow, who: str):
    with pytest.raises(tf.StorageError, match="empty"):
        wf.open(BOB, title="x", **{who: ""})
    assert wf.repository.count() == 0


def test_an_empty_ticket_id_given_to_open_is_refused_not_replaced_by_a_new_one(wf: tf.Workflow):
    with pytest.raises(tf.StorageError, match="an empty string is not an id"):
        wf.open(ALICE, title="x", ticket_id="")
    assert wf.repository.count() == 0
    assert wf.open(ALICE, title="x", ticket_id="mine").id == "mine"


@pytest.mark.parametrize("text", ["NUL \x00 inside", "lone \ud800"])
def test_text_no_store_can_keep_is_refused_at_every_boundary(wf: tf.Workflow, text: str):
    t = wf.open(ALICE, title="Laptop broken")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="resolution"):
        wf.update(t.id, BOB, fields={"resolution": text})
    with unchanged(wf, t.id), pytest.raises(tf.StorageError, match="nothing was written"):
        wf.comment(t.id, BOB, text)
    with pytest.raises(tf.StorageError, match="nothing was written"):
        wf.open(ALICE, title=text)
    with pytest.raises(tf.TicketNotFound):
        wf.get(text)
    with pytest.raises(tf.StorageError, match="no ticket can hold it"):
        wf.find(assignee=text)
    assert wf.repository.count() == 1


@pytest.mark.parametrize("store", ["memory", "sqlite"])
@pytest.mark.parametrize("bad_id", [["T-1"], {"id": "T-1"}, {"T-1"}])
def test_an_unhashable_ticket_id_finds_nothing_in_every_store(
    helpdesk: tf.Lifecycle, tmp_path: Path, store: str, bad_id: Any
):
    repository = tf.MemoryRepository() if store == "memory" else tf.SQLiteRepository(tmp_path / "t.db")
    wf = tf.Workflow(helpdesk, repository, id_factory=lambda: "T-1")
    t = wf.open(ALICE, title="Laptop broken")
    doors = [
        lambda: wf.get(bad_id),
        lambda: wf.history(bad_id),
        lambda: wf.fire(bad_id, "triage", BOB, fields={"category": "hardware"}),
        lambda: wf.comment(bad_id, BOB, "hello"),
        lambda: wf.view(bad_id, BOB),
        lambda: wf.allowed(bad_id, BOB),
        lambda: wf.sla(bad_id),
    ]
    for door in doors:
        with unchanged(wf, t.id), pytest.raises(tf.TicketNotFound):
            door()


def test_find_orders_by_time_with_its_own_cursors():
    wf = tf.Workflow(tf.load_lifecycle({
        "id": "o", "initial": "a", "states": {"a": {}, "z": {"terminal": True}},
        "transitions": [{"trigger": "go", "source": "a", "dest": "z"}],
    }))  # fmt: skip
    customer = tf.Actor("c", roles={"requester"})
    hours = [3, 1, 2, 1]
    ids = [wf.open(customer, title=str(h), at=datetime(2026, 7, 6, h, tzinfo=UTC)).id for h in hours]
    expected = sorted(ids, key=lambda i: (hours[ids.index(i)], i))
    seen, cursor = [], None
    while True:
        page = wf.find(order_by="opened_at", limit=1, after=cursor)
        seen += [t.id for t in page.tickets]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    assert [t.id for t in wf.find(order_by="-opened_at", actor=customer).tickets] == expected[::-1]
    with pytest.raises(tf.StorageError, match="cursor"):
        wf.find(order_by="opened_at", after="bm90IGpzb24=")
    with pytest.raises(tf.LifecycleError, match="opened_at"):
        wf.find(order_by="title")


# -- mutation survivors (scripts/mutate.py engine): rules no other test decided -----------------


def test_an_agents_internal_note_does_not_take_a_new_zendesk_ticket_a_public_reply_does():
    wf = tf.Workflow(tf.builtin("zendesk"))
    agent = tf.Actor("agent-7", roles={"agent"})
    t = wf.open(ALICE, title="Printer on fire")
    noted = wf.comment(t.id, agent, "checking the logs", visibility="internal")
    assert (noted.state, noted.assignee) == ("new", None)
    replied = wf.comment(t.id, agent, "On it")
    assert (replied.state, replied.assignee) == ("open", "agent-7")
    assert wf.history(t.id)[-1].trigger == "agent_replied"


def test_a_requester_may_not_post_an_internal_comment(wf: tf.Workflow):
    t = in_progress(wf)
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.comment(t.id, ALICE, "psst", visibility="internal")


def test_a_naive_at_is_refused_by_name_on_a_plain_step(wf: tf.Workflow):
    t = wf.open(ALICE, title="Laptop broken")
    with unchanged(wf, t.id), pytest.raises(tf.NaiveDatetime) as caught:
        wf.fire(t.id, "triage", BOB, fields={"category": "hardware"}, at=datetime(2026, 1, 5, 10))
    assert caught.value.name == "at"
    t = in_progress(wf)
    with unchanged(wf, t.id), pytest.raises(tf.NaiveDatetime) as caught:
        wf.fire(t.id, "ask", BOB, comment="Which model?", at=datetime(2026, 1, 5, 10))
    assert caught.value.name == "at"


@pytest.mark.parametrize(
    ("attributes", "field", "reason"),
    [
        ({"title": "   "}, "title", "the title must be a non-empty string"),
        ({"participants": "carol"}, "participants", "expected a collection of actor ids"),
        ({"assignee": 7}, "assignee", "expected an actor id or None"),
    ],
)
def test_bad_ticket_attributes_are_refused_naming_ticket_step_and_attribute(
    wf: tf.Workflow, attributes: dict[str, Any], field: str, reason: str
):
    t = in_progress(wf)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as caught:
        wf.update(t.id, BOB, **attributes)
    assert str(caught.value) == f"ticket {t.id}: 'update' refused: {reason} ({field})"


def test_the_engine_refuses_an_attribute_tickets_do_not_have(wf: tf.Workflow):
    t = in_progress(wf)
    with pytest.raises(tf.FieldError) as caught:
        wf.lifecycle.engine.apply(wf.get(t.id), "update", BOB, T0, attributes={"colour": "red"})
    assert str(caught.value) == f"ticket {t.id}: 'update' refused: not a ticket attribute (colour)"


def test_opening_refusals_name_the_open_step(wf: tf.Workflow):
    with pytest.raises(tf.PermissionDenied) as denied:
        wf.open(tf.Actor("bot", roles={"robot"}), title="hello")
    assert (denied.value.ticket_id, denied.value.trigger) == ("(new)", "open")
    with pytest.raises(tf.FieldError) as refused:
        wf.open(BOB, title="x", tags=[""])
    assert (refused.value.ticket_id, refused.value.trigger, refused.value.fields) == (None, "open", ("",))
    assert str(refused.value) == "new ticket: 'open' refused: tag not allowed by the lifecycle's `tags` ()"


def test_the_engines_plain_path_refuses_a_naive_at_by_name(wf: tf.Workflow):
    t = in_progress(wf)
    resolved = wf.fire(t.id, "resolve", BOB, fields={"resolution": "new battery"})
    assert (resolved.state, "close") in wf.lifecycle.engine._plain  # the path under test
    with pytest.raises(tf.NaiveDatetime) as caught:
        wf.lifecycle.engine.apply(resolved, "close", BOB, datetime(2026, 1, 5, 10))
    assert caught.value.name == "at"


def test_a_comment_step_without_a_comment_is_refused_saying_so(wf: tf.Workflow):
    t = in_progress(wf)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as caught:
        wf.fire(t.id, "comment", BOB)
    assert str(caught.value) == f"ticket {t.id}: 'comment' refused: a comment step needs a comment (comment)"


def test_a_step_that_needs_a_comment_is_refused_saying_so(wf: tf.Workflow):
    t = in_progress(wf)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as caught:
        wf.fire(t.id, "ask", BOB)
    assert str(caught.value) == f"ticket {t.id}: 'ask' refused: this step needs a comment (comment)"


@pytest.mark.parametrize("blank", ["", "   ", "\n\t", "\u200b", "\ufeff \u200d"])
def test_a_blank_comment_is_no_comment_so_steps_that_need_one_refuse_it(wf: tf.Workflow, blank: str):
    t = in_progress(wf)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="a comment step needs a comment"):
        wf.comment(t.id, BOB, blank)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="this step needs a comment"):
        wf.fire(t.id, "ask", BOB, comment=blank)
    with unchanged(wf, t.id), pytest.raises(tf.FieldError, match="this step needs a comment"):
        wf.fire(t.id, "ask", BOB, comment=tf.Comment("bob", blank))
    waiting = wf.fire(t.id, "ask", BOB, comment="Which model?")
    assert waiting.state == "waiting_on_requester"


@pytest.mark.parametrize("blank", ["  ", "\u200b"])
@pytest.mark.parametrize("as_object", [False, True])
def test_a_blank_comment_object_or_invisible_text_is_no_reply_on_any_trigger(blank: str, as_object: bool):
    clock = SteppableClock(datetime(2026, 3, 2, 14, tzinfo=UTC))
    zendesk = tf.Workflow(tf.builtin("zendesk"), clock=clock)
    t = zendesk.open(ALICE, title="VPN drops", fields={"category": "question"})
    clock.advance(minutes=10)
    note = tf.Comment(BOB.id, blank, "public") if as_object else blank
    zendesk.fire(t.id, "take", BOB, assignee=BOB.id, comment=note)
    assert zendesk.history(t.id)[-1].comment is None
    assert [c.running for c in zendesk.sla(t.id) if c.metric == "first_response"] == [True]


def test_a_blank_reply_does_not_stop_the_first_response_clock():
    clock = SteppableClock(datetime(2026, 3, 2, 14, tzinfo=UTC))
    zendesk = tf.Workflow(tf.builtin("zendesk"), clock=clock)
    t = zendesk.open(ALICE, title="VPN drops", fields={"category": "question"})
    clock.advance(minutes=10)
    moved = zendesk.fire(t.id, "take", BOB, comment="  ")  # an empty reply box submitted with the step
    assert zendesk.history(t.id)[-1].comment is None
    assert [c.running for c in zendesk.sla(moved.id) if c.metric == "first_response"] == [True]


# -- refusals name the ticket and the step exactly; data given with a plain step is kept ---------------------------


@pytest.mark.parametrize(
    "data",
    [{"fields": {"priority": "high"}}, {"add_tags": {"vip"}}, {"remove_tags": {"hardware"}}, {"assignee": "carol"}],
)
def test_a_plain_step_keeps_the_data_given_with_it(wf: tf.Workflow, data: dict[str, Any]):
    t = in_progress(wf)
    wf.update(t.id, BOB, add_tags={"hardware"})
    done = wf.fire(t.id, "resolve", BOB, fields={"resolution": "fixed"})
    closed = wf.fire(done.id, "close", BOB, **data)  # resolved -> closed: a step with no rules of its own
    (event,) = wf.history(t.id)[-1:]
    assert closed.state == "closed"
    if "fields" in data:
        assert (closed.fields["priority"], event.field_changes["priority"]) == ("high", tf.Change("normal", "high"))
    if "add_tags" in data:
        assert closed.tags == {"hardware", "vip"}
    if "remove_tags" in data:
        assert closed.tags == set()
    if "assignee" in data:
        assert (closed.assignee, event.attribute_changes["assignee"]) == ("carol", tf.Change("bob", "carol"))


def test_a_requester_may_not_remove_tags_or_assign_and_the_refusal_names_the_step(wf: tf.Workflow):
    t = in_progress(wf)
    wf.update(t.id, BOB, add_tags={"vip"})
    for data, subject in (({"remove_tags": {"vip"}}, "set tag 'vip'"), ({"assignee": "alice"}, "set the assignee")):
        with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied) as refused:
            wf.update(t.id, ALICE, **data)
        assert (refused.value.ticket_id, refused.value.trigger, refused.value.actor_id) == (t.id, "update", "alice")
        assert refused.value.subject == subject


def test_a_stranger_gets_ticket_not_found_and_a_closed_ticket_says_so_for_any_step(wf: tf.Workflow):
    t = in_progress(wf)
    with pytest.raises(tf.TicketNotFound) as missing:
        wf.fire(t.id, "resolve", tf.Actor("mallory", roles={"requester"}))
    assert missing.value.ticket_id == t.id
    wf.fire(t.id, "resolve", BOB, fields={"resolution": "fixed"})
    wf.fire(t.id, "close", BOB)
    with unchanged(wf, t.id), pytest.raises(tf.TicketClosed) as closed:
        wf.comment(t.id, BOB, "one more thing")
    assert str(closed.value) == (
        f"ticket {t.id}: 'comment' is not allowed in state 'closed': "
        "state 'closed' is immutable; open a follow-up ticket instead"
    )


def test_the_requester_and_participants_are_attributes_a_step_can_change(wf: tf.Workflow):
    t = in_progress(wf)
    changed = wf.update(t.id, BOB, requester="dave", participants={"erin"})
    assert (changed.requester, changed.participants) == ("dave", {"erin"})
    assert wf.history(t.id)[-1].attribute_changes["requester"] == tf.Change("alice", "dave")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as refused:
        wf.update(t.id, BOB, requester=5)
    assert (refused.value.fields, refused.value.reason) == (("requester",), "expected an actor id or None")


def test_an_unknown_trigger_or_one_that_does_not_leave_this_state_is_refused_with_what_would(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    refusals = {
        "teleport": "unknown trigger; this lifecycle has: triage, reject, start, ask, escalate, resolve, reopen, "
        "close, comment, update",
        "resolve": "no transition leaves this state by it; from here: triage, reject",
    }
    for trigger, reason in refusals.items():
        with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed) as refused:
            wf.fire(t.id, trigger, BOB)
        assert (refused.value.ticket_id, refused.value.trigger, refused.value.state) == (t.id, trigger, "new")
        assert refused.value.reason == reason
    wf.fire(t.id, "triage", BOB, fields={"category": "access"})
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed) as refused:
        wf.fire(t.id, "escalate", BOB)
    assert str(refused.value) == (
        f"ticket {t.id}: 'escalate' is not allowed in state 'triaged': "
        "transitions[5]: field 'priority' is 'normal', needs one of ['high', 'urgent']"
    )


def test_a_requester_who_may_not_update_is_refused_by_name_even_with_nothing_to_change(wf: tf.Workflow):
    t = wf.open(ALICE, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied) as refused:
        wf.update(t.id, ALICE)
    assert (refused.value.ticket_id, refused.value.trigger, refused.value.actor_id) == (t.id, "update", "alice")


@pytest.mark.parametrize("at", [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, tzinfo=UTC)])
def test_a_step_or_sla_at_an_instant_no_business_calendar_supports_names_the_argument_and_writes_nothing(
    at: datetime,
):
    """Year 1 is no date in the zendesk calendar's New York: a CalendarError, as 1800 is, not an OverflowError."""
    wf = tf.Workflow(tf.builtin("zendesk"))
    agent = tf.Actor("agent-7", roles={"agent"})
    t = wf.open(
        ALICE, title="Printer on fire", fields={"category": "question"}, at=datetime(2026, 3, 2, 15, tzinfo=UTC)
    )
    outside = f"{at.isoformat()} is outside the supported years 1900..2500 (local years in America/New_York); "
    with unchanged(wf, t.id), pytest.raises(tf.CalendarError) as refused:
        wf.fire(t.id, "solve", agent, comment="answer", at=at)
    assert str(refused.value) == f"fire: at {outside}give an instant within them"  # what the caller passed
    with unchanged(wf, t.id), pytest.raises(tf.CalendarError) as refused:
        wf.sla(t.id, at)
    assert str(refused.value) == f"sla: now {outside}give an instant within them"
    with pytest.raises(tf.CalendarError) as refused:
        wf.sla_report(at)
    assert str(refused.value) == f"sla_report: now {outside}give an instant within them"


@pytest.mark.parametrize("repository", ["memory", "sqlite"])
def test_a_step_before_the_ticket_was_opened_is_refused_and_changes_nothing(tmp_path: Path, repository: str):
    """A reply dated before the opening counted as a first response met with negative time (zendesk, -1:00 met)."""
    repo = tf.MemoryRepository() if repository == "memory" else tf.SQLiteRepository(tmp_path / "t.db")
    wf = tf.Workflow(tf.builtin("zendesk"), repo)
    customer, agent = tf.Actor("cust", roles={"requester"}), tf.Actor("sam", roles={"agent"})
    ticket = wf.open(customer, title="printer", at=T0)
    earlier = T0 - timedelta(hours=5)
    with unchanged(wf, ticket.id):
        with pytest.raises(tf.TransitionNotAllowed, match="before the ticket was opened"):
            wf.fire(ticket.id, "take", agent, comment="on it", at=earlier)
        with pytest.raises(tf.TransitionNotAllowed, match="before the ticket was opened"):
            wf.comment(ticket.id, agent, "hello", at=earlier)
        with pytest.raises(tf.TransitionNotAllowed, match="before the ticket was opened"):
            wf.update(ticket.id, agent, fields={"category": "question"}, at=T0 - timedelta(microseconds=1))
    wf.comment(ticket.id, agent, "at the opening's instant", at=T0)
    first = next(clock for clock in wf.sla(ticket.id, T0 + timedelta(hours=1)) if clock.metric == "first_response")
    assert first.elapsed >= timedelta(0)
