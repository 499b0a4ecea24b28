"""Business-calendar speed: ticketflow vs workclock, businesstimedelta and pandas, in one run.

Run: .venv/bin/python bench/bench_calendar.py  (or `make bench`)

Two calendars in New York with US (NY) holidays: 9-17 weekdays, and 9-12 + 13-17
weekdays (a lunch break). For spans of 2, 24, 320 and 2000 business hours it
times `add(t, span)` and `between(t, add(t, span))` from 200 start instants
spread over 2026, prints µs per call and ticketflow's cost as a ratio of each
peer's, and checks on every row that each peer that supports the case gives the
same instants/durations as ticketflow ("agree" or how many differ).
pandas' CustomBusinessHour adds whole hours only and has no `between`.
No assertion: the table is the result.

A second table puts a calendar as teams keep it — the 9-17 calendar plus 20
recurring rules (RRULE closures and openings) and 300 closures imported from
an ICS feed — next to the plain 9-17 calendar, in the same run: build time
(parsing and the first timeline) and µs per `add`/`between`, with the ratio.
"""

from __future__ import annotations

import itertools
import math
import random
import time as clock
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import _options as options  # bench/_options.py: --help and --quick for every script
import businesstimedelta as btd
import holidays
import pandas as pd
import pytz
import workclock

import ticketflow as tf

ZONE = "America/New_York"
NY = ZoneInfo(ZONE)
SPANS = (2, 24, 320, 2000)
US_NY = holidays.country_holidays("US", subdiv="NY", years=range(2025, 2030))
HOLIDAY_DATES = sorted(US_NY)
CALENDARS: dict[str, list[tuple[time, time]]] = {
    "9-17": [(time(9), time(17))],
    "9-12,13-17": [(time(9), time(12)), (time(13), time(17))],
}


def ours(windows: list[tuple[time, time]]) -> tf.BusinessCalendar:
    hours = [f"{a:%H:%M}-{b:%H:%M}" for a, b in windows]
    return tf.BusinessCalendar(ZONE, {"mon-fri": hours}, holidays=tf.holidays_for("US", subdiv="NY"))


def workclock_schedule(windows: list[tuple[time, time]]) -> workclock.Schedule:
    rules: list[Any] = [workclock.WorkDay(windows[0][0], windows[-1][1]), workclock.Holidays(HOLIDAY_DATES)]
    for (_, end), (start, _) in itertools.pairwise(windows):
        rules.append(workclock.Break(end, start))
    return workclock.Schedule(rules, time_zone=ZONE)


def btd_rules(windows: list[tuple[time, time]]) -> btd.Rules:
    tz = pytz.timezone(ZONE)
    rules: list[Any] = [
        btd.WorkDayRule(start_time=windows[0][0], end_time=windows[-1][1], working_days=[0, 1, 2, 3, 4], tz=tz),
        btd.HolidayRule(US_NY, tz=tz),
    ]
    for (_, end), (start, _) in itertools.pairwise(windows):
        rules.append(btd.LunchTimeRule(start_time=end, end_time=start, working_days=[0, 1, 2, 3, 4], tz=tz))
    return btd.Rules(rules)


def pandas_offset(windows: list[tuple[time, time]], hours: int) -> Any:
    return pd.offsets.CustomBusinessHour(
        n=hours,
        start=[f"{a:%H:%M}" for a, _ in windows],
        end=[f"{b:%H:%M}" for _, b in windows],
        holidays=HOLIDAY_DATES,
    )


def per_call_us(fn: Callable[[datetime], Any], starts: Sequence[datetime], budget: float = 0.25) -> float:
    """Median-free simple rate: loop over the starts until the time budget is used."""
    for t in starts[:5]:
        fn(t)  # warm caches the same way for everyone
    calls = 0
    began = clock.perf_counter()
    while True:
        for t in starts:
            fn(t)
        calls += len(starts)
        elapsed = clock.perf_counter() - began
        if elapsed > budget:
            return elapsed / calls * 1e6


def sample_starts(n: int = 200) -> list[datetime]:
    rng = random.Random(7)
    base = datetime(2026, 1, 1, tzinfo=NY)
    return [(base + timedelta(minutes=rng.randrange(365 * 24 * 60))).astimezone(NY) for _ in range(n)]


def agreement(mine: list[Any], theirs: list[Any], cal: tf.BusinessCalendar | None = None) -> str:
    """'agree', or how many differ; with *cal*, differences of zero business time are told apart.

    pandas returns the next opening (Mon 09:00) where ticketflow returns the
    earliest instant with the same business time (Fri 17:00): those rows are
    counted as "n at close*", not as wrong answers.
    """
    differ = [(a, b) for a, b in zip(mine, theirs, strict=True) if a != b]
    if not differ:
        return "agree"
    if cal is not None and all(cal.between(a, b) == timedelta(0) for a, b in differ):
        return f"{len(differ)} at close*"
    return f"{len(differ)}/{len(mine)} differ"


def row(label: str, us: float, peers: list[tuple[str, float | None, str]]) -> str:
    cells = [f"{label:<28}", f"{us:>8.2f}"]
    for _, peer_us, agree in peers:
        if peer_us is None:
            cells.append(f"{'n/a':>10}{'':>8}{'':>14}")
        else:
            cells.append(f"{peer_us:>10.2f}{us / peer_us:>8.2f}{agree:>14}")
    return "".join(cells)


def team_rules() -> list[tf.CalendarRule]:
    """20 recurring rules: weekly, monthly and yearly closures, and Saturday openings."""
    rules = []
    for i, day in enumerate(("MO", "TU", "WE", "TH", "FR")):  # a weekly half-hour meeting, a different slot each day
        rules.append(
            tf.CalendarRule(f"FREQ=WEEKLY;BYDAY={day}", start="2025-01-01", close=[f"{10 + i}:00-{10 + i}:30"])
        )
    for n, day in itertools.product((1, 2, 3, -1), ("MO", "TH")):  # monthly maintenance windows
        rules.append(tf.CalendarRule(f"FREQ=MONTHLY;BYDAY={n}{day}", start="2025-01-01", close=["15:00-17:00"]))
    rules += [
        tf.CalendarRule("FREQ=WEEKLY;BYDAY=FR;BYMONTH=7,8", start="2025-01-01", close=["13:00-17:00"]),
        tf.CalendarRule(
            "FREQ=YEARLY;BYMONTH=11;BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29", start="2025-01-01", close=["00:00-24:00"]
        ),
        tf.CalendarRule("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24,31", start="2025-01-01", close=["12:00-17:00"]),
        tf.CalendarRule("FREQ=MONTHLY;BYDAY=2SA", start="2025-01-01", open=["10:00-14:00"]),
        tf.CalendarRule("FREQ=MONTHLY;BYDAY=4SA;UNTIL=20291231", start="2025-01-01", open=["10:00-14:00"]),
        tf.CalendarRule("FREQ=DAILY;INTERVAL=10;COUNT=200", start="2025-01-01", close=["08:30-09:30"]),
        tf.CalendarRule(
            "FREQ=YEARLY;BYMONTH=3,6,9,12;BYDAY=-1WE;BYSETPOS=-1", start="2025-01-01", close=["09:00-17:00"]
        ),
    ]
    return rules


def team_ics(n: int = 300) -> str:
    """n one-off closures over 2025-2028 (timed with a TZID, or all-day), as an HR system would export them."""
    rng = random.Random(11)
    events = []
    for i in range(n):
        day = datetime(2025, 1, 1) + timedelta(days=rng.randrange(4 * 365))
        if i % 5 == 0:
            events.append(f"BEGIN:VEVENT\nUID:c{i}\nDTSTART;VALUE=DATE:{day:%Y%m%d}\nEND:VEVENT")
        else:
            start = day + timedelta(minutes=30 * rng.randrange(16, 34))
            end = start + timedelta(minutes=30 * rng.randrange(1, 7))
            events.append(
                f"BEGIN:VEVENT\nUID:c{i}\nDTSTART;TZID={ZONE}:{start:%Y%m%dT%H%M%S}\n"
                f"DTEND;TZID={ZONE}:{end:%Y%m%dT%H%M%S}\nEND:VEVENT"
            )
    return "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//bench//closures//EN\n" + "\n".join(events) + "\nEND:VCALENDAR\n"


def team_calendar_table(starts: list[datetime]) -> None:
    """Plain 9-17 vs 9-17 with 20 recurring rules and 300 ICS closures: build and per-call cost, same run."""
    hours = {"mon-fri": ["09:00-17:00"]}
    ics = team_ics()
    rules = team_rules()

    def build_plain() -> tf.BusinessCalendar:
        cal = tf.BusinessCalendar(ZONE, hours, holidays=tf.holidays_for("US", subdiv="NY"))
        cal.add(starts[0], timedelta(hours=1))  # the first query builds the timeline
        return cal

    def build_team() -> tf.BusinessCalendar:
        closures = tf.ics_closures(ics, name="closures.ics")
        cal = tf.BusinessCalendar(ZONE, hours, holidays=tf.holidays_for("US", subdiv="NY"), rules=[*rules, closures])
        cal.add(starts[0], timedelta(hours=1))
        return cal

    def build_ms(build: Callable[[], tf.BusinessCalendar]) -> float:
        times = []
        for _ in range(3):
            began = clock.perf_counter()
            build()
            times.append(clock.perf_counter() - began)
        return sorted(times)[1] * 1e3

    plain, team = build_plain(), build_team()
    intervals = (len(plain._current.starts), len(team._current.starts))
    print()
    print(
        f"9-17 plain vs 9-17 + {len(rules)} recurring rules + 300 ICS closures "
        f"({intervals[0]} vs {intervals[1]} open intervals over "
        f"{team._current.first_year}-{team._current.end_year - 1}; median of 7 alternating runs)"
    )
    print(f"{'op':<28}{'plain':>10}{'rules+ics':>12}{'ratio':>8}")
    plain_ms, team_ms = build_ms(build_plain), build_ms(build_team)
    print(f"{'build + first timeline, ms':<28}{plain_ms:>10.1f}{team_ms:>12.1f}{team_ms / plain_ms:>8.2f}")
    ratios = []
    for hours_span in SPANS:
        span = timedelta(hours=hours_span)
        ends = {t: team.add(t, span) for t in starts}
        ops: list[tuple[str, Callable[[tf.BusinessCalendar], Callable[[datetime], Any]]]] = [
            (f"add {hours_span}h, µs", lambda cal, s=span: lambda t: cal.add(t, s)),
            (f"between {hours_span}h, µs", lambda cal, e=ends: lambda t: cal.between(t, e[t])),
        ]
        for label, op in ops:
            plain_runs, team_runs = [], []
            for _ in range(7):  # alternate, so both see the same machine load
                plain_runs.append(per_call_us(op(plain), starts, budget=0.08))
                team_runs.append(per_call_us(op(team), starts, budget=0.08))
            p, q = sorted(plain_runs)[3], sorted(team_runs)[3]
            ratios.append(q / p)
            print(f"{label:<28}{p:>10.2f}{q:>12.2f}{q / p:>8.2f}")
    mean = math.prod(ratios) ** (1 / len(ratios))
    print(f"{'per call, geometric mean':<28}{'':>10}{'':>12}{mean:>8.2f}  (target: <= 1.2)")


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--starts", type=int, default=200, help="random start instants per row (default: %(default)s)")
    parser.add_argument(
        "--peer-starts", type=int, default=20, help="of those, how many the slow peers answer (default: %(default)s)"
    )
    parser.add_argument(
        "--budget", type=float, default=0.25, help="seconds of timing per measured cell (default: %(default)s)"
    )
    options.add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.starts, args.peer_starts, args.budget = 10, 2, 0.002
    starts = sample_starts(args.starts)
    quick = starts[: args.peer_starts]  # the slow peers answer for a subset in the agreement check
    budget, peer_budget = args.budget, args.budget * 0.4
    header = f"{'calendar / op / span':<28}{'ours µs':>8}"
    for name in ("workclock", "businesstimedelta", "pandas CBH"):
        header += f"{name:>10}{'ratio':>8}{'':>14}"
    print("µs per call; ratio = ours / peer (lower is better for ticketflow); agreement with ours on the same inputs")
    print(header)
    for cal_name, windows in CALENDARS.items():
        cal, wc, rules = ours(windows), workclock_schedule(windows), btd_rules(windows)
        for hours in SPANS:
            span = timedelta(hours=hours)
            offset = pandas_offset(windows, hours)
            delta = btd.BusinessTimeDelta(rules, hours=hours)

            mine = [cal.add(t, span) for t in starts]
            wc_results = [wc.add(t, span) for t in starts]
            btd_results = [(t + delta).astimezone(UTC) for t in quick]
            pd_results = [(pd.Timestamp(t) + offset).to_pydatetime() for t in quick]
            our_us = per_call_us(lambda t, s=span: cal.add(t, s), starts, budget)
            wc_us = per_call_us(lambda t, s=span: wc.add(t, s), starts, budget)
            btd_us = per_call_us(lambda t, d=delta: t + d, quick, peer_budget)
            pd_us = per_call_us(lambda t, o=offset: pd.Timestamp(t) + o, quick, peer_budget)
            print(
                row(
                    f"{cal_name} add {hours}h",
                    our_us,
                    [
                        ("workclock", wc_us, agreement(mine, wc_results)),
                        ("btd", btd_us, agreement(mine[: len(quick)], btd_results)),
                        ("pandas", pd_us, agreement(mine[: len(quick)], pd_results, cal)),
                    ],
                )
            )

            ends = mine
            spans_ours = [cal.between(a, b) for a, b in zip(starts, ends, strict=True)]
            spans_wc = [wc.between(a, b) for a, b in zip(starts, ends, strict=True)]
            spans_btd = [rules.difference(a, b).timedelta for a, b in zip(quick, ends, strict=False)]
            pairs = dict(zip(starts, ends, strict=True))
            our_us = per_call_us(lambda t, p=pairs: cal.between(t, p[t]), starts, budget)
            wc_us = per_call_us(lambda t, p=pairs: wc.between(t, p[t]), starts, budget)
            btd_us = per_call_us(lambda t, p=pairs: rules.difference(t, p[t]), quick, peer_budget)
            print(
                row(
                    f"{cal_name} between {hours}h",
                    our_us,
                    [
                        ("workclock", wc_us, agreement(spans_ours, spans_wc)),
                        ("btd", btd_us, agreement(spans_ours[: len(quick)], spans_btd)),
                        ("pandas", None, ""),
                    ],
                )
            )

    print("* pandas moves a result that lands exactly on a closing time to the next opening (same business time).")
    team_calendar_table(starts)


if __name__ == "__main__":
    main()
