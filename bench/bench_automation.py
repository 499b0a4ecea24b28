"""Sweeper throughput on SQLite: run_due over a large database with some tickets due, then delivery.

Run: .venv/bin/python bench/bench_automation.py [--tickets 1000000 --due 10000]  (or `make bench`)

Bulk-loads N Zendesk-style tickets that are pending (opened, then asked a
question), of which D have their 24-hour reminder due, then times
`Workflow.run_due` until nothing is due: rules fired and committed per second
(each an event + an outbox message in one transaction), and an idle sweep
(nothing due) in ms. Then the D reminders are delivered from copies of the
database by 1 sweeper and by 4 sweeper processes (each message claimed with a
lease, the notifier appending its key to a file): messages per second, and
duplicates (keys delivered more than once), which must be 0. No assertion: the
table is the result.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _options as options  # bench/_options.py: --help and --quick for every script
import attrs

import ticketflow as tf
from ticketflow.repository._codec import dumps, epoch_us, event_to_json

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
CUSTOMER = tf.Actor("customer", roles={"requester"})
AGENT = tf.Actor("agent", roles={"agent"})


#: The columns a bulk load fills (named, so a column added later is left NULL).
BULK_TICKETS = (
    "INSERT INTO tickets (id, lifecycle_id, state, version, created_at, updated_at, updated_us, title, fields, "
    "requester, assignee, participants, due_at, due_us, fold) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def fill(path: str, count: int, due: int, folds: bool = True) -> None:
    """Bulk-load *count* pending zendesk tickets, *due* of them with their reminder due.

    With *folds*, each ticket's fold is stored as this version's writes store
    it; without, it is left NULL, as in a store written before folds (each
    ticket's first write then folds its history).
    """
    tf.SQLiteRepository(path)  # creates the schema
    lc = tf.builtin("zendesk")
    opened, open_event = lc.engine.open("template", CUSTOMER, T0, title="bulk", fields={"category": "question"})
    _, ask_event, _ = lc.engine.apply(opened, "ask", AGENT, T0, comment=tf.Comment(AGENT.id, "?"))
    fold = None
    if folds:  # the same for every ticket: the same two events (seqs 1 and 2), folded by the Workflow's own folder
        scheduler = tf.Workflow(lc, tf.MemoryRepository())._scheduler
        folded = scheduler.folder.extend((), [open_event, ask_event])
        assert folded is not None
        head, seqs = scheduler.stored_fold(folded)
        fold = dumps([head, *seqs])
    # each event as this version stores it (the ticket id is the row's): the opening, and the question at either time
    opening = event_to_json(open_event)
    stored_ask = {at: event_to_json(attrs.evolve(ask_event, at=at)) for at in (T0, T0 + timedelta(hours=25))}
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    step = max(1, count // due)
    batch = 50_000
    for start in range(0, count, batch):
        rows, events = [], []
        for i in range(start, min(start + batch, count)):
            tid = f"T{i:08d}"
            # 1 in `step` tickets was asked 25 hours ago; the others just now, so their reminders are far off
            asked_at = T0 if i % step == 0 else T0 + timedelta(hours=25)
            reminder = asked_at + timedelta(hours=24)
            rows.append(
                (tid, "zendesk", "pending", 2, T0.isoformat(), asked_at.isoformat(), epoch_us(asked_at), "bulk",
                 '{"category":"question"}', "customer", None, "[]", reminder.isoformat(), epoch_us(reminder), fold)
            )  # fmt: skip
            events.append((tid, 1, opening))
            events.append((tid, 2, stored_ask[asked_at]))
        conn.executemany(BULK_TICKETS, rows)
        conn.executemany("INSERT INTO events VALUES (?,?,?)", events)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def deliver_all(path: str, log: str, start: float) -> None:
    """One sweeper process: deliver reminders until none is pending (the notifier appends each key to *log*)."""
    registry = tf.Registry()
    out = open(log, "a")  # noqa: SIM115 - closed below; one file per process

    def note(message: tf.OutboxMessage) -> None:
        out.write(message.key + "\n")

    registry.add_notifier("requester_reminder", note)
    repo = tf.SQLiteRepository(path)
    now = T0 + timedelta(hours=24, minutes=1)
    wf = tf.Workflow(tf.builtin("zendesk"), repo, clock=tf.SteppableClock(now), registry=registry)
    sweeper = tf.Sweeper(wf, batch=100)
    while time.time() < start:
        time.sleep(0.001)
    while repo.pending_messages(1):
        sweeper.run_once()
    out.close()


def delivery_row(path: str, folder: str, sweepers: int) -> tuple[float, int, int]:
    """Deliver the outbox of a copy of *path* with N sweeper processes: (messages/s, delivered, duplicates)."""
    copy = f"{folder}/deliver-{sweepers}.db"
    shutil.copy(path, copy)
    logs = [f"{folder}/sent-{sweepers}-{i}.log" for i in range(sweepers)]
    start = time.time() + 1.0  # all start together, after their imports
    procs = [multiprocessing.Process(target=deliver_all, args=(copy, log, start)) for log in logs]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    elapsed = time.time() - start
    keys = Counter(key for log in logs if Path(log).exists() for key in Path(log).read_text().split())
    return sum(keys.values()) / elapsed, sum(keys.values()), sum(count - 1 for count in keys.values())


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument(
        "--tickets", type=int, default=1_000_000, help="pending tickets in the file (default: %(default)s)"
    )
    parser.add_argument(
        "--due", type=int, default=10_000, help="how many of them have a reminder due (default: %(default)s)"
    )
    parser.add_argument(
        "--no-folds",
        action="store_true",
        help="leave each ticket's fold NULL, as a store written before folds (its first write folds its history)",
    )
    options.add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.tickets, args.due = 2_000, 100
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/sweep.db"
        began = time.perf_counter()
        fill(path, args.tickets, args.due, folds=not args.no_folds)
        load_s = time.perf_counter() - began
        now = T0 + timedelta(hours=24, minutes=1)
        wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(path), clock=tf.SteppableClock(now))
        fired = 0
        began = time.perf_counter()
        while True:
            result = wf.run_due(limit=500)
            fired += len(result.fired)
            if not result.tickets:
                break
        elapsed = time.perf_counter() - began
        idle = []
        for _ in range(50):
            start = time.perf_counter()
            wf.run_due(limit=500)
            idle.append((time.perf_counter() - start) * 1000)
        pending = len(wf.repository.pending_messages(limit=args.due + 10))
        wf.repository.close()  # type: ignore[attr-defined]
        rows = {n: delivery_row(path, folder, n) for n in (1, 4)}
    stored = "folds NULL, as before folds" if args.no_folds else "folds stored"
    print(f"Sweeper on SQLite: {args.tickets:,} pending tickets, {args.due:,} with a reminder due ({stored})")
    print(f"{'rules fired and committed per second':<44}{fired / elapsed:>12,.0f}")
    print(f"{'  (rules fired, outbox messages written)':<44}{fired:>12,}{pending:>10,}")
    print(f"{'idle sweep, nothing due (ms, median of 50)':<44}{statistics.median(idle):>12.3f}")
    print(f"{'  (bulk load, s)':<44}{load_s:>12.1f}")
    for sweepers, (rate, delivered, duplicates) in rows.items():
        label = f"{sweepers} sweeper process{'es' if sweepers > 1 else ''} delivering: messages/s"
        print(f"{label:<44}{rate:>12,.0f}  ({delivered:,} delivered, {duplicates} duplicates)")
    print(f"{'  4 sweepers / 1 (ratio, same run)':<44}{rows[4][0] / rows[1][0]:>12.2f}")


if __name__ == "__main__":
    main()
