"""One SLA policy, three regional calendars: each ticket counts in its organisation's office hours.

Run it with ``python examples/regional_sla.py``; docs/business-calendar.md
walks through it and the test suite checks what it prints.

Acme is served from Berlin, Globex from New York and Wombat from Sydney;
other organisations get the policy's default calendar (New York). A first
response is due within 2 business hours, a resolution within 16.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import ticketflow as tf

UTC = ZoneInfo("UTC")

LIFECYCLE = """
id = "regional_desk"
initial = "open"

[states.open]
[states.solved]
group = "closed"
terminal = true

[fields.organisation]
type = "text"

[[transitions]]
trigger = "solve"
source = "open"
dest = "solved"
roles = ["agent"]

[sla]
calendar = "new_york"                  # the default, for organisations not in the map

[sla.calendar_by]
field = "organisation"
map = { acme = "berlin", globex = "new_york", wombat = "sydney" }

[sla.calendars.berlin]
timezone = "Europe/Berlin"
hours = { mon-fri = ["09:00-17:00"] }
holidays = { country = "DE", subdiv = "BE" }

[sla.calendars.new_york]
timezone = "America/New_York"
hours = { mon-fri = ["09:00-17:00"] }
holidays = { country = "US", subdiv = "NY" }

[sla.calendars.sydney]
timezone = "Australia/Sydney"
hours = { mon-fri = ["09:00-17:00"] }
holidays = { country = "AU", subdiv = "NSW" }

[[sla.metrics]]
id = "first_response"
targets = [{ target = "2h" }]

[[sla.metrics]]
id = "resolution"
targets = [{ target = "16h" }]
"""


def line(clock: tf.SlaClock) -> str:
    """A clock's calendar, elapsed time and due instant in that calendar's zone."""
    cycle = clock.cycles[-1]
    due = f"{clock.due_at:%a %d %b %H:%M %Z}" if clock.due_at else "-"
    state = "met" if not clock.running and not clock.breached else "running" if clock.running else "breached"
    return f"{clock.metric:<15} {cycle.calendar:<9} elapsed {clock.elapsed}  due {due}  {state}"


def main() -> dict[str, list[tf.SlaClock]]:
    """Three tickets opened at one instant, a reply, then a change of organisation."""
    lifecycle = tf.loads_lifecycle(LIFECYCLE, "toml")
    clock = tf.SteppableClock(datetime(2026, 3, 6, 15, 0, tzinfo=UTC))  # Fri 16:00 Berlin, 10:00 New York
    wf = tf.Workflow(lifecycle, clock=clock)
    customer = tf.Actor("dana@customer.example", roles={"requester"})
    agent = tf.Actor("sam", roles={"agent"})

    tickets = {
        # the organisation is the team's to set (staff): the agent logs each customer's request
        org: wf.open(agent, title=f"{org}: cannot log in", fields={"organisation": org}, requester=customer.id)
        for org in ("acme", "globex", "wombat", "initech")
    }
    print("opened Fri 6 Mar 15:00 UTC")
    result = {}
    for org, ticket in tickets.items():
        result[org] = clocks = wf.sla(ticket.id)
        for c in clocks:
            print(f"  {org:<8}", line(c))

    # Monday: Acme's ticket gets its first answer, then moves to Globex (a new contract).
    clock.set(datetime(2026, 3, 9, 8, 30, tzinfo=UTC))  # 09:30 Berlin, 04:30 New York
    acme = tickets["acme"].id
    wf.comment(acme, agent, "We are on it.")
    clock.advance(timedelta(minutes=90))
    wf.update(acme, agent, fields={"organisation": "globex"})
    print("Mon 9 Mar 10:00 UTC: acme answered at 08:30, then moved to globex")
    result["moved"] = clocks = wf.sla(acme)
    for c in clocks:
        print("  moved   ", line(c))
    return result


if __name__ == "__main__":
    main()
