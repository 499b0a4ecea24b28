"""The access property suite: random customers and strangers through every public API.

Hypothesis builds a small world — a ticket of ours in a random reachable
state, with internal notes, fields and tags; someone else's ticket; a
broadcast to our account — and drives random operations through the public
:class:`~ticketflow.Workflow` API (open, fire, comment, update, move_to,
reply, follow_up, view, allowed, find, export_view, similar, broadcast,
acknowledge) as random customers: the requester, a participant, a colleague
of the same account, another customer and a stranger, each with random
customer roles. After every operation it checks, against relations known by
construction and the lifecycle's declared setters:

- a ticket the actor is not related to is neither changed nor shown (reads
  raise :class:`~ticketflow.TicketNotFound`; lists leave it out);
- an accepted change sets only what the actor's roles may set (fields, tags,
  people), or what the lifecycle itself does on that transition;
- comments keep their author (or the actor holds an ``on_behalf`` role),
  internal ones need an ``internal_comments`` role, and caller meta never
  reaches the library's keys;
- whatever a customer reads holds no internal field, tag, comment or meta,
  no empty event, and no count of hidden events.

Use it like the lifecycle suite::

    from ticketflow.testing import AccessContract

    class TestOurAccess(AccessContract):
        lifecycle = ticketflow.load_lifecycle("support.toml")
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any, ClassVar

import attrs
from hypothesis import given
from hypothesis import strategies as st

from ticketflow.errors import TicketflowError, TicketNotFound
from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._definition import tag_allowed
from ticketflow.links import ExternalRecord
from ticketflow.model import APP_META, Actor, Comment, Event, Ticket
from ticketflow.registry import Registry
from ticketflow.testing._checks import Bench
from ticketflow.testing._paths import _opening_fields, _sample, check_kit_arguments, kit_settings, path_coverage
from ticketflow.testing._strategies import REQUESTER_ID, field_values

__all__ = ["AccessContract", "check_access"]

STAFF_ID = "access-staff"
PARTICIPANT_ID = "access-participant"
COLLEAGUE_ID = "access-colleague"
OTHER_ID = "access-other-customer"
STRANGER_ID = "access-stranger"
OUR_ACCOUNT, OTHER_ACCOUNT = "acme", "globex"
# writes come up more often than reads: they are where a part can slip through
_OPS = (
    "fire", "fire", "comment", "comment", "comment", "update", "move_to", "open", "open", "reply", "follow_up",
    "view", "allowed", "find", "export", "similar", "broadcast", "acknowledge", "link", "link_ticket",
    "mark_duplicate",
)  # fmt: skip


@attrs.define
class World:
    """The tickets the suite acts on, and who is related to each by construction."""

    bench: Bench
    staff: Actor
    related: dict[str, set[str]]  # ticket id -> customer ids related to it
    broadcast: str | None


def _staff(lifecycle: Lifecycle) -> Actor:
    """A staff member who may open, comment and broadcast (every staff role but ``system``)."""
    return Actor(STAFF_ID, roles=lifecycle.access.staff - {"system"})


def _internal_tags(lifecycle: Lifecycle) -> list[str]:
    tags = [p[:-1] + "kit" if p.endswith("*") else p for p in lifecycle.internal_tags]
    return [t for t in tags if lifecycle.tag_allowed(t)]


def _world(lifecycle: Lifecycle, registry: Registry | None, data: st.DataObject) -> World:
    bench = Bench(lifecycle, registry, None)
    wf = bench.wf
    staff = _staff(lifecycle)
    shared = lifecycle.access.shared_field
    paths = path_coverage(lifecycle).states
    state = data.draw(st.sampled_from(sorted(paths)), label="state of our ticket")
    ours = bench.walk(paths[state])
    related = {ours.id: {REQUESTER_ID, PARTICIPANT_ID} | ({COLLEAGUE_ID} if shared else set())}
    if not lifecycle.states[ours.state].immutable:
        changes: dict[str, Any] = {"participants": {PARTICIPANT_ID}}
        if shared:
            changes["fields"] = {shared: OUR_ACCOUNT}
        bench.setup(ours.id, **changes)
        hidden = {n: _sample(s) for n, s in lifecycle.fields.items() if s.internal}
        if lifecycle.comment_roles & lifecycle.access.staff:
            wf.comment(ours.id, staff, "internal: secret note", visibility="internal")
        with suppress(TicketflowError):  # a state refusing the change: the rest still holds
            bench.setup(ours.id, fields=hidden or None, add_tags=_internal_tags(lifecycle))
        with suppress(TicketflowError):  # staff's values no customer may set (a priority): no copy may carry them
            bench.setup(ours.id, fields=_staff_values(lifecycle) or None)
    else:
        related[ours.id] = {REQUESTER_ID}  # nothing can be set up on it any more
    opening = _opening_fields(lifecycle) | ({shared: OTHER_ACCOUNT} if shared else {})
    theirs = wf.open(staff, title="their ticket", fields=opening, requester=OTHER_ID)
    related[theirs.id] = {OTHER_ID}
    notice = None
    if staff.roles & lifecycle.access.broadcast:
        notice = wf.broadcast(
            staff, title="to our account", accounts=[OUR_ACCOUNT], fields=_opening_fields(lifecycle)
        ).id
        related[notice] = set()  # customers of acme may view and acknowledge it, not act on it
    return World(bench, staff, related, notice)


def _staff_values(lifecycle: Lifecycle) -> dict[str, Any]:
    """A value other than the default for each shared field only staff may set (``priority = urgent``)."""
    access = lifecycle.access
    values = {}
    for name, spec in lifecycle.fields.items():
        setters = access.field_setters.get(name, frozenset())
        if spec.internal or not setters or setters & access.customers:
            continue
        others = [c for c in spec.choices if c != spec.default]
        values[name] = others[-1] if others else _sample(spec)
    return values


def _actors(lifecycle: Lifecycle, data: st.DataObject) -> dict[str, Actor]:
    customer_roles = sorted(lifecycle.access.customers)
    roles = data.draw(st.frozensets(st.sampled_from(customer_roles)) if customer_roles else st.just(frozenset()))
    return {
        REQUESTER_ID: Actor(REQUESTER_ID, roles=roles, accounts={OUR_ACCOUNT}),
        PARTICIPANT_ID: Actor(PARTICIPANT_ID, roles=roles),
        COLLEAGUE_ID: Actor(COLLEAGUE_ID, roles=roles, accounts={OUR_ACCOUNT}),
        OTHER_ID: Actor(OTHER_ID, roles=roles, accounts={OTHER_ACCOUNT}),
        STRANGER_ID: Actor(STRANGER_ID, roles=roles),
    }


#: the library's meta keys an operation records itself (not the caller's)
_WRITES = {
    "link": frozenset({"link"}),
    "link_ticket": frozenset({"link"}),
    "mark_duplicate": frozenset({"merged", "duplicate_of"}),
}


def _extras(lifecycle: Lifecycle, data: st.DataObject, actor: Actor) -> dict[str, Any]:
    """Random parts a step may carry: fields, tags, people, a comment (maybe in another's name), meta."""
    extras: dict[str, Any] = {}
    names = sorted(lifecycle.fields)
    if data.draw(st.booleans()) and names:
        chosen = data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
        extras["fields"] = {n: data.draw(field_values(lifecycle.fields[n])) for n in chosen}
    tags = sorted({*_internal_tags(lifecycle), *(t for t in lifecycle.tags if "*" not in t), "vip"})
    tags = [t for t in tags if lifecycle.tag_allowed(t)]
    if data.draw(st.booleans()) and tags:
        extras["add_tags"] = data.draw(st.frozensets(st.sampled_from(tags), max_size=2))
    for name in ("assignee", "requester", "participants"):
        if data.draw(st.integers(0, 5)) == 0:
            extras[name] = {STRANGER_ID} if name == "participants" else STRANGER_ID
    kind = data.draw(st.sampled_from(["none", "text", "internal", "forged"]))
    if kind == "text":
        extras["comment"] = "a reply"
    elif kind == "internal":
        extras["comment"], extras["visibility"] = "psst", "internal"
    elif kind == "forged":
        extras["comment"] = Comment(STAFF_ID, "We will refund you in full.", "public")
    if data.draw(st.integers(0, 3)) == 0:
        extras["meta"] = data.draw(st.sampled_from([{"rule": "any_rule"}, {"ack": OUR_ACCOUNT}, {"due_at": "x"}]))
    extras["trigger"] = data.draw(st.sampled_from(["comment", *lifecycle.triggers]))
    extras["state"] = data.draw(st.sampled_from(sorted(lifecycle.states)))
    extras["account"] = data.draw(st.sampled_from([OUR_ACCOUNT, OTHER_ACCOUNT]))
    return extras


def _setters(lifecycle: Lifecycle, actor: Actor) -> Callable[[str, str], bool]:
    """Whether the actor's roles may set a part, as the lifecycle declares it (kind: field, tag, attribute)."""
    roles = lifecycle.expand_roles(actor.roles)
    access = lifecycle.access

    def may(kind: str, name: str) -> bool:
        if kind == "field":
            return bool(roles & access.field_setters[name])
        if kind == "attribute":
            return bool(roles & access.attribute_setters[name])
        return bool(roles & access.tag_setters_of(name))

    return may


def _lifecycle_made(lifecycle: Lifecycle, event: Event) -> tuple[set[str], set[str]]:
    """Fields and tags the lifecycle itself may set on *event*'s step (transitions, defaults, the account)."""
    fields: set[str] = set()
    tags: set[str] = set()
    for t in lifecycle.transitions:
        if t.trigger == event.trigger and event.target == t.dest and (event.source in t.sources):
            fields |= set(t.set_fields) | set(t.increment)
            tags |= t.add_tags | t.remove_tags
    if event.source is None:
        fields |= {n for n, s in lifecycle.fields.items() if s.default is not None}
        if lifecycle.access.shared_field:
            fields.add(lifecycle.access.shared_field)  # a customer's one account; its value is checked below
    return fields, tags


def _check_event(
    lifecycle: Lifecycle, actor: Actor, event: Event, where: str, written: frozenset[str] = frozenset()
) -> None:
    """An event written by a customer's accepted step holds only what they may set.

    *written*: the library's meta keys the operation itself records (a link, a merge).
    """
    may = _setters(lifecycle, actor)
    roles = lifecycle.expand_roles(actor.roles)
    made_fields, made_tags = _lifecycle_made(lifecycle, event)
    assert event.actor == actor, f"{where}: the event names {event.actor}, not the actor"
    copied = "follow_up_of" in event.meta  # a follow-up copies the previous ticket's people and account
    routed = "route" in event.meta  # a route picks the assignee and may add tags
    for name, change in event.field_changes.items():
        if name == lifecycle.access.shared_field and change.after is not None:
            assert copied or change.after in actor.accounts, f"{where}: set {name!r} to an account not the actor's"
            continue
        assert may("field", name) or name in made_fields, f"{where}: set field {name!r}, which is staff's"
        if event.source is None and not may("field", name) and name in lifecycle.fields:
            default = lifecycle.fields[name].default
            assert default is None or change.after == default, (
                f"{where}: opened with staff's {name!r} = {change.after!r}"
            )
    for tag in event.tags_added | event.tags_removed:
        assert may("tag", tag) or tag in made_tags or routed, f"{where}: set tag {tag!r}, which is staff's"
    for name, change in event.attribute_changes.items():
        own = event.source is None and (name == "title" or (name == "requester" and change.after == actor.id))
        by_library = copied or (routed and name == "assignee")
        assert own or by_library or may("attribute", name), f"{where}: set the {name}, which is staff's"
    if event.comment is not None:
        if event.comment.author != actor.id:
            assert roles & lifecycle.access.on_behalf, f"{where}: a comment in {event.comment.author!r}'s name"
        if event.comment.visibility == "internal":
            assert roles & lifecycle.access.internal_comments, f"{where}: an internal comment by a customer"
    caller = set(event.meta) - {
        APP_META,
        "lifecycle_id",
        "lifecycle_version",
        "lifecycle_fingerprint",
        "follow_up_of",
        "channel",
        "route",
        "ack",
        *written,
    }
    assert not caller, f"{where}: caller meta reached the library's keys {sorted(caller)}"


def _check_shown(lifecycle: Lifecycle, ticket: Ticket, where: str) -> None:
    hidden = {n for n, s in lifecycle.fields.items() if s.internal}
    assert not hidden & set(ticket.fields), f"{where}: shows internal fields {hidden & set(ticket.fields)}"
    internal = lifecycle.internal_tags
    leaked = [t for t in ticket.tags if internal and tag_allowed(internal, t)]
    assert not leaked, f"{where}: shows internal tags {leaked}"


def _check_view(lifecycle: Lifecycle, seen: Any, where: str) -> None:
    _check_shown(lifecycle, seen.ticket, where)
    hidden = {n for n, s in lifecycle.fields.items() if s.internal}
    assert not seen.full, f"{where}: a customer got the full view"
    assert seen.ticket.version == len(seen.events), f"{where}: the version counts hidden events"
    for number, event in enumerate(seen.events, start=1):
        at = f"{where}, event {number}"
        assert event.seq == number, f"{at}: numbered {event.seq}"
        assert not event.meta, f"{at}: shows meta"
        assert not event.actor.roles, f"{at}: shows {event.actor.id}'s roles"
        assert not event.actor.accounts, f"{at}: shows {event.actor.id}'s accounts"
        assert event.comment is None or event.comment.visibility == "public", f"{at}: shows an internal comment"
        assert not hidden & set(event.field_changes), f"{at}: shows internal field changes"
        visible = (
            event.source != event.target
            or event.comment
            or event.field_changes
            or event.attribute_changes
            or event.tags_added
            or event.tags_removed
        )
        assert visible, f"{at}: an empty event (a trace of internal work)"


def _related_by_data(lifecycle: Lifecycle, ticket: Ticket) -> set[str]:
    """The suite's customers related to a ticket opened during the run, read from its stored people and account."""
    people = {ticket.requester or "", ticket.assignee or "", *ticket.participants}
    shared = lifecycle.access.shared_field
    account = ticket.fields.get(shared) if shared else None
    if account == OUR_ACCOUNT:
        people |= {REQUESTER_ID, COLLEAGUE_ID}
    elif account == OTHER_ACCOUNT:
        people.add(OTHER_ID)
    return people - {""}


def _snapshot(world: World) -> dict[str, tuple[Ticket, list[Event]]]:
    wf = world.bench.wf
    return {tid: (wf.get(tid), wf.history(tid)) for tid in world.related}


def _run(world: World, op: str, actor: Actor, target: str, extras: dict[str, Any]) -> Any:
    wf = world.bench.wf
    lc = wf.lifecycle
    comment = extras.get("comment")
    meta = extras.get("meta")
    people: dict[str, Any] = {k: extras[k] for k in ("assignee", "requester", "participants") if k in extras}
    parts: dict[str, Any] = {"fields": extras.get("fields"), "add_tags": extras.get("add_tags", ()), **people}
    if op == "fire":
        visibility = extras.get("visibility", "public")
        return wf.fire(target, extras["trigger"], actor, comment=comment, visibility=visibility, meta=meta, **parts)
    if op == "comment":  # a comment carrying whatever else the caller sent along
        visibility = extras.get("visibility", "public")
        return wf.fire(
            target, "comment", actor, comment=comment or "a reply", visibility=visibility, meta=meta, **parts
        )
    if op == "update":
        return wf.update(target, actor, **parts)
    if op == "move_to":
        return wf.move_to(target, extras["state"], actor)
    if op == "open":
        body = comment if comment is None or isinstance(comment, Comment) else str(comment)
        tags = extras.get("add_tags", ())
        return wf.open(
            actor, title="opened by a customer", fields=extras.get("fields"), tags=tags, comment=body, **people
        )
    given = comment if isinstance(comment, Comment) else None  # maybe in another's name, or internal
    if op == "reply":
        return wf.reply(target, actor, given or "a reply")  # type: ignore[arg-type]
    if op == "follow_up":
        return wf.follow_up(target, actor, given or "more")  # type: ignore[arg-type]
    if op == "view":
        return wf.view(target, actor)
    if op == "allowed":
        return wf.allowed(target, actor)
    if op == "find":
        return wf.find(actor=actor)
    if op == "export":
        out = io.StringIO()
        columns = ["id", "tags", *(f"field:{n}" for n in lc.fields)]
        wf.export_view(out, format="json", columns=columns, actor=actor)
        return [json.loads(line) for line in out.getvalue().splitlines()]
    if op == "similar":
        return wf.similar(target, actor=actor)
    if op == "broadcast":
        return wf.broadcast(actor, title="to everyone", fields=extras.get("fields"))
    if op == "link":
        return wf.link(target, actor, "relates_to", record=ExternalRecord("document", "access-check.pdf"))
    if op == "link_ticket":
        return wf.link(target, actor, "relates_to", to_ticket=extras["other"])
    if op == "mark_duplicate":
        return wf.mark_duplicate(target, extras["other"], actor, trigger=extras["trigger"])
    return wf.acknowledge(target, extras["account"], actor)


def check_access_step(world: World, op: str, actor: Actor, target: str, extras: dict[str, Any]) -> None:
    """Run one operation as a customer and check every access rule on its outcome (AssertionError if broken)."""
    wf = world.bench.wf
    lc = wf.lifecycle
    before = _snapshot(world)
    count = wf.repository.count()
    mine = {tid for tid, people in world.related.items() if actor.id in people}
    audience = OUR_ACCOUNT in actor.accounts  # the broadcast is addressed to our account
    may_view = mine | ({world.broadcast} if audience and world.broadcast else set())
    where = f"{op} on {target} by {actor} with {extras}"
    try:
        result = _run(world, op, actor, target, extras)
    except TicketflowError as exc:
        assert _snapshot(world) == before, f"{where}: refused ({exc!r}), yet a ticket changed"
        assert wf.repository.count() == count, f"{where}: refused, yet a ticket was stored"
        reading = op in ("view", "allowed", "similar", "reply", "follow_up", "move_to", "fire", "comment", "link")
        if reading and target not in (may_view if op == "view" else mine):
            assert isinstance(exc, TicketNotFound), f"{where}: a stranger was answered {exc!r}"
        pair = op in ("link_ticket", "mark_duplicate") and extras["other"] != target  # two tickets named
        if pair and not {target, extras["other"]} <= mine:
            assert isinstance(exc, TicketNotFound), f"{where}: a stranger to one of the two was answered {exc!r}"
        return
    after = _snapshot(world)
    for tid, (ticket, history) in before.items():
        acknowledged = tid == world.broadcast and op == "acknowledge" and extras["account"] in actor.accounts
        if tid not in mine and not acknowledged:
            assert after[tid] == (ticket, history), f"{where}: changed ticket {tid}, which the actor is not related to"
        for event in after[tid][1][len(history) :]:
            _check_event(lc, actor, event, f"{where}, new event on {tid}", _WRITES.get(op, frozenset()))
    if isinstance(result, Ticket) and result.id not in before:  # opened (or followed up): the actor's own
        for event in wf.history(result.id):
            _check_event(lc, actor, event, f"{where}, new ticket")
        world.related[result.id] = _related_by_data(lc, wf.get(result.id))
    if op == "view":
        assert target in may_view, f"{where}: a stranger saw the ticket"
        _check_view(lc, result, where)
    elif op == "allowed":
        assert target in mine, f"{where}: a stranger was told the triggers"
    elif op == "find":
        for ticket in result.tickets:
            assert ticket.id in mine, f"{where}: listed {ticket.id}, which the actor is not related to"
            _check_shown(lc, ticket, where)
    elif op == "export":
        hidden = {n for n, s in lc.fields.items() if s.internal}
        for row in result:
            assert row["id"] in mine, f"{where}: exported {row['id']}, which the actor is not related to"
            assert all(row[f"field:{n}"] is None for n in hidden), f"{where}: exported an internal field"
    elif op == "similar":
        assert target in mine, f"{where}: a stranger got suggestions"
        assert all(s.ticket_id in mine for s in result), f"{where}: suggested a ticket the actor may not see"


def check_access(
    lifecycle: Lifecycle,
    registry: Registry | None = None,
    *,
    max_examples: int | None = None,
    max_steps: int = 12,
    shrink: bool = True,
) -> None:
    """Drive random customers and strangers through the public API and check every access rule.

    The budget defaults to the active hypothesis profile's ``max_examples``.

    Raises:
        AssertionError: naming the operation, the actor, what they gave and the rule broken.
    """
    check_kit_arguments("check_access", lifecycle, registry)

    @kit_settings(max_examples, shrink=shrink)
    @given(st.data())
    def random_access(data: st.DataObject) -> None:
        world = _world(lifecycle, registry, data)
        people = _actors(lifecycle, data)
        for _ in range(data.draw(st.integers(1, max_steps), label="steps")):
            world.bench.clock.advance(timedelta(minutes=7))
            op = data.draw(st.sampled_from(_OPS), label="operation")
            actor = people[data.draw(st.sampled_from(sorted(people)), label="actor")]
            target = data.draw(st.sampled_from(sorted(world.related)), label="ticket")
            extras = _extras(lifecycle, data, actor)
            extras["other"] = data.draw(st.sampled_from(sorted(world.related)), label="other ticket")
            check_access_step(world, op, actor, target, extras)

    random_access()


class AccessContract:
    """The access property suite as a pytest class: set ``lifecycle`` (and ``registry``) on your subclass.

    Attributes:
        lifecycle: the lifecycle under test.
        registry: your guards and actions, if the lifecycle names any.
    """

    lifecycle: ClassVar[Lifecycle]
    registry: ClassVar[Registry | None] = None

    def test_customers_and_strangers_keep_to_their_own(self) -> None:
        """Random customers and strangers never change staff data, touch or see others' tickets, or see internals."""
        check_access(self.lifecycle, self.registry)
