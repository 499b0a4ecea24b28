"""The :class:`Workflow` facade: wires a lifecycle, storage, clock and registry.

It holds no rules. Every change goes through one
:class:`~ticketflow.recording.Recorder`: a plan reads the ticket and asks the
lifecycle's engine for the change (a pure function); the recorder asks the
:class:`~ticketflow.automation.Scheduler` for the next due instant, saves
the ticket, its events, outbox messages and links in one transaction with an
optimistic version check, retries when another writer got there first, and
runs the fired transition's actions after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Unpack

from ticketflow._queries import export_view, find, sla_report
from ticketflow._recent import TicketCache
from ticketflow._view import TicketView, view
from ticketflow.automation import (
    DEFAULT_LEASE,
    DeliveryState,
    Scheduler,
    SweepResult,
    deliver,
    delivery_log,
    new_owner,
    run_due,
    run_ticket,
    unhandled_kinds,
    warn_unhandled,
)
from ticketflow.calendar import BusinessCalendar
from ticketflow.clock import SystemClock
from ticketflow.errors import TicketNotFound
from ticketflow.intake import (
    TicketIds,
    check_key_prefix,
    follow_up,
    intake_rules,
    open_ticket,
    receive,
    rerouted,
    with_builtin_policies,
)
from ticketflow.lifecycle import UNSET, Lifecycle, previous_state
from ticketflow.links import (
    ExternalRecord,
    acknowledge,
    acknowledgements,
    addressed_to,
    broadcast,
    broadcasts_for,
    link,
    linked_record_changed,
    mark_duplicate,
)
from ticketflow.model import APP_META, Actor, Comment, Event, Ticket, Visibility, as_comment, require_aware
from ticketflow.protocols import (
    Clock,
    Delivery,
    Link,
    Notifier,
    OutboxMessage,
    Page,
    TicketFilters,
    TicketRepository,
)
from ticketflow.recording import Reads, Recorder, Scope, Write, entry_notices, fired
from ticketflow.registry import Registry
from ticketflow.repository import MemoryRepository
from ticketflow.repository._export import DEFAULT_CSV_COLUMNS, import_jsonl
from ticketflow.similar import Suggestion, Suggestions
from ticketflow.sla import SlaClock, SlaPolicy, SlaReport, evaluate, policy_for
from ticketflow.versions import (
    MigrationPlan,
    MigrationReport,
    RescheduleReport,
    VersionDispatch,
    known_versions,
    migrate,
    plan_for,
    reschedule,
)

__all__ = ["Workflow"]


def _new_id() -> str:
    return uuid.uuid4().hex


class Workflow:
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
        previous: earlier versions of the lifecycle (same id, other
            version numbers) that :meth:`migrate` may move tickets from.

    Raises:
        InvalidLifecycle: a previous version is of another lifecycle or
            repeats a version number. A transition names a guard or action the registry
            does not have. SlaConfigError: the lifecycle's ``[sla]`` section
            cannot be used (with its path).
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
        self._dispatch: VersionDispatch[Workflow] | None = None  # with earlier versions: each ticket under its own
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

    def _at(self, at: datetime | None) -> datetime:
        return self.clock.now() if at is None else require_aware(at, "at")

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

    def find(
        self,
        *,
        group: str | None = None,
        limit: int = 100,
        after: str | None = None,
        actor: Actor | None = None,
        order_by: str | None = None,
        **filters: Unpack[TicketFilters],
    ) -> Page:
        """Tickets of this lifecycle, filtered as in ``repository.find``; ``group`` picks its states.

        With *actor* (a read on someone's behalf), a customer gets only the
        tickets they are related to, each as their view shows it (no
        internal fields or tags); staff get every ticket. Without it, the
        read is the application's own.

        Pages come in id order; *order_by* ``"opened_at"`` or
        ``"updated_at"`` (``"-opened_at"``: newest first) sorts by time
        instead, ties by id, with cursors of its own (see
        :mod:`ticketflow._ordering`: it reads every matching ticket per page).

        Raises:
            LifecycleError: an unknown group or order.
        """
        return find(
            self.repository,
            self.lifecycle,
            group=group,
            limit=limit,
            after=after,
            actor=actor,
            order_by=order_by,
            **filters,
        )

    def timer_calendar_for(self, ticket: Ticket) -> BusinessCalendar | None:
        """The calendar *ticket*'s timed rules count in (see :meth:`Scheduler.timer_calendar_for`)."""
        return self._scheduler.timer_calendar_for(ticket)

    def sla(self, ticket_id: str, now: datetime | None = None) -> list[SlaClock]:
        """The ticket's SLA clocks as of *now* (default: the clock); [] without a policy.

        Raises:
            TicketNotFound: no such ticket. LifecycleVersionMismatch: as :meth:`get`.
        """
        ticket = self.get(ticket_id)
        if self.sla_policy is None:
            return []
        return evaluate(self.sla_policy, self.lifecycle, ticket, self.repository.history(ticket_id), self._at(now))

    def sla_report(
        self,
        now: datetime | None = None,
        *,
        group_by: Sequence[str] = ("assignee",),
        by_version: bool = False,
        **filters: Unpack[TicketFilters],
    ) -> SlaReport:
        """Attainment of the SLA policy over this lifecycle's tickets matching *filters*.

        Each cycle counts under the target it was judged by; *by_version*
        splits each line by the lifecycle (policy) version its cycles started
        under.

        Raises:
            LifecycleError: the lifecycle has no SLA policy.
        """
        return sla_report(
            self.repository, self.lifecycle, self.sla_policy, self._at(now), group_by=group_by, by_version=by_version,
            **filters,
        )  # fmt: skip

    def run_due(self, now: datetime | None = None, *, limit: int = 100) -> SweepResult:
        """Fire the timed rules due at *now* and write due SLA alerts, for up to *limit* tickets.

        Each rule fires once per ticket and entry into its state, as the
        ``system`` actor, with an event naming the rule and the instant it was
        due; rules due long ago fire once each, in order; a rule made moot by
        a later change (the customer answered) does not fire.
        """
        at = self._at(now)
        result = run_due(self._scope, self._scheduler, at, limit)
        if self._dispatch is None:
            return result
        return self._dispatch.sweep(
            result, lambda older, ticket_id: run_ticket(older._scope, older._scheduler, ticket_id, at)
        )

    def deliver(
        self,
        now: datetime | None = None,
        *,
        limit: int = 100,
        owner: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> int:
        """Hand up to *limit* outbox messages to the registry's notifiers; return how many were delivered.

        Messages are claimed per kind with a lease (see ``docs/automation.md``),
        so several processes delivering from one store deliver each once; a
        message of a kind with no notifier is flagged undeliverable and holds
        nothing back. *owner* and *lease* name the claim (a
        :class:`~ticketflow.Sweeper` passes its own, and for a store shared
        by several lifecycles, *notifiers* covering all of them).
        """
        return deliver(
            self.repository,
            self.registry.notifiers if notifiers is None else notifiers,
            self._at(now),
            owner=owner or self._owner,
            lease=lease,
            limit=limit,
            state=self._delivery,
        )

    def subscribe(self, listener: Callable[[Ticket, Event], None]) -> Callable[[], None]:
        """Call *listener* after commit with (ticket, event) for every event this Workflow writes.

        Every write path: opens, fires, comments, follow-ups, timers, link
        rules, merges, broadcasts, imports. For audit and metrics; a listener that
        raises is logged and undoes nothing. Returns a function that
        unsubscribes it. (``registry.on_event`` does the same for every
        Workflow sharing the registry.)
        """
        return self.registry.subscribe(listener)

    @property
    def notifiers(self) -> Mapping[str, Notifier]:
        """The registry's notifiers by message kind (what :meth:`deliver` hands messages to)."""
        return self.registry.notifiers

    def unhandled_kinds(self) -> tuple[str, ...]:
        """The message kinds this lifecycle can write that have no notifier in the registry (sorted).

        ``Workflow(...)`` and ``Sweeper(...)`` log a warning naming them; their
        messages are kept as undeliverable until a notifier is registered.
        """
        return unhandled_kinds(self.lifecycle, self.sla_policy, self.registry.notifiers)

    def deliveries(
        self, ticket_id: str | None = None, *, key: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The delivery log: outbox messages (of a ticket, a key, a status) with attempts and errors.

        *status* is ``pending``, ``undeliverable`` or ``delivered``.
        """
        return delivery_log(self.repository).deliveries(ticket_id=ticket_id, key=key, status=status, limit=limit)

    def redeliver(self, key: str) -> None:
        """Deliver the message with *key* again at the next delivery (delivered, failed or undeliverable)."""
        delivery_log(self.repository).requeue(key)

    def follow_up(
        self, ticket_id: str, actor: Actor, body: str, *, title: str | None = None, at: datetime | None = None
    ) -> Ticket:
        """Open a new ticket continuing *ticket_id* (a reply to an immutable, closed ticket).

        The new ticket copies the requester, participants and fields, records
        ``follow_up_of`` in its opening event and as a link (``wf.links``),
        and carries *body* as its first comment.
        """
        previous = self._access.check_read(self.get(ticket_id), actor)
        return follow_up(self._scope, previous, actor, body, title=title, when=self._at(at))

    def reply(self, ticket_id: str, actor: Actor, body: str, *, at: datetime | None = None) -> Ticket:
        """Comment on the ticket, or, if it is in an immutable state, open a follow-up with the reply."""
        ticket = self._access.check_read(self.get(ticket_id), actor)
        if self.lifecycle.states[ticket.state].immutable:
            return self.follow_up(ticket_id, actor, body, at=at)
        return self.comment(ticket_id, actor, body, at=at)

    def import_jsonl(self, lines: IO[str], *, source: str = "<jsonl>") -> int:
        """Import tickets of this lifecycle from a JSON Lines export, with their due instants; all or nothing.

        Raises:
            StorageError: a malformed record, or a ticket of another lifecycle
                (naming its line); nothing is imported then.
            ConcurrencyConflict: a ticket with the same id exists already.
        """
        return import_jsonl(
            self.repository, lines, source=source, schedule=self.imported_due, listeners=self.registry.listeners
        )

    def imported_due(self, ticket: Ticket, history: Sequence[Event]) -> datetime | None:
        """The next due instant of a ticket of this lifecycle brought in whole with its *history* (an import).

        Raises:
            StorageError: the ticket is of another lifecycle.
        """
        return self._scheduler.imported(ticket, history)

    def export_view(
        self,
        out: IO[str],
        *,
        format: str = "csv",
        columns: Sequence[str] = DEFAULT_CSV_COLUMNS,
        group: str | None = None,
        actor: Actor | None = None,
        **filters: Unpack[TicketFilters],
    ) -> int:
        """Export a filtered view of this lifecycle's tickets (DevRev's "export views to CSV or JSON").

        Filters are those of ``find`` (``tag``, ``requester``,
        ``updated_after``/``updated_before`` for a date range...) plus
        ``group``; rows stream a page at a time. With *actor*, as in
        ``find``: a customer exports only their tickets, as they see them.
        """
        return export_view(
            self.repository, self.lifecycle, out, format=format, columns=columns, group=group, actor=actor, **filters
        )

    def link(
        self,
        ticket_id: str,
        actor: Actor,
        kind: str,
        *,
        to_ticket: str | None = None,
        record: ExternalRecord | None = None,
        at: datetime | None = None,
    ) -> Ticket:
        """Link the ticket (``relates_to``, ``blocks``, ``caused_by``, ``follow_up_of``, ``duplicate_of``)."""
        return link(self._scope, ticket_id, actor, kind, to_ticket=to_ticket, record=record, at=self._at(at))

    def links(self, ticket_id: str) -> list[Link]:
        """The ticket's links."""
        self.get(ticket_id)
        return self.repository.links(ticket_id)

    def linked_to(self, ticket_id: str | None = None, *, record: ExternalRecord | None = None) -> list[Link]:
        """The links pointing at a ticket, or at a record."""
        return self.repository.linked(record.target if record is not None else ticket_id or "")

    def linked_record_changed(
        self, kind: str, key: str, *, status: str, priority: str | None = None, at: datetime | None = None
    ) -> list[Event]:
        """A record in another tracker changed: move the tickets linked to it (see ``link_rules``)."""
        return linked_record_changed(self._scope, kind, key, status=status, priority=priority, at=self._at(at))

    def mark_duplicate(
        self,
        duplicate_id: str,
        original_id: str,
        actor: Actor,
        *,
        trigger: str,
        fields: Mapping[str, Any] | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> Ticket:
        """Close a duplicate by *trigger*, moving its people to the original and linking it, atomically."""
        return mark_duplicate(
            self._scope, duplicate_id, original_id, actor, trigger=trigger, fields=dict(fields or {}), comment=comment,
            at=self._at(at),
        )  # fmt: skip

    def new_ticket_id(self) -> str:
        """An id for a new ticket: the next human key with a ``key_prefix``, else the id factory's."""
        return self._ids()

    def broadcast(
        self,
        actor: Actor,
        *,
        title: str,
        accounts: Sequence[str] | None = None,
        fields: Mapping[str, Any] | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> Ticket:
        """Open one ticket for every account (``accounts=None``) or for the accounts named (multicast)."""
        return broadcast(
            self._scope, actor, title=title, accounts=accounts, fields=fields, comment=comment, at=self._at(at)
        )

    def broadcasts_for(self, account: str) -> list[Ticket]:
        """The broadcast and multicast tickets an account sees."""
        return [t for t in broadcasts_for(self.repository, account) if t.lifecycle_id == self.lifecycle.id]

    def acknowledge(self, ticket_id: str, account: str, actor: Actor, *, at: datetime | None = None) -> Ticket:
        """Record an account's acknowledgement of a broadcast (once per account)."""
        return acknowledge(self._scope, ticket_id, account, actor, at=self._at(at))

    def acknowledgements(self, ticket_id: str) -> dict[str, datetime]:
        """The accounts that acknowledged a broadcast, and when."""
        self.get(ticket_id)
        return acknowledgements(self.repository, ticket_id)

    def similar(self, ticket_id: str, k: int = 5, *, actor: Actor | None = None) -> list[Suggestion]:
        """Earlier tickets like this one (BM25 over public text, re-ranked by recorded feedback).

        The index is built from the repository on first use and kept; the
        asked ticket is re-indexed each time so new comments count. With
        *actor* (suggestions shown to someone), a customer must be related
        to the ticket (else :class:`~ticketflow.TicketNotFound`) and is
        suggested only tickets they may see.
        """
        return self._suggestions.similar(self.get(ticket_id), k, actor)

    def similar_feedback(
        self, ticket_id: str, suggested_id: str, actor: Actor, *, helpful: bool, at: datetime | None = None
    ) -> Ticket:
        """Record a thumbs up or down for a suggestion, in the ticket's history; later suggestions use it."""
        return self._suggestions.feedback(self._scope, ticket_id, suggested_id, actor, helpful=helpful, at=self._at(at))

    def view(self, ticket_id: str, actor: Actor) -> TicketView:
        """The ticket and history as *actor* may see them (customers: no trace of internal data).

        Raises:
            TicketNotFound: no such ticket, or *actor* is a customer not
                related to it (the same error, so ids cannot be probed).
        """
        ticket = self.get(ticket_id)
        if not self._access.may_see(ticket, actor) and not addressed_to(self.repository, ticket_id, actor.accounts):
            raise TicketNotFound(ticket_id)
        return view(self.lifecycle, ticket, self.repository.history(ticket_id), actor)

    def allowed(self, ticket_id: str, actor: Actor, *, at: datetime | None = None) -> list[str]:
        """Triggers *actor* may fire on the ticket now (``comment``/``update`` included).

        A listed trigger may still be refused for the data a fire carries
        (a required field or comment missing), never for state or permission.
        """
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

    def receive(
        self,
        actor: Actor,
        *,
        channel: str,
        authenticated: bool,
        title: str,
        fields: Mapping[str, Any] | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> Ticket | OutboxMessage:
        """Take a request from a channel: a ticket if the channel opens one for its type, else a contact.

        A contact is an outbox message of kind ``contact.recorded`` (for the
        team's inbox), written with nothing else. Refusals raise
        :class:`~ticketflow.intake.IntakeRefused` and store nothing.
        """
        return receive(
            self._scope, self.intake, self._policies, actor, self._at(at), channel=channel,
            authenticated=authenticated, title=title, fields=fields, comment=comment,
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
            TransitionNotAllowed: no transition, or its conditions fail.
            PermissionDenied: the actor may not fire it, or may not set a part given.
            FieldError: data missing or invalid. (After any refusal nothing changed.)
            ConcurrencyConflict: other writers kept winning for ``max_retries`` attempts.
        """
        when = self.clock.now() if at is None else require_aware(at, "at")
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

        return self._recorder.record(plan)

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
        ticket = self._access.check_read(self.get(ticket_id), actor)
        return self.fire(ticket_id, self._engine.trigger_to(ticket, state), actor, **kwargs)

    # -- versions ------------------------------------------------------------------

    def migrate(
        self,
        plan: MigrationPlan | str | Path | Mapping[str, Any],
        *,
        dry_run: bool = False,
        batch: int = 200,
        part: tuple[int, int] = (0, 1),
        at: datetime | None = None,
    ) -> MigrationReport:
        """Move the tickets on an earlier version (``previous=``) to this Workflow's, as *plan* says.

        *plan* is a :class:`~ticketflow.versions.MigrationPlan` or a plan
        file / mapping whose ``from`` names a version of ``previous``; it is
        checked against both versions first. Dry, it only reports; else each
        ticket gets one ``migrated`` event and its due instant recomputed, in
        batches through the one write path; a re-run skips tickets already
        migrated. See ``docs/versions.md``.

        Raises:
            InvalidMigration: the plan does not fit the two versions (nothing written).
        """
        checked = plan_for(plan, self.versions, self.lifecycle)
        old = checked.old
        old_policy = policy_for(old, self.calendar or old.calendar, resolvers=self.registry.calendar_resolvers)
        return migrate(
            self.repository,
            checked,
            self._at(at),
            next_due=None if self._scheduler.plain else self._scheduler.next_due,
            old_policy=old_policy,
            listeners=self.registry.listeners,
            dry_run=dry_run,
            batch=batch,
            part=part,
            max_retries=self.max_retries,
        )

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

    def reschedule(self, *, batch: int = 200, at: datetime | None = None) -> RescheduleReport:
        """Recompute the stored next due instant of every ticket of this lifecycle, as of *at*.

        After the rules behind due instants changed without a migration (a
        holiday added to the calendar, a policy loaded anew): the sweeper
        then finds each warning, breach and timed rule at its new instant.
        In batches, each a write through the one write path with the
        optimistic version check; tickets in states this version lacks are
        skipped (listed in the report).
        """
        next_due = None if self._scheduler.plain else self._scheduler.next_due
        return reschedule(self.repository, self.lifecycle, next_due, self._at(at), batch=batch)
