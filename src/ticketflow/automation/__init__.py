"""Timed rules (reminders, auto-close, stalled), SLA alerts and the outbox, run by a sweeper."""

from ticketflow.automation._runner import SYSTEM, DeliveryState, SweepResult, deliver, next_due, run_due
from ticketflow.automation._sweeper import Sweeper, SweepReport
from ticketflow.automation._timers import PendingRule, backoff, due_instant, pending_rules

__all__ = [
    "SYSTEM",
    "DeliveryState",
    "PendingRule",
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
