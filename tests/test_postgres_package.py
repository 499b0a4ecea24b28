"""The PostgreSQL package without a server: its names, the SQL derived from the one table definition, one retry.

(``tests/test_postgres.py`` runs the repository against a real server.)
"""

import ast
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg")

import sqlalchemy as sa

import ticketflow as tf
from ticketflow.model import UNSET
from ticketflow.repository.postgres import PostgresRepository
from ticketflow.repository.postgres._connection import Retry
from ticketflow.repository.postgres._schema import SCHEMA_VERSION, tables
from ticketflow.repository.postgres._statements import Statements

PACKAGE = Path(tf.__file__).resolve().parent / "repository" / "postgres"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
AGENT = tf.Actor("agent", roles={"agent"})


def test_the_class_is_postgres_repository_and_the_old_name_warns():
    assert tf.PostgresRepository is PostgresRepository
    assert "PostgresRepository" in tf.__all__
    assert "SQLAlchemyRepository" not in tf.__all__
    with pytest.warns(DeprecationWarning, match="use PostgresRepository"):
        old = tf.SQLAlchemyRepository  # type: ignore[attr-defined]
    assert old is PostgresRepository
    with pytest.warns(DeprecationWarning, match="use PostgresRepository"):
        from ticketflow.repository.postgres import SQLAlchemyRepository
    assert SQLAlchemyRepository is PostgresRepository
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from ticketflow.repository.postgres import PostgresRepository as Again  # the new name is quiet
    assert Again is PostgresRepository


def _statements(extra: sa.Column[object] | None = None) -> Statements:
    metadata = sa.MetaData()
    found = tables(metadata)
    if extra is not None:
        found["tickets"].append_column(extra)
    return Statements(found, '"s".')


def _steps() -> tuple[tf.Ticket, list[tf.Event], tf.Ticket, list[tf.Event]]:
    """A new ticket with its opening event, and the ticket after one step with that step's event."""
    lc = tf.builtin("zendesk")
    ticket, opened = lc.engine.open("ZD-1", AGENT, T0, title="x", requester="c")
    taken, event, _ = lc.engine.apply(ticket, "take", AGENT, T0)
    return ticket, [opened], taken, [event]


def test_every_statement_names_only_columns_of_the_one_table_definition():
    metadata = sa.MetaData()
    defined = tables(metadata)
    sql = Statements(defined, "")
    names = {column.name for table in defined.values() for column in table.c} | {"written", "e", "t"}
    statements = [sql.get, sql.history, sql.get_with_history, sql.outcome, sql.enqueue, sql.link, sql.add(2)]
    statements += [sql.save(True, 1), sql.save(False, 0)]
    for statement in statements:
        for target in re.findall(r"INSERT INTO (\w+) \(([^)]*)\)", statement):
            assert set(target[1].split(", ")) <= {c.name for c in defined[target[0]].c}, statement
    saved = {column.name for column in defined["tickets"].c if "save" in column.info}
    for name in saved:
        assert f"{name} = %s" in sql.save(False, 1)  # every saved column is written by a save
    assert set(sql.ticket_columns) <= names


def test_a_column_added_to_the_table_is_written_by_save_and_add_with_its_parameter():
    ticket, opened, taken, took = _steps()
    plain = _statements()
    extended = _statements(sa.Column("priority", sa.Text, info={"save": lambda t, _f: t.fields.get("priority")}))
    assert "priority" not in plain.save(True, 1)
    assert "priority = %s" in extended.save(True, 1)
    assert "priority" in extended.add(1)
    for sql in (plain, extended):
        statement, parameters, bodies = sql.add_write(ticket, opened, None)
        assert statement.count("%s") == len(parameters)
        assert len(bodies) == 1
        for due in (UNSET, None, T0):
            statement, parameters, _ = sql.save_write(taken, took, 1, due)
            assert statement.count("%s") == len(parameters)
    assert len(extended.add_write(ticket, opened, None)[1]) == len(plain.add_write(ticket, opened, None)[1]) + 1


def test_a_jsonb_column_gets_its_cast_from_its_type():
    sql = _statements()
    assert "fields = %s::jsonb" in sql.save(False, 0)
    assert "tags = %s::jsonb" in sql.save(False, 0)
    assert "title = %s," in sql.save(False, 0)
    assert "(%s::integer, %s::text)" in sql.save(False, 1)  # the events' types, from the events table


def test_the_schema_version_counts_its_migrations():
    assert PostgresRepository.SCHEMA_VERSION == SCHEMA_VERSION == 5


def test_one_retry_pauses_doubling_then_raises_the_error_given(monkeypatch: pytest.MonkeyPatch):
    import ticketflow.repository.postgres._connection as module

    pauses: list[float] = []
    monkeypatch.setattr(module.time, "sleep", pauses.append)
    retry = Retry(retries=2, first_pause=0.5)
    assert list(retry) == [0, 1, 2]
    cause = OSError("down")
    retry.again(0, tf.StorageError("no"), cause)
    retry.again(1, tf.StorageError("no"), cause)
    with pytest.raises(tf.StorageError, match="given up") as raised:
        retry.again(2, tf.StorageError("given up"), cause)
    assert raised.value.__cause__ is cause
    assert pauses == [0.5, 1.0]


def test_the_backoff_is_written_once_in_the_package():
    sleeps = []
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "time.sleep":
                sleeps.append(path.name)
    assert sleeps == ["_connection.py"]  # Retry.again, and nowhere else
