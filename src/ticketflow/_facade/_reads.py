"""Reads of the Workflow facade: finding, exporting, SLA clocks and reports, suggestions, a customer's view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import IO, Unpack

import attrs

from ticketflow._facade._base import FacadeBase
from ticketflow._queries import export_view, find, sla_report
from ticketflow._view import TicketView, view
from ticketflow.automation._fold import Fold
from ticketflow.calendar import BusinessCalendar
from ticketflow.errors import TicketNotFound
from ticketflow.links import addressed_to
from ticketflow.model import Actor, Event, Ticket
from ticketflow.protocols import FoldStore, Page, PartialFold, PartialFolds, TicketFilters
from ticketflow.recording import current_fold, current_part
from ticketflow.repository._export import DEFAULT_CSV_COLUMNS
from ticketflow.similar import Suggestion
from ticketflow.sla import SlaClock, SlaReport, evaluate

__all__ = ["ReadsPart"]


class ReadsPart(FacadeBase):
    """Reading tickets of the lifecycle: lists, exports, SLA clocks and reports, similar tickets, views."""

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

    def sla(self, ticket_id: str, now: datetime | None = None, *, cycles: str = "all") -> list[SlaClock]:
        """The ticket's SLA clocks as of *now* (default: the clock); [] without a policy.

        *cycles*: ``"all"`` (the default): each clock lists every cycle,
        oldest first; ``"last"``: each clock's ``cycles`` hold its current
        (last) cycle only, and every other attribute is the same — what a
        ticket page or a queue shows (due, remaining, breached, warned). With
        ``"last"`` the clocks are counted from the few events of each
        metric's last cycle (the ticket's stored fold, read in part where the
        repository can), so the cost does not follow how many cycles a ticket
        has had: a reply-heavy ticket has one per two public replies (but for
        a ticket migrated to another version, whose fold is counted whole).
        Earlier cycles are not counted, so what only they would raise (a
        calendar resolver naming an unknown calendar for an old cycle) is not
        raised.

        Raises:
            TicketNotFound: no such ticket. LifecycleVersionMismatch: as :meth:`get`.
            CalendarError: *now* is outside the supported years of a calendar the policy counts in.
            ValueError: *cycles* is neither ``"all"`` nor ``"last"``.
        """
        if cycles not in ("all", "last"):
            raise ValueError(f"sla(cycles=...): 'all' or 'last', not {cycles!r}")
        if cycles == "last" and self.sla_policy is not None:
            ticket, part = self._with_part(ticket_id)
        else:
            ticket, part = self.get(ticket_id), None
        if self.sla_policy is None:
            return []
        at = self._at(now)
        self._counted_at(at, "sla", "now")
        events: Sequence[Event] | None = None
        if cycles == "last":
            fold = self._last_fold(ticket, part, at)
            if isinstance(fold, Fold) and fold.state is not None:
                return self._scheduler.folder.last_cycles(fold, ticket, at)
            if fold is not None and not getattr(fold, "partial", False):
                events = fold  # a fold without a state (a migrated ticket's), read once: counted whole
        clocks = evaluate(
            self.sla_policy, self.lifecycle, ticket, self._clock_events(ticket, at) if events is None else events, at
        )
        return clocks if cycles == "all" else [attrs.evolve(clock, cycles=clock.cycles[-1:]) for clock in clocks]

    def _with_part(self, ticket_id: str) -> tuple[Ticket, PartialFold | None]:
        """The ticket (checked as :meth:`get` checks it) and, where the repository reads parts, its fold's part.

        In one read (:class:`~ticketflow.protocols.PartialFolds`: the part
        its state names; a fold without a state, as a migrated ticket's, is
        read whole); elsewhere the ticket alone.
        """
        repository, folder = self.repository, self._scheduler.folder
        if not isinstance(repository, PartialFolds):
            return self.get(ticket_id), None
        found = repository.get_with_partial_folds([ticket_id], folder.key, folder.reads)
        read = next((pair for stored_id, pair in found.items() if stored_id == ticket_id), None)
        if read is None:
            return self.get(ticket_id), None  # raises TicketNotFound (or reads a ticket stored since)
        self._cache.check(read[0])
        return read

    def _last_fold(self, ticket: Ticket, part: PartialFold | None, at: datetime) -> Sequence[Event] | None:
        """*ticket*'s current fold as of *at*, whole or in part: kept with this Workflow's copy, else as read.

        *part*: what :meth:`_with_part` read (None: read the stored fold
        here, where the repository keeps folds). None when there is none at
        the ticket's version, it is not this Workflow's, or *at* is before
        its last event.
        """
        repository, folder = self.repository, self._scheduler.folder
        fold = self._cached_fold(ticket, partial=True)
        if fold is None and part is not None:
            fold = current_part(ticket.version, part, folder.accept, self._scheduler.partial(at))
        elif fold is None and isinstance(repository, FoldStore) and not isinstance(repository, PartialFolds):
            fold = current_fold(repository.fold(ticket.id), folder.accept, ticket.version)
        return fold if fold and at >= fold[-1].at else None

    def _clock_events(self, ticket: Ticket, at: datetime) -> Sequence[Event]:
        """What the clocks of *ticket* read as of *at*: its stored fold when it is current and ours, else its history.

        A fold gives the clocks of the whole history when *at* is not before
        its last event (:mod:`ticketflow.automation._fold`).
        """
        repository = self.repository
        if isinstance(repository, FoldStore):
            fold = self._cached_fold(ticket)
            if fold is None:
                fold = current_fold(repository.fold(ticket.id), self._scheduler.folder.accept, ticket.version)
            if fold is not None and at >= fold[-1].at:
                return fold
        return repository.history(ticket.id)

    def _cached_fold(self, ticket: Ticket, *, partial: bool = False) -> Sequence[Event] | None:
        """The fold kept with this Workflow's cached copy of *ticket*, if it ends at the stored version.

        Events never change and a fold ends at its ticket's version, so a kept
        fold whose last event is the stored ticket's version is the stored
        fold: reading it again would decode the same events. *partial*: a
        fold a sweep read in part will do (its state's events: each clock's
        last cycle).
        """
        kept = self._recent.get(ticket.id)
        fold = None if kept is None else kept[1]
        if not partial and getattr(fold, "partial", False):  # a sweep's read of its state: not every event clocks read
            return None
        return fold if fold and fold[-1].seq == ticket.version else None

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
            CalendarError: *now* is outside the supported years of a calendar the policy counts in.
        """
        at = self._at(now)
        self._counted_at(at, "sla_report", "now")
        return sla_report(
            self.repository, self.lifecycle, self.sla_policy, at, group_by=group_by, by_version=by_version,
            events=lambda ticket: self._clock_events(ticket, at), **filters,
        )  # fmt: skip

    def export_view(
        self,
        out: IO[str],
        *,
        format: str = "csv",
        columns: Sequence[str] = DEFAULT_CSV_COLUMNS,
        group: str | None = None,
        actor: Actor | None = None,
        raw: bool = False,
        **filters: Unpack[TicketFilters],
    ) -> int:
        """Export a filtered view of this lifecycle's tickets (DevRev's "export views to CSV or JSON").

        Filters are those of ``find`` (``tag``, ``requester``,
        ``updated_after``/``updated_before`` for a date range...) plus
        ``group``; rows stream a page at a time. With *actor*, as in
        ``find``: a customer exports only their tickets, as they see them.
        A CSV cell whose text starts like a spreadsheet formula (``=``, ``+``,
        ``-``, ``@``, tab, carriage return) is written with a ``'`` in front;
        *raw* writes values exactly as stored (for programs, not spreadsheets).
        """
        return export_view(
            self.repository, self.lifecycle, out, format=format, columns=columns, group=group, actor=actor, raw=raw,
            **filters,
        )  # fmt: skip

    def similar(self, ticket_id: str, k: int = 5, *, actor: Actor | None = None) -> list[Suggestion]:
        """Earlier tickets like this one (BM25 over public text, re-ranked by recorded feedback).

        The index is built from the repository on first use and kept; the
        asked ticket is re-indexed each time so new comments count. With
        *actor* (suggestions shown to someone), a customer must be related
        to the ticket (else :class:`~ticketflow.TicketNotFound`) and is
        suggested only tickets they may see.
        """
        if actor is None:
            return self._suggestions.similar(self.get(ticket_id), k, actor)
        with self._on_behalf(actor):
            return self._suggestions.similar(self.get(ticket_id), k, actor)

    def similar_feedback(
        self, ticket_id: str, suggested_id: str, actor: Actor, *, helpful: bool, at: datetime | None = None
    ) -> Ticket:
        """Record a thumbs up or down for a suggestion, in the ticket's history; later suggestions use it."""
        with self._on_behalf(actor):
            return self._suggestions.feedback(
                self._scope, ticket_id, suggested_id, actor, helpful=helpful, at=self._at(at)
            )

    def view(self, ticket_id: str, actor: Actor) -> TicketView:
        """The ticket and history as *actor* may see them (customers: no trace of internal data).

        Raises:
            TicketNotFound: no such ticket, or *actor* is a customer not
                related to it (the same error, so ids cannot be probed).
        """
        with self._on_behalf(actor):
            ticket = self.get(ticket_id)
        if not self._access.may_see(ticket, actor) and not addressed_to(self.repository, ticket_id, actor.accounts):
            raise TicketNotFound(ticket_id)
        return view(self.lifecycle, ticket, self.repository.history(ticket_id), actor)
