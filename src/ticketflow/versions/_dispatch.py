"""Serving each ticket under the version it is on: a Workflow that holds earlier versions of its lifecycle.

A ticket in a state the current version has is served by the current
version. A ticket in a state only an earlier version has (not yet migrated
during a rolling deploy) is served by a Workflow of the version its history
records (its opening's, or its last migration's): reads, changes, SLA clocks
and sweeps use that version's rules. The Workflows of earlier versions are
made when a ticket first needs one, by the factory the facade gives (nothing
here imports the facade).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from ticketflow.automation import SweepResult
from ticketflow.errors import ConcurrencyConflict, LifecycleVersionMismatch, TicketNotFound
from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._migrated import recorded_version
from ticketflow.model import Event, Ticket
from ticketflow.protocols import TicketRepository

__all__ = ["VersionDispatch"]

W = TypeVar("W")


class VersionDispatch(Generic[W]):
    """Finds, per ticket, the Workflow of the version it is on (see the module docstring).

    Args:
        lifecycle: the current version.
        versions: every version held, by number (the current one included).
        repository: where the tickets are.
        make: makes the Workflow of an earlier version (no ``previous``).
    """

    def __init__(
        self,
        lifecycle: Lifecycle,
        versions: Mapping[int, Lifecycle],
        repository: TicketRepository,
        make: Callable[[Lifecycle], W],
    ) -> None:
        self.lifecycle = lifecycle
        self.repository = repository
        self._by_fingerprint = {lc.fingerprint: lc for lc in versions.values() if lc is not lifecycle}
        self._make = make
        self._made: dict[str, W] = {}

    def install(self, target: W, names: Iterable[str]) -> None:
        """Make each method of *target* named in *names* (ticket id first) serve a ticket under its version.

        Each call first reads the ticket's state (one read); a ticket in a
        state the current version has is served by *target* itself.
        """
        for name in names:
            setattr(target, name, self._dispatched(name, getattr(target, name)))

    def _dispatched(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def dispatched(ticket_id: str, *args: Any, **kwargs: Any) -> Any:
            older = self.older_of(ticket_id)
            return (method if older is None else getattr(older, name))(ticket_id, *args, **kwargs)

        return functools.update_wrapper(dispatched, method)

    def older_of(self, ticket_id: str) -> W | None:
        """The Workflow of the earlier version a ticket in a state the current one lacks is on (else None)."""
        try:
            ticket = self.repository.get(ticket_id)
        except TicketNotFound:
            return None  # the call itself says so
        return self.older_serving(ticket, lambda: self.repository.history(ticket_id))

    def older_serving(self, ticket: Ticket, history: Callable[[], Sequence[Event]]) -> W | None:
        """The Workflow of the earlier version *ticket* is on, if it is in a state the current one lacks (else None).

        *history* gives the ticket's history; it is read only for such a ticket.
        """
        if ticket.state in self.lifecycle.states or ticket.lifecycle_id != self.lifecycle.id:
            return None
        return self.older_for(recorded_version(history())[1])

    def older_for(self, fingerprint: str | None) -> W | None:
        """The Workflow of the held earlier version with *fingerprint* (None: not one held)."""
        lifecycle = None if fingerprint is None else self._by_fingerprint.get(fingerprint)
        if lifecycle is None:
            return None
        made = self._made.get(lifecycle.fingerprint)
        if made is None:
            made = self._made[lifecycle.fingerprint] = self._make(lifecycle)
        return made

    def sweep(self, result: SweepResult, run: Callable[[W, str], tuple[list[Event], int]]) -> SweepResult:
        """*result* with the tickets it skipped run under their own version by *run* (those it can)."""
        if not result.skipped:
            return result
        fired, alerts, skipped = list(result.fired), result.alerts, []
        for ticket_id, why in result.skipped:
            older = self.older_for(recorded_version(self.repository.history(ticket_id))[1])
            if older is not None:
                try:
                    events, written = run(older, ticket_id)
                except (LifecycleVersionMismatch, ConcurrencyConflict):
                    pass
                else:
                    fired += events
                    alerts += written
                    continue
            skipped.append((ticket_id, why))
        return SweepResult(tuple(fired), alerts, result.tickets, tuple(skipped))
