"""Loading, validation, the format's features, extend and diagrams."""

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow.lifecycle import parse_duration
from ticketflow.testing import SteppableClock, broken_lifecycle_documents, lifecycle_documents

from .conftest import unchanged

MINIMAL: dict[str, Any] = {
    "id": "mini",
    "initial": "open",
    "states": {"open": {"group": "open"}, "done": {"group": "closed", "terminal": True}},
    "fields": {"priority": {"type": "choice", "choices": ["low", "high"]}},
    "transitions": [{"trigger": "finish", "source": "open", "dest": "done"}],
}


def doc(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(MINIMAL)
    result.update(changes)
    return result


def test_a_minimal_lifecycle_loads_with_its_defaults():
    lc = tf.load_lifecycle(MINIMAL)
    assert lc.id == "mini"
    assert lc.initial == "open"
    assert list(lc.states) == ["open", "done"]
    assert lc.triggers == ("finish", "comment", "update")
    assert lc.roles == {"requester", "agent", "admin", "system"}
    assert lc.transitions[0].roles == {"agent"}
    assert lc.expand_roles(frozenset({"admin"})) == {"admin", "agent"}
    assert lc.groups == {"open": ("open",), "closed": ("done",)}
    assert lc.source == "<dict>"


def test_toml_json_yaml_and_dict_give_the_same_definition(tmp_path: Path, helpdesk: tf.Lifecycle):
    import yaml

    document = dict(helpdesk.document)
    (tmp_path / "h.json").write_text(json.dumps(document))
    (tmp_path / "h.yaml").write_text(yaml.safe_dump(document))
    for path in ("h.json", "h.yaml"):
        loaded = tf.load_lifecycle(tmp_path / path)
        assert loaded.document == helpdesk.document
        assert loaded.transitions == helpdesk.transitions
        assert loaded.states == helpdesk.states
    assert tf.load_lifecycle(document).fields == helpdesk.fields


def test_loads_lifecycle_reads_text():
    text = json.dumps(MINIMAL)
    assert tf.loads_lifecycle(text, "json").id == "mini"


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ('id = "x"\ninitial = \n', "toml", "TOML syntax error: Invalid value (at line 2, column 11)"),
        ('{"id": "x",\n  "initial": }', "json", "JSON syntax error at line 2, column 14"),
        ("id: x\n  bad: [\n", "yaml", "YAML syntax error at line"),
    ],
)
def test_syntax_errors_name_the_line(text: str, fmt: str, expected: str):
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.loads_lifecycle(text, fmt, source="team.cfg")
    assert caught.value.source == "team.cfg"
    assert expected in caught.value.problem


def test_a_file_error_names_the_file(tmp_path: Path):
    path = tmp_path / "team.toml"
    path.write_text('id = "x"\n[states.a]\ngroupp = "open"\n')
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(path)
    assert caught.value.source == str(path)
    assert caught.value.path == "states.a.groupp"
    assert "did you mean 'group'" in caught.value.problem
    assert str(caught.value).startswith(f"{path}:states.a.groupp: unknown key")


def test_unknown_file_type_and_missing_file_are_errors(tmp_path: Path):
    with pytest.raises(tf.InvalidLifecycle, match="cannot tell the format"):
        tf.load_lifecycle(tmp_path / "team.ini")
    with pytest.raises(tf.InvalidLifecycle, match="cannot read the file"):
        tf.load_lifecycle(tmp_path / "missing.toml")


def broken(path: str, value: Any) -> dict[str, Any]:
    """MINIMAL with *value* put at a dotted *path* (None deletes the key)."""
    result = doc()
    keys = path.replace("[", ".").replace("]", "").split(".")
    target: Any = result
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = int(keys[-1]) if keys[-1].isdigit() else keys[-1]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return result


@pytest.mark.parametrize(
    ("document", "path", "problem"),
    [
        (broken("initial", None), "initial", "required key is missing"),
        (broken("initial", "nowhere"), "initial", "unknown state 'nowhere'"),
        (broken("id", "has space"), "id", "not a valid id"),
        (broken("transitions[0].dest", "nowhere"), "transitions[0].dest", "unknown state 'nowhere'; known: done, open"),
        (broken("transitions[0].source", ["open", "gone"]), "transitions[0].source[1]", "unknown state 'gone'"),
        (broken("transitions[0].source", "done"), "transitions[0].source[0]", "is terminal"),
        (broken("transitions[0].roles", ["wizard"]), "transitions[0].roles[0]", "unknown role 'wizard'"),
        (broken("transitions[0].roles", 3), "transitions[0].roles[0]", "expected a string"),
        (broken("transitions[0].dets", "x"), "transitions[0].dets", "did you mean 'dest'"),
        (broken("transitions[0].trigger", "comment"), "transitions[0].trigger", "reserved"),
        (broken("transitions[0].require", ["nope"]), "transitions[0].require[0]", "unknown field 'nope'"),
        (broken("transitions[0].when", {"priority": "urgent"}), "transitions[0].when.priority", "not one of low, high"),
        (broken("transitions[0].set_fields", {"x": 1}), "transitions[0].set_fields.x", "unknown field 'x'"),
        (broken("transitions[0].on", {"event": "field_set"}), "transitions[0].on.field", "needs the field"),
        (broken("transitions[0].on", {"event": "email"}), "transitions[0].on.event", "not one of comment"),
        (broken("fields.priority.choices", None), "fields.priority.choices", "needs a non-empty list"),
        (broken("fields.priority.default", "mid"), "fields.priority.default", "not one of low, high"),
        (broken("fields.priority.required_in", ["x"]), "fields.priority.required_in[0]", "unknown state 'x'"),
        (broken("fields.priority.type", "blob"), "fields.priority.type", "not one of string"),
        (broken("states.limbo", {}), "states.limbo", "unreachable from the initial state 'open'"),
        (broken("roles", {"lead": ["boss"]}), "roles.lead[0]", "unknown role 'boss'"),
        (
            broken("tags", ["a"]) | {"transitions": [MINIMAL["transitions"][0] | {"add_tags": ["b"]}]},
            "transitions[0].add_tags[0]",
            "not in the lifecycle's `tags`",
        ),
        (broken("states", {}), "states", "at least one state"),
        (broken("transitions", {}), "transitions", "expected a list"),
    ],
)
def test_each_definition_error_names_its_path(document: dict[str, Any], path: str, problem: str):
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(document, source="team.toml")
    assert (caught.value.source, caught.value.path) == ("team.toml", path)
    assert problem in caught.value.problem
    assert isinstance(caught.value, ValueError)


def test_a_non_terminal_dead_end_is_an_error():
    document = doc()
    document["states"]["stuck"] = {}
    document["transitions"].append({"trigger": "park", "source": "open", "dest": "stuck"})
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(document)
    assert caught.value.path == "states.stuck"
    assert "dead end" in caught.value.problem


def test_an_ambiguous_trigger_is_an_error_but_conditions_tell_transitions_apart():
    document = doc()
    document["states"]["other"] = {"terminal": True}
    document["transitions"].append({"trigger": "finish", "source": "open", "dest": "other"})
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(document)
    assert caught.value.path == "transitions[1].source"
    assert "ambiguous: transitions[0]" in caught.value.problem
    document["transitions"][1]["when"] = {"priority": "high"}
    assert len(tf.load_lifecycle(document).transitions) == 2


def test_unknown_guards_are_errors_when_the_guard_names_are_known():
    document = doc()
    document["transitions"][0]["guards"] = ["is_vip"]
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(document, guards=["other"])
    assert caught.value.path == "transitions[0].guards[0]"
    assert tf.load_lifecycle(document, guards=["is_vip"]).transitions[0].guards == ("is_vip",)
    with pytest.raises(tf.InvalidLifecycle) as by_workflow:
        tf.Workflow(tf.load_lifecycle(document))
    assert by_workflow.value.path == "transitions[0].guards[0]"
    assert "register it" in by_workflow.value.problem


def test_star_source_means_every_non_terminal_state():
    document = doc()
    document["states"]["waiting"] = {}
    document["transitions"] += [
        {"trigger": "wait", "source": "open", "dest": "waiting"},
        {"trigger": "cancel", "source": "*", "dest": "done"},
    ]
    lc = tf.load_lifecycle(document)
    assert lc.transitions[2].sources == ("open", "waiting")


def test_immutable_implies_terminal():
    document = doc()
    document["states"]["done"] = {"immutable": True}
    state = tf.load_lifecycle(document).states["done"]
    assert state.immutable
    assert state.terminal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", (timedelta(hours=24), 0)),
        ("5d", (timedelta(days=5), 0)),
        ("1d12h", (timedelta(days=1, hours=12), 0)),
        ("1 day, 12 hours", (timedelta(days=1, hours=12), 0)),
        ("90 minutes", (timedelta(minutes=90), 0)),
        ("2w", (timedelta(weeks=2), 0)),
        ("30s", (timedelta(seconds=30), 0)),
        ("PT24H", (timedelta(hours=24), 0)),
        ("P1DT2H30M", (timedelta(days=1, hours=2, minutes=30), 0)),
        ("2bd", (timedelta(0), 2)),
        ("1 business day", (timedelta(0), 1)),
    ],
)
def test_durations(text: str, expected: tuple[timedelta, int]):
    assert expected == parse_duration(text)


@pytest.mark.parametrize("text", ["soon", "0h", "5x", "2bd 3h", "h", "P", "12"])
def test_bad_durations_are_refused(text: str):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_timers_are_validated_with_their_path():
    document = doc()
    document["timers"] = [{"id": "r", "state": "open", "after": "soon", "add_tags": ["x"]}]
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(document)
    assert caught.value.path == "timers[0].after"
    document["timers"] = [{"id": "r", "state": "open", "after": "1h", "fire": "finish"}]
    with pytest.raises(tf.InvalidLifecycle) as no_system:
        tf.load_lifecycle(document)
    assert no_system.value.path == "timers[0].fire"
    assert "role 'system'" in no_system.value.problem
    document["timers"] = [{"id": "r", "state": "open", "after": "1h"}]
    with pytest.raises(tf.InvalidLifecycle, match="does nothing"):
        tf.load_lifecycle(document)
    document["timers"] = [{"id": "r", "state": "open", "after": "2bd", "clock": "wall", "add_tags": ["x"]}]
    with pytest.raises(tf.InvalidLifecycle, match="business"):
        tf.load_lifecycle(document)
    document["timers"] = [{"id": "r", "state": "open", "after": "1h", "since": "field:nope", "add_tags": ["x"]}]
    with pytest.raises(tf.InvalidLifecycle, match="unknown field 'nope'"):
        tf.load_lifecycle(document)


def test_timers_load_as_values(helpdesk: tf.Lifecycle):
    (rule,) = helpdesk.timers
    assert rule.id == "auto_close"
    assert rule.after == timedelta(days=3)
    assert rule.fire == "close"
    assert rule.clock == "wall"
    assert rule.since == "state_entered"


def test_extend_changes_a_few_parts_and_revalidates(helpdesk: tf.Lifecycle):
    extended = helpdesk.extend(
        {
            "id": "helpdesk_plus",
            "states": {"on_hold": {"group": "in_progress"}},
            "transitions": [
                {"trigger": "hold", "source": "in_progress", "dest": "on_hold"},
                {"trigger": "unhold", "source": "on_hold", "dest": "in_progress"},
            ],
            "timers": [{"id": "auto_close", "state": "resolved", "after": "5d", "fire": "close"}],
            "remove_transitions": ["escalate"],
        }
    )
    assert extended.id == "helpdesk_plus"
    assert "on_hold" in extended.states
    assert "escalate" not in extended.triggers
    assert extended.timers[0].after == timedelta(days=5)
    assert helpdesk.timers[0].after == timedelta(days=3)  # the base is untouched
    with pytest.raises(tf.InvalidLifecycle) as caught:
        helpdesk.extend({"transitions": [{"trigger": "x", "source": "new", "dest": "nowhere"}]}, source="ours.toml")
    assert caught.value.source == "ours.toml"
    assert caught.value.path == "transitions[9].dest"


def test_mermaid_and_dot_show_every_edge(helpdesk: tf.Lifecycle):
    mermaid = helpdesk.to_mermaid()
    dot = helpdesk.to_dot()
    assert mermaid.startswith("stateDiagram-v2\n    [*] --> new\n")
    assert "    waiting_on_requester --> in_progress: on comment [requester]" in mermaid
    assert "    closed --> [*]" in mermaid
    timers = sum(len(r.states) for r in helpdesk.timers)
    edges = sum(len(t.sources) for t in helpdesk.transitions) + timers
    assert edges == mermaid.count(": ") - timers  # a timer's label has two: "⏱ timer 3d: close"
    assert edges == dot.count(" -> ") - 1  # the start arrow
    assert 'subgraph "cluster_open"' in dot
    assert '"closed" [shape=doublecircle];' in dot


def test_json_schema_describes_the_format():
    schema = tf.json_schema()
    assert schema["required"] == ["id", "initial", "states", "transitions"]
    assert schema["properties"]["transitions"]["items"]["additionalProperties"] is False
    assert "choice" in schema["properties"]["fields"]["additionalProperties"]["properties"]["type"]["enum"]


@given(lifecycle_documents())
def test_random_valid_definitions_load_and_compile(document: dict[str, Any]):
    lc = tf.load_lifecycle(document)
    assert set(lc.states) == set(document["states"])
    assert len(lc.transitions) == len(document["transitions"])


@given(broken_lifecycle_documents())
def test_random_broken_definitions_raise_invalid_lifecycle_with_a_path(case: tuple[str, dict[str, Any]]):
    mutation, document = case
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(document)
    assert caught.value.path, mutation


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "id": _json,
            "initial": _json,
            "states": st.dictionaries(st.sampled_from(["a", "b"]), _json, max_size=2) | _json,
            "transitions": st.lists(
                st.fixed_dictionaries({}, optional={k: _json | st.just("a") for k in ("trigger", "source", "dest")}),
                max_size=2,
            )
            | _json,
        },
    )
)
def test_garbage_never_raises_anything_but_invalid_lifecycle(document: dict[str, Any]):
    try:
        tf.load_lifecycle(document)
    except tf.InvalidLifecycle as exc:
        problem = exc.problem
    else:
        problem = "loaded"
    assert problem


def _keys(node: object, prefix: str = "") -> set[str]:
    from ticketflow.lifecycle._shape import ListOf, Table

    keys: set[str] = set()
    if isinstance(node, ListOf):
        return _keys(node.item, prefix)
    if isinstance(node, Table):
        for key, (child, _) in node.keys.items():
            keys.add(key)
            keys |= _keys(child)
        if node.values is not None:
            keys |= _keys(node.values)
    return keys


def test_the_format_reference_documents_every_key():
    from ticketflow.lifecycle._shape import LIFECYCLE

    from .conftest import ROOT

    text = (ROOT / "docs" / "lifecycle-format.md").read_text()
    missing = sorted(key for key in _keys(LIFECYCLE) if f"`{key}`" not in text)
    assert missing == []


def test_the_extend_example_in_the_docs_works():
    ours = tf.builtin("zendesk").extend(
        {
            "id": "our_zendesk",
            "states": {"escalated": {"group": "open"}},
            "transitions": [
                {"trigger": "escalate", "source": "open", "dest": "escalated"},
                {"trigger": "deescalate", "source": "escalated", "dest": "open"},
            ],
            "timers": [{"id": "solved_auto_close_24h", "state": "solved", "after": "48h", "fire": "close"}],
            "remove_transitions": ["take"],
        }
    )
    assert "take" not in ours.triggers
    assert ours.timers[-1].after == timedelta(hours=48)
    assert len(ours.timers) == len(tf.builtin("zendesk").timers)


COUNTER: dict[str, Any] = {
    "id": "counter",
    "initial": "waiting",
    "states": {"waiting": {}, "closed": {"terminal": True}},
    "fields": {"attempts": {"type": "int", "default": 0}, "due": {"type": "date"}},
    "transitions": [
        {"trigger": "chase", "source": "waiting", "dest": "waiting", "increment": ["attempts"]},
        {"trigger": "give_up", "source": "waiting", "dest": "closed", "when": {"attempts": {"gte": 2}}},
        {"trigger": "close_dated", "source": "waiting", "dest": "closed", "when": {"due": {"set": True}}},
    ],
}


def test_increment_and_comparisons_in_when():
    wf = tf.Workflow(tf.load_lifecycle(COUNTER))
    agent = tf.Actor("a", roles={"agent"})
    t = wf.open(agent, title="x")
    assert t.fields["attempts"] == 0
    with pytest.raises(tf.TransitionNotAllowed, match="needs gte 2"):
        wf.fire(t.id, "give_up", agent)
    wf.fire(t.id, "chase", agent)
    t = wf.fire(t.id, "chase", agent)
    assert t.fields["attempts"] == 2
    assert wf.history(t.id)[-1].field_changes["attempts"] == tf.Change(1, 2)
    assert "close_dated" not in wf.allowed(t.id, agent)
    assert wf.fire(t.id, "give_up", agent).state == "closed"


@pytest.mark.parametrize(
    ("when", "path", "problem"),
    [
        ({"attempts": {"most": 2}}, "transitions[1].when.attempts.most", "unknown comparison"),
        ({"attempts": {"gte": "two"}}, "transitions[1].when.attempts.gte", "expected a int"),
        ({"attempts": {}}, "transitions[1].when.attempts", "empty comparison"),
        ({"attempts": {"set": 1}}, "transitions[1].when.attempts.set", "true or false"),
    ],
)
def test_bad_comparisons_name_their_path(when: dict[str, Any], path: str, problem: str):
    document = copy.deepcopy(COUNTER)
    document["transitions"][1]["when"] = when
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(document)
    assert caught.value.path == path
    assert problem in caught.value.problem


def test_only_int_fields_can_be_incremented():
    document = copy.deepcopy(COUNTER)
    document["transitions"][0]["increment"] = ["due"]
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(document)
    assert caught.value.path == "transitions[0].increment[0]"


def test_the_engine_reads_the_transitions_machine_through_its_public_graph(helpdesk: tf.Lifecycle):
    """No definition index rides in a condition: the machine holds the graph, and the engine's table agrees with it."""
    engine = helpdesk.engine
    for trigger, event in engine.machine.events.items():
        for source, compiled in event.transitions.items():
            assert all(not c.conditions for c in compiled)
            ours = [t for t in helpdesk.transitions if t.trigger == trigger and source in t.sources]
            assert [c.dest for c in compiled] == [t.dest for t in ours]
            for t in ours:
                if t.on is None:
                    assert t in engine.transitions_from(source, trigger)


def test_engine_plain_step_refuses_a_naive_instant_and_builds_the_same_values():
    # a plain move builds its Ticket and Event without attrs' validators: the engine checks the instant itself
    lc = tf.load_lifecycle(
        {"id": "pp", "initial": "a", "states": {"a": {}, "b": {"terminal": True}},
         "transitions": [{"trigger": "go", "source": "a", "dest": "b"}]}
    )  # fmt: skip
    agent = tf.Actor("agent-1", roles={"agent"})
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    ticket, _ = lc.engine.open("T-1", agent, at, title="t")
    with pytest.raises(tf.NaiveDatetime):
        lc.engine.apply(ticket, "go", agent, datetime(2026, 1, 5, 9))
    new, event, _ = lc.engine.apply(ticket, "go", agent, at, meta={"k": "v"})
    assert new == attrs.evolve(ticket, state="b", version=2, updated_at=at)
    assert event == tf.Event("T-1", 2, at, agent, "go", "a", "b", meta={"k": "v"})
    assert isinstance(event.meta, MappingProxyType)


# -- given, stamp, require_comment visibility, returns, elapsed (the seeds' rules, in general) ----------


DATED = {
    "priority": {"type": "choice", "choices": ["low", "high"]},
    "reached_at": {"type": "datetime", "set_by": []},
    "count": {"type": "int", "default": 0},
}


@pytest.mark.parametrize(
    ("transition", "path", "problem"),
    [
        ({"returns": True, "dest": "done"}, "transitions[0].dest", "not both"),
        ({"dest": None}, "transitions[0].dest", "`returns = true`"),
        ({"require_comment": "loud"}, "transitions[0].require_comment", "public"),
        ({"stamp": ["priority"]}, "transitions[0].stamp[0]", "only date or datetime"),
        ({"stamp": ["nope"]}, "transitions[0].stamp[0]", "unknown field 'nope'"),
        ({"given": {"priority": "urgent"}}, "transitions[0].given.priority", "not one of low, high"),
        ({"when": {"priority": {"elapsed": "1h"}}}, "transitions[0].when.priority.elapsed", "date or datetime"),
        ({"when": {"reached_at": {"elapsed": "1bd"}}}, "transitions[0].when.reached_at.elapsed", "[calendar]"),
        ({"when": {"reached_at": {"elapsed": "soon"}}}, "transitions[0].when.reached_at.elapsed", "cannot read"),
    ],
)
def test_the_seed_rule_keys_name_their_path(transition: dict[str, Any], path: str, problem: str):
    spec = {**MINIMAL["transitions"][0], **transition}
    spec = {k: v for k, v in spec.items() if v is not None}
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(doc(fields=DATED, transitions=[spec]), source="team.toml")
    assert caught.value.path == path
    assert problem in caught.value.problem


def test_elapsed_in_a_timer_condition_is_refused():
    document = doc(
        fields=DATED,
        timers=[
            {"id": "t", "state": "open", "after": "1h", "fire": "finish", "when": {"reached_at": {"elapsed": "1h"}}}
        ],
    )
    document["transitions"][0]["roles"] = ["agent", "system"]
    with pytest.raises(tf.InvalidLifecycle, match="elapsed: on transitions"):
        tf.load_lifecycle(document)


def test_given_tells_transitions_apart_by_the_data_the_step_carries():
    lc = tf.load_lifecycle(
        doc(
            fields=DATED,
            transitions=[
                {"trigger": "finish", "source": "open", "dest": "done", "given": {"priority": "low"}},
                {
                    "trigger": "finish", "source": "open", "dest": "done", "given": {"priority": "high"},
                    "when": {"count": {"gte": 1}},
                },
                {"trigger": "bump", "source": "open", "dest": "open", "increment": ["count"]},
            ],
        )
    )  # fmt: skip
    wf = tf.Workflow(lc)
    agent = tf.Actor("a", roles={"agent"})
    t = wf.open(agent, title="x")
    with pytest.raises(tf.FieldError) as no_data:
        wf.fire(t.id, "finish", agent)
    assert no_data.value.fields == ("priority",)
    with pytest.raises(tf.TransitionNotAllowed, match="count"):
        wf.fire(t.id, "finish", agent, fields={"priority": "high"})
    assert "finish" in wf.allowed(t.id, agent)
    wf.fire(t.id, "bump", agent)
    assert wf.fire(t.id, "finish", agent, fields={"priority": "high"}).state == "done"


def test_stamp_and_a_public_comment_requirement():
    lc = tf.load_lifecycle(
        doc(
            fields=DATED,
            transitions=[
                {
                    "trigger": "reach",
                    "source": "open",
                    "dest": "open",
                    "require_comment": "public",
                    "stamp": ["reached_at"],
                },
                *MINIMAL["transitions"],
            ],
        )
    )
    wf = tf.Workflow(lc)
    agent = tf.Actor("a", roles={"agent"})
    at = datetime(2026, 7, 6, 10, tzinfo=UTC)
    t = wf.open(agent, title="x", at=at)
    with pytest.raises(tf.FieldError, match="public comment"):
        wf.fire(t.id, "reach", agent, comment="note", visibility="internal", at=at)
    with pytest.raises(tf.FieldError, match="comment"):
        wf.fire(t.id, "reach", agent, at=at)
    assert wf.fire(t.id, "reach", agent, comment="Hello?", at=at).fields["reached_at"] == at.isoformat()
    with pytest.raises(tf.PermissionDenied):  # set_by = []: only the lifecycle writes it
        wf.update(t.id, agent, fields={"reached_at": (at - timedelta(days=2)).isoformat()})


def test_elapsed_counts_wall_time_or_business_days_in_the_lifecycles_calendar():
    calendar = {"timezone": "UTC", "hours": {"mon-fri": ["09:00-17:00"]}}
    lc = tf.load_lifecycle(
        doc(
            fields=DATED,
            calendar=calendar,
            transitions=[
                {"trigger": "reach", "source": "open", "dest": "open", "stamp": ["reached_at"]},
                {"trigger": "finish", "source": "open", "dest": "done", "when": {"reached_at": {"elapsed": "1bd"}}},
                {"trigger": "drop", "source": "open", "dest": "done", "when": {"reached_at": {"elapsed": "90m"}}},
            ],
        )
    )
    wf = tf.Workflow(lc)
    agent = tf.Actor("a", roles={"agent"})
    friday = datetime(2026, 7, 3, 15, tzinfo=UTC)
    t = wf.open(agent, title="x", at=friday)
    with pytest.raises(tf.TransitionNotAllowed, match="elapsed"):
        wf.fire(t.id, "finish", agent, at=friday)  # unset: no time has elapsed
    wf.fire(t.id, "reach", agent, at=friday)
    for early in (friday + timedelta(minutes=89), datetime(2026, 7, 6, 14, 59, tzinfo=UTC)):
        with pytest.raises(tf.TransitionNotAllowed):
            wf.fire(t.id, "finish" if early.day == 6 else "drop", agent, at=early)
    assert "drop" in wf.allowed(t.id, agent, at=friday + timedelta(minutes=90))
    assert wf.fire(t.id, "finish", agent, at=datetime(2026, 7, 6, 15, tzinfo=UTC)).state == "done"  # Monday 15:00


@pytest.mark.parametrize("elapsed", ["1bd", "90m"])
def test_an_elapsed_deadline_past_9999_never_holds_and_raises_nothing(elapsed: str):
    calendar = {"timezone": "America/New_York", "hours": {"mon-fri": ["09:00-17:00"]}}
    fields = {**DATED, "reached_at": {"type": "datetime"}}
    finish = {"trigger": "finish", "source": "open", "dest": "done", "when": {"reached_at": {"elapsed": elapsed}}}
    wf = tf.Workflow(tf.load_lifecycle(doc(fields=fields, calendar=calendar, transitions=[finish])))
    agent = tf.Actor("a", roles={"agent"})
    t = wf.open(agent, title="x", fields={"reached_at": datetime(9999, 12, 31, 23, tzinfo=UTC)})
    assert "finish" not in wf.allowed(t.id, agent)  # was OverflowError: date value out of range
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed, match="needs elapsed"):
        wf.fire(t.id, "finish", agent)


def test_returns_goes_back_to_the_state_the_ticket_came_from():
    lc = tf.load_lifecycle(
        {
            "id": "detour",
            "initial": "a",
            "states": {"a": {}, "b": {}, "asked": {}, "done": {"terminal": True}},
            "transitions": [
                {"trigger": "next", "source": "a", "dest": "b"},
                {"trigger": "ask", "source": ["a", "b"], "dest": "asked"},
                {"trigger": "answer", "source": "asked", "returns": True, "roles": ["requester"]},
                {"trigger": "finish", "source": ["a", "b"], "dest": "done"},
            ],
        }
    )
    assert sorted((t.sources, t.dest) for t in lc.transitions if t.trigger == "answer") == [
        (("asked",), "a"),
        (("asked",), "b"),
    ]
    assert "asked --> b: answer ↩ [requester]" in lc.to_mermaid()
    wf = tf.Workflow(lc)
    agent, customer = tf.Actor("a", roles={"agent"}), tf.Actor("c", roles={"requester"})
    for path, back in ((["ask"], "a"), (["next", "ask"], "b")):
        t = wf.open(customer, title="x")
        for trigger in path:
            wf.fire(t.id, trigger, agent)
        wf.comment(t.id, agent, "Any news?")  # a step inside `asked` does not change where it came from
        assert wf.fire(t.id, "answer", customer).state == back


def test_returns_needs_somewhere_to_return_to():
    with pytest.raises(tf.InvalidLifecycle, match="nowhere to return to"):
        tf.load_lifecycle(
            doc(transitions=[*MINIMAL["transitions"], {"trigger": "back", "source": "open", "returns": True}])
        )


# -- every rule a transition states holds when it is fired with no data at all -------------------------------------

AT = datetime(2026, 7, 6, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rule", "outcome"),
    [
        ({"set_fields": {"priority": "high"}}, ("fields", {"priority": "high", "count": 0})),
        ({"add_tags": ["checked"]}, ("tags", {"vip", "checked"})),
        ({"remove_tags": ["vip"]}, ("tags", set())),
        ({"increment": ["count"]}, ("fields", {"count": 1})),
        ({"claim": True}, ("assignee", "a")),
        ({"stamp": ["reached_at"]}, ("fields", {"count": 0, "reached_at": AT.isoformat()})),
        ({"guards": ["never"]}, tf.TransitionNotAllowed),
        ({"guards": ["sees_the_step"]}, ("state", "done")),
        ({"require": ["requester"]}, ("requester", "a")),  # the ticket's requester counts
        ({"require": ["count"]}, ("fields", {"count": 0})),  # a field the ticket has counts
        ({"when": {"priority": "high"}}, tf.TransitionNotAllowed),
        ({"require": ["priority"]}, tf.FieldError),
        ({"require_comment": True}, tf.FieldError),
        ({"given": {"priority": "high"}}, tf.FieldError),
        ({"required_in_dest": True}, tf.FieldError),
    ],
)
def test_each_rule_of_a_transition_holds_when_it_is_fired_without_data(
    rule: dict[str, Any], outcome: tuple[str, Any] | type[Exception]
):
    fields = copy.deepcopy(DATED)
    if rule.pop("required_in_dest", False):
        fields["priority"]["required_in"] = ["done"]
    lc = tf.load_lifecycle(doc(fields=fields, transitions=[{**MINIMAL["transitions"][0], **rule}]))
    registry = tf.Registry()
    registry.add_guard("never", lambda _context: False)
    registry.add_guard(  # what a guard is shown: the ticket before the step, who, which trigger, when
        "sees_the_step", lambda c: (c.ticket.state, c.actor.id, c.trigger, c.at) == ("open", "a", "finish", AT)
    )
    wf = tf.Workflow(lc, registry=registry)
    agent = tf.Actor("a", roles={"agent"})
    t = wf.open(agent, title="x", tags={"vip"}, at=AT)
    if isinstance(outcome, type):
        # allowed() judges the ticket as it is: a rule on the step's data (require, given) is only checked at the fire
        assert ("finish" in wf.allowed(t.id, agent, at=AT)) is (outcome is tf.FieldError)
        with unchanged(wf, t.id), pytest.raises(outcome):
            wf.fire(t.id, "finish", agent, at=AT)
        return
    assert "finish" in wf.allowed(t.id, agent, at=AT)
    done = wf.fire(t.id, "finish", agent, at=AT)
    part, expected = outcome
    assert (done.state, getattr(done, part)) == ("done", expected)


def test_given_a_list_or_a_comparison_picks_by_the_data_the_step_carries():
    lc = tf.load_lifecycle(
        doc(
            fields=DATED,
            states={"open": {}, "done": {"terminal": True}, "big": {"terminal": True}},
            transitions=[
                {"trigger": "finish", "source": "open", "dest": "done", "given": {"priority": ["low"]}},
                {"trigger": "finish", "source": "open", "dest": "big", "given": {"count": {"gte": 3}}},
            ],
        )
    )
    wf = tf.Workflow(lc)
    agent = tf.Actor("a", roles={"agent"})
    for data, state in (({"priority": "low"}, "done"), ({"priority": "high", "count": 3}, "big")):
        t = wf.open(agent, title="x")
        assert wf.fire(t.id, "finish", agent, fields=data).state == state
    t = wf.open(agent, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.FieldError) as refused:
        wf.fire(t.id, "finish", agent, fields={"priority": "high", "count": 2})
    assert (refused.value.ticket_id, refused.value.trigger, refused.value.fields) == (
        t.id,
        "finish",
        ("count", "priority"),
    )
    assert refused.value.reason == (
        "transitions[0]: 'priority' is 'high', needs one of ['low']; transitions[1]: 'count' is 2, needs gte 3"
    )


# -- reactions: the first whose every rule holds is taken, the others are passed over -------------------------------

REACTIVE_FIELDS = {
    "priority": {"type": "choice", "choices": ["low", "high"], "default": "low"},
    "tier": {"type": "choice", "choices": ["basic", "gold"], "default": "basic"},
    "reason": {"type": "text"},
}
ON_COMMENT = {"trigger": "replied", "source": "waiting", "dest": "working", "roles": ["requester", "agent"],
              "on": {"event": "comment"}}  # fmt: skip
ON_TIER = {"trigger": "retiered", "source": "waiting", "dest": "working", "on": {"event": "field_set", "field": "tier"}}
AGENT_A, CUSTOMER_C = tf.Actor("a", roles={"agent"}), tf.Actor("c", roles={"requester"})
GOLD = {"tier": "gold"}
COMMENTED = {"on": {"event": "comment"}}
RETIERED = {"on": {"event": "field_set", "field": "tier"}, "given": GOLD}
PUBLIC = {"on": {"event": "comment", "visibility": "public"}}


@pytest.mark.parametrize(
    ("first", "passed_over", "taken"),
    [
        # the first reaction's own rules; (opening fields, step, actor) it must pass over; one that meets them
        ({"on": {"event": "comment", "visibility": "internal"}}, ({}, "comment", CUSTOMER_C), ({}, "note", AGENT_A)),
        ({**COMMENTED, "given": GOLD}, ({}, "comment", CUSTOMER_C), (GOLD, "comment", CUSTOMER_C)),
        (
            {"on": {"event": "comment", "visibility": "public"}, "roles": ["agent"]},
            ({}, "comment", CUSTOMER_C),
            ({}, "comment", AGENT_A),
        ),
        (
            {**COMMENTED, "when": {"priority": "high"}},
            ({}, "comment", CUSTOMER_C),
            ({"priority": "high"}, "comment", CUSTOMER_C),
        ),
        ({"on": {"event": "field_set", "field": "priority"}}, ({}, "tier", AGENT_A), ({}, "priority", AGENT_A)),
        ({**RETIERED, "require_comment": True}, ({}, "tier", AGENT_A), None),
        ({**RETIERED, "require": ["assignee"]}, ({}, "tier", AGENT_A), ({"assignee": "a"}, "tier", AGENT_A)),
        (
            {**PUBLIC, "roles": [], "who": ["assignee"]},
            ({}, "comment", AGENT_A),
            ({"assignee": "a"}, "comment", AGENT_A),
        ),
        ({**PUBLIC, "guards": ["requester_in_time"]}, ({}, "comment", AGENT_A), ({}, "comment", CUSTOMER_C)),
        ({**RETIERED, "require": ["reason"]}, ({}, "tier", AGENT_A), ({}, "tier and reason", AGENT_A)),
    ],
)
def test_a_reaction_whose_rules_do_not_hold_is_passed_over_for_the_next(
    first: dict[str, Any], passed_over: tuple[dict[str, Any], str, tf.Actor], taken: Any
):
    first = {
        "trigger": "first_reaction",
        "source": "waiting",
        "dest": "first",
        "roles": ["requester", "agent"],
        **first,
    }
    lc = tf.load_lifecycle(
        doc(
            initial="waiting",
            states={"waiting": {}, "working": {}, "first": {}, "done": {"terminal": True}},
            fields=REACTIVE_FIELDS,
            transitions=[first, ON_COMMENT, ON_TIER, {"trigger": "finish", "source": "*", "dest": "done"}],
        )
    )
    registry = tf.Registry()
    registry.add_guard("requester_in_time", lambda c: c.actor.id == c.ticket.requester and c.at.year == 2026)
    wf = tf.Workflow(lc, registry=registry, clock=SteppableClock(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    steps = {
        "comment": lambda t, actor: wf.comment(t.id, actor, "Hello"),
        "note": lambda t, actor: wf.comment(t.id, actor, "internal", visibility="internal"),
        "tier": lambda t, actor: wf.update(t.id, actor, fields=GOLD),
        "priority": lambda t, actor: wf.update(t.id, actor, fields={"priority": "high"}),
        "tier and reason": lambda t, actor: wf.update(t.id, actor, fields={**GOLD, "reason": "asked for it"}),
    }
    for step, state in ((passed_over, "working"), (taken, "first")):
        if step is None:
            continue
        fields, name, actor = step
        people = {k: v for k, v in fields.items() if k == "assignee"}  # (the parameters are shared: not popped)
        data = {k: v for k, v in fields.items() if k != "assignee"}
        t = wf.open(AGENT_A, title="x", requester=CUSTOMER_C.id, fields=data, **people)
        assert steps[name](t, actor).state == state, name


def test_setting_a_watched_field_to_the_value_it_has_moves_nothing():
    lc = tf.load_lifecycle(
        doc(
            initial="waiting",
            states={"waiting": {}, "working": {}, "done": {"terminal": True}},
            fields=REACTIVE_FIELDS,
            transitions=[ON_TIER, {"trigger": "finish", "source": "*", "dest": "done"}],
        )
    )
    wf = tf.Workflow(lc)
    t = wf.open(AGENT_A, title="x", fields=GOLD)
    assert wf.update(t.id, AGENT_A, fields=GOLD).state == "waiting"
    assert wf.update(t.id, AGENT_A, fields={"tier": "basic"}).state == "working"


def test_the_engine_refuses_a_meta_that_is_not_a_mapping_and_skips_unset_attributes():
    from ticketflow.lifecycle import UNSET

    engine = tf.load_lifecycle(MINIMAL).engine
    agent = tf.Actor("a", roles={"agent"})
    ticket, _ = engine.open("T-1", agent, AT, title="x")
    with pytest.raises(TypeError) as refused:
        engine.apply(ticket, "finish", agent, AT, meta="urgent")  # type: ignore[arg-type]
    assert str(refused.value) == "meta must be a mapping, got str"
    done, event, _ = engine.apply(ticket, "finish", agent, AT, attributes={"title": UNSET, "assignee": "b"})
    assert (done.title, done.assignee, event.attribute_changes) == ("x", "b", {"assignee": tf.Change(None, "b")})


def test_a_when_on_an_internal_field_never_shows_its_value_in_the_refusal():
    fields = {"score": {"type": "int", "internal": True, "default": 3}, "priority": MINIMAL["fields"]["priority"]}
    lc = tf.load_lifecycle(
        doc(fields=fields, transitions=[{**MINIMAL["transitions"][0], "when": {"score": {"gte": 5}}}])
    )
    wf = tf.Workflow(lc)
    agent = tf.Actor("a", roles={"agent"})
    t = wf.open(agent, title="x")
    with unchanged(wf, t.id), pytest.raises(tf.TransitionNotAllowed) as refused:
        wf.fire(t.id, "finish", agent)
    assert refused.value.reason == "transitions[0]: field 'score' is not as needed, needs gte 5"


@pytest.mark.parametrize("who", ["assignee", "participant", "requester"])
def test_who_lets_exactly_that_person_fire_a_step_beyond_its_roles(who: str):
    lc = tf.load_lifecycle(doc(transitions=[{**MINIMAL["transitions"][0], "roles": [], "who": [who]}]))
    wf = tf.Workflow(lc)
    people = {"assignee": "ann", "participant": "pat", "requester": "rey"}
    for person in people.values():
        actor = tf.Actor(person, roles={"agent"})
        t = wf.open(actor, title="x", requester="rey", assignee="ann", participants={"pat"})
        if person == people[who]:
            assert wf.fire(t.id, "finish", actor).state == "done"
        else:
            with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
                wf.fire(t.id, "finish", actor)


def test_a_returning_step_fired_on_the_engine_without_its_history_has_nowhere_to_return_to():
    lc = tf.load_lifecycle(
        doc(
            states={"open": {}, "asked": {}, "done": {"terminal": True}},
            transitions=[
                {"trigger": "ask", "source": "open", "dest": "asked"},
                {"trigger": "answer", "source": "asked", "returns": True},
                {"trigger": "finish", "source": "open", "dest": "done"},
            ],
        )
    )
    agent = tf.Actor("a", roles={"agent"})
    ticket, _ = lc.engine.open("T-1", agent, AT, title="x")
    asked, _, _ = lc.engine.apply(ticket, "ask", agent, AT)
    with pytest.raises(tf.TransitionNotAllowed) as refused:
        lc.engine.apply(asked, "answer", agent, AT)  # came_from not given: where it came from is not known
    assert str(refused.value) == "ticket T-1: 'answer' is not allowed in state 'asked': nowhere to return to"
    back, _, _ = lc.engine.apply(asked, "answer", agent, AT, came_from=lambda: "open")
    assert back.state == "open"


def test_a_returning_comment_reaction_goes_back_where_the_ticket_came_from():
    lc = tf.load_lifecycle(
        doc(
            states={"open": {}, "triaged": {}, "asked": {}, "done": {"terminal": True}},
            transitions=[
                {"trigger": "triage", "source": "open", "dest": "triaged"},
                {"trigger": "ask", "source": ["open", "triaged"], "dest": "asked"},
                {"trigger": "answered", "source": "asked", "returns": True, "roles": ["requester"],
                 "on": {"event": "comment", "visibility": "public"}},
                {"trigger": "finish", "source": ["open", "triaged"], "dest": "done"},
            ],
        )
    )  # fmt: skip
    wf = tf.Workflow(lc)
    agent, customer = tf.Actor("a", roles={"agent"}), tf.Actor("c", roles={"requester"})
    for path, back in ((["ask"], "open"), (["triage", "ask"], "triaged")):
        t = wf.open(customer, title="x")
        for trigger in path:
            wf.fire(t.id, trigger, agent)
        assert wf.comment(t.id, customer, "Here you go.").state == back
