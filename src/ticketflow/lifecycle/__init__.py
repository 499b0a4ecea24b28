"""Lifecycles: definition, loading and validation, the compiled engine, diagrams."""

from ticketflow.lifecycle._definition import (
    BUILTIN_ROLES,
    Compare,
    Elapsed,
    FieldSpec,
    Lifecycle,
    OnEvent,
    State,
    TimedRule,
    Transition,
)
from ticketflow.lifecycle._engine import UNSET, Engine, GuardContext, previous_state
from ticketflow.lifecycle._loader import builtin, builtins, load_lifecycle, loads_lifecycle, parse_duration
from ticketflow.lifecycle._shape import json_schema

__all__ = [
    "BUILTIN_ROLES",
    "UNSET",
    "Compare",
    "Elapsed",
    "Engine",
    "FieldSpec",
    "GuardContext",
    "Lifecycle",
    "OnEvent",
    "State",
    "TimedRule",
    "Transition",
    "builtin",
    "builtins",
    "json_schema",
    "load_lifecycle",
    "loads_lifecycle",
    "parse_duration",
    "previous_state",
]
