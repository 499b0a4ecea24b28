"""Versions of the Workflow facade: migrating tickets between lifecycle versions, rescheduling, importing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ticketflow._facade._base import FacadeBase
from ticketflow.model import Event, Ticket
from ticketflow.repository._export import import_jsonl
from ticketflow.sla import policy_for
from ticketflow.versions import MigrationPlan, MigrationReport, RescheduleReport, migrate, plan_for, reschedule

__all__ = ["VersionsPart"]


class VersionsPart(FacadeBase):
    """Tickets across lifecycle versions and stores: migrations, recomputed due instants, imports."""

    def migrate(
        self,
        plan: MigrationPlan | str | Path | Mapping[str, Any],
        *,
        dry_run: bool = False,
        batch: int = 200,
        part: tuple[int, int] = (0, 1),
        at: datetime | None = None,
    ) -> MigrationReport:
        """Move the tickets on an earlier version (``previous=``) to this Workflow's, as *plan* says.

        *plan* is a :class:`~ticketflow.versions.MigrationPlan` or a plan
        file / mapping whose ``from`` names a version of ``previous``; it is
        checked against both versions first. Dry, it only reports; else each
        ticket gets one ``migrated`` event and its due instant recomputed, in
        batches through the one write path; a re-run skips tickets already
        migrated. See ``docs/versions.md``.

        Raises:
            InvalidMigration: the plan does not fit the two versions (nothing written).
            TypeError: *dry_run* is not a bool, *batch* not an integer or
                *part* not two integers, naming it (nothing written).
        """
        checked = plan_for(plan, self.versions, self.lifecycle)
        old = checked.old
        old_policy = policy_for(old, self.calendar or old.calendar, resolvers=self.registry.calendar_resolvers)
        return migrate(
            self.repository,
            checked,
            self._at(at),
            next_due=None if self._scheduler.plain else self._scheduler.next_due,
            old_policy=old_policy,
            listeners=self.registry.listeners,
            dry_run=dry_run,
            batch=batch,
            part=part,
            max_retries=self._recorder.max_retries,
        )

    def reschedule(self, *, batch: int = 200, at: datetime | None = None) -> RescheduleReport:
        """Recompute the stored next due instant of every ticket of this lifecycle, as of *at*.

        After the rules behind due instants changed without a migration (a
        holiday added to the calendar, a policy loaded anew): the sweeper
        then finds each warning, breach and timed rule at its new instant.
        In batches, each a write through the one write path with the
        optimistic version check; tickets in states this version lacks are
        skipped (listed in the report).
        """
        next_due = None if self._scheduler.plain else self._scheduler.next_due
        return reschedule(self.repository, self.lifecycle, next_due, self._at(at), batch=batch)

    def import_jsonl(self, lines: IO[str], *, source: str = "<jsonl>") -> int:
        """Import tickets of this lifecycle from a JSON Lines export, with their due instants; all or nothing.

        Raises:
            StorageError: a malformed record, or a ticket of another lifecycle
                (naming its line); nothing is imported then.
            ConcurrencyConflict: a ticket with the same id exists already.
        """
        return import_jsonl(
            self.repository, lines, source=source, schedule=self.imported_due, listeners=self.registry.listeners
        )

    def imported_due(self, ticket: Ticket, history: Sequence[Event]) -> datetime | None:
        """The next due instant of a ticket of this lifecycle brought in whole with its *history* (an import).

        A ticket in a state only an earlier version (``previous=``) has is
        due by that version's rules, as its sweeps will serve it.

        Raises:
            StorageError: the ticket is of another lifecycle.
        """
        older = None if self._dispatch is None else self._dispatch.older_serving(ticket, lambda: history)
        return (self if older is None else older)._scheduler.imported(ticket, history)
