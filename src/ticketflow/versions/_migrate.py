"""Running a migration plan over a store: a dry-run report, then batches through the one write path.

Each ticket on the plan's old version gets one ``migrated`` event (trigger
``migrate``, by the ``system`` actor) that moves it to its new state, renames
fields and tags, and records the versions and maps in
``meta["migrated"]``; its due instant is recomputed from its history in the
new version's names. A batch is one transaction of the
:class:`~ticketflow.recording.Recorder` with the optimistic version check of
every other write, so a crash leaves each ticket migrated or not, a
concurrent writer (an old process still serving the ticket) makes the batch
re-read and re-plan, and a second run skips what the first one migrated: a
ticket on the new version is left alone.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ticketflow._brief import brief
from ticketflow._recent import TicketCache
from ticketflow.errors import ConcurrencyConflict, StorageError
from ticketflow.lifecycle._migrated import recorded_version
from ticketflow.model import Event, Ticket
from ticketflow.protocols import TicketRepository
from ticketflow.recording import Reads, Recorder, Step, Write
from ticketflow.repository._export import iter_tickets
from ticketflow.sla import SlaPolicy, evaluate
from ticketflow.versions._plan import MigrationPlan, Refusal

__all__ = ["MigrationReport", "NextDue", "batches", "check_batch", "migrate"]

#: Computes a ticket's next due instant from its whole history (the new version's scheduler).
NextDue = Callable[[Ticket, Sequence[Event], datetime], datetime | None]


@attrs.frozen
class MigrationReport:
    """What a migration did (or, dry, would do).

    Attributes:
        dry_run: nothing was written.
        moves: how many tickets moved (would move) from each old state to
            each new state, by ``(old, new)``.
        already: tickets already on the new version (left alone: a re-run
            after a crash, or opened by the new version).
        refused: ``(ticket id, why)`` of each ticket that cannot move; the
            others moved.
    """

    dry_run: bool
    moves: Mapping[tuple[str, str], int]
    already: int
    refused: tuple[tuple[str, str], ...]

    @property
    def migrated(self) -> int:
        """How many tickets moved (would move)."""
        return sum(self.moves.values())

    def lines(self) -> list[str]:
        """The report as text, one line each: a summary, the moves, the refusals."""
        verb = "would migrate" if self.dry_run else "migrated"
        lines = [f"{verb} {self.migrated} tickets; {self.already} already on the new version; "]
        lines[0] += f"{len(self.refused)} cannot move"
        lines += [f"  {old} -> {new}: {count}" for (old, new), count in sorted(self.moves.items())]
        lines += [f"  cannot move {ticket_id}: {why}" for ticket_id, why in self.refused]
        return lines


_ALREADY = "already"


def sla_applied(
    plan: MigrationPlan, policy: SlaPolicy | None, ticket: Ticket, history: Sequence[Event], at: datetime
) -> dict[str, dict[str, float]]:
    """The targets the old version's *policy* applied to the ticket's cycles, which they keep after the move.

    Finished cycles always; the running one too unless the plan says ``sla = "reapply"``.
    """
    if policy is None:
        return {}
    applied: dict[str, dict[str, float]] = {}
    for clock in evaluate(policy, plan.old, ticket, history, at):
        for cycle in clock.cycles:
            if cycle.target is not None and (cycle.stopped_at is not None or plan.sla == "keep"):
                applied.setdefault(clock.metric, {})[cycle.started_at.isoformat()] = cycle.target.total_seconds()
    return applied


def _outcome(
    plan: MigrationPlan, policy: SlaPolicy | None, ticket: Ticket, history: Sequence[Event], at: datetime
) -> tuple[Any, ...]:
    """``(_ALREADY,)``, ``("refused", why)`` or ``("move", after, event)`` for one ticket."""
    version, fingerprint = recorded_version(history)
    if fingerprint == plan.new.fingerprint:
        return (_ALREADY,)
    if fingerprint is not None and fingerprint != plan.old.fingerprint:
        return ("refused", f"it is on version {version} ({fingerprint[:12]}), not the plan's {plan.old.version}")
    try:
        after, event = plan.move(ticket, at, sla_applied(plan, policy, ticket, history, at))
    except Refusal as refusal:
        return ("refused", str(refusal))
    return ("move", after, event)


def batches(ids: Iterator[str], size: int) -> Iterator[list[str]]:
    """*ids* in lists of *size* (the last one shorter)."""
    batch: list[str] = []
    for ticket_id in ids:
        batch.append(ticket_id)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def check_batch(batch: object) -> None:
    """Tickets per transaction: a TypeError naming *batch* unless an integer, a StorageError under 1."""
    if not isinstance(batch, int) or isinstance(batch, bool):
        raise TypeError(f"batch must be a positive integer, got {type(batch).__name__} {brief(batch)}")
    if batch < 1:
        raise StorageError(f"batch must be at least 1, got {batch}")


def migrate(
    repository: TicketRepository,
    plan: MigrationPlan,
    at: datetime,
    *,
    next_due: NextDue | None = None,
    old_policy: SlaPolicy | None = None,
    listeners: Sequence[Callable[[Ticket, Event], None]] = (),
    dry_run: bool = False,
    batch: int = 200,
    part: tuple[int, int] = (0, 1),
    max_retries: int = 3,
) -> MigrationReport:
    """Migrate every ticket of *plan*'s lifecycle on its old version (see the module docstring).

    Args:
        repository: the store.
        plan: a checked plan (:func:`load_migration`).
        at: the instant the ``migrated`` events record.
        next_due: the new version's next-due computation (``None``: nothing
            is ever due under it).
        old_policy: the old version's SLA policy, whose targets the cycles
            started before the migration keep (see :func:`sla_applied`).
        listeners: called after commit with each ``migrated`` event.
        dry_run: report only; nothing is written. Only a bool (a TypeError
            naming it otherwise: ``"no"`` would be true).
        batch: tickets per transaction.
        part: ``(index, count)``: this worker takes the tickets whose id
            hashes (CRC-32) to *index* modulo *count*: several workers share
            one store without overlap, whatever is opened meanwhile.
        max_retries: retries of a batch refused by a concurrent writer; the
            batch is then tried a ticket at a time.
    """
    check_batch(batch)
    if not isinstance(dry_run, bool):  # dry_run="no" is truthy: it would silently run dry
        raise TypeError(f"dry_run must be True or False, got {type(dry_run).__name__} {brief(dry_run)}")
    if (
        not isinstance(part, tuple | list)
        or len(part) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in part)
    ):
        raise TypeError(f"part must be (index, count), two integers, got {brief(part)}")
    index, count = part
    if not 0 <= index < count:
        raise StorageError(f"part must be (index, count) with 0 <= index < count, got {tuple(part)}")
    recorder = Recorder(TicketCache(repository, 0), listeners=listeners, max_retries=max_retries)
    moves: Counter[tuple[str, str]] = Counter()
    already = 0
    refused: list[tuple[str, str]] = []

    def planner(ids: Sequence[str]) -> Callable[[Reads], Write[list[tuple[Any, ...]]]]:
        def plan_batch(reads: Reads) -> Write[list[tuple[Any, ...]]]:
            outcomes: list[tuple[Any, ...]] = []
            steps = []
            for ticket_id in ids:
                ticket, history = reads.ticket_and_history(ticket_id)
                outcome = _outcome(plan, old_policy, ticket, history, at)
                if outcome[0] == "move":
                    after, event = outcome[1], outcome[2]
                    due = None if next_due is None else next_due(after, [*history, event], at)
                    steps.append(Step(after, (event,), ticket.version, (), due, notify=False))
                    outcome = ("move", ticket.state, after.state)
                outcomes.append((ticket_id, *outcome))
            return Write(outcomes, steps)

        return plan_batch

    tickets = iter_tickets(repository, lifecycle_id=plan.old.id)
    ids = (t.id for t in tickets if count == 1 or zlib.crc32(t.id.encode()) % count == index)
    for ids_batch in batches(ids, batch):
        outcomes = _run(recorder, planner, ids_batch, dry_run)
        for ticket_id, kind, *rest in outcomes:
            if kind == "move":
                moves[rest[0], rest[1]] += 1
            elif kind == _ALREADY:
                already += 1
            else:
                refused.append((ticket_id, rest[0]))
    return MigrationReport(dry_run, dict(moves), already, tuple(refused))


def _run(
    recorder: Recorder,
    planner: Callable[[Sequence[str]], Callable[[Reads], Write[list[tuple[Any, ...]]]]],
    ids: list[str],
    dry_run: bool,
) -> list[tuple[Any, ...]]:
    """One batch: planned (dry) or committed; refused by concurrent writers, then a ticket at a time."""
    if dry_run:
        return planner(ids)(Reads(recorder.cache, True)).result
    try:
        return recorder.record(planner(ids))
    except ConcurrencyConflict:
        if len(ids) == 1:
            return [(ids[0], "refused", "other writers kept winning; run the migration again to move it")]
    outcomes = []
    for ticket_id in ids:
        outcomes += _run(recorder, planner, [ticket_id], dry_run)
    return outcomes
