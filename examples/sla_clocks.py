"""The Sighten and Zendesk promises, evaluated on a few tickets.

Run it with ``python examples/sla_clocks.py``; docs/sla.md shows its output and
the test suite checks the two agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import ticketflow as tf

NY = ZoneInfo("America/New_York")


def show(clock: tf.SlaClock) -> str:
    """One line per clock."""
    due = f"{clock.due_at:%a %d %b %H:%M}" if clock.due_at else "-"
    if not clock.cycles:
        state = "not started"
    else:
        state = "breached" if clock.breached else "paused" if clock.paused else "running" if clock.running else "met"
        if clock.early_by is not None:
            state += f" {clock.early_by} early"
    return (
        f"{clock.metric:<15} target {clock.target}  elapsed {clock.elapsed}  due {due}  {state}"
        f"  warned {list(clock.warned)}"
    )


def main() -> None:
    """Sighten: a Friday-afternoon ticket; Zendesk: a question and a work request."""
    customer = tf.Actor("dana@client.example", roles={"requester"})
    agent = tf.Actor("sam", roles={"agent"})

    clock = tf.SteppableClock(datetime(2026, 3, 6, 16, 0, tzinfo=NY))
    sighten = tf.Workflow(tf.builtin("sighten"), clock=clock)
    ticket = sighten.open(customer, title="Proposal PDF is blank")
    print("sighten, opened Fri 16:00:")
    for c in sighten.sla(ticket.id):
        print("  now        ", show(c))
    clock.set(datetime(2026, 3, 9, 9, 40, tzinfo=NY))
    for c in sighten.sla(ticket.id):
        print("  Mon 09:40  ", show(c))
    sighten.comment(ticket.id, agent, "Looking into it now.")
    for c in sighten.sla(ticket.id):
        print("  replied    ", show(c))

    clock = tf.SteppableClock(datetime(2026, 3, 9, 9, 0, tzinfo=NY))
    zendesk = tf.Workflow(tf.builtin("zendesk"), clock=clock)
    question = zendesk.open(customer, title="How do I export invoices?", fields={"category": "question"})
    work = zendesk.open(customer, title="New landing page", fields={"category": "work_request"})
    clock.advance(timedelta(minutes=45))
    zendesk.fire(question.id, "solve", agent, comment="Settings > Export.")
    clock.advance(timedelta(hours=3))
    print("zendesk, Mon 12:45:")
    for name, t in (("question", question), ("work request", work)):
        for c in zendesk.sla(t.id):
            print(f"  {name:<12}", show(c))


if __name__ == "__main__":
    main()
