"""Opening windows: parsing ``"09:00-17:00"`` and checking a week has no overlaps."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

import attrs

from ticketflow.errors import CalendarError

__all__ = ["DAY_NAMES", "Window", "local_us", "parse_week", "parse_windows"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAY = 24 * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def local_us(tz: tzinfo, day: date, minute: int) -> int:
    """The instant of wall time *minute* (may pass 1440) after local midnight of *day*, in UTC µs.

    A wall time in a DST gap moves forward with the clock; one in a fold is its first occurrence.
    """
    days, minute = divmod(minute, _DAY)
    day = day + timedelta(days=days)
    hour, minute = divmod(minute, 60)
    delta = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@attrs.frozen(order=True)
class Window:
    """One opening window of a day, in local wall-clock minutes.

    ``end`` may exceed 1440 (24:00): ``"22:00-06:00"`` is ``Window(1320, 1800)``,
    a window that starts on its day and ends on the next.
    """

    start: int
    end: int

    def __str__(self) -> str:
        end = self.end % _DAY if self.end != _DAY else _DAY
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _window(text: object, where: str) -> Window:
    if not isinstance(text, str):
        raise CalendarError(f"{where}: expected a window like '09:00-17:00', got {text!r}")
    match = _WINDOW.match(text)
    if not match:
        raise CalendarError(f"{where}: cannot read window {text!r}; write it like '09:00-17:00' or '22:00-06:00'")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise CalendarError(f"{where}: {text!r} is not a time of day (00:00 to 24:00)")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == end:
        raise CalendarError(f"{where}: window {text!r} starts where it ends; write '00:00-24:00' for a whole day")
    if end < start:
        end += _DAY  # a night shift: runs into the next day
    return Window(start, end)


def parse_windows(texts: Iterable[object], where: str) -> tuple[Window, ...]:
    """Parse one day's windows, sorted, refusing overlaps within the day."""
    if isinstance(texts, str):
        texts = [texts]
    windows = sorted(_window(text, f"{where}[{i}]") for i, text in enumerate(texts))
    for before, after in itertools.pairwise(windows):
        if after.start < before.end:
            raise CalendarError(f"{where}: windows {before} and {after} overlap")
    return tuple(windows)


def _day_keys(key: str) -> list[int]:
    lowered = key.strip().lower()
    if "-" in lowered:
        first, _, last = lowered.partition("-")
        if first in DAY_NAMES and last in DAY_NAMES:
            a, b = DAY_NAMES.index(first), DAY_NAMES.index(last)
            return [(a + i) % 7 for i in range((b - a) % 7 + 1)]
    if lowered in DAY_NAMES:
        return [DAY_NAMES.index(lowered)]
    raise CalendarError(f"hours.{key}: unknown day; use mon..sun or a range like 'mon-fri'")


def parse_week(hours: Mapping[str, Sequence[str] | str]) -> tuple[tuple[Window, ...], ...]:
    """Windows for each weekday (Monday first), refusing overlaps across days too."""
    week: list[tuple[Window, ...] | None] = [None] * 7
    for key, texts in hours.items():
        if not isinstance(key, str):
            raise CalendarError(f"hours: day keys are names like 'mon', got {key!r}")
        windows = parse_windows(texts, f"hours.{key}")
        for day in _day_keys(key):
            if week[day] is not None:
                raise CalendarError(f"hours.{key}: {DAY_NAMES[day]} is given twice")
            week[day] = windows
    result = tuple(w or () for w in week)
    spans = sorted((day * _DAY + w.start, day * _DAY + w.end, day, w) for day, ws in enumerate(result) for w in ws)
    pairs = list(itertools.pairwise(spans))
    if len(spans) > 1:  # Sunday's night shift may run into Monday
        first = spans[0]
        pairs.append((spans[-1], (first[0] + 7 * _DAY, first[1] + 7 * _DAY, first[2], first[3])))
    for (_, end, day, window), (start, _, next_day, following) in pairs:
        if start < end:
            raise CalendarError(
                f"hours: {DAY_NAMES[day]} {window} overlaps {DAY_NAMES[next_day]} {following}; "
                "end the night shift earlier"
            )
    return result
