"""The seams of ticketflow, as Protocols, each with the contract it must keep.

Applications implement these to plug in their own clock, guards, actions,
notifiers and storage; ticketflow ships implementations of each and, in
:mod:`ticketflow.testing`, suites that check an implementation keeps its
contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ticketflow.model import Event, Ticket

if TYPE_CHECKING:
    from ticketflow.lifecycle import GuardContext

__all__ = ["Action", "Clock", "Guard", "TicketRepository"]


@runtime_checkable
class Clock(Protocol):
    """Where "now" comes from.

    Contract: ``now()`` returns a timezone-aware datetime and never goes
    backwards between calls in one process.
    """

    def now(self) -> datetime:
        """The current instant (aware)."""
        ...


@runtime_checkable
class Guard(Protocol):
    """A named condition a transition may require, registered by the application.

    Contract: pure and quick — it reads the context and answers; it must not
    change the ticket or call back into the workflow. Returning ``False``
    refuses the transition with :class:`~ticketflow.TransitionNotAllowed`.
    """

    def __call__(self, context: GuardContext, /) -> bool:
        """Whether the transition may happen."""
        ...


@runtime_checkable
class Action(Protocol):
    """A named side effect run after a transition has been saved.

    Contract: it receives the saved ticket and the event that changed it; the
    change is already committed, so an exception it raises reaches the caller
    but undoes nothing. It should be idempotent where it can be.
    """

    def __call__(self, ticket: Ticket, event: Event, /) -> None:
        """Do the side effect."""
        ...


@runtime_checkable
class TicketRepository(Protocol):
    """Storage for tickets and their histories.

    Contract, checked by :class:`ticketflow.testing.RepositoryContract`:

    - ``add`` stores a new ticket with its first events; an existing id is a
      :class:`~ticketflow.ConcurrencyConflict`.
    - ``get`` returns the latest saved ticket or raises
      :class:`~ticketflow.TicketNotFound`.
    - ``save`` writes the ticket **and** its new events atomically, only if
      the stored version is still ``expected_version``; otherwise it raises
      :class:`~ticketflow.ConcurrencyConflict` and writes nothing. The new
      events' ``seq`` continue the history without gaps, and the ticket's
      ``version`` equals the last one.
    - ``history`` returns every event of a ticket, oldest first.
    """

    def add(self, ticket: Ticket, events: Sequence[Event]) -> None:
        """Store a new ticket and its opening events."""
        ...

    def get(self, ticket_id: str) -> Ticket:
        """The ticket as last saved."""
        ...

    def save(self, ticket: Ticket, events: Sequence[Event], expected_version: int) -> None:
        """Store the changed ticket and its new events, or raise ConcurrencyConflict."""
        ...

    def history(self, ticket_id: str) -> list[Event]:
        """All events of the ticket, oldest first."""
        ...
