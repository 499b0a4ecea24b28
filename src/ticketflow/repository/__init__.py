"""Storage behind the :class:`~ticketflow.protocols.TicketRepository` Protocol."""

from ticketflow.repository._memory import MemoryRepository

__all__ = ["MemoryRepository"]
