"""SQLite storage: committed fires per second, due() at a million tickets, bytes per ticket.

Run: .venv/bin/python bench/bench_storage.py [--tickets 1000000]  (or `make bench`)

Prints, in one run on this machine:
- committed `Workflow.fire`s per second on one SQLite file: one writer, and four
  processes each firing on their own tickets (every fire is its own committed
  transaction: ticket row, event, tags);
- `due(now, 100)` latency with N tickets (default 1,000,000) of which 1% are
  due, and SQLite's query plan for it (an index search, not a scan);
- the file size per ticket with a 10-event history.
With ``--postgres URL`` (or TICKETFLOW_TEST_POSTGRES_URL set) it adds a
PostgreSQL column: committed fires per second with 1, 4 and 8 worker
processes (and with 1 and 4 without the Workflow's ticket cache, so that every
fire reads its ticket first; and 4 processes firing on random tickets of 200
they all share, where a cached copy is often stale), and rules fired per
second by 1, 2 and 4 sweepers over due timers.
Parallel workers (and sweepers) prepare, then start together on a barrier, so
the measured window has all of them running. No assertion: the table is the
result.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _options as options  # bench/_options.py: --help and --quick for every script

import ticketflow as tf
from ticketflow.repository._codec import dumps, epoch_us, event_to_dict

HERE = Path(__file__).resolve().parent
LIFECYCLE = HERE.parent / "examples" / "custom_lifecycle.toml"
AGENT = tf.Actor("agent", roles={"agent"})
REQUESTER = tf.Actor("r", roles={"requester"})
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


#: The columns a bulk load fills (named: a column added later, such as the fold, is left NULL).
BULK_TICKETS = (
    "INSERT INTO tickets (id, lifecycle_id, state, version, created_at, updated_at, updated_us, title, fields, "
    "requester, assignee, participants, due_at, due_us) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _prepare(wf: tf.Workflow, count: int) -> list[str]:
    ids = []
    for i in range(count):
        t = wf.open(REQUESTER, title=f"bench {i}", at=T0)
        wf.fire(t.id, "triage", AGENT, fields={"category": "access", "priority": "high"}, at=T0)  # staff set priority
        ids.append(t.id)
    return ids


def _repository(where: str) -> tf.TicketRepository:
    """SQLite for a path; PostgreSQL for ``postgresql...#schema``."""
    if where.startswith("postgresql"):
        from ticketflow.repository.postgres import PostgresRepository

        url, _, schema = where.partition("#")
        repo: tf.TicketRepository = PostgresRepository(url, schema=schema)
        return repo
    return tf.SQLiteRepository(where)


def fires_per_second(path: str, fires: int, prefix: str = "", cache: int = 1024) -> float:
    """Fire `escalate` round-robin on 50 own tickets; committed fires per second."""
    done, start, end, _, _ = _worker((path, fires, prefix, cache, None))
    return done / (end - start)


def _worker(args: tuple[str, int, str, int, Any]) -> tuple[int, float, float, tuple[int, int], tuple[int, int]]:
    """Fire `escalate` round-robin on 50 own tickets; (fires, start, end, CPU at start, CPU at end).

    With a barrier, every worker starts firing once all have prepared their
    tickets, so the measured window has them all running. ``cache`` is the
    Workflow's ``ticket_cache`` (0: every fire reads its ticket first).
    """
    path, fires, prefix, cache, barrier = args
    counter = iter(range(10**9))
    wf = tf.Workflow(
        tf.load_lifecycle(LIFECYCLE),
        _repository(path),
        id_factory=lambda: f"{prefix}{next(counter)}",
        ticket_cache=cache,
    )
    ids = _prepare(wf, 50)
    if barrier is not None:
        barrier.wait()
    start, cpu = time.time(), _cpu()
    for i in range(fires):
        wf.fire(ids[i % 50], "escalate", AGENT, at=T0)
    return fires, start, time.time(), cpu, _cpu()


SHARED = 200


def _shared_worker(args: tuple[str, int, int, Any]) -> tuple[int, float, float, tuple[int, int], tuple[int, int]]:
    """Fire `escalate` on random tickets of SHARED all workers share (the cache hits only when no one else came)."""
    import random

    path, fires, seed, barrier = args
    wf = tf.Workflow(tf.load_lifecycle(LIFECYCLE), _repository(path), max_retries=1000)
    rng = random.Random(seed)
    ids = [f"S{i}" for i in range(SHARED)]
    barrier.wait()
    start, cpu = time.time(), _cpu()
    for _ in range(fires):
        wf.fire(rng.choice(ids), "escalate", AGENT, at=T0)
    return fires, start, time.time(), cpu, _cpu()


def shared_fires_per_second(path: str, fires: int, processes: int) -> tuple[float, float]:
    """Committed fires per second of *processes* workers on SHARED common tickets; and the CPU busy fraction."""
    counter = iter(range(SHARED))
    wf = tf.Workflow(tf.load_lifecycle(LIFECYCLE), _repository(path), id_factory=lambda: f"S{next(counter)}")
    _prepare(wf, SHARED)
    return _together(_shared_worker, [(path, fires, seed) for seed in range(processes)])


def _cpu() -> tuple[int, int]:
    """The machine's (busy, total) CPU time in clock ticks from /proc/stat ((0, 0) where there is none)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # all but idle and iowait


def _together(function: Any, arguments: list[tuple[Any, ...]]) -> tuple[float, float]:
    """Run *function* in one spawned process per argument tuple, started together.

    Returns items per second and the machine's CPU busy fraction over the
    measured window (from the first start to the last end; NaN without /proc/stat).
    """
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(len(arguments)) as pool:
        barrier = manager.Barrier(len(arguments))
        results = pool.map(function, [(*a, barrier) for a in arguments])
    total = sum(r[0] for r in results)
    first = min(results, key=lambda r: r[1])
    last = max(results, key=lambda r: r[2])
    busy, ticks = last[4][0] - first[3][0], last[4][1] - first[3][1]
    return total / (last[2] - first[1]), busy / ticks if ticks else float("nan")


def parallel_fires_per_second(path: str, fires: int, processes: int, cache: int = 1024) -> tuple[float, float]:
    """Committed fires per second of *processes* workers, each firing *fires* times; and the CPU busy fraction."""
    return _together(_worker, [(path, fires, f"p{i}-", cache) for i in range(processes)])


def fill_million(path: str, count: int) -> tf.SQLiteRepository:
    """Bulk-load *count* tickets (one opening event each), 1% of them due."""
    repo = tf.SQLiteRepository(path)
    lc = tf.load_lifecycle(LIFECYCLE)
    _ticket, event = lc.engine.open("template", REQUESTER, T0, title="bulk")
    body = event_to_dict(event)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    batch = 50_000
    for start in range(0, count, batch):
        rows = []
        events = []
        for i in range(start, min(start + batch, count)):
            tid = f"T{i:08d}"
            due = T0 + timedelta(minutes=i % 100) if i % 100 == 0 else T0 + timedelta(days=30 + i % 1000)
            rows.append(
                (tid, "helpdesk", "new", 1, T0.isoformat(), T0.isoformat(), 0, "bulk", '{"priority":"normal"}',
                 "r", None, "[]", due.isoformat(), epoch_us(due))
            )  # fmt: skip
            events.append((tid, 1, dumps({**body, "ticket_id": tid})))
        conn.executemany(BULK_TICKETS, rows)
        conn.executemany("INSERT INTO events VALUES (?,?,?)", events)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return repo


def due_latency_ms(repo: tf.SQLiteRepository, calls: int = 200) -> float:
    now = T0 + timedelta(days=1)
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        page = repo.due(now, 100)
        samples.append((time.perf_counter() - start) * 1000)
    assert len(page) == 100
    return statistics.median(samples)


def bytes_per_ticket(path: str, tickets: int = 1000) -> float:
    wf = tf.Workflow(tf.load_lifecycle(LIFECYCLE), tf.SQLiteRepository(path))
    for i in range(tickets):
        t = wf.open(REQUESTER, title=f"Printer on floor {i % 7} jams", at=T0)  # priority: the default, normal
        wf.fire(t.id, "triage", AGENT, fields={"category": "hardware"}, comment="Looking into it", at=T0)
        wf.fire(t.id, "start", AGENT, assignee="agent", at=T0)
        for k in range(3):
            wf.fire(t.id, "ask", AGENT, comment=f"Question {k}?", at=T0)
            wf.comment(t.id, REQUESTER, f"Answer {k}.", at=T0)
        wf.fire(t.id, "resolve", AGENT, fields={"resolution": "Replaced the roller"}, at=T0)
    assert len(wf.history(t.id)) == 10
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return Path(path).stat().st_size / tickets


def _sweeper(args: tuple[str, str, Any]) -> tuple[int, float, float, tuple[int, int], tuple[int, int]]:
    where, now_iso, barrier = args
    wf = tf.Workflow(
        tf.builtin("zendesk"), _repository(where), clock=tf.SteppableClock(datetime.fromisoformat(now_iso))
    )
    fired = 0
    barrier.wait()
    start, cpu = time.time(), _cpu()
    while True:
        result = wf.run_due(limit=100)
        fired += len(result.fired)
        if not result.tickets:
            return fired, start, time.time(), cpu, _cpu()


def postgres_table(url: str, fires: int, timers: int, quick: bool = False) -> list[str]:
    import uuid

    import sqlalchemy as sa

    lines = [f"{'PostgreSQL (same machine, sharing the 2 cores)':<48}{'per second':>12}{'CPU busy':>10}"]
    schemas = []

    def row(label: str, result: tuple[float, float]) -> str:
        return f"{label:<48}{result[0]:>12,.0f}{result[1]:>10.0%}"

    try:
        configs = ((2, 1024), (2, 0)) if quick else ((1, 1024), (4, 1024), (8, 1024), (1, 0), (4, 0))
        for processes, cache in configs:
            schema = f"tf_bench_{uuid.uuid4().hex[:10]}"
            schemas.append(schema)
            where = f"{url}#{schema}"
            _repository(where).close()  # type: ignore[attr-defined]
            label = f"fires, {processes} process(es)" + ("" if cache else ", no ticket cache")
            lines.append(row(label, parallel_fires_per_second(where, fires, processes, cache)))
        schema = f"tf_bench_{uuid.uuid4().hex[:10]}"
        schemas.append(schema)
        sharing = 2 if quick else 4
        label = f"fires, {sharing} process(es) on {SHARED} shared tickets"
        lines.append(row(label, shared_fires_per_second(f"{url}#{schema}", fires, sharing)))
        for sweepers in (2,) if quick else (1, 2, 4):
            schema = f"tf_bench_{uuid.uuid4().hex[:10]}"
            schemas.append(schema)
            where = f"{url}#{schema}"
            store = _repository(where)
            lc = tf.builtin("zendesk")
            with store.transaction() as tx:
                for i in range(timers):
                    ticket, opened = lc.engine.open(f"Z{i:07d}", REQUESTER, T0, title="sweep")
                    asked, event, _ = lc.engine.apply(ticket, "ask", AGENT, T0, comment=tf.Comment("agent", "?"))
                    tx.add(asked, [opened, event], due=T0 + timedelta(hours=24))
            now = (T0 + timedelta(hours=25)).isoformat()
            store.close()  # type: ignore[attr-defined]
            lines.append(
                row(
                    f"rules fired, {sweepers} sweeper(s), {timers:,} due",
                    _together(_sweeper, [(where, now)] * sweepers),
                )
            )
    finally:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for schema in schemas:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
    return lines


def sqlite_table(tickets: int, fires: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        one = fires_per_second(f"{folder}/one.db", fires)
        uncached = fires_per_second(f"{folder}/uncached.db", fires, cache=0)
        four, _ = parallel_fires_per_second(f"{folder}/four.db", fires, 4)
        size = bytes_per_ticket(f"{folder}/size.db")
        start = time.perf_counter()
        repo = fill_million(f"{folder}/million.db", tickets)
        load_s = time.perf_counter() - start
        latency = due_latency_ms(repo)
        plan = repo.explain_due(T0 + timedelta(days=1))
    print("SQLite storage (WAL, synchronous=NORMAL), one file")
    print(f"{'committed fires/s, 1 writer':<48}{one:>12,.0f}")
    print(f"{'committed fires/s, 1 writer, no ticket cache':<48}{uncached:>12,.0f}")
    print(f"{'committed fires/s, 4 processes on one file':<48}{four:>12,.0f}")
    print(f"{'file bytes per ticket with a 10-event history':<48}{size:>12,.0f}")
    print(f"{f'due(now, 100) with {tickets:,} tickets, 1% due (ms)':<48}{latency:>12.3f}")
    print(f"{'  (bulk load of those tickets, s)':<48}{load_s:>12.1f}")
    print(f"query plan of due(): {'; '.join(plan)}")


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument(
        "--tickets",
        type=int,
        default=1_000_000,
        help="tickets in the file for the due() latency row (default: %(default)s)",
    )
    parser.add_argument(
        "--fires", type=int, default=5_000, help="fires per worker in the fires/s rows (default: %(default)s)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TICKETFLOW_TEST_POSTGRES_URL"),
        metavar="URL",
        help="also measure PostgreSQL at this URL (default: $TICKETFLOW_TEST_POSTGRES_URL; none: SQLite only)",
    )
    parser.add_argument(
        "--timers",
        type=int,
        default=10_000,
        help="due timed rules for the PostgreSQL sweeper rows (default: %(default)s)",
    )
    parser.add_argument("--postgres-only", action="store_true", help="skip the SQLite rows")
    options.add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.tickets, args.fires, args.timers = 10_000, 50, 50  # 1% due: the 100 a due() page asks for
    if not args.postgres_only:
        sqlite_table(args.tickets, args.fires)
    if args.postgres:
        for line in postgres_table(args.postgres, args.fires, args.timers, quick=args.quick):
            print(line)
    else:
        print("PostgreSQL: not measured (pass --postgres URL or set TICKETFLOW_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
