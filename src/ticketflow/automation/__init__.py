"""Timed rules (reminders, auto-close, stalled), SLA alerts and the outbox, run by a sweeper."""

from ticketflow.automation._delivery import (
    DEFAULT_LEASE,
    DeliveryState,
    deliver,
    delivery_log,
    emitted_kinds,
    new_owner,
    unhandled_kinds,
    warn_unhandled,
)
from ticketflow.automation._notifiers import LoggingNotifier, WebhookNotifier, message_body, sign, verify_signature
from ticketflow.automation._runner import SYSTEM, SweepResult, run_due, run_ticket
from ticketflow.automation._schedule import Scheduled, Scheduler, next_due
from ticketflow.automation._sweeper import Sweeper, SweepReport
from ticketflow.automation._timers import PendingRule, backoff, due_instant, pending_rules

__all__ = [
    "DEFAULT_LEASE",
    "SYSTEM",
    "DeliveryState",
    "LoggingNotifier",
    "PendingRule",
    "Scheduled",
    "Scheduler",
    "SweepReport",
    "SweepResult",
    "Sweeper",
    "WebhookNotifier",
    "backoff",
    "deliver",
    "delivery_log",
    "due_instant",
    "emitted_kinds",
    "message_body",
    "new_owner",
    "next_due",
    "pending_rules",
    "run_due",
    "run_ticket",
    "sign",
    "unhandled_kinds",
    "verify_signature",
    "warn_unhandled",
]
