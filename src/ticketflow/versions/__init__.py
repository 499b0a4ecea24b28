"""Lifecycle versions: migration plans as data, checked against both versions, and running them.

See ``docs/versions.md`` for the rolling-deploy story.
"""

from ticketflow.lifecycle._migrated import in_current_names, recorded_version
from ticketflow.versions._dispatch import VersionDispatch
from ticketflow.versions._migrate import MigrationReport, migrate
from ticketflow.versions._plan import MigrationPlan, known_versions, load_migration, plan_for
from ticketflow.versions._reschedule import RescheduleReport, reschedule

__all__ = [
    "MigrationPlan",
    "MigrationReport",
    "RescheduleReport",
    "VersionDispatch",
    "in_current_names",
    "known_versions",
    "load_migration",
    "migrate",
    "plan_for",
    "recorded_version",
    "reschedule",
]
