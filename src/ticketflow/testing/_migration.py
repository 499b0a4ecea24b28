"""The migration property: tickets anywhere under version A, migrated by a plan, are valid tickets of version B."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketflow._brief import brief
from ticketflow.calendar import BusinessCalendar
from ticketflow.errors import TicketflowError
from ticketflow.model import Actor, replay
from ticketflow.registry import Registry
from ticketflow.repository import MemoryRepository
from ticketflow.testing._paths import (
    _workflow,
    check_kit_arguments,
    kit_settings,
    path_coverage,
    permissive_registry,
    take_path,
)
from ticketflow.testing._strategies import ASSIGNEE_ID, field_values
from ticketflow.versions import MigrationPlan
from ticketflow.workflow import Workflow

__all__ = ["check_migration"]

_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def check_migration(
    plan: MigrationPlan,
    registry: Registry | None = None,
    *,
    max_examples: int | None = None,
    calendar: BusinessCalendar | None = None,
    seed: int | None = None,
) -> None:
    """Check *plan* on random tickets: driven under ``plan.old`` to random reachable states and field values.

    Each example opens a ticket under the old version, takes the shortest
    path into a random reachable state, sets random valid values of the old
    version's fields (those the lifecycle accepts), lets some time pass, and
    migrates it with the new version's Workflow. Then the ticket must be a
    valid ticket of the new version: it moved (no refusal), its state exists,
    every field the new version requires in it is set, its history replays
    to it, the stored due instant is the one recomputed from its history, and
    the new Workflow reads it (``get``, ``allowed``, ``sla``) without a
    :class:`~ticketflow.LifecycleVersionMismatch`.

    Raises:
        AssertionError: a ticket the plan cannot move or leaves invalid, with
            the state, the fields and the reason (hypothesis shrinks it).
        TypeError: *plan* is not a MigrationPlan, or *registry* or *calendar*
            is of the wrong type.
    """
    if not isinstance(plan, MigrationPlan):
        raise TypeError(
            "check_migration: plan must be a MigrationPlan (tf.load_migration(path, old, new) makes one), "
            f"got {type(plan).__name__} {brief(plan)}"
        )
    check_kit_arguments("check_migration", plan.old, registry, calendar)
    old, new = plan.old, plan.new
    states = sorted(path_coverage(old).states.items())
    staff = Actor(ASSIGNEE_ID, roles=set(old.update_roles) | {"agent"})
    optional = {name: field_values(spec) for name, spec in old.fields.items()}

    @kit_settings(max_examples, derandomize=settings().derandomize and seed is None)
    @given(
        st.sampled_from(states),
        st.fixed_dictionaries({}, optional=optional),
        st.integers(min_value=0, max_value=72 * 60),
    )
    def migrated_tickets_are_valid(target: tuple[str, Any], values: dict[str, Any], minutes: int) -> None:
        state, path = target
        wf, clock = _workflow(old, registry, calendar)
        ticket = take_path(wf, clock, old, path)
        for name, value in values.items():  # each value the old version accepts here, one at a time
            try:
                ticket = wf.update(ticket.id, staff, fields={name: value})
            except TicketflowError:
                continue
        clock.advance(timedelta(minutes=minutes))
        repository = wf.repository
        assert isinstance(repository, MemoryRepository)
        newer = Workflow(
            new,
            repository,
            clock=clock,
            calendar=calendar,
            registry=permissive_registry(new, registry),
            previous=[old],
        )
        report = newer.migrate(plan)
        where = f"a ticket in {state!r} with fields {dict(ticket.fields)}"
        assert report.refused == (), f"{where} cannot move: {report.refused[0][1]}"
        moved = newer.get(ticket.id)
        assert moved.state in new.states, f"{where}: moved to {moved.state!r}, not a state of the new version"
        missing = [n for n, s in new.fields.items() if moved.state in s.required_in and n not in moved.fields]
        assert not missing, f"{where}: moved to {moved.state!r} without the required field(s) {missing}"
        history = newer.history(ticket.id)
        assert replay(history) == moved, f"{where}: the history does not replay to the migrated ticket"
        assert [e.trigger for e in history].count("migrate") == 1, f"{where}: not migrated exactly once"
        stored = dict(repository.due(_LATEST, limit=1 << 20)).get(ticket.id)
        assert stored == newer.imported_due(moved, history), f"{where}: the stored due instant is not recomputed"
        newer.allowed(ticket.id, staff)
        newer.sla(ticket.id)

    (migrated_tickets_are_valid if seed is None else hypothesis.seed(seed)(migrated_tickets_are_valid))()
