"""Outbox delivery: per kind, claimed with a lease, exactly once across sweepers, logged per message."""

import http.server
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import ticketflow as tf
from ticketflow.automation import sign, verify_signature
from ticketflow.testing import SteppableClock

T0 = datetime(2026, 3, 2, 14, tzinfo=UTC)  # Monday 09:00 in New York
CUSTOMER = tf.Actor("customer", roles={"requester"})
AGENT = tf.Actor("agent-7", roles={"agent"})
POSTGRES_URL = os.environ.get("TICKETFLOW_TEST_POSTGRES_URL")
MINIMAL: dict[str, Any] = {
    "id": "minimal",
    "initial": "open",
    "states": {"open": {}, "done": {"terminal": True}},
    "transitions": [{"trigger": "finish", "source": "open", "dest": "done"}],
}


def open_store(spec: str) -> Any:
    """A repository from ``sqlite:<path>`` or ``postgres:<schema>`` (also used by the worker processes)."""
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        return tf.SQLiteRepository(where)
    from ticketflow.repository.postgres import PostgresRepository

    assert POSTGRES_URL is not None
    return PostgresRepository(POSTGRES_URL, schema=where)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store spec: a real SQLite file, or a fresh PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 't.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL TESTS SKIPPED: set TICKETFLOW_TEST_POSTGRES_URL to run them")
    spec = f"postgres:tf_test_{uuid.uuid4().hex[:12]}"
    open_store(spec).close()
    yield spec
    open_store(spec).drop_schema()


def enqueue(spec: str, count: int, kind: str = "confirmation") -> set[str]:
    """*count* messages of *kind*, oldest first; their keys."""
    repo = open_store(spec)
    with repo.transaction() as tx:
        for n in range(count):
            tx.enqueue(tf.OutboxMessage(f"m{n:04d}", f"T{n % 7}", kind, {"n": n}, T0 + timedelta(seconds=n)))
    repo.close()
    return {f"m{n:04d}" for n in range(count)}


# -- no head-of-line blocking -------------------------------------------------------------------


@pytest.mark.parametrize("persistent", [False, True])
def test_an_unhandled_kind_holds_nothing_back(tmp_path: Path, caplog: pytest.LogCaptureFixture, persistent: bool):
    """120 tickets whose sla.warning has no notifier: every breach page and reminder is still sent."""
    clock = SteppableClock(T0)
    registry = tf.Registry()
    sent: list[tf.OutboxMessage] = []
    registry.add_notifier("sla.breached", sent.append)
    registry.add_notifier("requester_reminder", sent.append)
    repo = tf.SQLiteRepository(tmp_path / "t.db") if persistent else tf.MemoryRepository()
    with caplog.at_level(logging.WARNING, logger="ticketflow.automation"):
        wf = tf.Workflow(tf.builtin("zendesk"), repo, clock=clock, registry=registry)
    # zendesk's state notices (received, question, resolved) have no notifier here either
    assert wf.unhandled_kinds() == ("agent_question", "request_received", "sla.warning", "ticket_resolved")
    assert "no notifier for message kind(s) agent_question, request_received, sla.warning, ticket_resolved" in (
        caplog.text
    )
    ids = [wf.open(CUSTOMER, title=f"t{i}", fields={"category": "question"}).id for i in range(120)]
    clock.set(T0 + timedelta(minutes=50))  # past 75% of the 1-hour first response: 120 warnings, written first
    while wf.run_due().tickets:
        pass
    clock.set(T0 + timedelta(minutes=61))  # breached: 120 pages
    while wf.run_due().tickets:
        pass
    for ticket_id in ids:
        wf.fire(ticket_id, "ask", AGENT, comment="Which plan?")
    clock.advance(hours=24)  # 120 reminders
    while wf.run_due().tickets:
        pass
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ticketflow.automation"):
        sweeper = tf.Sweeper(wf, batch=50)
        report = sweeper.run_once()
    assert report.delivered == 240
    assert sorted({m.kind for m in sent}) == ["requester_reminder", "sla.breached"]
    assert {m.ticket_id for m in sent if m.kind == "sla.breached"} == set(ids)
    assert "120 'sla.warning'" in caplog.text  # the sweep says what it could not deliver
    everything = wf.deliveries(status="undeliverable", limit=1000)
    # zendesk's received/question messages (state notify) have no notifier here either
    assert {d.message.kind for d in everything} == {"sla.warning", "request_received", "agent_question"}
    undeliverable = [d for d in everything if d.message.kind == "sla.warning"]
    assert len(undeliverable) == 120
    assert undeliverable[0].last_error == "no notifier for kind 'sla.warning'"
    kinds = [
        d.message.kind for d in wf.deliveries(ids[0]) if d.message.kind not in ("request_received", "agent_question")
    ]
    assert kinds == ["sla.warning", "sla.breached", "requester_reminder"]
    # a notifier registered later delivers them; nothing is lost
    registry.add_notifier("sla.warning", sent.append)
    assert wf.unhandled_kinds() == ("agent_question", "request_received", "ticket_resolved")
    assert sweeper.run_once().delivered == 120
    assert {d.message.kind for d in wf.deliveries(status="undeliverable", limit=1000)} == {
        "request_received",
        "agent_question",
    }
    assert len(wf.deliveries(status="delivered", limit=1000)) == 360


def test_a_failing_notifier_backs_off_that_message_only():
    wf = tf.Workflow(tf.load_lifecycle(MINIMAL), clock=SteppableClock(T0))
    with wf.repository.transaction() as tx:
        for n in range(3):
            tx.enqueue(tf.OutboxMessage(f"m{n}", f"T{n}", "confirmation", {"n": n}, T0 + timedelta(seconds=n)))
    delivered: list[str] = []

    def notifier(message: tf.OutboxMessage) -> None:
        if message.key == "m0":
            raise ConnectionError("smtp down")
        delivered.append(message.key)

    wf.registry.add_notifier("confirmation", notifier)
    assert wf.deliver() == 2
    assert delivered == ["m1", "m2"]
    (failed,) = wf.deliveries("T0")
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "ConnectionError: smtp down")
    assert failed.next_attempt_at == T0 + timedelta(seconds=30)
    assert wf.deliver(T0 + timedelta(seconds=29)) == 0  # backing off
    assert wf.deliver(T0 + timedelta(seconds=30)) == 0  # failed again: a minute now
    assert wf.deliveries(key="m0")[0].next_attempt_at == T0 + timedelta(seconds=90)
    wf.registry.add_notifier("confirmation", lambda m: delivered.append(m.key))
    assert wf.deliver(T0 + timedelta(seconds=90)) == 1
    (done,) = wf.deliveries(key="m0")
    assert (done.status, done.attempts, done.delivered_at) == ("delivered", 3, T0 + timedelta(seconds=90))
    wf.redeliver("m0")
    assert wf.deliver(T0 + timedelta(seconds=91)) == 1
    assert delivered == ["m1", "m2", "m0", "m0"]


def test_a_workflow_names_every_kind_its_lifecycle_can_write():
    sighten = tf.Workflow(tf.builtin("sighten"))
    assert sighten.unhandled_kinds() == ("product_manager_ping", "sla.breached", "sla.warning", "ticket.opened")
    interfacing = tf.Workflow(tf.builtin("interfacing"))
    assert "contact.recorded" in interfacing.unhandled_kinds()
    registry = tf.Registry()
    registry.add_notifier("requester_reminder", print)
    zendesk = tf.Workflow(tf.builtin("zendesk"), registry=registry)
    assert zendesk.unhandled_kinds() == (
        "agent_question",
        "request_received",
        "sla.breached",
        "sla.warning",
        "ticket_resolved",
    )


def test_a_bad_status_filter_is_refused():
    with pytest.raises(tf.StorageError, match="status must be one of"):
        tf.Workflow(tf.load_lifecycle(MINIMAL)).deliveries(status="sent")


# -- exactly once across sweepers ---------------------------------------------------------------


def test_four_threads_deliver_each_message_exactly_once(store: str):
    expected = enqueue(store, 320)
    delivered: list[str] = []
    go = threading.Barrier(4)

    def notifier(message: tf.OutboxMessage) -> None:
        delivered.append(message.key)
        time.sleep(0.0005)  # a real notifier takes a while: the sweepers overlap

    def sweep() -> None:
        registry = tf.Registry()
        registry.add_notifier("confirmation", notifier)
        repo = open_store(store)
        wf = tf.Workflow(
            tf.load_lifecycle(MINIMAL), repo, clock=SteppableClock(T0 + timedelta(hours=1)), registry=registry
        )
        sweeper = tf.Sweeper(wf, batch=10)
        go.wait()
        while repo.pending_messages(1):
            sweeper.run_once()
        repo.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(delivered) == sorted(expected)  # every message, none twice
    repo = open_store(store)
    assert repo.deliveries(status="pending") == []
    repo.close()


SWEEPER_PROCESS = """
import sys, time
from datetime import datetime, timedelta, UTC
sys.path.insert(0, sys.argv[5])
import ticketflow as tf
from ticketflow.testing import SteppableClock
from test_delivery import MINIMAL, open_store
spec, log, mode, lease = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def note(message):
    with open(log, "a") as out:
        out.write(message.key + "\\n")
    if mode == "hang":
        print("hang", flush=True)
        time.sleep(3600)
    time.sleep(0.0005)
registry = tf.Registry()
registry.add_notifier("confirmation", note)
repo = open_store(spec)
clock = SteppableClock(datetime(2026, 3, 3, tzinfo=UTC))
wf = tf.Workflow(tf.load_lifecycle(MINIMAL), repo, clock=clock, registry=registry)
sweeper = tf.Sweeper(wf, batch=10, lease=timedelta(seconds=lease))
print("go", flush=True)
while time.time() < float(sys.argv[6]):  # all start together, whatever their imports took
    time.sleep(0.001)
while repo.pending_messages(1):
    sweeper.run_once()
repo.close()
print("done", flush=True)
"""


def run_sweeper(
    store: str, log: Path, mode: str = "normal", lease: float = 300.0, start: float = 0.0
) -> subprocess.Popen[str]:
    here = str(Path(__file__).parent)
    return subprocess.Popen(  # noqa: S603 - our own interpreter running our own script
        [sys.executable, "-c", SWEEPER_PROCESS, store, str(log), mode, str(lease), here, str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_three_processes_deliver_each_message_exactly_once(store: str, tmp_path: Path):
    expected = enqueue(store, 330)
    logs = [tmp_path / f"sent-{i}.log" for i in range(3)]
    start = time.time() + 5  # after the three have imported ticketflow, even on a busy machine
    procs = [run_sweeper(store, log, start=start) for log in logs]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        assert out.split() == ["go", "done"]
    delivered = [key for log in logs if log.exists() for key in log.read_text().split()]
    assert sorted(delivered) == sorted(expected)  # every message, none twice
    assert sum(1 for log in logs if log.exists()) >= 2  # the work was shared


def test_a_sweeper_killed_while_delivering_is_redelivered_with_the_same_key(store: str, tmp_path: Path):
    expected = enqueue(store, 40)
    hung = run_sweeper(store, tmp_path / "killed.log", mode="hang", lease=5.0)
    assert hung.stdout is not None
    assert hung.stdout.readline().strip() == "go"
    assert hung.stdout.readline().strip() == "hang"  # inside a notifier call, holding a claim of 10
    claimed = time.monotonic()
    os.kill(hung.pid, signal.SIGKILL)
    hung.wait()
    hung.stdout.close()
    (killed_key,) = (tmp_path / "killed.log").read_text().split()
    delivered: list[tf.OutboxMessage] = []
    registry = tf.Registry()
    registry.add_notifier("confirmation", delivered.append)
    repo = open_store(store)
    wf = tf.Workflow(tf.load_lifecycle(MINIMAL), repo, clock=SteppableClock(T0 + timedelta(days=1)), registry=registry)
    sweeper = tf.Sweeper(wf, batch=10)
    first = sweeper.run_once().delivered
    if time.monotonic() - claimed < 4.5:  # (a very busy machine may take longer than the lease to get here)
        assert first == 30  # the dead sweeper's claims are held until their lease ends
    deadline = time.monotonic() + 60
    while repo.pending_messages(1) and time.monotonic() < deadline:
        time.sleep(0.2)
        sweeper.run_once()
    keys = [m.key for m in delivered]
    assert sorted(keys) == sorted(expected)  # each once here ...
    assert killed_key in keys  # ... and the interrupted one again, under the same idempotency key
    (log,) = wf.deliveries(key=killed_key)
    assert (log.status, log.attempts) == ("delivered", 1)
    repo.close()


# -- the webhook and logging notifiers ---------------------------------------------------------

SECRET = "a-shared-secret-of-32-characters"  # noqa: S105 - a test secret


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver: checks the signature, answers as its server is told, records what it accepted."""

    server: "ReceiverServer"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        genuine = verify_signature(
            SECRET, body, self.headers["X-Ticketflow-Timestamp"], self.headers["X-Ticketflow-Signature"]
        )
        self.server.seen.append((self.headers["Idempotency-Key"], genuine, json.loads(body)))
        if self.server.delay:
            time.sleep(self.server.delay)
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status if genuine else 401)
        self.end_headers()
        self.wfile.write(b"no thanks" if status >= 300 else b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class ReceiverServer(http.server.ThreadingHTTPServer):
    seen: list[tuple[str, bool, Any]]
    statuses: list[int]
    delay: float


@pytest.fixture
def receiver() -> Iterator[ReceiverServer]:
    server = ReceiverServer(("127.0.0.1", 0), Receiver)
    server.seen, server.statuses, server.delay = [], [], 0.0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_webhook_posts_signed_json_and_a_failure_is_retried_through_the_outbox(receiver: ReceiverServer):
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/ticketflow"
    wf = tf.Workflow(tf.load_lifecycle(MINIMAL), clock=SteppableClock(T0))
    wf.registry.add_notifier("confirmation", tf.WebhookNotifier(url, secret=SECRET, timeout=5))
    with wf.repository.transaction() as tx:
        tx.enqueue(tf.OutboxMessage("T1:opened", "T1", "confirmation", {"to": "ana@example.com"}, T0))
    receiver.statuses = [503]
    assert wf.deliver() == 0
    (failed,) = wf.deliveries("T1")
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert "HTTP 503: no thanks" in str(failed.last_error)
    assert wf.deliver(T0 + timedelta(seconds=10)) == 0  # backing off: no request
    assert len(receiver.seen) == 1
    assert wf.deliver(T0 + timedelta(seconds=30)) == 1
    assert [(key, genuine) for key, genuine, _ in receiver.seen] == [("T1:opened", True)] * 2  # same key both times
    assert receiver.seen[-1][2] == {
        "key": "T1:opened",
        "ticket_id": "T1",
        "kind": "confirmation",
        "payload": {"to": "ana@example.com"},
        "created_at": T0.isoformat(),
    }
    assert wf.deliveries("T1")[0].status == "delivered"


def test_a_receiver_refuses_a_tampered_or_stale_webhook():
    body, stamp = b'{"kind":"confirmation"}', "1767225600"
    signature = sign(SECRET, stamp, body)
    assert verify_signature(SECRET, body, stamp, signature, now=1767225600 + 10)
    assert not verify_signature(SECRET, body.replace(b"confirmation", b"x"), stamp, signature, now=1767225600)
    assert not verify_signature("another-secret-of-enough-length", body, stamp, signature, now=1767225600)
    assert not verify_signature(SECRET, body, stamp, signature, now=1767225600 + 301)  # a replay, later
    assert not verify_signature(SECRET, body, "yesterday", signature)


def test_a_receiver_answers_false_to_missing_or_malformed_headers_never_an_exception():
    body, stamp = b'{"kind":"confirmation"}', "1767225600"
    signature = sign(SECRET, stamp, body)
    for bad_stamp, bad_signature in ((stamp, "sha256=\u00e9"), (stamp, None), (None, signature)):
        # a non-ASCII header made compare_digest raise TypeError: the receiver's handler crashed (500, not 401)
        assert not verify_signature(SECRET, body, bad_stamp, bad_signature, now=1767225600)  # type: ignore[arg-type]
    # "nan" is no instant: it compared as fresh at any age, so a request signed with it never went stale
    assert not verify_signature(SECRET, body, "nan", sign(SECRET, "nan", body), now=1767225600)


def test_a_webhook_that_times_out_or_cannot_connect_fails_that_message(receiver: ReceiverServer):
    receiver.delay = 1.0
    url = f"http://127.0.0.1:{receiver.server_address[1]}/"
    message = tf.OutboxMessage("k", "T1", "confirmation", {}, T0)
    with pytest.raises(tf.DeliveryFailed, match="timed out") as slow:
        tf.WebhookNotifier(url, secret=SECRET, timeout=0.2)(message)
    assert (slow.value.key, slow.value.target) == ("k", url)
    receiver.server_close()
    closed = tf.WebhookNotifier(url, secret=SECRET, timeout=0.5)
    with pytest.raises(tf.DeliveryFailed):
        closed(message)
    for bad, problem in ((("ftp://x", SECRET), "http"), ((url, "short"), "16 bytes")):
        with pytest.raises(ValueError, match=problem):
            tf.WebhookNotifier(bad[0], secret=bad[1])


def test_the_logging_notifier_writes_one_line_per_message(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.INFO, logger="ticketflow.notify"):
        tf.LoggingNotifier()(tf.OutboxMessage("T1:opened", "T1", "ticket.opened", {"to": "ana"}, T0))
    (record,) = caplog.records
    assert record.getMessage().startswith("ticket.opened for T1 (key T1:opened): {")
    assert '"payload":{"to":"ana"}' in record.getMessage()


# -- the after-commit event hook ---------------------------------------------------------------


def test_subscribers_see_every_event_of_every_write_path_once_after_commit(tmp_path: Path):
    clock = SteppableClock(T0)
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(tmp_path / "t.db"), clock=clock)
    seen: list[tuple[str, int, str]] = []
    committed: list[bool] = []

    def audit(ticket: tf.Ticket, event: tf.Event) -> None:
        seen.append((event.ticket_id, event.seq, event.trigger))
        committed.append(wf.repository.history(ticket.id)[-1].seq >= event.seq)  # already stored

    unsubscribe = wf.subscribe(audit)
    wf.registry.on_event(lambda ticket, event: 1 / 0)  # a broken listener is logged; it stops nothing
    first = wf.open(CUSTOMER, title="Login fails", fields={"category": "question"})  # open
    wf.fire(first.id, "ask", AGENT, comment="Which browser?")  # fire
    clock.advance(days=8)
    assert wf.run_due().fired  # timers: reminders, then the auto-close
    follow = wf.reply(first.id, CUSTOMER, "Still broken")  # a reply to a closed ticket: a follow-up
    second = wf.open(CUSTOMER, title="Login fails again")
    wf.comment(second.id, AGENT, "Looking")  # comment
    wf.link(second.id, AGENT, "relates_to", to_ticket=follow.id)  # a link
    wf.mark_duplicate(second.id, follow.id, AGENT, trigger="solve", comment="Same as the first")  # a merge
    exported = tmp_path / "export.jsonl"
    with exported.open("w") as out:
        tf.export_jsonl(wf.repository, out)
    other = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(tmp_path / "copy.db"), registry=wf.registry)
    with exported.open() as lines:
        other.import_jsonl(lines)  # an import
    tickets = wf.repository.find(limit=100).tickets
    stored = [(e.ticket_id, e.seq, e.trigger) for t in tickets for e in wf.history(t.id)]
    assert sorted(seen) == sorted(stored + stored)  # every event once in the store, once in the import
    assert all(committed)
    unsubscribe()
    wf.comment(second.id, AGENT, "after unsubscribing")
    assert len(seen) == 2 * len(stored)


# -- sweeping arguments: refused by name, not a crash (or a busy loop) later --------------------------------


@pytest.mark.parametrize("limit", ["10", 2.5, True])
def test_run_due_with_a_limit_that_is_not_an_integer_is_a_type_error_naming_it(limit: object):
    wf = tf.Workflow(tf.builtin("zendesk"))
    with pytest.raises(TypeError, match=r"^limit must be a positive integer"):
        wf.run_due(datetime(2026, 3, 2, 9, tzinfo=UTC), limit=limit)  # type: ignore[arg-type]


def test_a_sweeper_refuses_a_string_for_workflows_and_an_interval_that_would_never_wait():
    wf = tf.Workflow(tf.builtin("zendesk"))
    with pytest.raises(TypeError, match="workflow must be a Workflow or a list of them"):
        tf.Sweeper("wf")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="interval must be a timedelta"):
        tf.Sweeper(wf, interval=60)  # type: ignore[arg-type]
    for interval in (timedelta(0), timedelta(seconds=-5)):  # the loop would spin a core
        with pytest.raises(ValueError, match="interval must be positive"):
            tf.Sweeper(wf, interval=interval)
