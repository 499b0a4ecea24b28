"""A fire on a lifecycle with an SLA policy: cost by history length, with and without the ticket cache.

Run: .venv/bin/python bench/bench_fire_history.py [--postgres URL]  (or `make bench`)

With an SLA policy (here the built-in `zendesk`), the next due instant after
a fire depends on the ticket's history, through its fold (the events its
clocks and timed rules read, stored with the ticket). Without the
Workflow's ticket cache a fire reads the ticket and its stored fold back;
with it, a fire on a ticket this Workflow saved last starts from the copy
and the fold kept with it. Prints µs per fire (an internal comment) on tickets with 10, 50 and
200 events, on SQLite and, with ``--postgres URL`` (or
TICKETFLOW_TEST_POSTGRES_URL set), on PostgreSQL; the last column is
cached / uncached. A second table does the same on tickets whose events are
public replies, alternating sides: each starts or stops a reply clock, so
the fold holds every event, and the cached copy's fold must keep its state
for a fire to grow it by its own event only. No assertion: the table is the
result.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import _options as options  # bench/_options.py: --help and --quick for every script

import ticketflow as tf

AGENT = tf.Actor("agent", roles={"agent"})
CUSTOMER = tf.Actor("customer", roles={"requester"})
T0 = datetime(2026, 1, 5, 14, tzinfo=UTC)
TICKETS = 20
ROUNDS = 10
HISTORIES = (10, 50, 200)  # events per ticket, one row each
REPLIES = (10, 1000)  # events per ticket of public replies, one row each (on fewer tickets)


def per_fire_us(repository: Any, events: int, cache: int, replies: bool = False) -> float:
    """µs per internal comment on tickets holding *events* events (each fire adds one; ROUNDS per ticket).

    *replies*: the events are public replies, alternating sides (else internal notes).
    """
    wf = tf.Workflow(tf.builtin("zendesk"), repository, ticket_cache=cache)
    ids = []
    for _ in range(max(2, TICKETS // 5) if replies else TICKETS):
        ticket = wf.open(CUSTOMER, title="printer", at=T0)
        wf.fire(ticket.id, "take", AGENT, assignee="agent", at=T0)
        for n in range(events - 2):
            if replies:
                wf.comment(ticket.id, CUSTOMER if n % 2 else AGENT, f"reply {n}", at=T0)
            else:
                wf.comment(ticket.id, AGENT, "note", visibility="internal", at=T0)
        ids.append(ticket.id)
    samples = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        for ticket_id in ids:
            wf.comment(ticket_id, AGENT, "note", visibility="internal", at=T0)
        samples.append((time.perf_counter() - began) / len(ids) * 1e6)
    return statistics.median(samples)


def table(name: str, make: Any, replies: bool = False) -> None:
    print(f"{name:<36}{'cached µs':>12}{'uncached µs':>14}{'cached / uncached':>20}")
    for events in REPLIES if replies else HISTORIES:
        cached = per_fire_us(make(), events, 1024, replies)
        uncached = per_fire_us(make(), events, 0, replies)
        print(f"{f'  history of {events} events':<36}{cached:>12,.0f}{uncached:>14,.0f}{cached / uncached:>20.2f}")


def main() -> None:
    global TICKETS, ROUNDS, HISTORIES, REPLIES
    parser = options.parser(__doc__)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TICKETFLOW_TEST_POSTGRES_URL"),
        metavar="URL",
        help="also measure PostgreSQL at this URL (default: $TICKETFLOW_TEST_POSTGRES_URL; none: SQLite only)",
    )
    options.add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        TICKETS, ROUNDS, HISTORIES, REPLIES = 2, 1, (10,), (10,)
    with tempfile.TemporaryDirectory() as folder:
        files = iter(range(100))
        table("SQLite, zendesk (SLA policy)", lambda: tf.SQLiteRepository(f"{folder}/{next(files)}.db"))
        table("SQLite, zendesk, public replies", lambda: tf.SQLiteRepository(f"{folder}/{next(files)}.db"), True)
    if not args.postgres:
        print("PostgreSQL: not measured (pass --postgres URL or set TICKETFLOW_TEST_POSTGRES_URL)")
        return
    from ticketflow.repository.postgres import PostgresRepository

    made: list[PostgresRepository] = []

    def make() -> PostgresRepository:
        made.append(PostgresRepository(args.postgres, schema=f"tf_bench_{uuid.uuid4().hex[:10]}"))
        return made[-1]

    try:
        table("PostgreSQL, zendesk (SLA policy)", make)
    finally:
        for repository in made:
            repository.drop_schema()


if __name__ == "__main__":
    main()
