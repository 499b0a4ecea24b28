"""PostgreSQL: many writers and sweepers on one database, a killed connection, nothing lost.

Runs when TICKETFLOW_TEST_POSTGRES_URL is set (.ci/run sets it when the server
answers); skipped loudly otherwise. Each test uses its own schema and drops it.
"""

import multiprocessing
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import ticketflow as tf
from ticketflow.testing import SteppableClock

URL = os.environ.get("TICKETFLOW_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not URL, reason="PostgreSQL TESTS SKIPPED: set TICKETFLOW_TEST_POSTGRES_URL to run them"
)
HELPDESK = os.path.join(os.path.dirname(__file__), "..", "examples", "custom_lifecycle.toml")
AGENT = tf.Actor("agent", roles={"agent"})
CUSTOMER = tf.Actor("customer", roles={"requester"})
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def schema() -> Iterator[str]:
    import uuid

    name = f"tf_test_{uuid.uuid4().hex[:12]}"
    yield name
    import sqlalchemy as sa

    assert URL is not None
    engine = sa.create_engine(URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def repo(schema: str) -> Any:
    """A repository whose sessions carry the schema as their application_name, so a test kills only its own."""
    import sqlalchemy as sa

    from ticketflow.repository.postgres import PostgresRepository

    assert URL is not None
    named = sa.engine.make_url(URL).update_query_dict({"application_name": schema})
    return PostgresRepository(named.render_as_string(hide_password=False), schema=schema)


def kill_sessions(conn: Any, schema: str) -> None:
    """Terminate the test's own sessions (its repository's), never another run's on the same database."""
    import sqlalchemy as sa

    conn.execute(
        sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = :name AND pid <> pg_backend_pid()"
        ),
        {"name": schema},
    )
    conn.commit()


def _hammer(schema: str, ids: list[str], seconds: float, start: float) -> tuple[int, int, int]:
    """Fire `escalate` on random hot tickets without retries; (attempts, accepted, conflicts)."""
    import random

    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), repo(schema), max_retries=0)
    rng = random.Random(os.getpid())  # noqa: S311 - picks tickets, not secrets
    attempts = accepted = conflicts = 0
    try:
        while time.time() < start:
            time.sleep(0.001)
        while time.time() < start + seconds or attempts < 50:  # some work even when the start was late
            attempts += 1
            try:
                wf.fire(rng.choice(ids), "escalate", AGENT)
                accepted += 1
            except tf.ConcurrencyConflict:
                conflicts += 1
    finally:
        wf.repository.close()  # type: ignore[attr-defined]
    return attempts, accepted, conflicts


def test_eight_processes_on_a_hundred_hot_tickets_lose_nothing(schema: str, race_report):
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), repo(schema))
    try:
        _eight_processes(wf, schema, race_report)
    finally:
        wf.repository.close()  # type: ignore[attr-defined]


def _eight_processes(wf: tf.Workflow, schema: str, race_report) -> None:
    ids = []
    for i in range(100):
        t = wf.open(AGENT, title=f"hot {i}", fields={"priority": "high"}, requester=CUSTOMER.id)
        wf.fire(t.id, "triage", AGENT, fields={"category": "access"})
        ids.append(t.id)
    seconds = float(os.environ.get("TICKETFLOW_PG_RACE_SECONDS", "10"))
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        results = pool.starmap(_hammer, [(schema, ids, seconds, time.time() + 3)] * 8)
    attempts = sum(r[0] for r in results)
    accepted = sum(r[1] for r in results)
    conflicts = sum(r[2] for r in results)
    assert attempts == accepted + conflicts
    assert accepted >= 1
    race_report(attempts=attempts, accepted=accepted, conflicts=conflicts)  # collisions depend on the load
    total = 0
    for ticket_id in ids:
        history = wf.history(ticket_id)
        assert [e.seq for e in history] == list(range(1, len(history) + 1))  # versions gap-free
        assert tf.replay(history) == wf.get(ticket_id)
        total += len(history) - 2
    assert total == accepted  # every accepted fire is in a history exactly once


def _sweep(schema: str, now: datetime) -> int:
    store = repo(schema)
    wf = tf.Workflow(tf.builtin("zendesk"), store, clock=SteppableClock(now))
    fired = 0
    try:
        while True:
            result = wf.run_due(limit=50)
            fired += len(result.fired)
            if not result.tickets:
                return fired
    finally:
        store.close()


def test_four_sweepers_fire_each_due_rule_exactly_once(schema: str, race_report):
    # the size by default (about 90 s here); TICKETFLOW_PG_SWEEP_TICKETS=2000 for a quick local run
    count = int(os.environ.get("TICKETFLOW_PG_SWEEP_TICKETS", "100000"))
    store = repo(schema)
    try:
        _four_sweepers(store, schema, count, race_report)
    finally:
        store.close()


def _four_sweepers(store: Any, schema: str, count: int, race_report) -> None:
    lc = tf.builtin("zendesk")
    with store.transaction() as tx:
        for i in range(count):
            ticket, opened = lc.engine.open(f"Z{i:06d}", CUSTOMER, T0, title="sweep me")
            asked, event, _ = lc.engine.apply(ticket, "ask", AGENT, T0, comment=tf.Comment(AGENT.id, "?"))
            tx.add(asked, [opened, event], due=T0 + timedelta(hours=24))
    now = T0 + timedelta(hours=25)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        fired = pool.starmap(_sweep, [(schema, now)] * 4)
    assert sum(fired) == count
    wf = tf.Workflow(lc, store)
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(f'SELECT count(*) FROM "{schema}".events WHERE body LIKE :rule'),  # noqa: S608 - our own test schema
            {"rule": '%"rule":"pending_reminder_24h"%'},
        ).scalar_one()
    assert rows == count
    assert wf.repository.due(now) == []
    race_report(rules=count, fired_per_sweeper=fired)  # how the work was shared depends on the load


def test_a_killed_connection_gives_clear_errors_or_retries_and_loses_nothing(schema: str):

    store = repo(schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store)
    t = wf.open(AGENT, title="x", fields={"priority": "high"}, requester=CUSTOMER.id)
    wf.fire(t.id, "triage", AGENT, fields={"category": "access"})
    outcomes: list[str] = []
    for i in range(30):
        if i % 5 == 0:
            with store.engine.connect() as conn:  # kill every other session of this repository
                kill_sessions(conn, schema)
        try:
            wf.fire(t.id, "escalate", AGENT)
            outcomes.append("ok")
        except tf.StorageError:
            outcomes.append("error")
    assert outcomes.count("ok") >= 25  # pre-ping and retries absorb the killed connections
    history = wf.history(t.id)
    assert tf.replay(history) == wf.get(t.id)
    assert len(history) == 2 + outcomes.count("ok")
    store.close()


def test_connections_killed_while_fires_are_in_flight_lose_nothing_and_apply_nothing_twice(schema: str):
    import threading

    import sqlalchemy as sa

    store = repo(schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store)
    ids = []
    for i in range(5):
        t = wf.open(AGENT, title=f"x{i}", fields={"priority": "high"}, requester=CUSTOMER.id)
        wf.fire(t.id, "triage", AGENT, fields={"category": "access"})
        ids.append(t.id)
    stop = threading.Event()

    def killer() -> None:
        assert URL is not None
        engine = sa.create_engine(URL, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            while not stop.wait(0.05):
                kill_sessions(conn, schema)
        engine.dispose()

    thread = threading.Thread(target=killer)
    thread.start()
    accepted = dict.fromkeys(ids, 0)
    unknown = dict.fromkeys(ids, 0)
    errors = 0
    try:
        for n in range(200):
            ticket_id = ids[n % 5]
            try:
                wf.fire(ticket_id, "escalate", AGENT)
                accepted[ticket_id] += 1
            except tf.StorageError as error:
                errors += 1
                unknown[ticket_id] += "outcome is unknown" in str(error)
    finally:
        stop.set()
        thread.join()
    assert sum(accepted.values()) + errors == 200  # each fire was accepted or said StorageError, nothing else
    assert sum(accepted.values()) >= 150  # most fires survive the kills (retries, read-back)
    for ticket_id in ids:
        history = wf.history(ticket_id)
        assert tf.replay(history) == wf.get(ticket_id)
        assert [e.seq for e in history] == list(range(1, len(history) + 1))
        escalations = len(history) - 2
        assert accepted[ticket_id] <= escalations <= accepted[ticket_id] + unknown[ticket_id]
    store.close()


def _open_keyed(schema: str, count: int) -> list[str]:
    wf = tf.Workflow(tf.builtin("sighten"), repo(schema))
    keys = [wf.open(CUSTOMER, title=f"t{i}").id for i in range(count)]
    wf.repository.close()  # type: ignore[attr-defined]
    return keys


def test_ticket_keys_are_unique_across_four_processes(schema: str):
    repo(schema).close()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        keys = [key for batch in pool.starmap(_open_keyed, [(schema, 50)] * 4) for key in batch]
    numbers = sorted(int(key.removeprefix("SUP-")) for key in keys)
    assert numbers == list(range(1, 201))  # unique; and with no failed insert, without gaps
    store = repo(schema)
    assert len(store.pending_messages(limit=500)) == 200  # each with its confirmation, in the same transaction
    store.close()


def test_claims_expire_so_a_dead_sweepers_work_is_taken_over(schema: str):
    from ticketflow.repository.postgres import PostgresRepository

    assert URL is not None
    store = PostgresRepository(URL, schema=schema, lease=timedelta(seconds=1))
    lc = tf.builtin("zendesk")
    ticket, opened = lc.engine.open("Z1", CUSTOMER, T0, title="x")
    store.add(ticket, [opened], due=T0)
    assert [i for i, _ in store.claim_due(T0)] == ["Z1"]
    assert store.claim_due(T0) == []  # leased to the first caller
    assert [i for i, _ in store.due(T0)] == ["Z1"]  # due() itself never claims
    time.sleep(1.2)
    assert [i for i, _ in store.claim_due(T0)] == ["Z1"]
    store.close()


def test_an_older_schema_is_migrated_forward(schema: str):
    import sqlalchemy as sa

    store = repo(schema)
    lc = tf.builtin("zendesk")
    ticket, opened = lc.engine.open("Z1", CUSTOMER, T0, title="kept")
    store.add(ticket, [opened])
    with store.engine.begin() as conn:  # back to what version 1 had
        conn.execute(sa.text(f'DROP INDEX "{schema}".tickets_requester'))
        conn.execute(sa.text(f'DROP TABLE "{schema}".links'))
        conn.execute(sa.text(f'ALTER TABLE "{schema}".tickets DROP COLUMN fold'))
        conn.execute(sa.text(f'UPDATE "{schema}".ticketflow_schema SET version = 1'))  # noqa: S608 - test schema
    store.close()
    again = repo(schema)
    with again.engine.connect() as conn:
        version = conn.execute(sa.text(f'SELECT version FROM "{schema}".ticketflow_schema')).scalar_one()  # noqa: S608
        index = conn.execute(
            sa.text("SELECT count(*) FROM pg_indexes WHERE schemaname = :s AND indexname = 'tickets_requester'"),
            {"s": schema},
        ).scalar_one()
    assert (version, index) == (again.SCHEMA_VERSION, 1)
    assert again.links("Z1") == []  # later steps ran too (the links table)
    assert again.get("Z1") == ticket
    assert again.fold("Z1") is None  # ... and the fold column (version 5): none stored yet
    wf = tf.Workflow(lc, again)
    wf.comment("Z1", CUSTOMER, "still there?", at=T0 + timedelta(hours=1))
    stored = again.fold("Z1")
    assert stored is not None
    assert stored[1][-1].seq == 2
    again.close()


def test_a_newer_schema_is_refused(schema: str):
    import sqlalchemy as sa

    store = repo(schema)
    with store.engine.begin() as conn:
        conn.execute(sa.text(f'UPDATE "{schema}".ticketflow_schema SET version = 99'))  # noqa: S608 - test schema
    store.close()
    with pytest.raises(tf.StorageError, match="schema version 99 is newer"):
        repo(schema)
    from ticketflow.repository.postgres import PostgresRepository

    with pytest.raises(tf.StorageError, match="supports PostgreSQL"):
        PostgresRepository("sqlite://")


# -- the pinned connection of the hot calls ------------------------------------------


class _FailingCursor:
    """Wraps the pinned cursor: fails the next save before or after running it, as a dropped connection would."""

    def __init__(self, cursor: Any, when: str, times: int = 1) -> None:
        self.cursor = cursor
        self.when = when
        self.times = times

    def execute(self, statement: str, parameters: Any) -> None:
        import psycopg

        if statement.startswith("WITH written AS (UPDATE") and self.times > 0:
            self.times -= 1
            if self.when == "after":
                self.cursor.execute(statement, parameters)
            raise psycopg.OperationalError("server closed the connection unexpectedly (simulated)")
        self.cursor.execute(statement, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


def _failing(store: Any, monkeypatch: pytest.MonkeyPatch, when: str, times: int = 1) -> None:
    from contextlib import contextmanager

    pinned = store._pinned
    real = type(pinned).cursor
    failing: list[_FailingCursor] = []

    @contextmanager
    def cursor(self: Any) -> Iterator[Any]:
        with real(self) as inner:
            if not failing:
                failing.append(_FailingCursor(inner, when, times))
            failing[0].cursor = inner
            yield failing[0]

    monkeypatch.setattr(type(pinned), "cursor", cursor)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_save_whose_connection_fails_is_read_back_never_applied_twice(
    schema: str, monkeypatch: pytest.MonkeyPatch, when: str
):
    store = repo(schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store)
    t = wf.open(AGENT, title="x", fields={"priority": "high"}, requester=CUSTOMER.id, at=T0)
    wf.fire(t.id, "triage", AGENT, fields={"category": "access"}, at=T0)
    _failing(store, monkeypatch, when)
    fired = wf.fire(t.id, "escalate", AGENT, at=T0)  # "after": it committed; "before": it is retried
    history = wf.history(t.id)
    assert [e.trigger for e in history] == ["open", "triage", "escalate"]
    assert tf.replay(history) == wf.get(t.id) == fired
    store.close()


def test_a_save_that_keeps_failing_says_so_and_changes_nothing(schema: str, monkeypatch: pytest.MonkeyPatch):
    import ticketflow.repository.postgres._connection as module

    store = repo(schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store)
    t = wf.open(AGENT, title="x", fields={"priority": "high"}, requester=CUSTOMER.id, at=T0)
    before = wf.get(t.id)
    monkeypatch.setattr(module.time, "sleep", lambda _s: None)
    _failing(store, monkeypatch, "before", times=99)
    with pytest.raises(tf.StorageError, match=rf"ticket {t.id}: write failed and was not applied"):
        wf.fire(t.id, "triage", AGENT, fields={"category": "access"}, at=T0)
    assert wf.get(t.id) == before
    assert len(wf.history(t.id)) == 1
    store.close()


def test_a_save_read_back_tells_a_lost_race_from_a_commit(schema: str):
    store = repo(schema)
    lc = tf.load_lifecycle(HELPDESK)
    ticket, opened = lc.engine.open("H1", AGENT, T0, title="x", fields={"priority": "high"}, requester=CUSTOMER.id)
    store.add(ticket, [opened])
    mine, event, _ = lc.engine.apply(ticket, "triage", AGENT, T0, fields={"category": "access"})
    theirs, other, _ = lc.engine.apply(ticket, "triage", AGENT, T0, fields={"category": "hardware"})
    from ticketflow.repository._codec import event_to_json

    failure = OSError("simulated")
    assert store._committed("H1", 1, event_to_json(event), failure) is False  # nothing applied yet
    store.save(theirs, [other], 1)
    with pytest.raises(tf.ConcurrencyConflict):
        store._committed("H1", 1, event_to_json(event), failure)
    assert store._committed("H1", 1, event_to_json(other), failure) is True
    with pytest.raises(tf.TicketNotFound):
        store._committed("nope", 1, "{}", failure)
    assert mine != theirs
    store.close()


def test_the_pinned_connection_never_starves_a_one_connection_pool(schema: str):
    import sqlalchemy as sa

    from ticketflow.repository.postgres import PostgresRepository

    assert URL is not None
    engine = sa.create_engine(URL, pool_size=1, max_overflow=0, pool_timeout=2)
    store = PostgresRepository(engine, schema=schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store)
    t = wf.open(AGENT, title="x", fields={"priority": "high"}, requester=CUSTOMER.id, at=T0)
    for _ in range(3):
        wf.fire(t.id, "comment", AGENT, comment="hello", at=T0)  # pins the one connection
        assert wf.find(state="new").tickets == (wf.get(t.id),)  # SQLAlchemy path: gets it back at once
    store.close()
    engine.dispose()


def test_an_idle_pinned_connection_is_pinged_and_replaced(schema: str):
    import sqlalchemy as sa

    from ticketflow.repository.postgres import PostgresRepository

    assert URL is not None
    store = PostgresRepository(URL, schema=schema, ping_after=timedelta(0))
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store, max_retries=0)
    t = wf.open(AGENT, title="x", fields={"priority": "high"}, requester=CUSTOMER.id, at=T0)
    wf.get(t.id)
    first = store._pinned.backend_pid
    with store.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    time.sleep(0.1)
    wf.fire(t.id, "triage", AGENT, fields={"category": "access"}, at=T0)
    assert store._pinned.backend_pid != first
    assert len(wf.history(t.id)) == 2
    store.close()


def test_a_forked_child_pins_its_own_connection_and_leaves_the_parents_alone(schema: str):
    store = repo(schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store)
    t = wf.open(AGENT, title="x", fields={"priority": "high"}, requester=CUSTOMER.id, at=T0)
    wf.get(t.id)  # the parent pins a connection
    parent = store._pinned.backend_pid
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            store.engine.dispose(close=False)  # SQLAlchemy's own rule after fork
            wf.fire(t.id, "comment", AGENT, comment="from the child", at=T0)
            code = 0 if store._pinned.backend_pid != parent else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    wf.fire(t.id, "comment", AGENT, comment="from the parent", at=T0)
    assert store._pinned.backend_pid == parent
    assert [e.comment.body for e in wf.history(t.id)[1:] if e.comment] == ["from the child", "from the parent"]
    store.close()


def test_a_repository_collected_unclosed_returns_its_pinned_connection(schema: str):
    import gc

    import sqlalchemy as sa

    from ticketflow.repository.postgres import PostgresRepository

    assert URL is not None
    engine = sa.create_engine(URL, pool_size=1, max_overflow=0, pool_timeout=2)
    store = PostgresRepository(engine, schema=schema)
    lc = tf.builtin("zendesk")
    ticket, opened = lc.engine.open("Z1", CUSTOMER, T0, title="x")
    store.add(ticket, [opened])
    assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]  # pinned
    del store
    gc.collect()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert PostgresRepository(engine, schema=schema).get("Z1") == ticket  # the one connection is usable again
    engine.dispose()


def test_an_unreachable_database_is_a_clear_storage_error_and_nothing_is_written(
    schema: str, monkeypatch: pytest.MonkeyPatch
):
    import sqlalchemy as sa

    import ticketflow.repository.postgres._connection as module

    store = repo(schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store)
    t = wf.open(AGENT, title="x", fields={"priority": "high"}, requester=CUSTOMER.id, at=T0)
    before = wf.get(t.id)
    store._pinned.release()
    dead = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test")  # nothing listens on port 1
    monkeypatch.setattr(store._pinned, "_engine", dead)
    monkeypatch.setattr(module.time, "sleep", lambda _s: None)
    with pytest.raises(tf.StorageError, match="database read failed"):
        store.get(t.id)
    new, event, _ = tf.load_lifecycle(HELPDESK).engine.apply(before, "triage", AGENT, T0, fields={"category": "access"})
    with pytest.raises(tf.StorageError, match=rf"ticket {t.id}: cannot reach the database; nothing written"):
        store.save(new, [event], before.version)
    with pytest.raises(tf.StorageError, match="cannot reach the database; nothing written"), store.transaction() as tx:
        tx.save(new, [event], before.version)
    monkeypatch.undo()
    assert wf.get(t.id) == before  # back on the live server: nothing changed
    assert len(wf.history(t.id)) == 1
    dead.dispose()
    store.close()


def test_threads_of_one_process_share_a_workflow_and_its_repository(schema: str):
    from concurrent.futures import ThreadPoolExecutor

    store = repo(schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store, max_retries=50)
    ids = []
    for i in range(4):
        t = wf.open(AGENT, title=f"t{i}", fields={"priority": "high"}, requester=CUSTOMER.id)
        wf.fire(t.id, "triage", AGENT, fields={"category": "access"})
        ids.append(t.id)

    def work(n: int) -> int:
        for k in range(50):
            wf.fire(ids[(n + k) % 4], "escalate", AGENT)  # threads overlap on the same tickets
        return 50

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(work, range(8))) == 400
    histories = [wf.history(ticket_id) for ticket_id in ids]
    assert sum(len(h) - 2 for h in histories) == 400  # every fire once
    for ticket_id, history in zip(ids, histories, strict=True):
        assert tf.replay(history) == wf.get(ticket_id)
    store.close()


def test_get_with_history_reads_both_from_one_snapshot(schema: str):
    store = repo(schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store)
    t = wf.open(AGENT, title="x", fields={"priority": "high"}, requester=CUSTOMER.id, at=T0)
    wf.fire(t.id, "triage", AGENT, fields={"category": "access"}, comment="on it", at=T0)
    assert store.get_with_history(t.id) == (store.get(t.id), store.history(t.id))
    with pytest.raises(tf.TicketNotFound):
        store.get_with_history("nope")
    store.close()


def test_saves_write_only_the_ticket_columns_their_events_changed(schema: str):
    import sqlalchemy as sa

    store = repo(schema)
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), store)
    ticket = wf.open(AGENT, title="printer", fields={"priority": "high"}, requester=CUSTOMER.id)
    columns = ("state", "title", "fields", "fields_text", "tags", "requester", "assignee", "participants")
    engine = sa.create_engine(URL)  # `UPDATE OF c` fires when c is in the SET list, changed or not
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE "{schema}".written (ticket_id TEXT, version INTEGER, col TEXT)'))
        for column in columns:
            body = f"INSERT INTO \"{schema}\".written VALUES (NEW.id, NEW.version, '{column}'); RETURN NEW;"  # noqa: S608
            function = f'"{schema}".note_{column}'
            conn.execute(
                sa.text(f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$")
            )
            on = f'AFTER UPDATE OF {column} ON "{schema}".tickets FOR EACH ROW'
            conn.execute(sa.text(f"CREATE TRIGGER written_{column} {on} EXECUTE FUNCTION {function}()"))

    def written(version: int) -> set[str]:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(f'SELECT col FROM "{schema}".written WHERE ticket_id = :t AND version = :v'),  # noqa: S608
                {"t": ticket.id, "v": version},
            )
            return {row[0] for row in rows}

    after = wf.comment(ticket.id, AGENT, "a note", visibility="internal")
    assert written(after.version) == set()
    after = wf.fire(ticket.id, "triage", AGENT, fields={"category": "access"})
    assert written(after.version) == {"state", "fields", "fields_text"}
    after = wf.update(ticket.id, AGENT, assignee="agent", add_tags={"vip"})
    assert written(after.version) == {"assignee", "tags"}
    fresh = repo(schema)
    assert fresh.get(ticket.id) == after == tf.replay(wf.history(ticket.id))
    fresh.close()
    engine.dispose()
    store.close()


def _contract_tickets(store: Any, count: int) -> tuple[Any, list[Any]]:
    """*count* stored tickets of the contract lifecycle (versions 1), and their factory."""
    from ticketflow.testing import TicketFactory

    make = TicketFactory()
    tickets = []
    for n in range(count):
        ticket, events = make.new(f"T{n}")
        store.add(ticket, events)
        tickets.append(ticket)
    return make, tickets


def test_a_transaction_holds_no_lock_while_its_block_runs_and_its_stale_save_conflicts_at_the_end(schema: str):
    """The writes are sent when the block ends: another writer meanwhile neither waits nor is lost."""
    import sqlalchemy as sa

    from ticketflow.repository.postgres import PostgresRepository

    store = repo(schema)
    make, (ticket,) = _contract_tickets(store, 1)
    assert URL is not None
    impatient = sa.create_engine(URL, connect_args={"options": "-c lock_timeout=2000"})  # a lock held: it fails
    other = PostgresRepository(impatient, schema=schema)
    started, event = make.step(ticket, "start")

    def block() -> None:
        with store.transaction() as tx:
            tx.save(started, [event], 1)
            tx.enqueue(tf.OutboxMessage("k1", ticket.id, "note", {}, T0))
            other.save(started, [event], 1)  # the other writer saves first, not waiting for this block's lock

    with pytest.raises(tf.ConcurrencyConflict) as conflict:
        block()
    assert (conflict.value.expected_version, conflict.value.actual_version) == (1, 2)
    assert store.get(ticket.id) == started
    assert [e.seq for e in store.history(ticket.id)] == [1, 2]  # the other writer's event, once
    assert store.pending_messages() == []  # the message went down with the save
    other.close()
    impatient.dispose()
    store.close()


def test_a_transactions_writes_in_one_pipeline_say_which_save_was_refused_and_write_nothing(schema: str):
    """Saves of one shape go together; the refused one is named (a conflict, a missing ticket), none is written."""
    store = repo(schema)
    make, tickets = _contract_tickets(store, 4)
    steps = [make.step(ticket, "start") for ticket in tickets]
    store.save(steps[2][0], [steps[2][1]], 1)  # T2 moves on: a save over version 1 is now stale
    ghost, ghost_event = make.step(make.new("ghost")[0], "start")

    def block(stale: bool) -> None:
        with store.transaction() as tx:
            for n, (started, event) in enumerate(steps):
                if n != 2 or stale:
                    tx.save(started, [event], 1)
                if n == 1:
                    tx.enqueue(tf.OutboxMessage(f"k{stale}", started.id, "note", {}, T0))
                    if not stale:
                        tx.save(ghost, [ghost_event], 1)

    for stale, expected in ((True, tf.ConcurrencyConflict), (False, tf.TicketNotFound)):
        with pytest.raises(expected) as refused:
            block(stale)
        assert refused.value.ticket_id == ("T2" if stale else "ghost")  # type: ignore[attr-defined]
        assert [store.get(t.id).version for t in tickets] == [1, 1, 2, 1]
        assert store.pending_messages() == []
    with store.transaction() as tx:  # the same writes, none stale: all of them, in order
        for n, (started, event) in enumerate(steps):
            if n != 2:
                tx.save(started, [event], 1)
            tx.link(tf.Link(started.id, "relates_to", "T0"))
        tx.enqueue(tf.OutboxMessage("k", "T0", "note", {}, T0))
    assert [store.get(t.id) for t in tickets] == [started for started, _ in steps]
    assert [m.key for m in store.pending_messages()] == ["k"]
    assert [link.ticket_id for link in store.linked("T0")] == ["T0", "T1", "T2", "T3"]
    store.close()


def test_a_statement_failing_in_a_transactions_pipeline_rolls_it_all_back(schema: str):
    store = repo(schema)
    make, (ticket,) = _contract_tickets(store, 1)
    started, event = make.step(ticket, "start")
    store._sql.enqueue = "SELECT 1 / 0 WHERE " + " AND ".join(["%s::text IS NOT NULL"] * 6)  # fails on the server

    def block() -> None:
        with store.transaction() as tx:
            tx.save(started, [event], 1)
            tx.enqueue(tf.OutboxMessage("k", ticket.id, "note", {}, T0))

    with pytest.raises(tf.StorageError, match="rolled back: division by zero"):
        block()
    assert store.get(ticket.id) == ticket
    store.save(started, [event], 1)  # the connection is usable again
    assert store.get(ticket.id) == started
    store.close()


def test_claims_find_their_tickets_by_primary_key_not_by_scanning_the_table(schema: str, monkeypatch):
    """The claim's plan, on a table big enough for the planner to care: no sequential scan of the tickets."""
    import psycopg
    import sqlalchemy as sa

    store = repo(schema)
    lc = tf.builtin("zendesk")
    with store.transaction() as tx:
        for i in range(3000):
            ticket, opened = lc.engine.open(f"Z{i:05d}", CUSTOMER, T0, title="due")
            tx.add(ticket, [opened], due=T0 + timedelta(hours=i % 50))
    engine = sa.create_engine(URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'ANALYZE "{schema}".tickets'))
    sent: list[tuple[Any, Any]] = []
    execute = psycopg.Cursor.execute

    def spy(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if "lease_until" in str(query) and "UPDATE" in str(query):
            sent.append((query, params))
        return execute(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spy)
    assert len(store.claim_due(T0 + timedelta(hours=2), 100, lifecycle_id="zendesk")) == 100
    assert len(sent) == 1
    monkeypatch.undo()
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute(f"EXPLAIN {sent[0][0]}", sent[0][1])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    assert "tickets_pkey" in plan, plan
    engine.dispose()
    store.close()
