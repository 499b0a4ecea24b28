"""The one exception tree of ticketflow.

Everything ticketflow raises on purpose derives from :class:`TicketflowError`.
Each error keeps the facts it is about as attributes, so callers never parse
messages, and its message says what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CalendarError",
    "ConcurrencyConflict",
    "DeliveryFailed",
    "FieldError",
    "InvalidLifecycle",
    "InvalidMigration",
    "LifecycleError",
    "LifecycleMismatch",
    "LifecycleVersionMismatch",
    "NaiveDatetime",
    "PermissionDenied",
    "StorageError",
    "TicketClosed",
    "TicketNotFound",
    "TicketflowError",
    "TransitionNotAllowed",
]


def _clip(text: str, limit: int) -> str:
    # A hostile definition can hold a name of megabytes; the message shows its start.
    return text if len(text) <= limit else f"{text[: limit - 5]}[...]"


class TicketflowError(Exception):
    """Root of every error ticketflow raises on purpose."""


class LifecycleError(TicketflowError):
    """A problem with a lifecycle definition or with a step on a ticket."""


class InvalidLifecycle(LifecycleError, ValueError):
    """A lifecycle definition that cannot be loaded.

    Attributes:
        source: where the definition came from (a file path, ``"<dict>"``, or
            a built-in id).
        path: where inside the definition the problem is, such as
            ``transitions[3].dest``, ``line 3``, or ``(file)`` / ``(document)``
            for the whole of it (left out of the message).
        problem: what is wrong, and what to do about it.
    """

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source = source
        self.path = path
        self.problem = problem
        where = f"{source}:{_clip(path, 200)}" if path and not path.startswith("(") else source
        super().__init__(f"{where}: {_clip(problem, 400)}")


class InvalidMigration(InvalidLifecycle):
    """A migration plan that does not fit the two versions it migrates between.

    Raised when the plan is loaded, before any ticket is touched, with the
    path inside the plan (``states.pending``, ``fields.defaults.severity``)
    and what to change. An :class:`InvalidLifecycle` (also a ``ValueError``).
    """


class TransitionNotAllowed(LifecycleError):
    """The trigger cannot be fired from the ticket's current state.

    Attributes:
        ticket_id: the ticket the trigger was fired on.
        trigger: the trigger that was refused.
        state: the ticket's state when it was refused.
        reason: why, in words.
    """

    def __init__(self, ticket_id: str, trigger: str, state: str, reason: str) -> None:
        self.ticket_id = ticket_id
        self.trigger = trigger
        self.state = state
        self.reason = reason
        super().__init__(f"ticket {ticket_id}: {trigger!r} is not allowed in state {state!r}: {reason}")


class PermissionDenied(LifecycleError):
    """The actor may not fire this trigger on this ticket.

    Attributes:
        ticket_id: the ticket.
        trigger: the trigger that was refused.
        actor_id: who tried.
        roles: the roles the actor had.
        allowed: who may fire it (role names, and ``assignee``/``requester``),
            or who may set the part named by ``subject``.
        subject: what in the step was refused (``"set field 'priority'"``,
            ``"post an internal comment"``), or ``None`` when the trigger itself
            was. It names parts, never their values.
    """

    def __init__(
        self,
        ticket_id: str,
        trigger: str,
        actor_id: str,
        roles: Sequence[str],
        allowed: Sequence[str],
        *,
        subject: str | None = None,
    ) -> None:
        self.ticket_id = ticket_id
        self.trigger = trigger
        self.actor_id = actor_id
        self.roles = tuple(roles)
        self.allowed = tuple(allowed)
        self.subject = subject
        what = f"fire {trigger!r}" if subject is None else f"{subject} (with {trigger!r})"
        super().__init__(
            f"ticket {ticket_id}: actor {actor_id!r} with roles {sorted(self.roles)} may not "
            f"{what}; allowed: {', '.join(self.allowed) or 'nobody'}"
        )


class TicketClosed(TransitionNotAllowed):
    """The ticket is in an immutable state: nothing about it may change.

    Reply by opening a follow-up ticket instead of updating this one.
    """

    def __init__(self, ticket_id: str, trigger: str, state: str) -> None:
        super().__init__(
            ticket_id,
            trigger,
            state,
            f"state {state!r} is immutable; open a follow-up ticket instead",
        )


class FieldError(LifecycleError, ValueError):
    """Field data given with a step is missing, unknown or of the wrong kind.

    Attributes:
        ticket_id: the ticket (``None`` when opening a new one).
        trigger: the step that carried the data.
        fields: the field names at fault.
        reason: what is wrong with them.
    """

    def __init__(self, ticket_id: str | None, trigger: str, fields: Sequence[str], reason: str) -> None:
        self.ticket_id = ticket_id
        self.trigger = trigger
        self.fields = tuple(fields)
        self.reason = reason
        where = f"ticket {ticket_id}" if ticket_id else "new ticket"
        super().__init__(f"{where}: {trigger!r} refused: {reason} ({', '.join(self.fields)})")


class TicketNotFound(TicketflowError, LookupError):
    """No ticket with this id exists in the repository.

    Attributes:
        ticket_id: the id that was looked up.
    """

    def __init__(self, ticket_id: str) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"no ticket with id {ticket_id!r}")


class LifecycleMismatch(LifecycleError):
    """The ticket belongs to another lifecycle than the Workflow asked to read or change it.

    A :class:`~ticketflow.Workflow` owns its lifecycle's tickets only; the
    ticket is left exactly as it was.

    Attributes:
        ticket_id: the ticket.
        ticket_lifecycle: the lifecycle the ticket belongs to.
        workflow_lifecycle: the lifecycle of the Workflow that was asked.
    """

    def __init__(self, ticket_id: str, ticket_lifecycle: str, workflow_lifecycle: str) -> None:
        self.ticket_id = ticket_id
        self.ticket_lifecycle = ticket_lifecycle
        self.workflow_lifecycle = workflow_lifecycle
        super().__init__(
            f"ticket {ticket_id} belongs to lifecycle {ticket_lifecycle!r}, not {workflow_lifecycle!r}: "
            f"use a Workflow of {ticket_lifecycle!r} for it"
        )


class LifecycleVersionMismatch(LifecycleError):
    """The ticket is in a state the Workflow's version of its lifecycle does not have.

    A state was renamed or removed in this version, or the ticket was
    written by a newer version (a rolling deploy with old and new processes
    side by side). Nothing was changed.

    Attributes:
        ticket_id: the ticket.
        state: the ticket's state, unknown to this version.
        recorded_version: the lifecycle version the ticket is on: the one
            its last migration moved it to, else the one it was opened under
            (``None`` if its opening event predates recorded versions).
        recorded_fingerprint: that version's fingerprint (or ``None``).
        current_version: the version of the Workflow's lifecycle.
        current_fingerprint: its fingerprint.
    """

    def __init__(
        self,
        ticket_id: str,
        state: str,
        recorded_version: int | None,
        recorded_fingerprint: str | None,
        current_version: int,
        current_fingerprint: str,
    ) -> None:
        self.ticket_id = ticket_id
        self.state = state
        self.recorded_version = recorded_version
        self.recorded_fingerprint = recorded_fingerprint
        self.current_version = current_version
        self.current_fingerprint = current_fingerprint
        recorded = "an unrecorded version" if recorded_version is None else f"version {recorded_version}"
        if recorded_fingerprint is not None:
            recorded += f" ({recorded_fingerprint[:12]})"
        super().__init__(
            f"ticket {ticket_id} is in state {state!r}, which version {current_version} "
            f"({current_fingerprint[:12]}) of its lifecycle does not have; it is on {recorded}: "
            "handle it with a Workflow of the version that has this state, or migrate the ticket"
        )


class ConcurrencyConflict(TicketflowError):
    """Someone else saved the ticket first; re-read it and try again.

    With ``expected_version`` 0 the write made a new ticket whose id is taken
    (an import of tickets the store has, an id given twice); the message says so.

    Attributes:
        ticket_id: the ticket.
        expected_version: the version the writer based its change on.
        actual_version: the version found in storage.
    """

    def __init__(self, ticket_id: str, expected_version: int, actual_version: int | None) -> None:
        self.ticket_id = ticket_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        if expected_version == 0 and actual_version is not None:  # a new ticket (an open, an import) met an old one
            message = (
                f"ticket {ticket_id} exists already (at version {actual_version}): a new ticket cannot take its id; "
                "nothing was written"
            )
        else:
            message = (
                f"ticket {ticket_id}: expected version {expected_version}, found {actual_version}; "
                "re-read the ticket and retry"
            )
        super().__init__(message)


class StorageError(TicketflowError):
    """The storage backend cannot do what was asked (corrupt, foreign, read-only...)."""


class DeliveryFailed(TicketflowError):
    """A notifier could not deliver a message; the outbox retries it after a backoff.

    Attributes:
        key: the message's idempotency key.
        target: where it was going (a URL, an address).
        reason: what went wrong (a status code and body, a timeout...).
    """

    def __init__(self, key: str, target: str, reason: str) -> None:
        self.key = key
        self.target = target
        self.reason = reason
        super().__init__(f"message {key!r} to {target}: {reason}")


class CalendarError(TicketflowError, ValueError):
    """A business calendar was given bad input (naive datetime, bad hours, ...)."""


class NaiveDatetime(CalendarError):
    """A naive datetime reached a boundary that needs an aware one.

    Attributes:
        name: what the value was (``at``, ``created_at``, ...).
        value: the naive datetime.
    """

    def __init__(self, name: str, value: object) -> None:
        self.name = name
        self.value = value
        super().__init__(f"{name} must be timezone-aware, got naive {value}; attach a tzinfo (zoneinfo)")
