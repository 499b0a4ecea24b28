"""A ticket's *fold*: the few events of its history its SLA clocks and timed rules read.

The SLA clocks (:func:`ticketflow.sla.evaluate`) and the pending timed rules
(:func:`~ticketflow.automation._timers.pending_rules`) are pure functions of
the ticket and its history, and most events change neither: an internal
note, a tag, a field no target chooses by. The fold keeps only the events
that can:

- for the SLA policy: the opening, every event a metric's start, stop or
  reset conditions match, every move into a terminal state, every event
  that moves the ticket into or out of a metric's pause states, every event
  that changes a field a target or calendar is chosen by (any field, when a
  calendar resolver chooses), and every event that records a lifecycle
  version or a migration;
- for the timed rules: the entry into the current state, the rule firings
  since, the last comment from each side since, and the last event.

So ``evaluate(policy, lifecycle, ticket, fold, now)`` equals the clocks of the
whole history, and so do the pending rules, as long as *now* is not before
the last event (``tests/test_fold.py`` checks both on random histories). A
write extends the fold by its new events (:meth:`Folder.extend`): its cost
follows the fold, not the history. A history whose events go back in time
has no fold (``None``): its readers read the whole history.

The fold is stored with the ticket by repositories that can
(:class:`~ticketflow.protocols.FoldStore`), under a key that names what it
was folded for: a Workflow whose lifecycle, policy or calendar choice differs
reads a key it does not know and folds the history again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import pairwise

from ticketflow.lifecycle import Lifecycle
from ticketflow.lifecycle._migrated import MIGRATED, in_current_names
from ticketflow.model import Event
from ticketflow.sla import SlaPolicy
from ticketflow.sla._policy import Conditions

__all__ = ["Folder"]

_VERSION_KEYS = ("lifecycle_version", "lifecycle_fingerprint", MIGRATED)


def _conditions(conditions: Conditions) -> str:
    return repr(
        (
            conditions.open,
            sorted(conditions.states),
            sorted(conditions.triggers),
            conditions.comment,
            sorted(conditions.comment_by),
            conditions.visibility,
        )
    )


class Folder:
    """Folds the histories of one lifecycle's tickets for its SLA policy and timed rules.

    Args:
        lifecycle: the lifecycle (its terminal states, staff roles and timed rules).
        policy: the SLA policy whose clocks the fold must keep, if any.
    """

    __slots__ = ("_access", "_choosing", "_conditions", "_paused", "_terminal", "_timers", "key")

    def __init__(self, lifecycle: Lifecycle, policy: SlaPolicy | None) -> None:
        metrics = () if policy is None else policy.metrics
        self._terminal = frozenset(s for s, state in lifecycle.states.items() if state.terminal)
        self._conditions = tuple(
            c for m in metrics for c in (m.start, m.stop, m.reset) if c.open or c.states or c.triggers or c.comment
        )
        self._paused = tuple({m.paused_in for m in metrics if m.paused_in})
        choosing: set[str] | None = set()
        for metric in metrics:
            for target in metric.targets:
                if choosing is None:
                    break
                choosing.update(target.when)
                if target.calendar_by is not None:
                    if target.calendar_by.field is None:
                        choosing = None  # a resolver may read any field
                    else:
                        choosing.add(target.calendar_by.field)
        #: the fields whose changes the SLA reads (None: every field)
        self._choosing = None if choosing is None else frozenset(choosing)
        self._timers = bool(lifecycle.timers)
        self._access = lifecycle.access
        # what the fold depends on, so a stored fold is used only by a Workflow that folds alike
        described = repr(
            (
                lifecycle.fingerprint,
                sorted(self._terminal),
                [_conditions(c) for c in self._conditions],
                sorted(sorted(p) for p in self._paused),
                None if self._choosing is None else sorted(self._choosing),
                self._timers,
                sorted(self._access.staff),
            )
        )
        #: names what this folder keeps (stored with a fold; another key means: fold again)
        self.key = hashlib.sha256(described.encode()).hexdigest()[:16]

    def extend(self, before: Sequence[Event], events: Sequence[Event]) -> tuple[Event, ...] | None:
        """The fold of a history after *events*, given *before*: the fold (or whole history) before them.

        None when the history goes back in time (an event earlier than the
        one before it): then only the whole history tells.
        """
        return self.fold([*before, *events])

    def fold(self, history: Sequence[Event]) -> tuple[Event, ...] | None:
        """The events of *history* (or of a fold extended by new events) the clocks and rules read."""
        if not history:
            return ()
        named = in_current_names(history)
        ats = [e.at for e in named]
        if any(later < earlier for earlier, later in pairwise(ats)):
            return None
        keep = bytearray(len(named))
        keep[0] = keep[-1] = 1
        self._keep_for_sla(named, keep)
        if self._timers:
            self._keep_for_timers(named, keep)
        return tuple(event for event, kept in zip(history, keep, strict=True) if kept)

    def _keep_for_sla(self, named: Sequence[Event], keep: bytearray) -> None:
        conditions, paused, terminal, choosing = self._conditions, self._paused, self._terminal, self._choosing
        previous: str | None = None
        for index, event in enumerate(named):
            target = event.target
            moved = event.source != target
            if (
                (moved and target in terminal)
                or any(key in event.meta for key in _VERSION_KEYS)
                or any(c.matches(event) for c in conditions)
                or (previous is not None and any((target in p) != (previous in p) for p in paused))
                or (event.field_changes and (choosing is None or not choosing.isdisjoint(event.field_changes)))
            ):
                keep[index] = 1
            previous = target

    def _keep_for_timers(self, named: Sequence[Event], keep: bytearray) -> None:
        state = named[-1].target
        entry = 0
        for index in range(len(named) - 1, -1, -1):
            event = named[index]
            if event.target == state and event.source != state:
                entry = index
                break
        keep[entry] = 1
        sides: set[bool] = set()  # the sides whose last comment is kept: staff (True) or not
        standing, staff = self._access.standing, self._access.staff
        for index in range(len(named) - 1, entry, -1):
            event = named[index]
            if "rule" in event.meta:
                keep[index] = 1
            if event.comment is not None and len(sides) < 2:
                roles = standing(event.actor).roles  # as the rules judge the author (inherited roles)
                if "system" not in roles:
                    side = not staff.isdisjoint(roles)
                    if side not in sides:
                        sides.add(side)
                        keep[index] = 1
