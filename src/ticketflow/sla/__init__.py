"""SLA policies and clocks: targets in business time, pauses, warnings, breaches, reports."""

from ticketflow.sla._clock import SlaClock, SlaCycle, evaluate, evaluate_metric
from ticketflow.sla._policy import (
    METRIC_KINDS,
    CalendarChoice,
    CalendarResolver,
    Conditions,
    SlaConfigError,
    SlaMetric,
    SlaPolicy,
    SlaTarget,
    policy_for,
)
from ticketflow.sla._report import MetricAttainment, SlaReport, attainment

__all__ = [
    "METRIC_KINDS",
    "CalendarChoice",
    "CalendarResolver",
    "Conditions",
    "MetricAttainment",
    "SlaClock",
    "SlaConfigError",
    "SlaCycle",
    "SlaMetric",
    "SlaPolicy",
    "SlaReport",
    "SlaTarget",
    "attainment",
    "evaluate",
    "evaluate_metric",
    "policy_for",
]
