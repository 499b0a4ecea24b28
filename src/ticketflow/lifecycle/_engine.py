"""The engine: a lifecycle compiled once, firing as a table lookup.

The definition goes into one ``transitions.Machine(model=None)`` — the
maintainers' pattern for many models sharing one machine — which checks it and
owns the graph. Firing on a ticket never touches the machine: the engine reads
the machine's events back into a table ``(state, trigger) -> transitions`` once,
so a fire is a dict lookup plus the checks ticketflow adds (roles, guards,
field rules), and no machine or model object is built per ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs
from transitions import Machine

from ticketflow._brief import brief
from ticketflow.errors import (
    FieldError,
    LifecycleError,
    PermissionDenied,
    TicketClosed,
    TicketNotFound,
    TransitionNotAllowed,
)
from ticketflow.lifecycle._definition import Compare, fingerprint
from ticketflow.model import (
    _ALWAYS_AWARE,
    UNSET,
    Actor,
    Change,
    Comment,
    Event,
    Ticket,
    blank_text,
    require_aware,
    stored_event,
    stored_ticket,
)

if TYPE_CHECKING:
    from ticketflow.lifecycle._definition import Lifecycle, Transition

__all__ = ["UNSET", "Engine", "GuardContext", "previous_state"]


_EMPTY: frozenset[str] = frozenset()
_NO_CHANGES: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen(slots=True)
class GuardContext:
    """What a guard sees when it is asked whether a transition may happen.

    Guards, like ``when`` conditions, judge the ticket as it is before the
    step, so :meth:`Workflow.allowed` can answer exactly what a fire would;
    the data a step carries is checked by the field rules (``require``,
    ``required_in``), not by guards.

    Attributes:
        ticket: the ticket as it is before the step.
        actor: who is acting.
        trigger: the trigger being fired.
        at: when the step happens.
    """

    ticket: Ticket
    actor: Actor
    trigger: str
    at: datetime


GuardMap = Mapping[str, Callable[[GuardContext], bool]]


def _mappings(fields: object, meta: object) -> None:
    """A TypeError naming the argument when *fields* or *meta* is given and not a mapping."""
    if fields is not None and not isinstance(fields, Mapping):
        raise TypeError(f"fields must be a mapping of field names to values, got {brief(fields)}")
    if meta is not None and not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a mapping, got {type(meta).__name__}")


def _blank(comment: Comment | None) -> bool:
    """No comment, or one with no visible character (:func:`~ticketflow.model.blank_text`): it is no comment."""
    return comment is None or (isinstance(comment.body, str) and blank_text(comment.body))


def _no_string(name: str, tags: object) -> None:
    """A TypeError naming the argument when a collection of tags is a string.

    A string is iterable, so ``add_tags="urgent"`` would otherwise add the
    tags ``u``, ``r``, ``g``... without a word.
    """
    if isinstance(tags, str):
        raise TypeError(f"{name} must be a collection of tags, got the string {brief(tags)}; write [{brief(tags)}]")


def previous_state(history: Sequence[Event], state: str) -> str | None:
    """The state a ticket was in before it entered *state* last (None: it was opened there)."""
    for event in reversed(history):
        if event.target == state and event.source != state:
            return event.source
    return None


class Engine:
    """A lifecycle compiled for firing; built once by the loader.

    Attributes:
        lifecycle: the definition.
        machine: the shared ``transitions`` machine (``model=None``).
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.machine = Machine(
            model=None,
            states=list(lifecycle.states),
            initial=lifecycle.initial,
            auto_transitions=False,
            transitions=[
                {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest} for t in lifecycle.transitions
            ],
        )
        # The machine is read through its public graph: for each event (trigger)
        # and source state, the transitions in the order they were added, each
        # with its ``dest``. That order is the definitions' order, so the k-th
        # compiled transition for (trigger, source) is the k-th definition with
        # that trigger leaving that source; their destinations must agree.
        defined: dict[tuple[str, str], list[Transition]] = {}
        for t in lifecycle.transitions:
            for source in t.sources:
                defined.setdefault((t.trigger, source), []).append(t)
        table: dict[tuple[str, str], list[Transition]] = {}
        reactions: dict[tuple[str, str], list[Transition]] = {}
        for trigger, event in self.machine.events.items():
            for source, compiled in event.transitions.items():
                ours = defined.get((trigger, source), [])
                if [c.dest for c in compiled] != [t.dest for t in ours]:
                    raise LifecycleError(f"the transitions machine holds {trigger!r} from {source!r} differently")
                for t in ours:
                    if t.on is None:
                        table.setdefault((source, trigger), []).append(t)
                    else:
                        reactions.setdefault((source, t.on.event), []).append(t)
        order = lambda t: t.index  # noqa: E731 - definition order decides between candidates
        self._table = {key: tuple(sorted(ts, key=order)) for key, ts in table.items()}
        self._reactions = {key: tuple(sorted(ts, key=order)) for key, ts in reactions.items()}
        self._manual = tuple(t for t in lifecycle.triggers if t not in ("comment", "update"))
        self._required_in: dict[str, tuple[str, ...]] = {
            sid: tuple(f.name for f in lifecycle.fields.values() if sid in f.required_in) for sid in lifecycle.states
        }
        # Transitions that only move the state (one candidate, no conditions,
        # no data rules, no changes on the way): a fire of one is a lookup,
        # a permission check and two value objects.
        self._plain = {key: ts[0] for key, ts in self._table.items() if len(ts) == 1 and self._is_plain(ts[0])}
        #: sha256 of the normalised definition (see :attr:`Lifecycle.fingerprint`)
        self.fingerprint = fingerprint(lifecycle.document)
        # The lifecycle's identity, recorded by every opening event (library keys: a caller cannot forge them).
        self._open_meta = MappingProxyType(
            {
                "lifecycle_id": lifecycle.id,
                "lifecycle_version": lifecycle.version,
                "lifecycle_fingerprint": self.fingerprint,
            }
        )
        self._access = lifecycle.access
        self._standing = lifecycle.access.standing
        #: ``elapsed`` conditions count business days in the lifecycle's own calendar.
        self._calendar = lifecycle.calendar
        #: Whether a transition goes back where the ticket came from (its history is then read).
        self.returning = any(t.returns for t in lifecycle.transitions)
        # A condition on an internal field never quotes its value in a refusal (a customer may read it).
        self._internal_fields = frozenset(name for name, spec in lifecycle.fields.items() if spec.internal)

    def _is_plain(self, t: Transition) -> bool:
        return not (
            t.when
            or t.guards
            or t.set_fields
            or t.add_tags
            or t.remove_tags
            or t.increment
            or t.claim
            or t.require
            or t.require_comment
            or t.given
            or t.stamp
            or t.returns
            or self._required_in[t.dest]
        )

    # -- queries -------------------------------------------------------------------

    def roles_of(self, actor: Actor) -> frozenset[str]:
        """The actor's roles with inheritance (cached per role set)."""
        return self._standing(actor).roles

    def transitions_from(self, state: str, trigger: str) -> tuple[Transition, ...]:
        """The transitions *trigger* may take from *state*, in definition order."""
        return self._table.get((state, trigger), ())

    def allowed(self, ticket: Ticket, actor: Actor, at: datetime, guards: GuardMap) -> list[str]:
        """Triggers *actor* may fire on *ticket* now, judged on its current data.

        A fire of a listed trigger can still be refused for the data it
        carries (a required field or comment missing): that is a
        :class:`FieldError`, never a state or permission refusal.
        """
        if self.lifecycle.states[ticket.state].immutable:
            return []
        roles = self.roles_of(actor)
        result = []
        for trigger in self._manual:
            for t in self._table.get((ticket.state, trigger), ()):
                if self._may(t, ticket, actor, roles) and self._holds(t, ticket, actor, ticket.fields, at, guards):
                    result.append(trigger)
                    break
        if roles & self.lifecycle.comment_roles:
            result.append("comment")
        if roles & self.lifecycle.update_roles:
            result.append("update")
        return result

    def path_between(self, state: str, dest: str) -> list[str]:
        """Triggers leading from *state* into *dest* in one step."""
        return [trig for trig in self._manual if any(t.dest == dest for t in self._table.get((state, trig), ()))]

    def trigger_to(self, ticket: Ticket, state: str) -> str:
        """The one trigger that leads *ticket* from its state to *state* (``Workflow.move_to``).

        Raises:
            TicketClosed: the ticket is in an immutable state (nothing leads anywhere).
            TransitionNotAllowed: an unknown state, no trigger leads there, or
                several do (the message lists them: fire one by name).
        """
        lc = self.lifecycle
        if lc.states[ticket.state].immutable:
            raise TicketClosed(ticket.id, f"->{state}", ticket.state)
        if state not in lc.states:
            raise TransitionNotAllowed(ticket.id, f"->{state}", ticket.state, f"unknown state {state!r}")
        triggers = self.path_between(ticket.state, state)
        if len(triggers) != 1:
            reason = (
                f"no trigger leads to {state!r}"
                if not triggers
                else f"several triggers lead to {state!r} ({', '.join(triggers)}); fire one by name"
            )
            raise TransitionNotAllowed(ticket.id, f"->{state}", ticket.state, reason)
        return triggers[0]

    # -- steps ---------------------------------------------------------------------

    def open(
        self,
        ticket_id: str,
        actor: Actor,
        at: datetime,
        *,
        title: str,
        fields: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        requester: str | None = None,
        assignee: str | None = None,
        participants: Iterable[str] = (),
        comment: Comment | None = None,
        meta: Mapping[str, Any] | None = None,
        checked: bool = True,
    ) -> tuple[Ticket, Event]:
        """The new ticket and its opening event (nothing is stored here).

        With *checked* (the default) every part the opener gives is checked
        against the lifecycle's access rules; the library passes ``False``
        only for parts it supplies itself (a route's assignee, a follow-up's
        copied people), after checking what the caller gave.

        Raises:
            PermissionDenied: the actor may not open tickets, or may not set a
                part given (a field, tag, person, comment author or visibility).
            FieldError: data missing or invalid.
        """
        _mappings(fields, meta)
        _no_string("tags", tags)
        if _blank(comment):  # a comment showing nothing is none, on every path (as_comment's rule)
            comment = None
        lc = self.lifecycle
        standing = self._standing(actor)
        if not standing.roles & lc.open_roles:
            raise PermissionDenied("(new)", "open", actor.id, sorted(actor.roles), sorted(lc.open_roles))
        crowd = frozenset(() if isinstance(participants, str) else participants)
        if isinstance(participants, str) or not all(isinstance(p, str) for p in crowd):
            raise FieldError(None, "open", ["participants"], "expected a collection of actor ids")
        if checked and not standing.free:
            self._access.check_open(
                actor, standing, fields=fields or {}, tags=tags, requester=requester, assignee=assignee,
                participants=crowd, comment=comment,
            )  # fmt: skip
        if not isinstance(title, str) or not title.strip():
            raise FieldError(None, "open", ["title"], "a ticket needs a non-empty title")
        values = {name: spec.default for name, spec in lc.fields.items() if spec.default is not None}
        values.update(self._coerce(None, "open", fields or {}))
        shared = self._access.shared_field
        if shared is not None and values.get(shared) is None and not standing.staff and len(actor.accounts) == 1:
            values[shared] = next(iter(actor.accounts))  # a customer's ticket belongs to their one account
        values = {k: v for k, v in values.items() if v is not None}
        missing = [name for name in self._required_in[lc.initial] if name not in values]
        if missing:
            raise FieldError(None, "open", missing, f"required to enter {lc.initial!r}")
        tagset = self._check_tags(None, "open", tags)
        requester = requester if requester is not None else actor.id
        people: dict[str, Any] = {"title": title, "requester": requester, "assignee": assignee, "participants": crowd}
        event = Event(
            ticket_id=ticket_id,
            seq=1,
            at=at,
            actor=actor,
            trigger="open",
            source=None,
            target=lc.initial,
            field_changes={k: Change(None, v) for k, v in values.items()},
            attribute_changes={k: Change(None, v) for k, v in people.items() if v},
            tags_added=tagset,
            comment=comment,
            meta={**meta, **self._open_meta} if meta else self._open_meta,
        )
        ticket = Ticket(
            id=ticket_id,
            lifecycle_id=lc.id,
            state=lc.initial,
            version=1,
            created_at=at,
            updated_at=at,
            title=title,
            fields=values,
            tags=tagset,
            requester=requester,
            assignee=assignee,
            participants=crowd,
        )
        return ticket, event

    def apply(
        self,
        ticket: Ticket,
        trigger: str,
        actor: Actor,
        at: datetime,
        *,
        comment: Comment | None = None,
        fields: Mapping[str, Any] | None = None,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        attributes: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        guards: GuardMap | None = None,
        related: bool = False,
        came_from: Callable[[], str | None] | None = None,
        react: bool = True,
    ) -> tuple[Ticket, Event, Transition | None]:
        """The ticket after *trigger*, its event, and the transition taken.

        The transition is ``None`` for a comment or update that moved nothing.
        Pure: nothing is stored, and a refusal raises before anything exists.
        *came_from* tells the state the ticket was in before its current one
        (read from its history, see :func:`previous_state`), for transitions
        that ``return`` there; without it they are not taken.

        A customer (no staff role) must be related to the ticket (see
        :mod:`ticketflow.lifecycle._access`); the library passes *related*
        when it established that by other means (a broadcast's audience).
        Without *react*, a comment moves nothing: no ``on = comment``
        transition is taken (an acknowledgement is no reply).
        Every part given (fields, tags, people, the comment's author and
        visibility) is checked against who may set it.

        Raises:
            TicketNotFound: a customer not related to the ticket (as if it
                did not exist, so ids cannot be probed).
            TicketClosed: the ticket is in an immutable state.
            TransitionNotAllowed: unknown trigger, no transition from the
                state, its conditions (``when``, guards) do not hold, or *at*
                is before the ticket was opened.
            PermissionDenied: the actor may not fire it, or may not set a part given.
            FieldError: data missing (required fields, comment) or invalid.
        """
        _mappings(fields, meta)
        _no_string("add_tags", add_tags)
        _no_string("remove_tags", remove_tags)
        if _blank(comment):  # a comment showing nothing is none, on every trigger (as_comment's rule)
            comment = None
        lc = self.lifecycle
        state = ticket.state
        standing = self._standing(actor)
        if not (standing.staff or related or self._access.related(ticket, actor)):
            raise TicketNotFound(ticket.id)
        if lc.states[state].immutable:
            raise TicketClosed(ticket.id, trigger, state)
        if type(at) is not datetime or type(at.tzinfo) not in _ALWAYS_AWARE:
            require_aware(at, "at")
        if at < ticket.created_at:  # a step before the ticket existed: its clocks would count back in time
            raise TransitionNotAllowed(
                ticket.id, trigger, state, f"at {at.isoformat()} is before the ticket was opened ({ticket.created_at})"
            )
        if not standing.free and (comment is not None or fields or add_tags or remove_tags or attributes):
            self._access.check_change(
                ticket, trigger, actor, standing, comment=comment, fields=fields, add_tags=add_tags,
                remove_tags=remove_tags, attributes=attributes,
            )  # fmt: skip
        roles = standing.roles
        if not (fields or add_tags or remove_tags or attributes):
            plain = self._plain.get((state, trigger))
            if plain is not None and self._may(plain, ticket, actor, roles):
                seq = ticket.version + 1
                dest = plain.dest
                # parts in stored form already: built without attrs' converters (the hot path)
                event = stored_event(
                    ticket.id, seq, at, actor, trigger, state, dest, _NO_CHANGES, _NO_CHANGES,
                    _EMPTY, _EMPTY, comment, MappingProxyType(dict(meta)) if meta else _NO_CHANGES,
                )  # fmt: skip
                new = stored_ticket(
                    ticket.id, ticket.lifecycle_id, dest, seq, ticket.created_at, at, ticket.title,
                    ticket.fields, ticket.tags, ticket.requester, ticket.assignee, ticket.participants,
                )  # fmt: skip
                return new, event, plain
        guards = guards or {}
        supplied = self._coerce(ticket.id, trigger, fields) if fields else {}
        merged = {**ticket.fields, **supplied} if supplied else ticket.fields
        chosen: Transition | None
        if trigger == "comment":
            self._check_builtin(ticket, trigger, actor, roles, lc.comment_roles)
            if _blank(comment):
                raise FieldError(ticket.id, trigger, ["comment"], "a comment step needs a comment")
            chosen = (
                self._react(ticket, "comment", actor, roles, merged, at, guards, comment=comment, came_from=came_from)
                if react
                else None
            )
        elif trigger == "update":
            self._check_builtin(ticket, trigger, actor, roles, lc.update_roles)
            chosen = self._react(
                ticket, "field_set", actor, roles, merged, at, guards, supplied=supplied, came_from=came_from
            )
        else:
            chosen = self._choose(ticket, trigger, actor, roles, ticket.fields, at, guards, merged, came_from)
        dest = state if chosen is None else chosen.dest
        if chosen is not None:
            if chosen.stamp:
                stamped = {name: lc.fields[name].coerce(at if lc.fields[name].type == "datetime" else at.date())
                           for name in chosen.stamp}  # fmt: skip
                merged = {**merged, **stamped}
            if (
                chosen.comment_visibility is not None
                and comment is not None
                and comment.visibility != chosen.comment_visibility
            ):
                raise FieldError(
                    ticket.id, trigger, ["visibility"], f"this step needs a {chosen.comment_visibility} comment"
                )
            if chosen.claim and ticket.assignee is None and "assignee" not in (attributes or {}):
                attributes = {**(attributes or {}), "assignee": actor.id}  # the lifecycle's doing: not checked
            if chosen.set_fields:
                merged = {**merged, **chosen.set_fields}
            if chosen.increment:
                merged = {**merged, **{name: (merged.get(name) or 0) + 1 for name in chosen.increment}}
            if chosen.require_comment and _blank(comment):
                raise FieldError(ticket.id, trigger, ["comment"], "this step needs a comment")
            self._check_required(ticket, trigger, chosen, dest, merged, attributes)
        field_changes = _NO_CHANGES
        if merged is not ticket.fields:
            old = ticket.fields
            field_changes = {}
            for name, value in merged.items():
                before = old.get(name)
                if before != value:
                    field_changes[name] = Change(before, value)
            merged = {k: v for k, v in merged.items() if v is not None}
        attribute_changes = self._attribute_changes(ticket, trigger, attributes) if attributes else _NO_CHANGES
        added = self._check_tags(ticket.id, trigger, add_tags)
        removed = frozenset(remove_tags)
        if chosen is not None:
            added = added | chosen.add_tags
            removed = removed | chosen.remove_tags
        tags_added = added - ticket.tags if added else _EMPTY
        tags_removed = (removed & ticket.tags) - added if removed else _EMPTY
        seq = ticket.version + 1
        event = Event(
            ticket.id,
            seq,
            at,
            actor,
            trigger if chosen is None else chosen.trigger,
            state,
            dest,
            field_changes,
            attribute_changes,
            tags_added,
            tags_removed,
            comment,
            meta or _NO_CHANGES,
        )
        new_attrs = {name: change.after for name, change in attribute_changes.items()}
        new = Ticket(
            ticket.id,
            ticket.lifecycle_id,
            dest,
            seq,
            ticket.created_at,
            at,
            new_attrs.get("title", ticket.title),
            merged,
            (ticket.tags - tags_removed) | tags_added if (tags_added or tags_removed) else ticket.tags,
            new_attrs.get("requester", ticket.requester),
            new_attrs.get("assignee", ticket.assignee),
            new_attrs.get("participants", ticket.participants),
        )
        return new, event, chosen

    # -- the checks ------------------------------------------------------------------

    @staticmethod
    def _may(t: Transition, ticket: Ticket, actor: Actor, roles: frozenset[str]) -> bool:
        if roles & t.roles:
            return True
        who = t.who
        if not who:
            return False
        return (
            ("assignee" in who and actor.id == ticket.assignee)
            or ("requester" in who and actor.id == ticket.requester)
            or ("participant" in who and actor.id in ticket.participants)
        )

    def _failed_condition(
        self, t: Transition, ticket: Ticket, actor: Actor, fields: Mapping[str, Any], at: datetime, guards: GuardMap
    ) -> str | None:
        for name, expected in t.when.items():
            value = fields.get(name)
            shown = "not as needed" if name in self._internal_fields else repr(value)
            if isinstance(expected, Compare):
                if not expected.holds(value, at, self._calendar):
                    return f"field {name!r} is {shown}, needs {expected}"
            elif isinstance(expected, tuple) and not isinstance(value, tuple):
                if value not in expected:
                    return f"field {name!r} is {shown}, needs one of {list(expected)}"
            elif value != expected:
                return f"field {name!r} is {shown}, needs {expected!r}"
        if t.guards:
            context = GuardContext(ticket, actor, t.trigger, at)
            for name in t.guards:
                guard = guards.get(name)
                if guard is None:
                    return f"guard {name!r} is not registered"
                if not guard(context):
                    return f"guard {name!r} refused"
        return None

    def _holds(
        self, t: Transition, ticket: Ticket, actor: Actor, fields: Mapping[str, Any], at: datetime, guards: GuardMap
    ) -> bool:
        if not t.when and not t.guards:
            return True
        return self._failed_condition(t, ticket, actor, fields, at, guards) is None

    def _not_given(self, t: Transition, data: Mapping[str, Any]) -> str | None:
        """Why the data a step carries does not meet the transition's ``given`` (None: it does)."""
        for name, expected in t.given.items():
            value = data.get(name)
            if isinstance(expected, Compare):
                if not expected.holds(value):
                    return f"{name!r} is {value!r}, needs {expected}"
            elif isinstance(expected, tuple) and not isinstance(value, tuple):
                if value not in expected:
                    return f"{name!r} is {value!r}, needs one of {list(expected)}"
            elif value != expected:
                return f"{name!r} is {value!r}, needs {expected!r}"
        return None

    @staticmethod
    def _returns_elsewhere(t: Transition, came_from: Callable[[], str | None] | None) -> bool:
        """Whether a returning transition leads somewhere other than where the ticket came from."""
        return t.returns and (came_from is None or came_from() != t.dest)

    def _choose(
        self,
        ticket: Ticket,
        trigger: str,
        actor: Actor,
        roles: frozenset[str],
        fields: Mapping[str, Any],
        at: datetime,
        guards: GuardMap,
        data: Mapping[str, Any] | None = None,
        came_from: Callable[[], str | None] | None = None,
    ) -> Transition:
        candidates = self._table.get((ticket.state, trigger))
        if not candidates:
            if trigger not in self._manual:
                known = ", ".join(self.lifecycle.triggers)
                reason = f"unknown trigger; this lifecycle has: {known}"
            else:
                leaving = [trig for trig in self._manual if (ticket.state, trig) in self._table]
                reason = f"no transition leaves this state by it; from here: {', '.join(leaving) or 'none'}"
            raise TransitionNotAllowed(ticket.id, trigger, ticket.state, reason)
        permitted = [t for t in candidates if self._may(t, ticket, actor, roles)]
        if not permitted:
            who: set[str] = set()
            for t in candidates:
                who |= t.roles | t.who
            raise PermissionDenied(ticket.id, trigger, actor.id, sorted(actor.roles), sorted(who))
        if came_from is not None or any(t.returns for t in permitted):
            permitted = [t for t in permitted if not self._returns_elsewhere(t, came_from)]
        if any(t.given for t in permitted):
            # the data the step carries picks among them; the chosen ones' conditions must then hold
            data = fields if data is None else data
            misses = [(t, self._not_given(t, data)) for t in permitted]
            permitted = [t for t, miss in misses if miss is None]
            if not permitted:
                names = sorted({name for t, _ in misses for name in t.given})
                raise FieldError(ticket.id, trigger, names, "; ".join(f"{t.path}: {miss}" for t, miss in misses))
        reasons = []
        for t in permitted:
            failed = self._failed_condition(t, ticket, actor, fields, at, guards)
            if failed is None:
                return t
            reasons.append(f"{t.path}: {failed}")
        raise TransitionNotAllowed(ticket.id, trigger, ticket.state, "; ".join(reasons) or "nowhere to return to")

    def _react(
        self,
        ticket: Ticket,
        event: str,
        actor: Actor,
        roles: frozenset[str],
        fields: Mapping[str, Any],
        at: datetime,
        guards: GuardMap,
        *,
        comment: Comment | None = None,
        supplied: Mapping[str, Any] | None = None,
        came_from: Callable[[], str | None] | None = None,
    ) -> Transition | None:
        for t in self._reactions.get((ticket.state, event), ()):
            on = t.on
            assert on is not None  # noqa: S101 - reactions always have `on`
            if comment is not None and on.visibility is not None and comment.visibility != on.visibility:
                continue
            if t.given and self._not_given(t, fields) is not None:
                continue
            if self._returns_elsewhere(t, came_from):
                continue
            if supplied is not None:
                watched = on.field or ""
                value = supplied.get(watched)
                if value is None or value == ticket.fields.get(watched):
                    continue
            if not self._may(t, ticket, actor, roles) or not self._holds(t, ticket, actor, ticket.fields, at, guards):
                continue
            if self._missing(t, t.dest, {**fields, **t.set_fields}, ticket, None):
                continue  # a reaction whose data rules fail is not taken; the plain step still is
            if t.require_comment and comment is None:
                continue
            return t
        return None

    def _check_builtin(
        self, ticket: Ticket, trigger: str, actor: Actor, roles: frozenset[str], allowed: frozenset[str]
    ) -> None:
        if not roles & allowed:
            raise PermissionDenied(ticket.id, trigger, actor.id, sorted(actor.roles), sorted(allowed))

    def _missing(
        self,
        t: Transition,
        dest: str,
        fields: Mapping[str, Any],
        ticket: Ticket,
        attributes: Mapping[str, Any] | None,
    ) -> list[str]:
        missing = [name for name in self._required_in[dest] if fields.get(name) is None]
        for name in t.require:
            if name in ("assignee", "requester"):
                value = (attributes or {}).get(name, getattr(ticket, name))
            else:
                value = fields.get(name)
            if value is None and name not in missing:
                missing.append(name)
        return missing

    def _check_required(
        self,
        ticket: Ticket,
        trigger: str,
        t: Transition,
        dest: str,
        fields: Mapping[str, Any],
        attributes: Mapping[str, Any] | None,
    ) -> None:
        missing = self._missing(t, dest, fields, ticket, attributes)
        if missing:
            raise FieldError(ticket.id, trigger, missing, f"required by {t.path} (into {dest!r})")

    def coerce_fields(self, ticket_id: str | None, trigger: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """*fields* in their stored form, as a step would store them.

        Raises:
            FieldError: an unknown field, or a value its type refuses (naming it).
        """
        return self._coerce(ticket_id, trigger, fields)

    def _coerce(self, ticket_id: str | None, trigger: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        specs = self.lifecycle.fields
        result = {}
        for name, value in fields.items():
            spec = specs.get(name)
            if spec is None:
                named = name if isinstance(name, str) else brief(name)  # a key of any type: named, not a TypeError
                raise FieldError(ticket_id, trigger, [named], f"unknown field; declared: {', '.join(specs) or 'none'}")
            try:
                result[name] = spec.coerce(value)
            except ValueError as exc:
                raise FieldError(ticket_id, trigger, [name], str(exc)) from exc
        return result

    def _check_tags(self, ticket_id: str | None, trigger: str, tags: Iterable[str]) -> frozenset[str]:
        tagset = frozenset(tags)
        if not tagset:
            return _EMPTY
        bad = [t for t in tagset if not isinstance(t, str) or not t or not self.lifecycle.tag_allowed(t)]
        if bad:
            raise FieldError(ticket_id, trigger, [str(b) for b in bad], "tag not allowed by the lifecycle's `tags`")
        return tagset

    @staticmethod
    def _attribute_changes(ticket: Ticket, trigger: str, attributes: Mapping[str, Any]) -> dict[str, Change]:
        changes = {}
        for name, value in attributes.items():
            if value is UNSET:
                continue
            if name == "title":
                if not isinstance(value, str) or not value.strip():
                    raise FieldError(ticket.id, trigger, ["title"], "the title must be a non-empty string")
            elif name in ("assignee", "requester"):
                if value is not None and not isinstance(value, str):
                    raise FieldError(ticket.id, trigger, [name], "expected an actor id or None")
            elif name == "participants":
                if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                    raise FieldError(ticket.id, trigger, [name], "expected a collection of actor ids")
                value = frozenset(value)
            else:
                raise FieldError(ticket.id, trigger, [name], "not a ticket attribute")
            before = getattr(ticket, name)
            if before != value:
                changes[name] = Change(before, value)
        return changes
