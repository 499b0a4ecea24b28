"""Recomputing stored due instants after the rules behind them changed (a new calendar, policy or version).

Each ticket stores its next due instant (a timed rule or an SLA alert), the
one the sweeper looks at. It was computed when the ticket last changed, by
the rules of that day: after a target is tightened (first response 8h ->
4h) or a holiday is added, :func:`reschedule` recomputes it for every
ticket of the lifecycle, in batches, each a write of the
:class:`~ticketflow.recording.Recorder` with the optimistic version check
(a ticket changed meanwhile is re-read and recomputed). A migration does the
same for each ticket it moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from ticketflow._recent import TicketCache
from ticketflow.lifecycle import Lifecycle
from ticketflow.protocols import TicketRepository
from ticketflow.recording import Reads, Recorder, Step, Write
from ticketflow.repository._export import iter_tickets
from ticketflow.versions._migrate import NextDue, batches, check_batch

__all__ = ["RescheduleReport", "reschedule"]


@attrs.frozen
class RescheduleReport:
    """What a reschedule did.

    Attributes:
        rescheduled: tickets whose due instant was recomputed and stored.
        skipped: ids of tickets in a state this version does not have (left
            to the version they are on, or to a migration).
    """

    rescheduled: int
    skipped: tuple[str, ...]


def reschedule(
    repository: TicketRepository,
    lifecycle: Lifecycle,
    next_due: NextDue | None,
    at: datetime,
    *,
    batch: int = 200,
    max_retries: int = 3,
) -> RescheduleReport:
    """Recompute and store the next due instant of every ticket of *lifecycle* as of *at* (see the module)."""
    check_batch(batch)
    recorder = Recorder(TicketCache(repository, 0), max_retries=max_retries)
    states = lifecycle.states
    done = 0
    skipped: list[str] = []

    def planner(ids: Sequence[str]) -> Any:
        def plan(reads: Reads) -> Write[tuple[int, list[str]]]:
            steps = []
            strangers = []
            for ticket_id in ids:
                ticket, history = reads.ticket_and_history(ticket_id)
                if ticket.state not in states:
                    strangers.append(ticket_id)
                    continue
                due = None if next_due is None else next_due(ticket, history, at)
                steps.append(Step(ticket, (), ticket.version, (), due, notify=False))
            return Write((len(steps), strangers), steps)

        return plan

    for ids in batches((t.id for t in iter_tickets(repository, lifecycle_id=lifecycle.id)), batch):
        count, strangers = recorder.record(planner(ids))
        done += count
        skipped += strangers
    return RescheduleReport(done, tuple(skipped))
