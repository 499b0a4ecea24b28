"""The fold: the events a ticket's SLA clocks and timed rules read, kept with it and extended per write.

The reference is the pure fold over the whole history: ``evaluate`` and
``pending_rules`` on the fold must equal them on the history, for random
histories of every built-in lifecycle, and a fold extended one write at a
time must be the fold of the whole history.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow.automation._fold import Fold, Folder
from ticketflow.automation._timers import pending_rules
from ticketflow.errors import TicketflowError
from ticketflow.repository._sqlite import SCHEMA_VERSION
from ticketflow.sla import evaluate

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
AGENT = tf.Actor("agent-1", roles={"agent"})
ADMIN = tf.Actor("admin-1", roles={"admin", "agent", "manager", "support", "engineer", "lead"})
CUSTOMER = tf.Actor("cust-1", roles={"customer", "requester"})
BUILTINS = tf.builtins()

#: one step of a random history: (kind, index into the choices, minutes later, public?)
STEP = st.tuples(
    st.sampled_from(["fire", "fire", "comment", "update", "note"]),
    st.integers(0, 50),
    st.sampled_from([0, 0, 1, 7, 45, 180, 600, 1500, 4000]),
    st.booleans(),
)


class _Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


def _field_value(spec: Any, pick: int) -> Any:
    if spec.choices:
        return spec.choices[pick % len(spec.choices)]
    return {"int": pick, "float": float(pick), "bool": bool(pick % 2)}.get(spec.type, f"v{pick}")


def _fire(wf: tf.Workflow, ticket_id: str, trigger: str, pick: int) -> None:
    """Fire *trigger* as staff with an assignee, giving the fields a refusal names as missing (once)."""
    lifecycle = wf.lifecycle
    try:
        wf.fire(ticket_id, trigger, ADMIN, comment="c", assignee=ADMIN.id)
    except tf.FieldError as refused:
        fields = {n: _field_value(lifecycle.fields[n], pick) for n in refused.fields if n in lifecycle.fields}
        if not fields:
            raise
        wf.fire(ticket_id, trigger, ADMIN, comment="c", assignee=ADMIN.id, fields=fields)


def _drive(lifecycle: tf.Lifecycle, steps: list[tuple[str, int, int, bool]], repo: Any) -> tuple[tf.Workflow, str]:
    """A ticket driven through *steps* (refused steps change nothing and are skipped)."""
    clock = _Clock()
    wf = tf.Workflow(lifecycle, repo, clock=clock)
    fields = {
        name: _field_value(spec, 0)
        for name, spec in lifecycle.fields.items()
        if spec.default is None and (spec.choices or lifecycle.initial in spec.required_in)
    }
    try:
        ticket = wf.open(CUSTOMER, title="t", fields=fields)
    except TicketflowError:
        ticket = wf.open(ADMIN, title="t", fields=fields, requester=CUSTOMER.id)
    for kind, pick, minutes, public in steps:
        clock.at += timedelta(minutes=minutes)
        actor = ADMIN if pick % 3 else CUSTOMER
        try:
            if kind == "fire":
                allowed = wf.allowed(ticket.id, ADMIN)
                if allowed:
                    _fire(wf, ticket.id, allowed[pick % len(allowed)], pick)
            elif kind in ("comment", "note"):
                visibility = "public" if public or actor is CUSTOMER else "internal"
                wf.comment(ticket.id, actor, f"c{pick}", visibility=visibility)
            elif lifecycle.fields:
                names = sorted(lifecycle.fields)
                name = names[pick % len(names)]
                wf.update(ticket.id, ADMIN, fields={name: _field_value(lifecycle.fields[name], pick // 3)})
        except TicketflowError:
            continue
    return wf, ticket.id


def _same_clocks(wf: tf.Workflow, ticket_id: str, fold: Any, later: timedelta) -> None:
    ticket = wf.get(ticket_id)
    history = wf.history(ticket_id)
    now = history[-1].at + later
    policy = wf.sla_policy
    if policy is not None:
        assert evaluate(policy, wf.lifecycle, ticket, fold, now) == evaluate(policy, wf.lifecycle, ticket, history, now)
    calendar = wf.timer_calendar_for(ticket)
    assert pending_rules(wf.lifecycle, ticket, fold, calendar) == pending_rules(wf.lifecycle, ticket, history, calendar)


@pytest.mark.parametrize("lifecycle_id", BUILTINS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=40), later=st.sampled_from([timedelta(0), timedelta(hours=3), timedelta(days=9)]))
def test_the_fold_gives_the_clocks_and_rules_of_the_whole_history(
    lifecycle_id: str, steps: list[tuple[str, int, int, bool]], later: timedelta
) -> None:
    lifecycle = tf.builtin(lifecycle_id)
    wf, ticket_id = _drive(lifecycle, steps, tf.MemoryRepository())
    folder = Folder(lifecycle, wf.sla_policy)
    history = wf.history(ticket_id)
    fold = folder.extend((), history)
    assert fold is not None
    assert list(fold) == list(folder.fold(history) or ())  # the events a re-fold from scratch keeps
    _same_clocks(wf, ticket_id, fold, later)
    # extended one event at a time, it is the fold of the whole history, state and all
    grown: Sequence[tf.Event] = ()
    for event in history:
        extended = folder.extend(grown, [event])
        assert extended is not None
        grown = extended
    assert isinstance(grown, Fold)
    assert grown == fold
    assert grown.state == fold.state
    # from its state alone (each metric's events since its last stop), the next due instant of the whole history
    ticket = wf.get(ticket_id)
    at = history[-1].at + later
    calendar = wf.timer_calendar_for(ticket)
    assert folder.next_due(grown, ticket, at, calendar) == wf._scheduler.next_due(ticket, history, at)
    # and stored, it reads back the same
    stored = folder.accept(folder.head(grown), list(grown))
    assert stored is not None
    assert stored.state == grown.state


def test_a_fold_drops_the_notes_that_change_no_clock() -> None:
    lifecycle = tf.builtin("zendesk")
    wf = tf.Workflow(lifecycle)
    ticket = wf.open(CUSTOMER, title="printer", at=T0)
    wf.fire(ticket.id, "take", AGENT, assignee=AGENT.id, at=T0)
    for n in range(200):
        wf.comment(ticket.id, AGENT, f"note {n}", visibility="internal", at=T0 + timedelta(minutes=n))
    fold = Folder(lifecycle, wf.sla_policy).fold(wf.history(ticket.id))
    assert fold is not None
    assert len(fold) <= 4  # opening, take, the last note (the last staff comment and the last event)
    assert fold[-1].seq == 202


def test_a_history_that_goes_back_in_time_has_no_fold() -> None:
    lifecycle = tf.builtin("zendesk")
    wf = tf.Workflow(lifecycle)
    ticket = wf.open(CUSTOMER, title="printer", at=T0 + timedelta(hours=2))
    wf.comment(ticket.id, AGENT, "earlier", visibility="internal", at=T0)
    assert Folder(lifecycle, wf.sla_policy).fold(wf.history(ticket.id)) is None


def test_the_key_names_what_the_fold_depends_on() -> None:
    zendesk = tf.builtin("zendesk")
    document = dict(zendesk.document)
    document.pop("sla")
    without = tf.load_lifecycle(document)
    assert Folder(zendesk, tf.Workflow(zendesk).sla_policy).key == Folder(zendesk, tf.Workflow(zendesk).sla_policy).key
    assert Folder(zendesk, tf.Workflow(zendesk).sla_policy).key != Folder(without, None).key
    assert Folder(zendesk, tf.Workflow(zendesk).sla_policy).key != Folder(zendesk, None).key


def test_a_migrated_history_folds_in_the_names_of_its_version() -> None:
    """Migration events are always kept: the events before them read in today's names."""
    lifecycle = tf.builtin("zendesk")
    wf = tf.Workflow(lifecycle)
    ticket = wf.open(CUSTOMER, title="printer", at=T0)
    history = wf.history(ticket.id)
    migration = attrs.evolve(
        history[-1], seq=2, trigger="migrated", source=ticket.state, meta={"migrated": {"states": {}}}
    )
    fold = Folder(lifecycle, wf.sla_policy).fold([*history, migration])
    assert fold is not None
    assert [e.seq for e in fold] == [1, 2]


# -- stored with the ticket: memory, SQLite, PostgreSQL ----------------------------------------

PG_URL = os.environ.get("TICKETFLOW_TEST_POSTGRES_URL")


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.skipif(not PG_URL, reason="PostgreSQL TESTS SKIPPED: no URL")),
    ]
)
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh repository of each kind that keeps folds (PostgreSQL in a schema dropped afterwards)."""
    if request.param == "memory":
        yield tf.MemoryRepository()
    elif request.param == "sqlite":
        repo = tf.SQLiteRepository(tmp_path / "fold.db")
        yield repo
        repo.close()
    else:
        from ticketflow.repository.postgres import PostgresRepository

        assert PG_URL is not None
        pg = PostgresRepository(PG_URL, schema=f"tf_test_{uuid.uuid4().hex[:12]}")
        yield pg
        pg.drop_schema()
        pg.close()


class _Counting:
    """A repository that counts whole-history reads (and passes everything else through)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.histories = 0

    def history(self, ticket_id: str) -> list[tf.Event]:
        self.histories += 1
        return cast(list[tf.Event], self.inner.history(ticket_id))

    def get_with_history(self, ticket_id: str) -> tuple[tf.Ticket, list[tf.Event]]:
        self.histories += 1
        return cast(tuple[tf.Ticket, list[tf.Event]], self.inner.get_with_history(ticket_id))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _long_ticket(wf: tf.Workflow, notes: int) -> str:
    ticket = wf.open(CUSTOMER, title="printer", at=T0)
    wf.fire(ticket.id, "take", AGENT, assignee=AGENT.id, at=T0)
    for n in range(notes):
        wf.comment(ticket.id, AGENT, f"note {n}", visibility="internal", at=T0 + timedelta(minutes=n))
    return ticket.id


def test_each_write_stores_the_fold_with_the_ticket_and_the_clocks_read_it(repository: Any) -> None:
    wf = tf.Workflow(tf.builtin("zendesk"), repository)
    ticket_id = _long_ticket(wf, 60)
    stored = repository.fold(ticket_id)
    assert stored is not None
    key, events = stored
    assert key.partition(" ")[0] == Folder(wf.lifecycle, wf.sla_policy).key  # its key, then its state
    assert events == list(Folder(wf.lifecycle, wf.sla_policy).fold(wf.history(ticket_id)) or ())
    assert events[-1].seq == wf.get(ticket_id).version == 62
    assert len(events) < 6
    now = T0 + timedelta(days=3)
    expected = evaluate(wf.sla_policy, wf.lifecycle, wf.get(ticket_id), wf.history(ticket_id), now)  # type: ignore[arg-type]
    counting = _Counting(repository)
    reader = tf.Workflow(tf.builtin("zendesk"), counting)  # type: ignore[arg-type]
    assert reader.sla(ticket_id, now) == expected
    assert counting.histories == 0  # the clocks came from the stored fold
    # a moment before the last event, the fold does not tell: the history is read
    assert reader.sla(ticket_id, T0) == evaluate(
        wf.sla_policy,  # type: ignore[arg-type]
        wf.lifecycle,
        wf.get(ticket_id),
        wf.history(ticket_id),
        T0,
    )
    assert counting.histories == 1


def test_a_fire_reads_the_stored_fold_not_the_history(repository: Any) -> None:
    wf = tf.Workflow(tf.builtin("zendesk"), repository)
    ticket_id = _long_ticket(wf, 30)
    counting = _Counting(repository)
    writer = tf.Workflow(tf.builtin("zendesk"), counting, ticket_cache=0)  # type: ignore[arg-type]
    writer.comment(ticket_id, AGENT, "one more", visibility="internal", at=T0 + timedelta(hours=2))
    writer.comment(ticket_id, CUSTOMER, "thanks", at=T0 + timedelta(hours=3))
    assert counting.histories == 0
    history = wf.history(ticket_id)
    fold = repository.fold(ticket_id)
    assert fold is not None
    assert fold[1] == list(Folder(wf.lifecycle, wf.sla_policy).fold(history) or ())
    assert wf.sla(ticket_id, T0 + timedelta(days=1)) == evaluate(
        wf.sla_policy,  # type: ignore[arg-type]
        wf.lifecycle,
        wf.get(ticket_id),
        history,
        T0 + timedelta(days=1),
    )


def test_a_fold_of_another_workflow_or_an_old_version_is_folded_again(repository: Any) -> None:
    """A fold stored under another key (other rules) or behind the ticket's version is not trusted."""
    wf = tf.Workflow(tf.builtin("zendesk"), repository)
    ticket_id = _long_ticket(wf, 10)
    ticket = wf.get(ticket_id)
    # another key: as a Workflow with other rules would have stored it
    with repository.transaction() as tx:
        tx.save(ticket, [], ticket.version, fold=("another-key", (1,)))
    counting = _Counting(repository)
    writer = tf.Workflow(tf.builtin("zendesk"), counting, ticket_cache=0)  # type: ignore[arg-type]
    writer.comment(ticket_id, AGENT, "again", visibility="internal", at=T0 + timedelta(hours=1))
    assert counting.histories == 1  # folded again from the whole history ...
    stored = repository.fold(ticket_id)
    assert stored is not None
    assert stored[0].partition(" ")[0] == writer._scheduler.folder.key
    # a fold that ends before the ticket's version (a write that did not keep it): the history decides
    ticket = wf.get(ticket_id)
    repository.save(
        attrs.evolve(ticket, version=ticket.version + 1, updated_at=T0 + timedelta(hours=2)),
        [attrs.evolve(wf.history(ticket_id)[-1], seq=ticket.version + 1, at=T0 + timedelta(hours=2))],
        ticket.version,
    )
    counting.histories = 0
    now = T0 + timedelta(days=2)
    assert writer.sla(ticket_id, now) == evaluate(
        wf.sla_policy,  # type: ignore[arg-type]
        wf.lifecycle,
        wf.get(ticket_id),
        wf.history(ticket_id),
        now,
    )
    assert counting.histories == 1


def test_a_sqlite_database_from_before_folds_gains_the_column_and_keeps_its_tickets(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(path))
    ticket_id = _long_ticket(wf, 5)
    wf.repository.close()  # type: ignore[attr-defined]
    with sqlite3.connect(path) as conn:  # as the previous schema version left it
        conn.execute("ALTER TABLE tickets DROP COLUMN fold")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.close()
    reopened = tf.SQLiteRepository(path)
    assert reopened.fold(ticket_id) is None  # nothing stored yet: readers read the history
    again = tf.Workflow(tf.builtin("zendesk"), reopened)
    now = T0 + timedelta(days=1)
    assert again.sla(ticket_id, now) == evaluate(
        again.sla_policy,  # type: ignore[arg-type]
        again.lifecycle,
        again.get(ticket_id),
        again.history(ticket_id),
        now,
    )
    again.comment(ticket_id, AGENT, "after the upgrade", visibility="internal", at=T0 + timedelta(hours=1))
    stored = reopened.fold(ticket_id)
    assert stored is not None
    assert stored[1][-1].seq == again.get(ticket_id).version
    reopened.close()


def test_the_ticket_cache_keeps_folds_not_histories(tmp_path: Path) -> None:
    """Hot tickets with long histories stay within the cache's event budget: no history is re-read."""
    repo = tf.SQLiteRepository(tmp_path / "hot.db")
    wf = tf.Workflow(tf.builtin("zendesk"), repo)
    ids = [_long_ticket(wf, 120) for _ in range(3)]
    counting = _Counting(repo)
    hot = tf.Workflow(tf.builtin("zendesk"), counting)  # type: ignore[arg-type]
    for round_ in range(3):
        for ticket_id in ids:
            hot.comment(ticket_id, AGENT, f"r{round_}", visibility="internal", at=T0 + timedelta(hours=5))
    assert counting.histories == 0
    assert hot._recent.events <= 3 * 6  # a few events per ticket, not 120
    repo.close()


def test_the_sla_report_reads_folds_and_equals_the_report_of_whole_histories(repository: Any) -> None:
    from ticketflow.sla import attainment

    wf = tf.Workflow(tf.builtin("zendesk"), repository)
    ids = [_long_ticket(wf, n) for n in (3, 25, 40)]
    wf.comment(ids[0], AGENT, "answered", at=T0 + timedelta(hours=4))
    now = T0 + timedelta(days=4)
    counting = _Counting(repository)
    reader = tf.Workflow(tf.builtin("zendesk"), counting)  # type: ignore[arg-type]
    report = reader.sla_report(now)
    assert counting.histories == 0
    whole = attainment(
        wf.sla_policy,  # type: ignore[arg-type]
        wf.lifecycle,
        [(wf.get(i), wf.history(i)) for i in ids],
        now,
        group_by=("assignee",),
    )
    assert report == whole
