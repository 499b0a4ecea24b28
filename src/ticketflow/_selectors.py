"""Field selectors shared by SLA targets and intake routes: ``{ priority = "high" }``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["selects"]


def selects(when: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """Whether *fields* match every selector in *when* (a tuple value means any of)."""
    for name, expected in when.items():
        value = fields.get(name)
        if isinstance(expected, tuple):
            if value not in expected:
                return False
        elif value != expected:
            return False
    return True
