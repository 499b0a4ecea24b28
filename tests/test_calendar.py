"""The business calendar: examples for the traps, an oracle, and properties."""

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow.calendar import BusinessCalendar, CalendarRule, Window, holidays_for
from ticketflow.calendar._calendar import folder_of, located

from .calendar_oracle import STEP, Oracle, OracleRule

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
H = timedelta(hours=1)
NINE_TO_FIVE = {"mon-fri": ["09:00-17:00"]}


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


@pytest.fixture(scope="module")
def office() -> BusinessCalendar:
    return BusinessCalendar("America/New_York", NINE_TO_FIVE, holidays=holidays_for("US", subdiv="NY"))


# -- the traps the peers get wrong ------------------------------------------------


def test_friday_16_plus_one_hour_is_friday_17_not_monday(office: BusinessCalendar):
    assert office.add(ny(2026, 3, 6, 16), H) == ny(2026, 3, 6, 17)
    assert office.add(ny(2026, 3, 6, 16), 2 * H) == ny(2026, 3, 9, 10)
    assert office.sub(ny(2026, 3, 9, 9), H) == ny(2026, 3, 6, 16)


def test_two_hours_across_the_spring_and_fall_dst_weekends(office: BusinessCalendar):
    spring = office.add(ny(2026, 3, 6, 16), 2 * H)  # DST starts Sunday March 8
    assert spring == ny(2026, 3, 9, 10)
    assert spring.utcoffset() == timedelta(hours=-4)
    fall = office.add(ny(2026, 10, 30, 16), 2 * H)  # DST ends Sunday November 1
    assert fall == ny(2026, 11, 2, 10)
    assert fall.utcoffset() == timedelta(hours=-5)
    assert office.between(ny(2026, 10, 30, 16), ny(2026, 11, 2, 10)) == 2 * H


def test_a_night_shift_holds_real_hours_across_dst_nights():
    night = BusinessCalendar("America/New_York", {"mon-sun": ["22:00-06:00"]})
    assert night.between(ny(2026, 3, 7, 22), ny(2026, 3, 8, 6)) == 7 * H
    assert night.between(ny(2026, 10, 31, 22), ny(2026, 11, 1, 6)) == 9 * H
    assert night.between(ny(2026, 5, 1, 22), ny(2026, 5, 2, 6)) == 8 * H
    assert night.add(ny(2026, 3, 7, 23), 7 * H) == ny(2026, 3, 8, 23)  # 6 real hours that night, 1 the next


def test_between_is_signed(office: BusinessCalendar):
    assert office.between(ny(2026, 3, 9, 10), ny(2026, 3, 6, 16)) == -2 * H
    assert office.add(ny(2026, 3, 9, 10), -2 * H) == ny(2026, 3, 6, 16)


def test_ninety_seconds_ending_thirty_seconds_after_close(office: BusinessCalendar):
    assert office.add(ny(2026, 3, 6, 16, 59), timedelta(seconds=90)) == ny(2026, 3, 9, 9, 0, 30)
    assert office.between(ny(2026, 3, 6, 16, 59), ny(2026, 3, 9, 9, 0, 30)) == timedelta(seconds=90)


def test_year_end_with_christmas_and_new_year_observed(office: BusinessCalendar):
    # 2027: Christmas is a Saturday (observed Friday 24th), New Year's Day 2028 too (observed Friday 31st).
    assert not office.is_open(ny(2027, 12, 24, 10))
    assert not office.is_open(ny(2027, 12, 31, 10))
    assert office.add(ny(2027, 12, 23, 16), 2 * H) == ny(2027, 12, 27, 10)
    assert office.add(ny(2027, 12, 30, 16), 2 * H) == ny(2028, 1, 3, 10)


def test_los_angeles_hours_with_us_holidays_on_los_angeles_dates():
    cal = BusinessCalendar("America/Los_Angeles", NINE_TO_FIVE, holidays=holidays_for("US"))
    # July 3 2026 is the observed Independence Day: closed all LA day, even when it is already July 4 in UTC.
    assert not cal.is_open(datetime(2026, 7, 3, 16, 30, tzinfo=LA))
    assert cal.between(datetime(2026, 7, 2, 16, tzinfo=LA), datetime(2026, 7, 6, 10, tzinfo=LA)) == 2 * H
    assert cal.add(datetime(2026, 7, 2, 16, tzinfo=LA), 2 * H).tzinfo == LA


def test_lunch_breaks_and_partial_days():
    cal = BusinessCalendar(
        "America/New_York",
        {"mon-fri": ["09:00-12:00", "13:00-17:00"]},
        overrides={date(2026, 12, 24): ["09:00-13:00"], date(2026, 12, 31): []},
    )
    assert cal.add(ny(2026, 3, 9, 11), 2 * H) == ny(2026, 3, 9, 14)
    assert cal.add(ny(2026, 3, 9, 11), H) == ny(2026, 3, 9, 12)
    assert cal.between(ny(2026, 12, 24, 0), ny(2026, 12, 25, 0)) == 4 * H
    assert cal.windows_on(date(2026, 12, 31)) == ()


def test_half_hour_dst_on_lord_howe():
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    cal = BusinessCalendar("Australia/Lord_Howe", {"mon-sun": ["00:00-24:00"]})
    # DST ends 2026-04-05 02:00 local: clocks go back 30 minutes, so that day lasts 24.5 hours.
    start, end = datetime(2026, 4, 5, 0, tzinfo=lord_howe), datetime(2026, 4, 6, 0, tzinfo=lord_howe)
    assert cal.between(start, end) == timedelta(hours=24, minutes=30)


def test_window_edges_in_the_dst_gap_move_forward_and_in_the_fold_take_the_first():
    cal = BusinessCalendar("America/New_York", {"sun": ["02:30-04:00"]})
    spring = cal.open_windows(ny(2026, 3, 8, 0), ny(2026, 3, 9, 0))
    assert [(a.isoformat(), b.isoformat()) for a, b in spring] == [
        ("2026-03-08T03:30:00-04:00", "2026-03-08T04:00:00-04:00")
    ]
    fold = BusinessCalendar("America/New_York", {"sun": ["01:30-02:00"]})
    ((a, b),) = fold.open_windows(ny(2026, 11, 1, 0), ny(2026, 11, 2, 0))
    assert a.utcoffset() == timedelta(hours=-4)  # the first 01:30
    assert b.astimezone(UTC) - a.astimezone(UTC) == timedelta(hours=1, minutes=30)  # to 02:00 EST


def test_open_windows_next_open_next_close_and_add_days(office: BusinessCalendar):
    assert office.next_open(ny(2026, 3, 6, 18)) == ny(2026, 3, 9, 9)
    assert office.next_open(ny(2026, 3, 6, 10)) == ny(2026, 3, 6, 10)
    assert office.next_close(ny(2026, 3, 6, 10)) == ny(2026, 3, 6, 17)
    assert office.next_close(ny(2026, 3, 6, 18)) == ny(2026, 3, 9, 17)
    assert office.add_days(ny(2026, 3, 6, 10), 1) == ny(2026, 3, 9, 10)
    assert office.add_days(ny(2026, 12, 24, 10), 1) == ny(2026, 12, 28, 10)  # the 25th is a holiday
    assert office.add_days(ny(2026, 3, 6, 18), 1) == ny(2026, 3, 10, 9)  # 18:00 Monday is closed
    assert office.add_days(ny(2026, 3, 9, 10), -1) == ny(2026, 3, 6, 10)
    windows = office.open_windows(ny(2026, 3, 6, 16), ny(2026, 3, 9, 10))
    assert windows == [(ny(2026, 3, 6, 16), ny(2026, 3, 6, 17)), (ny(2026, 3, 9, 9), ny(2026, 3, 9, 10))]


def test_long_spans_and_the_24x7_calendar(office: BusinessCalendar):
    start = ny(2026, 3, 6, 16)
    far = office.add(start, 2000 * H)
    assert office.between(start, far) == 2000 * H
    always = BusinessCalendar.always_open("UTC")
    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert always.add(t, timedelta(days=400)) == t + timedelta(days=400)


def test_results_are_in_the_calendar_zone(office: BusinessCalendar):
    utc = datetime(2026, 3, 6, 21, tzinfo=UTC)  # 16:00 New York
    assert office.add(utc, H).tzinfo == NY
    assert office.add(utc, timedelta(0)).tzinfo == NY


def test_calendars_are_frozen_hashable_values():
    a = BusinessCalendar("America/New_York", NINE_TO_FIVE, holidays=[date(2026, 12, 25)])
    b = BusinessCalendar("America/New_York", {"mon-fri": "09:00-17:00"}, holidays=["2026-12-25"])
    assert a == b
    assert hash(a) == hash(b)
    assert {a: 1}[b] == 1


def test_from_config_reads_the_config_section():
    cal = BusinessCalendar.from_config(
        {
            "timezone": "America/New_York",
            "hours": {"mon-fri": ["09:00-17:00"]},
            "holidays": {"country": "US", "subdiv": "NY"},
            "overrides": {"2026-12-24": ["09:00-13:00"]},
        }
    )
    assert cal.windows_on(date(2026, 12, 24))[0].end == 13 * 60
    assert not cal.windows_on(date(2026, 12, 25))
    with pytest.raises(tf.CalendarError, match=r"calendar\.hours: required"):
        BusinessCalendar.from_config({"timezone": "UTC"})
    with pytest.raises(tf.CalendarError, match=r"calendar\.hols: unknown key"):
        BusinessCalendar.from_config({"timezone": "UTC", "hours": NINE_TO_FIVE, "hols": []})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus", "hours": NINE_TO_FIVE}, "unknown zone 'Mars/Olympus'"),
        ({"timezone": "UTC", "hours": {"mon": ["9-5"]}}, r"hours\.mon\[0\]: cannot read window '9-5'"),
        ({"timezone": "UTC", "hours": {"mon": ["09:00-09:00"]}}, "starts where it ends"),
        ({"timezone": "UTC", "hours": {"mon": ["25:00-26:00"]}}, "not a time of day"),
        ({"timezone": "UTC", "hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "overlap"),
        (
            {"timezone": "UTC", "hours": {"mon": ["22:00-06:00"], "tue": ["05:00-09:00"]}},
            "mon 22:00-06:00 overlaps tue",
        ),
        (
            {"timezone": "UTC", "hours": {"sun": ["22:00-06:00"], "mon": ["05:00-09:00"]}},
            "sun 22:00-06:00 overlaps mon",
        ),
        ({"timezone": "UTC", "hours": {"funday": ["09:00-17:00"]}}, "unknown day"),
        ({"timezone": "UTC", "hours": {"mon-fri": ["09:00-17:00"], "fri": ["18:00-19:00"]}}, "fri is given twice"),
        ({"timezone": "UTC", "hours": {}}, "never open"),
        ({"timezone": "UTC", "hours": NINE_TO_FIVE, "holidays": ["someday"]}, r"holidays\[0\]"),
        ({"timezone": "UTC", "hours": NINE_TO_FIVE, "overrides": {"2026-13-01": []}}, "not a date"),
    ],
)
def test_bad_calendars_are_clear_errors(kwargs: dict[str, Any], message: str):
    with pytest.raises(tf.CalendarError, match=message):
        BusinessCalendar(**kwargs)


def test_unknown_country_is_a_calendar_error():
    with pytest.raises(tf.CalendarError, match="Country XX not available"):
        holidays_for("XX")


def test_naive_datetimes_and_out_of_range_spans_are_refused(office: BusinessCalendar):
    with pytest.raises(tf.NaiveDatetime):
        office.add(datetime(2026, 3, 6, 16), H)
    with pytest.raises(tf.CalendarError):
        office.between(ny(2026, 3, 6, 16), datetime(2026, 3, 9))
    with pytest.raises(tf.CalendarError, match="supported"):
        office.add(ny(2026, 3, 6, 16), timedelta(days=365 * 600))
    with pytest.raises(tf.CalendarError, match="supported"):
        office.is_open(datetime(1850, 1, 1, tzinfo=UTC))
    with pytest.raises(tf.CalendarError, match="expected a timedelta"):
        office.add(ny(2026, 3, 6, 16), 3600)  # type: ignore[arg-type]


def test_a_calendar_open_only_on_one_override_date_still_terminates():
    cal = BusinessCalendar("UTC", {}, overrides={date(2026, 6, 1): ["09:00-10:00"]})
    assert cal.add(datetime(2026, 1, 1, tzinfo=UTC), H) == datetime(2026, 6, 1, 10, tzinfo=UTC)
    with pytest.raises(tf.CalendarError, match="supported"):
        cal.add(datetime(2026, 1, 1, tzinfo=UTC), 2 * H)


# -- the oracle --------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Australia/Adelaide",
    "America/St_Johns",
    "Pacific/Chatham",
]
# Dates around DST changes in those zones, so random instants often land in DST weeks.
DST_DAYS = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
]
LEAP_DAYS = [date(2024, 2, 29), date(2028, 2, 29)]
# Rules that land on DST Sundays (US second/first Sunday, EU and AU last/first Sunday), leap days,
# and the issue's examples; UNTIL and COUNT bound some.
RRULES = [
    ("FREQ=WEEKLY;BYDAY=SU", date(2026, 1, 1)),
    ("FREQ=MONTHLY;BYDAY=-1SU", date(2025, 6, 1)),
    ("FREQ=MONTHLY;BYDAY=2SU;BYMONTH=3", date(2024, 1, 1)),
    ("FREQ=MONTHLY;BYDAY=1SU;UNTIL=20271231", date(2026, 1, 1)),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", date(2024, 1, 1)),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1", date(2024, 1, 1)),
    ("FREQ=DAILY;INTERVAL=3;COUNT=300", date(2025, 12, 30)),
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU;UNTIL=20270630", date(2026, 1, 3)),
    ("FREQ=WEEKLY;BYDAY=FR;BYMONTH=7,8", date(2026, 1, 1)),
    ("FREQ=MONTHLY;BYDAY=1MO", date(2026, 1, 1)),
]
PATTERNS = [
    [],
    ["09:00-17:00"],
    ["09:00-12:00", "13:00-17:00"],
    ["08:15-11:45", "12:30-16:45"],
    ["00:00-24:00"],
    ["22:00-06:00"],
    ["01:00-03:00", "18:00-20:00"],
    ["00:00-02:30"],
]


@st.composite
def calendars(draw: st.DrawFn) -> tuple[dict[str, Any], Oracle]:
    zone = draw(st.sampled_from(ZONES))
    hours = {day: draw(st.sampled_from(PATTERNS)) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assume(any(hours.values()))
    holidays = draw(
        st.lists(st.sampled_from([d + timedelta(days=k) for d in DST_DAYS for k in (-1, 0, 1)]), max_size=3)
    )
    overrides = draw(
        st.dictionaries(
            st.sampled_from([d + timedelta(days=k) for d in DST_DAYS for k in (-2, 0, 2)]),
            st.sampled_from(PATTERNS),
            max_size=2,
        )
    )
    specs = draw(
        st.lists(
            st.tuples(st.sampled_from(RRULES), st.booleans(), st.sampled_from([p for p in PATTERNS if p])),
            max_size=3,
        )
    )
    rules = [
        CalendarRule(text, start, **{"open" if opens else "close": windows}) for (text, start), opens, windows in specs
    ]
    oracle_rules = [OracleRule(text, start, opens, windows) for (text, start), opens, windows in specs]
    kwargs = {"timezone": zone, "hours": hours, "holidays": holidays, "overrides": overrides, "rules": rules}
    return kwargs, Oracle(zone, hours, holidays, overrides, oracle_rules)


def build(kwargs: dict[str, Any]) -> BusinessCalendar:
    try:
        return BusinessCalendar(**kwargs)
    except tf.CalendarError:
        assume(False)
        raise


instants = st.builds(
    lambda day, quarter: datetime(day.year, day.month, day.day, tzinfo=UTC) + (quarter - 48) * STEP,
    st.sampled_from(DST_DAYS + LEAP_DAYS) | st.dates(date(2026, 1, 1), date(2027, 12, 31)),
    st.integers(0, 4 * 24 * 3),
)
quarters = st.integers(0, 4 * 24 * 4).map(lambda q: q * STEP)


@given(calendars(), instants, st.integers(-4 * 24 * 6, 4 * 24 * 6))
def test_between_agrees_with_the_oracle(case: tuple[dict[str, Any], Oracle], a: datetime, steps: int):
    kwargs, oracle = case
    b = a + steps * STEP
    assert oracle.between(a, b) == build(kwargs).between(a, b)


@given(calendars(), instants, quarters)
def test_add_agrees_with_the_oracle(case: tuple[dict[str, Any], Oracle], a: datetime, d: timedelta):
    kwargs, oracle = case
    calendar = build(kwargs)
    result = calendar.add(a, d)
    assume(result - a <= timedelta(days=12))
    # Compare instants: a result in a repeated (fold) hour never compares equal across zones (PEP 495).
    assert oracle.add(a, d) == result.astimezone(UTC)


@given(calendars(), instants)
def test_is_open_agrees_with_the_oracle(case: tuple[dict[str, Any], Oracle], a: datetime):
    kwargs, oracle = case
    calendar = build(kwargs)
    for k in range(8):
        assert oracle.is_open(a + k * STEP) == calendar.is_open(a + k * STEP)


# -- properties at microsecond resolution -------------------------------------------

exact_instants = st.datetimes(datetime(2025, 6, 1), datetime(2028, 6, 1), timezones=st.just(UTC))
durations = st.timedeltas(timedelta(0), timedelta(days=40))


@given(calendars(), exact_instants, durations)
def test_between_undoes_add(case: tuple[dict[str, Any], Oracle], a: datetime, d: timedelta):
    calendar = build(case[0])
    assert d == calendar.between(a, calendar.add(a, d))


@given(calendars(), exact_instants, durations)
def test_add_after_sub_never_passes_t_and_returns_to_t_inside_a_window(
    case: tuple[dict[str, Any], Oracle], t: datetime, d: timedelta
):
    calendar = build(case[0])
    back = calendar.add(calendar.sub(t, d), d)
    assert back <= t
    # At a window's first instant, the earliest instant with the same business time is the
    # previous window's close, so equality needs t inside a window, past its start.
    if calendar.is_open(t) and calendar.is_open(t - timedelta(microseconds=1)):
        assert back.astimezone(UTC) == t


def test_at_a_window_start_add_after_sub_lands_on_the_previous_close(office: BusinessCalendar):
    monday_nine = ny(2026, 3, 9, 9)
    back = office.add(office.sub(monday_nine, H), H)
    assert back == ny(2026, 3, 6, 17)
    assert office.between(back, monday_nine) == timedelta(0)


@given(calendars(), exact_instants, exact_instants, exact_instants)
def test_between_is_antisymmetric_and_additive(
    case: tuple[dict[str, Any], Oracle], a: datetime, b: datetime, c: datetime
):
    calendar = build(case[0])
    assert calendar.between(b, a) == -calendar.between(a, b)
    assert calendar.between(a, b) + calendar.between(b, c) == calendar.between(a, c)
    assert calendar.between(a, a) == timedelta(0)


@given(calendars(), exact_instants, durations, durations)
def test_add_is_monotone_and_add_zero_is_identity(
    case: tuple[dict[str, Any], Oracle], t: datetime, d1: timedelta, d2: timedelta
):
    calendar = build(case[0])
    assert calendar.add(t, 0 * d1) == t
    small, large = sorted((d1, d2))
    assert calendar.add(t, small) <= calendar.add(t, large)
    assert calendar.sub(t, small) >= calendar.sub(t, large)


# -- recurring rules: precedence, DST, leap days --------------------------------------

SUNDAYS = [d for d in DST_DAYS if d.weekday() == 6]


@st.composite
def crowded_days(draw: st.DrawFn) -> tuple[dict[str, Any], Oracle, date]:
    """Daily rules, a holiday and an override all on or next to one DST Sunday: precedence decides."""
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(SUNDAYS))
    hours = {
        d: draw(st.sampled_from([p for p in PATTERNS if p])) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    near = [day + timedelta(days=k) for k in (-1, 0, 1)]
    holidays = draw(st.lists(st.sampled_from(near), max_size=1))
    overrides = draw(st.dictionaries(st.sampled_from(near), st.sampled_from(PATTERNS), max_size=1))
    specs = draw(
        st.lists(st.tuples(st.booleans(), st.sampled_from([p for p in PATTERNS if p])), min_size=1, max_size=3)
    )
    start = day - timedelta(days=3)
    rules = [
        CalendarRule("FREQ=DAILY;COUNT=7", start, **{"open" if opens else "close": windows}) for opens, windows in specs
    ]
    oracle_rules = [OracleRule("FREQ=DAILY;COUNT=7", start, opens, windows) for opens, windows in specs]
    kwargs = {"timezone": zone, "hours": hours, "holidays": holidays, "overrides": overrides, "rules": rules}
    return kwargs, Oracle(zone, hours, holidays, overrides, oracle_rules), day


@given(crowded_days(), st.integers(-4 * 24 * 2, 4 * 24 * 2))
def test_precedence_of_overrides_holidays_and_rules_agrees_with_the_oracle(
    case: tuple[dict[str, Any], Oracle, date], steps: int
):
    kwargs, oracle, day = case
    calendar = build(kwargs)
    a = datetime(day.year, day.month, day.day, tzinfo=UTC) + steps * STEP
    for k in range(0, 4 * 24, 5):
        assert oracle.is_open(a + k * STEP) == calendar.is_open(a + k * STEP)
    assert oracle.between(a, a + timedelta(days=1)) == calendar.between(a, a + timedelta(days=1))


def test_a_weekly_rule_stays_at_nine_local_across_both_dst_changes():
    cal = BusinessCalendar(
        "America/New_York",
        NINE_TO_FIVE,
        rules=[CalendarRule("FREQ=WEEKLY;BYDAY=MO", start=date(2026, 1, 5), close=["09:00-11:00"], name="standup")],
    )
    for monday in (date(2026, 3, 2), date(2026, 3, 9), date(2026, 10, 26), date(2026, 11, 2)):
        first, *_ = cal.open_windows(
            ny(monday.year, monday.month, monday.day), ny(monday.year, monday.month, monday.day, 23)
        )
        assert first[0] == ny(monday.year, monday.month, monday.day, 11)  # 11:00 local, EST or EDT
    assert cal.between(ny(2026, 3, 9, 0), ny(2026, 3, 10, 0)) == 6 * H


def test_issue_examples_maintenance_summer_fridays_day_after_thanksgiving_and_saturday_duty():
    cal = BusinessCalendar.from_config(
        {
            "timezone": "America/New_York",
            "hours": NINE_TO_FIVE,
            "rules": [
                {
                    "name": "maintenance",
                    "rrule": "FREQ=MONTHLY;BYDAY=1MO",
                    "start": "2026-01-01",
                    "close": ["09:00-11:00"],
                },
                {
                    "name": "summer",
                    "rrule": "FREQ=WEEKLY;BYDAY=FR;BYMONTH=7,8",
                    "start": date(2026, 1, 1),
                    "close": "13:00-17:00",
                },
                {
                    "name": "day after Thanksgiving",
                    "rrule": "FREQ=YEARLY;BYMONTH=11;BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29",
                    "start": "2026-01-01",
                    "close": ["00:00-24:00"],
                },
                {
                    "name": "duty",
                    "rrule": "RRULE:FREQ=MONTHLY;BYDAY=2SA;COUNT=3",
                    "start": "2026-01-01",
                    "open": ["10:00-14:00"],
                },
            ],
        }
    )
    assert cal.between(ny(2026, 4, 6, 0), ny(2026, 4, 7, 0)) == 6 * H  # first Monday of April
    assert cal.between(ny(2026, 7, 10, 0), ny(2026, 7, 11, 0)) == 4 * H  # a summer Friday
    assert cal.between(ny(2026, 6, 26, 0), ny(2026, 6, 27, 0)) == 8 * H  # June is not summer hours
    assert not cal.is_open(ny(2026, 11, 27, 10))  # Thanksgiving 2026 is the 26th
    assert not cal.is_open(ny(2027, 11, 26, 10))  # and 2027's the 25th
    assert cal.is_open(ny(2027, 11, 25, 10))  # (no holidays in this calendar)
    assert cal.between(ny(2026, 1, 10, 0), ny(2026, 1, 11, 0)) == 4 * H  # second Saturday
    assert cal.between(ny(2026, 4, 11, 0), ny(2026, 4, 12, 0)) == timedelta(0)  # COUNT=3 is spent
    assert cal.add_days(ny(2026, 1, 9, 10), 1) == ny(2026, 1, 10, 10)  # a duty Saturday is a business day
    assert cal.add_days(ny(2026, 11, 26, 10), 1) == ny(2026, 11, 30, 10)  # Friday the 27th is closed


def test_precedence_override_then_holiday_then_closure_then_opening():
    sunday = date(2026, 3, 8)
    rules = [
        CalendarRule("FREQ=WEEKLY;BYDAY=SU", start=date(2026, 1, 1), open=["10:00-14:00"]),
        CalendarRule("FREQ=WEEKLY;BYDAY=SU", start=date(2026, 1, 1), close=["12:00-13:00"]),
    ]
    plain = BusinessCalendar("America/New_York", NINE_TO_FIVE, rules=rules)
    assert plain.between(ny(2026, 3, 8, 0), ny(2026, 3, 9, 0)) == 3 * H  # closure wins over the opening
    holiday = BusinessCalendar("America/New_York", NINE_TO_FIVE, holidays=[sunday], rules=rules)
    assert holiday.between(ny(2026, 3, 8, 0), ny(2026, 3, 9, 0)) == timedelta(0)  # the holiday closes the rules' day
    both = BusinessCalendar(
        "America/New_York", NINE_TO_FIVE, holidays=[sunday], overrides={sunday: ["08:00-09:00"]}, rules=rules
    )
    assert both.open_windows(ny(2026, 3, 8, 0), ny(2026, 3, 9, 0)) == [(ny(2026, 3, 8, 8), ny(2026, 3, 8, 9))]


def test_a_closure_cuts_the_night_shift_that_began_the_day_before():
    cal = BusinessCalendar(
        "UTC",
        {"mon-sun": ["22:00-06:00"]},
        rules=[CalendarRule("FREQ=WEEKLY;BYDAY=SU", start=date(2026, 1, 1), close=["02:00-04:00"])],
    )
    sat = datetime(2026, 5, 2, 22, tzinfo=UTC)
    assert cal.between(sat, sat + timedelta(hours=8)) == 6 * H


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"rrule": "FREQ=SOMETIMES", "start": "2026-01-01", "close": "09:00-10:00"}, r"rules\[0\]\.rrule: cannot read"),
        ({"rrule": "FREQ=WEEKLY;UNTIL=20261231T000000Z", "start": "2026-01-01", "close": "09:00-10:00"}, "UNTIL"),
        ({"rrule": "FREQ=WEEKLY", "start": "someday", "close": "09:00-10:00"}, r"rules\[0\]\.start"),
        ({"rrule": "FREQ=WEEKLY", "close": "09:00-10:00"}, r"rules\[0\]\.start: required"),
        ({"rrule": "FREQ=WEEKLY", "start": "2026-01-01"}, "either close"),
        ({"rrule": "FREQ=WEEKLY", "start": "2026-01-01", "close": "9-10"}, r"rules\[0\]\.close\[0\]: cannot read"),
        ({"rrule": "FREQ=WEEKLY", "start": "2026-01-01", "close": [], "x": 1}, r"rules\[0\]\.x: unknown key"),
        ({"rrule": "FREQ=WEEKLY", "start": "2026-01-01", "close": []}, "at least one window"),
    ],
)
def test_bad_rules_are_located_calendar_errors(rule: dict[str, Any], message: str):
    with pytest.raises(tf.CalendarError, match=message):
        BusinessCalendar.from_config({"timezone": "UTC", "hours": NINE_TO_FIVE, "rules": [rule]})


def test_a_bad_rrule_in_a_lifecycle_names_its_path():
    doc = {
        "id": "x",
        "initial": "new",
        "states": {"new": {}, "done": {"terminal": True}},
        "transitions": [{"trigger": "finish", "source": "new", "dest": "done"}],
        "calendar": {
            "timezone": "UTC",
            "hours": NINE_TO_FIVE,
            "rules": [
                {"rrule": "FREQ=WEEKLY", "start": "2026-01-01", "close": "09:00-10:00"},
                {"rrule": "FREQ=WEEKLY;BYDAY=XX", "start": "2026-01-01", "close": "09:00-10:00"},
            ],
        },
    }
    with pytest.raises(tf.InvalidLifecycle) as info:
        tf.load_lifecycle(doc)
    assert info.value.path == "calendar.rules[1].rrule"
    assert "BYDAY" in str(info.value)


# -- iCalendar in and out -------------------------------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
TEAM_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//example//team//EN
BEGIN:VEVENT
UID:maint
SUMMARY:Maintenance
DTSTART;TZID=Europe/Berlin:20260302T090000
DTEND;TZID=Europe/Berlin:20260302T110000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Berlin:20260309T090000
END:VEVENT
BEGIN:VEVENT
UID:maint
RECURRENCE-ID;TZID=Europe/Berlin:20260316T090000
DTSTART;TZID=Europe/Berlin:20260317T140000
DTEND;TZID=Europe/Berlin:20260317T150000
END:VEVENT
BEGIN:VEVENT
UID:mayday
SUMMARY:Labour Day
DTSTART;VALUE=DATE:20260501
END:VEVENT
BEGIN:VEVENT
UID:offsite
SUMMARY:Offsite (New York time)
DTSTART;TZID=America/New_York:20260603T030000
DTEND;TZID=America/New_York:20260603T050000
END:VEVENT
BEGIN:VEVENT
UID:floating
SUMMARY:Floating time: the calendar's zone
DTSTART:20260701T090000
DTEND:20260701T100000
END:VEVENT
END:VCALENDAR
"""


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def test_ics_closures_with_recurring_events_exceptions_all_day_events_and_tzids():
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(TEAM_ICS, name="team.ics")])
    day = timedelta(days=1)
    assert cal.between(berlin(2026, 3, 2), berlin(2026, 3, 2) + day) == 6 * H  # 09-11 closed
    assert cal.between(berlin(2026, 3, 9), berlin(2026, 3, 9) + day) == 8 * H  # EXDATE: not that week
    assert cal.between(berlin(2026, 3, 16), berlin(2026, 3, 16) + day) == 8 * H  # moved by RECURRENCE-ID ...
    assert not cal.is_open(berlin(2026, 3, 17, 14, 30))  # ... to Tuesday 14:00-15:00
    assert cal.between(berlin(2026, 3, 30), berlin(2026, 3, 30) + day) == 6 * H  # after the DST change, 09:00 CEST
    assert cal.between(berlin(2026, 4, 13), berlin(2026, 4, 13) + day) == 8 * H  # COUNT=6 is spent
    assert not cal.is_open(berlin(2026, 5, 1, 10))  # all-day, a Berlin date
    assert cal.between(berlin(2026, 6, 3), berlin(2026, 6, 3) + day) == 6 * H  # 03:00-05:00 New York = 09-11 Berlin
    assert cal.open_windows(berlin(2026, 7, 1), berlin(2026, 7, 2)) == [
        (berlin(2026, 7, 1, 10), berlin(2026, 7, 1, 17))
    ]


def test_ics_closures_from_a_file_and_from_the_config(tmp_path: Path):
    path = tmp_path / "team.ics"
    path.write_text(TEAM_ICS)
    from_file = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(path)])
    config = BusinessCalendar.from_config({"timezone": "Europe/Berlin", "hours": NINE_TO_FIVE, "ics": str(path)})
    assert not from_file.is_open(berlin(2026, 5, 1, 10))
    assert not config.is_open(berlin(2026, 5, 1, 10))
    assert config.is_open(berlin(2026, 5, 4, 10))


CANCELLED_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//example//team//EN
BEGIN:VEVENT
UID:maint
SUMMARY:Maintenance
DTSTART;TZID=Europe/Berlin:20260302T090000
DTEND;TZID=Europe/Berlin:20260302T110000
RRULE:FREQ=WEEKLY;COUNT=3
END:VEVENT
BEGIN:VEVENT
UID:maint
RECURRENCE-ID;TZID=Europe/Berlin:20260309T090000
DTSTART;TZID=Europe/Berlin:20260309T090000
DTEND;TZID=Europe/Berlin:20260309T110000
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:offsite
SUMMARY:Offsite (called off)
STATUS:CANCELLED
DTSTART;VALUE=DATE:20260318
END:VEVENT
END:VCALENDAR
"""


def test_a_cancelled_ics_event_or_occurrence_closes_nothing():
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(CANCELLED_ICS, name="team.ics")])
    day = timedelta(days=1)
    assert cal.between(berlin(2026, 3, 2), berlin(2026, 3, 2) + day) == 6 * H  # the series closes 09-11
    assert cal.between(berlin(2026, 3, 9), berlin(2026, 3, 9) + day) == 8 * H  # but not its cancelled occurrence
    assert cal.between(berlin(2026, 3, 16), berlin(2026, 3, 16) + day) == 6 * H
    assert cal.between(berlin(2026, 3, 18), berlin(2026, 3, 18) + day) == 8 * H  # a cancelled all-day event


def test_an_ics_feed_with_a_byte_order_mark_is_read(tmp_path: Path):
    path = tmp_path / "outlook.ics"
    path.write_bytes(b"\xef\xbb\xbf" + TEAM_ICS.encode())
    for source in (path, path.read_bytes(), "\ufeff" + TEAM_ICS):
        assert not BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(source)]).is_open(
            berlin(2026, 5, 1, 10)
        )


def test_to_ics_exports_open_windows_and_closures_that_import_back():
    icalendar = pytest.importorskip("icalendar")
    cal = BusinessCalendar(
        "America/New_York",
        {"mon-fri": ["09:00-12:00", "13:00-17:00"]},
        holidays=holidays_for("US", subdiv="NY"),
        rules=[CalendarRule("FREQ=MONTHLY;BYDAY=1MO", start=date(2026, 1, 1), close=["09:00-11:00"])],
    )
    start, end = ny(2026, 2, 20), ny(2026, 3, 20)
    opened = icalendar.Calendar.from_ical(cal.to_ics(start, end))
    events = [(e.start, e.end) for e in opened.walk("VEVENT")]
    assert events == cal.open_windows(start, end)
    assert opened.walk("VEVENT")[0]["DTSTART"].params["TZID"] == "America/New_York"
    assert [tz["TZID"] for tz in opened.walk("VTIMEZONE")] == ["America/New_York"]
    # The closures, imported into a 24x7 calendar, give back the same open windows.
    closures = tf.ics_closures(cal.to_ics(start, end, closed=True))
    back = BusinessCalendar("America/New_York", {"mon-sun": ["00:00-24:00"]}, rules=[closures])
    assert back.open_windows(start, end) == cal.open_windows(start, end)
    assert cal.to_ics(start, end) == cal.to_ics(start, end)  # deterministic: a feed does not churn


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("garbage", r"ics team\.ics: cannot read it"),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:2026XX\nEND:VEVENT\nEND:VCALENDAR\n",
            r"ics team\.ics: VEVENT #1 \(UID x\): DTSTART",
        ),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:y\nDTSTART:20260101T100000\nRRULE:FREQ=NOPE\nEND:VEVENT\nEND:VCALENDAR\n",
            r"VEVENT #1 \(UID y\): RRULE",
        ),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:z\nSUMMARY:when?\nEND:VEVENT\nEND:VCALENDAR\n", "no DTSTART"),
    ],
)
def test_bad_ics_is_a_located_calendar_error(text: str, message: str):
    with pytest.raises(tf.CalendarError, match=message):
        tf.ics_closures(text if text != "garbage" else "BEGIN:VCALENDAR\ngarbage\n", name="team.ics")


def test_an_ics_event_ending_before_it_starts_is_refused_not_swapped():
    # recurring-ical-events swaps such ends and would close 09:00-11:00 on a typo
    head = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:back\nSUMMARY:Backwards\n"
    timed = head + "DTSTART;TZID=Europe/Berlin:20260302T110000\nDTEND;TZID=Europe/Berlin:20260302T090000\n"
    with pytest.raises(tf.CalendarError) as caught:
        tf.ics_closures(timed + "END:VEVENT\nEND:VCALENDAR\n", name="team.ics")
    assert str(caught.value) == (
        "ics team.ics: VEVENT #1 (UID back): DTEND 2026-03-02T09:00:00+01:00 is before DTSTART "
        "2026-03-02T11:00:00+01:00; an event must end after it starts"
    )
    for start, end in [
        ("DTSTART;VALUE=DATE:20260302", "DTEND;VALUE=DATE:20260301"),
        ("DTSTART:20260302T110000", "DTEND:20260302T090000"),
        ("DTSTART:20260302T110000Z", "DTEND;TZID=Europe/Berlin:20260302T110000"),  # 10:00Z, before 11:00Z
    ]:
        with pytest.raises(tf.CalendarError, match=r"^ics <ics>: VEVENT #1 \(UID back\): DTEND .* is before DTSTART"):
            tf.ics_closures(f"{head}{start}\n{end}\nEND:VEVENT\nEND:VCALENDAR\n")
    same = tf.ics_closures(f"{head}DTSTART:20260302T090000\nDTEND:20260302T090000\nEND:VEVENT\nEND:VCALENDAR\n")
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[same])  # an instant closes nothing, as before
    assert cal.is_open(berlin(2026, 3, 2, 9))


def test_a_missing_ics_file_is_a_calendar_error(tmp_path: Path):
    with pytest.raises(tf.CalendarError, match=r"calendar\.ics\[0\]: ics .*nowhere\.ics: cannot read the file"):
        BusinessCalendar.from_config({"timezone": "UTC", "hours": NINE_TO_FIVE, "ics": [str(tmp_path / "nowhere.ics")]})


ICS_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC", "floating"]
ICS_RULES = [
    None,
    "FREQ=WEEKLY;COUNT=10",
    "FREQ=DAILY;COUNT=20",
    "FREQ=MONTHLY;BYDAY=-1SU;COUNT=8",
    "FREQ=YEARLY;COUNT=3",
]


def _ics_time(value: datetime, zone: str) -> str:
    if zone == "floating":
        return f":{value:%Y%m%dT%H%M%S}"
    if zone == "UTC":
        return f":{value:%Y%m%dT%H%M%S}Z"
    return f";TZID={zone}:{value:%Y%m%dT%H%M%S}"


@st.composite
def ics_events(draw: st.DrawFn, calendar_zone: str) -> tuple[str, list[tuple[datetime, datetime]]]:
    """One VEVENT (maybe recurring, with an EXDATE and a moved instance) and its spans, computed independently."""
    from dateutil.rrule import rrulestr

    from .calendar_oracle import wall_to_utc

    uid = f"e{draw(st.integers(0, 10**6))}"
    day = draw(st.sampled_from([d + timedelta(days=k) for d in DST_DAYS + LEAP_DAYS for k in (-1, 0)]))
    rule = draw(st.sampled_from(ICS_RULES))
    all_day = draw(st.booleans())
    zone = draw(st.sampled_from(ICS_ZONES))
    if all_day:
        start = datetime(day.year, day.month, day.day)
        length = timedelta(days=draw(st.integers(1, 2)))
        head = f"DTSTART;VALUE=DATE:{start:%Y%m%d}\nDTEND;VALUE=DATE:{start + length:%Y%m%d}"
    else:
        start = datetime(day.year, day.month, day.day) + draw(st.integers(0, 95)) * STEP
        length = draw(st.integers(1, 48)) * STEP
        head = f"DTSTART{_ics_time(start, zone)}\nDTEND{_ics_time(start + length, zone)}"
    walls = [start]
    lines = [f"BEGIN:VEVENT\nUID:{uid}\nSUMMARY:{uid}\n{head}"]
    extra = ""
    if rule is not None:
        walls = list(rrulestr(rule, dtstart=start))
        lines.append(f"RRULE:{rule}")
        dropped, moved = draw(st.sampled_from([(1, 2), (2, 1), (0, 2), (2, 0)]))
        value = ";VALUE=DATE:" + f"{walls[dropped]:%Y%m%d}" if all_day else _ics_time(walls[dropped], zone)
        lines.append(f"EXDATE{value}")
        old = walls[moved]
        new = old + timedelta(days=1, hours=2) if not all_day else old + timedelta(days=1)
        rid = ";VALUE=DATE:" + f"{old:%Y%m%d}" if all_day else _ics_time(old, zone)
        if all_day:
            moved_head = f"DTSTART;VALUE=DATE:{new:%Y%m%d}\nDTEND;VALUE=DATE:{new + length:%Y%m%d}"
        else:
            moved_head = f"DTSTART{_ics_time(new, zone)}\nDTEND{_ics_time(new + length, zone)}"
        extra = f"BEGIN:VEVENT\nUID:{uid}\nRECURRENCE-ID{rid}\n{moved_head}\nEND:VEVENT\n"
        walls = [new if w == old else w for w in walls if w != walls[dropped]]
    event = "\n".join(lines) + "\nEND:VEVENT\n" + extra
    tz = ZoneInfo(calendar_zone if all_day or zone == "floating" else zone)
    spans = [(wall_to_utc(tz, w), wall_to_utc(tz, w + length)) for w in walls]
    return event, spans


@st.composite
def ics_calendars(draw: st.DrawFn) -> tuple[dict[str, Any], Oracle, datetime]:
    kwargs, _ = draw(calendars())
    zone = kwargs["timezone"]
    events = draw(st.lists(ics_events(zone), min_size=1, max_size=3))
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//oracle//EN\n" + "".join(e for e, _ in events) + "END:VCALENDAR\n"
    )
    rules = list(kwargs["rules"])
    kwargs = {**kwargs, "rules": [*rules, tf.ics_closures(text)]}
    oracle_rules = [OracleRule(r.rrule, r.start, r.opens, [str(w) for w in r.windows]) for r in rules]
    overrides = {d: [str(w) for w in ws] for d, ws in kwargs["overrides"].items()}
    oracle = Oracle(
        zone,
        kwargs["hours"],
        kwargs["holidays"],
        overrides,
        oracle_rules,
        [span for _, spans in events for span in spans],
    )
    spans = draw(st.sampled_from([spans for _, spans in events if spans]))
    return kwargs, oracle, draw(st.sampled_from(spans))[0]


@given(ics_calendars(), st.integers(-4 * 24, 4 * 12))
def test_ics_closures_agree_with_the_oracle(case: tuple[dict[str, Any], Oracle, datetime], steps: int):
    kwargs, oracle, near = case
    calendar = build(kwargs)
    a = near + steps * STEP
    for k in range(0, 4 * 24, 3):
        assert oracle.is_open(a + k * STEP) == calendar.is_open(a + k * STEP), a + k * STEP
    assert oracle.between(a, a + timedelta(days=1)) == calendar.between(a, a + timedelta(days=1))


# -- explain ------------------------------------------------------------------------------


def test_explain_names_the_rule_that_decides():
    cal = BusinessCalendar(
        "America/New_York",
        NINE_TO_FIVE,
        holidays=holidays_for("US", subdiv="NY"),
        overrides={date(2026, 12, 24): ["09:00-13:00"]},
        rules=[
            CalendarRule("FREQ=MONTHLY;BYDAY=1MO", start=date(2026, 1, 1), close=["09:00-11:00"], name="maintenance"),
            CalendarRule("FREQ=MONTHLY;BYDAY=2SA", start=date(2026, 1, 1), open=["10:00-14:00"], name="duty"),
        ],
    )
    cases = {
        ny(2026, 3, 2, 10): (False, "rule", "rule 'maintenance' closes 09:00-11:00 on 2026-03-02"),
        ny(2026, 3, 2, 12): (True, "hours", "weekly hours: mon 09:00-17:00"),
        ny(2026, 3, 14, 11): (True, "rule", "rule 'duty' opens 10:00-14:00 on 2026-03-14"),
        ny(2026, 3, 7, 11): (False, "no window", "outside the weekly hours (sat: closed)"),
        ny(2026, 12, 25, 10): (False, "holiday", "2026-12-25 is a holiday"),
        ny(2026, 12, 24, 10): (True, "override", "the override of 2026-12-24 opens 09:00-13:00"),
        ny(2026, 12, 24, 15): (False, "override", "the override of 2026-12-24 opens 09:00-13:00 instead"),
    }
    for instant, expected in cases.items():
        found = cal.explain(instant)
        assert (found.open, found.source, found.reason) == expected, instant
    monday = cal.explain(ny(2026, 3, 2, 10))
    assert (monday.since, monday.until) == (ny(2026, 2, 27, 17), ny(2026, 3, 2, 11))
    assert str(monday).startswith("2026-03-02T10:00:00-05:00: closed (rule 'maintenance'")


@given(calendars(), exact_instants)
def test_explain_agrees_with_is_open_and_its_stretch_is_uniform(case: tuple[dict[str, Any], Oracle], t: datetime):
    calendar = build(case[0])
    found = calendar.explain(t)
    assert found.open == calendar.is_open(t)
    assert found.since <= t < found.until
    assert calendar.is_open(found.since) == found.open
    assert calendar.is_open(found.until - timedelta(microseconds=1)) == found.open
    assert calendar.is_open(found.until) != found.open
    if found.source == "no window":
        assert not found.open


def test_a_lifecycles_ics_path_is_read_next_to_the_lifecycle_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "team.ics").write_text(TEAM_ICS)
    (tmp_path / "desk.toml").write_text(
        'id = "desk"\ninitial = "new"\n[states.new]\n[states.done]\nterminal = true\n'
        '[[transitions]]\ntrigger = "finish"\nsource = "new"\ndest = "done"\n'
        '[calendar]\ntimezone = "Europe/Berlin"\nhours = { mon-fri = ["09:00-17:00"] }\nics = ["team.ics"]\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    calendar = tf.load_lifecycle(tmp_path / "desk.toml").calendar
    assert calendar is not None
    assert not calendar.is_open(berlin(2026, 5, 1, 10))


# -- mutation survivors (scripts/mutate.py calendar): rules no other test decided ----------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda c, naive: c.add(naive, H), "t"),
        (lambda c, naive: c.sub(naive, H), "t"),
        (lambda c, naive: c.is_open(naive), "t"),
        (lambda c, naive: c.next_open(naive), "t"),
        (lambda c, naive: c.next_close(naive), "t"),
        (lambda c, naive: c.add_days(naive, 1), "t"),
        (lambda c, naive: c.explain(naive), "t"),
        (lambda c, naive: c.between(naive, ny(2026, 3, 6, 10)), "a"),
        (lambda c, naive: c.between(ny(2026, 3, 6, 10), naive), "b"),
        (lambda c, naive: c.open_windows(naive, ny(2026, 3, 6, 10)), "a"),
        (lambda c, naive: c.open_windows(ny(2026, 3, 6, 10), naive), "b"),
        (lambda c, naive: c.business_positions([ny(2026, 3, 6, 10), naive]), "instant"),
    ],
)
def test_a_naive_datetime_is_refused_naming_the_argument(office: BusinessCalendar, call: Any, name: str):
    naive = datetime(2026, 3, 6, 12)
    with pytest.raises(tf.NaiveDatetime) as caught:
        call(office, naive)
    assert caught.value.name == name
    assert str(caught.value).startswith(f"{name} must be timezone-aware, got naive 2026-03-06 12:00:00")


def test_a_non_datetime_is_refused_naming_the_argument_and_its_type(office: BusinessCalendar):
    with pytest.raises(tf.CalendarError) as caught:
        office.is_open("2026-03-06")  # type: ignore[arg-type]
    assert str(caught.value) == "t must be an aware datetime, got str '2026-03-06'"
    with pytest.raises(tf.CalendarError) as caught:
        office.add(ny(2026, 3, 6, 10), "1h")  # type: ignore[arg-type]
    assert str(caught.value) == "expected a timedelta, got str '1h'"


@given(calendars(), st.lists(exact_instants, min_size=1, max_size=6))
def test_business_positions_differ_by_business_time_between(
    case: tuple[dict[str, Any], Oracle], instants: list[datetime]
):
    calendar = build(case[0])
    positions = calendar.business_positions(instants)
    assert len(positions) == len(instants)
    fresh = build(case[0])  # its own timeline: no state shared with the call above
    for i, a in enumerate(instants):
        for j, b in enumerate(instants):
            assert positions[j] - positions[i] == fresh.between(a, b) // timedelta(microseconds=1)


def test_business_positions_across_years_reuse_or_grow_the_timeline():
    cal = BusinessCalendar("America/New_York", NINE_TO_FIVE)
    assert cal.business_positions([]) == []
    cal.between(ny(2026, 3, 6, 10), ny(2026, 3, 6, 11))  # a timeline around 2026 only
    instants = [ny(2021, 6, 1, 10, 30), ny(2026, 3, 6, 16, 15), ny(2031, 6, 2, 9, 45)]
    positions = cal.business_positions(instants)
    other = BusinessCalendar("America/New_York", NINE_TO_FIVE)
    assert positions[1] - positions[0] == other.between(instants[0], instants[1]) // timedelta(microseconds=1)
    assert positions[2] - positions[1] == other.between(instants[1], instants[2]) // timedelta(microseconds=1)
    tiny = datetime(2026, 3, 6, 15, 0, 0, 250_000, tzinfo=UTC)  # microseconds count
    a, b = cal.business_positions([tiny, tiny + timedelta(microseconds=750_001)])
    assert b - a == 750_001


def test_business_positions_before_and_inside_a_calendars_first_window():
    cal = BusinessCalendar("UTC", {}, overrides={date(2026, 6, 1): ["09:00-10:00"]})
    instants = [
        datetime(2026, 5, 1, tzinfo=UTC),  # before the only window: nothing open yet
        datetime(2026, 6, 1, 9, 15, tzinfo=UTC),
        datetime(2026, 6, 1, 9, 45, tzinfo=UTC),
        datetime(2026, 7, 1, tzinfo=UTC),
    ]
    first, inside, later, after = cal.business_positions(instants)
    assert inside - first == 15 * 60 * 1_000_000
    assert later - inside == 30 * 60 * 1_000_000
    assert after - first == 3600 * 1_000_000


def test_add_days_keeps_the_local_time_to_the_microsecond_and_counts_business_days(office: BusinessCalendar):
    t = ny(2026, 3, 6, 10, 17, 42, 123_456)  # a Friday
    assert office.add_days(t, 1) == ny(2026, 3, 9, 10, 17, 42, 123_456)
    assert office.add_days(t, 0) == t
    assert office.add_days(ny(2026, 3, 7, 10, 17), 0) == ny(2026, 3, 9, 9)  # Saturday, 0 days: next open
    assert office.add_days(t, -5) == ny(2026, 2, 27, 10, 17, 42, 123_456)
    assert office.add_days(t, 10) == ny(2026, 3, 20, 10, 17, 42, 123_456)


def test_add_days_gives_up_beyond_twenty_years_or_the_supported_range():
    once = BusinessCalendar("UTC", {}, overrides={date(2026, 6, 1): ["09:00-10:00"]})
    start = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    assert once.add_days(start, 1) == datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
    with pytest.raises(tf.CalendarError) as caught:
        once.add_days(start, 2)
    assert str(caught.value) == (
        "add_days: no 2 business days within reach of 2026-01-01T09:30:00+00:00 "
        "(20 years, inside the supported years 1900..2500)"
    )
    with pytest.raises(tf.CalendarError) as caught:
        once.add_days(start, -1)
    assert str(caught.value) == (
        "add_days: no 1 business days within reach of 2026-01-01T09:30:00+00:00 "
        "(20 years, inside the supported years 1900..2500)"
    )
    # twenty years of days are searched, not fewer: a date 19 years ahead is reached
    far = BusinessCalendar("UTC", {}, overrides={date(2045, 6, 1): ["09:00-10:00"]})
    assert far.add_days(start, 1) == datetime(2045, 6, 1, 9, 30, tzinfo=UTC)


def test_add_days_counts_a_holiday_with_a_rule_opening_as_closed_and_an_opened_day_as_business():
    cal = BusinessCalendar(
        "UTC",
        NINE_TO_FIVE,
        holidays=[date(2026, 3, 11)],  # a Wednesday
        rules=[CalendarRule("FREQ=WEEKLY;BYDAY=WE,SA", start=date(2026, 1, 1), open=["10:00-12:00"])],
    )
    tue = datetime(2026, 3, 10, 10, tzinfo=UTC)
    assert cal.add_days(tue, 1) == datetime(2026, 3, 12, 10, tzinfo=UTC)  # the holiday's opening does not apply
    assert cal.add_days(datetime(2026, 3, 13, 10, tzinfo=UTC), 1) == datetime(2026, 3, 14, 10, tzinfo=UTC)


def test_describe_and_the_text_of_an_explanation():
    cal = BusinessCalendar("America/New_York", {"mon-fri": ["09:00-12:00", "13:00-17:00"], "sat": ["10:00-12:00"]})
    assert cal.describe() == (
        "America/New_York: mon 09:00-12:00 13:00-17:00, tue 09:00-12:00 13:00-17:00, wed 09:00-12:00 13:00-17:00, "
        "thu 09:00-12:00 13:00-17:00, fri 09:00-12:00 13:00-17:00, sat 10:00-12:00"
    )
    assert str(cal.explain(ny(2026, 3, 6, 10))) == (
        "2026-03-06T10:00:00-05:00: open (weekly hours: fri 09:00-12:00); open from 2026-03-06T09:00:00-05:00 "
        "until 2026-03-06T12:00:00-05:00"
    )
    assert BusinessCalendar.always_open("Europe/Paris") == BusinessCalendar(
        "Europe/Paris", {"mon-sun": ["00:00-24:00"]}
    )
    assert BusinessCalendar.always_open().timezone == "UTC"


def test_located_moves_a_calendar_path_under_its_section(tmp_path: Path):
    base = "sla.calendars.berlin"
    assert located(tf.CalendarError("calendar.rules[2].rrule: cannot read 'x'"), base) == (
        "sla.calendars.berlin.rules[2].rrule",
        "cannot read 'x'",
    )
    assert located(tf.CalendarError("timezone: unknown zone 'X'"), base) == (base, "timezone: unknown zone 'X'")
    assert located(tf.CalendarError("calendar with spaces: problem"), base) == (base, "calendar with spaces: problem")
    assert located(tf.CalendarError("calendar.hours"), base) == (base, "calendar.hours")
    assert folder_of(str(tmp_path / "missing.toml")) is None
    (tmp_path / "desk.toml").write_text("")
    assert folder_of(str(tmp_path / "desk.toml")) == tmp_path


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("weekly", "rules[0]: expected a table with rrule, start and close or open, got 'weekly'"),
        ({"rrule": "FREQ=DAILY", "start": "2026-01-01", "close": ["09:00-10:00"], "when": 1}, None),
        ({"start": "2026-01-01", "close": ["09:00-10:00"]}, "rules[0].rrule: required key is missing"),
        ({"rrule": "FREQ=DAILY", "close": ["09:00-10:00"]}, "rules[0].start: required key is missing"),
        (
            {"rrule": "FREQ=DAILY", "start": "2026-01-01", "close": ["09:00-10:00"], "name": 3},
            "rules[0].name: expected text, got 3",
        ),
        (
            {"rrule": 7, "start": "2026-01-01", "close": ["09:00-10:00"]},
            "rules[0].rrule: expected RRULE text like 'FREQ=WEEKLY;BYDAY=MO'",
        ),
    ],
)
def test_a_bad_rule_table_is_refused_with_its_exact_message(config: Any, message: str | None):
    with pytest.raises(tf.CalendarError) as caught:
        CalendarRule.from_config(config)
    expected = message or "rules[0].when: unknown key; use rrule, start, close, open, name"
    assert str(caught.value) == expected


def test_a_rule_tables_name_is_what_explain_calls_it():
    table = {"rrule": "FREQ=WEEKLY;BYDAY=MO", "start": "2026-01-01", "close": ["09:00-11:00"]}
    assert CalendarRule.from_config({**table, "name": "patching"}).label == "rule 'patching'"
    assert CalendarRule.from_config(table).name == ""
    assert CalendarRule.from_config(table).label == "rule FREQ=WEEKLY;BYDAY=MO"


def test_bad_ics_settings_are_refused_with_their_exact_message():
    with pytest.raises(tf.CalendarError) as caught:
        BusinessCalendar.from_config({"timezone": "UTC", "hours": NINE_TO_FIVE, "ics": 3})
    assert str(caught.value) == "calendar.ics: expected the path of an .ics file, or a list of them"
    with pytest.raises(tf.CalendarError, match=r"^calendar\.ics: expected"):
        BusinessCalendar.from_config({"timezone": "UTC", "hours": NINE_TO_FIVE, "ics": ["a.ics", 3]})


def test_add_days_searches_exactly_twenty_leap_years_of_days():
    start = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    last = start.date() + timedelta(days=366 * 20)
    reached = BusinessCalendar("UTC", {}, overrides={last: ["09:00-10:00"]})
    assert reached.add_days(start, 1) == datetime.combine(last, start.timetz())
    beyond = BusinessCalendar("UTC", {}, overrides={last + timedelta(days=1): ["09:00-10:00"]})
    with pytest.raises(tf.CalendarError, match=r"^add_days: no 1 business days within reach"):
        beyond.add_days(start, 1)


def test_sub_grows_the_timeline_backwards_over_years(office: BusinessCalendar):
    start = ny(2026, 3, 6, 16)
    fresh = BusinessCalendar("America/New_York", NINE_TO_FIVE, holidays=holidays_for("US", subdiv="NY"))
    earlier = fresh.sub(start, 5000 * H)  # about two and a half years back: the timeline grows backwards
    assert earlier < start - timedelta(days=2 * 365)
    assert office.between(earlier, start) == 5000 * H
    assert BusinessCalendar("America/New_York", NINE_TO_FIVE).add(earlier, 5000 * H) <= start


def test_config_holidays_are_observed_unless_the_config_says_otherwise():
    table = {"timezone": "America/New_York", "hours": NINE_TO_FIVE}
    observed = BusinessCalendar.from_config({**table, "holidays": {"country": "US"}})
    literal = BusinessCalendar.from_config({**table, "holidays": {"country": "US", "observed": False}})
    assert observed.holidays == (holidays_for("US"),)
    assert literal.holidays == (holidays_for("US", observed=False),)
    assert not observed.is_open(ny(2026, 7, 3, 10))  # Independence Day (a Saturday) observed on Friday
    assert literal.is_open(ny(2026, 7, 3, 10))


def test_an_ics_export_carries_the_properties_a_subscriber_reads():
    icalendar = pytest.importorskip("icalendar")
    cal = BusinessCalendar("America/New_York", {"mon-fri": ["09:00-17:00"]})
    start, end = ny(2026, 3, 6), ny(2026, 3, 10)
    for closed, summary, transp in ((False, "open", "TRANSPARENT"), (True, "closed", "OPAQUE")):
        feed = icalendar.Calendar.from_ical(cal.to_ics(start, end, closed=closed))
        assert str(feed["PRODID"]) == "-//ticketflow//calendar America/New_York//EN"
        assert str(feed["VERSION"]) == "2.0"
        events = feed.walk("VEVENT")
        assert events
        for event in events:
            stamp = event.start.astimezone(UTC)
            assert str(event["UID"]) == f"{stamp:%Y%m%dT%H%M%SZ}-{summary}@ticketflow"
            assert event["DTSTAMP"].dt == stamp
            assert str(event["SUMMARY"]) == summary
            assert str(event["TRANSP"]) == transp
    uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(cal.to_ics(start, end)).walk("VEVENT")]
    assert uids[0] == "20260306T140000Z-open@ticketflow"
    assert len(set(uids)) == len(uids)


def test_ics_uids_replace_spaces_in_the_summary():
    icalendar = pytest.importorskip("icalendar")
    from ticketflow.calendar._ics import to_ics_text

    text = to_ics_text([(ny(2026, 3, 6, 9), ny(2026, 3, 6, 17))], "on call", "-//x//EN")
    (event,) = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert str(event["UID"]) == "20260306T140000Z-on-call@ticketflow"
    assert str(event["TRANSP"]) == "TRANSPARENT"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("UTC", "calendar: expected a table, got 'UTC'"),
        ({"timezone": "UTC", "hours": NINE_TO_FIVE, "rules": {"rrule": "FREQ=DAILY"}}, None),
        ({"timezone": "UTC", "hours": NINE_TO_FIVE, "rules": "FREQ=DAILY"}, None),
        ({"timezone": "UTC", "hours": NINE_TO_FIVE, "rules": 3}, None),
        (
            {"timezone": "UTC", "hours": NINE_TO_FIVE, "holidays": {"subdiv": "NY"}},
            "calendar.holidays: write { country = 'US', subdiv = 'NY' } or a list of dates",
        ),
        (
            {"timezone": "UTC", "hours": NINE_TO_FIVE, "holidays": {"country": "US", "region": "NY"}},
            "calendar.holidays: write { country = 'US', subdiv = 'NY' } or a list of dates",
        ),
        ({"hours": NINE_TO_FIVE}, "calendar.timezone: required key is missing"),
    ],
)
def test_a_bad_calendar_section_is_refused_with_its_exact_message(config: Any, message: str | None):
    with pytest.raises(tf.CalendarError) as caught:
        BusinessCalendar.from_config(config)
    assert str(caught.value) == (message or "calendar.rules: expected a list of rule tables ([[calendar.rules]])")


def test_config_holidays_read_the_subdivision_and_observed():
    table = {"timezone": "America/New_York", "hours": NINE_TO_FIVE}
    cal = BusinessCalendar.from_config({**table, "holidays": {"country": "US", "subdiv": "NY", "observed": True}})
    assert cal.holidays == (holidays_for("US", "NY"),)
    assert cal.holidays != (holidays_for("US"),)


def test_open_windows_over_years_beyond_the_built_timeline():
    cal = BusinessCalendar("UTC", {"mon-fri": ["09:00-17:00"]})
    windows = cal.open_windows(datetime(2026, 12, 31, 10, tzinfo=UTC), datetime(2029, 1, 2, 12, tzinfo=UTC))
    assert windows[0] == (datetime(2026, 12, 31, 10, tzinfo=UTC), datetime(2026, 12, 31, 17, tzinfo=UTC))
    assert windows[-1] == (datetime(2029, 1, 2, 9, tzinfo=UTC), datetime(2029, 1, 2, 12, tzinfo=UTC))
    assert len(windows) == len({start.date() for start, _ in windows}) == 524  # every weekday, 2027 and 2028 too


def test_open_windows_and_explain_in_and_around_a_calendars_first_window():
    cal = BusinessCalendar("UTC", {}, overrides={date(2026, 6, 1): ["09:00-10:00"], date(2026, 9, 1): ["09:00-10:00"]})
    assert cal.open_windows(datetime(2026, 6, 1, 9, 30, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)) == [
        (datetime(2026, 6, 1, 9, 30, tzinfo=UTC), datetime(2026, 6, 1, 10, tzinfo=UTC))
    ]
    inside = cal.explain(datetime(2026, 6, 1, 9, 30, tzinfo=UTC))
    assert inside.open
    assert (inside.since, inside.until) == (datetime(2026, 6, 1, 9, tzinfo=UTC), datetime(2026, 6, 1, 10, tzinfo=UTC))
    after = cal.explain(datetime(2026, 6, 1, 11, tzinfo=UTC))
    assert not after.open
    assert (after.since, after.until) == (datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 9, 1, 9, tzinfo=UTC))
    before = cal.explain(datetime(2026, 5, 1, tzinfo=UTC))
    assert not before.open
    assert before.since <= datetime(2026, 5, 1, tzinfo=UTC)
    assert before.until == datetime(2026, 6, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "t"),
    [
        ("Pacific/Kiritimati", datetime(2500, 12, 31, 12, tzinfo=UTC)),  # 2501-01-01 02:00 there
        ("America/New_York", datetime(1900, 1, 1, 3, tzinfo=UTC)),  # 1899-12-31 22:00 there
    ],
)
def test_an_instant_whose_local_date_is_outside_the_supported_years_is_refused_in_any_zone(zone: str, t: datetime):
    """The supported years are the calendar's local years: an instant past them is refused, not answered wrongly."""
    sparse = BusinessCalendar(zone, {}, overrides={date(2200, 6, 1): ["09:00-10:00"]})
    for cal in (BusinessCalendar(zone, {"mon-sun": ["00:00-24:00"]}), sparse):
        for ask in (cal.is_open, cal.explain, cal.next_open):
            with pytest.raises(tf.CalendarError) as caught:
                ask(t)
            assert str(caught.value) == (
                f"{ask.__name__}: t {t.isoformat()} is outside the supported years 1900..2500 "
                f"(local years in {zone}); give an instant within them"
            )
    inside = t + timedelta(days=-1 if t.year > 2000 else 1)
    assert BusinessCalendar(zone, {"mon-sun": ["00:00-24:00"]}).is_open(inside)


@pytest.mark.parametrize("zone", ["America/New_York", "UTC", "Pacific/Kiritimati"])
@pytest.mark.parametrize(
    "t", [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)], ids=["year 1", "year 9999"]
)
def test_every_method_refuses_an_instant_at_the_ends_of_datetime_naming_itself_and_the_supported_years(
    zone: str, t: datetime
):
    """Year 1 or 9999 may be no local date at all in the zone: refused as 1800 is, never an OverflowError."""
    cal = BusinessCalendar(zone, {"mon-sun": ["08:00-24:00"]})
    inside = datetime(2026, 3, 2, 12, tzinfo=ZoneInfo(zone))
    calls: list[tuple[str, str, Any]] = [
        ("is_open", "t", lambda: cal.is_open(t)),
        ("add", "t", lambda: cal.add(t, H)),
        ("add", "t", lambda: cal.add(t, timedelta(0))),
        ("sub", "t", lambda: cal.sub(t, timedelta(0))),
        ("sub", "t", lambda: cal.sub(t, H)),
        ("sub", "t", lambda: cal.add(t, -H)),
        ("between", "a", lambda: cal.between(t, inside)),
        ("between", "b", lambda: cal.between(inside, t)),
        ("business_positions", "instants[1]", lambda: cal.business_positions([inside, t])),
        ("explain", "t", lambda: cal.explain(t)),
        ("add_days", "t", lambda: cal.add_days(t, 1)),
        ("add_days", "t", lambda: cal.add_days(t, -1)),
        ("add_days", "t", lambda: cal.add_days(t, 0)),
        ("next_open", "t", lambda: cal.next_open(t)),
        ("next_close", "t", lambda: cal.next_close(t)),
        ("open_windows", "a", lambda: cal.open_windows(t, inside)),
        ("open_windows", "b", lambda: cal.open_windows(inside, t)),
        ("to_ics", "start", lambda: cal.to_ics(t, inside)),
        ("to_ics", "end", lambda: cal.to_ics(inside, t)),
    ]
    for method, name, call in calls:
        with pytest.raises(tf.CalendarError) as caught:
            call()
        assert str(caught.value) == (
            f"{method}: {name} {t.isoformat()} is outside the supported years 1900..2500 "
            f"(local years in {zone}); give an instant within them"
        )
    assert cal.between(inside, inside + 3 * H) == 3 * H  # and the calendar still answers


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Kiritimati"])
def test_the_first_and_last_supported_instants_are_answered_and_the_ones_beside_them_refused(zone: str):
    cal = BusinessCalendar(zone, {"mon-sun": ["00:00-24:00"]})
    first = datetime(1900, 1, 1, tzinfo=ZoneInfo(zone))
    end = datetime(2501, 1, 1, tzinfo=ZoneInfo(zone))
    assert cal.is_open(first)
    assert cal.is_open(end - timedelta(microseconds=1))
    assert BusinessCalendar(zone, {"mon-sun": ["00:00-24:00"]}).is_open(end - timedelta(microseconds=1))
    for beside in (first - timedelta(microseconds=1), end):
        with pytest.raises(tf.CalendarError, match=r"^is_open: t .* is outside the supported years"):
            cal.is_open(beside)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_explain_since_is_never_before_the_first_supported_instant(zone: str):
    """The 1900 build holds 1899-12-31's windows (for its night shift): they start no stretch explain names."""
    tz = ZoneInfo(zone)
    first = datetime(1900, 1, 1, tzinfo=tz)
    daily = BusinessCalendar(zone, {"mon-sun": ["09:00-10:00"]})
    closed = daily.explain(datetime(1900, 1, 1, 8, tzinfo=tz))
    assert (closed.open, closed.since, closed.until) == (False, first, datetime(1900, 1, 1, 9, tzinfo=tz))
    night = BusinessCalendar(zone, {"mon-sun": ["22:00-06:00"]}).explain(datetime(1900, 1, 1, 3, tzinfo=tz))
    assert (night.open, night.since, night.until) == (True, first, datetime(1900, 1, 1, 6, tzinfo=tz))
    sparse = BusinessCalendar(
        zone, {}, overrides={date(1899, 12, 31): ["09:00-10:00"], date(2200, 6, 1): ["09:00-10:00"]}
    )
    later = sparse.explain(datetime(1950, 1, 1, tzinfo=tz))  # found walking back to 1900
    assert (later.open, later.since, later.until) == (False, first, datetime(2200, 6, 1, 9, tzinfo=tz))
    assert str(closed.since.tzinfo) == zone
    assert daily.explain(datetime(1900, 1, 2, 8, tzinfo=tz)).since == datetime(1900, 1, 1, 10, tzinfo=tz)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_explain_until_is_never_after_the_end_of_the_supported_years(zone: str):
    """After the last window of 2500-12-31, or in a night shift begun then, the stretch ends with the supported years.

    explain looked for the next opening past 2500 and raised "the span reaches beyond the supported years".
    """
    tz = ZoneInfo(zone)
    end = datetime(2501, 1, 1, tzinfo=tz)
    daily = BusinessCalendar(zone, {"mon-sun": ["09:00-17:00"]})
    closed = daily.explain(datetime(2500, 12, 31, 18, tzinfo=tz))
    assert (closed.open, closed.since, closed.until) == (False, datetime(2500, 12, 31, 17, tzinfo=tz), end)
    assert str(closed.until.tzinfo) == zone
    night = BusinessCalendar(zone, {"mon-sun": ["22:00-06:00"]})
    shift = night.explain(datetime(2500, 12, 31, 23, tzinfo=tz))
    assert (shift.open, shift.since, shift.until) == (True, datetime(2500, 12, 31, 22, tzinfo=tz), end)
    before = night.explain(datetime(2500, 12, 31, 21, tzinfo=tz))
    assert (before.open, before.until) == (False, datetime(2500, 12, 31, 22, tzinfo=tz))
    assert BusinessCalendar(zone, {"mon-sun": ["09:00-17:00"]}).explain(end - timedelta(microseconds=1)).until == end


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_a_night_shift_from_the_last_supported_day_closes_at_their_end_for_next_close_and_open_windows(zone: str):
    tz = ZoneInfo(zone)
    end = datetime(2501, 1, 1, tzinfo=tz)
    night = BusinessCalendar(zone, {"mon-sun": ["22:00-06:00"]})
    assert night.next_close(datetime(2500, 12, 31, 23, tzinfo=tz)) == end
    assert night.next_close(datetime(2500, 12, 31, 21, tzinfo=tz)) == end
    assert night.next_open(datetime(2500, 12, 31, 21, tzinfo=tz)) == datetime(2500, 12, 31, 22, tzinfo=tz)
    last = end - timedelta(microseconds=1)
    assert night.open_windows(datetime(2500, 12, 31, 20, tzinfo=tz), last) == [
        (datetime(2500, 12, 31, 22, tzinfo=tz), last)
    ]


@pytest.mark.parametrize("method", ["next_open", "next_close"])
def test_next_open_and_close_after_the_last_window_of_the_supported_years_name_the_method_and_the_years(method: str):
    """No window opens before their end: a CalendarError naming the call, not "the span reaches beyond"."""
    cal = BusinessCalendar("America/New_York", {"mon-sun": ["09:00-17:00"]})
    t = datetime(2500, 12, 31, 18, tzinfo=ZoneInfo("America/New_York"))
    with pytest.raises(tf.CalendarError) as refused:
        getattr(cal, method)(t)
    assert str(refused.value) == (
        f"{method}: no window opens after t {t.isoformat()} within the supported years 1900..2500 "
        "(local years in America/New_York)"
    )
    sparse = BusinessCalendar("UTC", {}, overrides={date(2026, 6, 1): ["09:00-10:00"]})
    with pytest.raises(tf.CalendarError, match=rf"^{method}: no window opens after t 2027-01-01"):
        getattr(sparse, method)(datetime(2027, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("asked_first", [None, datetime(2031, 1, 1, tzinfo=UTC), datetime(1990, 1, 1, tzinfo=UTC)])
def test_explain_since_does_not_depend_on_the_years_a_calendar_has_built(asked_first: datetime | None):
    """Closed since the last close before the instant, however far back; the first supported instant if none."""
    sparse = BusinessCalendar(
        "UTC", {}, overrides={date(1990, 6, 4): ["09:00-10:00"], date(2030, 6, 3): ["09:00-10:00"]}
    )
    never = BusinessCalendar("UTC", {}, overrides={date(2030, 6, 3): ["09:00-10:00"]})
    if asked_first is not None:  # a calendar already asked about another year has built other years
        sparse.is_open(asked_first)
        never.is_open(asked_first)
    assert sparse.explain(datetime(2026, 1, 1, tzinfo=UTC)).since == datetime(1990, 6, 4, 10, tzinfo=UTC)
    explained = never.explain(datetime(2026, 1, 1, tzinfo=UTC))
    assert (explained.since, explained.until) == (datetime(1900, 1, 1, tzinfo=UTC), datetime(2030, 6, 3, 9, tzinfo=UTC))


class _AskedDates:
    """A rule that closes nothing and records the first date of every span range the calendar asks it for."""

    def __init__(self, opens: tuple[date, ...] = ()) -> None:
        self.opens = bool(opens)
        self.dates = opens  # opens 09:00-10:00 UTC on each
        self.since: list[date] = []

    def spans(self, tz: ZoneInfo, since: date, until: date) -> Any:
        self.since.append(since)
        for day in self.dates:
            if since <= day < until:
                start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
                yield day, _us(start), _us(start + H), "asked"


def _us(t: datetime) -> int:
    return int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


@pytest.mark.parametrize("asked_first", [None, datetime(2400, 1, 1, tzinfo=UTC)])
@pytest.mark.parametrize(
    "opening",
    [
        {"overrides": {date(2499, 6, 1): ["09:00-17:00"]}},
        {"rules": [CalendarRule("FREQ=YEARLY", date(2499, 6, 1), open=["09:00-17:00"])]},
    ],
    ids=["override", "rule"],
)
def test_explain_before_the_first_override_or_rule_opening_builds_no_year_before_it(
    opening: dict[str, Any], asked_first: datetime | None
):
    """Without weekly hours nothing opens before the first override or CalendarRule start: since is 1900 at once.

    It walked back to 1900 a year, then 2, 4 ... at a time, building every year on the way.
    """
    t = datetime(2499, 3, 1, tzinfo=UTC)
    asked, twin_asked = _AskedDates(), _AskedDates()
    cal, twin = (
        BusinessCalendar("UTC", {}, overrides=opening.get("overrides", {}), rules=[*opening.get("rules", ()), rule])
        for rule in (asked, twin_asked)
    )
    for calendar in (cal, twin) if asked_first is not None else ():  # a calendar used in another year
        calendar.is_open(asked_first)
    explained = cal.explain(t)
    assert (explained.open, explained.since, explained.until) == (
        False,
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(2499, 6, 1, 9, tzinfo=UTC),
    )
    twin.is_open(t)
    assert min(asked.since) == min(twin_asked.since)  # no earlier year built than is_open builds


@pytest.mark.parametrize(
    ("hours", "overrides", "t", "until"),
    [
        # 1 Jan 1900 is a Monday: the Sunday before (built with 1900, for its night shift) has no window
        ({"mon": ["09:00-10:00"]}, {}, datetime(1900, 1, 1, 8, tzinfo=UTC), datetime(1900, 1, 1, 9, tzinfo=UTC)),
        (  # an override before the supported years opens nothing they hold
            {},
            {date(1850, 6, 3): ["09:00-10:00"], date(2030, 6, 3): ["09:00-10:00"]},
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2030, 6, 3, 9, tzinfo=UTC),
        ),
    ],
    ids=["weekly-hours-in-1900", "override-in-1850"],
)
def test_explain_before_any_opening_in_the_supported_years_is_closed_since_their_first_instant(
    hours: dict[str, list[str]], overrides: dict[date, list[str]], t: datetime, until: datetime
):
    explained = BusinessCalendar("UTC", hours, overrides=overrides).explain(t)
    assert (explained.open, explained.since, explained.until) == (False, datetime(1900, 1, 1, tzinfo=UTC), until)


def test_a_calendar_answers_from_the_years_it_built_without_asking_its_rules_again():
    """An instant inside the years already built is answered from them: no rule is asked for its spans again."""
    asked = _AskedDates()
    cal = BusinessCalendar("UTC", NINE_TO_FIVE, rules=[asked])
    t = datetime(2026, 3, 4, 10, tzinfo=UTC)
    assert cal.is_open(t)
    built = len(asked.since)
    assert not cal.is_open(t + 8 * H)
    assert cal.next_open(t + 8 * H) == datetime(2026, 3, 5, 9, tzinfo=UTC)
    assert len(asked.since) == built


def test_explain_before_the_first_opening_of_a_rule_of_unknown_start_still_finds_the_last_close():
    """A rule that is not a CalendarRule tells its spans only year by year: the years back are walked."""
    rule = _AskedDates(opens=(date(1950, 6, 1), date(2499, 6, 1)))
    cal = BusinessCalendar("UTC", {}, rules=[rule])
    explained = cal.explain(datetime(2499, 3, 1, tzinfo=UTC))
    assert (explained.open, explained.since, explained.until) == (
        False,
        datetime(1950, 6, 1, 10, tzinfo=UTC),
        datetime(2499, 6, 1, 9, tzinfo=UTC),
    )
    never = BusinessCalendar("UTC", {}, rules=[_AskedDates(opens=(date(2499, 6, 1),))])
    assert never.explain(datetime(2499, 3, 1, tzinfo=UTC)).since == datetime(1900, 1, 1, tzinfo=UTC)


def test_explain_at_a_window_end_is_closed_and_names_the_local_weekday(office: BusinessCalendar):
    closing = office.explain(ny(2026, 3, 6, 17))
    assert not closing.open
    assert (closing.since, closing.until) == (ny(2026, 3, 6, 17), ny(2026, 3, 9, 9))
    late = office.explain(ny(2026, 3, 7, 22))  # Saturday night in New York, already Sunday in UTC
    assert late.reason == "outside the weekly hours (sat: closed)"


def test_explain_reads_the_night_shift_and_the_holiday_of_the_day_before():
    night = BusinessCalendar("UTC", {"mon-sun": ["22:00-06:00"]}, holidays=[date(2026, 12, 31)])
    assert night.explain(datetime(2026, 3, 7, 2, tzinfo=UTC)).reason == "weekly hours: fri 22:00-06:00"
    new_year = night.explain(datetime(2027, 1, 1, 2, tzinfo=UTC))  # the night of the 31st, a holiday
    assert (new_year.open, new_year.source, new_year.reason) == (False, "holiday", "2026-12-31 is a holiday")


def test_explain_prefers_a_dates_override_to_the_holiday_before_it():
    day = date(2026, 3, 10)
    cal = BusinessCalendar(
        "UTC",
        {"mon-sun": ["00:00-24:00"]},
        holidays=[day - timedelta(days=1)],
        overrides={day: ["10:00-11:00"]},
        rules=[CalendarRule("FREQ=DAILY", start=date(2026, 1, 1), close=["22:00-06:00"], name="nightly")],
    )
    found = cal.explain(datetime(2026, 3, 10, 3, tzinfo=UTC))
    assert (found.open, found.source) == (False, "override")
    assert found.reason == "the override of 2026-03-10 opens 10:00-11:00 instead"


def test_a_closed_ics_export_keeps_the_calendar_zone_and_has_no_empty_events():
    icalendar = pytest.importorskip("icalendar")
    cal = BusinessCalendar("America/New_York", {"mon-fri": ["09:00-17:00"]})
    start, end = datetime(2026, 3, 6, 14, tzinfo=UTC), datetime(2026, 3, 10, 3, tzinfo=UTC)  # 09:00 and 23:00 NY
    events = icalendar.Calendar.from_ical(cal.to_ics(start, end, closed=True)).walk("VEVENT")
    spans = [(e.start, e.end) for e in events]
    assert all(a < b for a, b in spans)
    assert spans[0] == (ny(2026, 3, 6, 17), ny(2026, 3, 9, 9))
    assert spans[-1] == (ny(2026, 3, 9, 17), ny(2026, 3, 9, 23))
    assert {e["DTSTART"].params["TZID"] for e in events} == {"America/New_York"}
    assert {e["DTEND"].params["TZID"] for e in events} == {"America/New_York"}


def test_holiday_sources_keep_the_subdivision_and_observed():
    ny_state = holidays_for("US", "NY").dates(2026)
    assert date(2026, 2, 12) in ny_state  # Lincoln's Birthday: New York's, not the nation's
    assert date(2026, 2, 12) not in holidays_for("US").dates(2026)
    assert date(2026, 7, 3) in holidays_for("US").dates(2026)  # July 4th, a Saturday, observed Friday
    assert date(2026, 7, 3) not in holidays_for("US", observed=False).dates(2026)
    assert holidays_for("US", observed=False).observed is False


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: holidays_for(3), "holidays: country and subdiv are codes such as 'US' and 'NY', got 3"),  # type: ignore[arg-type]
        (lambda: holidays_for("US", 3), "holidays: country and subdiv are codes such as 'US' and 'NY', got 'US'"),  # type: ignore[arg-type]
        (lambda: holidays_for("US", observed="yes"), "holidays: observed is true or false, got 'yes'"),  # type: ignore[arg-type]
        (
            lambda: CalendarRule.from_config({"rrule": "FREQ=DAILY", "start": "2026-01-01", "close": 3}),
            "expected windows like ['09:00-11:00'], got 3",
        ),
    ],
)
def test_bad_holiday_and_window_arguments_are_refused_with_their_exact_message(call: Any, message: str):
    with pytest.raises(tf.CalendarError) as caught:
        call()
    assert str(caught.value) == message


def test_next_open_and_close_at_a_window_edge(office: BusinessCalendar):
    assert office.next_open(ny(2026, 3, 6, 17)) == ny(2026, 3, 9, 9)
    assert office.next_close(ny(2026, 3, 6, 17)) == ny(2026, 3, 9, 17)
    assert office.next_open(ny(2026, 3, 6, 9)) == ny(2026, 3, 6, 9)
    assert office.next_close(ny(2026, 3, 6, 9)) == ny(2026, 3, 6, 17)


def test_next_open_and_close_grow_the_timeline_to_a_window_years_away():
    cal = BusinessCalendar("UTC", {}, overrides={date(2026, 6, 1): ["09:00-10:00"], date(2030, 6, 3): ["09:00-10:00"]})
    assert cal.next_close(datetime(2026, 6, 1, 9, 30, tzinfo=UTC)) == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert cal.next_open(datetime(2026, 7, 1, tzinfo=UTC)) == datetime(2030, 6, 3, 9, tzinfo=UTC)
    assert cal.next_close(datetime(2026, 7, 1, tzinfo=UTC)) == datetime(2030, 6, 3, 10, tzinfo=UTC)


def test_next_open_near_the_last_supported_year_grows_one_year_at_a_time():
    last = BusinessCalendar("UTC", {}, overrides={date(2499, 6, 1): ["09:00-10:00"]})
    assert last.next_open(datetime(2499, 1, 1, tzinfo=UTC)) == datetime(2499, 6, 1, 9, tzinfo=UTC)
    sparse = BusinessCalendar(
        "UTC", {}, overrides={date(2496, 6, 1): ["09:00-10:00"], date(2500, 6, 1): ["09:00-10:00"]}
    )
    assert sparse.next_open(datetime(2496, 7, 1, tzinfo=UTC)) == datetime(2500, 6, 1, 9, tzinfo=UTC)


def test_explain_at_a_window_start_and_at_a_holidays_window_end(office: BusinessCalendar):
    assert office.explain(ny(2026, 3, 6, 9)).reason == "weekly hours: fri 09:00-17:00"
    christmas_evening = office.explain(ny(2026, 12, 25, 17))
    assert (christmas_evening.source, christmas_evening.reason) == (
        "no window",
        "outside the weekly hours (fri: 09:00-17:00)",
    )


def test_explain_names_an_ics_closure_that_decides():
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(TEAM_ICS, name="team.ics")])
    found = cal.explain(berlin(2026, 3, 2, 10))
    assert (found.open, found.source) == (False, "rule")
    assert found.reason == "team.ics event 'Maintenance' closes 09:00-11:00 on 2026-03-02"
    assert (found.since, found.until) == (berlin(2026, 2, 27, 17), berlin(2026, 3, 2, 11))


def test_an_ics_export_does_not_depend_on_the_servers_zone(monkeypatch: pytest.MonkeyPatch):
    import time

    icalendar = pytest.importorskip("icalendar")
    cal = BusinessCalendar("America/New_York", {"mon-fri": ["09:00-17:00"]})
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        text = cal.to_ics(ny(2026, 3, 6), ny(2026, 3, 7))
    finally:
        monkeypatch.undo()
        time.tzset()
    (event,) = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert str(event["UID"]) == "20260306T140000Z-open@ticketflow"
    assert event["DTSTAMP"].dt == datetime(2026, 3, 6, 14, tzinfo=UTC)


def test_business_positions_grow_a_timeline_that_covers_only_the_earliest_instant():
    cal = BusinessCalendar("America/New_York", NINE_TO_FIVE)
    cal.between(ny(2026, 3, 6, 10), ny(2026, 3, 6, 11))  # a timeline around 2026
    instants = [ny(2026, 3, 6, 10), ny(2031, 6, 2, 12)]
    first, last = cal.business_positions(instants)
    other = BusinessCalendar("America/New_York", NINE_TO_FIVE)
    assert last - first == other.between(*instants) // timedelta(microseconds=1)


def test_located_keeps_a_path_with_a_space_whole():
    base = "sla.calendars.berlin"
    error = tf.CalendarError("calendar.rules[0] and more: problem")
    assert located(error, base) == (base, "calendar.rules[0] and more: problem")


@pytest.mark.parametrize("t", [datetime(1900, 1, 1, 9, tzinfo=UTC), datetime(2500, 12, 31, 9, tzinfo=UTC)])
def test_add_days_at_the_ends_of_the_supported_years_reports_the_calendars_range(t: datetime):
    fresh = BusinessCalendar("UTC", {"mon-sun": ["09:00-10:00"]})
    assert fresh.add_days(t, -1 if t.year > 2000 else 1) == t + timedelta(days=-1 if t.year > 2000 else 1)
    with pytest.raises(tf.CalendarError) as caught:
        fresh.add_days(t, 1 if t.year > 2000 else -1)
    assert str(caught.value) == (
        f"add_days: no 1 business days within reach of {t.isoformat()} "
        "(20 years, inside the supported years 1900..2500)"
    )


@pytest.mark.parametrize(
    "t",
    [
        datetime(1900, 1, 1, 9, 30, tzinfo=UTC),
        datetime(1900, 7, 2, 9, 30, tzinfo=UTC),
        datetime(2500, 7, 1, 9, 30, tzinfo=UTC),
        datetime(2500, 12, 31, 9, 30, tzinfo=UTC),
    ],
)
def test_a_fresh_calendar_answers_in_the_first_and_last_supported_years_as_a_used_one_does(t: datetime):
    """A fresh calendar built a year of margin each side and refused 1900 and 2500, where a used one answered."""
    hours = {"mon-sun": ["09:00-10:00"]}
    used = BusinessCalendar("UTC", hours)
    used.is_open(t.replace(year=1901 if t.year == 1900 else 2499))
    fresh = BusinessCalendar("UTC", hours)
    assert fresh.is_open(t) is used.is_open(t) is True
    assert fresh.between(t, t + H) == used.between(t, t + H) == 30 * timedelta(minutes=1)
    assert fresh.add(t, 10 * timedelta(minutes=1)) == t + 10 * timedelta(minutes=1)
    beyond = t.replace(year=1899 if t.year == 1900 else 2501)
    with pytest.raises(tf.CalendarError, match=r"^is_open: t .* is outside the supported years 1900\.\.2500"):
        fresh.is_open(beyond)


def test_add_days_does_not_count_a_holiday_that_a_rule_would_open_inside_last_nights_shift():
    cal = BusinessCalendar(
        "UTC",
        {"tue": ["22:00-06:00"], "thu": ["09:00-17:00"]},
        holidays=[date(2026, 3, 11)],  # the Wednesday
        rules=[CalendarRule("FREQ=WEEKLY;BYDAY=WE", start=date(2026, 1, 1), open=["01:00-03:00"])],
    )
    assert cal.is_open(datetime(2026, 3, 11, 2, tzinfo=UTC))  # Tuesday's night shift, not the rule
    assert cal.add_days(datetime(2026, 3, 10, 10, tzinfo=UTC), 1) == datetime(2026, 3, 12, 10, tzinfo=UTC)


def test_add_from_a_stretch_with_no_open_time_at_all_is_a_calendar_error():
    later = BusinessCalendar("UTC", {}, overrides={date(2030, 6, 3): ["09:00-10:00"]})
    with pytest.raises(tf.CalendarError, match="open too rarely"):
        later.add(datetime(2026, 1, 1, tzinfo=UTC), 30 * timedelta(minutes=1))


def test_add_near_the_last_supported_year_grows_only_as_far_as_it_needs():
    cal = BusinessCalendar("UTC", NINE_TO_FIVE)
    start = datetime(2498, 6, 1, 9, tzinfo=UTC)
    reached = cal.add(start, 3400 * H)  # lands in 2500, the last supported year
    assert reached.year == 2500
    assert cal.between(start, reached) == 3400 * H


def test_explain_ranks_rules_against_hours_holidays_and_their_own_edges(office: BusinessCalendar):
    cal = BusinessCalendar(
        "America/New_York",
        {"mon-fri": ["09:00-12:00", "13:00-17:00"]},
        holidays=[date(2026, 12, 25)],
        rules=[
            CalendarRule(
                "FREQ=WEEKLY;BYDAY=MO", start=date(2026, 1, 1), close=["09:00-10:00", "15:00-16:00"], name="sync"
            ),
            CalendarRule("FREQ=WEEKLY;BYDAY=TU", start=date(2026, 1, 1), open=["11:00-14:00"], name="clinic"),
            CalendarRule("FREQ=WEEKLY;BYDAY=WE", start=date(2026, 1, 1), open=["18:00-20:00"], name="late"),
            CalendarRule("FREQ=DAILY", start=date(2026, 12, 1), open=["18:00-20:00"], name="evenings"),
        ],
    )
    cases = {
        ny(2026, 3, 2, 9): (False, "rule", "rule 'sync' closes 09:00-10:00 on 2026-03-02"),  # at the span's start
        ny(2026, 3, 2, 15, 30): (False, "rule", "rule 'sync' closes 15:00-16:00 on 2026-03-02"),  # its second window
        ny(2026, 3, 2, 10): (True, "hours", "weekly hours: mon 09:00-12:00"),  # at the span's end
        ny(2026, 3, 3, 11, 30): (True, "rule", "rule 'clinic' opens 11:00-14:00 on 2026-03-03"),  # rule over hours
        ny(2026, 3, 4, 10): (True, "hours", "weekly hours: wed 09:00-12:00"),  # a later opening does not claim it
        ny(2026, 3, 4, 12, 30): (False, "no window", "outside the weekly hours (wed: 09:00-12:00 13:00-17:00)"),
        ny(2026, 12, 25, 19): (
            False,
            "holiday",
            "2026-12-25 is a holiday (rule 'evenings' does not apply)",
        ),
        ny(2026, 12, 25, 20): (False, "no window", "outside the weekly hours (fri: 09:00-12:00 13:00-17:00)"),
    }
    for instant, expected in cases.items():
        found = cal.explain(instant)
        assert (found.open, found.source, found.reason) == expected, instant


def test_a_closed_ics_export_from_a_closed_instant_starts_in_the_calendar_zone():
    icalendar = pytest.importorskip("icalendar")
    cal = BusinessCalendar("America/New_York", {"mon-fri": ["09:00-17:00"]})
    start = datetime(2026, 3, 6, 11, tzinfo=UTC)  # 06:00 in New York, closed
    events = icalendar.Calendar.from_ical(cal.to_ics(start, start + 12 * H, closed=True)).walk("VEVENT")
    assert (events[0].start, events[0].end) == (ny(2026, 3, 6, 6), ny(2026, 3, 6, 9))
    assert events[0]["DTSTART"].params["TZID"] == "America/New_York"
    assert events[-1]["DTEND"].params["TZID"] == "America/New_York"


@pytest.mark.parametrize("new_years_eve_closes", [True, False])  # without it, windows run over the new year
@pytest.mark.parametrize(
    "hours",
    [
        {"mon-fri": ["09:00-12:00", "13:00-17:00"]},
        {"mon-sun": ["22:00-06:00"]},
        {"mon-sun": ["00:00-24:00"]},
        {"mon-sun": ["00:00-06:00", "12:00-24:00"]},  # one window over midnight, made of two days' windows
    ],
)
def test_walking_forward_a_year_at_a_time_builds_only_the_new_years_and_agrees_with_a_fresh_calendar(
    hours: dict[str, list[str]], new_years_eve_closes: bool, monkeypatch: pytest.MonkeyPatch
):
    def make() -> BusinessCalendar:
        closures = [CalendarRule("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=31", date(2020, 12, 31), close=["20:00-24:00"])]
        return BusinessCalendar(
            "America/New_York",
            hours,
            holidays=holidays_for("US") if new_years_eve_closes else [],
            rules=closures if new_years_eve_closes else [],
        )

    built: list[tuple[int, int]] = []
    real = BusinessCalendar._build

    def spy(self: BusinessCalendar, first_year: int, end_year: int) -> Any:
        built.append((first_year, end_year))
        return real(self, first_year, end_year)

    walker = make()
    monkeypatch.setattr(BusinessCalendar, "_build", spy)
    start = ny(2026, 1, 5, 9)
    for year in range(10):  # an SLA clock that keeps asking a year further on
        later = start.replace(year=2026 + year, month=12, day=30)
        walker.between(start, later)
    assert built[0] == (2025, 2028)
    # each step builds only the years it adds, from where the last one ended: no year is built twice
    assert [first for first, _ in built[1:]] == [end for _, end in built[:-1]]
    assert built[-1][1] == 2036
    monkeypatch.undo()
    fresh = make()
    for probe in (ny(2027, 1, 1, 3), ny(2030, 12, 31, 23), ny(2031, 1, 1, 5), ny(2035, 6, 1, 12)):
        assert walker.between(start, probe) == fresh.between(start, probe)
        assert walker.add(start, walker.between(start, probe)) == fresh.add(start, fresh.between(start, probe))
    for year in range(2027, 2036):  # where two builds meet: the windows over the new year, and the totals after it
        around = (ny(year - 1, 12, 30), ny(year, 1, 3))
        assert walker.open_windows(*around) == fresh.open_windows(*around)
        assert walker.between(start, around[1]) == fresh.between(start, around[1])


SHUTDOWN_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//example//shutdown//EN
BEGIN:VEVENT
UID:shutdown
SUMMARY:Year-end shutdown
DTSTART;VALUE=DATE:20261221
DTEND;VALUE=DATE:20261226
END:VEVENT
END:VCALENDAR
"""


@pytest.mark.parametrize("day", [21, 22, 23, 24, 25])
def test_explain_names_a_five_day_ics_shutdown_on_each_of_its_days(day: int):
    # explain looked only two days back for rule spans: from the fourth day it said "outside the weekly hours",
    # and on the second and third it showed the span as "00:00-00:00"
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(SHUTDOWN_ICS, name="it.ics")])
    found = cal.explain(berlin(2026, 12, day, 10))
    assert (found.open, found.source) == (False, "rule")
    assert found.reason == "it.ics event 'Year-end shutdown' closes 2026-12-21 00:00-2026-12-26 00:00 on 2026-12-21"


def test_explain_names_an_ics_occurrence_by_its_series_summary_else_by_its_uid():
    team = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(TEAM_ICS, name="team.ics")])
    # the occurrence moved by RECURRENCE-ID has no SUMMARY of its own: it is the series' Maintenance
    assert str(team.explain(berlin(2026, 3, 17, 14, 30))) == (
        "2026-03-17T14:30:00+01:00: closed (team.ics event 'Maintenance' closes 14:00-15:00 on 2026-03-17); "
        "closed from 2026-03-17T14:00:00+01:00 until 2026-03-17T15:00:00+01:00"
    )
    event = "DTSTART;TZID=Europe/Berlin:20260302T090000\nDTEND;TZID=Europe/Berlin:20260302T110000\n"
    # without a UID, an event without a SUMMARY is not named after another UID-less event's
    other = "BEGIN:VEVENT\nSUMMARY:Other\nDTSTART;VALUE=DATE:20260303\nEND:VEVENT\n"
    for uid, named in (("UID:patch-window\n", "'patch-window'"), ("", "''")):
        text = f"BEGIN:VCALENDAR\nBEGIN:VEVENT\n{uid}{event}END:VEVENT\n{other}END:VCALENDAR\n"
        cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(text, name="x.ics")])
        assert str(cal.explain(berlin(2026, 3, 2, 10))).startswith(
            f"2026-03-02T10:00:00+01:00: closed (x.ics event {named} closes 09:00-11:00 on 2026-03-02)"
        )


def test_ics_closures_read_bytes_as_utf_8():
    closures = tf.ics_closures(TEAM_ICS.replace("Labour Day", "Tag der Arbeit (Grüße)").encode(), name="b.ics")
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[closures])
    assert "b.ics event 'Tag der Arbeit (Grüße)' closes" in str(cal.explain(berlin(2026, 5, 1, 10)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("BEGIN:VEVENT\nUID:x\nDTSTART:20260101T100000\nEND:VEVENT\n", "ics team.ics: expected one VCALENDAR"),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:when?\nEND:VEVENT\nEND:VCALENDAR\n",
            "ics team.ics: VEVENT #1: no DTSTART",
        ),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20260101T100000\nEND:VEVENT\n"
            "BEGIN:VEVENT\nUID:z\nSUMMARY:when?\nEND:VEVENT\nEND:VCALENDAR\n",
            "ics team.ics: VEVENT #2 (UID z): no DTSTART",
        ),
    ],
)
def test_bad_ics_errors_say_which_event_exactly(text: str, message: str):
    with pytest.raises(tf.CalendarError) as caught:
        tf.ics_closures(text, name="team.ics")
    assert str(caught.value) == message


@pytest.mark.parametrize("prop", ["DTSTART", "DTEND"])
def test_an_ics_time_whose_tzid_names_no_zone_is_refused_naming_the_event_and_the_tzid(prop: str):
    """Read as floating, it would close the calendar's own local hours instead: hours away from what was meant."""
    times = {"DTSTART": "DTSTART;TZID=Europe/Berlin:20260105T100000", "DTEND": "DTEND:20260105T120000Z"}
    times[prop] = f"{prop};TZID=Mars/Olympus:20260105T{'10' if prop == 'DTSTART' else '12'}0000"
    text = f"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:odd\n{times['DTSTART']}\n{times['DTEND']}\nEND:VEVENT\nEND:VCALENDAR\n"
    with pytest.raises(tf.CalendarError) as caught:
        tf.ics_closures(text, name="team.ics")
    assert str(caught.value) == (
        f"ics team.ics: VEVENT #1 (UID odd): {prop}: TZID 'Mars/Olympus' is not a time zone known by that name, "
        "and the file has no VTIMEZONE for it: name an IANA zone (Europe/Berlin) or include its VTIMEZONE"
    )


def test_an_ics_tzid_defined_by_the_files_vtimezone_or_a_windows_zone_name_is_read_in_that_zone():
    text = (
        "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:Plant Time\nBEGIN:STANDARD\nDTSTART:19700101T000000\n"
        "TZOFFSETFROM:+0300\nTZOFFSETTO:+0300\nEND:STANDARD\nEND:VTIMEZONE\n"
        "BEGIN:VEVENT\nUID:plant\nDTSTART;TZID=Plant Time:20260105T110000\nDTEND;TZID=Plant Time:20260105T130000\n"
        "END:VEVENT\n"
        "BEGIN:VEVENT\nUID:win\nDTSTART;TZID=W. Europe Standard Time:20260106T090000\n"
        "DTEND;TZID=W. Europe Standard Time:20260106T100000\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(text, name="plant.ics")])
    # 11:00-13:00 at +03:00 is 09:00-11:00 in Berlin (CET, +01:00); "W. Europe Standard Time" is Berlin's own
    assert cal.open_windows(berlin(2026, 1, 5), berlin(2026, 1, 7)) == [
        (berlin(2026, 1, 5, 11), berlin(2026, 1, 5, 17)),
        (berlin(2026, 1, 6, 10), berlin(2026, 1, 6, 17)),
    ]


PLANT_TIME = (  # a zone only this file defines: +03:00 all year
    "BEGIN:VTIMEZONE\nTZID:Plant Time\nBEGIN:STANDARD\nDTSTART:19700101T000000\n"
    "TZOFFSETFROM:+0300\nTZOFFSETTO:+0300\nEND:STANDARD\nEND:VTIMEZONE\n"
)


def _series_with_exceptions(rdate: str, exdate: str, moved: str) -> str:
    """Daily 09:00-10:00 UTC, 5-9 Jan 2026, with the given RDATE/EXDATE lines and a moved occurrence's RECURRENCE-ID."""
    return (
        f"BEGIN:VCALENDAR\n{PLANT_TIME}BEGIN:VEVENT\nUID:odd\nSUMMARY:Patch\n"
        f"DTSTART:20260105T090000Z\nDTEND:20260105T100000Z\nRRULE:FREQ=DAILY;COUNT=5\n{rdate}{exdate}END:VEVENT\n"
        f"BEGIN:VEVENT\nUID:odd\n{moved}DTSTART:20260108T130000Z\nDTEND:20260108T140000Z\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )


@pytest.mark.parametrize(
    ("prop", "rdate", "exdate", "moved", "event"),
    [
        (  # the second RDATE line, holding two times
            "RDATE",
            "RDATE;TZID=Europe/Berlin:20260110T100000\nRDATE;TZID=Mars/Olympus:20260111T100000,20260112T100000\n",
            "",
            "RECURRENCE-ID:20260108T090000Z\n",
            1,
        ),
        ("RDATE", "RDATE;VALUE=PERIOD;TZID=Mars/Olympus:20260111T100000/PT1H\n", "", "", 1),  # a period
        (
            "EXDATE",
            "",
            "EXDATE;VALUE=DATE:20260107\nEXDATE;TZID=Mars/Olympus:20260106T100000\n",
            "RECURRENCE-ID:20260108T090000Z\n",
            1,
        ),
        ("RECURRENCE-ID", "", "", "RECURRENCE-ID;TZID=Mars/Olympus:20260108T100000\n", 2),
    ],
    ids=["rdate-second-line", "rdate-period", "exdate", "recurrence-id"],
)
def test_an_ics_rdate_exdate_or_recurrence_id_whose_tzid_names_no_zone_is_refused_naming_it(
    prop: str, rdate: str, exdate: str, moved: str, event: int
):
    """Read as floating, an extra, excluded or moved occurrence would be hours away from the one meant."""
    with pytest.raises(tf.CalendarError) as caught:
        tf.ics_closures(_series_with_exceptions(rdate, exdate, moved), name="team.ics")
    assert str(caught.value) == (
        f"ics team.ics: VEVENT #{event} (UID odd): {prop}: TZID 'Mars/Olympus' is not a time zone known by that "
        "name, and the file has no VTIMEZONE for it: name an IANA zone (Europe/Berlin) or include its VTIMEZONE"
    )


@pytest.mark.parametrize(
    ("zone", "hour"),  # 09:00 UTC on 6-11 Jan 2026 is this wall hour in the zone
    [("Asia/Tokyo", 18), ("Plant Time", 12), ("W. Europe Standard Time", 10)],  # IANA, VTIMEZONE, Windows
)
def test_an_ics_rdate_exdate_and_recurrence_id_with_a_known_tzid_are_read_at_their_instant(zone: str, hour: int):
    text = _series_with_exceptions(
        f"RDATE;TZID={zone}:20260110T{hour}0000,20260111T{hour}0000\n",
        f"EXDATE;TZID={zone}:20260106T{hour}0000\n",
        f"RECURRENCE-ID;TZID={zone}:20260108T{hour}0000\n",
    )
    cal = BusinessCalendar("UTC", {"mon-sun": ["00:00-24:00"]}, rules=[tf.ics_closures(text, name="team.ics")])

    def utc(day: int, hour: int) -> datetime:
        return datetime(2026, 1, day, hour, tzinfo=UTC)

    # the 6th excluded, the 8th moved to 13:00, the 10th and 11th added
    closed = [(utc(day, 13 if day == 8 else 9), utc(day, 14 if day == 8 else 10)) for day in (5, 7, 8, 9, 10, 11)]
    edges = [utc(5, 0), *(t for span in closed for t in span), utc(12, 0)]
    assert cal.open_windows(utc(5, 0), utc(12, 0)) == list(zip(edges[::2], edges[1::2], strict=True))


def test_a_moved_occurrence_with_its_own_summary_is_named_by_it_and_leaves_the_series_name_alone():
    series = TEAM_ICS.replace(  # a second moved occurrence, renamed, listed before the first
        "BEGIN:VEVENT\nUID:maint\nRECURRENCE-ID",
        "BEGIN:VEVENT\nUID:maint\nSUMMARY:Maintenance (long)\nRECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\n"
        "DTSTART;TZID=Europe/Berlin:20260323T090000\nDTEND;TZID=Europe/Berlin:20260323T120000\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:maint\nRECURRENCE-ID",
    )
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(series, name="team.ics")])
    assert "team.ics event 'Maintenance (long)' closes 09:00-12:00" in str(cal.explain(berlin(2026, 3, 23, 11)))
    assert "team.ics event 'Maintenance' closes 14:00-15:00" in str(cal.explain(berlin(2026, 3, 17, 14, 30)))
    assert "team.ics event 'Maintenance' closes 09:00-11:00" in str(cal.explain(berlin(2026, 3, 2, 10)))


def test_explain_spells_out_an_overrides_windows_or_that_it_opens_nothing():
    cal = BusinessCalendar(
        "UTC", NINE_TO_FIVE, overrides={date(2026, 3, 4): ["10:00-12:00", "14:00-16:00"], date(2026, 3, 5): []}
    )
    split, shut = cal.explain(datetime(2026, 3, 4, 13, tzinfo=UTC)), cal.explain(datetime(2026, 3, 5, 13, tzinfo=UTC))
    assert (split.open, split.reason) == (False, "the override of 2026-03-04 opens 10:00-12:00 14:00-16:00 instead")
    assert (shut.open, shut.reason) == (False, "the override of 2026-03-05 opens nothing instead")


@pytest.mark.parametrize(
    ("start", "end", "at", "span"),
    [
        ("20260303T220000", "20260304T020000", 23, "22:00-02:00 on 2026-03-03"),  # over midnight, under a day
        ("20260303T090000", "20260304T090000", 23, "2026-03-03 09:00-2026-03-04 09:00 on 2026-03-03"),  # a day
        ("20260303T220000", "20260304T230000", 23, "2026-03-03 22:00-2026-03-04 23:00 on 2026-03-03"),  # 25 hours
        (";VALUE=DATE:20260303", ";VALUE=DATE:20260304", 12, "2026-03-03 00:00-2026-03-04 00:00 on 2026-03-03"),
    ],
)
def test_explain_names_the_dates_of_a_span_of_a_day_or_more_and_only_the_times_of_a_shorter_one(
    start: str, end: str, at: int, span: str
):
    start, end = (f":{v}" if v[0].isdigit() else v for v in (start, end))
    text = f"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nSUMMARY:Cut\nDTSTART{start}\nDTEND{end}\nEND:VEVENT\nEND:VCALENDAR\n"
    cal = BusinessCalendar("UTC", {"mon-sun": ["00:00-24:00"]}, rules=[tf.ics_closures(text, name="x.ics")])
    found = cal.explain(datetime(2026, 3, 3, at, tzinfo=UTC))
    assert (found.open, found.reason) == (False, f"x.ics event 'Cut' closes {span}")


def test_a_calendar_open_only_on_one_far_date_is_reached_by_walking_forward_from_empty_years():
    cal = BusinessCalendar("UTC", {}, overrides={date(2031, 6, 2): ["09:00-10:00"]})
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert not cal.is_open(start)  # builds the years around 2026: no window in them
    assert cal.between(start, datetime(2031, 6, 2, 9, 30, tzinfo=UTC)) == H / 2  # walks forward to 2031
    assert cal.between(start, datetime(2031, 6, 3, tzinfo=UTC)) == H
    assert cal.between(start, start + timedelta(days=30)) == timedelta(0)  # both before the one window
    assert cal.is_open(datetime(2031, 6, 2, 9, 30, tzinfo=UTC))  # the timeline's first (and only) window
    assert cal.sub(datetime(2031, 6, 2, 9, 30, tzinfo=UTC), timedelta(minutes=15)) == datetime(
        2031, 6, 2, 9, 15, tzinfo=UTC
    )  # inside that window: no need to look further back
    assert cal.open_windows(start, datetime(2031, 6, 3, tzinfo=UTC)) == [
        (datetime(2031, 6, 2, 9, tzinfo=UTC), datetime(2031, 6, 2, 10, tzinfo=UTC))
    ]


def test_ics_closures_read_undecodable_bytes_as_replacement_characters_and_name_the_source(tmp_path: Path):
    text = TEAM_ICS.replace("Labour Day", "Labour Day \udcff").encode("utf-8", errors="surrogateescape")  # a 0xff byte
    path = tmp_path / "holidays.ics"
    path.write_bytes(text)
    for closures, source in ((tf.ics_closures(text), "<ics>"), (tf.ics_closures(path), "holidays.ics")):
        cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[closures])
        assert f"{source} event 'Labour Day \ufffd' closes" in str(cal.explain(berlin(2026, 5, 1, 10)))
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(TEAM_ICS)])
    assert "<ics> event 'Labour Day' closes" in str(cal.explain(berlin(2026, 5, 1, 10)))


def test_a_missing_ics_file_says_what_the_system_said(tmp_path: Path):
    with pytest.raises(tf.CalendarError) as caught:
        tf.ics_closures(tmp_path / "nowhere.ics")
    assert str(caught.value) == f"ics {tmp_path / 'nowhere.ics'}: cannot read the file: No such file or directory"


def test_ics_without_the_extra_installed_says_which_extra(monkeypatch: pytest.MonkeyPatch):
    import sys

    monkeypatch.setitem(sys.modules, "recurring_ical_events", None)  # as if the `ical` extra were not installed
    with pytest.raises(tf.CalendarError) as caught:
        tf.ics_closures(TEAM_ICS)
    assert str(caught.value) == "iCalendar needs the `ical` extra: pip install 'ticketflow[ical]'"


def test_a_negative_duration_turns_add_into_sub_and_sub_into_add():
    cal = BusinessCalendar("America/New_York", NINE_TO_FIVE)
    friday_16 = ny(2026, 3, 6, 16)
    assert cal.add(friday_16, -3 * H) == cal.sub(friday_16, 3 * H) == ny(2026, 3, 6, 13)
    assert cal.sub(friday_16, -3 * H) == cal.add(friday_16, 3 * H) == ny(2026, 3, 9, 11)


def test_between_backwards_across_years_not_built_yet_is_minus_between_forwards():
    walker, fresh = (
        BusinessCalendar("America/New_York", NINE_TO_FIVE),
        BusinessCalendar("America/New_York", NINE_TO_FIVE),
    )
    early, late = ny(2026, 1, 5, 12), ny(2031, 6, 2, 12)
    assert walker.is_open(early)  # builds the years around 2026 only
    assert walker.between(late, early) == -fresh.between(early, late)


def test_sub_of_nothing_is_the_instant_itself_in_the_calendars_zone_even_when_closed():
    cal = BusinessCalendar("America/New_York", NINE_TO_FIVE)
    saturday = datetime(2026, 3, 7, 15, tzinfo=UTC)
    for moved in (cal.sub(saturday, timedelta(0)), cal.add(saturday, timedelta(0))):
        assert (moved, moved.tzinfo) == (saturday, ZoneInfo("America/New_York"))
    assert cal.sub(ny(2026, 3, 6, 12), timedelta(microseconds=1)) == ny(2026, 3, 6, 12) - timedelta(microseconds=1)


def test_explain_names_a_rule_opening_that_decides_after_the_holiday_eves_span_of_the_same_rule():
    # a daily night desk whose 22:00-06:00 span from the holiday eve overlaps its own 00:00-02:00 of the next day:
    # the eve's span does not apply, and the next day's opening still explains the open instant
    cal = BusinessCalendar(
        "UTC",
        {},
        holidays=[date(2026, 3, 3)],
        rules=[CalendarRule("FREQ=DAILY", start=date(2026, 3, 1), open=["00:00-02:00", "22:00-06:00"], name="desk")],
    )
    found = cal.explain(datetime(2026, 3, 4, 1, tzinfo=UTC))
    assert (found.open, found.source, found.reason) == (True, "rule", "rule 'desk' opens 00:00-02:00 on 2026-03-04")
    after = cal.explain(datetime(2026, 3, 4, 3, tzinfo=UTC))
    assert (after.open, after.reason) == (False, "2026-03-03 is a holiday (rule 'desk' does not apply)")


def test_ics_events_that_cannot_be_expanded_are_refused_naming_the_source():
    # it reads (icalendar takes BYSETPOS=400), but expanding the series fails when the calendar first needs it
    text = (
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nSUMMARY:Cut\nDTSTART;TZID=Europe/Berlin:20260302T090000\n"
        "DTEND;TZID=Europe/Berlin:20260302T110000\nRRULE:FREQ=MONTHLY;BYSETPOS=400;BYDAY=MO\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(text, name="x.ics")])
    with pytest.raises(tf.CalendarError) as caught:
        cal.is_open(berlin(2026, 3, 3, 10))
    assert str(caught.value).startswith("ics x.ics: cannot expand its events: ")


def test_describe_and_explain_write_a_window_that_ends_at_midnight_as_24_00_and_a_night_shift_by_its_end():
    cal = BusinessCalendar("UTC", {"mon-fri": ["12:00-24:00"], "sat": ["22:00-06:00"]})
    assert (
        cal.describe() == "UTC: mon 12:00-24:00, tue 12:00-24:00, wed 12:00-24:00, thu 12:00-24:00, fri 12:00-24:00, "
        "sat 22:00-06:00"
    )
    assert cal.explain(datetime(2026, 3, 6, 23, tzinfo=UTC)).reason == "weekly hours: fri 12:00-24:00"


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_a_used_calendar_answers_at_the_first_instant_of_a_year_it_has_not_built_like_a_fresh_one(zone: str):
    # each Jan 1 00:00 local opens a window: a calendar that has answered for 2026 (and so built some years
    # around it) must see those windows as a fresh calendar does, at the edge of what it built and past it
    hours = {"mon-sun": ["00:00-01:00"]}
    tz = ZoneInfo(zone)
    used = BusinessCalendar(zone, hours)
    assert used.is_open(datetime(2026, 6, 1, 0, 30, tzinfo=tz))
    for year in range(2026, 2032):
        t = datetime(year, 1, 1, tzinfo=tz)
        fresh = BusinessCalendar(zone, hours)
        assert used.is_open(t), t
        assert fresh.is_open(t), t
        assert used.explain(t) == fresh.explain(t), t
        assert used.next_open(t) == fresh.next_open(t) == t, t


def test_a_rule_window_inside_the_spring_dst_gap_opens_or_closes_nothing_that_night():
    # 02:00-03:00 does not exist in New York on 8 March 2026: both ends move to 03:00, an empty span
    gap = date(2026, 3, 8)
    opening = CalendarRule("FREQ=DAILY", start=date(2026, 3, 1), open=["02:00-03:00"], name="gap")
    assert list(opening.spans(NY, gap, gap + timedelta(days=1))) == []
    opened = BusinessCalendar("America/New_York", {}, rules=[opening])
    assert opened.next_open(ny(2026, 3, 8, 0)) == ny(2026, 3, 9, 2)
    assert opened.explain(ny(2026, 3, 8, 3)).since == ny(2026, 3, 7, 3)
    closing = CalendarRule("FREQ=DAILY", start=date(2026, 3, 1), close=["02:00-03:00"])
    closed = BusinessCalendar("America/New_York", {"mon-sun": ["00:00-24:00"]}, rules=[closing])
    assert closed.open_windows(ny(2026, 3, 8, 0), ny(2026, 3, 8, 12)) == [(ny(2026, 3, 8, 0), ny(2026, 3, 8, 12))]


def test_a_closure_to_the_end_of_a_window_leaves_nothing_open_at_that_end():
    cal = BusinessCalendar(
        "UTC",
        NINE_TO_FIVE,
        rules=[CalendarRule("FREQ=WEEKLY;BYDAY=FR", start=date(2026, 1, 1), close=["16:00-17:00"], name="demo")],
    )
    friday_16_30, monday_9 = datetime(2026, 3, 6, 16, 30, tzinfo=UTC), datetime(2026, 3, 9, 9, tzinfo=UTC)
    assert cal.next_open(friday_16_30) == monday_9
    found = cal.explain(friday_16_30)
    assert (found.open, found.since, found.until) == (False, datetime(2026, 3, 6, 16, tzinfo=UTC), monday_9)


def test_a_rule_gives_each_occurrence_date_once_and_none_from_its_until_date_on():
    hourly = CalendarRule("FREQ=DAILY;BYHOUR=9,15", start=date(2026, 3, 1), open=["18:00-20:00"], name="twice")
    assert list(hourly.dates(date(2026, 3, 2), date(2026, 3, 4))) == [date(2026, 3, 2), date(2026, 3, 3)]
    assert len(list(hourly.spans(ZoneInfo("UTC"), date(2026, 3, 2), date(2026, 3, 4)))) == 2
    cal = BusinessCalendar("UTC", {}, rules=[hourly])
    assert cal.between(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)) == 4 * H
    daily = CalendarRule("FREQ=DAILY", start=date(2026, 3, 1), close=["09:00-10:00"])
    assert list(daily.dates(date(2026, 3, 2), date(2026, 3, 3))) == [date(2026, 3, 2)]  # not the 3rd, at its 00:00


def test_a_rules_windows_given_in_python_are_read_like_the_configs():
    listed = CalendarRule("FREQ=DAILY", start=date(2026, 3, 1), close=["09:00-11:00"])
    assert CalendarRule("FREQ=DAILY", start=date(2026, 3, 1), close=("09:00-11:00",)) == listed
    assert CalendarRule("FREQ=DAILY", start=date(2026, 3, 1), close="09:00-11:00") == listed
    assert listed.close == (Window(540, 660),)
    with pytest.raises(tf.CalendarError) as caught:
        CalendarRule("FREQ=DAILY", start=date(2026, 3, 1), close=5)  # type: ignore[arg-type]
    assert str(caught.value) == "expected windows like ['09:00-11:00'], got 5"
    with pytest.raises(tf.CalendarError) as caught:
        CalendarRule("FREQ=DAILY", start=date(2026, 3, 1), open=["9-11"])
    assert str(caught.value) == "windows[0]: cannot read window '9-11'; write it like '09:00-17:00' or '22:00-06:00'"


@pytest.mark.parametrize(
    ("rrule", "start", "message"),
    [
        ("", "2026-01-01", "rrule: '' is not one RRULE line; give DTSTART as start="),
        ("RRULE:", "2026-01-01", "rrule: 'RRULE:' is not one RRULE line; give DTSTART as start="),
        ("  ", "2026-01-01", "rrule: '  ' is not one RRULE line; give DTSTART as start="),
        (
            "FREQ=DAILY\nFREQ=WEEKLY",
            "2026-01-01",
            r"rrule: 'FREQ=DAILY\nFREQ=WEEKLY' is not one RRULE line; give DTSTART as start=",
        ),
        (
            "FREQ=DAILY;dtstart=20260101",
            "2026-01-01",
            "rrule: 'FREQ=DAILY;dtstart=20260101' is not one RRULE line; give DTSTART as start=",
        ),
        ("FREQ=SOMETIMES", "2026-01-01", "rrule: cannot read 'FREQ=SOMETIMES': invalid 'FREQ': SOMETIMES"),
        (
            "FREQ=WEEKLY;UNTIL=20261231T000000Z",
            "2026-01-01",
            "rrule: cannot read 'FREQ=WEEKLY;UNTIL=20261231T000000Z': RRULE UNTIL values must be specified in UTC "
            "when DTSTART is timezone-aware; write UNTIL as a local date (UNTIL=20261231)",
        ),
        (5, "2026-01-01", "rrule: expected RRULE text like 'FREQ=WEEKLY;BYDAY=MO', got 5"),
        ("FREQ=DAILY", "someday", "start: DTSTART is a date (2026-01-05), got 'someday'"),
        ("FREQ=DAILY", 20260101, "start: DTSTART is a date (2026-01-05), got 20260101"),
        (
            "FREQ=DAILY",
            datetime(2026, 1, 1, tzinfo=UTC),
            "start: give DTSTART as a date (2026-01-05), got the datetime "
            "datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)",
        ),
    ],
)
def test_a_rule_made_in_python_is_refused_with_its_exact_message(rrule: Any, start: Any, message: str):
    with pytest.raises(tf.CalendarError) as caught:
        CalendarRule(rrule, start=start, close=["09:00-10:00"])
    assert str(caught.value) == message


def test_a_rule_needs_exactly_one_of_close_and_open():
    for windows in ({}, {"close": ["09:00-10:00"], "open": ["11:00-12:00"]}, {"close": [], "open": []}):
        with pytest.raises(tf.CalendarError) as caught:
            CalendarRule("FREQ=DAILY", start=date(2026, 1, 1), **windows)
        assert str(caught.value) == "give either close = [windows] or open = [windows] (one of them, not empty)"


@pytest.mark.parametrize("rrule", ["rrule:FREQ=DAILY", " RRULE:FREQ=DAILY ", "RRULE:FREQ=DAILY", "freq=daily"])
def test_an_rrule_is_read_with_or_without_its_prefix_in_any_case_and_around_blanks(rrule: str):
    rule = CalendarRule(rrule, start="2026-01-01", close=["09:00-10:00"])
    assert rule.start == date(2026, 1, 1)
    assert list(rule.dates(date(2026, 3, 2), date(2026, 3, 4))) == [date(2026, 3, 2), date(2026, 3, 3)]


_HOURS_ONLY = {"timezone": "UTC", "hours": NINE_TO_FIVE}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"timezone": "Mars/Olympus", "hours": NINE_TO_FIVE},
            "timezone: unknown zone 'Mars/Olympus'; use an IANA name like 'Europe/Paris'",
        ),
        ({"timezone": 5, "hours": NINE_TO_FIVE}, "timezone: unknown zone 5; use an IANA name like 'Europe/Paris'"),
        ({"timezone": "", "hours": NINE_TO_FIVE}, "timezone: unknown zone ''; use an IANA name like 'Europe/Paris'"),
        (
            {"timezone": "../etc/passwd", "hours": NINE_TO_FIVE},
            "timezone: unknown zone '../etc/passwd'; use an IANA name like 'Europe/Paris'",
        ),
        (
            {"timezone": "UTC", "hours": ["09:00-17:00"]},
            "hours: expected a mapping of day names to windows, got ['09:00-17:00']",
        ),
        (
            {"timezone": "UTC", "hours": ("09:00-17:00",)},
            "hours: expected a mapping of day names to windows, got ('09:00-17:00',)",
        ),
        (
            {"timezone": "UTC", "hours": ((), (), (), (), (), ())},
            "hours: expected a mapping of day names to windows, got ((), (), (), (), (), ())",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": ["9-5"]}},
            "hours.mon[0]: cannot read window '9-5'; write it like '09:00-17:00' or '22:00-06:00'",
        ),
        ({"timezone": "UTC", "hours": {"mon": [9]}}, "hours.mon[0]: expected a window like '09:00-17:00', got 9"),
        (
            {"timezone": "UTC", "hours": {"mon": ["09:00-09:00"]}},
            "hours.mon[0]: window '09:00-09:00' starts where it ends; write '00:00-24:00' for a whole day",
        ),
        *(
            ({"timezone": "UTC", "hours": {"mon": [w]}}, f"hours.mon[0]: {w!r} is not a time of day (00:00 to 24:00)")
            for w in ("24:00-01:00", "09:60-10:00", "09:00-10:60", "09:00-25:00", "09:00-24:01")
        ),
        (
            {"timezone": "UTC", "hours": {"mon": ["09:00-12:00", "11:00-13:00"]}},
            "hours.mon: windows 09:00-12:00 and 11:00-13:00 overlap",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": ["22:00-06:00"], "tue": ["05:00-09:00"]}},
            "hours: mon 22:00-06:00 overlaps tue 05:00-09:00; end the night shift earlier",
        ),
        (
            {"timezone": "UTC", "hours": {"sun": ["22:00-06:00"], "mon": ["05:00-09:00"]}},
            "hours: sun 22:00-06:00 overlaps mon 05:00-09:00; end the night shift earlier",
        ),
        (
            {"timezone": "UTC", "hours": {"funday": ["09:00-17:00"]}},
            "hours.funday: unknown day; use mon..sun or a range like 'mon-fri'",
        ),
        (
            {"timezone": "UTC", "hours": {"mon-funday": ["09:00-17:00"]}},
            "hours.mon-funday: unknown day; use mon..sun or a range like 'mon-fri'",
        ),
        ({"timezone": "UTC", "hours": {3: ["09:00-17:00"]}}, "hours: day keys are names like 'mon', got 3"),
        (
            {"timezone": "UTC", "hours": {"mon-fri": ["09:00-17:00"], "fri": ["18:00-19:00"]}},
            "hours.fri: fri is given twice",
        ),
        ({"timezone": "UTC", "hours": {}}, "hours: the calendar is never open; give at least one window"),
        (
            {"timezone": "UTC", "hours": {"mon": []}, "overrides": {date(2026, 1, 5): []}},
            "hours: the calendar is never open; give at least one window",
        ),
        (
            {**_HOURS_ONLY, "holidays": "2026-12-25"},
            "holidays: expected a list of dates or holidays_for(...), got '2026-12-25'",
        ),
        ({**_HOURS_ONLY, "holidays": 5}, "holidays: expected a list of dates or holidays_for(...), got 5"),
        ({**_HOURS_ONLY, "holidays": ["someday"]}, "holidays[0]: 'someday' is not a date (YYYY-MM-DD)"),
        ({**_HOURS_ONLY, "holidays": [5]}, "holidays[0]: expected a date or holidays_for(...), got 5"),
        (
            {**_HOURS_ONLY, "holidays": [date(2026, 12, 24), datetime(2026, 12, 25)]},
            "holidays[1]: expected a date or holidays_for(...), got datetime.datetime(2026, 12, 25, 0, 0)",
        ),
        ({**_HOURS_ONLY, "overrides": {"2026-13-01": []}}, "overrides.2026-13-01: not a date (YYYY-MM-DD)"),
        ({**_HOURS_ONLY, "overrides": {5: []}}, "overrides: keys are dates, got 5"),
        (
            {**_HOURS_ONLY, "overrides": {datetime(2026, 12, 24): []}},
            "overrides: keys are dates, got datetime.datetime(2026, 12, 24, 0, 0)",
        ),
        (
            {**_HOURS_ONLY, "overrides": {date(2026, 12, 24): ["9-1"]}},
            "overrides.2026-12-24[0]: cannot read window '9-1'; write it like '09:00-17:00' or '22:00-06:00'",
        ),
    ],
)
def test_a_bad_calendar_is_refused_with_its_exact_message(kwargs: dict[str, Any], message: str):
    with pytest.raises(tf.CalendarError) as caught:
        BusinessCalendar(**kwargs)
    assert str(caught.value) == message


def test_day_keys_and_windows_are_read_in_any_case_around_blanks_and_at_the_edges_of_the_day():
    cal = BusinessCalendar(
        "UTC",
        {" Mon-Tue ": " 9:00 - 17:00 ", "WED": ["00:00-00:59", "23:00-24:00"], "fri-sun": ["22:00-06:00"]},
    )
    assert cal.hours == (
        (Window(540, 1020),),
        (Window(540, 1020),),
        (Window(0, 59), Window(1380, 1440)),
        (),
        (Window(1320, 1800),),
        (Window(1320, 1800),),
        (Window(1320, 1800),),
    )
    assert BusinessCalendar("UTC", {"mon": ["23:59-24:00"]}).hours[0] == (Window(1439, 1440),)
    weekend = BusinessCalendar("UTC", {"sat-mon": "10:00-11:00", "wed-wed": "10:00-11:00"}).hours  # ranges wrap
    assert [bool(day) for day in weekend] == [True, False, True, False, False, True, True]
    opened_by_a_rule = BusinessCalendar(
        "UTC", {}, rules=[CalendarRule("FREQ=DAILY", start=date(2026, 1, 1), open=["09:00-10:00"])]
    )
    assert opened_by_a_rule.is_open(datetime(2026, 3, 4, 9, 30, tzinfo=UTC))
    assert BusinessCalendar("UTC", {}, overrides={"2026-03-04": ["09:00-10:00"]}).is_open(
        datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    )


def test_rules_are_read_from_one_rule_a_table_or_a_list_or_tuple_of_both():
    rule = CalendarRule("FREQ=DAILY", start=date(2026, 1, 1), close=["09:00-10:00"])
    table = {"rrule": "FREQ=DAILY", "start": "2026-01-01", "close": ["09:00-10:00"]}
    for value, expected in [
        (None, ()),
        ((), ()),
        ([], ()),
        (rule, (rule,)),
        ((rule,), (rule,)),
        ([rule], (rule,)),
        (table, (rule,)),
        ((rule, table), (rule, rule)),
        ([table, rule], (rule, rule)),
    ]:
        assert BusinessCalendar("UTC", NINE_TO_FIVE, rules=value).rules == expected, value


class _SpansOnly:
    def spans(self, tz: ZoneInfo, since: date, until: date) -> Any:
        return iter(())


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([5], "rules[0]: expected a CalendarRule, a rule table or ICS closures, got 5"),
        ("FREQ=DAILY", "rules[0]: expected a CalendarRule, a rule table or ICS closures, got 'FREQ=DAILY'"),
        (
            [CalendarRule("FREQ=DAILY", start=date(2026, 1, 1), close=["09:00-10:00"]), "x"],
            "rules[1]: expected a CalendarRule, a rule table or ICS closures, got 'x'",
        ),
        ([{"rrule": "FREQ=DAILY", "start": "2026-01-01", "close": ["09:00-10:00"]}, {"start": "2026-01-01"}], None),
    ],
)
def test_a_rule_that_is_neither_a_rule_nor_a_table_nor_spans_is_refused_naming_its_index(
    rules: Any, message: str | None
):
    with pytest.raises(tf.CalendarError) as caught:
        BusinessCalendar("UTC", NINE_TO_FIVE, rules=rules)
    assert str(caught.value) == (message or "rules[1].rrule: required key is missing")


def test_an_object_with_spans_but_no_opens_is_not_a_span_source():
    with pytest.raises(tf.CalendarError, match=r"^rules\[0\]: expected a CalendarRule, a rule table or ICS closures"):
        BusinessCalendar("UTC", NINE_TO_FIVE, rules=[_SpansOnly()])


class _Lunch:
    """A span source of its own: closes 12:00-13:00 UTC on every date."""

    opens = False

    def spans(self, tz: ZoneInfo, since: date, until: date) -> Any:
        day = since
        while day < until:
            noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
            yield day, int(noon.timestamp()) * 1_000_000, int((noon + H).timestamp()) * 1_000_000, "lunch"
            day += timedelta(days=1)


def test_an_object_with_spans_and_opens_is_a_span_source():
    cal = BusinessCalendar("UTC", NINE_TO_FIVE, rules=[_Lunch()])
    assert cal.between(datetime(2026, 3, 4, 9, tzinfo=UTC), datetime(2026, 3, 4, 17, tzinfo=UTC)) == 7 * H
    assert cal.explain(datetime(2026, 3, 4, 12, 30, tzinfo=UTC)).reason == "lunch closes 12:00-13:00 on 2026-03-04"


def test_holidays_and_overrides_are_kept_sorted_and_once_whatever_the_order_given():
    us = holidays_for("US")
    cal = BusinessCalendar(
        "UTC",
        NINE_TO_FIVE,
        holidays=["2026-12-25", date(2026, 1, 1), "2026-12-25", us, *(date(2026, m, 9 + m) for m in range(11, 1, -1))],
        overrides={"2026-12-31": [], date(2026, 12, 24): ["09:00-13:00"]},
    )
    assert cal.holidays == (date(2026, 1, 1), *(date(2026, m, 9 + m) for m in range(2, 12)), date(2026, 12, 25), us)
    assert cal.overrides == ((date(2026, 12, 24), (Window(540, 780),)), (date(2026, 12, 31), ()))
    assert BusinessCalendar("UTC", NINE_TO_FIVE, holidays=us).holidays == (us,)


def test_a_calendar_evolved_with_attrs_keeps_its_parsed_hours_holidays_overrides_and_rules():
    rule = CalendarRule("FREQ=DAILY", start=date(2026, 1, 1), close=["09:00-10:00"])
    cal = BusinessCalendar(
        "UTC",
        {"mon-fri": ["09:00-17:00"], "sat": ["22:00-06:00"]},
        holidays=[date(2026, 12, 25)],
        overrides={date(2026, 12, 24): ["09:00-13:00"]},
        rules=[rule],
    )
    paris = attrs.evolve(cal, timezone="Europe/Paris")
    assert (paris.hours, paris.holidays, paris.overrides, paris.rules) == (
        cal.hours,
        cal.holidays,
        cal.overrides,
        cal.rules,
    )
    assert paris == BusinessCalendar(
        "Europe/Paris",
        {"mon-fri": ["09:00-17:00"], "sat": ["22:00-06:00"]},
        holidays=[date(2026, 12, 25)],
        overrides={date(2026, 12, 24): ["09:00-13:00"]},
        rules=[rule],
    )


@pytest.mark.parametrize("t", [datetime(1901, 1, 1, 10, tzinfo=UTC), datetime(2499, 12, 31, 10, tzinfo=UTC)])
def test_a_fresh_calendar_answers_in_the_first_and_last_years_it_can_build_around(t: datetime):
    # a fresh calendar builds a year either side of what it is asked: 1901 and 2499 are the outermost it answers
    def fresh() -> BusinessCalendar:
        return BusinessCalendar("UTC", {"mon-sun": ["09:00-17:00"]})

    assert fresh().is_open(t)
    assert fresh().between(t, t + H) == H
    assert fresh().next_close(t) == t.replace(hour=17)
    assert fresh().explain(t).reason == f"weekly hours: {t:%a}".lower() + " 09:00-17:00"


def test_windows_that_touch_are_allowed_within_a_day_and_across_days_but_an_overlap_past_sunday_is_not():
    cal = BusinessCalendar("UTC", {"mon": ["09:00-12:00", "12:00-13:00", "22:00-06:00"], "tue": ["06:00-09:00"]})
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    assert cal.between(monday, monday + timedelta(days=2)) == 4 * H + 8 * H + 3 * H
    with pytest.raises(tf.CalendarError) as caught:  # the week's last window overlaps its first, with one between
        BusinessCalendar("UTC", {"mon": ["05:00-09:00"], "wed": ["09:00-17:00"], "sun": ["22:00-06:00"]})
    assert str(caught.value) == "hours: sun 22:00-06:00 overlaps mon 05:00-09:00; end the night shift earlier"
    assert BusinessCalendar("UTC", {"mon": ["06:00-09:00"], "wed": ["09:00-17:00"], "sun": ["22:00-06:00"]}).hours[6]


def test_holiday_dates_given_beside_holiday_sources_all_close():
    us, de = holidays_for("US"), holidays_for("DE")
    cal = BusinessCalendar("America/New_York", NINE_TO_FIVE, holidays=[date(2026, 3, 4), us, de])
    for day in (date(2026, 3, 4), date(2026, 12, 25), date(2026, 5, 14), date(2026, 7, 3)):  # own, both, DE, US
        assert cal.windows_on(day) == (), day
        assert cal.explain(datetime.combine(day, time(10), NY)).reason == f"{day} is a holiday", day
    assert cal.windows_on(date(2026, 3, 5)) == (Window(540, 1020),)


@pytest.mark.parametrize(
    ("machine_zone", "t"),
    [
        ("Etc/GMT-14", datetime(2499, 12, 31, 12, tzinfo=UTC)),
        ("Etc/GMT+12", datetime(1901, 1, 1, 6, tzinfo=UTC)),
        ("Etc/GMT-14", datetime(2500, 12, 31, 12, tzinfo=UTC)),
        ("Etc/GMT+12", datetime(1900, 1, 1, 6, tzinfo=UTC)),
    ],
)
def test_a_calendars_answers_do_not_depend_on_the_machines_zone(
    monkeypatch: pytest.MonkeyPatch, machine_zone: str, t: datetime
):
    # the instants are a year later or earlier on the machine's clock (2500 and 1900, or 2501 and 1899 beyond the
    # supported years): a calendar reads them as the instants they are
    import time as clock

    monkeypatch.setenv("TZ", machine_zone)
    clock.tzset()
    try:
        cal = BusinessCalendar("UTC", {"mon-sun": ["00:00-24:00"]})
        assert cal.is_open(t)
        assert cal.between(t, t + H) == H
    finally:
        monkeypatch.undo()
        clock.tzset()


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_a_used_calendar_keeps_new_years_eves_night_shift_at_the_start_of_the_first_year_it_built(zone: str):
    hours = {"mon-sun": ["22:00-06:00"]}
    tz = ZoneInfo(zone)
    used = BusinessCalendar(zone, hours)
    assert used.is_open(datetime(2027, 6, 1, 23, tzinfo=tz))  # builds 2026..2029: it starts on 1 January 2026
    t = datetime(2026, 1, 1, 3, tzinfo=tz)
    assert used.is_open(t)
    assert used.explain(t) == BusinessCalendar(zone, hours).explain(t)
    assert used.between(datetime(2026, 1, 1, tzinfo=tz), datetime(2026, 1, 1, 12, tzinfo=tz)) == 6 * H


def test_weekly_hours_inside_the_spring_dst_gap_open_nothing_that_sunday():
    cal = BusinessCalendar("America/New_York", {"sun": ["02:00-03:00"]})  # 02:00-03:00 does not exist on 8 March 2026
    assert cal.next_open(ny(2026, 3, 8, 0)) == ny(2026, 3, 15, 2)
    assert cal.explain(ny(2026, 3, 8, 4)).since == ny(2026, 3, 1, 3)


def test_a_used_calendar_keeps_an_ics_closure_from_1_december_into_the_first_year_it_built():
    ics = (
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:w\nSUMMARY:Winter\nDTSTART;VALUE=DATE:20251201\n"
        "DTEND;VALUE=DATE:20260110\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    used = BusinessCalendar("UTC", NINE_TO_FIVE, rules=[tf.ics_closures(ics, name="w.ics")])
    assert used.is_open(datetime(2027, 6, 1, 10, tzinfo=UTC))  # builds 2026..2029
    assert not used.is_open(datetime(2026, 1, 5, 10, tzinfo=UTC))
    assert used.next_open(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(2026, 1, 12, 9, tzinfo=UTC)


LONG_CLOSURE_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//example//team//EN
BEGIN:VEVENT
UID:renovation
SUMMARY:Office closed for renovation
DTSTART;VALUE=DATE:20251101
DTEND;VALUE=DATE:20260111
END:VEVENT
END:VCALENDAR
"""


@pytest.mark.parametrize("began", ["20251101", "20250101"])  # two months before the year, or all of the year before
@pytest.mark.parametrize("asked_first", [None, berlin(2027, 6, 1, 10), berlin(2026, 6, 1, 10)])
def test_a_closure_of_months_from_the_year_before_holds_whatever_the_calendar_was_asked_first(asked_first, began):
    """A used calendar answers like a fresh one for a closure (up to a year long) begun the year before its first."""
    ics = LONG_CLOSURE_ICS.replace("20251101", began)
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[tf.ics_closures(ics, name="renovation")])
    if asked_first is not None:
        cal.is_open(asked_first)  # builds the years around that instant first
    assert not cal.is_open(berlin(2026, 1, 5, 10))
    assert cal.is_open(berlin(2026, 1, 12, 10))
    assert cal.between(berlin(2026, 1, 1), berlin(2026, 1, 17)) == 5 * 8 * H  # Jan 12-16 only


@pytest.mark.parametrize("interval", ["0", "-1", "00", "x", " ", "0=0"])
def test_a_rule_whose_interval_is_not_one_or_more_is_refused_not_expanded_forever(interval):
    """INTERVAL=0 made dateutil loop forever on the first question; it is refused when the rule is read."""
    with pytest.raises(tf.CalendarError) as info:
        tf.CalendarRule(f"FREQ=DAILY;INTERVAL={interval}", start="2026-01-01", close=["00:00-24:00"])
    assert str(info.value) == (f"rrule: 'FREQ=DAILY;INTERVAL={interval}': INTERVAL must be a whole number of 1 or more")
    daily = tf.CalendarRule("FREQ=DAILY;INTERVAL=1", start="2026-01-05", close=["00:00-24:00"])
    assert not BusinessCalendar("UTC", {"mon-sun": ["09:00-17:00"]}, rules=[daily]).is_open(
        datetime(2026, 1, 6, 10, tzinfo=UTC)
    )
    every_other = tf.CalendarRule("rrule:freq=daily;interval=2", start="2026-01-05", close=["00:00-24:00"])
    cal = BusinessCalendar("UTC", {"mon-sun": ["09:00-17:00"]}, rules=[every_other])
    assert [cal.is_open(datetime(2026, 1, d, 10, tzinfo=UTC)) for d in (5, 6, 7, 8)] == [False, True, False, True]


@pytest.mark.parametrize("interval", ["0", "-1"])
def test_an_ics_event_whose_interval_is_not_one_or_more_is_refused_naming_it(interval):
    ics = LONG_CLOSURE_ICS.replace("END:VEVENT", f"RRULE:FREQ=YEARLY;INTERVAL={interval}\nEND:VEVENT")
    with pytest.raises(tf.CalendarError) as info:
        tf.ics_closures(ics, name="renovation.ics")
    assert str(info.value) == (
        "ics renovation.ics: VEVENT #1 (UID renovation): RRULE INTERVAL must be a whole number of 1 or more"
    )
    each_year = tf.ics_closures(LONG_CLOSURE_ICS.replace("END:VEVENT", "RRULE:FREQ=YEARLY;INTERVAL=1\nEND:VEVENT"))
    assert not BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[each_year]).is_open(berlin(2026, 11, 3, 10))
    yearly = tf.ics_closures(LONG_CLOSURE_ICS.replace("END:VEVENT", "RRULE:FREQ=YEARLY;INTERVAL=2\nEND:VEVENT"))
    cal = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE, rules=[yearly])
    assert not cal.is_open(berlin(2027, 11, 3, 10))  # 2025 + 2
    assert cal.is_open(berlin(2026, 11, 3, 10))


def test_a_zoneinfo_or_utc_is_taken_as_its_zone_name():
    nine_to_five = {"mon-fri": ["09:00-17:00"]}
    paris = BusinessCalendar(ZoneInfo("Europe/Paris"), nine_to_five)
    assert paris == BusinessCalendar("Europe/Paris", nine_to_five)
    assert paris.timezone == "Europe/Paris"
    assert BusinessCalendar(UTC, nine_to_five).timezone == "UTC"
    assert BusinessCalendar.always_open(ZoneInfo("Asia/Tokyo")).timezone == "Asia/Tokyo"  # type: ignore[arg-type]
    with pytest.raises(tf.CalendarError, match=r"timezone: unknown zone datetime\.timezone"):
        BusinessCalendar(timezone(timedelta(hours=2)), nine_to_five)  # a fixed offset has no name and no DST rules


def test_a_country_code_in_lower_case_is_the_same_country():
    config = {"timezone": "Europe/Paris", "hours": {"mon-fri": ["09:00-17:00"]}}
    lower = BusinessCalendar.from_config({**config, "holidays": {"country": "fr"}})
    assert lower == BusinessCalendar.from_config({**config, "holidays": {"country": "FR"}})
    assert not lower.is_open(datetime(2026, 4, 6, 10, tzinfo=ZoneInfo("Europe/Paris")))  # Easter Monday
    assert holidays_for("us", subdiv="ny") == holidays_for("US", subdiv="NY")
    assert holidays_for("FR", subdiv="Zone A").subdiv == "Zone A"  # a subdivision named, not coded, as written
    with pytest.raises(tf.CalendarError, match=r"holidays: US has no subdivision 'xx' \(nor 'XX'\)"):
        holidays_for("us", subdiv="xx")


def test_empty_ics_text_is_refused_as_empty_not_as_a_file_name():
    with pytest.raises(tf.CalendarError, match=r"^ics <ics>: empty; give ICS text or the path of a \.ics file$"):
        tf.ics_closures("  \n")


def test_a_config_holiday_list_holds_a_countrys_holidays_and_the_teams_own_days():
    paris = ZoneInfo("Europe/Paris")
    cal = BusinessCalendar.from_config(
        {
            "timezone": "Europe/Paris",
            "hours": {"mon-fri": ["09:00-17:00"]},
            "holidays": [{"country": "FR"}, "2026-12-24", date(2026, 12, 31)],
        }
    )
    assert not cal.is_open(datetime(2026, 12, 25, 10, tzinfo=paris))  # France's
    assert not cal.is_open(datetime(2026, 12, 24, 10, tzinfo=paris))  # the team's own
    assert not cal.is_open(datetime(2026, 12, 31, 10, tzinfo=paris))
    assert cal.is_open(datetime(2026, 12, 30, 10, tzinfo=paris))
    with pytest.raises(tf.CalendarError, match=r"^calendar\.holidays\[1\]: write \{ country = 'US'"):
        BusinessCalendar.from_config(
            {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": ["2026-12-24", {"contry": "FR"}]}
        )
