"""Intake: which channel may open which request, and who gets the ticket.

The rules are the lifecycle's ``[intake]`` section; the assignment policies
they name are objects the application registers (a point-of-contact lookup,
a team's round robin...), built from the ones here or its own.
"""

from __future__ import annotations

import itertools
import threading
from collections import ChainMap, Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ticketflow._selectors import selects
from ticketflow.errors import InvalidLifecycle, TicketflowError
from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._loader import SECTION_CHECKS
from ticketflow.model import Change, Event, Ticket
from ticketflow.protocols import AssignmentPolicy, OutboxMessage, TicketRepository

__all__ = [
    "AssignmentPolicy",
    "Channel",
    "Continuity",
    "IntakeRefused",
    "IntakeRules",
    "LeastLoaded",
    "PointOfContact",
    "RoundRobin",
    "Route",
    "contact_message",
    "intake_rules",
    "with_builtin_policies",
]


class IntakeRefused(TicketflowError):
    """A request this channel may not take; nothing was stored.

    Attributes:
        channel: the channel it came through.
        request_type: its request type, if any.
        reason: why it was refused.
        instead: the channel to use instead, if the lifecycle names one.
    """

    def __init__(self, channel: str, request_type: Any, reason: str, instead: str | None) -> None:
        self.channel = channel
        self.request_type = request_type
        self.reason = reason
        self.instead = instead
        hint = f"; use the {instead!r} channel instead" if instead else ""
        super().__init__(f"channel {channel!r} refused the request: {reason}{hint}")


@attrs.frozen
class Channel:
    """An intake channel (see the ``[intake]`` section of the lifecycle format)."""

    name: str
    types: frozenset[str] | None
    needs_authentication: frozenset[str]
    ticket: frozenset[str]
    instead: str | None

    def opens_ticket(self, request_type: Any) -> bool:
        """Whether a request of this type becomes a formal ticket here."""
        return "*" in self.ticket or request_type in self.ticket


@attrs.frozen
class Route:
    """A routing rule: tickets whose fields match ``when`` go to ``policy``.

    Attributes:
        when: field values selecting the route (a tuple: any of).
        policy: the assignment policy's name.
        add_tags: tags put on the ticket (a queue).
        optional: the route applies only once the application registers
            the policy (a built-in naming an application's lookup).
        reassign: an update that makes the ticket match replaces the
            assignee it has (a transfer); otherwise only an unassigned
            ticket is routed then.
    """

    when: Mapping[str, Any]
    policy: str
    add_tags: frozenset[str]
    optional: bool = False
    reassign: bool = False

    def selects(self, fields: Mapping[str, Any]) -> bool:
        """Whether a ticket with *fields* takes this route."""
        return selects(self.when, fields)


@attrs.frozen
class IntakeRules:
    """A lifecycle's intake rules."""

    type_field: str | None
    channels: Mapping[str, Channel]
    routes: tuple[Route, ...]

    def check(self, channel: str | None, fields: Mapping[str, Any], authenticated: bool) -> Channel | None:
        """The channel a request comes through, or IntakeRefused saying why it may not.

        Without channels in the lifecycle, or without a channel (staff
        opening a ticket in the back office, an import), any request is taken.
        """
        if not self.channels or channel is None:
            return None
        if channel not in self.channels:
            raise IntakeRefused(channel, None, f"unknown channel; known: {', '.join(self.channels)}", None)
        spec = self.channels[channel]
        request_type = fields.get(self.type_field) if self.type_field else None
        if spec.types is not None and request_type not in spec.types:
            raise IntakeRefused(
                channel, request_type, f"this channel does not take {request_type!r} requests", spec.instead
            )
        if not authenticated and ("*" in spec.needs_authentication or request_type in spec.needs_authentication):
            raise IntakeRefused(
                channel,
                request_type,
                f"the requester cannot be authenticated on {channel!r}, and {request_type or 'this'!s} "
                "requests need that for security",
                spec.instead,
            )
        return spec

    def request_type(self, fields: Mapping[str, Any]) -> Any:
        """The request's type: the value of the ``type_field``, if the lifecycle names one."""
        return fields.get(self.type_field) if self.type_field else None

    def opens_ticket(self, channel: str | None, fields: Mapping[str, Any], authenticated: bool) -> bool:
        """Whether the request becomes a ticket (else a contact); IntakeRefused if the channel may not take it."""
        spec = self.check(channel, fields, authenticated)
        return spec is None or spec.opens_ticket(self.request_type(fields))

    def check_ticket(self, channel: str | None, fields: Mapping[str, Any], authenticated: bool) -> None:
        """IntakeRefused unless the request may open a ticket (a contact-only channel points to ``receive``)."""
        spec = self.check(channel, fields, authenticated)
        request_type = self.request_type(fields)
        if spec is not None and not spec.opens_ticket(request_type):
            raise IntakeRefused(
                spec.name, request_type, "this channel records a contact, not a ticket: use receive()", spec.instead
            )

    def route(
        self, ticket: Ticket, policies: Mapping[str, AssignmentPolicy], repository: TicketRepository
    ) -> tuple[Route, str | None] | None:
        """The first route the new ticket takes and the assignee its policy picks (None: no route).

        An ``optional`` route whose policy the application has not
        registered is passed over.
        """
        for route in self.routes:
            if route.selects(ticket.fields):
                policy = policies.get(route.policy)
                if policy is None:
                    continue
                return route, policy(ticket, repository)
        return None


def rerouted(
    intake: IntakeRules,
    policies: Mapping[str, AssignmentPolicy],
    repository: TicketRepository,
    ticket: Ticket,
    event: Event,
) -> tuple[Ticket, Event]:
    """The ticket and event after a step that changed fields a route reads (as they were if no route applies).

    Routing is not only for new tickets: when a step changes a field of a
    route's ``when`` (the category set once the ticket is evaluated) and
    the ticket now takes that route, the route's policy assigns it — if it
    has no assignee, or always with ``reassign`` (a transfer) — and its
    tags are added; the event records the route (``meta["route"]``). A step
    that names the assignee itself is left alone.
    """
    changed = event.field_changes
    if "assignee" in event.attribute_changes:
        return ticket, event
    route = next(
        (r for r in intake.routes if r.selects(ticket.fields) and (r.policy in policies or not r.optional)), None
    )
    if route is None or not any(name in changed for name in route.when):
        return ticket, event
    assignee = policies[route.policy](ticket, repository)
    if ticket.assignee is not None and not route.reassign:
        assignee = ticket.assignee
    attribute_changes = dict(event.attribute_changes)
    if assignee is not None and assignee != ticket.assignee:
        attribute_changes["assignee"] = Change(ticket.assignee, assignee)
    else:
        assignee = ticket.assignee
    added = route.add_tags - ticket.tags
    if assignee == ticket.assignee and not added:
        return ticket, event
    meta = {**event.meta, "route": route.policy}
    new_event = attrs.evolve(event, attribute_changes=attribute_changes, tags_added=event.tags_added | added, meta=meta)
    return attrs.evolve(ticket, assignee=assignee, tags=ticket.tags | added), new_event


def contact_message(
    channel: str,
    actor: str,
    title: str,
    fields: Mapping[str, Any] | None,
    comment: str | None,
    at: datetime,
) -> OutboxMessage:
    """A request recorded as a contact (kind ``contact.recorded``) for the team's inbox, not a ticket."""
    return OutboxMessage(
        f"contact:{channel}:{actor}:{at.isoformat()}",
        "",
        "contact.recorded",
        {"channel": channel, "from": actor, "title": title, "fields": dict(fields or {}), "comment": comment},
        at,
    )


def intake_rules(lifecycle: Lifecycle, policies: Mapping[str, object] | None) -> IntakeRules:
    """Read the ``[intake]`` section; every named policy must be registered (``policies=None``: not checked).

    Raises:
        InvalidLifecycle: with the path of an unknown field, channel or policy.
    """
    section = lifecycle.document.get("intake", {})

    def fail(path: str, problem: str) -> InvalidLifecycle:
        return InvalidLifecycle(lifecycle.source, path, problem)

    type_field = section.get("type_field")
    if type_field is not None and type_field not in lifecycle.fields:
        raise fail("intake.type_field", f"unknown field {type_field!r}")
    choices = set(lifecycle.fields[type_field].choices) if type_field and lifecycle.fields[type_field].choices else None
    channels: dict[str, Channel] = {}
    for name, spec in section.get("channels", {}).items():
        for key in ("types", "needs_authentication", "ticket"):
            for i, value in enumerate(spec.get(key, ())):
                if choices is not None and value != "*" and value not in choices:
                    raise fail(f"intake.channels.{name}.{key}[{i}]", f"unknown request type {value!r}")
        channels[name] = Channel(
            name=name,
            types=frozenset(spec["types"]) if "types" in spec else None,
            needs_authentication=frozenset(spec.get("needs_authentication", ())),
            ticket=frozenset(spec.get("ticket", ["*"])),
            instead=spec.get("instead"),
        )
    for name, channel in channels.items():
        if channel.instead is not None and channel.instead not in channels:
            raise fail(f"intake.channels.{name}.instead", f"unknown channel {channel.instead!r}")
    routes = []
    for i, spec in enumerate(section.get("routes", ())):
        when: dict[str, Any] = {}
        for field, value in spec.get("when", {}).items():
            if field not in lifecycle.fields:
                raise fail(f"intake.routes[{i}].when.{field}", f"unknown field {field!r}")
            when[field] = tuple(value) if isinstance(value, list) else value
        if policies is not None and spec["policy"] not in policies and not spec.get("optional", False):
            raise fail(
                f"intake.routes[{i}].policy",
                f"assignment policy {spec['policy']!r} is not registered; registry.add_policy({spec['policy']!r}, ...)",
            )
        routes.append(
            Route(
                when,
                spec["policy"],
                frozenset(spec.get("add_tags", ())),
                optional=spec.get("optional", False),
                reassign=spec.get("reassign", False),
            )
        )
    return IntakeRules(type_field, channels, tuple(routes))


@attrs.frozen
class PointOfContact:
    """The account's point of contact, from a lookup the application supplies (ClickUp seed).

    Attributes:
        lookup: maps the value of ``field`` (an account) to an agent id.
        field: the ticket field naming the account.
    """

    lookup: Callable[[Any], str | None]
    field: str = "account"

    def __call__(self, ticket: Ticket, repository: TicketRepository, /) -> str | None:
        """The contact for the ticket's account, if any."""
        account = ticket.fields.get(self.field)
        return None if account is None else self.lookup(account)


@attrs.frozen
class Continuity:
    """The agent this requester has mostly worked with (Zendesk seed).

    The assignee of most of the requester's latest earlier tickets; between
    agents with as many, the one of the most recently updated ticket.

    Attributes:
        recent: how many of the requester's latest tickets to look at.
    """

    recent: int = 20

    def __call__(self, ticket: Ticket, repository: TicketRepository, /) -> str | None:
        """The assignee of most of the requester's earlier tickets (ties: the most recently updated one's)."""
        if ticket.requester is None:
            return None
        earlier = [t for t in repository.find(requester=ticket.requester, limit=500).tickets if t.id != ticket.id]
        latest = [t.assignee for t in sorted(earlier, key=lambda t: t.updated_at, reverse=True)[: self.recent]]
        agents = [agent for agent in latest if agent]
        if not agents:
            return None
        counts = Counter(agents)
        return max(counts, key=lambda agent: (counts[agent], -agents.index(agent)))


class RoundRobin:
    """Each new ticket to the next member of a team, in turn (per process)."""

    def __init__(self, members: Sequence[str]) -> None:
        if not members:
            raise ValueError("a round robin needs at least one member")
        self.members = tuple(members)
        self._next = itertools.cycle(self.members)
        self._lock = threading.Lock()

    def __call__(self, ticket: Ticket, repository: TicketRepository, /) -> str | None:
        """The next member."""
        with self._lock:
            return next(self._next)


@attrs.frozen
class LeastLoaded:
    """The team member with the fewest open tickets (read from the repository).

    Attributes:
        members: the team.
        open_states: the states that count as load.
    """

    members: tuple[str, ...]
    open_states: frozenset[str]

    def __call__(self, ticket: Ticket, repository: TicketRepository, /) -> str | None:
        """The least loaded member (ties: the first listed)."""
        loads = [(repository.count(assignee=m, state=self.open_states), i, m) for i, m in enumerate(self.members)]
        return min(loads)[2] if loads else None


def _check_section(lifecycle: Lifecycle) -> None:
    """The ``[intake]`` section, checked when the lifecycle loads (policies are checked at ``Workflow(...)``)."""
    intake_rules(lifecycle, None)


SECTION_CHECKS["intake"] = _check_section


def with_builtin_policies(policies: dict[str, AssignmentPolicy]) -> Mapping[str, AssignmentPolicy]:
    """The application's *policies* (a live view) and the built-in ``continuity``, which needs nothing from it."""
    return ChainMap(policies, {"continuity": Continuity()})
