"""Hypothesis strategies for tickets, actors, steps and whole lifecycle definitions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import attrs
from hypothesis import strategies as st

from ticketflow.lifecycle import FieldSpec, Lifecycle
from ticketflow.model import Actor

__all__ = [
    "ASSIGNEE_ID",
    "REQUESTER_ID",
    "Step",
    "actors",
    "broken_lifecycle_documents",
    "field_values",
    "fields",
    "lifecycle_documents",
    "steps",
]

#: The requester of tickets the property suite opens.
REQUESTER_ID = "requester-1"
#: An agent id the suite assigns tickets to, so ``who = ["assignee"]`` is exercised.
ASSIGNEE_ID = "agent-1"


@attrs.frozen
class Step:
    """One random step the property suite fires on a ticket.

    With ``assist``, the suite walks the graph: it replaces the trigger by
    one that leaves the ticket's current state (the ``choice``-th of them)
    and the actor and data by what that transition asks for, so random
    sequences get deep into the lifecycle instead of bouncing off states,
    permissions and required fields.
    """

    trigger: str
    actor: Actor
    fields: dict[str, Any] | None = None
    comment: str | None = None
    visibility: str = "public"
    assignee: str | None = None
    wait: timedelta = timedelta(0)
    assist: bool = False
    choice: int = 0


def actors(lifecycle: Lifecycle) -> st.SearchStrategy[Actor]:
    """Actors with random roles of the lifecycle, some of them the requester or assignee."""
    roles = sorted(lifecycle.roles)
    return st.builds(
        Actor,
        id=st.sampled_from([REQUESTER_ID, ASSIGNEE_ID, "agent-2", "someone"]),
        roles=st.frozensets(st.sampled_from(roles), min_size=0, max_size=2),
    )


def field_values(spec: FieldSpec, *, valid: bool = True) -> st.SearchStrategy[Any]:
    """Values for one field: valid ones for its type, or (``valid=False``) often invalid ones."""
    by_type: dict[str, st.SearchStrategy[Any]] = {
        "string": st.text(max_size=12),
        "text": st.text(max_size=40),
        "actor": st.sampled_from([REQUESTER_ID, ASSIGNEE_ID, "agent-2"]),
        "int": st.integers(-1000, 1000),
        "float": st.floats(-1e6, 1e6, allow_nan=False),
        "bool": st.booleans(),
        "choice": st.sampled_from(spec.choices or ("x",)),
        "date": st.dates(date(2020, 1, 1), date(2030, 12, 31)),
        "datetime": st.datetimes(timezones=st.timezones()).filter(lambda d: d.utcoffset() is not None),
        "list": st.lists(st.text(max_size=5), max_size=3),
    }
    good = by_type[spec.type]
    if valid:
        return good
    return st.one_of(good, st.just(object()).map(repr), st.integers(), st.none())


def fields(lifecycle: Lifecycle, *, valid: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """A random subset of the lifecycle's fields with values."""
    if not lifecycle.fields:
        return st.just({})
    return st.fixed_dictionaries(
        {},
        optional={name: field_values(spec, valid=valid) for name, spec in lifecycle.fields.items()},
    )


def steps(lifecycle: Lifecycle, *, max_size: int = 25) -> st.SearchStrategy[list[Step]]:
    """Random sequences of steps: any trigger (known or not) by any actor with any data."""
    triggers = [*lifecycle.triggers, "no_such_trigger"]
    one = st.builds(
        Step,
        trigger=st.sampled_from(triggers),
        actor=actors(lifecycle),
        fields=st.none() | fields(lifecycle, valid=True) | fields(lifecycle, valid=False),
        comment=st.none() | st.sampled_from(["Thanks", "Any news?", "Done."]),
        visibility=st.sampled_from(["public", "internal"]),
        assignee=st.none() | st.sampled_from([ASSIGNEE_ID, "agent-2"]),
        wait=st.timedeltas(timedelta(0), timedelta(days=3)),
        assist=st.integers(0, 3).map(bool),
        choice=st.integers(0, 99),
    )
    return st.lists(one, max_size=max_size)


_ROLES = ["requester", "agent", "admin", "system"]


@st.composite
def lifecycle_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Random *valid* lifecycle documents: connected, no dead ends, unambiguous."""
    n = draw(st.integers(2, 7))
    states = [f"s{i}" for i in range(n)]
    terminal = {s for s in states[1:] if draw(st.booleans())}
    if len(terminal) == n - 1:
        terminal.discard(states[-1])
    transitions: list[dict[str, Any]] = []
    used: set[tuple[str, str]] = set()

    def add(source: str, dest: str) -> None:
        trigger = f"t{len(transitions)}"
        used.add((source, trigger))
        transition: dict[str, Any] = {
            "trigger": trigger,
            "source": source,
            "dest": dest,
            "roles": draw(st.lists(st.sampled_from(_ROLES), min_size=1, max_size=2, unique=True)),
        }
        if draw(st.booleans()):
            transition["when"] = {"kind": draw(st.sampled_from(["a", "b"]))}
        if draw(st.integers(0, 4)) == 0:
            transition["require_comment"] = True
        if draw(st.integers(0, 4)) == 0:
            transition["add_tags"] = ["seen"]
        transitions.append(transition)

    live = [s for s in states if s not in terminal]
    for i, state in enumerate(states[1:], start=1):
        add(draw(st.sampled_from([s for s in states[:i] if s not in terminal])), state)
    for state in live:
        if not any(t["source"] == state for t in transitions):
            add(state, draw(st.sampled_from(states)))
    for _ in range(draw(st.integers(0, 4))):
        add(draw(st.sampled_from(live)), draw(st.sampled_from(states)))
    document: dict[str, Any] = {
        "id": "random",
        "initial": states[0],
        "states": {s: {"terminal": True} if s in terminal else {} for s in states},
        "fields": {
            "kind": {"type": "choice", "choices": ["a", "b"], "default": "a"},
            "note": {"type": "text", "required_in": draw(st.lists(st.sampled_from(states[1:]), max_size=2))},
        },
        "transitions": transitions,
    }
    return document


_MUTATIONS = (
    "unknown_dest",
    "unknown_source",
    "missing_key",
    "wrong_type",
    "unknown_role",
    "unreachable_state",
    "dead_end",
    "ambiguous",
    "bad_duration",
    "unknown_field",
    "unknown_key",
    "unknown_initial",
)


@st.composite
def broken_lifecycle_documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid document with one defect; returns the defect's name and the document."""
    document = draw(lifecycle_documents())
    mutation = draw(st.sampled_from(_MUTATIONS))
    transitions = document["transitions"]
    t = draw(st.sampled_from(transitions))
    if mutation == "unknown_dest":
        t["dest"] = "nowhere"
    elif mutation == "unknown_source":
        t["source"] = "nowhere"
    elif mutation == "missing_key":
        del t[draw(st.sampled_from(["trigger", "source", "dest"]))]
    elif mutation == "wrong_type":
        t["roles"] = 42
    elif mutation == "unknown_role":
        t["roles"] = ["wizard"]
    elif mutation == "unreachable_state":
        document["states"]["island"] = {"terminal": True}
    elif mutation == "dead_end":
        document["states"]["stuck"] = {}
        transitions.append({"trigger": "to_stuck", "source": document["initial"], "dest": "stuck"})
    elif mutation == "ambiguous":
        transitions.append(dict(t))
    elif mutation == "bad_duration":
        document["timers"] = [{"id": "r", "state": document["initial"], "after": "soon", "add_tags": ["x"]}]
    elif mutation == "unknown_field":
        t["require"] = ["no_such_field"]
    elif mutation == "unknown_key":
        t["dets"] = "s0"
    else:
        document["initial"] = "nowhere"
    return mutation, document
