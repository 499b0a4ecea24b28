"""The business calendar: business time between instants, exact to the microsecond.

How it stays fast whatever the span: the calendar turns a range of whole years
into one sorted list of open intervals in UTC microseconds, with the business
time accumulated before each interval (a prefix sum). Business time up to an
instant is then one bisect; ``add`` bisects the prefix sums for the target;
``between`` is two lookups. The range grows a year or more at a time when a
query leaves it, so 2,000 business hours cost what 2 hours do.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NoReturn, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ticketflow._brief import brief
from ticketflow.calendar._holidays import HolidaySource, holidays_for
from ticketflow.calendar._hours import DAY_NAMES, Window, local_us, parse_week, parse_windows
from ticketflow.calendar._rules import CalendarRule, SpanSource, parse_rules
from ticketflow.errors import CalendarError, NaiveDatetime

__all__ = ["MAX_YEAR", "MIN_YEAR", "BusinessCalendar"]

#: The years a calendar can answer for; instants or spans beyond are a CalendarError.
MIN_YEAR, MAX_YEAR = 1900, 2500

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
_ONE_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)
#: how far back :meth:`BusinessCalendar.explain` looks for a rule span that covers the instant
_EXPLAIN_LOOKBACK = timedelta(days=366)
_WHOLE_DAY = ("00:00-24:00",)


class _Timeline:
    """Open intervals of a range of years, as UTC microseconds, with prefix sums."""

    __slots__ = ("before", "end_year", "ends", "first_year", "hi", "lo", "shift", "starts", "through")

    def __init__(
        self,
        lo: int,
        hi: int,
        starts: list[int],
        ends: list[int],
        before: list[int],
        through: list[int],
        first_year: int,
        end_year: int,
    ) -> None:
        self.lo = lo  # first covered instant: local midnight of Jan 1 of first_year
        self.hi = hi  # first instant not covered: local midnight of Jan 1 of end_year
        self.starts = starts
        self.ends = ends
        self.before = before  # business µs before each interval, from the timeline's origin
        self.through = through  # business µs at each interval's end
        self.shift = [b - s for b, s in zip(before, starts, strict=True)]  # business µs at u is shift + u inside
        self.first_year = first_year
        self.end_year = end_year


def _to_us(value: datetime, name: str = "datetime") -> int:
    try:
        delta = value - _EPOCH  # refuses naive datetimes and non-datetimes with TypeError
    except TypeError:
        if isinstance(value, datetime):
            raise NaiveDatetime(name, value) from None
        raise CalendarError(f"{name} must be an aware datetime, got {type(value).__name__} {value!r}") from None
    return (delta.days * 86400 + delta.seconds) * _US + delta.microseconds


def _delta_us(value: timedelta) -> int:
    if not isinstance(value, timedelta):
        raise CalendarError(f"expected a timedelta, got {type(value).__name__} {value!r}")
    return (value.days * 86400 + value.seconds) * _US + value.microseconds


def _zone_name(value: object) -> str:
    """A zone as its IANA name: a ``ZoneInfo`` gives its key and ``datetime.UTC`` is ``"UTC"`` (else as given)."""
    if isinstance(value, ZoneInfo) and value.key:
        return value.key
    if value is UTC:
        return "UTC"
    return cast(str, value)  # anything but a name is refused by __attrs_post_init__, naming it


def _hours(value: Mapping[str, Sequence[str] | str]) -> tuple[tuple[Window, ...], ...]:
    if isinstance(value, tuple) and len(value) == 7 and all(isinstance(d, tuple) for d in value):
        return value  # already parsed (attrs.evolve passes the stored form back)
    if not isinstance(value, Mapping):
        raise CalendarError(f"hours: expected a mapping of day names to windows, got {value!r}")
    return parse_week(value)


def _holidays(value: Iterable[date | HolidaySource] | HolidaySource) -> tuple[date | HolidaySource, ...]:
    if isinstance(value, HolidaySource):
        items: list[Any] = [value]
    elif isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise CalendarError(f"holidays: expected a list of dates or holidays_for(...), got {brief(value)}")
    else:
        items = list(value)
    dates: set[date] = set()
    sources: list[HolidaySource] = []
    for i, item in enumerate(items):
        if isinstance(item, HolidaySource):
            sources.append(item)
        elif isinstance(item, date) and not isinstance(item, datetime):
            dates.add(item)
        elif isinstance(item, str):
            try:
                dates.add(date.fromisoformat(item))
            except ValueError:
                raise CalendarError(f"holidays[{i}]: {item!r} is not a date (YYYY-MM-DD)") from None
        else:
            raise CalendarError(f"holidays[{i}]: expected a date or holidays_for(...), got {item!r}")
    return (*sorted(dates), *sources)


def _holiday_table(table: Mapping[str, Any], where: str) -> HolidaySource:
    """``{ country = "US", subdiv = "NY", observed = true }`` as a :class:`HolidaySource`."""
    extra = set(table) - {"country", "subdiv", "observed"}
    if "country" not in table or extra:
        raise CalendarError(f"{where}: write {{ country = 'US', subdiv = 'NY' }} or a list of dates")
    return holidays_for(table["country"], table.get("subdiv"), observed=table.get("observed", True))


def _overrides(
    value: Mapping[date | str, Sequence[str]] | tuple[Any, ...],
) -> tuple[tuple[date, tuple[Window, ...]], ...]:
    if isinstance(value, tuple):
        return value  # already parsed
    result = {}
    for key, windows in value.items():
        day = key
        if isinstance(key, str):
            try:
                day = date.fromisoformat(key)
            except ValueError:
                raise CalendarError(f"overrides.{key}: not a date (YYYY-MM-DD)") from None
        if not isinstance(day, date) or isinstance(day, datetime):
            raise CalendarError(f"overrides: keys are dates, got {key!r}")
        result[day] = parse_windows(windows, f"overrides.{day.isoformat()}")
    return tuple(sorted(result.items()))


def folder_of(source: str) -> Path | None:
    """The folder of a config file named *source*, if it is one (relative ``ics`` paths are read from there)."""
    path = Path(source)
    return path.parent if path.is_file() else None


def located(error: CalendarError, base: str) -> tuple[str, str]:
    """(path, problem) of a :meth:`BusinessCalendar.from_config` error, with the section at *base*.

    ``calendar.rules[2].rrule: cannot read ...`` under ``sla.calendars.berlin``
    becomes ``("sla.calendars.berlin.rules[2].rrule", "cannot read ...")``.
    """
    path, sep, problem = str(error).partition(": ")
    if sep and path.startswith("calendar.") and " " not in path:
        return base + path.removeprefix("calendar"), problem
    return base, str(error)


def _config_rules(value: object) -> tuple[SpanSource, ...]:
    if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str):
        raise CalendarError("calendar.rules: expected a list of rule tables ([[calendar.rules]])")
    try:
        return parse_rules(list(value))
    except CalendarError as exc:
        raise CalendarError(f"calendar.{exc}") from None


def _config_ics(value: object, base: Path | None) -> tuple[SpanSource, ...]:
    from ticketflow.calendar._ics import ics_closures

    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, Sequence) or not all(isinstance(p, str) for p in paths):
        raise CalendarError("calendar.ics: expected the path of an .ics file, or a list of them")
    result: list[SpanSource] = []
    for i, path in enumerate(paths):
        try:
            result.append(ics_closures(Path(path) if base is None else base / path))
        except CalendarError as exc:
            raise CalendarError(f"calendar.ics[{i}]: {exc}") from None
    return tuple(result)


def _union(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Sorted, disjoint starts and ends covering the *spans* (touching spans merge)."""
    spans.sort()
    starts: list[int] = []
    ends: list[int] = []
    for start, end in spans:
        if ends and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def _subtract(
    starts: list[int], ends: list[int], cut_starts: list[int], cut_ends: list[int]
) -> tuple[list[int], list[int]]:
    """The intervals (*starts*, *ends*) less the disjoint sorted cuts."""
    out_starts: list[int] = []
    out_ends: list[int] = []
    j = 0
    count = len(cut_starts)
    for start, end in zip(starts, ends, strict=True):
        while j < count and cut_ends[j] <= start:
            j += 1
        k, here = j, start
        while k < count and cut_starts[k] < end:
            if cut_starts[k] > here:
                out_starts.append(here)
                out_ends.append(cut_starts[k])
            here = max(here, cut_ends[k])
            k += 1
        if here < end:
            out_starts.append(here)
            out_ends.append(end)
    return out_starts, out_ends


def _first_open_year(
    hours: tuple[tuple[Window, ...], ...],
    overrides: tuple[tuple[date, tuple[Window, ...]], ...],
    rules: tuple[SpanSource, ...],
) -> int:
    """The earliest year anything can open in: before it, the calendar is closed (never below ``MIN_YEAR``).

    Weekly hours open every week, from the first supported year; an override
    opens on its date, a :class:`CalendarRule` from its ``start`` on. Another
    opening rule tells its first span only when asked for spans year by year,
    so it could open from the first supported year too.
    """
    if any(hours):
        return MIN_YEAR
    years = [day.year for day, windows in overrides if windows]
    for rule in rules:
        if rule.opens:
            if not isinstance(rule, CalendarRule):
                return MIN_YEAR
            years.append(rule.start.year)
    return max(MIN_YEAR, min(years))


@attrs.frozen
class Explanation:
    """Why a calendar is open or closed at an instant (:meth:`BusinessCalendar.explain`).

    Attributes:
        instant: the instant asked about, in the calendar's zone.
        open: whether the calendar is open then.
        source: what decided it: ``"hours"``, ``"override"``, ``"holiday"``,
            ``"rule"`` (a recurring or imported rule) or ``"no window"``.
        reason: the deciding rule in words, such as ``rule 'maintenance'
            (FREQ=MONTHLY;BYDAY=1MO) closes 09:00-11:00 on 2026-03-02``.
        since: where the open or closed stretch around the instant starts.
        until: where it ends.
    """

    instant: datetime
    open: bool
    source: str
    reason: str
    since: datetime
    until: datetime

    def __str__(self) -> str:
        state = "open" if self.open else "closed"
        return (
            f"{self.instant.isoformat()}: {state} ({self.reason}); {state} from {self.since.isoformat()} "
            f"until {self.until.isoformat()}"
        )


@attrs.frozen
class BusinessCalendar:
    """Business hours in a time zone, with holidays and per-date overrides.

    Attributes:
        timezone: an IANA zone name, such as ``"America/New_York"`` (a ``ZoneInfo``, or
            ``datetime.UTC``, is taken as its name).
        hours: windows per weekday: ``{"mon-fri": ["09:00-12:00", "13:00-17:00"]}``;
            keys are ``mon``..``sun`` or ranges like ``mon-fri``; a window
            may cross midnight (``"22:00-06:00"``), and ``"00:00-24:00"`` is
            a whole day. Days not given are closed.
        holidays: dates (or ISO strings), and/or :func:`holidays_for` sources;
            a holiday cancels the windows that start on it.
        overrides: a date's own windows, replacing its weekday's (and a
            holiday's); an empty list closes the date.
        rules: recurring closures and openings (:class:`CalendarRule`, or
            config tables ``{ rrule, start, close | open, name }``), and
            closures imported from iCalendar (:func:`ics_closures`; in
            config, ``ics = ["holidays.ics"]``).

    Precedence, most specific first: a date's override decides that date
    alone (its rules and holiday are ignored); a holiday cancels the windows
    and rule spans that start on it; rule closures cut their spans out of
    whatever is open (night shifts from the day before included), and win
    over rule openings, which add to the weekly hours.

    The conventions (see ``docs/business-calendar.md``): business time is
    real elapsed time inside open windows; ``add`` returns the earliest
    instant, ``sub`` the latest; ``between`` is signed; a window belongs to
    the local date it starts on; a window edge at a wall time that does not
    exist moves forward with the clock, and one that occurs twice is its
    first occurrence; results are in the calendar's zone.

    Raises:
        CalendarError: unknown zone, malformed or overlapping windows, no
            open time at all.
    """

    timezone: str = attrs.field(converter=_zone_name)
    hours: tuple[tuple[Window, ...], ...] = attrs.field(converter=_hours)
    holidays: tuple[date | HolidaySource, ...] = attrs.field(default=(), converter=_holidays)
    overrides: tuple[tuple[date, tuple[Window, ...]], ...] = attrs.field(default=(), converter=_overrides)
    rules: tuple[SpanSource, ...] = attrs.field(default=(), converter=parse_rules)
    _tz: ZoneInfo = attrs.field(init=False, eq=False, hash=False, repr=False)
    _by_date: dict[date, tuple[Window, ...]] = attrs.field(init=False, eq=False, hash=False, repr=False)
    _current: _Timeline | None = attrs.field(init=False, eq=False, hash=False, repr=False, default=None)
    _opens_from: int = attrs.field(init=False, eq=False, hash=False, repr=False)
    _supported: tuple[int, int] = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise CalendarError(
                f"timezone: unknown zone {self.timezone!r}; use an IANA name like 'Europe/Paris'"
            ) from None
        object.__setattr__(self, "_tz", tz)
        opening = any(rule.opens for rule in self.rules)
        if not any(self.hours) and not any(windows for _, windows in self.overrides) and not opening:
            raise CalendarError("hours: the calendar is never open; give at least one window")
        object.__setattr__(self, "_by_date", dict(self.overrides))
        object.__setattr__(self, "_opens_from", _first_open_year(self.hours, self.overrides, self.rules))
        # the supported years are local years: their first instant and the first one after them, in UTC µs
        supported = (local_us(tz, date(MIN_YEAR, 1, 1), 0), local_us(tz, date(MAX_YEAR + 1, 1, 1), 0))
        object.__setattr__(self, "_supported", supported)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, base: Path | None = None) -> BusinessCalendar:
        """Build one from a config section (TOML/JSON/dict).

        Relative ``ics`` paths are read from *base* (the folder of the file
        the section is in, when the loader knows it), else the current folder.

        Example (TOML)::

            [calendar]
            timezone = "America/New_York"
            hours = { mon-fri = ["09:00-17:00"] }
            holidays = { country = "US", subdiv = "NY" }   # or a list of dates, and such tables
            overrides = { 2026-12-24 = ["09:00-13:00"] }
            rules = [
              { name = "maintenance", rrule = "FREQ=MONTHLY;BYDAY=1MO", start = 2026-01-01, close = ["09:00-11:00"] },
            ]
        """
        if not isinstance(config, Mapping):
            raise CalendarError(f"calendar: expected a table, got {config!r}")
        unknown = set(config) - {"timezone", "hours", "holidays", "overrides", "rules", "ics"}
        if unknown:
            raise CalendarError(
                f"calendar.{sorted(unknown)[0]}: unknown key; use timezone, hours, holidays, overrides, rules, ics"
            )
        for key in ("timezone", "hours"):
            if key not in config:
                raise CalendarError(f"calendar.{key}: required key is missing")
        holidays: Any = config.get("holidays", ())
        if isinstance(holidays, Mapping):
            holidays = _holiday_table(holidays, "calendar.holidays")
        elif isinstance(holidays, list | tuple):  # a country's holidays and the team's own days, together
            holidays = [
                _holiday_table(item, f"calendar.holidays[{i}]") if isinstance(item, Mapping) else item
                for i, item in enumerate(holidays)
            ]
        return cls(
            timezone=config["timezone"],
            hours=config["hours"],
            holidays=holidays,
            overrides=config.get("overrides", {}),
            rules=(*_config_rules(config.get("rules", ())), *_config_ics(config.get("ics", ()), base)),
        )

    @classmethod
    def always_open(cls, timezone: str = "UTC") -> BusinessCalendar:
        """A 24x7 calendar: business time is wall time."""
        return cls(timezone, {"mon-sun": list(_WHOLE_DAY)})

    @property
    def tz(self) -> ZoneInfo:
        """The calendar's zone."""
        return self._tz

    # -- the timeline --------------------------------------------------------------

    def _holiday_dates(self, year: int) -> set[date]:
        result: set[date] = set()
        for item in self.holidays:
            if isinstance(item, HolidaySource):
                result |= item.dates(year)
            elif item.year == year:
                result.add(item)
        return result

    def windows_on(self, day: date) -> tuple[Window, ...]:
        """The windows that start on local date *day* (after holidays and overrides, before rules).

        Recurring and imported rules act on instants, not on a date's
        windows: :meth:`open_windows` and :meth:`explain` show their effect.
        """
        overrides = self._by_date
        if day in overrides:
            return overrides[day]
        if day in self._holiday_dates(day.year):
            return ()
        return self.hours[day.weekday()]

    def _local_us(self, day: date, minute: int) -> int:
        return local_us(self._tz, day, minute)

    def _build(self, first_year: int, end_year: int) -> _Timeline:
        if first_year < MIN_YEAR or end_year > MAX_YEAR + 1:
            raise CalendarError(f"beyond the supported range of years {MIN_YEAR}..{MAX_YEAR}")
        overrides = self._by_date
        holidays: set[date] = set()
        for year in range(first_year - 1, end_year):
            holidays |= self._holiday_dates(year)
        raw: list[tuple[int, int]] = []
        day = date(first_year, 1, 1) - _ONE_DAY  # its night shift may run into the range
        last = date(end_year, 1, 1)
        while day < last:
            windows = overrides[day] if day in overrides else () if day in holidays else self.hours[day.weekday()]
            for w in windows:
                start, end = self._local_us(day, w.start), self._local_us(day, w.end)
                if end > start:
                    raw.append((start, end))
            day += _ONE_DAY
        closed: list[tuple[int, int]] = []
        since = date(first_year - 1, 1, 1)  # a rule span owned up to a year earlier may run into the range
        for rule in self.rules:
            spans = raw if rule.opens else closed
            for owner, start, end, _ in rule.spans(self._tz, since, last):
                if owner not in overrides and owner not in holidays:
                    spans.append((start, end))
        starts, ends = _union(raw)  # an override's night may run into the next day's window
        if closed:
            starts, ends = _subtract(starts, ends, *_union(closed))
        before: list[int] = []
        through: list[int] = []
        total = 0
        for start, end in zip(starts, ends, strict=True):
            before.append(total)
            total += end - start
            through.append(total)
        lo = self._local_us(date(first_year, 1, 1), 0)
        hi = self._local_us(date(end_year, 1, 1), 0)
        return _Timeline(lo, hi, starts, ends, before, through, first_year, end_year)

    def _timeline(self, *instants: int, extend_by: int = 0, backward: bool = False) -> _Timeline:
        """Build (or grow) the timeline so it covers *instants*, plus *extend_by* years."""
        timeline = self._current
        # local years: the timeline runs from a local Jan 1 to a local Jan 1, and the supported years are local
        years = [datetime.fromtimestamp(u // _US, self._tz).year for u in instants]
        # a year of margin each side, within the supported years: a fresh calendar answers at their edges too
        first = max(min(years) - 1, MIN_YEAR) if min(years) >= MIN_YEAR else min(years)
        end = min(max(years) + 2, MAX_YEAR + 1) if max(years) <= MAX_YEAR else max(years) + 1
        if timeline is not None:
            first = min(first, timeline.first_year)
            end = max(end, timeline.end_year)
            if extend_by and backward:
                first -= extend_by
            elif extend_by:
                end += extend_by
        if first < MIN_YEAR or end > MAX_YEAR + 1:
            raise CalendarError(
                f"the span reaches beyond the supported years {MIN_YEAR}..{MAX_YEAR}, or the calendar is open "
                "too rarely for it"
            )
        if timeline is not None and first == timeline.first_year and end > timeline.end_year:
            timeline = self._extended(timeline, end)  # walking forward: build only the new years
        else:
            timeline = self._build(first, end)
        object.__setattr__(self, "_current", timeline)  # one reference swap: safe for concurrent readers
        return timeline

    def _extended(self, timeline: _Timeline, end_year: int) -> _Timeline:
        """*timeline* with the years up to *end_year* appended, building only those years.

        The new years' build starts with the last covered day (its night shift
        may run past the old end), so the two meet in intervals both hold:
        those are skipped, and one the new build makes longer is extended.
        """
        more = self._build(timeline.end_year, end_year)
        starts, ends = list(timeline.starts), list(timeline.ends)
        before, through = list(timeline.before), list(timeline.through)
        total = through[-1] if through else 0
        for start, end in zip(more.starts, more.ends, strict=True):
            if ends and end <= ends[-1]:
                continue
            if ends and start <= ends[-1]:
                total += end - ends[-1]
                ends[-1] = end
                through[-1] = total
                continue
            starts.append(start)
            ends.append(end)
            before.append(total)
            total += end - start
            through.append(total)
        return _Timeline(timeline.lo, more.hi, starts, ends, before, through, timeline.first_year, end_year)

    def _covering(self, u: int) -> _Timeline:
        timeline = self._current
        if timeline is not None and timeline.lo <= u < timeline.hi:
            return timeline
        return self._timeline(u)

    def _grow(self, timeline: _Timeline, missing: int, backward: bool, *instants: int) -> _Timeline:
        years = timeline.end_year - timeline.first_year
        per_year = max(1, timeline.through[-1] // years) if timeline.through else 1
        return self._timeline(*instants, extend_by=max(1, missing // per_year + 1), backward=backward)

    @staticmethod
    def _business(timeline: _Timeline, u: int) -> int:
        i = bisect_right(timeline.starts, u) - 1
        if i < 0:
            return 0
        return timeline.before[i] + min(u, timeline.ends[i]) - timeline.starts[i]

    def _us(self, value: datetime, method: str, name: str) -> int:
        """*value* in UTC µs, refused outside the supported years (before a local date beyond them overflows)."""
        u = _to_us(value, name)
        self._check(u, value, method, name)
        return u

    def _check(self, u: int, value: datetime, method: str, name: str) -> None:
        first, end = self._supported
        if not first <= u < end:
            raise CalendarError(
                f"{method}: {name} {value.isoformat()} is outside the supported years {MIN_YEAR}..{MAX_YEAR} "
                f"(local years in {self.timezone}); give an instant within them"
            )

    def _from_us(self, u: int) -> datetime:
        seconds, micro = divmod(u, _US)
        result = datetime.fromtimestamp(seconds, self._tz)
        return result.replace(microsecond=micro) if micro else result

    # -- the API ----------------------------------------------------------------------

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from *a* to *b*; negative when *b* is before *a*."""
        try:  # _to_us, inlined: between is the hottest call of SLA evaluation
            da, db = a - _EPOCH, b - _EPOCH
        except TypeError:
            _to_us(a, "a")
            _to_us(b, "b")
            raise
        ua = (da.days * 86400 + da.seconds) * _US + da.microseconds
        ub = (db.days * 86400 + db.seconds) * _US + db.microseconds
        timeline = self._current
        if timeline is None or not (timeline.lo <= (ua if ua < ub else ub) and (ub if ua < ub else ua) < timeline.hi):
            self._check(ua, a, "between", "a")
            self._check(ub, b, "between", "b")
            timeline = self._timeline(ua, ub)
        starts, ends, shift = timeline.starts, timeline.ends, timeline.shift
        # Business time up to u is shift[i] + u inside interval i, through[i] after it.
        i = bisect_right(starts, ua) - 1
        j = bisect_right(starts, ub) - 1
        at_a = (shift[i] + ua if ua < ends[i] else timeline.through[i]) if i >= 0 else 0
        at_b = (shift[j] + ub if ub < ends[j] else timeline.through[j]) if j >= 0 else 0
        return _ONE_US * (at_b - at_a)

    def business_positions(self, instants: Sequence[datetime]) -> list[int]:
        """Business time of each instant, in microseconds from one arbitrary origin.

        Only differences between positions from the same call mean anything:
        ``positions[j] - positions[i]`` is ``between(instants[i], instants[j])``
        in microseconds. Many instants cost one conversion and one bisect
        each, which is what SLA evaluation over a long history needs.
        """
        if not instants:
            return []
        try:  # _to_us, inlined
            us = [(d.days * 86400 + d.seconds) * _US + d.microseconds for d in [t - _EPOCH for t in instants]]
        except TypeError:
            us = [_to_us(t, "instant") for t in instants]  # raises the precise error
        low, high = min(us), max(us)
        timeline = self._current
        if timeline is None or not (timeline.lo <= low and high < timeline.hi):
            for i, (u, t) in enumerate(zip(us, instants, strict=True)):
                self._check(u, t, "business_positions", f"instants[{i}]")
            timeline = self._timeline(low, high)
        starts, ends, shift, through = timeline.starts, timeline.ends, timeline.shift, timeline.through
        found = [bisect_right(starts, u) - 1 for u in us]
        return [(shift[i] + u if u < ends[i] else through[i]) if i >= 0 else 0 for i, u in zip(found, us, strict=True)]

    def add(self, t: datetime, d: timedelta) -> datetime:
        """The earliest instant with *d* of business time after *t* (``sub`` if negative)."""
        du = _delta_us(d)
        if du < 0:
            return self.sub(t, -d)
        u = self._us(t, "add", "t")
        if du == 0:
            return t.astimezone(self._tz)
        timeline = self._covering(u)
        while True:
            target = self._business(timeline, u) + du
            j = bisect_left(timeline.through, target)
            if j < len(timeline.starts):
                x = timeline.starts[j] + target - timeline.before[j]
                if x < timeline.hi:
                    return self._from_us(x)
            have = timeline.through[-1] if timeline.through else 0
            timeline = self._grow(timeline, target - have, False, u)

    def sub(self, t: datetime, d: timedelta) -> datetime:
        """The latest instant with *d* of business time before *t* (``add`` if negative)."""
        du = _delta_us(d)
        if du < 0:
            return self.add(t, -d)
        u = self._us(t, "sub", "t")
        if du == 0:
            return t.astimezone(self._tz)
        timeline = self._covering(u)
        while True:
            target = self._business(timeline, u) - du
            j = bisect_right(timeline.before, target) - 1
            if target >= 0 and j >= 0:
                x = timeline.starts[j] + target - timeline.before[j]
                if x >= timeline.lo:
                    return self._from_us(x)
            timeline = self._grow(timeline, max(du, -target), True, u)

    def is_open(self, t: datetime) -> bool:
        """Whether *t* is inside an open window (windows are half-open: [start, end))."""
        u = self._us(t, "is_open", "t")
        timeline = self._covering(u)
        i = bisect_right(timeline.starts, u) - 1
        return i >= 0 and u < timeline.ends[i]

    def _next_interval(self, u: int) -> tuple[int, int]:
        """The open interval containing *u*, or the next one after it, cut at the end of the supported years.

        A night shift starting on their last day ends there; when no window
        opens before that end, both are that end (callers that must name a
        window refuse it).
        """
        timeline = self._covering(u)
        end = self._supported[1]
        while True:
            i = bisect_right(timeline.starts, u) - 1
            if i >= 0 and u < timeline.ends[i]:
                return timeline.starts[i], min(timeline.ends[i], end)
            if i + 1 < len(timeline.starts) and timeline.starts[i + 1] < timeline.hi:
                return timeline.starts[i + 1], min(timeline.ends[i + 1], end)
            if timeline.end_year > MAX_YEAR:
                return end, end
            timeline = self._timeline(u, extend_by=1)

    def _last_close_before(self, u: int) -> int:
        """The end of the last open interval before *u* (closed at *u*), else the first supported instant.

        Grows the timeline backward (twice as many years each time), so the
        answer does not depend on the years already built; it stops at the
        first year anything can open in (an override-only calendar's first
        override), as the years before it are closed: they are not built.
        """
        timeline = self._covering(u)
        years = 1
        while True:
            i = bisect_right(timeline.starts, u) - 1
            if i >= 0:
                return timeline.ends[i]
            if timeline.first_year <= self._opens_from:
                return self._local_us(date(MIN_YEAR, 1, 1), 0)
            years = min(years, timeline.first_year - MIN_YEAR)
            timeline = self._timeline(u, extend_by=years, backward=True)
            years *= 2

    def next_open(self, t: datetime) -> datetime:
        """*t* itself if open, else the start of the next window (in the calendar's zone)."""
        u = self._us(t, "next_open", "t")
        start, _ = self._next_interval(u)
        if start == self._supported[1]:
            self._no_window_after(t, "next_open")
        return self._from_us(max(start, u))

    def next_close(self, t: datetime) -> datetime:
        """The end of the window *t* is in, or of the next window if *t* is closed.

        A window running past the supported years (a night shift from their
        last day) ends at their end, as :meth:`explain` says.
        """
        start, end = self._next_interval(self._us(t, "next_close", "t"))
        if start == self._supported[1]:
            self._no_window_after(t, "next_close")
        return self._from_us(end)

    def _no_window_after(self, t: datetime, method: str) -> NoReturn:
        raise CalendarError(
            f"{method}: no window opens after t {t.isoformat()} within the supported years {MIN_YEAR}..{MAX_YEAR} "
            f"(local years in {self.timezone})"
        )

    def open_windows(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        """The open stretches within [*a*, *b*), clipped to it, in order."""
        ua, ub = self._us(a, "open_windows", "a"), self._us(b, "open_windows", "b")
        if ub <= ua:
            return []
        timeline = self._covering(ua)
        if ub >= timeline.hi:
            timeline = self._timeline(ua, ub)
        first = max(0, bisect_right(timeline.starts, ua) - 1)
        last = bisect_left(timeline.starts, ub)
        result = []
        for start, end in zip(timeline.starts[first:last], timeline.ends[first:last], strict=True):
            lo, hi = max(start, ua), min(end, ub)
            if lo < hi:
                result.append((self._from_us(lo), self._from_us(hi)))
        return result

    def add_days(self, t: datetime, n: int) -> datetime:
        """The same local time *n* business days later (earlier if negative).

        A business day is a local date with at least one window. When that
        time is closed on the day reached, the next open instant is returned.
        """
        self._us(t, "add_days", "t")
        local = t.astimezone(self._tz)
        day = local.date()
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        guard = 0
        while remaining:
            day += timedelta(days=step)
            guard += 1
            if guard > 366 * 20 or not MIN_YEAR <= day.year <= MAX_YEAR:
                raise CalendarError(
                    f"add_days: no {abs(n)} business days within reach of {t.isoformat()} "
                    f"(20 years, inside the supported years {MIN_YEAR}..{MAX_YEAR})"
                )
            if self._is_business_day(day):
                remaining -= 1
        candidate = datetime.combine(day, time(local.hour, local.minute, local.second, local.microsecond), self._tz)
        return self.next_open(candidate)

    def explain(self, t: datetime) -> Explanation:
        """Which rule makes the calendar open or closed at *t*, and the stretch it is in.

        The most specific claim on *t* decides, in the documented order:
        a date's override, a holiday, a rule closure, a rule opening, the
        weekly hours; a closed instant nothing claims is outside every window.
        """
        u = self._us(t, "explain", "t")
        timeline = self._covering(u)
        i = bisect_right(timeline.starts, u) - 1
        is_open = i >= 0 and u < timeline.ends[i]
        if is_open:
            since, until = timeline.starts[i], timeline.ends[i]
        else:
            since = timeline.ends[i] if i >= 0 else self._last_close_before(u)
            until = self._next_interval(u)[0]
        # the day before the supported years is built for its night shifts only: the stretch starts with them;
        # and it ends with them, at the last day's night shift or where no window opens before their end
        since, until = max(since, self._supported[0]), min(until, self._supported[1])
        day = t.astimezone(self._tz).date()
        holidays = self._holiday_dates(day.year) | self._holiday_dates(day.year - 1)
        claims: list[tuple[int, bool, str, str]] = []  # (precedence, opens, source, reason)
        for d in (day - _ONE_DAY, day):
            weekly = [w for w in self.hours[d.weekday()] if self._covers(d, w, u)]
            if d in self._by_date:
                own = [w for w in self._by_date[d] if self._covers(d, w, u)]
                if own:
                    claims.append((0, True, "override", f"the override of {d} opens {own[0]}"))
                elif weekly:
                    windows = " ".join(str(w) for w in self._by_date[d]) or "nothing"
                    claims.append((0, False, "override", f"the override of {d} opens {windows} instead"))
            elif d in holidays and weekly:
                claims.append((1, False, "holiday", f"{d} is a holiday"))
            elif weekly:
                claims.append((4, True, "hours", f"weekly hours: {DAY_NAMES[d.weekday()]} {weekly[0]}"))
        for rule in self.rules:
            # a span may have begun long before t (an ICS shutdown over the holidays): look back a year
            for owner, start, end, label in rule.spans(self._tz, day - _EXPLAIN_LOOKBACK, day + _ONE_DAY):
                if not start <= u < end or owner in self._by_date:
                    continue
                if owner in holidays:
                    claims.append((1, False, "holiday", f"{owner} is a holiday ({label} does not apply)"))
                    continue
                began, ended = self._from_us(start), self._from_us(end)
                if ended - began >= _ONE_DAY or ended.date() > began.date() + _ONE_DAY:  # name the dates
                    span = f"{began:%Y-%m-%d %H:%M}-{ended:%Y-%m-%d %H:%M}"
                else:
                    span = f"{began:%H:%M}-{ended:%H:%M}"
                verb = "opens" if rule.opens else "closes"
                claims.append((3 if rule.opens else 2, rule.opens, "rule", f"{label} {verb} {span} on {owner}"))
        deciding = sorted(c for c in claims if c[1] == is_open)
        if deciding:
            _, _, source, reason = deciding[0]
        else:
            hours = " ".join(str(w) for w in self.hours[day.weekday()]) or "closed"
            source, reason = "no window", f"outside the weekly hours ({DAY_NAMES[day.weekday()]}: {hours})"
        return Explanation(t.astimezone(self._tz), is_open, source, reason, self._from_us(since), self._from_us(until))

    def _covers(self, day: date, window: Window, u: int) -> bool:
        return self._local_us(day, window.start) <= u < self._local_us(day, window.end)

    def _is_business_day(self, day: date) -> bool:
        """Whether some open time starts on *day*: its windows or rule openings, less rule closures."""
        windows = self.windows_on(day)
        if not self.rules:
            return bool(windows)
        spans = [(self._local_us(day, w.start), self._local_us(day, w.end)) for w in windows]
        if day not in self._by_date and day not in self._holiday_dates(day.year):
            for rule in self.rules:
                if rule.opens:
                    spans.extend((start, end) for _, start, end, _ in rule.spans(self._tz, day, day + _ONE_DAY))
        return any(end > start and self.open_windows(self._from_us(start), self._from_us(end)) for start, end in spans)

    def to_ics(self, start: datetime, end: datetime, *, closed: bool = False) -> str:
        """The open windows within [*start*, *end*) as iCalendar text (extra ``ical``), to subscribe to.

        With ``closed=True``, the closed stretches instead (the gaps between
        open windows, clipped to the range). Times carry the calendar's
        ``TZID``, with its ``VTIMEZONE``.
        """
        from ticketflow.calendar._ics import to_ics_text

        self._us(start, "to_ics", "start")
        self._us(end, "to_ics", "end")
        spans = self.open_windows(start, end)
        if closed:
            a, b = start.astimezone(self._tz), end.astimezone(self._tz)
            edges = [a, *(t for span in spans for t in span), b]
            spans = [(x, y) for x, y in zip(edges[::2], edges[1::2], strict=True) if x < y]
        return to_ics_text(spans, "closed" if closed else "open", f"-//ticketflow//calendar {self.timezone}//EN")

    def describe(self) -> str:
        """A one-line summary: zone and weekly hours."""
        days = ", ".join(f"{DAY_NAMES[i]} {' '.join(str(w) for w in ws)}" for i, ws in enumerate(self.hours) if ws)
        return f"{self.timezone}: {days}"
