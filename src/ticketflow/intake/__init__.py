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
    with_builtin_policies,
)
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
    "contact_message",
    "intake_rules",
    "with_builtin_policies",
]
