"""Fuzzers that ship with the tests: hostile definitions and hostile API arguments.

Both run in ``make test`` with the ``ci`` budget and 100x longer under
``make thorough``. The rule they check is the one of issue #19: bad input gets
an ``InvalidLifecycle`` (definitions) or another ``TicketflowError`` /
``TypeError`` (calls), never another exception, never a hang, and a refused
call changes nothing.
"""

import copy
import json
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ticketflow as tf

from .conftest import EXAMPLES
from .test_repository import needs_postgres, postgres_repository

SOURCES: dict[str, dict[str, Any]] = {
    **{name: dict(tf.builtin(name).document) for name in tf.builtins()},
    "custom_lifecycle": tomllib.loads((EXAMPLES / "custom_lifecycle.toml").read_text()),
}

# -- the definition fuzzer ------------------------------------------------------------------

HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 10**400, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        ["", "\x00", "\ud800", "x\n", "*", "field:due", "field:priority", "99999999999999999999d", "1bd", "P1W"]
    ),
    st.sampled_from(["999999999d", "9999-12-31", "3652059d", "0h", "-1d", "1" * 500 + "h", "x" * 10_000]),
)


def _deep(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


HOSTILE_VALUES = st.one_of(
    HOSTILE_SCALARS,
    st.lists(HOSTILE_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), HOSTILE_SCALARS, max_size=3),
    st.sampled_from([40, 1000]).map(_deep),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[str, Any]:
    """A built-in or the example with one to three mutations: a key deleted or renamed, a value replaced."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    document: Any = copy.deepcopy(SOURCES[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _parent(document, path), path[-1]
        action = draw(st.sampled_from(["delete", "replace", "replace", "rename", "wrap"]))
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(HOSTILE_VALUES)
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = parent.pop(last)
        else:
            parent[last] = [parent[last]]
    return name, document


def _refusal(load: Any) -> tf.InvalidLifecycle | None:
    """The InvalidLifecycle *load* raises, else that of a Workflow built on what it loaded, else None."""
    try:
        lifecycle = load()
        tf.Workflow(lifecycle)  # a lifecycle that loads must make a Workflow, or refuse the same clean way
    except tf.InvalidLifecycle as exc:
        return exc
    return None


def _must_be_a_clean_refusal(load: Any) -> None:
    error = _refusal(load)
    if error is not None:
        assert error.path, f"an empty path in {error}"
        assert len(str(error)) < 1000, "the message quotes too much"


@given(mutated_documents())
def test_mutated_definitions_load_or_raise_a_located_invalid_lifecycle(case: tuple[str, Any]):
    _, document = case
    _must_be_a_clean_refusal(lambda: tf.load_lifecycle(document))


def _encodings() -> st.SearchStrategy[Any]:
    return st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1"])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mutated_documents(),
    st.sampled_from(["json", "yaml"]),
    _encodings(),
    st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=4)), max_size=3),
)
def test_mutated_definition_files_load_or_raise_a_located_invalid_lifecycle(
    tmp_path: Path, case: tuple[str, Any], fmt: str, encoding: str, damage: list[tuple[int, bytes]]
):
    _, document = case
    try:
        text = json.dumps(document, allow_nan=True) if fmt == "json" else yaml.safe_dump(document)
    except (ValueError, RecursionError, yaml.YAMLError):
        return  # the mutation has no text form in this format
    try:
        data = bytearray(text.encode(encoding))
    except UnicodeEncodeError:
        data = bytearray(text.encode("utf-8", "surrogatepass"))
    for offset, junk in damage:
        data[offset % (len(data) + 1) : offset % (len(data) + 1)] = junk
    path = tmp_path / f"fuzzed.{fmt}"
    path.write_bytes(bytes(data))
    _must_be_a_clean_refusal(lambda: tf.load_lifecycle(path))


# -- the API-argument fuzzer ----------------------------------------------------------------

HELPDESK = tf.load_lifecycle(EXAMPLES / "custom_lifecycle.toml")
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
AGENT = tf.Actor("agent-1", roles={"agent"})
CUSTOMER = tf.Actor("customer-1", roles={"requester"})

ODD_TEXT = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["", "\x00", "\ud800", "a\x00b", "x" * 2000, "SUP\n-1", "\u202e", "🙂"]),
)
ODD = st.one_of(
    ODD_TEXT,
    st.none(),
    st.integers(),
    st.sampled_from([2**64, 10**400, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(ODD_TEXT, max_size=2),
    st.dictionaries(ODD_TEXT, ODD_TEXT, max_size=2),
    st.just(AGENT),
    st.just(T0),
    st.just(datetime(2026, 1, 1)),  # naive
    st.just(datetime(9999, 12, 30, tzinfo=UTC)),
)
FIELDS = st.one_of(
    st.dictionaries(st.sampled_from(["priority", "category", "resolution", "due", "nope", ""]), ODD, max_size=3),
    ODD,
)


def _calls(ticket_id: str) -> st.SearchStrategy[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    tid = st.one_of(st.just(ticket_id), ODD)
    actor = st.one_of(st.just(AGENT), st.just(CUSTOMER), ODD)
    at = st.one_of(st.just(T0 + timedelta(hours=1)), ODD)
    return st.one_of(
        st.tuples(
            st.just("fire"),
            st.tuples(tid, st.one_of(st.sampled_from(["triage", "start", "ask", "escalate"]), ODD), actor),
            st.fixed_dictionaries(
                {}, optional={"fields": FIELDS, "comment": ODD, "assignee": ODD, "at": at, "meta": ODD}
            ),
        ),
        st.tuples(
            st.just("update"),
            st.tuples(tid, actor),
            st.fixed_dictionaries(
                {}, optional={"fields": FIELDS, "add_tags": ODD, "remove_tags": ODD, "assignee": ODD, "at": at}
            ),
        ),
        st.tuples(
            st.just("comment"),
            st.tuples(tid, actor, ODD),
            st.fixed_dictionaries({}, optional={"visibility": ODD, "at": at}),
        ),
        st.tuples(
            st.just("open"),
            st.tuples(actor),
            st.fixed_dictionaries(
                {"title": ODD},
                optional={"fields": FIELDS, "tags": ODD, "requester": ODD, "assignee": ODD, "at": at, "ticket_id": ODD},
            ),
        ),
        st.tuples(
            st.just("find"),
            st.just(()),
            st.fixed_dictionaries(
                {},
                optional={
                    "field": FIELDS,
                    "state": ODD,
                    "assignee": ODD,
                    "tag": ODD,
                    "requester": ODD,
                    "updated_after": ODD,
                    "limit": ODD,
                    "after": ODD,
                },
            ),
        ),
        st.tuples(st.sampled_from(["get", "history", "links"]), st.tuples(tid), st.just({})),
        st.tuples(st.just("allowed"), st.tuples(tid, actor), st.fixed_dictionaries({}, optional={"at": at})),
        st.tuples(st.just("run_due"), st.tuples(at), st.fixed_dictionaries({}, optional={"limit": ODD})),
    )


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=needs_postgres)])
def api_workflow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tf.Workflow]:
    if request.param == "memory":
        repository: Any = tf.MemoryRepository()
    elif request.param == "sqlite":
        repository = tf.SQLiteRepository(tmp_path_factory.mktemp("fuzz") / "t.db")
    else:
        repository = postgres_repository()
    yield tf.Workflow(HELPDESK, repository)
    if request.param == "postgres":
        repository.drop_schema()


def _state(wf: tf.Workflow, ticket_id: str) -> Any:
    return wf.get(ticket_id), wf.history(ticket_id), wf.links(ticket_id), wf.repository.count()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_api_calls_with_hostile_arguments_refuse_cleanly_and_change_nothing(api_workflow: tf.Workflow, data: Any):
    wf = api_workflow
    ticket = wf.open(CUSTOMER, title="Printer jams", at=T0)
    name, args, kwargs = data.draw(_calls(ticket.id))
    before = _state(wf, ticket.id)
    refused = False
    try:  # any exception but these fails the test: that is the bug it looks for
        getattr(wf, name)(*args, **kwargs)
    except (tf.TicketflowError, TypeError):
        refused = True
    if refused:
        assert _state(wf, ticket.id) == before, f"a refused {name} changed something"
        return
    # It succeeded: every ticket reads back equal to the replay of its history.
    for found in wf.find(limit=1000).tickets:
        assert tf.replay(wf.history(found.id)) == found
