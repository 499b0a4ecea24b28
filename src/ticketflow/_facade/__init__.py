"""The parts of the :class:`~ticketflow.Workflow` facade, one concern each.

``Workflow`` (in :mod:`ticketflow.workflow`) inherits them and keeps the core
(``__init__``, ``open``, ``fire``, ``comment``, ``update``, ``move_to``,
``get``, ``history``, ``allowed``). Each part is wiring and delegation only:
the rules live in the modules it calls. No part imports ``Workflow``; what a
part reads of the facade is declared once, on :class:`FacadeBase`.
"""

from ticketflow._facade._base import FacadeBase
from ticketflow._facade._delivery import DeliveryPart
from ticketflow._facade._intake import IntakePart
from ticketflow._facade._links import LinksPart
from ticketflow._facade._reads import ReadsPart
from ticketflow._facade._versions import VersionsPart

__all__ = ["DeliveryPart", "FacadeBase", "IntakePart", "LinksPart", "ReadsPart", "VersionsPart"]
