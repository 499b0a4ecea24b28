"""The one write path: every change to a ticket goes through a :class:`Recorder`.

See :mod:`ticketflow.recording._recorder` for the sequence and for how a new
writer adds a step kind.
"""

from ticketflow.recording._recorder import (
    Accept,
    PartialReads,
    Reads,
    Recorder,
    Schedule,
    Scope,
    Step,
    Write,
    current_fold,
    current_part,
    entry_notices,
    fired,
    imported,
    opened,
    record_step,
)

__all__ = [
    "Accept",
    "PartialReads",
    "Reads",
    "Recorder",
    "Schedule",
    "Scope",
    "Step",
    "Write",
    "current_fold",
    "current_part",
    "entry_notices",
    "fired",
    "imported",
    "opened",
    "record_step",
]
