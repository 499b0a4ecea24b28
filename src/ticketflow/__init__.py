"""ticketflow: support-ticket lifecycles as data, business-hours SLAs, durable history.

Everything public is re-exported here; import from ``ticketflow`` only.
"""

from ticketflow._view import TicketView, view
from ticketflow.automation import LoggingNotifier, Sweeper, SweepReport, SweepResult, WebhookNotifier
from ticketflow.calendar import BusinessCalendar, CalendarRule, HolidaySource, IcsClosures, holidays_for, ics_closures
from ticketflow.clock import SteppableClock, SystemClock
from ticketflow.errors import (
    CalendarError,
    ConcurrencyConflict,
    DeliveryFailed,
    FieldError,
    InvalidLifecycle,
    InvalidMigration,
    LifecycleError,
    LifecycleMismatch,
    LifecycleVersionMismatch,
    NaiveDatetime,
    PermissionDenied,
    StorageError,
    TicketClosed,
    TicketflowError,
    TicketNotFound,
    TransitionNotAllowed,
)
from ticketflow.intake import Continuity, IntakeRefused, LeastLoaded, PointOfContact, RoundRobin
from ticketflow.lifecycle import (
    FieldSpec,
    GuardContext,
    Lifecycle,
    State,
    TimedRule,
    Transition,
    builtin,
    builtins,
    json_schema,
    load_lifecycle,
    loads_lifecycle,
)
from ticketflow.links import LINK_KINDS, ExternalRecord
from ticketflow.model import APP_META, LIBRARY_META, Actor, Change, Comment, Event, Ticket, replay
from ticketflow.protocols import (
    Action,
    ClaimingDue,
    ClaimingOutbox,
    Clock,
    Delivery,
    Guard,
    Link,
    Notifier,
    OutboxMessage,
    Page,
    SnapshotReads,
    TicketFilters,
    TicketRepository,
    Transaction,
)
from ticketflow.registry import Registry
from ticketflow.repository import MemoryRepository, SQLiteRepository, export_csv, export_jsonl, import_jsonl
from ticketflow.similar import SimilarityIndex, Suggestion
from ticketflow.sla import SlaClock, SlaConfigError, SlaPolicy, SlaReport, attainment, evaluate, policy_for
from ticketflow.versions import MigrationPlan, MigrationReport, RescheduleReport, load_migration
from ticketflow.workflow import Workflow

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # PostgreSQL is an optional extra: import it only when asked for.
    if name == "PostgresRepository":
        from ticketflow.repository.postgres import PostgresRepository

        return PostgresRepository
    if name == "SQLAlchemyRepository":
        import warnings

        from ticketflow.repository.postgres import PostgresRepository

        warnings.warn("SQLAlchemyRepository is deprecated: use PostgresRepository", DeprecationWarning, stacklevel=2)
        return PostgresRepository
    raise AttributeError(f"module 'ticketflow' has no attribute {name!r}")


__all__ = [
    "APP_META",
    "LIBRARY_META",
    "LINK_KINDS",
    "Action",
    "Actor",
    "BusinessCalendar",
    "CalendarError",
    "CalendarRule",
    "Change",
    "ClaimingDue",
    "ClaimingOutbox",
    "Clock",
    "Comment",
    "ConcurrencyConflict",
    "Continuity",
    "Delivery",
    "DeliveryFailed",
    "Event",
    "ExternalRecord",
    "FieldError",
    "FieldSpec",
    "Guard",
    "GuardContext",
    "HolidaySource",
    "IcsClosures",
    "IntakeRefused",
    "InvalidLifecycle",
    "InvalidMigration",
    "LeastLoaded",
    "Lifecycle",
    "LifecycleError",
    "LifecycleMismatch",
    "LifecycleVersionMismatch",
    "Link",
    "LoggingNotifier",
    "MemoryRepository",
    "MigrationPlan",
    "MigrationReport",
    "NaiveDatetime",
    "Notifier",
    "OutboxMessage",
    "Page",
    "PermissionDenied",
    "PointOfContact",
    "PostgresRepository",
    "Registry",
    "RescheduleReport",
    "RoundRobin",
    "SQLiteRepository",
    "SimilarityIndex",
    "SlaClock",
    "SlaConfigError",
    "SlaPolicy",
    "SlaReport",
    "SnapshotReads",
    "State",
    "SteppableClock",
    "StorageError",
    "Suggestion",
    "SweepReport",
    "SweepResult",
    "Sweeper",
    "SystemClock",
    "Ticket",
    "TicketClosed",
    "TicketFilters",
    "TicketNotFound",
    "TicketRepository",
    "TicketView",
    "TicketflowError",
    "TimedRule",
    "Transaction",
    "Transition",
    "TransitionNotAllowed",
    "WebhookNotifier",
    "Workflow",
    "attainment",
    "builtin",
    "builtins",
    "evaluate",
    "export_csv",
    "export_jsonl",
    "holidays_for",
    "ics_closures",
    "import_jsonl",
    "json_schema",
    "load_lifecycle",
    "load_migration",
    "loads_lifecycle",
    "policy_for",
    "replay",
    "view",
]
