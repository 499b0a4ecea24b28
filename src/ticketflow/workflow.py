"""The :class:`Workflow` facade: wires a lifecycle, storage, clock and registry.

It holds no rules. Every change goes through one
:class:`~ticketflow.recording.Recorder`: a plan reads the ticket and asks the
lifecycle's engine for the change (a pure function); the recorder asks the
:class:`~ticketflow.automation.Scheduler` for the next due instant, saves
the ticket, its events, outbox messages and links in one transaction with an
optimistic version check, retries when another writer got there first, and
runs the fired transition's actions after commit.

The core (construction, ``open``, ``fire``, ``comment``, ``update``,
``move_to``, ``get``, ``history``, ``allowed``) is here; the rest of the API
comes from the parts in :mod:`ticketflow._facade`, one concern each.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ticketflow._facade import DeliveryPart, IntakePart, LinksPart, ReadsPart, VersionsPart
from ticketflow._facade._wiring import check_parts
from ticketflow._recent import TicketCache
from ticketflow.automation import DeliveryState, Scheduler, new_owner, warn_unhandled
from ticketflow.calendar import BusinessCalendar
from ticketflow.clock import SystemClock
from ticketflow.errors import LifecycleMismatch, LifecycleVersionMismatch, TicketNotFound
from ticketflow.intake import (
    TicketIds,
    check_key_prefix,
    intake_rules,
    open_ticket,
    rerouted,
    with_builtin_policies,
)
from ticketflow.lifecycle import UNSET, Lifecycle, previous_state
from ticketflow.model import APP_META, Actor, Comment, Event, Ticket, Visibility, as_comment, require_aware
from ticketflow.protocols import Clock, TicketRepository
from ticketflow.recording import Reads, Recorder, Scope, Write, entry_notices, fired
from ticketflow.registry import Registry
from ticketflow.repository import MemoryRepository
from ticketflow.similar import Suggestions
from ticketflow.sla import SlaPolicy, policy_for
from ticketflow.versions import VersionDispatch, known_versions

__all__ = ["Workflow"]


def _new_id() -> str:
    return uuid.uuid4().hex


class Workflow(ReadsPart, IntakePart, LinksPart, DeliveryPart, VersionsPart):
    """Run tickets through one lifecycle.

    Args:
        lifecycle: the compiled lifecycle (``tf.builtin(...)`` or
            ``tf.load_lifecycle(...)``).
        repository: where tickets live (default: a new
            :class:`~ticketflow.MemoryRepository`).
        calendar: the business calendar for business-time rules, if any.
        clock: where "now" comes from when ``at=`` is not given (default:
            :class:`~ticketflow.SystemClock`).
        registry: the application's named guards and actions.
        max_retries: how often a save refused by a concurrent writer is
            retried (re-reading the ticket and re-checking the transition).
        id_factory: makes new ticket ids (default: random UUID hex).
        ticket_cache: how many recently saved tickets a fire may start from
            instead of reading them back (0: always read; default: 1024, or
            0 with a :class:`~ticketflow.MemoryRepository`, where a read
            costs nothing). Safe with other writers: a stale copy is caught
            by the save's version check, and refusals are judged again on the
            stored ticket.
        previous: other versions of the lifecycle (same id, other version
            numbers) that :meth:`migrate` may move tickets from: earlier
            ones, or a later one to roll back from.

    Raises:
        InvalidLifecycle: a previous version is of another lifecycle, has
            *lifecycle*'s version number, or repeats a version number. A transition names a guard or action the registry
            does not have. SlaConfigError: the lifecycle's ``[sla]`` section
            cannot be used (with its path).
        TypeError: an argument of the wrong type (a lifecycle's name or a
            database path instead of the objects), naming it.
    """

    def __init__(
        self,
        lifecycle: Lifecycle,
        repository: TicketRepository | None = None,
        *,
        calendar: BusinessCalendar | None = None,
        clock: Clock | None = None,
        registry: Registry | None = None,
        max_retries: int = 3,
        id_factory: Callable[[], str] = _new_id,
        ticket_cache: int | None = None,
        previous: Sequence[Lifecycle] = (),
    ) -> None:
        check_parts(lifecycle, repository, calendar, clock, registry, previous)
        self.lifecycle = lifecycle
        #: The versions of the lifecycle this Workflow knows, by number (the current one included).
        self.versions: Mapping[int, Lifecycle] = known_versions(lifecycle, previous)
        self.repository: TicketRepository = repository if repository is not None else MemoryRepository()
        self.calendar = calendar
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.registry = registry if registry is not None else Registry()
        if ticket_cache is None:
            ticket_cache = 0 if isinstance(self.repository, MemoryRepository) else 1024
        self._engine = lifecycle.engine
        self._access = lifecycle.access
        self._guards = self.registry.guards
        self.sla_policy: SlaPolicy | None = policy_for(
            lifecycle, calendar or lifecycle.calendar, resolvers=self.registry.calendar_resolvers
        )
        self._scheduler = Scheduler(lifecycle, calendar or lifecycle.calendar, self.sla_policy)
        #: The calendar business-time rules count in: the workflow's, the lifecycle's, or the SLA policy's.
        self.timer_calendar = self._scheduler.timer_calendar
        self._cache = TicketCache(
            self.repository, ticket_cache, histories=not self._scheduler.plain, lifecycle=lifecycle
        )
        self._recent = self._cache.recent
        self._recorder = Recorder(
            self._cache,
            schedule=None if self._scheduler.plain else self._scheduler,  # nothing is ever due: skip asking
            actions=self.registry.actions,
            max_retries=max_retries,
            listeners=self.registry.listeners,
            notices=entry_notices(lifecycle),
        )
        self._ids = TicketIds(self.repository, lifecycle, None if id_factory is _new_id else id_factory)
        self._scope = Scope(self._recorder, self._engine, self._guards, self._ids)
        if lifecycle.key_prefix is not None:
            check_key_prefix(self.repository, lifecycle, f"{lifecycle.key_prefix}-1")
        self._delivery = DeliveryState()
        self._owner = new_owner()
        self._policies = with_builtin_policies(self.registry.policies)
        self.intake = intake_rules(lifecycle, self._policies)
        self._suggestions = Suggestions(self.repository, lifecycle)
        self.registry.check(lifecycle)
        self._rerouting = bool(self.intake.routes)
        warn_unhandled(f"Workflow({lifecycle.id!r})", self.unhandled_kinds())
        self._dispatch = None  # with earlier versions: each ticket under its own (see FacadeBase._dispatch)
        if len(self.versions) > 1:
            self._dispatch = VersionDispatch(lifecycle, self.versions, self.repository, self._older)
            self._dispatch.install(self, ("get", "history", "allowed", "fire", "move_to", "sla", "view"))

    @property
    def max_retries(self) -> int:
        """How often a save refused by a concurrent writer is retried."""
        return self._recorder.max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self._recorder.max_retries = value

    def __repr__(self) -> str:
        return f"Workflow({self.lifecycle.id!r}, repository={self.repository!r})"

    # -- reading -------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        """The ticket as last saved.

        Raises:
            TicketNotFound: no such ticket.
            LifecycleMismatch: the ticket belongs to another lifecycle (a
                Workflow owns its lifecycle's tickets only).
            LifecycleVersionMismatch: the ticket is in a state this version
                of the lifecycle does not have (renamed, or written by a
                newer version); every read and change of it is refused so.
        """
        ticket = self.repository.get(ticket_id)
        self._cache.check(ticket)
        return ticket

    def history(self, ticket_id: str) -> list[Event]:
        """Every event of the ticket, oldest first (refused as :meth:`get` refuses)."""
        self.get(ticket_id)
        return self.repository.history(ticket_id)

    def reply(self, ticket_id: str, actor: Actor, body: str, *, at: datetime | None = None) -> Ticket:
        """Comment on the ticket, or, if it is in an immutable state, open a follow-up with the reply."""
        with self._on_behalf(actor):
            ticket = self._access.check_read(self.get(ticket_id), actor)
        if self.lifecycle.states[ticket.state].immutable:
            return self.follow_up(ticket_id, actor, body, at=at)
        return self.comment(ticket_id, actor, body, at=at)

    def allowed(self, ticket_id: str, actor: Actor, *, at: datetime | None = None) -> list[str]:
        """Triggers *actor* may fire on the ticket now (``comment``/``update`` included).

        A listed trigger may still be refused for the data a fire carries
        (a required field or comment missing), never for state or permission.
        """
        with self._on_behalf(actor):
            ticket = self._access.check_read(self.get(ticket_id), actor)
        return self._engine.allowed(ticket, actor, self._at(at), self._guards)

    # -- changing ------------------------------------------------------------------

    def open(
        self,
        actor: Actor,
        *,
        title: str,
        fields: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        requester: str | None = None,
        assignee: str | None = None,
        participants: Iterable[str] = (),
        comment: str | Comment | None = None,
        channel: str | None = None,
        authenticated: bool = True,
        at: datetime | None = None,
        ticket_id: str | None = None,
    ) -> Ticket:
        """Open a ticket in the lifecycle's initial state and store it.

        The requester defaults to the actor. Field defaults from the
        lifecycle fill fields not given. With ``[intake]`` channels, the
        channel must take this request type (from this requester, if it is
        not *authenticated*) and open a formal ticket for it, else
        :class:`~ticketflow.intake.IntakeRefused` is raised and nothing is
        stored; without an assignee, the first matching route assigns one.
        """
        return open_ticket(
            self._scope, self.intake, self._policies, actor, self._at(at), title=title, fields=fields, tags=tags,
            requester=requester, assignee=assignee, participants=participants, comment=comment, channel=channel,
            authenticated=authenticated, ticket_id=ticket_id,
        )  # fmt: skip

    def fire(
        self,
        ticket_id: str,
        trigger: str,
        actor: Actor,
        *,
        comment: str | Comment | None = None,
        visibility: Visibility = "public",
        fields: Mapping[str, Any] | None = None,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        title: Any = UNSET,
        assignee: Any = UNSET,
        requester: Any = UNSET,
        participants: Any = UNSET,
        at: datetime | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Ticket:
        """Fire *trigger* on the ticket as *actor* and store the change.

        ``comment``/``update`` are built-in triggers every lifecycle has; a
        comment or an update may also move the ticket when the lifecycle has
        an event-driven (``on``) transition for it. Every part given (fields,
        tags, people, a :class:`~ticketflow.Comment` 's author and
        visibility) is checked against who may set it; *meta* is the
        caller's own and is stored under ``event.meta["app"]``, where no rule
        reads it.

        Returns:
            The ticket after the change (one new event, version + 1).

        Raises:
            TicketNotFound: no such ticket, or *actor* is a customer not related to it.
            TicketClosed: the ticket is in an immutable state.
            TransitionNotAllowed: no transition, its conditions fail, or *at* is before the ticket was opened.
            PermissionDenied: the actor may not fire it, or may not set a part given.
            FieldError: data missing or invalid. (After any refusal nothing changed.)
            ConcurrencyConflict: other writers kept winning for ``max_retries`` attempts.
            CalendarError: *at* is outside the supported years of a calendar the SLA policy counts in.
        """
        when = self.clock.now() if at is None else require_aware(at, "at")
        self._counted_at(when, "fire", "at")
        note = comment if comment is None else as_comment(actor, comment, visibility)
        if meta is not None:
            if not isinstance(meta, Mapping):
                raise TypeError(f"meta must be a mapping, got {type(meta).__name__}")
            meta = {APP_META: dict(meta)}  # the caller's namespace: never read by a rule
        attributes = None
        if not (title is UNSET and assignee is UNSET and requester is UNSET and participants is UNSET):
            given = {"title": title, "assignee": assignee, "requester": requester, "participants": participants}
            attributes = {k: v for k, v in given.items() if v is not UNSET}
        engine, guards, returning, rerouting = self._engine, self._guards, self._engine.returning, self._rerouting

        def plan(reads: Reads) -> Write[Ticket]:
            ticket = reads.ticket(ticket_id)
            new, event, taken = engine.apply(
                ticket,
                trigger,
                actor,
                when,
                comment=note,
                fields=fields,
                add_tags=add_tags,
                remove_tags=remove_tags,
                attributes=attributes,
                meta=meta,
                guards=guards,
                came_from=(lambda: previous_state(reads.history(ticket_id), ticket.state)) if returning else None,
            )
            if rerouting and event.field_changes:
                new, event = rerouted(self.intake, self._policies, reads.repository, new, event)
            return Write(new, (fired(ticket, new, event, taken),))

        try:
            return self._recorder.record(plan)
        except (LifecycleMismatch, LifecycleVersionMismatch) as error:  # not the context manager: the hot path
            if not self._known_to(error.ticket_id, actor):
                raise TicketNotFound(error.ticket_id) from None
            raise

    def comment(
        self,
        ticket_id: str,
        actor: Actor,
        body: str,
        *,
        visibility: Visibility = "public",
        at: datetime | None = None,
    ) -> Ticket:
        """Post a comment (may move the ticket through an ``on = comment`` transition)."""
        return self.fire(ticket_id, "comment", actor, comment=body, visibility=visibility, at=at)

    def update(
        self,
        ticket_id: str,
        actor: Actor,
        *,
        fields: Mapping[str, Any] | None = None,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        title: Any = UNSET,
        assignee: Any = UNSET,
        requester: Any = UNSET,
        participants: Any = UNSET,
        at: datetime | None = None,
    ) -> Ticket:
        """Change fields, tags or people (may move the ticket through ``on = field_set``)."""
        return self.fire(
            ticket_id,
            "update",
            actor,
            fields=fields,
            add_tags=add_tags,
            remove_tags=remove_tags,
            title=title,
            assignee=assignee,
            requester=requester,
            participants=participants,
            at=at,
        )

    def move_to(self, ticket_id: str, state: str, actor: Actor, **kwargs: Any) -> Ticket:
        """Fire the one trigger that leads from the current state to *state*.

        Raises:
            TicketClosed: the ticket is in an immutable state (nothing leads anywhere).
            TransitionNotAllowed: no trigger leads there, or several do (the
                message lists them: fire one by name).
        """
        with self._on_behalf(actor):
            ticket = self._access.check_read(self.get(ticket_id), actor)
        return self.fire(ticket_id, self._engine.trigger_to(ticket, state), actor, **kwargs)

    # -- versions ------------------------------------------------------------------

    def _older(self, lifecycle: Lifecycle) -> Workflow:
        """The Workflow of an earlier version, sharing this one's store, clock, calendar and registry."""
        return Workflow(
            lifecycle,
            self.repository,
            calendar=self.calendar,
            clock=self.clock,
            registry=self.registry,
            max_retries=self.max_retries,
            ticket_cache=0,
        )
