"""SLA evaluation speed: one ticket with 50 events and 4 metrics; a report over many tickets.

Run: .venv/bin/python bench/bench_sla.py [--tickets 100000]  (or `make bench`)

Prints µs per `evaluate` of a 4-metric policy (first response, next reply,
resolution with pauses, requester wait) on a ticket with a 50-event history in
business time (event instants in UTC, as the SystemClock records them), and
tickets per second for an attainment report over N tickets (default 100,000,
held in memory; histories of 6 events).
No assertion: the table is the result.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import _options as options  # bench/_options.py: --help and --quick for every script

import ticketflow as tf

NY = ZoneInfo("America/New_York")
POLICY = {
    "id": "bench_zendesk",
    "sla": {
        "calendar": "office",
        "calendars": {
            "office": {
                "timezone": "America/New_York",
                "hours": {"mon-fri": ["09:00-12:00", "13:00-17:00"]},
                "holidays": {"country": "US"},
            }
        },
        "metrics": [
            {"id": "first_response", "targets": [{"when": {"category": "question"}, "target": "1h"}, {"target": "8h"}]},
            {"id": "next_reply", "targets": [{"target": "8h"}]},
            {"id": "resolution", "pause": {"states": ["pending", "on_hold"]}, "targets": [{"target": "40h"}]},
            {"id": "requester_wait", "targets": [{"target": "24h"}]},
        ],
    },
}  # fmt: skip
CUSTOMER = tf.Actor("c", roles={"requester"})
AGENT = tf.Actor("a", roles={"agent"})


def fifty_event_ticket(wf: tf.Workflow, start: datetime) -> tf.Ticket:
    t = wf.open(CUSTOMER, title="bench", fields={"category": "work_request"}, at=start)
    at = start
    for i in range(49):
        at += timedelta(minutes=37)
        if i % 2 == 0:
            wf.fire(t.id, "ask", AGENT, comment="?", at=at)
        else:
            wf.comment(t.id, CUSTOMER, "!", at=at)
    return wf.get(t.id)


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument(
        "--tickets", type=int, default=100_000, help="tickets in the attainment report (default: %(default)s)"
    )
    options.add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.tickets = 2_000
    rounds, calls = (1, 50) if args.quick else (7, 2000)
    lc = tf.builtin("zendesk").extend(POLICY)
    wf = tf.Workflow(lc)
    assert wf.sla_policy is not None
    # Events carry UTC instants, as a workflow on the SystemClock records them.
    start = datetime(2026, 3, 2, 9, 3, tzinfo=NY).astimezone(UTC)
    ticket = fifty_event_ticket(wf, start)
    history = wf.history(ticket.id)
    assert len(history) == 50
    now = start + timedelta(days=3)
    tf.evaluate(wf.sla_policy, lc, ticket, history, now)
    samples = []
    for _ in range(rounds):
        n = calls
        began = time.perf_counter()
        for _ in range(n):
            tf.evaluate(wf.sla_policy, lc, ticket, history, now)
        samples.append((time.perf_counter() - began) / n * 1e6)
    per_ticket = statistics.median(samples)

    report_wf = tf.Workflow(lc)
    items = []
    for i in range(args.tickets):
        opened = start + timedelta(minutes=(i * 7) % (60 * 24 * 20))
        t, event = lc.engine.open(
            f"T{i}", CUSTOMER, opened, title="r", fields={"category": "question" if i % 3 else "work_request"}
        )
        events = [event]
        for k, (trigger, actor, minutes) in enumerate(
            [
                ("ask", AGENT, 50),
                ("comment", CUSTOMER, 90),
                ("ask", AGENT, 30),
                ("comment", CUSTOMER, 200),
                ("solve", AGENT, 45),
            ]
        ):
            t, e, _ = lc.engine.apply(
                t,
                trigger,
                actor,
                t.updated_at + timedelta(minutes=minutes + k + i % 60),
                comment=tf.Comment(actor.id, "x"),
            )
            events.append(e)
        items.append((t, events))
    del report_wf
    began = time.perf_counter()
    report = tf.attainment(wf.sla_policy, lc, items, start + timedelta(days=30))
    elapsed = time.perf_counter() - began
    print("SLA evaluation (4 metrics, business calendar with lunch break and US holidays)")
    print(f"{'µs per evaluate, one ticket with 50 events':<52}{per_ticket:>12.1f}")
    print(f"{f'attainment report over {args.tickets:,} tickets, tickets/s':<52}{args.tickets / elapsed:>12,.0f}")
    for m in report.metrics:
        print(f"  {m.line()}")


if __name__ == "__main__":
    main()
