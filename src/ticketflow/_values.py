"""What a stored value may be: the one rule the memory, SQLite and PostgreSQL stores share.

A ticket's strings, field values and event metadata are kept as JSON by every
SQL store; PostgreSQL cannot hold a NUL character in text or ``jsonb``, no
store can encode a lone surrogate as UTF-8, and strict JSON has no NaN or
infinity. So every store refuses those values the same way, before writing
anything, instead of the memory store keeping what the others cannot.

- text: any Unicode string without NUL (U+0000) or lone surrogates;
- numbers: integers of 64 bits (``-2**63 .. 2**63-1``), finite floats;
- containers: lists, tuples and string-keyed mappings, nested at most
  :data:`MAX_VALUE_DEPTH` deep;
- ``None`` and booleans.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ticketflow._brief import brief

__all__ = ["INT_MAX", "INT_MIN", "MAX_VALUE_DEPTH", "text_problem", "value_problem"]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
#: Deepest nesting of lists and mappings in a stored value (a field, ``meta``).
MAX_VALUE_DEPTH = 32
_MAX_ITEMS = 1_000_000


def text_problem(text: str) -> str | None:
    """Why *text* cannot be stored (NUL, a lone surrogate), or None."""
    if text.isascii():
        return "a NUL character cannot be stored" if "\x00" in text else None
    if "\x00" in text:
        return "a NUL character cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"a lone surrogate {text[exc.start]!r} at {exc.start} is not text"
    return None


def value_problem(value: Any) -> str | None:
    """Why *value* cannot be stored by every store, or None; walks without recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > _MAX_ITEMS:
            return f"more than {_MAX_ITEMS:,} values in one"
        kind = type(item)
        if item is None or kind is bool:
            continue
        if kind is str or isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                return f"{brief(item)} does not fit in 64 bits"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{item} is not a number every store can keep"
        elif isinstance(item, list | tuple | Mapping):
            if depth >= MAX_VALUE_DEPTH:
                return f"nested more than {MAX_VALUE_DEPTH} lists or mappings deep"
            if isinstance(item, Mapping):
                for key, inner in item.items():
                    if not isinstance(key, str):
                        return f"a key must be a string, got {brief(key)}"
                    problem = text_problem(key)
                    if problem:
                        return f"key {brief(key)}: {problem}"
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)
        else:
            return f"a {type(item).__name__} cannot be stored; use text, numbers, booleans, lists and mappings"
    return None
