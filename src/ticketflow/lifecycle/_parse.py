"""Stage 1 of loading: bytes to a plain document, within fixed limits.

A lifecycle file is small, trusted-looking data that may still be hostile (a
fuzzer, a typo, an upload). So nothing here recurses or allocates without a
bound first:

- the file is at most :data:`MAX_BYTES` and must be UTF-8 (a BOM is allowed);
- JSON and TOML text is scanned for bracket nesting *before* the parser (which
  recurses) sees it;
- YAML is composed by a loader that counts its own nesting and aliases
  (a "billion laughs" file fails at the alias budget, in microseconds);
- every document, parsed or given as a mapping, is walked once without
  recursion: nesting at most :data:`MAX_DEPTH`, at most :data:`MAX_NODES`
  values (shared values counted each time they are reached), no cycles, no
  NaN or infinite numbers, no integer beyond 64 bits.

Every refusal is an :class:`~ticketflow.errors.InvalidLifecycle` whose message
shows at most a short excerpt of the value at fault.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from ticketflow._brief import brief
from ticketflow.errors import InvalidLifecycle
from ticketflow.lifecycle._shape import join_path

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "MAX_YAML_ALIASES", "check_document", "decode", "parse"]

#: Largest lifecycle file, in bytes.
MAX_BYTES = 1 << 20
#: Deepest nesting of tables and lists in a lifecycle document.
MAX_DEPTH = 32
#: Most values (tables, lists, scalars) a document may hold, a shared value counted each time it is reached.
MAX_NODES = 200_000
#: Most aliases (``*name``) a YAML lifecycle may use.
MAX_YAML_ALIASES = 64
#: Integers in a document must fit in 64 bits (what every store can hold).
_INT_BITS = 63


def decode(data: bytes, source: str) -> str:
    """The text of a lifecycle file: at most MAX_BYTES of UTF-8."""
    if len(data) > MAX_BYTES:
        raise InvalidLifecycle(
            source, "(file)", f"the file is {len(data):,} bytes; a lifecycle file may be at most {MAX_BYTES:,} bytes"
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidLifecycle(source, "(file)", "the file is UTF-16; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidLifecycle(
            source,
            f"line {line}",
            f"the file is not UTF-8 (byte {data[exc.start]:#04x}); save it as UTF-8",
        ) from None


def _bracket_depth(text: str, *, toml: bool) -> tuple[int, int]:
    """The deepest ``[``/``{`` nesting outside strings and comments, and the line it is reached on.

    In TOML a line whose dotted keys alone pass :data:`MAX_DEPTH` counts as that deep.
    """
    depth = deepest = dots = 0
    line = deep_line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            dots = 0
        elif c in "[{":
            depth += 1
            if depth > deepest:
                deepest, deep_line = depth, line
                if deepest > MAX_DEPTH:
                    break
        elif c in "]}":
            depth -= 1
        elif c == '"' or (toml and c == "'"):
            triple = toml and text.startswith(c * 3, i)
            closing = c * 3 if triple else c
            j = i + len(closing)
            while j < n:
                if c == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(closing, j):
                    break
                if not triple and text[j] == "\n":
                    break  # an unterminated string: let the parser report it
                j += 1
            line += text.count("\n", i, j)
            i = j + len(closing)
            continue
        elif toml and c == "." and not (text[i - 1 : i].isdigit() and text[i + 1 : i + 2].isdigit()):
            dots += 1  # a dotted key nests a table per dot (a float's or a date's dot sits between digits)
            if dots > MAX_DEPTH:
                return dots, line
        elif toml and c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        i += 1
    return deepest, deep_line


def _too_deep(source: str, where: str) -> InvalidLifecycle:
    return InvalidLifecycle(
        source, where, f"nested more than {MAX_DEPTH} tables or lists deep; a lifecycle needs far fewer"
    )


def _toml_where(exc: tomllib.TOMLDecodeError) -> str:
    match = re.search(r"line (\d+)", str(exc))
    return f"line {match.group(1)}" if match else "(document)"


def _value_error(exc: Exception) -> str:
    text = str(exc)
    if "integer string conversion" in text:
        return "an integer with thousands of digits"
    return text[:200]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a lifecycle may hold")


class _Repeated(dict[str, Any]):
    """A JSON object that gave a key twice: ``json`` keeps the last value silently, so it is refused."""

    repeated: str = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    marked = _Repeated(result)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.repeated = key
            break
        seen.add(key)
    return marked


def _twice(source: str, where: str, key: str) -> InvalidLifecycle:
    return InvalidLifecycle(
        source, where, f"the key {key!r} is given twice in one table; only the last would count: merge them"
    )


def parse(text: str, fmt: str, source: str) -> Any:
    """Parse *text* as ``toml``, ``json`` or ``yaml``; then :func:`check_document`."""
    if fmt in ("toml", "json"):
        deepest, line = _bracket_depth(text, toml=fmt == "toml")
        if deepest > MAX_DEPTH:
            raise _too_deep(source, f"line {line}")
    if fmt == "toml":
        try:
            document: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidLifecycle(source, _toml_where(exc), f"TOML syntax error: {exc}") from None
        except ValueError as exc:  # e.g. an integer too long to convert
            raise InvalidLifecycle(source, "(document)", f"TOML value error: {_value_error(exc)}") from None
    elif fmt == "json":
        try:
            document = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_object)
        except json.JSONDecodeError as exc:
            raise InvalidLifecycle(
                source, f"line {exc.lineno}", f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except ValueError as exc:
            raise InvalidLifecycle(source, "(document)", f"JSON value error: {_value_error(exc)}") from None
    elif fmt == "yaml":
        document = _parse_yaml(text, source)
    else:
        raise InvalidLifecycle(source, "format", f"unknown format {fmt!r}; use toml, json or yaml")
    check_document(document, source)
    return document


def _parse_yaml(text: str, source: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise InvalidLifecycle(source, "(document)", "YAML needs the extra: pip install 'ticketflow[yaml]'") from None

    class BoundedLoader(yaml.SafeLoader):
        """A safe loader that refuses deep nesting and alias fan-out while composing."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.depth = 0
            self.aliases = 0

        def event_line(self) -> int:
            return int(self.peek_event().start_mark.line) + 1  # type: ignore[no-untyped-call]

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_YAML_ALIASES:
                    raise InvalidLifecycle(
                        source,
                        f"line {self.event_line()}",
                        f"more than {MAX_YAML_ALIASES} YAML aliases (*name); write the values out",
                    )
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise _too_deep(source, f"line {self.event_line()}")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):  # a key written twice: YAML keeps the last silently
                seen: set[str] = set()
                for key_node, _ in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                        if key_node.value in seen:
                            raise _twice(source, f"line {key_node.start_mark.line + 1}", key_node.value)
                        seen.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    loader = None
    try:
        loader = BoundedLoader(text)  # reading starts here: a character YAML refuses is a ReaderError
        return loader.get_single_data()
    except InvalidLifecycle:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        path = f"line {mark.line + 1}" if mark is not None else "(document)"
        raise InvalidLifecycle(source, path, f"YAML syntax error{where}: {problem}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # an integer too long, a date out of range...
        raise InvalidLifecycle(source, "(document)", f"YAML value error: {_value_error(exc)}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out = join_path(out, part)
    return out or "(document)"


def check_document(document: Any, source: str) -> None:
    """Walk *document* without recursion; refuse cycles, deep nesting, too many values, NaN, huge ints.

    Raises:
        InvalidLifecycle: naming the path of the first value at fault.
    """
    # Each entry: the value, its path, and the ids of the containers above it (for cycles).
    stack: list[tuple[Any, list[str | int], frozenset[int]]] = [(document, [], frozenset())]
    count = 0
    while stack:
        value, parts, above = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise InvalidLifecycle(
                source, _path(parts), f"more than {MAX_NODES:,} values (shared YAML aliases count each time)"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidLifecycle(source, _path(parts), f"{value} is not a number a lifecycle may hold")
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _INT_BITS:
            raise InvalidLifecycle(source, _path(parts), f"{brief(value)} does not fit in 64 bits")
        if isinstance(value, Mapping | list | tuple):
            if id(value) in above:
                raise InvalidLifecycle(source, _path(parts), "the value contains itself")
            if len(parts) >= MAX_DEPTH:
                raise InvalidLifecycle(
                    source,
                    _path(parts),
                    f"nested more than {MAX_DEPTH} tables or lists deep; a lifecycle needs far fewer",
                )
            inner = above | {id(value)}
            if type(value) is _Repeated:
                raise _twice(source, _path([*parts, value.repeated]), value.repeated)
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise InvalidLifecycle(source, _path(parts), f"keys must be strings, got {brief(key)}")
                    stack.append((item, [*parts, key], inner))
            else:
                stack.extend((item, [*parts, i], inner) for i, item in enumerate(value))
