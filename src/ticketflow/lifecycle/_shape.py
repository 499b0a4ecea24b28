"""Stage 2 of loading: the shape of a lifecycle document.

The shape is written once, as data (:data:`LIFECYCLE`), and serves three
purposes: checking a parsed document with errors that carry the path inside it
(``transitions[3].dest``), normalising short forms (a single source string
becomes a list), and exporting a JSON Schema for editors and the docs.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ticketflow._brief import brief

__all__ = ["LIFECYCLE", "ShapeError", "check_shape", "join_path", "json_schema"]

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_*:-]+")


class ShapeError(Exception):
    """A shape problem at *path*; the loader turns it into InvalidLifecycle."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@attrs.frozen
class Scalar:
    """A leaf: one of the JSON scalar kinds."""

    kind: str  # "string", "integer", "number", "boolean", "any"
    doc: str = ""
    choices: tuple[str, ...] = ()


@attrs.frozen
class ListOf:
    """A list of items; ``single`` lets a lone item stand for a one-item list."""

    item: Node
    doc: str = ""
    single: bool = False


@attrs.frozen
class Table:
    """A mapping with known keys (``keys``) or free keys of one kind (``values``)."""

    keys: Mapping[str, tuple[Node, bool]] = attrs.field(factory=dict)
    values: Node | None = None
    doc: str = ""


Node = Scalar | ListOf | Table

STRING = Scalar("string")
NAMES = ListOf(STRING, single=True)


def _opt(node: Node) -> tuple[Node, bool]:
    return (node, False)


def _req(node: Node) -> tuple[Node, bool]:
    return (node, True)


_CHANGES = {
    "set_fields": _opt(Table(values=Scalar("any"), doc="field values set on the way (null unsets)")),
    "add_tags": _opt(ListOf(STRING, "tags added on the way", single=True)),
    "remove_tags": _opt(ListOf(STRING, "tags removed on the way", single=True)),
}

TRANSITION = Table(
    keys={
        "trigger": _req(Scalar("string", "the trigger name fired by users (or recorded for `on` reactions)")),
        "source": _req(ListOf(STRING, "state id(s) it leaves from; `*` means every non-terminal state", single=True)),
        "dest": _opt(Scalar("string", "the state it enters (required unless `returns`)")),
        "returns": _opt(Scalar("boolean", "go back to the state the ticket was in before it entered the source state")),
        "roles": _opt(
            ListOf(
                STRING,
                "roles that may fire it (default: agent, or everyone for `on` reactions; admin inherits agent)",
                single=True,
            )
        ),
        "who": _opt(
            ListOf(
                Scalar("string", choices=("assignee", "requester", "participant")),
                "people related to the ticket who may fire it, besides `roles`",
                single=True,
            )
        ),
        "guards": _opt(ListOf(STRING, "guard names from the application's registry", single=True)),
        "actions": _opt(ListOf(STRING, "action names run after the change is saved", single=True)),
        "require": _opt(ListOf(STRING, "fields that must be set once the step is applied", single=True)),
        "require_comment": _opt(
            Scalar("any", "the step must carry a comment: true, or `public` / `internal` for one of that visibility")
        ),
        "given": _opt(
            Table(
                values=Scalar("any"),
                doc="conditions on the data the step carries (fields with the caller's values merged in)",
            )
        ),
        "stamp": _opt(ListOf(STRING, "date/datetime fields set to the step's instant", single=True)),
        "when": _opt(
            Table(
                values=Scalar("any"),
                doc="field conditions: a value (equals), a list (any of), or a table such as { gte = 2 }",
            )
        ),
        "increment": _opt(ListOf(STRING, "int fields increased by one on the way", single=True)),
        "claim": _opt(Scalar("boolean", "the actor becomes the assignee when the ticket has none")),
        "on": _opt(
            Table(
                keys={
                    "event": _req(
                        Scalar("string", "what moves the ticket by itself", choices=("comment", "field_set"))
                    ),
                    "visibility": _opt(Scalar("string", choices=("public", "internal"))),
                    "field": _opt(Scalar("string", "the field whose setting moves the ticket")),
                },
                doc="event-driven: taken when a comment is posted or a field set by someone `roles`/`who` allows",
            )
        ),
        "description": _opt(STRING),
        **_CHANGES,
    },
    doc="one transition",
)

STATE = Table(
    keys={
        "group": _opt(Scalar("string", "category such as open / in_progress / closed")),
        "terminal": _opt(Scalar("boolean", "the lifecycle ends here: no transitions leave it")),
        "immutable": _opt(
            Scalar("boolean", "nothing about the ticket may change after entering it (implies terminal)")
        ),
        "notify": _opt(ListOf(STRING, "notifier names: an outbox message of each kind on entering it", single=True)),
        "description": _opt(STRING),
    },
    doc="one state",
)

FIELD = Table(
    keys={
        "type": _req(
            Scalar(
                "string",
                "value kind",
                choices=("string", "text", "int", "float", "bool", "choice", "date", "datetime", "actor", "list"),
            )
        ),
        "choices": _opt(ListOf(STRING, "allowed values of a choice field")),
        "required_in": _opt(ListOf(STRING, "states that cannot be entered while the field is unset", single=True)),
        "default": _opt(Scalar("any", "value given when a ticket is opened without it")),
        "internal": _opt(Scalar("boolean", "hidden from requesters")),
        "set_by": _opt(
            ListOf(STRING, "roles that may set it on open, fire, update or comment (default: staff)", single=True)
        ),
        "description": _opt(STRING),
    },
    doc="one field",
)

TIMER = Table(
    keys={
        "id": _req(Scalar("string", "unique rule id, recorded on the events it causes")),
        "state": _req(ListOf(STRING, "state(s) the rule watches", single=True)),
        "after": _req(Scalar("string", "duration: `24h`, `5d`, `1d12h`, `90m`, `2bd` (business days), `PT24H`")),
        "clock": _opt(Scalar("string", "`wall` (default) or `business` time", choices=("wall", "business"))),
        "since": _opt(
            Scalar(
                "string",
                "`state_entered` (default), `last_update`, `last_requester_comment`, `last_agent_comment` "
                "or `field:<name>`",
            )
        ),
        "fire": _opt(Scalar("string", "trigger fired as the `system` actor")),
        "notify": _opt(ListOf(STRING, "notifier names", single=True)),
        "comment": _opt(Scalar("string", "a public comment the system posts with the step")),
        "when": _opt(Table(values=Scalar("any"), doc="field conditions: the rule is armed only while they hold")),
        "description": _opt(STRING),
        **_CHANGES,
    },
    doc="a timed rule",
)

CONDITIONS = Table(
    keys={
        "open": _opt(Scalar("boolean", "the ticket is opened")),
        "states": _opt(ListOf(STRING, "the ticket enters one of these states", single=True)),
        "groups": _opt(ListOf(STRING, "the ticket enters a state of one of these groups", single=True)),
        "triggers": _opt(ListOf(STRING, "one of these triggers is fired", single=True)),
        "comment": _opt(
            Table(
                keys={
                    "by": _opt(ListOf(STRING, "roles of the author (default: any)", single=True)),
                    "visibility": _opt(Scalar("string", choices=("public", "internal"))),
                },
                doc="a comment is posted",
            )
        ),
    },
    doc="events that meet any of these conditions",
)

CALENDAR = Table(
    keys={
        "timezone": _req(Scalar("string", "IANA zone")),
        "hours": _req(Table(values=ListOf(STRING, single=True), doc="windows per day: mon..sun or mon-fri")),
        "holidays": _opt(Scalar("any", "a list of dates, or { country = 'US', subdiv = 'NY' }, or a list of both")),
        "overrides": _opt(Table(values=ListOf(STRING), doc="a date's own windows; [] closes it")),
        "rules": _opt(
            ListOf(
                Table(
                    keys={
                        "rrule": _req(Scalar("string", "an RFC 5545 RRULE, such as FREQ=MONTHLY;BYDAY=1MO")),
                        "start": _req(Scalar("any", "DTSTART: the first date the rule can give")),
                        "close": _opt(ListOf(STRING, "windows closed on each occurrence", single=True)),
                        "open": _opt(ListOf(STRING, "windows opened on each occurrence", single=True)),
                        "name": _opt(Scalar("string", "what `explain` calls the rule")),
                    },
                    doc="a recurring closure or opening",
                ),
                "recurring closures and openings, in the calendar's zone",
            )
        ),
        "ics": _opt(ListOf(STRING, "iCalendar files whose events close time (extra `ical`)", single=True)),
    },
    doc="a business calendar",
)

METRIC_KIND_NAMES = ("first_response", "next_reply", "periodic_update", "resolution", "requester_wait", "agent_work")

CALENDAR_BY = Table(
    keys={
        "field": _opt(Scalar("string", "the ticket field read, such as `organisation`, `group` or `region`")),
        "map": _opt(Table(values=Scalar("string"), doc="field value -> calendar name")),
        "resolver": _opt(Scalar("string", "a calendar resolver registered by the application, instead of field/map")),
    },
    doc="the calendar per ticket: by a field's value, or by the application's resolver; unmapped: the default",
)

SLA_METRIC = Table(
    keys={
        "id": _req(Scalar("string", "unique metric id (by default also its kind)")),
        "kind": _opt(
            Scalar(
                "string",
                "what it measures",
                choices=(
                    "first_response",
                    "next_reply",
                    "periodic_update",
                    "resolution",
                    "requester_wait",
                    "agent_work",
                ),
            )
        ),
        "start": _opt(CONDITIONS),
        "stop": _opt(CONDITIONS),
        "reset": _opt(CONDITIONS),
        "pause": _opt(
            Table(
                keys={"states": _opt(ListOf(STRING, single=True)), "groups": _opt(ListOf(STRING, single=True))},
                doc="the clock does not run while the ticket is in these states",
            )
        ),
        "run_in": _opt(
            Table(
                keys={"states": _opt(ListOf(STRING, single=True)), "groups": _opt(ListOf(STRING, single=True))},
                doc="the clock runs only while the ticket is in these states",
            )
        ),
        "targets": _req(
            ListOf(
                Table(
                    keys={
                        "when": _opt(Table(values=Scalar("any"), doc="field values selecting this target")),
                        "target": _req(Scalar("string", "duration, such as 2h or 1d")),
                        "calendar": _opt(Scalar("string", "a calendar name, `24x7`, or the policy's")),
                    },
                    doc="a target and the tickets it applies to",
                )
            )
        ),
        "calendar": _opt(Scalar("string", "a calendar name or `24x7` (default: the policy's)")),
        "calendar_by": _opt(CALENDAR_BY),
        "warn_at": _opt(ListOf(Scalar("number"), "fractions of the target that raise warnings")),
        "description": _opt(STRING),
    },
    doc="one SLA metric",
)

SLA = Table(
    keys={
        "calendar": _opt(Scalar("string", "default calendar: a name from `calendars`, or `24x7`; else the workflow's")),
        "calendars": _opt(Table(values=CALENDAR, doc="named business calendars")),
        "calendar_by": _opt(CALENDAR_BY),
        "warn_at": _opt(ListOf(Scalar("number"), "default warning thresholds, such as [0.5, 0.75]")),
        "metrics": _req(ListOf(SLA_METRIC, "the metrics")),
    },
    doc="the lifecycle's SLA policy",
)

CHANNEL = Table(
    keys={
        "types": _opt(ListOf(STRING, "request types this channel takes (default: all)", single=True)),
        "needs_authentication": _opt(
            ListOf(STRING, "request types (or `*`) refused from an unauthenticated requester here", single=True)
        ),
        "ticket": _opt(
            ListOf(STRING, "request types that open a formal ticket (`*`: all, the default; []: none)", single=True)
        ),
        "instead": _opt(Scalar("string", "the channel to suggest when a request is refused here")),
        "description": _opt(STRING),
    },
    doc="an intake channel",
)

ROUTE = Table(
    keys={
        "when": _opt(Table(values=Scalar("any"), doc="field values selecting this route (a list: any of)")),
        "policy": _req(Scalar("string", "an assignment policy name from the application's registry")),
        "add_tags": _opt(ListOf(STRING, "tags put on the ticket, such as a queue", single=True)),
        "optional": _opt(Scalar("boolean", "the route applies only once the application registers the policy")),
        "reassign": _opt(Scalar("boolean", "a later update that makes the ticket match replaces the assignee it has")),
    },
    doc="a routing rule: the first whose `when` matches picks the assignee",
)

INTAKE = Table(
    keys={
        "type_field": _opt(Scalar("string", "the field holding the request type")),
        "channels": _opt(Table(values=CHANNEL, doc="intake channels by name")),
        "routes": _opt(
            ListOf(ROUTE, "routing rules, tried in order on open and when an update changes a field they read")
        ),
    },
    doc="how requests come in and who gets them",
)

LINK_RULE = Table(
    keys={
        "record": _req(Scalar("string", "the kind of external record, such as `issue`")),
        "status": _req(ListOf(STRING, "the record status(es) that trigger the rule", single=True)),
        "priority": _opt(ListOf(STRING, "only at these record priorities", single=True)),
        "fire": _req(Scalar("string", "the trigger fired, as `system`, on every ticket linked to the record")),
        "all": _opt(
            Scalar("boolean", "only when every record of this kind linked to the ticket has one of the statuses")
        ),
        "description": _opt(STRING),
    },
    doc="a link-driven rule",
)

_ROLES = ListOf(STRING, single=True)

ACCESS = Table(
    keys={
        "staff": _opt(
            ListOf(
                STRING,
                "roles that see and change every ticket (default: every role acting as agent, and system)",
                single=True,
            )
        ),
        "relations": _opt(
            ListOf(
                Scalar("string", choices=("requester", "participant", "assignee")),
                "how a customer is related to the tickets they may see and act on (default: all three)",
                single=True,
            )
        ),
        "shared_field": _opt(
            Scalar("string", "a field such as `organization`: customers whose accounts hold its value see the ticket")
        ),
        "attributes": _opt(
            Table(
                keys={name: _opt(_ROLES) for name in ("title", "requester", "assignee", "participants")},
                doc="roles that may set each ticket attribute after opening (default: staff)",
            )
        ),
        "tags": _opt(Table(values=_ROLES, doc="roles that may add or remove a tag (or `prefix:*`) (default: staff)")),
        "internal_comments": _opt(
            ListOf(STRING, "roles that may post internal comments (default: staff)", single=True)
        ),
        "on_behalf": _opt(
            ListOf(STRING, "roles that may record a comment authored by someone else (default: staff)", single=True)
        ),
        "broadcast": _opt(ListOf(STRING, "roles that may open broadcast tickets (default: staff)", single=True)),
    },
    doc="who may see each ticket and set each part of it",
)

LIFECYCLE = Table(
    keys={
        "id": _req(Scalar("string", "lifecycle id (letters, digits, `_`, `-`)")),
        "name": _opt(STRING),
        "description": _opt(STRING),
        "version": _opt(Scalar("integer", "your own revision number")),
        "initial": _req(Scalar("string", "the state a new ticket starts in")),
        "roles": _opt(
            Table(
                values=ListOf(STRING, single=True),
                doc="extra roles, each with the roles it inherits (admin inherits agent by default)",
            )
        ),
        "open_roles": _opt(ListOf(STRING, "roles that may open tickets (default: all)", single=True)),
        "comment_roles": _opt(ListOf(STRING, "roles that may comment (default: all but system)", single=True)),
        "update_roles": _opt(
            ListOf(STRING, "roles that may update fields and tags (default: agent, system)", single=True)
        ),
        "tags": _opt(ListOf(STRING, "the allowed tags; `prefix:*` allows a family; empty means free tags")),
        "internal_tags": _opt(ListOf(STRING, "tags requesters never see (`prefix:*` patterns allowed)")),
        "key_prefix": _opt(Scalar("string", "ticket ids become human keys: `SUP` gives SUP-1, SUP-2, ...")),
        "states": _req(Table(values=STATE, doc="states by id, in display order")),
        "fields": _opt(Table(values=FIELD, doc="field schema by name")),
        "transitions": _req(ListOf(TRANSITION, "the transitions")),
        "timers": _opt(ListOf(TIMER, "timed rules (executed by the automation sweeper)")),
        "sla": _opt(SLA),
        "calendar": _opt(CALENDAR),
        "intake": _opt(INTAKE),
        "link_rules": _opt(ListOf(LINK_RULE, "when a linked record changes, move the tickets linked to it")),
        "access": _opt(ACCESS),
    },
    doc="a ticket lifecycle",
)

_PY_KINDS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "any": lambda v: True,
}


def join_path(path: str, key: str | int) -> str:
    """*path* extended by a key or index: ``a.b``, ``a[3]``; an odd key is quoted: ``a[""]``, ``a["x.y"]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not key or not _PLAIN_KEY.fullmatch(key):
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def check_shape(node: Node, value: Any, path: str = "") -> Any:
    """Check *value* against *node*; return it normalised, or raise ShapeError."""
    if isinstance(node, Scalar):
        if not _PY_KINDS[node.kind](value):
            raise ShapeError(path, f"expected a {node.kind}, got {type(value).__name__} {brief(value)}")
        if node.choices and value not in node.choices:
            raise ShapeError(path, f"{brief(value)} is not one of {', '.join(node.choices)}")
        return value
    if isinstance(node, ListOf):
        if node.single and not isinstance(value, list | tuple):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ShapeError(path, f"expected a list, got {type(value).__name__} {brief(value)}")
        return [check_shape(node.item, item, join_path(path, i)) for i, item in enumerate(value)]
    if not isinstance(value, Mapping):
        raise ShapeError(path, f"expected a table, got {type(value).__name__} {brief(value)}")
    result: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ShapeError(path, f"keys must be strings, got {brief(key)}")
        if key in node.keys:
            result[key] = check_shape(node.keys[key][0], item, join_path(path, key))
        elif node.values is not None:
            result[key] = check_shape(node.values, item, join_path(path, key))
        else:
            close = difflib.get_close_matches(key, list(node.keys), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(node.keys)}"
            raise ShapeError(join_path(path, key), f"unknown key{hint}")
    for key, (_, required) in node.keys.items():
        if required and key not in result:
            raise ShapeError(join_path(path, key), "required key is missing")
    return result


def json_schema(node: Node = LIFECYCLE) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) equivalent of *node*."""
    schema: dict[str, Any]
    if isinstance(node, Scalar):
        schema = {} if node.kind == "any" else {"type": node.kind}
        if node.choices:
            schema["enum"] = list(node.choices)
    elif isinstance(node, ListOf):
        schema = {"type": "array", "items": json_schema(node.item)}
        if node.single:
            schema = {"anyOf": [json_schema(node.item), schema]}
    else:
        schema = {"type": "object"}
        if node.keys:
            schema["properties"] = {k: json_schema(n) for k, (n, _) in node.keys.items()}
            required = [k for k, (_, r) in node.keys.items() if r]
            if required:
                schema["required"] = required
        schema["additionalProperties"] = json_schema(node.values) if node.values is not None else False
    if node.doc:
        schema["description"] = node.doc
    if node is LIFECYCLE:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "ticketflow lifecycle", **schema}
    return schema
