"""A small help desk on the embedded SQLite default: open, work, sweep, report.

Run it with ``python examples/helpdesk_sqlite.py [tickets.db]``; the test suite runs it too.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import ticketflow as tf


def main(path: Path) -> tf.SlaReport:
    """Three tickets through the Zendesk-style built-in, stored in *path*."""
    clock = tf.SteppableClock(datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("America/New_York")))
    registry = tf.Registry()
    registry.add_notifier("requester_reminder", lambda message: print(f"  e-mail to {message.payload['to']}: reminder"))
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(path), clock=clock, registry=registry)
    dana, sam = tf.Actor("dana", roles={"requester"}), tf.Actor("sam", roles={"agent"})

    quick = wf.open(dana, title="How do I export invoices?", fields={"category": "question"})
    slow = wf.open(dana, title="New landing page", fields={"category": "work_request"})
    silent = wf.open(dana, title="Logo variants", fields={"category": "work_request"})
    clock.advance(timedelta(minutes=20))
    wf.fire(quick.id, "solve", sam, comment="Settings > Export.")
    wf.fire(silent.id, "ask", sam, comment="Which formats do you need?")
    clock.advance(timedelta(hours=10))
    wf.fire(slow.id, "ask", sam, comment="Do you have a mock-up?")

    sweeper = tf.Sweeper(wf)
    for _ in range(8):  # a sweep a day for a week
        clock.advance(timedelta(days=1))
        sweeper.run_once()
    report = wf.sla_report()
    for metric in report.metrics:
        print(metric.line())
    for ticket in (quick, slow, silent):
        print(f"{ticket.title}: {wf.get(ticket.id).state}")
    return report


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "helpdesk.db"))
