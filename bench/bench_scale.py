"""Scale: does a fire cost more as the store grows?

Run: .venv/bin/python bench/bench_scale.py [--quick] [--million]  (or `make bench`)

Prints, in one run on this machine, µs per fire on a MemoryRepository holding
2,000 / 40,000 / 200,000 tickets (``--million`` adds 1,000,000; ``--quick``
runs 2,000 and 10,000 only). Every ticket sits in a state with a timer, and
every measured fire moves its ticket's due instant (into a timed state and
back out), so the due index is updated on each save. Each fire is on a
different ticket with a 3-event history, so the history does not grow with
the run. The last column is the row's cost over the smallest store's, and a
bare `transitions` trigger is measured in the same run for scale.
No assertion: the table is the result.
"""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from subprocess import run
from typing import Any

from transitions import Machine

import ticketflow as tf

TIMED: dict[str, Any] = {
    "id": "timed",
    "initial": "waiting",
    "states": {"waiting": {}, "working": {}},
    "transitions": [
        {"trigger": "start", "source": "waiting", "dest": "working"},
        {"trigger": "pause", "source": "working", "dest": "waiting"},
    ],
    "timers": [{"id": "nudge", "state": "waiting", "after": "2h", "add_tags": ["nudged"]}],
}
AGENT = tf.Actor("agent-1", roles={"agent"})
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
FIRES = 2_000


def fill(size: int) -> tuple[tf.Workflow, list[str]]:
    """A Workflow on a memory store of *size* tickets, each waiting with its timer due."""
    wf = tf.Workflow(tf.load_lifecycle(TIMED))
    ids = []
    for n in range(size):
        ids.append(wf.open(AGENT, title="t", at=T0 + timedelta(seconds=n)).id)
    return wf, ids


def per_fire_us(wf: tf.Workflow, ids: list[str], rounds: int = 5) -> float:
    """Median µs per fire over *rounds* batches; each batch moves FIRES tickets out of and back into the timed state."""
    step = max(1, len(ids) // FIRES)
    sample = ids[::step][:FIRES]
    at = T0 + timedelta(seconds=len(ids), minutes=1)  # after every ticket's opening (fill opens one a second)
    samples = []
    for _ in range(rounds):
        gc.collect()
        began = time.perf_counter()
        for ticket_id in sample:
            wf.fire(ticket_id, "start", AGENT, at=at)
        for ticket_id in sample:
            wf.fire(ticket_id, "pause", AGENT, at=at)
        samples.append((time.perf_counter() - began) / (2 * len(sample)) * 1e6)
    return statistics.median(samples)


def bare_trigger_us(n: int = 20_000) -> float:
    """µs per bare `transitions` trigger on one shared machine (a model object, no storage)."""

    class Model:
        state = "waiting"

    machine = Machine(model=None, states=["waiting", "working"], initial="waiting", auto_transitions=False)
    machine.add_transition("start", "waiting", "working")
    machine.add_transition("pause", "working", "waiting")
    model = Model()
    machine.add_model(model)
    began = time.perf_counter()
    for _ in range(n // 2):
        model.start()  # type: ignore[attr-defined]
        model.pause()  # type: ignore[attr-defined]
    return (time.perf_counter() - began) / n * 1e6


IMPORTS = {
    "import transitions": "import transitions",
    "import ticketflow": "import ticketflow",
    "import ticketflow; tf.Workflow (first use)": "import ticketflow as tf; tf.Workflow",
}


def import_ms(statement: str, runs: int) -> float:
    """Median ms *statement* takes in a fresh interpreter (timed inside it, so start-up is not counted)."""
    script = f"import time\nb = time.perf_counter()\n{statement}\nprint(time.perf_counter() - b)"
    samples = []
    for _ in range(runs):
        done = run([sys.executable, "-c", script], capture_output=True, text=True, check=True)  # noqa: S603
        samples.append(float(done.stdout) * 1e3)
    return statistics.median(samples)


def import_rows(runs: int) -> None:
    """Import time next to `transitions`, each in fresh interpreters, alternating so load hits both alike."""
    samples: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(runs):
        for name, statement in IMPORTS.items():
            samples[name].append(import_ms(statement, 1))
    peer = statistics.median(samples["import transitions"])
    print(f"{'import (fresh interpreter)':<44}{'ms':>8}{'vs transitions':>16}")
    for name, values in samples.items():
        cost = statistics.median(values)
        print(f"{name:<44}{cost:>8.1f}{cost / peer:>16.2f}")


CUSTOMER = tf.Actor("customer", roles={"requester"})
STAFF = tf.Actor("agent", roles={"agent"})


def zendesk_history(repository: Any, events: int) -> tuple[tf.Workflow, str]:
    """A zendesk ticket holding *events* events (taken, then internal notes) in *repository*."""
    wf = tf.Workflow(tf.builtin("zendesk"), repository)
    ticket = wf.open(CUSTOMER, title="printer", at=T0)
    wf.fire(ticket.id, "take", STAFF, assignee="agent", at=T0)
    for n in range(events - 2):
        wf.comment(ticket.id, STAFF, f"note {n}", visibility="internal", at=T0 + timedelta(seconds=n))
    return wf, ticket.id


def best_us(run: Any, per: int, rounds: int) -> float:
    """Best µs per unit of *run* (which handles *per* units) over *rounds* runs."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) / per * 1e6)
    return min(samples)


def decode_rows(events: int, rounds: int, postgres: str | None) -> None:
    """µs per event decoded: the keyed objects stored before vs the flat arrays stored now, codec and stores."""
    from ticketflow.repository._codec import dumps, event_from_json, event_to_dict, event_to_json, events_from_json

    wf, ticket_id = zendesk_history(tf.MemoryRepository(), events)
    history = wf.history(ticket_id)
    old = [dumps(event_to_dict(e)) for e in history]
    new = [event_to_json(e) for e in history]
    print(
        f"{f'decode a history of {events:,} events':<44}{'objects µs/ev':>14}{'flat µs/ev':>12}{'objects / flat':>16}"
    )
    before = best_us(lambda: [event_from_json(body) for body in old], events, rounds)
    after = best_us(lambda: events_from_json(ticket_id, new), events, rounds)
    print(f"{'  codec (event_from_json vs events_from_json)':<44}{before:>14.2f}{after:>12.2f}{before / after:>16.2f}")
    with tempfile.TemporaryDirectory() as folder:
        repo = tf.SQLiteRepository(f"{folder}/decode.db")
        _, stored = zendesk_history(repo, events)
        flat = best_us(lambda: repo.history(stored), events, rounds)
        with sqlite3.connect(f"{folder}/decode.db") as conn:
            conn.executemany(
                "UPDATE events SET body = ? WHERE ticket_id = ? AND seq = ?",
                [(dumps(event_to_dict(e)), stored, e.seq) for e in repo.history(stored)],
            )
        objects = best_us(lambda: repo.history(stored), events, rounds)
        print(f"{'  SQLite history() (rows as stored)':<44}{objects:>14.2f}{flat:>12.2f}{objects / flat:>16.2f}")
    if postgres:
        from ticketflow.repository.postgres import PostgresRepository

        pg = PostgresRepository(postgres, schema=f"tf_bench_{uuid.uuid4().hex[:10]}")
        try:
            _, stored = zendesk_history(pg, events)
            flat = best_us(lambda: pg.history(stored), events, rounds)
            import sqlalchemy as sa

            with pg.engine.begin() as conn:
                for e in pg.history(stored):
                    conn.execute(
                        sa.text(f"UPDATE {pg._sql.events} SET body = :b WHERE ticket_id = :t AND seq = :s"),  # noqa: S608
                        {"b": dumps(event_to_dict(e)), "t": stored, "s": e.seq},
                    )
            objects = best_us(lambda: pg.history(stored), events, rounds)
            print(
                f"{'  PostgreSQL history() (rows as stored)':<44}{objects:>14.2f}{flat:>12.2f}{objects / flat:>16.2f}"
            )
        finally:
            pg.drop_schema()


TOGGLE: dict[str, Any] = {
    "id": "toggle",
    "initial": "waiting",
    "states": {"waiting": {}, "working": {}},
    "transitions": [
        {"trigger": "start", "source": "waiting", "dest": "working"},
        {"trigger": "pause", "source": "working", "dest": "waiting"},
    ],
}


def sqlite_vs_hand_written(tickets: int, rounds: int) -> None:
    """µs per fire on SQLite next to a hand-written transaction doing the same change on the same schema.

    The hand-written one keeps each ticket's state and version in a dict (as
    the Workflow's ticket cache does) and per change runs BEGIN IMMEDIATE,
    an UPDATE of state/version/updated_at with the version check, one event
    INSERT (a small JSON body) and COMMIT, on a connection set up like the
    repository's (WAL, synchronous=NORMAL, foreign keys).
    """
    import json

    with tempfile.TemporaryDirectory() as folder:
        wf = tf.Workflow(tf.load_lifecycle(TOGGLE), tf.SQLiteRepository(f"{folder}/wf.db"))
        ids = [wf.open(AGENT, title="t", at=T0).id for _ in range(tickets)]
        hand_repo = tf.SQLiteRepository(f"{folder}/hand.db")
        hand_wf = tf.Workflow(tf.load_lifecycle(TOGGLE), hand_repo)
        hand_ids = [hand_wf.open(AGENT, title="t", at=T0).id for _ in range(tickets)]
        hand_repo.close()
        conn = sqlite3.connect(f"{folder}/hand.db", isolation_level=None)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        known: dict[str, tuple[str, int]] = dict.fromkeys(hand_ids, ("waiting", 1))
        flip = {"waiting": ("start", "working"), "working": ("pause", "waiting")}
        at = T0 + timedelta(minutes=1)

        def hand_fire(ticket_id: str) -> None:
            state, version = known[ticket_id]
            trigger, target = flip[state]
            body = json.dumps({"trigger": trigger, "source": state, "target": target, "at": at.isoformat()})
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute(
                "UPDATE tickets SET state = ?, version = ?, updated_at = ?, updated_us = ? "
                "WHERE id = ? AND version = ?",
                (target, version + 1, at.isoformat(), int(at.timestamp() * 1e6), ticket_id, version),
            )
            if cursor.rowcount != 1:
                raise RuntimeError("conflict")
            conn.execute("INSERT INTO events VALUES (?, ?, ?)", (ticket_id, version + 1, body))
            conn.execute("COMMIT")
            known[ticket_id] = (target, version + 1)

        states = dict.fromkeys(ids, "waiting")

        def workflow_fires() -> None:
            for ticket_id in ids:
                trigger, states[ticket_id] = flip[states[ticket_id]]
                wf.fire(ticket_id, trigger, AGENT, at=at)

        def hand_fires() -> None:
            for ticket_id in hand_ids:
                hand_fire(ticket_id)

        pairs = [(best_us(workflow_fires, tickets, 1), best_us(hand_fires, tickets, 1)) for _ in range(rounds)]
        ours = min(p[0] for p in pairs)
        hand = min(p[1] for p in pairs)
        print(f"{'SQLite fire vs hand-written transaction':<44}{'fire µs':>10}{'hand µs':>10}{'fire / hand':>14}")
        print(
            f"{f'  {tickets} tickets, alternating, best of {rounds}':<44}{ours:>10.1f}{hand:>10.1f}{ours / hand:>14.2f}"
        )


def calendar_walk(years: int) -> None:
    """A business calendar asked a year further on each time: ms in all, and one full build of those years."""
    from zoneinfo import ZoneInfo

    def make() -> tf.BusinessCalendar:
        return tf.BusinessCalendar("America/New_York", {"mon-fri": ["09:00-17:00"]}, holidays=tf.holidays_for("US"))

    start = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("America/New_York"))
    walking = make()
    walking.between(start, start)  # the first timeline, as any calendar in use has
    began = time.perf_counter()
    for year in range(1, years + 1):
        walking.between(start, start.replace(year=2026 + year))
    walked = (time.perf_counter() - began) * 1e3
    began = time.perf_counter()
    make().between(start, start.replace(year=2026 + years))
    once = (time.perf_counter() - began) * 1e3
    print(f"{'calendar walking forward a year at a time':<44}{'walk ms':>10}{'one build':>10}{'walk / build':>14}")
    print(f"{f'  {years} years (9-17, US holidays)':<44}{walked:>10.1f}{once:>10.1f}{walked / once:>14.2f}")


def _zendesk(sla: bool) -> tf.Lifecycle:
    if sla:
        return tf.builtin("zendesk")
    document = dict(tf.builtin("zendesk").document)
    document.pop("sla", None)
    document["id"] = "zendesk_no_sla"
    return tf.load_lifecycle(document)


def _stores(postgres: str | None) -> tuple[list[tuple[str, Any]], list[Any]]:
    """(label, make(folder)) per store to measure, and the PostgreSQL repositories made (to drop afterwards)."""
    stores: list[tuple[str, Any]] = [("memory", lambda _folder: tf.MemoryRepository())]
    stores.append(("SQLite", lambda folder: tf.SQLiteRepository(f"{folder}/{uuid.uuid4().hex}.db")))
    made: list[Any] = []
    if postgres:
        from ticketflow.repository.postgres import PostgresRepository

        def pg(_folder: str) -> Any:
            made.append(PostgresRepository(postgres, schema=f"tf_bench_{uuid.uuid4().hex[:10]}"))
            return made[-1]

        stores.append(("PostgreSQL", pg))
    return stores, made


def fire_by_history(lengths: list[int], hot: int, rounds: int, postgres: str | None) -> None:
    """µs per fire (an internal note) on tickets holding N events, zendesk with and without its SLA policy.

    *hot* tickets are written in turn (each note one fire), so the ticket
    cache, where there is one, holds them; the last column is the row's cost
    over the shortest history's.
    """
    stores, made = _stores(postgres)
    print(f"{f'fire vs history length ({hot} hot tickets)':<44}{'events':>8}{'µs/fire':>10}{'vs shortest':>13}")
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, make in stores:
                for sla in (False, True):
                    first = None
                    for length in lengths:
                        wf = tf.Workflow(_zendesk(sla), make(folder))
                        ids = []
                        for _ in range(hot):
                            ticket = wf.open(CUSTOMER, title="printer", at=T0)
                            wf.fire(ticket.id, "take", STAFF, assignee="agent", at=T0)
                            for n in range(length - 2):
                                wf.comment(ticket.id, STAFF, f"n{n}", visibility="internal", at=T0)
                            ids.append(ticket.id)

                        def notes() -> None:
                            for ticket_id in ids:
                                wf.comment(ticket_id, STAFF, "note", visibility="internal", at=T0)

                        cost = best_us(notes, len(ids), rounds)
                        first = first or cost
                        label = f"  {name}, {'with' if sla else 'without'} SLA"
                        print(f"{label:<44}{length:>8,}{cost:>10.1f}{cost / first:>13.2f}")
    finally:
        for repository in made:
            repository.drop_schema()


def replies_rows(lengths: list[int], rounds: int, postgres: str | None = None) -> None:
    """µs per fire and per ``wf.sla()`` on a zendesk ticket whose N events are public replies, on each store.

    Every reply starts or stops a reply-time clock, so the fold holds every
    event: this is the case where a fire's cost can still grow with the
    history. The fire is an internal note, by the Workflow that wrote the
    replies (its copy keeps the fold) and, in the "cold" column, by one
    without copies (``ticket_cache=0``: another process), which reads the
    part of the stored fold its state names. ``wf.sla()`` is asked by a
    second Workflow on the same store (it reads the stored fold), and, in
    the "writer" column, by the Workflow that saved it (the fold kept with
    its cached copy; memory keeps no cache): it evaluates every reply (the
    clocks list every cycle). The last columns are ``wf.sla(cycles="last")``
    asked by the second Workflow: each clock's current cycle, counted from
    the part of the fold its state names.
    """
    stores, made = _stores(postgres)
    print(
        f"{'public replies (zendesk SLA)':<36}{'events':>8}{'µs/fire':>10}{'vs shortest':>13}{'cold µs':>10}"
        f"{'vs shortest':>13}{'sla() µs':>10}{'vs shortest':>13}{'writer sla() µs':>17}"
        f"{'last µs':>10}{'vs shortest':>13}"
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, make in stores:
                first: tuple[float, float, float, float] | None = None
                for length in lengths:
                    repository = make(folder)
                    wf = tf.Workflow(tf.builtin("zendesk"), repository)
                    ticket = wf.open(CUSTOMER, title="printer", at=T0)
                    wf.fire(ticket.id, "take", STAFF, assignee="agent", at=T0)
                    for n in range(length - 2):
                        wf.comment(ticket.id, CUSTOMER if n % 2 else STAFF, f"r{n}", at=T0 + timedelta(minutes=n))
                    later = T0 + timedelta(minutes=length)

                    def notes(writer: tf.Workflow, ticket: tf.Ticket = ticket, later: datetime = later) -> Any:
                        return [
                            writer.comment(ticket.id, STAFF, "n", visibility="internal", at=later) for _ in range(5)
                        ]

                    fire = best_us(lambda wf=wf: notes(wf), 5, rounds)
                    kept = best_us(  # asked by the Workflow that saved it: the fold kept with its cached copy
                        lambda wf=wf, ticket=ticket, later=later: [wf.sla(ticket.id, later) for _ in range(5)],
                        5,
                        rounds,
                    )
                    cold_wf = tf.Workflow(tf.builtin("zendesk"), repository, ticket_cache=0)
                    cold = best_us(lambda cold_wf=cold_wf: notes(cold_wf), 5, rounds)  # after: they stale its copy
                    reader = tf.Workflow(tf.builtin("zendesk"), repository)
                    asked = best_us(
                        lambda reader=reader, ticket=ticket, later=later: [
                            reader.sla(ticket.id, later) for _ in range(5)
                        ],
                        5,
                        rounds,
                    )
                    last = best_us(  # sla(cycles="last"): each clock's current cycle, from the part of the fold
                        lambda reader=reader, ticket=ticket, later=later: [
                            reader.sla(ticket.id, later, cycles="last") for _ in range(5)
                        ],
                        5,
                        rounds,
                    )
                    first = first or (fire, cold, asked, last)
                    print(
                        f"{f'  {name}':<36}{length:>8,}{fire:>10.1f}{fire / first[0]:>13.2f}{cold:>10.1f}"
                        f"{cold / first[1]:>13.2f}{asked:>10.1f}{asked / first[2]:>13.2f}{kept:>17.1f}"
                        f"{last:>10.1f}{last / first[3]:>13.2f}"
                    )
    finally:
        for repository in made:
            repository.drop_schema()


def sweep_by_history(lengths: list[int], tickets: int, postgres: str | None, replies: bool = False) -> None:
    """µs per rule a sweep fires (a zendesk reminder) on tickets holding N events, read by a fresh Workflow.

    Each ticket is taken, gets internal notes (*replies*: public replies,
    customer and agent in turn), then an agent's question moves it to
    pending; sweeps 24 hours and 5 days later fire its two reminders (the
    better of the two is printed). Each sweeping Workflow is new (a cold
    cache, as in a sweeper process): it reads each due ticket with its fold,
    so with notes the cost should not follow the history. Public replies all
    move a reply clock, so they are all in the fold: the sweep reads and
    evaluates each of them (what still grows, docs/scaling.md). The last
    column is the row's cost over the shortest history's.
    """
    stores, made = _stores(postgres)
    title = f"sweep vs {'public replies' if replies else 'history length'} ({tickets} due)"
    print(f"{title:<44}{'events':>8}{'µs/rule':>10}{'vs shortest':>13}")
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, make in stores:
                first = None
                for length in lengths:
                    repository = make(folder)
                    wf = tf.Workflow(tf.builtin("zendesk"), repository)
                    for _ in range(tickets):
                        ticket = wf.open(CUSTOMER, title="printer", at=T0)
                        wf.fire(ticket.id, "take", STAFF, assignee="agent", at=T0)
                        for n in range(length - 3):
                            if replies:
                                wf.comment(ticket.id, CUSTOMER if n % 2 else STAFF, f"r{n}", at=T0)
                            else:
                                wf.comment(ticket.id, STAFF, f"n{n}", visibility="internal", at=T0)
                        wf.fire(ticket.id, "ask", STAFF, comment="Which model?", at=T0)
                    costs = []
                    for due in (timedelta(hours=24), timedelta(days=5)):  # the two reminders: the better sweep
                        sweeper = tf.Workflow(tf.builtin("zendesk"), repository)
                        began = time.perf_counter()
                        fired = len(sweeper.run_due(T0 + due + timedelta(minutes=1), limit=tickets).fired)
                        costs.append((time.perf_counter() - began) / max(fired, 1) * 1e6)
                    cost = min(costs)
                    first = first or cost
                    print(f"{f'  {name} ({fired} fired)':<44}{length:>8,}{cost:>10.1f}{cost / first:>13.2f}")
    finally:
        for repository in made:
            repository.drop_schema()


def sla_rows(lengths: list[int], rounds: int, postgres: str | None) -> None:
    """µs per ``wf.sla(ticket_id)`` on a zendesk ticket holding N events, read by a fresh Workflow (cold cache).

    The clocks come from the fold stored with the ticket; the last column is
    the same clocks from the whole history (``evaluate``), as a reader without
    folds would compute them, over the fold's cost.
    """
    from ticketflow.sla import evaluate

    stores, made = _stores(postgres)
    print(f"{'wf.sla(ticket) vs history length':<44}{'events':>8}{'µs/call':>10}{'history µs':>12}{'hist / fold':>13}")
    now = T0 + timedelta(days=2)
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, make in stores:
                for length in lengths:
                    repository = make(folder)
                    _, ticket_id = zendesk_history(repository, length)
                    wf = tf.Workflow(tf.builtin("zendesk"), repository)
                    assert wf.sla_policy is not None
                    policy, lifecycle = wf.sla_policy, wf.lifecycle
                    cost = best_us(lambda: [wf.sla(ticket_id, now) for _ in range(20)], 20, rounds)
                    whole = best_us(
                        lambda: [
                            evaluate(policy, lifecycle, wf.get(ticket_id), repository.history(ticket_id), now)
                            for _ in range(5)
                        ],
                        5,
                        rounds,
                    )
                    print(f"{f'  {name}':<44}{length:>8,}{cost:>10.1f}{whole:>12.1f}{whole / cost:>13.2f}")
    finally:
        for repository in made:
            repository.drop_schema()


def _postgres_cpu() -> dict[int, float]:
    """CPU µs of every PostgreSQL server process on this machine, by pid (none without /proc).

    From ``/proc/<pid>/schedstat`` (nanoseconds on a CPU), else from the
    user and system clock ticks of ``/proc/<pid>/stat``.
    """
    tick = 1e6 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 1e4
    spent: dict[int, float] = {}
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                line = stat.read()
            if not line[line.index("(") + 1 : line.rindex(")")].startswith("postgres"):
                continue
            try:
                with open(f"/proc/{name}/schedstat") as schedstat:
                    spent[int(name)] = int(schedstat.read().split()[0]) / 1000
            except OSError:
                fields = line[line.rindex(")") + 2 :].split()
                spent[int(name)] = (int(fields[11]) + int(fields[12])) * tick  # utime, stime
        except OSError:
            continue  # gone meanwhile
    return spent


def _own_cpu() -> float:
    """This process's CPU seconds (user + system)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _named(where: str, name: str) -> str:
    """*where* with PostgreSQL's ``application_name`` set to *name* (so the sweeper's backends can be found)."""
    if not where.startswith("postgresql"):
        return where
    url, _, schema = where.partition("#")
    return f"{url}{'&' if '?' in url else '?'}application_name={name}#{schema}"


def _sweeper_cpu(args: tuple[str, str, str, Any]) -> dict[str, Any]:
    """One sweeper process: sweep until nothing is due; its rules, window, own CPU and its backends' CPU."""
    import bench_storage as storage

    where, now_iso, name, barrier = args
    repository = storage._repository(_named(where, name))
    wf = tf.Workflow(tf.builtin("zendesk"), repository, clock=tf.SteppableClock(datetime.fromisoformat(now_iso)))
    fired = 0
    barrier.wait()
    start, cpu, machine, server = time.time(), _own_cpu(), storage._cpu(), _postgres_cpu()
    while True:
        result = wf.run_due(limit=100)
        fired += len(result.fired)
        if not result.tickets:
            break
    end, cpu_end, machine_end, server_end = time.time(), _own_cpu(), storage._cpu(), _postgres_cpu()
    backends: list[int] = []
    if hasattr(repository, "engine"):  # PostgreSQL: the backends that served this sweeper, by application_name
        import sqlalchemy as sa

        with repository.engine.connect() as conn:
            query = sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name")
            backends = [int(pid) for (pid,) in conn.execute(query, {"name": name})]
    repository.close()  # type: ignore[attr-defined]
    return {
        "fired": fired,
        "window": (start, end),
        "cpu": cpu_end - cpu,
        "machine": (machine, machine_end),
        "server": (server, server_end),
        "backends": backends,
    }


def _spent(before: dict[int, float], after: dict[int, float], pids: Any = None) -> float:
    """CPU µs spent between two :func:`_postgres_cpu` snapshots (by *pids* only, if given)."""
    return sum(t - before.get(pid, 0) for pid, t in after.items() if pids is None or pid in pids)


def _blocks(where: str) -> int:
    """Buffer accesses (hits and reads) so far on the tables and indexes of *where*'s PostgreSQL schema (else 0).

    A count of the database's work that, unlike its CPU seconds, does not
    grow when processes compete for the cores.
    """
    if not where.startswith("postgresql"):
        return 0
    import sqlalchemy as sa

    url, _, schema = where.partition("#")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            total = conn.execute(
                sa.text(
                    "SELECT coalesce(sum(coalesce(heap_blks_hit, 0) + coalesce(heap_blks_read, 0)"
                    " + coalesce(idx_blks_hit, 0) + coalesce(idx_blks_read, 0) + coalesce(toast_blks_hit, 0)"
                    " + coalesce(toast_blks_read, 0) + coalesce(tidx_blks_hit, 0) + coalesce(tidx_blks_read, 0)), 0)"
                    " FROM pg_statio_user_tables WHERE schemaname = :schema"
                ),
                {"schema": schema},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(total)


def _swept(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Rules/s of sweepers run together, and where the CPU went per rule, in µs."""
    tick = 1e6 / os.sysconf("SC_CLK_TCK")
    fired = sum(r["fired"] for r in runs)
    first = min(runs, key=lambda r: r["window"][0])
    last = max(runs, key=lambda r: r["window"][1])
    wall = last["window"][1] - first["window"][0]
    backends = sum(_spent(*r["server"], set(r["backends"])) for r in runs)
    ended: dict[int, float] = {}  # each process's last CPU seen (a sweeper's backends end when it closes)
    for r in runs:
        for pid, t in r["server"][1].items():
            ended[pid] = max(t, ended.get(pid, 0))
    server = _spent(first["server"][0], ended)
    busy = last["machine"][1][0] - first["machine"][0][0]
    total = last["machine"][1][1] - first["machine"][0][1]
    return {
        "rate": fired / wall,
        "sweeper": sum(r["cpu"] for r in runs) * 1e6 / fired,
        "backends": backends / fired,
        "server": server / fired,
        "machine": busy * tick / fired,
        "busy": busy / total if total else float("nan"),
    }


def sweeper_rows(where: list[tuple[str, str]], timers: int, workers: list[int], repeats: int = 1) -> None:
    """Rules fired per second by 1, 2, 4, 8 sweeper processes on *timers* due zendesk reminders, and their CPU.

    *where*: (label, store) pairs, a SQLite path or ``postgresql...#schema``
    (bench_storage's set-up). Each due ticket is stored with its fold, as a
    Workflow stores it. Per rule fired, in µs of CPU: the sweeper processes'
    own (getrusage), their PostgreSQL backends' (found by application_name,
    from /proc/<pid>/stat), every PostgreSQL process's (background writers
    included; other clients of the same server too), and the whole machine's
    (/proc/stat: everything running, other tenants included). With
    *repeats*, the worker counts run in turn that many times (1, 2, 4, 8, 1,
    2, ...: a slow minute of the machine falls on every count alike) and each
    count's row is its run of median rate: one sweep of a few thousand rules
    lasts a second or two, and single runs of the same count moved by up to 1.5x.
    """
    lc = tf.builtin("zendesk")
    print(
        f"{f'sweepers, {timers:,} due reminders (zendesk)':<44}{'workers':>8}{'rules/s':>10}{'vs one':>9}{'CPU':>6}"
        f"{'sweeper µs':>12}{'backend µs':>12}{'all pg µs':>11}{'machine µs':>12}{'pg blocks':>11}{'model vs one':>14}"
    )
    for label, base in where:
        runs: dict[int, list[dict[str, float]]] = {count: [] for count in workers}
        for repeat in range(repeats):
            for count in workers:
                runs[count].append(_sweep_once(lc, f"{base}{'' if repeat == 0 else f'r{repeat}'}", count, timers))
        chosen = {count: sorted(rows, key=lambda row: row["rate"])[len(rows) // 2] for count, rows in runs.items()}
        one = chosen[workers[0]]
        for count in workers:
            row = chosen[count]
            # the model: on a host with a free core for each sweeper and each backend, k workers do k times the
            # rules of one worker, each rule costing its sweeper's and its backend's CPU as measured in this row
            # (contention included) over what they cost one worker alone; it assumes the sweep is CPU-bound
            # (no lock, flush or network waits that grow with k)
            cpu_one, cpu_row = one["sweeper"] + one["backends"], row["sweeper"] + row["backends"]
            modelled = count * cpu_one / cpu_row
            model = f"{modelled:>14.2f}" if base.startswith("postgresql") else f"{'':>14}"
            blocks_column = f"{row['blocks']:>11.1f}" if base.startswith("postgresql") else f"{'':>11}"
            spread = ""
            if repeats > 1:
                rates = sorted(r["rate"] for r in runs[count])
                spread = f"  (runs {rates[0]:,.0f}-{rates[-1]:,.0f})"
            print(
                f"{f'  {label}':<44}{count:>8}{row['rate']:>10,.0f}{row['rate'] / one['rate']:>9.2f}"
                f"{row['busy']:>6.0%}{row['sweeper']:>12.0f}{row['backends']:>12.0f}{row['server']:>11.0f}"
                f"{row['machine']:>12.0f}{blocks_column}{model}{spread}"
            )
    cores = os.cpu_count() or 1
    print(
        "  (CPU µs per rule fired: the sweepers' own, their PostgreSQL backends', every PostgreSQL process's\n"
        f"  (background writers and other clients included), the whole machine's ({cores} cores, other tenants\n"
        "  included). pg blocks: buffer accesses per rule on the store's tables and indexes, the database's\n"
        "  work counted without the inflation CPU seconds show when processes compete for the cores.\n"
        "  Model vs one (PostgreSQL): rules/s on a host with a free core for each sweeper and each backend over\n"
        "  one worker's, i.e. workers x (sweeper + backend µs of one worker) / (sweeper + backend µs of the\n"
        "  row); it assumes the sweep is CPU-bound (no lock, flush or network waits that grow with the\n"
        "  workers). The measured columns share this machine's cores; the model does not.)"
    )


def _sweep_once(lc: tf.Lifecycle, base: str, count: int, timers: int) -> dict[str, float]:
    """One sweep by *count* sweeper processes of *timers* due reminders stored fresh at *base* (then dropped)."""
    import multiprocessing

    import bench_storage as storage

    from ticketflow.automation._fold import Folder

    folder = Folder(lc, tf.Workflow(lc, tf.MemoryRepository()).sla_policy)
    place = f"{base}-{count}.db" if not base.startswith("postgresql") else f"{base}{count}"
    store = storage._repository(place)
    keeps: Any = store  # a FoldStore: add takes fold=
    with keeps.transaction() as tx:
        for i in range(timers):
            ticket, opened = lc.engine.open(f"Z{i:07d}", storage.REQUESTER, storage.T0, title="sweep")
            comment = tf.Comment("agent", "?")
            asked, event, _ = lc.engine.apply(ticket, "ask", storage.AGENT, storage.T0, comment=comment)
            fold = folder.extend((), [opened, event])
            assert fold is not None
            stored = (folder.head(fold), tuple(e.seq for e in fold))
            tx.add(asked, [opened, event], due=storage.T0 + timedelta(hours=24), fold=stored)
    assert keeps.fold("Z0000000") is not None
    store.close()  # type: ignore[attr-defined]
    time.sleep(0.6)  # PostgreSQL publishes a backend's statistics at most once a second
    blocks = _blocks(place)
    now = (storage.T0 + timedelta(hours=25)).isoformat()
    context = multiprocessing.get_context("spawn")
    arguments = [(place, now, f"tf_sweeper_{uuid.uuid4().hex[:8]}") for _ in range(count)]
    with context.Manager() as manager, context.Pool(count) as pool:
        barrier = manager.Barrier(count)
        runs = pool.map(_sweeper_cpu, [(*a, barrier) for a in arguments])
    row = _swept(runs)
    time.sleep(0.6)
    fired = sum(r["fired"] for r in runs)
    row["blocks"] = (_blocks(place) - blocks) / fired
    if hasattr(store, "drop_schema"):
        store.drop_schema()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: stores of 2,000 and 10,000 tickets")
    parser.add_argument("--million", action="store_true", help="add a store of 1,000,000 tickets (minutes, ~GBs)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TICKETFLOW_TEST_POSTGRES_URL"),
        metavar="URL",
        help="also measure PostgreSQL at this URL (default: $TICKETFLOW_TEST_POSTGRES_URL; none: no PostgreSQL rows)",
    )
    parser.add_argument(
        "--histories", metavar="N,N", help="history lengths of the fire rows (default 10,100,1000,5000)"
    )
    parser.add_argument(
        "--sweepers",
        metavar="N,N",
        help="only the sweeper rows, with these worker counts (e.g. 1,2): rules/s and CPU per rule",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each sweeper count, in turn; its median row (default: 3)"
    )
    args = parser.parse_args()
    if args.sweepers:
        with tempfile.TemporaryDirectory() as folder:
            stores = [("SQLite", f"{folder}/sweep")]
            if args.postgres:
                stores.append(("PostgreSQL", f"{args.postgres}#tf_bench_{uuid.uuid4().hex[:8]}_"))
            counts = [int(n) for n in args.sweepers.split(",")]
            sweeper_rows(stores, 200 if args.quick else 4_000, counts, 1 if args.quick else args.repeats)
        return
    sizes = [2_000, 10_000] if args.quick else [2_000, 40_000, 200_000]
    if args.million and not args.quick:
        sizes.append(1_000_000)
    import_rows(runs=5 if args.quick else 15)
    decode_rows(100 if args.quick else 1_000, 3 if args.quick else 7, args.postgres)
    sqlite_vs_hand_written(200 if args.quick else 1_000, 3 if args.quick else 9)
    calendar_walk(3 if args.quick else 10)
    lengths = [int(n) for n in args.histories.split(",")] if args.histories else [10, 100, 1_000, 5_000]
    fire_by_history([10, 100] if args.quick else lengths, 2 if args.quick else 5, 3, args.postgres)
    if not args.quick:
        fire_by_history([1_000], 40, 3, None)  # 40 hot tickets of 1,000 events (vs the 5 above)
    sla_rows([10, 100] if args.quick else lengths, 3, args.postgres)
    replies_rows([10, 100] if args.quick else [10, 100, 1_000, 5_000], 3, args.postgres)
    sweep_by_history([10, 100] if args.quick else [10, 100, 1_000], 5 if args.quick else 50, args.postgres)
    sweep_by_history([10, 100] if args.quick else [10, 100, 1_000], 5 if args.quick else 20, args.postgres, True)
    with tempfile.TemporaryDirectory() as folder:
        stores = [("SQLite", f"{folder}/sweep")]
        if args.postgres:
            stores.append(("PostgreSQL", f"{args.postgres}#tf_bench_{uuid.uuid4().hex[:8]}_"))
        counts = [1, 2] if args.quick else [1, 2, 4, 8]
        sweeper_rows(stores, 200 if args.quick else 4_000, counts, 1 if args.quick else args.repeats)
    bare = bare_trigger_us()
    print(f"bare transitions trigger: {bare:.2f} µs")
    print(f"{'memory store, tickets':<28}{'fill s':>10}{'µs/fire':>10}{'vs smallest':>12}{'vs bare trigger':>16}")
    first = None
    for size in sizes:
        began = time.perf_counter()
        wf, ids = fill(size)
        filled = time.perf_counter() - began
        cost = per_fire_us(wf, ids, rounds=3 if args.quick else 5)
        first = first or cost
        print(f"{size:<28,}{filled:>10.1f}{cost:>10.2f}{cost / first:>12.2f}{cost / bare:>16.2f}")
        del wf, ids
        gc.collect()
    print(f"peak resident memory of this process: {_peak_mb():,.0f} MB (the largest store's, {sizes[-1]:,} tickets)")


def _peak_mb() -> float:
    """This process's peak resident set size in MB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


if __name__ == "__main__":
    main()
