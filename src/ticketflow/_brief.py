"""Short excerpts of values for error messages: never the whole of a huge or hostile value."""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["brief"]

_BRIEF = reprlib.Repr()
_BRIEF.maxstring = 60
_BRIEF.maxother = 60
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxdict = _BRIEF.maxset = 4
_BRIEF.maxlevel = 2
_LIMIT = 80


def brief(value: Any) -> str:
    """A ``repr`` of *value* cut to at most 80 characters (a huge integer is named by its size)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<integer of {value.bit_length()} bits>"
    try:
        text = _BRIEF.repr(value)
    except (ValueError, RecursionError):  # an int beyond str conversion limits deep inside
        return f"<{type(value).__name__}>"
    return text if len(text) <= _LIMIT else f"{text[: _LIMIT - 5]}...{text[-2:]}"
