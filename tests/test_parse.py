"""Hostile lifecycle definitions: bad bytes, deep nesting, alias bombs, huge durations, odd keys.

Each test is one finding of the definition fuzzer (issue #19): the loader must
answer with an InvalidLifecycle that names a place (never an empty path), fast.
"""

import copy
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import ticketflow as tf
from ticketflow.automation import pending_rules
from ticketflow.lifecycle import parse_duration
from ticketflow.lifecycle._parse import MAX_BYTES, MAX_DEPTH

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "custom_lifecycle.toml"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
AGENT = tf.Actor("sam", roles={"agent"})
CUSTOMER = tf.Actor("dana", roles={"requester"})

# The classic "billion laughs": 446 bytes that expand to 10**9 strings.
BILLION_LAUGHS = (
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    + "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "id: *i\n"
    + "# "
    + "." * 22
    + "\n"
)


def refused(definition: Any, **kwargs: Any) -> tf.InvalidLifecycle:
    """Load *definition*; it must be refused with a located InvalidLifecycle within a second."""
    started = time.monotonic()
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.load_lifecycle(definition, **kwargs)
    assert time.monotonic() - started < 5, "the loader took too long to refuse"
    assert caught.value.path, "an InvalidLifecycle must name where the problem is"
    assert len(str(caught.value)) < 400, "the message must not quote a huge value"
    return caught.value


def example() -> dict[str, Any]:
    return copy.deepcopy(dict(tf.load_lifecycle(EXAMPLE).document))


@pytest.mark.parametrize(
    ("encode", "problem"),
    [
        (lambda text: text.encode("utf-16"), "UTF-16"),
        (lambda text: text.replace("IT help desk", "IT h\xe9lp desk").encode("latin-1"), "not UTF-8"),
        (lambda text: text.encode("utf-8") + b"\n# \xff\xfe\n", "not UTF-8"),
    ],
)
def test_a_file_that_is_not_utf8_is_an_invalid_lifecycle(tmp_path: Path, encode: Any, problem: str):
    path = tmp_path / "bad.toml"
    path.write_bytes(encode(EXAMPLE.read_text()))
    assert problem in refused(path).problem


def test_validate_reports_a_file_that_is_not_utf8_as_one_located_line(tmp_path: Path):
    from click.testing import CliRunner

    from ticketflow.cli import cli

    path = tmp_path / "latin1.toml"
    path.write_bytes(EXAMPLE.read_text().replace("IT help desk", "IT h\xe9lp desk").encode("latin-1"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert (result.exit_code, result.output.count("\n")) == (1, 1)
    assert result.output.startswith(f"{path}:line 1: the file is not UTF-8 (byte 0xe9)")


def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path: Path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert tf.load_lifecycle(path).id == "helpdesk"


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path):
    path = tmp_path / "big.toml"
    path.write_bytes(EXAMPLE.read_bytes() + b"#" * MAX_BYTES)
    error = refused(path)
    assert error.path == "(file)"
    assert "1,048,576" in error.problem


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        ("deep.json", '{"id": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"),
        ("deep.toml", "id = " + "[" * 100_000 + "]" * 100_000),
        ("deep.toml", "id = " + "{a=" * 50_000 + "1" + "}" * 50_000),
        ("deep.toml", "a" + ".b" * 50_000 + " = 1"),
        ("deep.yaml", "[" * 100_000 + "]" * 100_000),
        ("deep.yaml", "- " * 20_000 + "x"),
    ],
)
def test_deep_nesting_is_refused_before_the_parser_recurses(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    assert f"more than {MAX_DEPTH}" in refused(path).problem


def test_a_deeply_nested_dict_is_refused_before_anything_recurses():
    document = example()
    inner = document["fields"]["priority"]
    for _ in range(100_000):
        inner["default"] = {}
        inner = inner["default"]
    error = refused(document)
    assert error.path.startswith("fields.priority.default.default")


def test_a_dict_that_contains_itself_is_refused():
    document = example()
    document["transitions"][0]["when"] = {"priority": document["transitions"]}
    assert "contains itself" in refused(document).problem


def test_a_446_byte_billion_laughs_fails_fast(tmp_path: Path):
    assert len(BILLION_LAUGHS) == 446
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS)
    assert "aliases" in refused(path).problem


def test_few_aliases_that_fan_out_are_stopped_by_the_value_budget(tmp_path: Path):
    lines = ["a0: &a0 [1, 2, 3]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 20)]
    path = tmp_path / "fan.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert "values" in refused(path).problem


def test_a_recursive_yaml_alias_is_refused(tmp_path: Path):
    path = tmp_path / "loop.yaml"
    path.write_text("id: &x [*x]\n")
    assert "contains itself" in refused(path).problem


DUPLICATED = {
    "json": '{"id": "x", "initial": "a", "states": {"a": {}, "b": {"terminal": true}},\n'
    ' "transitions": [{"trigger": "go", "source": "a", "dest": "b"}],\n'
    ' "transitions": [{"trigger": "stop", "source": "a", "dest": "b"}]}',
    "yaml": "id: x\ninitial: a\nstates:\n  a: {}\n  b: {terminal: true}\n"
    "transitions:\n  - {trigger: go, source: a, dest: b}\n"
    "transitions:\n  - {trigger: stop, source: a, dest: b}\n",
    "toml": 'id = "x"\nid = "y"\n',
}


@pytest.mark.parametrize(("fmt", "path"), [("json", "transitions"), ("yaml", "line 8"), ("toml", "line 2")])
def test_a_key_given_twice_is_refused_in_every_format_not_kept_last(fmt: str, path: str):
    # JSON and YAML parsers keep the last value silently: the transition 'go' was lost without a word
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.loads_lifecycle(DUPLICATED[fmt], fmt, source=f"team.{fmt}")
    assert caught.value.path == path
    assert fmt == "toml" or "'transitions' is given twice in one table" in caught.value.problem


def test_a_nested_key_given_twice_is_named_by_its_path_and_a_yaml_merge_key_is_no_repeat():
    text = '{"id": "x", "initial": "a", "states": {"a": {"group": "open", "group": "closed"}}}'
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.loads_lifecycle(text, "json")
    assert caught.value.path == "states.a.group"
    merged = "base: &b {terminal: true}\nid: x\ninitial: a\nstates:\n  a: {}\n  b: {<<: *b, terminal: true}\n"
    with pytest.raises(tf.InvalidLifecycle) as other:  # refused for the unknown key 'base', not a repeat
        tf.loads_lifecycle(merged, "yaml")
    assert "twice" not in str(other.value)


@pytest.mark.parametrize(
    ("fmt", "text"),
    [("json", '{"id": NaN}'), ("json", '{"id": -Infinity}'), ("toml", "id = nan"), ("yaml", "id: .inf")],
)
def test_nan_and_infinity_are_refused_in_every_format(fmt: str, text: str):
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.loads_lifecycle(text, fmt)
    assert caught.value.path


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
def test_an_integer_with_thousands_of_digits_is_refused_briefly(fmt: str):
    text = {"json": '{"id": %s}', "toml": "id = %s", "yaml": "id: %s"}[fmt] % ("9" * 5000)
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.loads_lifecycle(text, fmt)
    assert caught.value.path
    assert len(str(caught.value)) < 300


def test_a_huge_value_is_quoted_only_in_part():
    document = example()
    document["states"]["new"]["group"] = ["x" * 100_000] * 100_000
    assert len(str(refused(document))) < 300


@pytest.mark.parametrize(
    ("after", "problem"),
    [
        ("99999999999999999999d", "longer than a datetime can span"),
        ("3652059d", "longer than a datetime can span"),
        ("P99999999999999W", "longer than a datetime can span"),
        ("9" * 5000 + "d", "too long"),
        ("99999bd", "business days"),
    ],
)
def test_durations_beyond_what_a_datetime_holds_are_refused_at_load(after: str, problem: str):
    document = example()
    document["timers"][0]["after"] = after
    error = refused(document)
    assert (error.path, problem in error.problem) == ("timers[0].after", True)


def test_the_longest_duration_is_the_span_of_datetime():
    assert parse_duration("3652058d") == (timedelta(days=3_652_058), 0)
    with pytest.raises(ValueError, match="datetime"):
        parse_duration("3652059d")


def test_an_sla_target_beyond_datetime_is_an_invalid_lifecycle():
    document = copy.deepcopy(dict(tf.builtin("zendesk").document))
    document["sla"]["metrics"][0]["targets"][0]["target"] = "99999999999h"
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.Workflow(tf.load_lifecycle(document))
    assert "datetime" in caught.value.problem


@pytest.mark.parametrize(("key", "value"), [("id", "helpdesk\n"), ("key_prefix", "SUP\n")])
def test_ids_with_a_trailing_newline_are_refused(key: str, value: str):
    document = example()
    document[key] = value
    assert refused(document).path == key


def test_a_state_id_with_a_trailing_newline_is_refused():
    document = example()
    document["states"]["new\n"] = document["states"].pop("rejected")
    assert refused(document).path.startswith("states")


def test_a_top_level_key_renamed_to_empty_names_it():
    document = example()
    document[""] = document.pop("initial")
    assert refused(document).path == '[""]'


@pytest.mark.parametrize("field", ["resolution", "priority"])
def test_a_timer_since_a_field_that_is_not_a_date_is_refused_at_load(field: str):
    document = example()
    document["timers"][0]["since"] = f"field:{field}"
    error = refused(document)
    assert (error.path, "date" in error.problem) == ("timers[0].since", True)


def test_calendar_holidays_that_are_not_a_list_are_refused_at_load():
    document = example()
    document["calendar"] = {"timezone": "UTC", "hours": {"mon-fri": "09:00-17:00"}, "holidays": 5}
    assert refused(document).path == "calendar"


def test_sla_calendar_holidays_that_are_not_a_list_are_an_invalid_lifecycle():
    document = copy.deepcopy(dict(tf.builtin("zendesk").document))
    document["sla"]["calendars"] = {"office": {"timezone": "UTC", "hours": {"mon-fri": "09:00-17:00"}, "holidays": 5}}
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.Workflow(tf.load_lifecycle(document))
    assert caught.value.path


def test_extend_with_a_list_as_timer_id_is_an_invalid_lifecycle():
    base = tf.load_lifecycle(EXAMPLE)
    with pytest.raises(tf.InvalidLifecycle) as caught:
        base.extend({"timers": [{"id": ["auto_close"], "state": "resolved", "after": "1h", "fire": "close"}]})
    assert caught.value.path == "timers[1].id"


def test_extend_with_changes_that_are_not_a_mapping_names_the_parameter():
    with pytest.raises(TypeError, match="changes"):
        tf.load_lifecycle(EXAMPLE).extend(["timers"])  # type: ignore[arg-type]


@pytest.mark.parametrize("definition", [5, None, b"id = 'x'"])
def test_load_lifecycle_of_neither_path_nor_mapping_names_the_parameter(definition: Any):
    with pytest.raises(TypeError, match="definition"):
        tf.load_lifecycle(definition)


def test_a_path_with_a_nul_byte_is_an_invalid_lifecycle():
    assert refused("life\0cycle.toml").path == "(file)"


def test_syntax_errors_name_the_line():
    with pytest.raises(tf.InvalidLifecycle) as caught:
        tf.loads_lifecycle('id = "x"\ninitial = \n', "toml")
    assert caught.value.path == "line 2"


# -- lifecycles that load must not crash a call -------------------------------------------------


def _resolve(wf: tf.Workflow, at: datetime) -> str:
    ticket = wf.open(CUSTOMER, title="Printer jams", at=at)
    wf.fire(ticket.id, "triage", AGENT, fields={"category": "hardware"}, at=at)
    wf.fire(ticket.id, "start", AGENT, assignee="sam", at=at)
    wf.fire(ticket.id, "resolve", AGENT, fields={"resolution": "new roller"}, at=at)
    return ticket.id


def test_a_timer_due_after_year_9999_never_falls_due():
    base = tf.load_lifecycle(EXAMPLE)
    far = base.extend({"timers": [{"id": "auto_close", "state": "resolved", "after": "3652058d", "fire": "close"}]})
    wf = tf.Workflow(far)
    ticket_id = _resolve(wf, T0)
    assert pending_rules(far, wf.get(ticket_id), wf.history(ticket_id), None) == []
    assert wf.run_due(T0 + timedelta(days=3650)).fired == ()
    assert wf.get(ticket_id).state == "resolved"


def test_a_timer_since_a_date_field_at_9999_12_31_never_falls_due():
    base = tf.load_lifecycle(EXAMPLE)
    since = base.extend(
        {"timers": [{"id": "overdue", "state": "new", "after": "2d", "since": "field:due", "add_tags": "escalated"}]}
    )
    wf = tf.Workflow(since)
    ticket = wf.open(AGENT, title="Printer jams", fields={"due": "9999-12-31"}, at=T0)
    assert wf.run_due(T0 + timedelta(days=30)).fired == ()
    assert wf.get(ticket.id).tags == frozenset()


def test_a_zendesk_ask_at_9999_12_30_leaves_the_late_reminders_unarmed():
    document = {k: v for k, v in tf.builtin("zendesk").document.items() if k != "sla"}
    wf = tf.Workflow(tf.load_lifecycle(document))
    at = datetime(9999, 12, 30, tzinfo=UTC)
    ticket = wf.open(CUSTOMER, title="Where is my order?", at=at)
    asked = wf.fire(ticket.id, "ask", AGENT, comment="Which order?", at=at)
    assert asked.state == "pending"
    due = pending_rules(wf.lifecycle, asked, wf.history(ticket.id), None)
    assert [p.rule.id for p in due] == ["pending_reminder_24h"]
