"""Test kit for applications using ticketflow (needs the ``testing`` extra).

- :class:`SteppableClock` — a clock you move by hand;
- hypothesis strategies for actors, field values, step sequences and whole
  lifecycle definitions;
- :class:`LifecycleContract` / :func:`check_lifecycle` — every check of the
  kit for your own lifecycle (engine, data rules, views, timers, SLA, with
  coverage), or one concern at a time with :class:`EngineContract`,
  :class:`DataRulesContract`, :class:`ViewContract`, :class:`TimerContract`
  and :class:`SlaContract` (all built on :class:`ContractBase`);
- :class:`AccessContract` / :func:`check_access` — random customers and
  strangers through every public API, for your own lifecycle's access rules;
- :class:`RepositoryContract` — the storage contract suite, for your own
  repository adapter;
- :func:`check_migration` — the migration property: tickets driven to random
  reachable states and field values under one version, migrated by a plan,
  are valid tickets of the next.

Nothing in ticketflow itself imports this module.
"""

try:  # the testing extra, checked first so its absence is named
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
except ImportError as _missing:
    raise ImportError(
        f"ticketflow.testing needs the testing extra (no module named {_missing.name!r}): "
        "pip install 'ticketflow[testing]'"
    ) from _missing

from ticketflow.clock import SteppableClock
from ticketflow.testing._access import AccessContract, check_access
from ticketflow.testing._checks import (
    KitCoverage,
    check_allowed,
    check_data_rules,
    check_sla,
    check_sla_history,
    check_timers,
    check_view,
    check_views,
    expected_coverage,
)
from ticketflow.testing._migration import check_migration
from ticketflow.testing._paths import PathCoverage, path_coverage, permissive_registry, replay_path
from ticketflow.testing._repository import CONTRACT_LIFECYCLE, RepositoryContract, TicketFactory
from ticketflow.testing._strategies import (
    ASSIGNEE_ID,
    REQUESTER_ID,
    Step,
    actors,
    broken_lifecycle_documents,
    field_values,
    fields,
    lifecycle_documents,
    steps,
)
from ticketflow.testing._suite import (
    ContractBase,
    DataRulesContract,
    EngineContract,
    LifecycleContract,
    SlaContract,
    TimerContract,
    ViewContract,
    check_lifecycle,
    check_steps,
    run_random_steps,
)

__all__ = [
    "ASSIGNEE_ID",
    "CONTRACT_LIFECYCLE",
    "REQUESTER_ID",
    "AccessContract",
    "ContractBase",
    "DataRulesContract",
    "EngineContract",
    "KitCoverage",
    "LifecycleContract",
    "PathCoverage",
    "RepositoryContract",
    "SlaContract",
    "Step",
    "SteppableClock",
    "TicketFactory",
    "TimerContract",
    "ViewContract",
    "actors",
    "broken_lifecycle_documents",
    "check_access",
    "check_allowed",
    "check_data_rules",
    "check_lifecycle",
    "check_migration",
    "check_sla",
    "check_sla_history",
    "check_steps",
    "check_timers",
    "check_view",
    "check_views",
    "expected_coverage",
    "field_values",
    "fields",
    "lifecycle_documents",
    "path_coverage",
    "permissive_registry",
    "replay_path",
    "run_random_steps",
    "steps",
]
