"""What the parts of the Workflow facade share: the attributes ``Workflow.__init__`` sets, typed once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from ticketflow._recent import RecentTickets, TicketCache
from ticketflow.automation import DeliveryState, Scheduler
from ticketflow.calendar import BusinessCalendar
from ticketflow.errors import LifecycleMismatch, LifecycleVersionMismatch, TicketNotFound
from ticketflow.intake import IntakeRules, TicketIds
from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._access import Access
from ticketflow.model import Actor, Ticket, require_aware
from ticketflow.protocols import AssignmentPolicy, Clock, TicketRepository
from ticketflow.recording import Recorder, Scope
from ticketflow.registry import Registry
from ticketflow.similar import Suggestions
from ticketflow.sla import SlaPolicy
from ticketflow.versions import VersionDispatch

__all__ = ["FacadeBase"]


_SLA_CALENDARS: dict[int, tuple[SlaPolicy, tuple[BusinessCalendar, ...]]] = {}


def _sla_calendars(policy: SlaPolicy) -> tuple[BusinessCalendar, ...]:
    """The distinct calendars the targets of *policy* count in (found once per policy, not on every fire)."""
    known = _SLA_CALENDARS.get(id(policy))
    if known is not None and known[0] is policy:
        return known[1]
    calendars: dict[int, BusinessCalendar] = {}
    for metric in policy.metrics:
        for target in metric.targets:
            chosen = target.calendar_by.calendars.values() if target.calendar_by is not None else ()
            calendars.update((id(calendar), calendar) for calendar in (target.calendar, *chosen))
    if len(_SLA_CALENDARS) >= 64:
        _SLA_CALENDARS.clear()
    _SLA_CALENDARS[id(policy)] = (policy, tuple(calendars.values()))
    return _SLA_CALENDARS[id(policy)][1]


class FacadeBase:
    """The state every part of the facade reads; :class:`~ticketflow.Workflow` sets it in ``__init__``."""

    lifecycle: Lifecycle
    versions: Mapping[int, Lifecycle]
    repository: TicketRepository
    calendar: BusinessCalendar | None
    clock: Clock
    registry: Registry
    sla_policy: SlaPolicy | None
    intake: IntakeRules
    _access: Access
    _scheduler: Scheduler
    _recorder: Recorder
    _recent: RecentTickets
    _cache: TicketCache
    _scope: Scope
    _ids: TicketIds
    _policies: Mapping[str, AssignmentPolicy]
    _delivery: DeliveryState
    _owner: str
    _suggestions: Suggestions
    #: With earlier versions: finds the Workflow each ticket is served by (None: one version).
    _dispatch: VersionDispatch[FacadeBase] | None

    def _at(self, at: datetime | None) -> datetime:
        return self.clock.now() if at is None else require_aware(at, "at")

    def _counted_at(self, when: datetime, method: str, name: str) -> None:
        """Refuse *when* with a CalendarError naming *method* and the caller's *name* outside a calendar's years.

        The SLA clocks count *when* in the calendars of the policy's targets:
        checked here, before anything is read or written, the error names what
        the caller passed (``fire: at 0001-01-01T00:00:00+00:00 is outside the
        supported years ...``), not the evaluation's call inside
        (``business_positions: instants[0] ...``).
        """
        policy = self.sla_policy
        if policy is None:
            return
        for calendar in _sla_calendars(policy):
            calendar._us(when, method, name)  # the calendar's own check: its zone's years, its message

    @contextmanager
    def _on_behalf(self, actor: object) -> Iterator[None]:
        """Refuse a ticket this Workflow does not serve as a door on *actor*'s behalf must: unseen, it is not found.

        A ticket of another lifecycle sharing the store, or in a state this
        version lacks, is a :class:`~ticketflow.LifecycleMismatch` (or
        ``LifecycleVersionMismatch``) for the application, its staff and the
        customers related to it; for anyone else it is a
        :class:`~ticketflow.TicketNotFound`, as for an id that does not exist,
        so a stranger cannot probe which ids the store holds, nor their lifecycle or state.
        """
        try:
            yield
        except (LifecycleMismatch, LifecycleVersionMismatch) as error:
            if not self._known_to(error.ticket_id, actor):
                raise TicketNotFound(error.ticket_id) from None
            raise

    def _known_to(self, ticket_id: str, actor: object) -> bool:
        """Whether *actor* may learn that the stored ticket *ticket_id* exists (staff, or related to it)."""
        try:
            ticket = self.repository.get(ticket_id)
        except TicketNotFound:
            return False
        return isinstance(actor, Actor) and self._access.may_see(ticket, actor)

    if TYPE_CHECKING:  # defined by Workflow (and replaced per instance by the version dispatch)

        def get(self, ticket_id: str) -> Ticket: ...
