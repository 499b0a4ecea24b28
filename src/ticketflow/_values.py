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
from collections.abc import Iterable, Mapping
from typing import Any

from ticketflow._brief import brief

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "MAX_VALUE_DEPTH",
    "scalars_fine",
    "text_problem",
    "texts_fine",
    "value_problem",
]

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
    kind = type(value)
    if kind is str:  # the common cases first, without building a stack
        return text_problem(value)
    if value is None or kind is bool:
        return None
    stack: list[tuple[Any, int]] = [(value, 0)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > _MAX_ITEMS:
            return f"more than {_MAX_ITEMS:,} values in one"
        kind = type(item)
        if kind is str:
            if not item.isascii() or "\x00" in item:
                problem = text_problem(item)
                if problem:
                    return problem
        elif item is None or kind is bool:
            continue
        elif kind is int:
            if not INT_MIN <= item <= INT_MAX:
                return f"{brief(item)} does not fit in 64 bits"
        elif kind is float:
            if item - item != 0.0:  # NaN or infinity
                return f"{item} is not a number every store can keep"
        elif kind is list or kind is tuple or kind is dict or isinstance(item, list | tuple | Mapping):
            if depth >= MAX_VALUE_DEPTH:
                return f"nested more than {MAX_VALUE_DEPTH} lists or mappings deep"
            if isinstance(item, Mapping):
                for key, inner in item.items():
                    if type(key) is not str:
                        return f"a key must be a string, got {brief(key)}"
                    problem = text_problem(key)
                    if problem:
                        return f"key {brief(key)}: {problem}"
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
        elif isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                return f"{brief(item)} does not fit in 64 bits"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{item} is not a number every store can keep"
        else:
            return f"a {type(item).__name__} cannot be stored; use text, numbers, booleans, lists and mappings"
    return None


def scalars_fine(values: Iterable[Any], texts: list[str]) -> bool:
    """A fast yes for flat values (scalars, lists of strings); their strings go to *texts* for :func:`texts_fine`.

    False means "look closer" with :func:`value_problem`, not necessarily a problem.
    """
    for value in values:
        kind = type(value)
        if kind is str:
            texts.append(value)
        elif value is None or kind is bool:
            continue
        elif kind is int:
            if not INT_MIN <= value <= INT_MAX:
                return False
        elif kind is float:
            if value - value != 0.0:  # NaN or infinity
                return False
        elif kind is tuple or kind is list:
            for item in value:
                if type(item) is not str:
                    return False
                texts.append(item)
        else:
            return False
    return True


def texts_fine(texts: list[str]) -> bool:
    """A fast yes when every one of *texts* is a string every store can keep (one pass over them all)."""
    try:
        joined = "\x01".join(texts)
    except TypeError:  # not all strings: look closer
        return False
    if "\x00" in joined:
        return False
    return joined.isascii() or text_problem(joined) is None
