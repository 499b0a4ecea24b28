"""iCalendar in and out (extra ``ical``): closures from ICS feeds, open windows or closures as ICS.

Reading uses ``icalendar`` to parse and ``recurring-ical-events`` to expand
recurring events (``RRULE``, ``RDATE``, ``EXDATE``, ``RECURRENCE-ID``
exceptions, ``TZID``s); both are imported only when ICS is used, so
``import ticketflow`` stays light.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ticketflow.calendar._hours import local_us
from ticketflow.errors import CalendarError

if TYPE_CHECKING:
    import icalendar

__all__ = ["IcsClosures", "ics_closures", "to_ics_text"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000


def _modules() -> tuple[Any, Any]:
    try:
        import icalendar
        import recurring_ical_events
    except ImportError:  # pragma: no cover - the extra is installed in dev
        raise CalendarError("iCalendar needs the `ical` extra: pip install 'ticketflow[ical]'") from None
    return icalendar, recurring_ical_events


def _instant_us(value: date | datetime, tz: tzinfo) -> int:
    """A DTSTART/DTEND as UTC µs: dates at local midnight, floating times in the calendar's zone."""
    if not isinstance(value, datetime):
        return local_us(tz, value, 0)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _US + delta.microseconds


def _known_zone(value: Any, where: str) -> None:
    """Refuse a time whose ``TZID`` names no zone (none known by that name, no ``VTIMEZONE`` for it in the file).

    icalendar reads such a time as floating, which would silently put the
    event in the calendar's own zone, hours away from what the feed meant.
    *value* is one property (``DTSTART``, ``RECURRENCE-ID``), or the lines of
    one (``RDATE``, ``EXDATE``: a list when repeated) that each hold several
    times (``.dts``) under the line's ``TZID``; a ``PERIOD`` is checked by its start.
    """
    for line in value if isinstance(value, list) else [value]:
        tzid = getattr(line, "params", {}).get("TZID")
        if tzid is None:
            continue
        for item in getattr(line, "dts", None) or [line]:
            moment = getattr(item, "dt", None)
            if isinstance(moment, tuple):  # a PERIOD: (start, end or duration)
                moment = moment[0]
            if isinstance(moment, datetime) and moment.tzinfo is None:
                raise CalendarError(
                    f"{where}: TZID {str(tzid)!r} is not a time zone known by that name, and the file has no "
                    "VTIMEZONE for it: name an IANA zone (Europe/Berlin) or include its VTIMEZONE"
                )


def _ends_before_start(start: Any, end: Any) -> bool:
    """True when a DTEND is before its DTSTART, compared where both are the same kind of time.

    Two dates compare as dates, two times with zones as instants and two
    floating times as wall times; a floating time beside one with a zone
    (or a date beside a time) depends on the calendar's zone, which the
    feed does not know yet, and is left to the expansion.
    """
    if isinstance(start, datetime) and isinstance(end, datetime):
        if (start.tzinfo is None) != (end.tzinfo is None):
            return False
        return bool(end < start)
    if isinstance(start, datetime) or isinstance(end, datetime):
        return False
    return bool(end < start)


@attrs.frozen
class IcsClosures:
    """Closures imported from an iCalendar feed; put them in ``BusinessCalendar(rules=[...])``.

    Each event (all-day or timed, recurring with its exceptions) closes the
    time it spans; a cancelled one (``STATUS:CANCELLED``, as calendars mark
    an event, or one occurrence by its ``RECURRENCE-ID``) closes nothing. An
    event belongs to the local date (in the calendar's zone) it starts on,
    like a window: an override or holiday on that date decides the date
    instead. Dates of all-day events and floating times are read in
    the calendar's zone; times with a ``TZID`` or in UTC are instants.

    Build one with :func:`ics_closures`.

    Attributes:
        text: the ICS text.
        source: where it came from (a file name, or ``"<ics>"``), for errors
            and :meth:`BusinessCalendar.explain`.
    """

    text: str
    source: str = "<ics>"
    _calendar: icalendar.Calendar = attrs.field(init=False, eq=False, hash=False, repr=False)
    _names: dict[str, str] = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        icalendar, _ = _modules()
        try:
            calendar = icalendar.Calendar.from_ical(self.text)
        except ValueError as exc:
            raise CalendarError(f"ics {self.source}: cannot read it: {exc}") from None
        if not isinstance(calendar, icalendar.Calendar):
            raise CalendarError(f"ics {self.source}: expected one VCALENDAR")
        names: dict[str, str] = {}
        for i, event in enumerate(calendar.walk("VEVENT")):
            where = f"ics {self.source}: VEVENT #{i + 1}" + (f" (UID {event['UID']})" if "UID" in event else "")
            for prop, problem in event.errors:
                raise CalendarError(f"{where}: {prop}: {problem}")
            if "DTSTART" not in event:
                raise CalendarError(f"{where}: no DTSTART")
            for prop in ("DTSTART", "DTEND", "RDATE", "EXDATE", "RECURRENCE-ID"):
                _known_zone(event.get(prop), f"{where}: {prop}")
            if "DTEND" in event and _ends_before_start(event["DTSTART"].dt, event["DTEND"].dt):
                # recurring-ical-events would swap them and close the time between: refuse the typo instead
                raise CalendarError(
                    f"{where}: DTEND {event['DTEND'].dt.isoformat()} is before DTSTART "
                    f"{event['DTSTART'].dt.isoformat()}; an event must end after it starts"
                )
            rules = event.get("RRULE", [])
            for rule in rules if isinstance(rules, list) else [rules]:
                if any(not isinstance(n, int) or n < 1 for n in rule.get("INTERVAL", [])):
                    raise CalendarError(f"{where}: RRULE INTERVAL must be a whole number of 1 or more")
            if "UID" in event and "SUMMARY" in event and "RECURRENCE-ID" not in event:
                names[str(event["UID"])] = str(event["SUMMARY"])  # a series' name, for its moved occurrences
        object.__setattr__(self, "_calendar", calendar)
        object.__setattr__(self, "_names", names)

    @property
    def opens(self) -> bool:
        """Always False: imported events close time."""
        return False

    def spans(self, tz: tzinfo, since: date, until: date) -> Iterator[tuple[date, int, int, str]]:
        """Each occurrence as (local date it starts on, start µs, end µs, label), for dates in [since, until)."""
        _, recurring = _modules()
        try:
            # a day of margin each side: a date's local midnight is at most a day from UTC's
            occurrences = recurring.of(self._calendar).between(since - timedelta(days=1), until + timedelta(days=1))
            for event in occurrences:
                if str(event.get("STATUS", "")).upper() == "CANCELLED":
                    continue  # a cancelled event, or one occurrence cancelled by its RECURRENCE-ID, closes nothing
                start, end = _instant_us(event.start, tz), _instant_us(event.end, tz)
                seconds, _ = divmod(start, _US)
                owner = datetime.fromtimestamp(seconds, tz).date()
                if since <= owner < until and end > start:
                    uid = str(event.get("UID", ""))
                    name = str(event["SUMMARY"]) if "SUMMARY" in event else self._names.get(uid, uid)
                    yield owner, start, end, f"{self.source} event {name!r}"
        except (ValueError, KeyError, TypeError) as exc:
            raise CalendarError(f"ics {self.source}: cannot expand its events: {exc}") from None


def ics_closures(source: str | bytes | Path, *, name: str | None = None) -> IcsClosures:
    """Closures from an iCalendar feed: ICS text (or bytes), or the path of a ``.ics`` file.

    Example::

        cal = tf.BusinessCalendar("Europe/Berlin", {"mon-fri": ["09:00-17:00"]},
                                  rules=[tf.ics_closures("company-holidays.ics")])

    Raises:
        CalendarError: an unreadable file or ICS, an event without ``DTSTART``
            or with a bad property, an event whose ``DTEND`` is before its
            ``DTSTART``, or a time (``DTSTART``, ``DTEND``, ``RDATE``,
            ``EXDATE``, ``RECURRENCE-ID``) whose ``TZID`` names no zone (none
            known by that name and no ``VTIMEZONE`` for it), naming the source,
            the event and the property.
    """
    if isinstance(source, bytes):  # utf-8-sig: a byte-order mark (Windows tools write one) is not text
        return IcsClosures(source.decode("utf-8-sig", errors="replace"), name or "<ics>")
    if isinstance(source, str) and "BEGIN:" in source.upper():
        return IcsClosures(source.removeprefix("\ufeff"), name or "<ics>")
    if isinstance(source, str) and not source.strip():
        raise CalendarError(f"ics {name or '<ics>'}: empty; give ICS text or the path of a .ics file")
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise CalendarError(f"ics {path}: cannot read the file: {exc.strerror or exc}") from None
    return IcsClosures(text, name or path.name)


def to_ics_text(spans: list[tuple[datetime, datetime]], summary: str, prodid: str) -> str:
    """A VCALENDAR with one VEVENT per span (zone definitions included), deterministic for the same spans."""
    icalendar, _ = _modules()
    calendar = icalendar.Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    for start, end in spans:
        event = icalendar.Event()
        stamp = start.astimezone(UTC)
        event.add("uid", f"{stamp:%Y%m%dT%H%M%SZ}-{summary.replace(' ', '-')}@ticketflow")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", summary)
        event.add("transp", "OPAQUE" if summary == "closed" else "TRANSPARENT")
        calendar.add_component(event)
    calendar.add_missing_timezones()
    text: str = calendar.to_ical().decode("utf-8")
    return text
