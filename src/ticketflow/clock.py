"""Clocks: where "now" comes from, injected so logic never reads a global."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketflow.model import require_aware

__all__ = ["SteppableClock", "SystemClock"]


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class SteppableClock:
    """A :class:`~ticketflow.Clock` that only moves when told to.

    Args:
        start: the first instant (aware); default 2026-01-05 09:00 UTC, a Monday.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = require_aware(start, "start") if start is not None else datetime(2026, 1, 5, 9, tzinfo=UTC)

    def now(self) -> datetime:
        """The clock's current instant."""
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by *delta* (or ``timedelta(**kwargs)``); return the new now.

        Raises:
            ValueError: when asked to move backwards.
        """
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError(f"a clock does not go backwards (asked to move by {step})")
        self._now += step
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to *when* (aware, not earlier than now); return it."""
        require_aware(when, "when")
        if when < self._now:
            raise ValueError(f"a clock does not go backwards ({when} is before {self._now})")
        self._now = when
        return when

    def __repr__(self) -> str:
        return f"SteppableClock({self._now.isoformat()})"
