"""The ticketflow command line."""

import json
from pathlib import Path

import pytest

import ticketflow as tf
from ticketflow.cli import main

from .conftest import EXAMPLES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_demo_walks_a_ticket_and_shows_its_history(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    db = tmp_path / "demo.db"
    status, out, _ = run(capsys, "demo", "--db", str(db))
    assert f"SQLite file {db}" in out
    assert tf.SQLiteRepository(db).count() == 2
    assert "pending_auto_close_7d" in out
    assert "ZD-1002 is now 'closed' with tags ['no_response']" in out
    assert status == 0
    assert "requester_replied  pending -> open" in out
    assert "SLA first_response: 0:42:00 of 8:00:00 business time, breached: False" in out
    assert "refused as expected" in out
    assert "now 'solved', version 4" in out
    assert "stateDiagram-v2" in out


def test_lifecycles_lists_the_builtins(capsys: pytest.CaptureFixture[str]):
    status, out, _ = run(capsys, "lifecycles")
    assert status == 0
    assert "zendesk" in out
    assert "waiting: pending, on_hold" in out


def test_validate_prints_file_path_message_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\ninitial = "a"\n[states.a]\n[[transitions]]\ntrigger = "go"\nsource = "a"\ndest = "b"\n')
    status, out, err = run(capsys, "validate", str(EXAMPLES / "custom_lifecycle.toml"), str(bad))
    assert status == 1
    assert "custom_lifecycle.toml: ok (helpdesk, 7 states, 9 transitions)" in out
    assert err.strip() == f"{bad}:transitions[0].dest: unknown state 'b'; known: a"


def test_diagram_prints_mermaid_or_dot(capsys: pytest.CaptureFixture[str]):
    assert run(capsys, "diagram", "zendesk")[1].startswith("stateDiagram-v2")
    assert run(capsys, "diagram", str(EXAMPLES / "custom_lifecycle.toml"), "--format", "dot")[1].startswith("digraph")


def test_unknown_lifecycle_is_one_clear_line(capsys: pytest.CaptureFixture[str]):
    status, _, err = run(capsys, "diagram", "nope.toml")
    assert status == 1
    assert err.count("\n") == 1
    assert "nope.toml: cannot read the file" in err


def test_schema_is_json(capsys: pytest.CaptureFixture[str]):
    status, out, _ = run(capsys, "schema")
    assert status == 0
    assert json.loads(out)["title"] == "ticketflow lifecycle"
