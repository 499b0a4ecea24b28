"""Business-hours calendars: business time across zones, DST, holidays, breaks and night shifts."""

from ticketflow.calendar._calendar import MAX_YEAR, MIN_YEAR, BusinessCalendar, Explanation
from ticketflow.calendar._holidays import HolidaySource, holidays_for
from ticketflow.calendar._hours import Window
from ticketflow.calendar._ics import IcsClosures, ics_closures
from ticketflow.calendar._rules import CalendarRule

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "BusinessCalendar",
    "CalendarRule",
    "Explanation",
    "HolidaySource",
    "IcsClosures",
    "Window",
    "holidays_for",
    "ics_closures",
]
