"""A brute-force business calendar for differential tests.

It shares no code with ticketflow's calendar: it converts wall times to
instants only through UTC -> local conversions, and answers "is this instant
open?" by looking at the windows of the local date and the day before.
Business time is found by stepping through time in UTC on a 15-minute grid,
so calendars and instants under test must sit on that grid.

Recurring rules are expanded here with ``dateutil.rrule`` directly (the
reference for what an RRULE means) into sets of dates, and applied by the
documented precedence, literally: a date's override decides it, a holiday
closes it, and on other dates rule closures win over openings and hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

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


class OracleRule:
    """An RRULE's dates from 2020 to 2031, and the windows it opens or closes on them."""

    def __init__(self, rrule: str, start: date, opens: bool, windows: Sequence[str]) -> None:
        rule = rrulestr(rrule, dtstart=datetime(start.year, start.month, start.day))
        self.dates = {d.date() for d in rule.between(datetime(2020, 1, 1), datetime(2032, 1, 1), inc=True)}
        self.opens = opens
        self.spans = [_minutes(w) for w in windows]


class Oracle:
    def __init__(
        self,
        timezone: str,
        hours: Mapping[str, Sequence[str]],
        holidays: Sequence[date] = (),
        overrides: Mapping[date, Sequence[str]] | None = None,
        rules: Sequence[OracleRule] = (),
        closures: Sequence[tuple[datetime, datetime]] = (),
    ) -> None:
        self.tz = ZoneInfo(timezone)
        self.week = {DAYS.index(k): [_minutes(w) for w in v] for k, v in hours.items()}
        self.holidays = set(holidays)
        self.overrides = {d: [_minutes(w) for w in ws] for d, ws in (overrides or {}).items()}
        self.rules = list(rules)
        self._memo: dict[tuple[date, tuple[tuple[int, int], ...]], list[tuple[datetime, datetime]]] = {}
        # imported closures: (owner date, start, end), the owner being the local date the span starts on
        self.closures = [(s.astimezone(self.tz).date(), s, e) for s, e in closures]

    def _spans(self, day: date, spans: Sequence[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
        key = (day, tuple(spans))
        if key not in self._memo:  # only for speed: the same wall times always give the same instants
            self._memo[key] = self._convert(day, spans)
        return self._memo[key]

    def _convert(self, day: date, spans: Sequence[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
        midnight = datetime(day.year, day.month, day.day)
        return [
            (
                wall_to_utc(self.tz, midnight + timedelta(minutes=s)),
                wall_to_utc(self.tz, midnight + timedelta(minutes=e)),
            )
            for s, e in spans
        ]

    def rule_covers(self, u: datetime, opens: bool) -> bool:
        day = u.astimezone(self.tz).date()
        for d in (day - timedelta(days=1), day):
            if d in self.overrides or d in self.holidays:
                continue  # most specific wins: the date's override or holiday decides it
            for rule in self.rules:
                if rule.opens == opens and d in rule.dates and any(s <= u < e for s, e in self._spans(d, rule.spans)):
                    return True
        return False

    def windows(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.overrides:
            spans = self.overrides[day]
        elif day in self.holidays:
            spans = []
        else:
            spans = self.week.get(day.weekday(), [])
        return self._spans(day, spans)

    def is_open(self, u: datetime) -> bool:
        day = u.astimezone(self.tz).date()
        hours = any(s <= u < e for d in (day - timedelta(days=1), day) for s, e in self.windows(d))
        if not self.rules and not self.closures:
            return hours
        imported = any(s <= u < e and d not in self.overrides and d not in self.holidays for d, s, e in self.closures)
        return (hours or self.rule_covers(u, opens=True)) and not self.rule_covers(u, opens=False) and not imported

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
