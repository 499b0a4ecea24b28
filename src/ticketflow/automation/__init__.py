"""Timed rules (reminders, auto-close, stalled), SLA alerts and the outbox, run by a sweeper."""

from ticketflow.automation._runner import SYSTEM, DeliveryState, SweepResult, deliver, run_due
from ticketflow.automation._schedule import Scheduled, Scheduler, next_due
from ticketflow.automation._sweeper import Sweeper, SweepReport
from ticketflow.automation._timers import PendingRule, backoff, due_instant, pending_rules

__all__ = [
    "SYSTEM",
    "DeliveryState",
    "PendingRule",
    "Scheduled",
    "Scheduler",
    "SweepReport",
    "SweepResult",
    "Sweeper",
    "backoff",
    "deliver",
    "due_instant",
    "next_due",
    "pending_rules",
    "run_due",
]
