"""Lifecycle migration speed: tickets migrated per second, on SQLite and on PostgreSQL with 4 workers.

Run: .venv/bin/python bench/bench_migrate.py [--tickets 100000] [--postgres URL]  (or `make bench`)

Loads N tickets of examples/custom_lifecycle.toml (version 1; a third of them
waiting on the requester) in bulk, then migrates them to
examples/custom_lifecycle_v2.toml with examples/migrate_v1_to_v2.toml: one
``migrated`` event per ticket, due instant recomputed, batches of 200 through
the recorder. The peer row, measured in the same run on the same store, is
committed fires per second (``wf.update`` one ticket at a time), the write
every application makes; the ratio says what a migrated ticket costs next to
it. With ``--postgres URL`` (or TICKETFLOW_TEST_POSTGRES_URL), the same on
PostgreSQL with 4 worker processes (``part=(i, 4)``), then a re-run that
finds nothing left to move. No assertion: the table is the result.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _options as options  # bench/_options.py: --help and --quick for every script

import ticketflow as tf

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REQUESTER = tf.Actor("r", roles={"requester"})
AGENT = tf.Actor("agent", roles={"agent"})
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
AT = T0 + timedelta(days=1)


def versions() -> tuple[tf.Lifecycle, tf.Lifecycle, tf.MigrationPlan]:
    v1 = tf.load_lifecycle(EXAMPLES / "custom_lifecycle.toml")
    v2 = tf.load_lifecycle(EXAMPLES / "custom_lifecycle_v2.toml")
    return v1, v2, tf.load_migration(EXAMPLES / "migrate_v1_to_v2.toml", v1, v2)


def repository(where: str) -> tf.TicketRepository:
    """SQLite for a path; PostgreSQL for ``postgresql...#schema``."""
    if where.startswith("postgresql"):
        import ticketflow.repository.postgres as pg

        url, _, schema = where.partition("#")
        kind: Any = getattr(pg, "PostgresRepository", None) or pg.SQLAlchemyRepository
        repo: tf.TicketRepository = kind(url, schema=schema)
        return repo
    return tf.SQLiteRepository(where)


def close(repo: tf.TicketRepository) -> None:
    closing = getattr(repo, "close", None)
    if closing is not None:
        closing()


def load(repo: tf.TicketRepository, count: int) -> None:
    """*count* version-1 tickets in bulk: two thirds new, one third waiting on the requester."""
    v1 = tf.load_lifecycle(EXAMPLES / "custom_lifecycle.toml")
    engine = v1.engine
    for first in range(0, count, 1000):
        with repo.transaction() as tx:
            for i in range(first, min(count, first + 1000)):
                ticket, opened = engine.open(f"M{i:07d}", REQUESTER, T0, title="bench", fields={"category": "access"})
                events = [opened]
                if i % 3 == 0:
                    for trigger, extra in (("triage", {}), ("start", {"attributes": {"assignee": "agent"}})):
                        ticket, event, _ = engine.apply(ticket, trigger, AGENT, T0, **extra)
                        events.append(event)
                    ticket, event, _ = engine.apply(ticket, "ask", AGENT, T0, comment=tf.Comment("agent", "?"))
                    events.append(event)
                tx.add(ticket, events, due=None)


def migrate(where: str, part: tuple[int, int] = (0, 1)) -> tuple[int, float]:
    """Migrate this worker's part; (tickets moved, seconds)."""
    v1, v2, plan = versions()
    repo = repository(where)
    wf = tf.Workflow(v2, repo, previous=[v1])
    start = time.perf_counter()
    report = wf.migrate(plan, part=part, at=AT)
    seconds = time.perf_counter() - start
    close(repo)
    return report.migrated, seconds


def _worker(args: tuple[str, int, int]) -> tuple[int, float, float]:
    where, index, count = args
    start = time.perf_counter()
    moved, _ = migrate(where, (index, count))
    return moved, start, time.perf_counter()


def updates_per_second(where: str, count: int) -> float:
    """The peer: committed ``wf.update`` calls per second on the same store (version-2 tickets)."""
    v1, v2, _ = versions()
    repo = repository(where)
    wf = tf.Workflow(v2, repo, previous=[v1])
    ids = [t.id for t in repo.find(limit=count, lifecycle_id=v2.id).tickets]
    start = time.perf_counter()
    for i, ticket_id in enumerate(ids):
        wf.update(ticket_id, AGENT, fields={"priority": "high" if i % 2 else "low"}, at=AT)
    seconds = time.perf_counter() - start
    close(repo)
    return len(ids) / seconds


def sqlite_rows(tickets: int, peers: int) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        where = f"{folder}/migrate.db"
        repo = repository(where)
        load(repo, tickets)
        close(repo)
        moved, seconds = migrate(where)
        again, again_s = migrate(where)
        rate = moved / seconds
        peer = updates_per_second(where, peers)
    return [
        f"{f'SQLite: {moved:,} tickets migrated, tickets/s':<56}{rate:>12,.0f}",
        f"{'SQLite: peer, committed wf.update/s (one at a time)':<56}{peer:>12,.0f}",
        f"{'SQLite: migrated/s vs update/s':<56}{rate / peer:>12.2f}x",
        f"{f'SQLite: re-run, {again} moved, seconds':<56}{again_s:>12.1f}",
    ]


def postgres_rows(url: str, tickets: int, peers: int, workers: int) -> list[str]:
    import sqlalchemy as sa

    schema = f"tf_bench_{uuid.uuid4().hex[:10]}"
    where = f"{url}#{schema}"
    try:
        repo = repository(where)
        load(repo, tickets)
        close(repo)
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers) as pool:
            results = pool.map(_worker, [(where, i, workers) for i in range(workers)])
        moved = sum(r[0] for r in results)
        seconds = max(r[2] for r in results) - min(r[1] for r in results)
        again, _ = migrate(where)
        peer = updates_per_second(where, peers)
    finally:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
    rate = moved / seconds
    return [
        f"{f'PostgreSQL: {moved:,} tickets migrated, {workers} workers, tickets/s':<56}{rate:>12,.0f}",
        f"{'PostgreSQL: peer, committed wf.update/s (1 process)':<56}{peer:>12,.0f}",
        f"{'PostgreSQL: migrated/s vs update/s':<56}{rate / peer:>12.2f}x",
        f"{'PostgreSQL: re-run, tickets moved':<56}{again:>12,}",
    ]


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets to migrate (default: %(default)s)")
    parser.add_argument(
        "--peers", type=int, default=2_000, help="wf.update calls in the peer row (default: %(default)s)"
    )
    parser.add_argument("--workers", type=int, default=4, help="PostgreSQL worker processes (default: %(default)s)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TICKETFLOW_TEST_POSTGRES_URL"),
        metavar="URL",
        help="also measure PostgreSQL at this URL (default: $TICKETFLOW_TEST_POSTGRES_URL; none: SQLite only)",
    )
    parser.add_argument("--postgres-only", action="store_true", help="skip the SQLite rows")
    options.add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.tickets, args.peers = 600, 100
    if not args.postgres_only:
        for line in sqlite_rows(args.tickets, args.peers):
            print(line, flush=True)
    if args.postgres:
        for line in postgres_rows(args.postgres, args.tickets, args.peers, args.workers):
            print(line, flush=True)
    else:
        print("PostgreSQL: skipped (no --postgres URL and no TICKETFLOW_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
