"""The optional capabilities of a repository are runtime-checkable Protocols, found with isinstance."""

from datetime import UTC, datetime, timedelta

import pytest

import ticketflow as tf
from ticketflow.protocols import ClaimingDue, FoldStore, SnapshotReads

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
AGENT = tf.Actor("agent", roles={"agent"})
CUSTOMER = tf.Actor("c", roles={"requester"})


class Claiming(tf.MemoryRepository):
    """A user's repository that leases due work: the sweeper must claim through it."""

    def __init__(self) -> None:
        super().__init__()
        self.claims: list[str | None] = []

    def claim_due(
        self, now: datetime, limit: int = 100, *, lifecycle_id: str | None = None
    ) -> list[tuple[str, datetime]]:
        self.claims.append(lifecycle_id)
        return self.due(now, limit, lifecycle_id=lifecycle_id)


class Plain(tf.MemoryRepository):
    """A repository that reads a ticket and its history apart and keeps no folds (those calls are hidden)."""

    reads_apart = 0
    get_with_history = None  # type: ignore[assignment]  # a Protocol member set to None is not implemented
    fold = None  # type: ignore[assignment]  # no FoldStore: a sweep reads the history

    def history(self, ticket_id: str) -> list[tf.Event]:
        type(self).reads_apart += 1
        return super().history(ticket_id)


def test_the_built_in_repositories_declare_their_capabilities(tmp_path):
    memory, sqlite = tf.MemoryRepository(), tf.SQLiteRepository(tmp_path / "t.db")
    assert isinstance(memory, SnapshotReads)
    assert isinstance(sqlite, SnapshotReads)
    assert not isinstance(memory, ClaimingDue)
    assert not isinstance(sqlite, ClaimingDue)
    pytest.importorskip("sqlalchemy")
    from ticketflow.repository.postgres import PostgresRepository

    assert issubclass(PostgresRepository, ClaimingDue)
    assert issubclass(PostgresRepository, SnapshotReads)
    assert issubclass(PostgresRepository, tf.ClaimingOutbox)


def _solved(repository: tf.TicketRepository) -> tf.Workflow:
    wf = tf.Workflow(tf.builtin("zendesk"), repository)
    t = wf.open(CUSTOMER, title="x", at=T0)
    wf.fire(t.id, "solve", AGENT, comment="done", at=T0)
    return wf


def test_the_sweeper_claims_due_work_from_a_repository_that_implements_claiming_due():
    repository = Claiming()
    assert isinstance(repository, ClaimingDue)
    wf = _solved(repository)
    result = wf.run_due(T0 + timedelta(days=2))
    assert [e.meta["rule"] for e in result.fired] == ["solved_auto_close_24h"]
    assert repository.claims == ["zendesk"]  # claimed, for its own lifecycle


def test_a_repository_without_snapshot_reads_is_read_apart_and_swept_alike():
    repository = Plain()
    assert not isinstance(repository, SnapshotReads)
    assert not isinstance(repository, FoldStore)
    wf = _solved(repository)
    Plain.reads_apart = 0
    fired = wf.run_due(T0 + timedelta(days=2)).fired
    assert [e.meta["rule"] for e in fired] == ["solved_auto_close_24h"]
    assert Plain.reads_apart >= 1
    with_snapshots = _solved(tf.MemoryRepository()).run_due(T0 + timedelta(days=2)).fired
    assert [(e.trigger, e.target) for e in fired] == [(e.trigger, e.target) for e in with_snapshots]
