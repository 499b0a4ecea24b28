"""The ticketflow command line."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import ticketflow as tf
from ticketflow.cli import cli, main

from .conftest import EXAMPLES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_demo_walks_a_ticket_and_shows_its_history(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    db = tmp_path / "demo.db"
    status, out, _ = run(capsys, "demo", "--db", str(db))
    assert f"SQLite file {db}" in out
    assert tf.SQLiteRepository(db).count() > 500  # the walk-through plus three weeks of simulated traffic
    for lifecycle_id in tf.builtins():
        assert f"\n{lifecycle_id}: " in out
    assert "SLA first_response within 2:00:00: " in out
    assert "automations fired: solved_auto_close_24h" in out
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


def test_show_describes_a_lifecycle(capsys: pytest.CaptureFixture[str]):
    status, out, _ = run(capsys, "show", "sighten")
    assert status == 0
    assert "initial: awaiting_support" in out
    assert "sla first_response" in out
    assert "timer confirmation_silence_1bd" in out


def test_validate_checks_the_sla_section_too(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    bad = tmp_path / "bad_sla.json"
    document = dict(tf.builtin("zendesk").document)
    document["sla"] = {"calendar": "24x7", "metrics": [{"id": "speed", "targets": [{"target": "1h"}]}]}
    bad.write_text(json.dumps(document, default=str))
    status, _, err = run(capsys, "validate", str(bad))
    assert status == 1
    assert f"{bad}:sla.metrics[0].kind: unknown metric 'speed'" in err


def test_diagram_svg_needs_graphviz_and_says_so(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    status, _, err = run(capsys, "diagram", "zendesk", "--format", "svg")
    assert status == 1
    assert "Graphviz" in err


def test_calendar_commands_answer_business_time_questions(capsys: pytest.CaptureFixture[str]):
    hours = ["calendar", "--timezone", "America/New_York", "--hours", "mon-fri=09:00-17:00", "--holidays", "US"]
    assert run(capsys, *hours, "add", "2026-03-06T16:00-05:00", "2h")[1].strip() == "2026-03-09T10:00:00-04:00"
    assert run(capsys, *hours, "add", "2026-03-09T10:00-04:00", "-2h")[1].strip() == "2026-03-06T16:00:00-05:00"
    assert run(capsys, *hours, "between", "2026-03-06T16:00-05:00", "2026-03-09T10:00-04:00")[1].strip() == "2:00:00"
    assert run(capsys, *hours, "open", "2026-01-19T10:00-05:00")[1].strip().startswith("closed until 2026-01-20T09:00")
    status, _, err = run(capsys, *hours, "between", "2026-03-06T16:00", "2026-03-09T10:00-04:00")
    assert status == 1
    assert "naive" in err
    status, _, err = run(capsys, "calendar", "--timezone", "Mars/Base", "open", "2026-01-19T10:00-05:00")
    assert status == 1
    assert "unknown zone" in err


def test_export_import_and_sla_report_over_a_database(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    db = tmp_path / "demo.db"
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(db))
    at = datetime(2026, 3, 2, 15, tzinfo=UTC)
    customer, agent = tf.Actor("c", roles={"requester"}), tf.Actor("a", roles={"agent"})
    for i in (1001, 1002):
        ticket = wf.open(customer, title=f"t{i}", fields={"category": "question"}, at=at, ticket_id=f"ZD-{i}")
        wf.fire(ticket.id, "solve", agent, comment="answer", at=at)
    wf.run_due(at + timedelta(days=2))
    status, out, _ = run(capsys, "export", "--db", str(db))
    assert status == 0
    assert len(out.splitlines()) == 2
    exported = tmp_path / "out.jsonl"
    exported.write_text(out)
    status, out, _ = run(capsys, "import", "--db", str(tmp_path / "copy.db"), str(exported))
    assert (status, out.strip()) == (0, "imported 2 tickets")
    status, out, _ = run(capsys, "export", "--db", str(db), "--format", "csv", "--column", "id", "--column", "state")
    assert out.splitlines() == ["id,state", "ZD-1001,closed", "ZD-1002,closed"]
    status, out, _ = run(
        capsys, "sla", "report", "--db", str(db), "--lifecycle", "zendesk", "--now", "2026-03-20T09:00-04:00"
    )
    assert status == 0
    assert "2 tickets" in out
    assert "first_response within 1:00:00" in out
    status, _, err = run(capsys, "import", "--db", str(tmp_path / "copy.db"), str(exported))
    assert status == 1
    assert "expected version 0" in err


def test_worker_once_fires_what_is_due(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    db = tmp_path / "w.db"
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(db))
    t = wf.open(tf.Actor("c", roles={"requester"}), title="x", at=datetime(2020, 1, 1, tzinfo=UTC))
    wf.fire(t.id, "solve", tf.Actor("a", roles={"agent"}), comment="done", at=datetime(2020, 1, 1, tzinfo=UTC))
    status, out, _ = run(capsys, "worker", "--db", str(db), "--lifecycle", "zendesk", "--once")
    assert status == 0
    assert out.startswith("fired 1 rules")
    assert wf.get(t.id).state == "closed"


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "ticketflow", "lifecycles"], capture_output=True, text=True, check=True
    )
    assert "zendesk" in done.stdout


def test_init_writes_the_example_lifecycle_and_refuses_to_overwrite_it(tmp_path: Path):
    runner = CliRunner()
    first = runner.invoke(cli, ["init", str(tmp_path)])
    assert first.exit_code == 0, first.output
    written = tmp_path / "custom_lifecycle.toml"
    assert tf.load_lifecycle(written).id == "helpdesk"
    assert written.read_text(encoding="utf-8") == (EXAMPLES / "custom_lifecycle.toml").read_text(encoding="utf-8")
    written.write_text("# mine", encoding="utf-8")
    again = runner.invoke(cli, ["init", str(tmp_path)])
    assert (again.exit_code, written.read_text(encoding="utf-8")) == (1, "# mine")
    assert "exists" in again.output
    assert "--force" in again.output
    assert runner.invoke(cli, ["init", str(tmp_path), "--force"]).exit_code == 0
    assert tf.load_lifecycle(written).id == "helpdesk"
