"""Change a lifecycle while tickets are in flight: version 1 -> version 2 with a checked plan.

Run it with ``python examples/migrate_lifecycle.py``. Version 1 is
``custom_lifecycle.toml``; version 2 (``custom_lifecycle_v2.toml``) renames a
state, removes another, renames a field and requires a new one. The plan
(``migrate_v1_to_v2.toml``) says where each goes; it is checked against both
versions, run dry, then applied: each ticket gets one ``migrated`` event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import ticketflow as tf

HERE = Path(__file__).parent
REQUESTER = tf.Actor("dana", roles={"requester"})
AGENT = tf.Actor("sam", roles={"agent"})
LEAD = tf.Actor("lee", roles={"lead"})


def main(db: Path | None = None) -> tf.MigrationReport:
    """Open tickets under version 1 (SQLite at *db*, else memory), migrate them, use them under version 2."""
    v1 = tf.load_lifecycle(HERE / "custom_lifecycle.toml")
    v2 = tf.load_lifecycle(HERE / "custom_lifecycle_v2.toml")
    repository: tf.TicketRepository = tf.SQLiteRepository(db) if db is not None else tf.MemoryRepository()
    clock = tf.SteppableClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    old = tf.Workflow(v1, repository, clock=clock)  # the process running today
    waiting = old.open(REQUESTER, title="VPN drops", fields={"category": "access"})
    old.fire(waiting.id, "triage", AGENT)
    old.fire(waiting.id, "start", AGENT, assignee="sam")
    old.fire(waiting.id, "ask", AGENT, comment="Which office?")
    rejected = old.open(REQUESTER, title="Buy me a yacht")
    old.fire(rejected.id, "reject", LEAD, comment="Not IT's to buy")
    old.open(REQUESTER, title="New laptop")
    clock.advance(timedelta(hours=1))

    new = tf.Workflow(v2, repository, clock=clock, previous=[v1])  # the process deployed next
    plan = tf.load_migration(HERE / "migrate_v1_to_v2.toml", v1, v2)  # checked against both versions
    print("\n".join(new.migrate(plan, dry_run=True).lines()))
    report = new.migrate(plan)
    print("\n".join(report.lines()))

    ticket = new.get(waiting.id)
    print(f"{ticket.title}: {ticket.state}, kind={ticket.fields['kind']}, team={ticket.fields['team']}")
    last = new.history(waiting.id)[-1]
    print(f"  event {last.seq}: {last.trigger} {last.source} -> {last.target}, {last.meta['migrated']['states']}")
    answered = new.comment(waiting.id, REQUESTER, "Berlin office")
    print(f"  after the customer's answer: {answered.state}")
    closed = new.get(rejected.id)
    print(f"{closed.title}: {closed.state}, resolution={closed.fields['resolution']}")
    print("\n".join(new.migrate(plan).lines()))  # a re-run moves nothing twice
    close = getattr(repository, "close", None)
    if close is not None:
        close()
    return report


if __name__ == "__main__":
    main()
