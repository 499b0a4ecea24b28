"""The repository contract suite: one set of tests every storage adapter passes.

Subclass it in a pytest module and say how to make a fresh repository::

    from ticketflow.testing import RepositoryContract

    class TestOurRepository(RepositoryContract):
        def make_repository(self, tmp_path):
            return OurRepository(dsn=...)

ticketflow runs it over memory and SQLite (and PostgreSQL when configured).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from ticketflow.errors import ConcurrencyConflict, StorageError, TicketflowError, TicketNotFound
from ticketflow.lifecycle import Lifecycle, load_lifecycle
from ticketflow.model import Actor, Comment, Event, Ticket, replay
from ticketflow.protocols import (
    ClaimingDue,
    ClaimingOutbox,
    FoldStore,
    Link,
    OutboxMessage,
    PartialFolds,
    SnapshotFolds,
    SnapshotReads,
    TicketRepository,
)
from ticketflow.repository._codec import loads

__all__ = ["CONTRACT_LIFECYCLE", "RepositoryContract", "TicketFactory"]

#: The small lifecycle the contract suite makes its tickets with.
CONTRACT_LIFECYCLE: dict[str, Any] = {
    "id": "contract",
    "initial": "new",
    "states": {"new": {"group": "open"}, "open": {"group": "open"}, "done": {"group": "closed", "terminal": True}},
    "fields": {
        "priority": {"type": "choice", "choices": ["low", "high"]},
        "score": {"type": "float"},
        "count": {"type": "int"},
        "urgent": {"type": "bool"},
        "labels": {"type": "list"},
        "due": {"type": "date"},
        "note": {"type": "text"},
    },
    "transitions": [
        {"trigger": "start", "source": "new", "dest": "open", "roles": ["agent"]},
        {"trigger": "finish", "source": "open", "dest": "done", "roles": ["agent"]},
    ],
}
_AGENT = Actor("agent-1", roles={"agent"})
_T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


class TicketFactory:
    """Makes tickets and their events through a lifecycle's engine, without storing them."""

    def __init__(self, lifecycle: Lifecycle | None = None) -> None:
        self.lifecycle = lifecycle or load_lifecycle(CONTRACT_LIFECYCLE, source="<contract>")
        self.counter = 0

    def new(self, ticket_id: str | None = None, at: datetime = _T0, **kwargs: Any) -> tuple[Ticket, list[Event]]:
        """A new ticket and its opening event."""
        self.counter += 1
        kwargs.setdefault("title", f"ticket {self.counter}")
        ticket, event = self.lifecycle.engine.open(ticket_id or f"T{self.counter:05d}", _AGENT, at, **kwargs)
        return ticket, [event]

    def step(self, ticket: Ticket, trigger: str, at: datetime | None = None, **kwargs: Any) -> tuple[Ticket, Event]:
        """The ticket after *trigger* and its event."""
        when = at or ticket.updated_at + timedelta(minutes=1)
        new, event, _ = self.lifecycle.engine.apply(ticket, trigger, _AGENT, when, **kwargs)
        return new, event


class RepositoryContract:
    """The contract of :class:`~ticketflow.TicketRepository`, as pytest tests.

    Override :meth:`make_repository`; each test gets a fresh, empty one.
    """

    def make_repository(self, tmp_path: Path) -> TicketRepository:
        """Return a new, empty repository (files may go under *tmp_path*)."""
        raise NotImplementedError("subclasses of RepositoryContract say how to make their repository")

    def close_repository(self, repository: TicketRepository) -> None:
        """Release what :meth:`make_repository` took (drop a schema...); default: nothing."""

    @pytest.fixture
    def repo(self, tmp_path: Path) -> Iterator[TicketRepository]:
        """A fresh repository for one test."""
        repository = self.make_repository(tmp_path)
        yield repository
        self.close_repository(repository)

    @pytest.fixture
    def make(self) -> TicketFactory:
        """Makes tickets and events."""
        return TicketFactory()

    # -- add, get, history -----------------------------------------------------------

    def test_add_then_get_returns_the_ticket_and_its_history(self, repo: TicketRepository, make: TicketFactory) -> None:
        """What was added comes back equal."""
        ticket, events = make.new(fields={"priority": "high"}, tags={"vip"}, participants={"p1"})
        repo.add(ticket, events)
        assert repo.get(ticket.id) == ticket
        assert repo.history(ticket.id) == events

    def test_add_of_an_existing_id_conflicts_and_writes_nothing(
        self, repo: TicketRepository, make: TicketFactory
    ) -> None:
        """Ids are unique."""
        ticket, events = make.new("T-1")
        repo.add(ticket, events)
        other, other_events = make.new("T-1", title="another")
        with pytest.raises(ConcurrencyConflict):
            repo.add(other, other_events)
        assert repo.get("T-1") == ticket
        assert repo.history("T-1") == events

    def test_add_needs_the_opening_event(self, repo: TicketRepository, make: TicketFactory) -> None:
        """A ticket without its history is refused."""
        ticket, _ = make.new()
        with pytest.raises(StorageError):
            repo.add(ticket, [])
        with pytest.raises(TicketNotFound):
            repo.get(ticket.id)

    def test_unknown_ids_are_not_found(self, repo: TicketRepository) -> None:
        """Get and history raise TicketNotFound."""
        with pytest.raises(TicketNotFound):
            repo.get("missing")
        with pytest.raises(TicketNotFound):
            repo.history("missing")

    # -- save ------------------------------------------------------------------------

    def test_save_writes_the_ticket_and_appends_its_events(self, repo: TicketRepository, make: TicketFactory) -> None:
        """A save at the stored version goes through."""
        ticket, events = make.new()
        repo.add(ticket, events)
        started, event = make.step(ticket, "start", comment=Comment("agent-1", "on it", "internal"))
        repo.save(started, [event], expected_version=1)
        assert repo.get(ticket.id) == started
        assert repo.history(ticket.id) == [*events, event]
        assert replay(repo.history(ticket.id)) == started

    def test_a_stale_save_conflicts_and_writes_nothing(self, repo: TicketRepository, make: TicketFactory) -> None:
        """Two writers from the same version: the second loses, loudly."""
        ticket, events = make.new()
        repo.add(ticket, events)
        first, first_event = make.step(ticket, "start")
        second, second_event = make.step(ticket, "start", fields={"note": "mine"})
        repo.save(first, [first_event], expected_version=1)
        with pytest.raises(ConcurrencyConflict) as caught:
            repo.save(second, [second_event], expected_version=1)
        assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)
        assert repo.get(ticket.id) == first
        assert repo.history(ticket.id) == [*events, first_event]

    def test_save_of_an_unknown_ticket_is_not_found(self, repo: TicketRepository, make: TicketFactory) -> None:
        """Saving needs an existing ticket."""
        ticket, _ = make.new()
        started, event = make.step(ticket, "start")
        with pytest.raises(TicketNotFound):
            repo.save(started, [event], expected_version=1)

    def test_save_refuses_events_that_do_not_continue_the_history(
        self, repo: TicketRepository, make: TicketFactory
    ) -> None:
        """Gaps or mismatched versions are refused before anything is written."""
        ticket, events = make.new()
        repo.add(ticket, events)
        started, _ = make.step(ticket, "start")
        finished, event2 = make.step(started, "finish")
        with pytest.raises(StorageError):
            repo.save(finished, [event2], expected_version=1)
        assert repo.get(ticket.id) == ticket

    def test_values_survive_storage(self, repo: TicketRepository, make: TicketFactory) -> None:
        """Every field type, unicode, people, tags and zones come back equal."""
        paris = datetime(2026, 7, 1, 9, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Paris"))
        fields = {
            "priority": "low",
            "score": 2.5,
            "count": -3,
            "urgent": True,
            "labels": ("a", "b é"),
            "due": "2026-07-02",
            "note": 'naïve 日本 "quoted" \n newline',
        }
        ticket, events = make.new(at=paris, fields=fields, tags={"x", "y:z"}, participants={"p1", "p2"}, assignee="a")
        repo.add(ticket, events)
        assert repo.get(ticket.id) == ticket
        assert repo.get(ticket.id).fields == fields
        assert repo.history(ticket.id) == events

    # -- queries ---------------------------------------------------------------------

    def _sample(self, repo: TicketRepository, make: TicketFactory) -> list[Ticket]:
        tickets = []
        for i in range(12):
            at = _T0 + timedelta(hours=i)
            ticket, events = make.new(
                f"T{i:03d}",
                at=at,
                fields={"priority": "high" if i % 3 == 0 else "low", "count": i % 4},
                tags={"vip"} if i % 4 == 0 else set(),
                assignee=f"agent-{i % 2}",
            )
            if i % 2:
                ticket, event = make.step(ticket, "start", at=at + timedelta(minutes=5))
                events.append(event)
            repo.add(ticket, events)
            tickets.append(ticket)
        return tickets

    def test_find_and_count_apply_every_filter(self, repo: TicketRepository, make: TicketFactory) -> None:
        """Each filter alone and together, compared with a plain scan."""
        tickets = self._sample(repo, make)
        cases: list[dict[str, Any]] = [
            {},
            {"state": "open"},
            {"state": ["new", "open"]},
            {"state": []},
            {"assignee": "agent-1"},
            {"tag": "vip"},
            {"field": {"priority": "high"}},
            {"field": {"priority": "high", "count": 0}},
            {"field": {"urgent": True}},
            {"lifecycle_id": "contract"},
            {"lifecycle_id": "other"},
            {"updated_before": _T0 + timedelta(hours=5)},
            {"requester": "agent-1"},
            {"updated_after": _T0 + timedelta(hours=5)},
            {"updated_after": _T0 + timedelta(hours=2), "updated_before": _T0 + timedelta(hours=6)},
            {"requester": "nobody"},
            {"state": "new", "tag": "vip", "assignee": "agent-0"},
        ]
        for filters in cases:
            expected = [t for t in tickets if _matches(t, **filters)]
            assert [t.id for t in repo.find(limit=100, **filters).tickets] == [t.id for t in expected], filters
            assert repo.count(**filters) == len(expected), filters

    def test_find_pages_in_id_order_without_gaps_or_repeats(self, repo: TicketRepository, make: TicketFactory) -> None:
        """Paging sees every ticket once, even with inserts between pages."""
        tickets = self._sample(repo, make)
        seen: list[str] = []
        cursor = None
        while True:
            page = repo.find(limit=5, after=cursor)
            seen.extend(t.id for t in page.tickets)
            if len(seen) == 5:
                late, events = make.new("T000a")  # sorts before the cursor: not seen on later pages
                repo.add(late, events)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == sorted(t.id for t in tickets)

    def test_queries_refuse_bad_arguments(self, repo: TicketRepository) -> None:
        """Clear errors for a naive instant, a bad limit, a foreign cursor, a misspelt filter."""
        with pytest.raises(TicketflowError):
            repo.due(datetime(2026, 1, 1))
        with pytest.raises(StorageError):
            repo.find(limit=0)
        with pytest.raises(StorageError):
            repo.find(after="%%%not-a-cursor")
        with pytest.raises(TicketflowError):
            repo.count(updated_before=datetime(2026, 1, 1))
        with pytest.raises(TypeError, match="unknown filter 'assigne'"):
            repo.find(assigne="bob")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="unknown filter 'colour'"):
            repo.count(colour="red")  # type: ignore[call-arg]

    # -- due -------------------------------------------------------------------------

    def test_due_lists_tickets_whose_timer_has_come_earliest_first(
        self, repo: TicketRepository, make: TicketFactory
    ) -> None:
        """Only timers at or before now, ordered, limited; save keeps or changes them."""
        dues = {"A": _T0 + timedelta(hours=3), "B": _T0 + timedelta(hours=1), "C": _T0 + timedelta(hours=1)}
        for ticket_id in ("A", "B", "C", "D"):
            ticket, events = make.new(ticket_id)
            repo.add(ticket, events, due=dues.get(ticket_id))
        assert repo.due(_T0) == []
        assert [i for i, _ in repo.due(_T0 + timedelta(hours=2))] == ["B", "C"]
        assert repo.due(_T0 + timedelta(hours=9), limit=1) == [("B", dues["B"])]
        b = repo.get("B")
        started, event = make.step(b, "start")
        repo.save(started, [event], 1)  # no due given: kept
        assert [i for i, _ in repo.due(_T0 + timedelta(hours=9))] == ["B", "C", "A"]
        finished, event = make.step(started, "finish")
        repo.save(finished, [event], 2, due=None)  # cleared
        later = _T0 + timedelta(hours=10)
        c = repo.get("C")
        c2, event = make.step(c, "start")
        repo.save(c2, [event], 1, due=later)  # moved
        assert [i for i, _ in repo.due(_T0 + timedelta(hours=9))] == ["A"]
        assert repo.due(later) == [("A", dues["A"]), ("C", later)]

    def test_due_lists_only_the_lifecycle_asked_for(self, repo: TicketRepository, make: TicketFactory) -> None:
        """A store holding several lifecycles serves each lifecycle its own due tickets (and all without one)."""
        other = TicketFactory(load_lifecycle({**CONTRACT_LIFECYCLE, "id": "other"}, source="<contract>"))
        for ticket_id, factory, hours in (("A", make, 2), ("B", other, 1), ("C", make, 3), ("D", other, 4)):
            ticket, events = factory.new(ticket_id)
            repo.add(ticket, events, due=_T0 + timedelta(hours=hours))
        now = _T0 + timedelta(hours=9)
        assert [i for i, _ in repo.due(now)] == ["B", "A", "C", "D"]
        assert [i for i, _ in repo.due(now, lifecycle_id=make.lifecycle.id)] == ["A", "C"]
        assert [i for i, _ in repo.due(now, 1, lifecycle_id="other")] == ["B"]
        assert repo.due(now, lifecycle_id="unknown") == []

    def test_reschedule_moves_the_due_instant_without_changing_the_ticket(
        self, repo: TicketRepository, make: TicketFactory
    ) -> None:
        """A sweeper can push a ticket's next due instant without an event."""
        ticket, events = make.new("A")
        repo.add(ticket, events, due=_T0)
        repo.reschedule("A", _T0 + timedelta(hours=5))
        assert repo.due(_T0 + timedelta(hours=4)) == []
        assert repo.due(_T0 + timedelta(hours=5)) == [("A", _T0 + timedelta(hours=5))]
        repo.reschedule("A", None)
        assert repo.due(_T0 + timedelta(days=9)) == []
        assert repo.get("A") == ticket
        assert repo.history("A") == events
        with pytest.raises(TicketNotFound):
            repo.reschedule("missing", _T0)

    # -- optional capabilities (ClaimingDue, SnapshotReads, FoldStore, SnapshotFolds; skipped without them) --

    @staticmethod
    def _claiming_due(repo: TicketRepository) -> ClaimingDue:
        if not isinstance(repo, ClaimingDue):
            pytest.skip("this repository does not implement ClaimingDue (one sweeper per store)")
        return repo

    @staticmethod
    def _snapshots(repo: TicketRepository) -> SnapshotReads:
        if not isinstance(repo, SnapshotReads):
            pytest.skip("this repository does not implement SnapshotReads")
        return repo

    def test_claim_due_returns_what_due_lists_and_leases_it_once(
        self, repo: TicketRepository, make: TicketFactory
    ) -> None:
        """The due tickets (of the lifecycle asked for), earliest first; a claimed one is not claimed again."""
        claiming = self._claiming_due(repo)
        other = TicketFactory(load_lifecycle({**CONTRACT_LIFECYCLE, "id": "other"}, source="<contract>"))
        for ticket_id, factory, hours in (("A", make, 2), ("B", other, 1), ("C", make, 3), ("D", make, 12)):
            ticket, events = factory.new(ticket_id)
            repo.add(ticket, events, due=_T0 + timedelta(hours=hours))
        now = _T0 + timedelta(hours=9)
        listed = repo.due(now, lifecycle_id=make.lifecycle.id)
        assert claiming.claim_due(now, 1, lifecycle_id=make.lifecycle.id) == listed[:1]
        assert claiming.claim_due(now, lifecycle_id=make.lifecycle.id) == listed[1:]  # A is leased: not again
        assert claiming.claim_due(now, lifecycle_id=make.lifecycle.id) == []
        assert claiming.claim_due(now) == [("B", _T0 + timedelta(hours=1))]  # the other lifecycle's, unclaimed
        assert [i for i, _ in repo.due(now)] == ["B", "A", "C"]  # a claim hides nothing from due()

    def test_a_save_or_a_reschedule_ends_the_claim(self, repo: TicketRepository, make: TicketFactory) -> None:
        """Once a sweeper has written its step (or moved the timer), the ticket is claimable again when due."""
        claiming = self._claiming_due(repo)
        for ticket_id in ("A", "B"):
            ticket, events = make.new(ticket_id)
            repo.add(ticket, events, due=_T0)
        assert [i for i, _ in claiming.claim_due(_T0)] == ["A", "B"]
        started, event = make.step(repo.get("A"), "start")
        repo.save(started, [event], 1, due=_T0 + timedelta(hours=1))
        repo.reschedule("B", _T0 + timedelta(hours=2))
        assert claiming.claim_due(_T0) == []
        later = _T0 + timedelta(hours=2)
        assert claiming.claim_due(later) == [("A", _T0 + timedelta(hours=1)), ("B", later)]

    def test_get_with_history_is_get_and_history_together(self, repo: TicketRepository, make: TicketFactory) -> None:
        """The ticket and its history, equal to reading each; an unknown id is not found."""
        snapshots = self._snapshots(repo)
        ticket, events = make.new("A", fields={"priority": "high"}, tags={"vip"})
        repo.add(ticket, events)
        started, event = make.step(ticket, "start", comment=Comment(_AGENT.id, "on it"))
        repo.save(started, [event], 1)
        assert snapshots.get_with_history("A") == (repo.get("A"), repo.history("A")) == (started, [*events, event])
        for missing in ("missing", ""):
            with pytest.raises(TicketNotFound):
                snapshots.get_with_history(missing)

    def test_a_fold_is_stored_with_its_ticket_and_read_back(self, repo: TicketRepository, make: TicketFactory) -> None:
        """:class:`~ticketflow.protocols.FoldStore`: ``fold=(key, seqs)`` on add, save and in a transaction.

        The fold read back is its key and the events it names, oldest first;
        a save without ``fold=`` leaves it, ``fold=None`` clears it, and a
        refused save changes it not.
        """
        if not isinstance(repo, FoldStore):
            pytest.skip("this repository does not implement FoldStore")
        stores: Any = repo  # add/save take fold=

        def fold_of(store: Any, ticket_id: str) -> tuple[str, list[Event]] | None:
            found = store.fold(ticket_id)  # its events as a list or a tuple, oldest first
            return None if found is None else (found[0], list(found[1]))

        ticket, events = make.new("A")
        assert fold_of(repo, "A") is None
        assert fold_of(repo, "missing") is None
        stores.add(ticket, events, fold=("k1", (1,)))
        assert fold_of(repo, "A") == ("k1", events)
        started, started_event = make.step(ticket, "start", comment=Comment(_AGENT.id, "on it"))
        stores.save(started, [started_event], 1, fold=("k1", (1, 2)))
        assert fold_of(repo, "A") == ("k1", [*events, started_event])
        noted, noted_event = make.step(started, "comment", comment=Comment(_AGENT.id, "a note", "internal"))
        stores.save(noted, [noted_event], 2)
        assert fold_of(repo, "A") == ("k1", [*events, started_event])  # left as it was
        with pytest.raises(ConcurrencyConflict):
            stores.save(noted, [noted_event], 2, fold=("k2", (3,)))
        assert fold_of(repo, "A") == ("k1", [*events, started_event])
        finished, finished_event = make.step(noted, "finish")
        other, other_events = make.new("B")
        with stores.transaction() as tx:
            tx.save(finished, [finished_event], 3, fold=("k2", (1, 4)))
            tx.add(other, other_events, fold=("k2", (1,)))
        assert fold_of(repo, "A") == ("k2", [events[0], finished_event])
        assert fold_of(repo, "B") == ("k2", other_events)
        other_started, other_event = make.step(other, "start")
        stores.save(other_started, [other_event], 1, fold=None)
        assert fold_of(repo, "B") is None
        assert fold_of(repo, "A") == ("k2", [events[0], finished_event])

    def test_get_with_folds_is_get_and_fold_together(self, repo: TicketRepository, make: TicketFactory) -> None:
        """:class:`~ticketflow.protocols.SnapshotFolds`: ``get_with_folds(ids)[id] == (get(id), fold(id))``.

        For a batch of several tickets, with and without a stored fold (its
        ``None`` comes back as ``None``); unknown ids and repeats of an id
        are left out, an empty batch reads nothing.
        """
        if not isinstance(repo, SnapshotFolds):
            pytest.skip("this repository does not implement SnapshotFolds")
        stores: Any = repo  # add/save take fold=
        ticket, events = make.new("A", fields={"priority": "high"}, tags={"vip"})
        stores.add(ticket, events, fold=("k1", (1,)))
        started, started_event = make.step(ticket, "start", comment=Comment(_AGENT.id, "on it"))
        stores.save(started, [started_event], 1, fold=("k1", (1, 2)))
        noted, noted_event = make.step(started, "comment", comment=Comment(_AGENT.id, "a note", "internal"))
        stores.save(noted, [noted_event], 2, fold=("k2", (1, 3)))  # a fold that skips an event
        plain, plain_events = make.new("B")
        stores.add(plain, plain_events)  # no fold: None
        other, other_events = make.new("C")
        stores.add(other, other_events, fold=("k1", ()))  # a fold naming no events
        read = repo.get_with_folds(["C", "missing", "A", "B", "A", ""])
        assert set(read) == {"A", "B", "C"}
        for ticket_id in ("A", "B", "C"):
            assert read[ticket_id] == (repo.get(ticket_id), stores.fold(ticket_id))
        assert read["A"] == (noted, ("k2", [events[0], noted_event]))
        assert read["B"] == (plain, None)
        assert read["C"] == (other, ("k1", []))
        assert repo.get_with_folds(["A"]) == {"A": read["A"]}
        assert repo.get_with_folds(["missing"]) == {}
        assert repo.get_with_folds([]) == {}

    def test_get_with_partial_folds_reads_the_part_a_fold_names(self, repo: TicketRepository) -> None:
        """:class:`~ticketflow.protocols.PartialFolds`: the events a long fold's head names, else the whole fold.

        A built-in zendesk Workflow writes the folds: a ticket of 40 public
        replies (each moves a reply clock, so its fold is long), a short one,
        and one stored without a fold. Read under the Workflow's key, the
        long fold comes in part: the events ``Folder.reads`` names from its
        head, with its head and stored seqs; the short fold and a fold under
        another key come whole.
        """
        if not isinstance(repo, PartialFolds) or not isinstance(repo, FoldStore):
            pytest.skip("this repository does not implement PartialFolds")
        from ticketflow.automation._fold import Folder
        from ticketflow.lifecycle._loader import builtin
        from ticketflow.workflow import Workflow

        customer = Actor("cust-1", roles={"customer", "requester"})
        agent = Actor("agent-1", roles={"agent"})
        wf = Workflow(builtin("zendesk"), repo)

        def replied(replies: int) -> str:
            ticket = wf.open(customer, title="printer", at=_T0)
            wf.fire(ticket.id, "take", agent, assignee=agent.id, at=_T0)
            for n in range(replies):
                wf.comment(ticket.id, customer if n % 2 else agent, f"reply {n}", at=_T0 + timedelta(seconds=n))
            wf.fire(ticket.id, "ask", agent, comment="Which model is it?", at=_T0 + timedelta(hours=1))
            return ticket.id

        long, short = replied(40), replied(2)
        plain, plain_events = TicketFactory().new("P")
        repo.add(plain, plain_events)
        folder = Folder(wf.lifecycle, wf.sla_policy)
        read = repo.get_with_partial_folds([long, "missing", short, plain.id, long, ""], folder.key, folder.reads)
        assert set(read) == {long, short, plain.id}
        for ticket_id, (ticket, _) in read.items():
            assert ticket == repo.get(ticket_id)
        assert read[plain.id][1] is None
        whole = repo.fold(long)
        assert whole is not None
        part = read[long][1]
        assert part is not None
        head, events, stored, partial = part
        named = folder.reads(head)
        assert partial
        assert named is not None
        assert head == whole[0]
        assert events == [e for e in repo.history(long) if e.seq in set(named)]
        assert len(events) < len(whole[1])
        assert loads(stored)[0] == head
        assert sorted(loads(stored)[1:]) == [e.seq for e in whole[1]]

        def any_key(head: str) -> Sequence[int] | None:
            return folder.reads(f"{folder.key} {head.partition(' ')[2]}")

        for ticket_id, key, pick in (
            (short, folder.key, folder.reads),  # 32 events or fewer: whole
            (long, "0" * len(folder.key), any_key),  # another key: whole, though pick would name a part
        ):
            again = repo.get_with_partial_folds([ticket_id], key, pick)[ticket_id][1]
            stored_fold = repo.fold(ticket_id)
            assert again is not None
            assert stored_fold is not None
            assert not again[3]
            assert (again[0], again[1]) == (stored_fold[0], list(stored_fold[1]))
        assert repo.get_with_partial_folds([], folder.key, folder.reads) == {}

    def test_sequences_count_from_one_per_name(self, repo: TicketRepository) -> None:
        """Numbers for human ticket keys: 1, 2, 3 per name."""
        assert [repo.next_sequence("SUP") for _ in range(3)] == [1, 2, 3]
        assert repo.next_sequence("OPS") == 1

    def test_links_are_queryable_both_ways_and_commit_with_the_transaction(
        self, repo: TicketRepository, make: TicketFactory
    ) -> None:
        """A link is stored with the change that makes it, and found from either end."""
        first, first_events = make.new("T-1")
        second, second_events = make.new("T-2")
        with repo.transaction() as tx:
            tx.add(first, first_events)
            tx.add(second, second_events)
            tx.link(Link("T-2", "follow_up_of", "T-1"))
            tx.link(Link("T-2", "relates_to", "record:issue:ENG-7"))
            tx.link(Link("T-2", "relates_to", "record:issue:ENG-7"))  # twice is once
        assert repo.links("T-2") == [
            Link("T-2", "follow_up_of", "T-1"),
            Link("T-2", "relates_to", "record:issue:ENG-7"),
        ]
        assert repo.linked("T-1") == [Link("T-2", "follow_up_of", "T-1")]
        assert repo.linked("record:issue:ENG-7") == [Link("T-2", "relates_to", "record:issue:ENG-7")]
        assert repo.links("T-1") == []
        with pytest.raises(RuntimeError), repo.transaction() as tx:  # noqa: PT012 - the block is the unit
            tx.link(Link("T-1", "blocks", "T-2"))
            raise RuntimeError("rolled back")
        assert repo.links("T-1") == []

    def test_an_export_imported_into_a_fresh_store_keeps_its_links(
        self, repo: TicketRepository, tmp_path: Path
    ) -> None:
        """Follow-ups, duplicates, a broadcast's audience and record links survive export -> import."""
        import io

        from ticketflow.lifecycle._loader import builtin
        from ticketflow.links import ExternalRecord
        from ticketflow.repository._export import export_jsonl, import_jsonl
        from ticketflow.workflow import Workflow

        agent = Actor("agent-1", roles={"agent"})
        customer = Actor("cust-1", roles={"requester"})
        wf = Workflow(builtin("devrev"), repo)
        first = wf.open(customer, title="Export times out", at=_T0)
        again = wf.open(customer, title="Export times out again", at=_T0)
        wf.link(first.id, agent, "caused_by", record=ExternalRecord("issue", "ENG-7"), at=_T0)
        wf.link(first.id, agent, "relates_to", to_ticket=again.id, at=_T0)
        wf.mark_duplicate(again.id, first.id, agent, trigger="cancel", fields={"reason": "duplicate"}, at=_T0)
        later = wf.follow_up(first.id, agent, "Following up", at=_T0)
        notice = wf.broadcast(agent, title="Maintenance", accounts=["acme", "globex"], at=_T0)
        ids = [first.id, again.id, later.id, notice.id]
        before = {i: repo.links(i) for i in ids}
        assert all(before.values())
        dump = io.StringIO()
        export_jsonl(repo, dump)
        (tmp_path / "copy").mkdir()
        copy = self.make_repository(tmp_path / "copy")
        try:
            assert import_jsonl(copy, io.StringIO(dump.getvalue())) == len(ids)
            assert {i: copy.links(i) for i in ids} == before
            for target in (first.id, again.id, "record:issue:ENG-7", "account:acme"):
                assert copy.linked(target) == repo.linked(target)
            assert Workflow(builtin("devrev"), copy).broadcasts_for("acme") == [copy.get(notice.id)]
        finally:
            self.close_repository(copy)

    # -- transactions and the outbox ---------------------------------------------------

    def test_a_transaction_commits_everything_or_nothing(self, repo: TicketRepository, make: TicketFactory) -> None:
        """A failing write in a unit of work leaves none of its writes behind."""
        ticket, events = make.new("T-1")
        repo.add(ticket, events)
        started, event = make.step(ticket, "start")
        elsewhere, elsewhere_event = make.step(ticket, "start", fields={"note": "another writer"})
        repo.save(elsewhere, [elsewhere_event], expected_version=1)
        follow_up, follow_events = make.new("T-2")
        message = OutboxMessage("m-1", "T-2", "ticket.opened", {"key": "SUP-2"}, _T0)
        with pytest.raises(ConcurrencyConflict), repo.transaction() as tx:  # noqa: PT012 - the block is the unit
            tx.add(follow_up, follow_events)
            tx.enqueue(message)
            tx.save(started, [event], expected_version=1)
        with pytest.raises(TicketNotFound):
            repo.get("T-2")
        assert repo.get("T-1") == elsewhere
        assert repo.pending_messages() == []
        finished, finish_event = make.step(elsewhere, "finish")
        with repo.transaction() as tx:
            tx.add(follow_up, follow_events)
            tx.enqueue(message)
            tx.save(finished, [finish_event], expected_version=2)
        assert repo.get("T-2") == follow_up
        assert repo.get("T-1") == finished
        assert repo.pending_messages() == [message]

    def test_an_exception_in_the_block_rolls_back(self, repo: TicketRepository, make: TicketFactory) -> None:
        """Any exception leaving the block discards what was staged."""
        ticket, events = make.new("T-1")
        with pytest.raises(RuntimeError), repo.transaction() as tx:  # noqa: PT012 - the block is the unit
            tx.add(ticket, events)
            raise RuntimeError("boom")
        with pytest.raises(TicketNotFound):
            repo.get("T-1")

    def test_the_outbox_refuses_alike_what_no_store_can_keep(self, repo: TicketRepository) -> None:
        """Every store refuses the same outbox messages before writing anything, and gives back the same payload."""
        bad: list[tuple[OutboxMessage, type[Exception]]] = [
            (OutboxMessage("m", "T-1", "reminder", {"at": _T0}, _T0), StorageError),  # no JSON form
            (OutboxMessage("m", "T-1", "reminder", {"to": {"a", "b"}}, _T0), StorageError),
            (OutboxMessage("m", "T-1", "reminder", {"n": math.nan}, _T0), StorageError),
            (OutboxMessage("m", "T-1", "reminder", {"n": 2**64}, _T0), StorageError),
            (OutboxMessage("m", "T-1", "reminder", {"x": "\ud800"}, _T0), StorageError),  # a lone surrogate
            (OutboxMessage("m", "T-1", "reminder", {7: "seven"}, _T0), StorageError),  # type: ignore[dict-item]
            (OutboxMessage("m", "T-1", "reminder", ["not", "a", "mapping"], _T0), StorageError),  # type: ignore[arg-type]
            (OutboxMessage("m\x00", "T-1", "reminder", {}, _T0), StorageError),  # a NUL in the key
            (OutboxMessage("m", "T-1", "remind\x00er", {}, _T0), StorageError),
            (OutboxMessage("", "T-1", "reminder", {}, _T0), StorageError),  # an empty key
            (OutboxMessage(7, "T-1", "reminder", {}, _T0), TypeError),  # type: ignore[arg-type]
            (OutboxMessage("m", "T-1", "reminder", {}, _T0.replace(tzinfo=None)), TicketflowError),  # naive
        ]
        for message, error in bad:
            with pytest.raises(error), repo.transaction() as tx:  # noqa: PT012 - the block is the unit
                tx.add(*TicketFactory().new("T-1"))
                tx.enqueue(message)
            assert repo.pending_messages() == [], message
            with pytest.raises(TicketNotFound):
                repo.get("T-1")  # nothing of the transaction was written
        payload: dict[str, Any] = {"to": ["a", "b"], "n": 1, "nested": {"k": [1, {"x": None}]}}
        with repo.transaction() as tx:
            tx.enqueue(OutboxMessage("m", "", "contact.recorded", payload, _T0))
        payload["to"].append("mallory")  # the caller's object changing later changes nothing stored
        (kept,) = repo.pending_messages()
        assert kept.payload == {"to": ("a", "b"), "n": 1, "nested": {"k": (1, {"x": None})}}  # lists as tuples

    def test_the_outbox_keeps_one_message_per_key_until_delivered(
        self, repo: TicketRepository, make: TicketFactory
    ) -> None:
        """Idempotent enqueue, oldest first, delivered ones leave the list."""
        first = OutboxMessage("k1", "T-1", "reminder", {"n": 1}, _T0 + timedelta(minutes=1))
        second = OutboxMessage("k2", "T-1", "reminder", {"n": 2, "to": ("a", "b")}, _T0)
        with repo.transaction() as tx:
            tx.enqueue(first)
            tx.enqueue(second)
            tx.enqueue(OutboxMessage("k1", "T-1", "reminder", {"n": 99}, _T0))
        assert repo.pending_messages() == [second, first]
        assert repo.pending_messages(limit=1) == [second]
        repo.mark_delivered("k2")
        assert repo.pending_messages() == [first]
        with pytest.raises(StorageError):
            repo.mark_delivered("nope")

    # -- claims and the delivery log (ClaimingOutbox; skipped for a repository without them) ----------

    @staticmethod
    def _claiming(repo: TicketRepository) -> ClaimingOutbox:
        if not isinstance(repo, ClaimingOutbox):
            pytest.skip("this repository does not implement ClaimingOutbox (one-process delivery only)")
        return repo

    def test_claims_lease_each_message_to_one_owner_per_kind(self, repo: TicketRepository) -> None:
        """A leased message is not claimed again; other kinds are left alone; a lapsed lease frees it."""
        outbox = self._claiming(repo)
        with repo.transaction() as tx:
            for n in range(3):
                tx.enqueue(OutboxMessage(f"r{n}", "T-1", "reminder", {"n": n}, _T0 + timedelta(minutes=n)))
            tx.enqueue(OutboxMessage("x", "T-1", "unknown.kind", {}, _T0 - timedelta(minutes=1)))
        lease = timedelta(minutes=5)
        first = outbox.claim_messages(["reminder"], _T0, owner="a", lease=lease, limit=2)
        assert [d.message.key for d in first] == ["r0", "r1"]
        assert [d.message.key for d in outbox.claim_messages(["reminder"], _T0, owner="b", lease=lease)] == ["r2"]
        assert outbox.claim_messages(["reminder"], _T0, owner="c", lease=lease) == []
        assert outbox.claim_messages([], _T0, owner="c", lease=lease) == []
        expired = outbox.claim_messages(["unknown.kind"], _T0, owner="d", lease=timedelta(0))
        assert [d.message.key for d in expired] == ["x"]
        assert [d.message.key for d in outbox.claim_messages(["unknown.kind"], _T0, owner="e", lease=lease)] == ["x"]

    def test_the_delivery_log_records_attempts_errors_and_delivery(self, repo: TicketRepository) -> None:
        """Failures back off one message; undeliverable kinds are flagged, then delivered once handled."""
        outbox = self._claiming(repo)
        with repo.transaction() as tx:
            tx.enqueue(OutboxMessage("a", "T-1", "reminder", {}, _T0))
            tx.enqueue(OutboxMessage("b", "T-2", "typo", {}, _T0 + timedelta(seconds=1)))
        assert outbox.mark_undeliverable(["reminder"]) == {"typo": 1}
        assert outbox.mark_undeliverable(["reminder"]) == {}
        (claimed,) = outbox.claim_messages(["reminder"], _T0, owner="a", lease=timedelta(minutes=5))
        assert (claimed.message.key, claimed.status, claimed.attempts) == ("a", "pending", 0)
        retry = _T0 + timedelta(seconds=30)
        outbox.mark_failed("a", "ConnectionError: down", retry)
        assert outbox.claim_messages(["reminder"], _T0, owner="a", lease=timedelta(minutes=5)) == []
        (again,) = outbox.claim_messages(["reminder"], retry, owner="a", lease=timedelta(minutes=5))
        assert (again.attempts, again.last_error, again.next_attempt_at) == (1, "ConnectionError: down", retry)
        outbox.mark_delivered("a", retry)
        (log,) = outbox.deliveries(ticket_id="T-1")
        assert (log.status, log.attempts, log.delivered_at) == ("delivered", 2, retry)
        (flagged,) = outbox.deliveries(status="undeliverable")
        assert (flagged.message.key, flagged.last_error) == ("b", "no notifier for kind 'typo'")
        assert [d.message.key for d in outbox.claim_messages(["typo"], _T0, owner="a", lease=timedelta(0))] == ["b"]
        outbox.mark_delivered("b", _T0)
        assert [d.message.key for d in outbox.deliveries(status="delivered")] == ["a", "b"]
        assert repo.pending_messages() == []
        outbox.requeue("b")
        assert [d.status for d in outbox.deliveries(key="b")] == ["pending"]
        assert [m.key for m in repo.pending_messages()] == ["b"]
        with pytest.raises(StorageError):
            outbox.deliveries(status="lost")
        with pytest.raises(StorageError):
            outbox.mark_failed("nope", "x", _T0)
        with pytest.raises(StorageError):
            outbox.requeue("nope")

    # -- the values every store keeps, and refuses, alike -------------------------------

    @pytest.mark.parametrize(
        ("where", "value"),
        [
            ("score", math.nan),
            ("score", math.inf),
            ("score", -math.inf),
            ("note", "lone \ud800 surrogate"),
            ("note", "NUL \x00 inside"),
            ("count", 2**63),
            ("count", -(2**63) - 1),
            ("count", 2**64),
            ("title", "NUL \x00 title"),
            ("title", "\udfff"),
            ("id", "T-\x00"),
            ("id", "T-\ud800"),
            ("id", ""),
            ("requester", ""),
            ("assignee", ""),
            ("meta", {"note": math.nan}),
            ("meta", {"x\x00": 1}),
            ("meta", {"deep": _nested(40)}),
        ],
    )
    def test_values_no_store_can_keep_are_refused_alike_and_nothing_is_written(
        self, repo: TicketRepository, make: TicketFactory, where: str, value: Any
    ) -> None:
        """NaN, infinity, lone surrogates, NUL, integers beyond 64 bits, empty ids: StorageError, nothing stored."""
        kept, kept_events = make.new("T-kept")
        repo.add(kept, kept_events)
        ticket, events = make.new("T-bad")
        if where in ("score", "note", "count"):
            ticket = attrs.evolve(ticket, fields={**ticket.fields, where: value})
        elif where == "meta":
            events = [attrs.evolve(events[0], meta={**events[0].meta, **value})]
        else:
            ticket = attrs.evolve(ticket, **{where: value})
            if where == "id":
                events = [attrs.evolve(events[0], ticket_id=value)]
        with pytest.raises(StorageError, match="nothing was written"):
            repo.add(ticket, events)
        assert [t.id for t in repo.find().tickets] == ["T-kept"]
        started, event = make.step(kept, "start")
        if where in ("score", "note", "count"):
            started = attrs.evolve(started, fields={**started.fields, where: value})
        elif where == "meta":
            event = attrs.evolve(event, meta={**event.meta, **value})
        elif where != "id":
            started = attrs.evolve(started, **{where: value})
        if where != "id":
            with pytest.raises(StorageError, match="nothing was written"):
                repo.save(started, [event], 1)
        assert repo.get("T-kept") == kept
        assert repo.history("T-kept") == kept_events

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("count", 2**63 - 1),
            ("count", -(2**63)),
            ("score", 1e308),
            ("score", -0.0),
            ("note", ""),
            ("note", "emoji \U0001f600, line\u2028separator, right-to-left \u202e"),
            ('quo"te', "a field name with a double quote"),
            ("dot.ted", "a field name with a dot"),
            ("sp ace", "a field name with a space"),
            ("$[0]", "a field name like a JSON path"),
            ("ünï", "a field name in unicode"),
            ("", "an empty field name"),
        ],
    )
    def test_values_every_store_keeps_come_back_equal_and_are_found(
        self, repo: TicketRepository, make: TicketFactory, name: str, value: Any
    ) -> None:
        """Large ints, odd floats, empty strings and odd field names round-trip and filter the same everywhere."""
        ticket, events = make.new("T-odd")
        ticket = attrs.evolve(ticket, fields={**ticket.fields, name: value})
        repo.add(ticket, events)
        other, other_events = make.new("T-other")
        repo.add(other, other_events)
        assert repo.get("T-odd") == ticket
        assert [t.id for t in repo.find(field={name: value}).tickets] == ["T-odd"]
        assert repo.count(field={name: value}) == 1

    @pytest.mark.parametrize(
        "filters",
        [
            {"field": {"note": "\x00"}},
            {"field": {"score": math.nan}},
            {"field": {"count": 2**64}},
            {"assignee": "\ud800"},
            {"state": "new\x00"},
            {"tag": "\x00"},
        ],
    )
    def test_filters_no_ticket_can_match_are_refused_alike(
        self, repo: TicketRepository, filters: dict[str, Any]
    ) -> None:
        """A filter holding a value no store keeps is a StorageError, in find and count alike."""
        with pytest.raises(StorageError, match="no ticket can hold it"):
            repo.find(**filters)
        with pytest.raises(StorageError, match="no ticket can hold it"):
            repo.count(**filters)

    @pytest.mark.parametrize(
        "filters",
        [{"field": "s"}, {"assignee": 123}, {"state": 5}, {"updated_after": 123}, {"requester": ["a"]}],
    )
    def test_filters_of_the_wrong_type_are_a_type_error_naming_them(
        self, repo: TicketRepository, filters: dict[str, Any]
    ) -> None:
        """The filter's name is in the message."""
        with pytest.raises(TypeError, match=next(iter(filters))):
            repo.find(**filters)

    @pytest.mark.parametrize("key", ["\ud800", "T-\x00", 5, None])
    def test_lookups_by_an_id_no_store_can_hold_find_nothing_alike(self, repo: TicketRepository, key: Any) -> None:
        """Unknown to every store: not found, no links; as a sequence name or message key: refused."""
        with pytest.raises(TicketNotFound):
            repo.get(key)
        with pytest.raises(TicketNotFound):
            repo.history(key)
        with pytest.raises(TicketNotFound):
            repo.reschedule(key, _T0)
        assert repo.links(key) == []
        assert repo.linked(key) == []
        with pytest.raises((StorageError, TypeError)):
            repo.next_sequence(key)
        with pytest.raises((StorageError, TypeError)):
            repo.mark_delivered(key)

    def test_page_arguments_beyond_any_store_are_clear(self, repo: TicketRepository, make: TicketFactory) -> None:
        """A huge limit means all; a cursor of the wrong type or decoding to NUL is refused."""
        ticket, events = make.new("T-1")
        repo.add(ticket, events, due=_T0)
        assert [t.id for t in repo.find(limit=2**64).tickets] == ["T-1"]
        assert [i for i, _ in repo.due(_T0, limit=2**63)] == ["T-1"]
        assert len(repo.pending_messages(limit=2**70)) == 0
        with pytest.raises(TypeError, match="after"):
            repo.find(after=123)  # type: ignore[arg-type]
        with pytest.raises(StorageError, match="cursor"):
            repo.find(after=base64.urlsafe_b64encode(b"\x00").decode())
        with pytest.raises(TypeError, match="limit"):
            repo.find(limit="10")  # type: ignore[arg-type]


def _matches(ticket: Ticket, **filters: Any) -> bool:
    state = filters.get("state")
    states: Sequence[str] | None = [state] if isinstance(state, str) else state
    return (
        (states is None or ticket.state in states)
        and (filters.get("assignee") is None or ticket.assignee == filters["assignee"])
        and (filters.get("tag") is None or filters["tag"] in ticket.tags)
        and all(ticket.fields.get(k) == v for k, v in (filters.get("field") or {}).items())
        and (filters.get("lifecycle_id") is None or ticket.lifecycle_id == filters["lifecycle_id"])
        and (filters.get("updated_before") is None or ticket.updated_at < filters["updated_before"])
        and (filters.get("requester") is None or ticket.requester == filters["requester"])
        and (filters.get("updated_after") is None or ticket.updated_at >= filters["updated_after"])
    )
