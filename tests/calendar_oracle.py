"""A brute-force business calendar for differential tests.

It shares no code with ticketflow's calendar: it converts wall times to
instants only through UTC -> local conversions, and answers "is this instant
open?" by looking at the windows of the local date and the day before.
Business time is found by stepping through time in UTC on a 15-minute grid,
so calendars and instants under test must sit on that grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

STEP = timedelta(minutes=15)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def wall_to_utc(tz: ZoneInfo, wall: datetime) -> datetime:
    """The instant of a naive wall time: first occurrence if repeated, shifted forward if skipped."""
    offsets = {(wall - timedelta(hours=h)).replace(tzinfo=UTC).astimezone(tz).utcoffset() for h in range(-36, 37, 3)}
    candidates = sorted((wall - off).replace(tzinfo=UTC) for off in offsets if off is not None)
    valid = [u for u in candidates if u.astimezone(tz).replace(tzinfo=None) == wall]
    if valid:
        return valid[0]
    before = candidates[0].astimezone(tz).utcoffset()
    assert before is not None
    return (wall - before).replace(tzinfo=UTC)


def _minutes(text: str) -> tuple[int, int]:
    start, end = text.split("-")
    s = int(start[:2]) * 60 + int(start[3:])
    e = int(end[:2]) * 60 + int(end[3:])
    return s, e if e > s else e + 1440


class Oracle:
    def __init__(
        self,
        timezone: str,
        hours: Mapping[str, Sequence[str]],
        holidays: Sequence[date] = (),
        overrides: Mapping[date, Sequence[str]] | None = None,
    ) -> None:
        self.tz = ZoneInfo(timezone)
        self.week = {DAYS.index(k): [_minutes(w) for w in v] for k, v in hours.items()}
        self.holidays = set(holidays)
        self.overrides = {d: [_minutes(w) for w in ws] for d, ws in (overrides or {}).items()}

    def windows(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.overrides:
            spans = self.overrides[day]
        elif day in self.holidays:
            spans = []
        else:
            spans = self.week.get(day.weekday(), [])
        midnight = datetime(day.year, day.month, day.day)
        return [
            (
                wall_to_utc(self.tz, midnight + timedelta(minutes=s)),
                wall_to_utc(self.tz, midnight + timedelta(minutes=e)),
            )
            for s, e in spans
        ]

    def is_open(self, u: datetime) -> bool:
        day = u.astimezone(self.tz).date()
        return any(s <= u < e for d in (day - timedelta(days=1), day) for s, e in self.windows(d))

    def between(self, a: datetime, b: datetime) -> timedelta:
        sign = 1
        if b < a:
            a, b, sign = b, a, -1
        total = timedelta(0)
        u = a
        while u < b:
            if self.is_open(u):
                total += STEP
            u += STEP
        return sign * total

    def add(self, a: datetime, d: timedelta) -> datetime:
        if d == timedelta(0):
            return a
        total = timedelta(0)
        u = a
        while True:
            if self.is_open(u):
                total += STEP
            u += STEP
            if total == d:
                return u
