"""Clocks: where "now" comes from, injected so logic never reads a global."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["SystemClock"]


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"
