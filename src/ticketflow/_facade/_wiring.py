"""The checks of the arguments a :class:`~ticketflow.Workflow` is wired from."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

from ticketflow._brief import brief
from ticketflow.calendar import BusinessCalendar
from ticketflow.lifecycle import Lifecycle
from ticketflow.protocols import Clock
from ticketflow.registry import Registry

__all__ = ["check_parts"]


def check_parts(
    lifecycle: object, repository: object, calendar: object, clock: object, registry: object, previous: object
) -> None:
    """A TypeError naming the argument of the wrong type, before anything is wired (not an AttributeError later)."""
    if not isinstance(lifecycle, Lifecycle):
        hint = (
            " (tf.builtin(name) or tf.load_lifecycle(path) makes one)" if isinstance(lifecycle, str | PathLike) else ""
        )
        raise TypeError(
            f"lifecycle must be a ticketflow Lifecycle{hint}, got {type(lifecycle).__name__} {brief(lifecycle)}"
        )
    if isinstance(repository, str | bytes | PathLike):
        raise TypeError(
            f"repository must be a TicketRepository such as tf.SQLiteRepository({brief(repository)}), "
            f"got the {type(repository).__name__} {brief(repository)}"
        )
    if calendar is not None and not isinstance(calendar, BusinessCalendar):
        raise TypeError(f"calendar must be a tf.BusinessCalendar, got {type(calendar).__name__} {brief(calendar)}")
    if clock is not None and not isinstance(clock, Clock):
        raise TypeError(f"clock must have a now() method (tf.SystemClock()), got {type(clock).__name__}")
    if registry is not None and not isinstance(registry, Registry):
        raise TypeError(f"registry must be a tf.Registry, got {type(registry).__name__}")
    if (
        not isinstance(previous, Sequence)
        or isinstance(previous, str)
        or not all(isinstance(p, Lifecycle) for p in previous)
    ):
        raise TypeError(f"previous must be a list of earlier Lifecycle versions, got {brief(previous)}")
