"""Links between tickets and to records in other trackers, link rules, duplicates and broadcasts."""

from ticketflow.links._links import (
    EVERYONE,
    LINK_KINDS,
    ExternalRecord,
    acknowledge,
    acknowledgements,
    addressed_to,
    broadcast,
    broadcasts_for,
    link,
    linked_record_changed,
    mark_duplicate,
    record_target,
)

__all__ = [
    "EVERYONE",
    "LINK_KINDS",
    "ExternalRecord",
    "acknowledge",
    "acknowledgements",
    "addressed_to",
    "broadcast",
    "broadcasts_for",
    "link",
    "linked_record_changed",
    "mark_duplicate",
    "record_target",
]
