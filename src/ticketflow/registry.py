"""The application's registry of named guards and actions.

Config never runs code: a lifecycle names its guards and actions, and the
application registers callables under those names in a :class:`Registry` it
passes to its :class:`~ticketflow.Workflow`. There is no global registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ticketflow.errors import InvalidLifecycle
from ticketflow.lifecycle import Lifecycle
from ticketflow.model import Event, Ticket
from ticketflow.protocols import Action, AssignmentPolicy, Guard, Notifier

__all__ = ["EventListener", "Registry"]

EventListener = Callable[[Ticket, Event], None]
CalendarResolverFn = Callable[[Mapping[str, Any]], "str | None"]
_G = TypeVar("_G", bound=Guard)
_A = TypeVar("_A", bound=Action)


def _named(kind: str, name: object, fn: object) -> str:
    """*name*, once the registration is sound: a TypeError naming what is wrong now, not at first use."""
    if not isinstance(name, str):
        raise TypeError(f"a {kind}'s name must be a string, got {type(name).__name__} {name!r}")
    if not callable(fn):
        raise TypeError(f"{kind} {name!r} must be callable, got {type(fn).__name__}")
    return name


class Registry:
    """Named guards and actions a lifecycle may refer to.

    Example::

        registry = Registry()

        @registry.guard("has_reproduction")
        def has_reproduction(ctx: GuardContext) -> bool:
            return bool(ctx.fields.get("steps"))
    """

    def __init__(self) -> None:
        self.guards: dict[str, Guard] = {}
        self.actions: dict[str, Action] = {}
        self.notifiers: dict[str, Notifier] = {}
        #: Called after commit with (ticket, event) for every event a Workflow with this registry writes.
        self.listeners: list[EventListener] = []
        #: the application's assignment policies (the built-in ``continuity`` is always there besides these)
        self.policies: dict[str, AssignmentPolicy] = {}
        self.calendar_resolvers: dict[str, CalendarResolverFn] = {}

    def check(self, lifecycle: Lifecycle) -> None:
        """Refuse a *lifecycle* whose transitions name a guard or action this registry does not have.

        Raises:
            InvalidLifecycle: with the path of the name (``transitions[2].guards[0]``).
        """
        for t in lifecycle.transitions:
            for kind, names, known in (("guards", t.guards, self.guards), ("actions", t.actions, self.actions)):
                for i, name in enumerate(names):
                    if name not in known:
                        raise InvalidLifecycle(
                            lifecycle.source,
                            f"{t.path}.{kind}[{i}]",
                            f"{kind[:-1]} {name!r} is not in the registry; register it with "
                            f"registry.add_{kind[:-1]}({name!r}, ...)",
                        )

    def add_guard(self, name: str, guard: Guard) -> None:
        """Register *guard* under *name* (replacing any earlier one)."""
        self.guards[_named("guard", name, guard)] = guard

    def add_action(self, name: str, action: Action) -> None:
        """Register *action* under *name* (replacing any earlier one)."""
        self.actions[_named("action", name, action)] = action

    def add_notifier(self, name: str, notifier: Notifier) -> None:
        """Register *notifier* for outbox messages of kind *name* (replacing any earlier one).

        It receives each :class:`~ticketflow.OutboxMessage` once it is
        committed; raising leaves the message pending, to be retried with
        backoff. Use ``message.key`` to drop a message delivered twice (after
        a crash between delivering and recording it).
        """
        self.notifiers[_named("notifier", name, notifier)] = notifier

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Add *listener* as :meth:`on_event` does; return a function that removes it again."""
        self.on_event(listener)

        def unsubscribe() -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)

        return unsubscribe

    def on_event(self, listener: EventListener) -> EventListener:
        """Call *listener* after commit for every event written through a Workflow with this registry.

        Every write path calls it (opens, fires, comments, timers, link rules,
        merges, broadcasts), once per event, with the ticket as saved and the
        event, after the transaction committed, in the writing process. For
        audit trails and metrics: a listener that raises is logged
        (``ticketflow.events``) and undoes nothing. Usable as a decorator.
        """
        if not callable(listener):
            raise TypeError(f"an event listener must be callable, got {type(listener).__name__}")
        self.listeners.append(listener)
        return listener

    def add_policy(self, name: str, policy: AssignmentPolicy) -> None:
        """Register an assignment policy (see :mod:`ticketflow.intake`) under *name* for ``[intake]`` routes."""
        self.policies[_named("assignment policy", name, policy)] = policy

    def add_calendar_resolver(self, name: str, resolver: CalendarResolverFn) -> None:
        """Register *resolver* for ``calendar_by = { resolver = name }`` in an SLA policy.

        It receives the ticket's fields and answers the name of one of the
        policy's calendars, or None for the default.
        """
        self.calendar_resolvers[_named("calendar resolver", name, resolver)] = resolver

    def guard(self, name: str) -> Callable[[_G], _G]:
        """Decorator form of :meth:`add_guard`."""

        def register(fn: _G) -> _G:
            self.add_guard(name, fn)
            return fn

        return register

    def action(self, name: str) -> Callable[[_A], _A]:
        """Decorator form of :meth:`add_action`."""

        def register(fn: _A) -> _A:
            self.add_action(name, fn)
            return fn

        return register

    def __repr__(self) -> str:
        return (
            f"Registry(guards={sorted(self.guards)}, actions={sorted(self.actions)}, "
            f"notifiers={sorted(self.notifiers)}, policies={sorted(self.policies)})"
        )
