"""Intake channels with trust rules, human keys, routing and assignment policies."""

from ticketflow.intake._intake import (
    Channel,
    Continuity,
    IntakeRefused,
    IntakeRules,
    LeastLoaded,
    PointOfContact,
    RoundRobin,
    Route,
    contact_message,
    intake_rules,
    rerouted,
    with_builtin_policies,
)
from ticketflow.intake._open import TicketIds, check_key_prefix, confirmation, follow_up, open_ticket, receive
from ticketflow.protocols import AssignmentPolicy

__all__ = [
    "AssignmentPolicy",
    "Channel",
    "Continuity",
    "IntakeRefused",
    "IntakeRules",
    "LeastLoaded",
    "PointOfContact",
    "RoundRobin",
    "Route",
    "TicketIds",
    "check_key_prefix",
    "confirmation",
    "contact_message",
    "follow_up",
    "intake_rules",
    "open_ticket",
    "receive",
    "rerouted",
    "with_builtin_policies",
]
