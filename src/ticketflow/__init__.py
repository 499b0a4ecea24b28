"""ticketflow: support-ticket lifecycles as data, business-hours SLAs, durable history.

Everything public is re-exported here; import from ``ticketflow`` only.

The names load on first use (PEP 562): ``import ticketflow`` costs a few
milliseconds and brings in nothing else; ``tf.Workflow`` loads the engine, the
memory store and the SLA clocks it needs, and SQLite, PostgreSQL (the
``postgres`` extra), e-mail, iCalendar and asyncio stay out until something
asks for them.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers read the block below)
if TYPE_CHECKING:  # the same names, eagerly, for type checkers and documentation tools
    from ticketflow._view import TicketView, view
    from ticketflow.automation import LoggingNotifier, Sweeper, SweepReport, SweepResult, WebhookNotifier
    from ticketflow.calendar import (
        BusinessCalendar,
        CalendarRule,
        HolidaySource,
        IcsClosures,
        holidays_for,
        ics_closures,
    )
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
    from ticketflow.repository.postgres import PostgresRepository
    from ticketflow.similar import SimilarityIndex, Suggestion
    from ticketflow.sla import SlaClock, SlaConfigError, SlaPolicy, SlaReport, attainment, evaluate, policy_for
    from ticketflow.versions import MigrationPlan, MigrationReport, RescheduleReport, load_migration
    from ticketflow.workflow import Workflow

#: Where each public name lives; `__getattr__` imports the module on first use.
_WHERE: dict[str, str] = {
    "APP_META": "ticketflow.model",
    "LIBRARY_META": "ticketflow.model",
    "LINK_KINDS": "ticketflow.links",
    "Action": "ticketflow.protocols",
    "Actor": "ticketflow.model",
    "BusinessCalendar": "ticketflow.calendar",
    "CalendarError": "ticketflow.errors",
    "CalendarRule": "ticketflow.calendar",
    "Change": "ticketflow.model",
    "ClaimingDue": "ticketflow.protocols",
    "ClaimingOutbox": "ticketflow.protocols",
    "Clock": "ticketflow.protocols",
    "Comment": "ticketflow.model",
    "ConcurrencyConflict": "ticketflow.errors",
    "Continuity": "ticketflow.intake",
    "Delivery": "ticketflow.protocols",
    "DeliveryFailed": "ticketflow.errors",
    "Event": "ticketflow.model",
    "ExternalRecord": "ticketflow.links",
    "FieldError": "ticketflow.errors",
    "FieldSpec": "ticketflow.lifecycle",
    "Guard": "ticketflow.protocols",
    "GuardContext": "ticketflow.lifecycle",
    "HolidaySource": "ticketflow.calendar",
    "IcsClosures": "ticketflow.calendar",
    "IntakeRefused": "ticketflow.intake",
    "InvalidLifecycle": "ticketflow.errors",
    "InvalidMigration": "ticketflow.errors",
    "LeastLoaded": "ticketflow.intake",
    "Lifecycle": "ticketflow.lifecycle",
    "LifecycleError": "ticketflow.errors",
    "LifecycleMismatch": "ticketflow.errors",
    "LifecycleVersionMismatch": "ticketflow.errors",
    "Link": "ticketflow.protocols",
    "LoggingNotifier": "ticketflow.automation",
    "MemoryRepository": "ticketflow.repository",
    "MigrationPlan": "ticketflow.versions",
    "MigrationReport": "ticketflow.versions",
    "NaiveDatetime": "ticketflow.errors",
    "Notifier": "ticketflow.protocols",
    "OutboxMessage": "ticketflow.protocols",
    "Page": "ticketflow.protocols",
    "PermissionDenied": "ticketflow.errors",
    "PointOfContact": "ticketflow.intake",
    "PostgresRepository": "ticketflow.repository.postgres",
    "Registry": "ticketflow.registry",
    "RescheduleReport": "ticketflow.versions",
    "RoundRobin": "ticketflow.intake",
    "SQLiteRepository": "ticketflow.repository",
    "SimilarityIndex": "ticketflow.similar",
    "SlaClock": "ticketflow.sla",
    "SlaConfigError": "ticketflow.sla",
    "SlaPolicy": "ticketflow.sla",
    "SlaReport": "ticketflow.sla",
    "SnapshotReads": "ticketflow.protocols",
    "State": "ticketflow.lifecycle",
    "SteppableClock": "ticketflow.clock",
    "StorageError": "ticketflow.errors",
    "Suggestion": "ticketflow.similar",
    "SweepReport": "ticketflow.automation",
    "SweepResult": "ticketflow.automation",
    "Sweeper": "ticketflow.automation",
    "SystemClock": "ticketflow.clock",
    "Ticket": "ticketflow.model",
    "TicketClosed": "ticketflow.errors",
    "TicketFilters": "ticketflow.protocols",
    "TicketNotFound": "ticketflow.errors",
    "TicketRepository": "ticketflow.protocols",
    "TicketView": "ticketflow._view",
    "TicketflowError": "ticketflow.errors",
    "TimedRule": "ticketflow.lifecycle",
    "Transaction": "ticketflow.protocols",
    "Transition": "ticketflow.lifecycle",
    "TransitionNotAllowed": "ticketflow.errors",
    "WebhookNotifier": "ticketflow.automation",
    "Workflow": "ticketflow.workflow",
    "attainment": "ticketflow.sla",
    "builtin": "ticketflow.lifecycle._loader",  # not the package: its `builtin/` folder shadows the name there
    "builtins": "ticketflow.lifecycle._loader",
    "evaluate": "ticketflow.sla",
    "export_csv": "ticketflow.repository",
    "export_jsonl": "ticketflow.repository",
    "holidays_for": "ticketflow.calendar",
    "ics_closures": "ticketflow.calendar",
    "import_jsonl": "ticketflow.repository",
    "json_schema": "ticketflow.lifecycle",
    "load_lifecycle": "ticketflow.lifecycle",
    "load_migration": "ticketflow.versions",
    "loads_lifecycle": "ticketflow.lifecycle",
    "policy_for": "ticketflow.sla",
    "replay": "ticketflow.model",
    "view": "ticketflow._view",
}

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Import the module that defines *name* on first use and keep the name here.
    module = _WHERE.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name == "SQLAlchemyRepository":
        import warnings

        from ticketflow.repository.postgres import PostgresRepository

        warnings.warn("SQLAlchemyRepository is deprecated: use PostgresRepository", DeprecationWarning, stacklevel=2)
        return PostgresRepository
    raise AttributeError(f"module 'ticketflow' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


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
