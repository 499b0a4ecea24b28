"""Recurring closures and openings: an RFC 5545 ``RRULE`` with windows, in the calendar's zone.

A rule's occurrences are local *dates* (from ``DTSTART`` on, bounded by
``UNTIL``/``COUNT``); on each, its windows are wall-clock times in the
calendar's zone, so "09:00-11:00 every first Monday" stays 09:00 local across
DST changes. ``python-dateutil``'s ``rrulestr`` reads the rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import attrs

from ticketflow.calendar._hours import Window, local_us, parse_windows
from ticketflow.errors import CalendarError

if TYPE_CHECKING:
    from dateutil import rrule as dateutil_rrule

__all__ = ["CalendarRule", "SpanSource", "parse_rules"]

_RULE_KEYS = ("rrule", "start", "close", "open", "name")


def _start(value: object) -> date:
    if isinstance(value, datetime):
        raise CalendarError(f"start: give DTSTART as a date (2026-01-05), got the datetime {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarError(f"start: DTSTART is a date (2026-01-05), got {value!r}")


def _windows(value: object) -> tuple[Window, ...]:
    if isinstance(value, tuple) and all(isinstance(w, Window) for w in value):
        return value
    if value is None:
        return ()
    if not isinstance(value, str | Sequence):
        raise CalendarError(f"expected windows like ['09:00-11:00'], got {value!r}")
    return parse_windows(value, "windows")


def _parse_rrule(text: str, start: date) -> dateutil_rrule.rrule | dateutil_rrule.rruleset:
    from dateutil.rrule import rrulestr

    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if not body or "\n" in body or "DTSTART" in body.upper():
        raise CalendarError(f"rrule: {text!r} is not one RRULE line; give DTSTART as start=")
    for part in body.upper().split(";"):
        name, _, value = part.partition("=")
        if name.strip() == "INTERVAL" and not (value.strip().isdigit() and int(value) >= 1):
            raise CalendarError(f"rrule: {text!r}: INTERVAL must be a whole number of 1 or more")
    try:
        return rrulestr(body, dtstart=datetime.combine(start, time()))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        hint = "; write UNTIL as a local date (UNTIL=20261231)" if "UNTIL" in str(exc) else ""
        raise CalendarError(f"rrule: cannot read {text!r}: {exc}{hint}") from None


@attrs.frozen
class CalendarRule:
    """A recurring closure or opening: windows on the dates an ``RRULE`` gives.

    Attributes:
        rrule: an RFC 5545 recurrence rule, such as ``"FREQ=MONTHLY;BYDAY=1MO"``
            (an ``RRULE:`` prefix is allowed; ``UNTIL`` is a local date or
            wall time; ``COUNT`` counts occurrences from ``start``).
        start: ``DTSTART``, the first date the rule can give (a local date in
            the calendar's zone).
        close: windows closed on each occurrence (``"00:00-24:00"``: the whole
            date), cut out of whatever is open then, night shifts included.
        open: windows opened on each occurrence, added to the date's hours.
        name: what :meth:`BusinessCalendar.explain` calls it (default: the rule).

    Exactly one of ``close`` and ``open`` is given. Windows are wall-clock
    times in the calendar's zone, with the same conventions as ``hours``.

    Raises:
        CalendarError: an unreadable ``RRULE`` or window, both or neither of
            ``close``/``open``.
    """

    rrule: str
    start: date = attrs.field(converter=_start)
    close: tuple[Window, ...] = attrs.field(default=(), converter=_windows)
    open: tuple[Window, ...] = attrs.field(default=(), converter=_windows)
    name: str = ""
    _rule: dateutil_rrule.rrule | dateutil_rrule.rruleset = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.rrule, str):
            raise CalendarError(f"rrule: expected RRULE text like 'FREQ=WEEKLY;BYDAY=MO', got {self.rrule!r}")
        if bool(self.close) == bool(self.open):
            raise CalendarError("give either close = [windows] or open = [windows] (one of them, not empty)")
        object.__setattr__(self, "_rule", _parse_rrule(self.rrule, self.start))

    @property
    def opens(self) -> bool:
        """Whether the rule opens (else it closes)."""
        return bool(self.open)

    @property
    def windows(self) -> tuple[Window, ...]:
        """The windows it opens or closes on each occurrence."""
        return self.open or self.close

    @property
    def label(self) -> str:
        """How :meth:`BusinessCalendar.explain` names it."""
        return f"rule {self.name!r}" if self.name else f"rule {self.rrule}"

    def spans(self, tz: ZoneInfo, since: date, until: date) -> Iterator[tuple[date, int, int, str]]:
        """Each occurrence's windows as UTC microseconds, owned by its date."""
        label = self.label
        for day in self.dates(since, until):
            for w in self.windows:
                start, end = local_us(tz, day, w.start), local_us(tz, day, w.end)
                if end > start:
                    yield day, start, end, label

    def dates(self, since: date, until: date) -> Iterator[date]:
        """The occurrence dates in [*since*, *until*), in order."""
        seen = None
        lo, hi = datetime.combine(since, time()), datetime.combine(until, time())
        for occurrence in self._rule.between(lo, hi, inc=True):
            day = occurrence.date()
            if day != seen and day < until:
                seen = day
                yield day

    @classmethod
    def from_config(cls, config: Mapping[str, Any], where: str = "rules[0]") -> CalendarRule:
        """Build one from a config table: ``{ rrule = "...", start = 2026-01-05, close = ["09:00-11:00"] }``.

        Raises:
            CalendarError: naming *where* and the key at fault.
        """
        if isinstance(config, CalendarRule):
            return config
        if not isinstance(config, Mapping):
            raise CalendarError(f"{where}: expected a table with rrule, start and close or open, got {config!r}")
        unknown = sorted(set(config) - set(_RULE_KEYS))
        if unknown:
            raise CalendarError(f"{where}.{unknown[0]}: unknown key; use {', '.join(_RULE_KEYS)}")
        for key in ("rrule", "start"):
            if key not in config:
                raise CalendarError(f"{where}.{key}: required key is missing")
        if ("close" in config) == ("open" in config):
            raise CalendarError(f"{where}: give either close = [windows] or open = [windows]")
        kind = "close" if "close" in config else "open"
        try:
            start = _start(config["start"])
        except CalendarError as exc:
            raise CalendarError(f"{where}.{exc}") from None
        windows = parse_windows(_list(config[kind]), f"{where}.{kind}")
        if not windows:
            raise CalendarError(f"{where}.{kind}: give at least one window ('00:00-24:00' for the whole date)")
        name = config.get("name", "")
        if not isinstance(name, str):
            raise CalendarError(f"{where}.name: expected text, got {name!r}")
        if not isinstance(config["rrule"], str):
            raise CalendarError(f"{where}.rrule: expected RRULE text like 'FREQ=WEEKLY;BYDAY=MO'")
        try:
            return cls(config["rrule"], start, **{kind: windows}, name=name)
        except CalendarError as exc:
            raise CalendarError(f"{where}.{exc}") from None


def _list(value: object) -> Sequence[object]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence):
        raise CalendarError(f"expected windows like ['09:00-11:00'], got {value!r}")
    return value


class SpanSource(Protocol):
    """Something that opens or closes spans of time: a :class:`CalendarRule`, or ICS closures.

    An implementation yields, for the occurrences owned by local dates in
    [*since*, *until*), ``(owner date, start µs, end µs, label)`` in UTC
    microseconds since the epoch; ``opens`` says whether the spans open or close.
    """

    @property
    def opens(self) -> bool:
        """Whether the spans open time (else they close it)."""
        ...

    def spans(self, tz: ZoneInfo, since: date, until: date) -> Iterator[tuple[date, int, int, str]]:
        """The spans owned by local dates in [*since*, *until*)."""
        ...


def parse_rules(value: object) -> tuple[SpanSource, ...]:
    """The calendar's ``rules``: :class:`CalendarRule` values, config tables, or ICS sources."""
    if value is None:
        return ()
    if isinstance(value, tuple) and all(not isinstance(v, Mapping) for v in value):
        items: Sequence[object] = value
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = value
    else:
        items = [value]
    result: list[SpanSource] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            result.append(CalendarRule.from_config(item, f"rules[{i}]"))
        elif isinstance(item, CalendarRule) or (hasattr(item, "spans") and hasattr(item, "opens")):
            result.append(item)
        else:
            raise CalendarError(f"rules[{i}]: expected a CalendarRule, a rule table or ICS closures, got {item!r}")
    return tuple(result)
