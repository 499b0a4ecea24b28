"""Test kit for applications using ticketflow (needs the ``testing`` extra).

- :class:`SteppableClock` — a clock you move by hand;
- hypothesis strategies for actors, field values, step sequences and whole
  lifecycle definitions;
- :class:`LifecycleContract` / :func:`check_lifecycle` — the lifecycle
  property suite and path coverage, for your own lifecycle;
- :class:`RepositoryContract` — the storage contract suite, for your own
  repository adapter.

Nothing in ticketflow itself imports this module.
"""

from ticketflow.clock import SteppableClock
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
    LifecycleContract,
    PathCoverage,
    check_lifecycle,
    check_steps,
    path_coverage,
    permissive_registry,
    replay_path,
    run_random_steps,
)

__all__ = [
    "ASSIGNEE_ID",
    "CONTRACT_LIFECYCLE",
    "REQUESTER_ID",
    "LifecycleContract",
    "PathCoverage",
    "RepositoryContract",
    "Step",
    "SteppableClock",
    "TicketFactory",
    "actors",
    "broken_lifecycle_documents",
    "check_lifecycle",
    "check_steps",
    "field_values",
    "fields",
    "lifecycle_documents",
    "path_coverage",
    "permissive_registry",
    "replay_path",
    "run_random_steps",
    "steps",
]
