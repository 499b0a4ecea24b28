"""The ticketflow command line."""

import json
import sys
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


def test_demo_walks_a_ticket_and_shows_its_history(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
):
    db = tmp_path / "demo.db"
    status, out, err = run(capsys, "demo", "--db", str(db))
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
    assert "delivered from the outbox to the demo's notifier: 2 'agent_question'" in out
    assert "notifications delivered by the sweeper to the demo's notifier: " in out
    logged = out + err + caplog.text
    assert "undeliverable" not in logged  # every kind the built-ins write has the demo's notifier
    assert "no notifier" not in logged


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
    assert "nope.toml' is neither a built-in lifecycle (clickup, devrev" in err


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
    # a naive time is read in --timezone; without one it is refused as a usage error naming the argument
    assert run(capsys, *hours, "between", "2026-03-06T16:00", "2026-03-09T10:00-04:00")[1].strip() == "2:00:00"
    status, _, err = run(capsys, "calendar", "between", "2026-03-06T16:00", "2026-03-09T10:00-04:00")
    assert (status, err.count("\n")) == (2, 1)
    assert "Invalid value for A: '2026-03-06T16:00' is naive" in err
    status, _, err = run(capsys, "calendar", "--timezone", "Mars/Base", "open", "2026-01-19T10:00-05:00")
    assert (status, err.count("\n")) == (2, 1)
    assert "Invalid value for --timezone: unknown zone 'Mars/Base'" in err


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
    status, out, _ = run(capsys, "import", "--db", str(tmp_path / "copy.db"), "--create", str(exported))
    assert (status, out.strip()) == (0, "imported 2 tickets")
    status, out, _ = run(capsys, "export", "--db", str(db), "--format", "csv", "--column", "id", "--column", "state")
    assert out.splitlines() == ["id,state", "ZD-1001,closed", "ZD-1002,closed"]
    status, out, _ = run(
        capsys, "sla", "report", "--db", str(db), "--lifecycle", "zendesk", "--now", "2026-03-20T09:00-04:00"
    )
    assert status == 0
    assert "2 tickets" in out
    assert "first_response [category=question] within 1:00:00" in out
    status, _, err = run(capsys, "export", "--db", str(db), "--column", "title")  # the default format is jsonl
    assert (status, err.strip().splitlines()[0]) == (
        2,
        "Error: --column is for --format csv; JSON Lines holds every ticket whole (see 'ticketflow export --help')",
    )
    status, _, err = run(capsys, "import", "--db", str(tmp_path / "copy.db"), str(exported))
    assert status == 1
    assert "ticket ZD-1001 exists already (at version " in err  # re-running an import: not "re-read and retry"
    assert "nothing was written" in err
    wf.open(customer, title="=1+2", fields={"category": "question"}, at=at, ticket_id="ZD-1003")
    status, out, _ = run(capsys, "export", "--db", str(db), "--format", "csv", "--column", "title")
    assert out.splitlines()[-1] == "'=1+2"  # a spreadsheet shows it as text, not a formula
    status, out, _ = run(capsys, "export", "--db", str(db), "--format", "csv", "--column", "title", "--raw")
    assert out.splitlines()[-1] == "=1+2"


def test_sla_report_at_an_instant_no_business_calendar_supports_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    db = tmp_path / "demo.db"
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(db))
    wf.open(tf.Actor("c", roles={"requester"}), title="t", at=datetime(2026, 3, 2, 15, tzinfo=UTC))
    for now in ("0001-01-01T00:00:00+00:00", "9999-12-31T23:00:00+00:00"):
        status, out, err = run(capsys, "sla", "report", "--db", str(db), "--lifecycle", "zendesk", "--now", now)
        assert (status, out, err.count("\n")) == (1, "", 1)  # one line, no traceback
        assert err == (
            f"Error: sla_report: now {now} is outside the supported years 1900..2500 "
            "(local years in America/New_York); give an instant within them\n"
        )


def test_worker_once_fires_what_is_due(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    db = tmp_path / "w.db"
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(db))
    t = wf.open(tf.Actor("c", roles={"requester"}), title="x", at=datetime(2020, 1, 1, tzinfo=UTC))
    wf.fire(t.id, "solve", tf.Actor("a", roles={"agent"}), comment="done", at=datetime(2020, 1, 1, tzinfo=UTC))
    status, out, _ = run(capsys, "worker", "--db", str(db), "--lifecycle", "zendesk", "--once")
    assert status == 0
    assert out.startswith("fired 1 rules")
    assert wf.get(t.id).state == "closed"


APP = """
import ticketflow as tf

def make_workflow():
    registry = tf.Registry()
    def note(message):
        with open("sent.log", "a") as out:
            out.write(message.kind + " " + message.ticket_id + "\\n")
    registry.add_notifier("requester_reminder", note)
    return [tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository("w.db"), registry=registry),
            tf.Workflow(tf.builtin("clickup"), tf.SQLiteRepository("w.db"))]
"""


def test_worker_with_app_delivers_through_the_apps_notifiers(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "helpdesk_app", raising=False)  # each test imports its own file
    (tmp_path / "helpdesk_app.py").write_text(APP)
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(tmp_path / "w.db"))
    t = wf.open(tf.Actor("c", roles={"requester"}), title="x", at=datetime(2020, 1, 1, tzinfo=UTC))
    wf.fire(t.id, "ask", tf.Actor("a", roles={"agent"}), comment="?", at=datetime(2020, 1, 1, tzinfo=UTC))
    status, out, _ = run(capsys, "worker", "--app", "helpdesk_app:make_workflow", "--once")
    assert status == 0
    assert out.splitlines()[0].startswith("zendesk, clickup: fired 3 rules")  # one Sweeper for the one store
    assert "delivered 2" in out.splitlines()[0]
    assert (tmp_path / "sent.log").read_text().split("\n")[:2] == [f"requester_reminder {t.id}"] * 2


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--app", "helpdesk_app"], "module:factory"),
        (["--app", "no_such_module_here:make"], "cannot import"),
        (["--app", "helpdesk_app:missing"], "has no 'missing'"),
        (["--app", "helpdesk_app:NOT_A_WORKFLOW"], "must return a Workflow"),
        (["--db", "x.db"], "--db and --lifecycle"),
        (["--app", "helpdesk_app:make_workflow", "--db", "x.db"], "not both"),
        (["--app", "helpdesk_app:make_workflow", "--interval", "0"], "'--interval': 0.0 is not in the range x>0"),
        (["--app", "helpdesk_app:make_workflow", "--interval", "-5"], "'--interval': -5.0 is not in the range x>0"),
    ],
)
def test_worker_says_what_is_wrong_with_its_app(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], problem: str
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "helpdesk_app", raising=False)  # each test imports its own file
    (tmp_path / "helpdesk_app.py").write_text(APP + "\nNOT_A_WORKFLOW = 42\n")
    status, _, err = run(capsys, "worker", *argv, "--once")
    assert status == 2
    assert problem in err


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


# -- one line, exit 1 (2 for usage), never a traceback: through CliRunner and a real process ----------


def _write_bad_files(tmp_path: Path) -> None:
    (tmp_path / "latin1.toml").write_bytes('id = "caf\xe9"\n'.encode("latin-1"))
    (tmp_path / "utf16.toml").write_bytes('id = "x"\n'.encode("utf-16"))
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text('{"not": "a ticket"}\n', encoding="utf-8")
    (tmp_path / "latin1.jsonl").write_bytes('{"title": "caf\xe9"}\n'.encode("latin-1"))


def _bad_inputs(tmp_path: Path, *, write: bool = True) -> dict[str, tuple[list[str], int, str]]:
    """name -> (argv, exit status, what the one line must say)."""
    if write:
        _write_bad_files(tmp_path)
    missing = str(tmp_path / "missing.db")
    fresh = str(tmp_path / "fresh.db")
    naive = ["calendar", "add", "2026-03-02T10:00", "2h"]
    return {
        "unknown lifecycle": (["show", "nosuchid"], 1, "neither a built-in lifecycle (clickup, devrev"),
        "not UTF-8": (["show", str(tmp_path / "latin1.toml")], 1, "latin1.toml"),
        "UTF-16": (["show", str(tmp_path / "utf16.toml")], 1, "utf16.toml"),
        "deeply nested": (["diagram", str(tmp_path / "deep.json")], 1, "deep.json"),
        "a folder": (["show", str(tmp_path)], 1, "cannot tell the format"),
        "huge duration": ([*naive[:3], "99999999999999h", "--timezone", "UTC"], 2, "DURATION"),
        "out-of-range duration": ([*naive[:3], "999999999d", "--timezone", "UTC"], 2, "DURATION"),
        "naive without zone": (naive, 2, "Invalid value for START"),
        "unknown zone": ([*naive, "--timezone", "Mars/Base"], 2, "--timezone"),
        "unknown holidays": ([*naive, "--holidays", "XX"], 2, "--holidays"),
        "bad hours": ([*naive, "--hours", "mon-fri"], 2, "--hours"),
        "missing argument": (["calendar", "add"], 2, "Missing argument 'START'"),
        "unknown command": (["shwo"], 2, "No such command 'shwo'"),
        "report on a missing file": (["sla", "report", "--db", missing, "--lifecycle", "zendesk"], 1, "missing.db"),
        "export of a missing file": (["export", "--db", missing], 1, "no such database file"),
        "worker on a missing file": (["worker", "--db", missing, "--lifecycle", "zendesk", "--once"], 1, "--create"),
        "bad --now": (["sla", "report", "--db", missing, "--lifecycle", "zendesk", "--now", "soon"], 2, "--now"),
        "import of a bad file": (["import", "--db", fresh, "--create", str(tmp_path / "bad.jsonl")], 1, "bad.jsonl"),
        "import of a non-UTF-8 file": (
            ["import", "--db", fresh, "--create", str(tmp_path / "latin1.jsonl")],
            1,
            "UTF-8",
        ),
        "import of a missing file": (
            ["import", "--db", fresh, "--create", str(tmp_path / "none.jsonl")],
            2,
            "none.jsonl",
        ),
    }


CASES = list(_bad_inputs(Path("unused"), write=False))


def _assert_one_clean_line(output: str, status: int, expected: tuple[list[str], int, str]) -> None:
    _, want_status, says = expected
    assert "Traceback" not in output
    assert output.count("\n") == 1, output
    assert output.startswith("Error: ")
    assert says in output
    assert status == want_status, output


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_through_clirunner(case: str, tmp_path: Path):
    expected = _bad_inputs(tmp_path)[case]
    result = CliRunner().invoke(cli, expected[0])
    assert isinstance(result.exception, SystemExit | None), result.exception  # not an uncaught error
    _assert_one_clean_line(result.output, result.exit_code, expected)
    assert not (tmp_path / "missing.db").exists()
    assert not (tmp_path / "fresh.db").exists()  # a failed import removes the file it created


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_in_a_real_process(case: str, tmp_path: Path):
    import subprocess
    import sys

    expected = _bad_inputs(tmp_path)[case]
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "ticketflow", *expected[0]], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.stdout == ""
    _assert_one_clean_line(done.stderr, done.returncode, expected)
    assert not (tmp_path / "fresh.db").exists()


def test_version_option():
    result = CliRunner().invoke(cli, ["--version"])
    assert (result.exit_code, result.output) == (0, f"ticketflow, version {tf.__version__}\n")


def test_calendar_options_go_before_or_after_the_command_and_naive_times_use_the_zone():
    runner = CliRunner()
    before = runner.invoke(cli, ["calendar", "--timezone", "America/New_York", "add", "2026-03-06T16:00", "2h"])
    after = runner.invoke(cli, ["calendar", "add", "2026-03-06T16:00", "2h", "--timezone", "America/New_York"])
    assert before.output == after.output == "2026-03-09T10:00:00-04:00\n"
    # the command's own option wins over the group's
    both = runner.invoke(
        cli, ["calendar", "--timezone", "UTC", "add", "2026-03-06T16:00", "2h", "--timezone", "Asia/Tokyo"]
    )
    assert both.output == "2026-03-09T10:00:00+09:00\n"


def test_calendar_holidays_take_a_region():
    runner = CliRunner()
    lincoln = ["calendar", "open", "2026-02-12T10:00", "--timezone", "America/New_York"]  # a New York State holiday
    assert runner.invoke(cli, [*lincoln, "--holidays", "US"]).output.startswith("open until 2026-02-12T17:00")
    assert runner.invoke(cli, [*lincoln, "--holidays", "US-NY"]).output.startswith("closed until 2026-02-13T09:00")


def test_database_paths_that_do_not_exist_are_refused_unless_created(tmp_path: Path):
    runner = CliRunner()
    db = tmp_path / "new.db"
    refused = runner.invoke(cli, ["worker", "--db", str(db), "--lifecycle", "zendesk", "--once"])
    assert (refused.exit_code, db.exists()) == (1, False)
    created = runner.invoke(cli, ["worker", "--db", str(db), "--lifecycle", "zendesk", "--once", "--create"])
    assert (created.exit_code, db.exists()) == (0, True)
    assert runner.invoke(cli, ["sla", "report", "--db", str(db), "--lifecycle", "zendesk"]).output.startswith(
        "0 tickets"
    )


def test_a_closed_pipe_stops_export_quietly(tmp_path: Path):
    import subprocess
    import sys

    db = tmp_path / "many.db"
    repository = tf.SQLiteRepository(db)
    wf = tf.Workflow(tf.builtin("zendesk"), repository)
    customer = tf.Actor("c", roles={"requester"})
    for i in range(400):  # well past a pipe's buffer
        wf.open(customer, title=f"ticket {i} " + "x" * 200, at=datetime(2026, 3, 2, tzinfo=UTC))
    repository.close()
    process = subprocess.Popen(  # noqa: S603 - `ticketflow export | head -1`
        [sys.executable, "-m", "ticketflow", "export", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        assert process.stdout.readline().startswith(b"{")
        process.stdout.close()  # the reader goes away
        status = process.wait(timeout=60)
        err = process.stderr.read()
    finally:
        process.stderr.close()
        if process.poll() is None:  # pragma: no cover - only if the wait timed out
            process.kill()
            process.wait()
    assert (status, err) == (141, b"")  # what `yes | head` gives: stopped by the closed pipe, nothing said


def test_extension_files_are_validated_shown_and_drawn():
    runner = CliRunner()
    path = str(EXAMPLES / "extend_builtin.toml")
    assert runner.invoke(cli, ["validate", path]).output.endswith("ok (our_helpcenter, 7 states, 8 transitions)\n")
    shown = runner.invoke(cli, ["show", path])
    assert shown.exit_code == 0
    assert "escalate" in shown.output
    assert "timer solved_auto_close_24h" in shown.output
    drawn = runner.invoke(cli, ["diagram", path, "--format", "dot"])
    assert '"escalated"' in drawn.output


def test_show_lists_timers_and_diagrams_draw_them_dotted():
    runner = CliRunner()
    shown = runner.invoke(cli, ["show", "zendesk"]).output
    assert "timer pending_auto_close_7d      in pending after 7d: close, tag no_response" in shown
    dot = runner.invoke(cli, ["diagram", "zendesk", "--format", "dot"]).output
    assert '"pending" -> "closed" [label="timer 7d: close, tag no_response", style=dotted];' in dot
    assert '"pending" -> "pending" [label="timer 24h: notify requester_reminder", style=dotted];' in dot
    mermaid = runner.invoke(cli, ["diagram", "zendesk"]).output
    assert "    solved --> closed: ⏱ timer 24h: close" in mermaid


def test_validate_reports_every_problem_of_a_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'id = "x"\ninitial = "a"\ncolour = "red"\n'
        '[states.a]\ngroop = "open"\n[states.b]\nterminal = true\n'
        '[[transitions]]\ntrigger = "go"\nsource = "a"\ndest = "nowhere"\n'
        '[[transitions]]\ntrigger = "finish"\nsource = "a"\ndest = "b"\n'
        '[[transitions]]\ntrigger = "oops"\nsource = "a"\ndest = "zzz"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines == [
        f"{bad}:colour: unknown key; known keys: " + lines[0].split("known keys: ")[1],
        f"{bad}:states.a.groop: unknown key; did you mean 'group'?",
        f"{bad}:transitions[0].dest: unknown state 'nowhere'; known: a, b",
        f"{bad}:transitions[2].dest: unknown state 'zzz'; known: a, b",  # numbered as in the file
    ]


def test_validate_stops_after_a_limit(tmp_path: Path):
    bad = tmp_path / "many.toml"
    body = 'id = "x"\ninitial = "a"\n[states.a]\n[states.b]\nterminal = true\n'
    body += '[[transitions]]\ntrigger = "finish"\nsource = "a"\ndest = "b"\n'
    body += "".join(f'[[transitions]]\ntrigger = "t{i}"\nsource = "a"\ndest = "nowhere{i}"\n' for i in range(30))
    bad.write_text(body, encoding="utf-8")
    lines = CliRunner().invoke(cli, ["validate", str(bad)]).output.splitlines()
    assert len(lines) == 21
    assert lines[-1] == f"{bad}: stopped after 20 problems"
    assert lines[19] == f"{bad}:transitions[20].dest: unknown state 'nowhere19'; known: a, b"


def test_demo_is_deterministic_and_its_report_command_reproduces_its_numbers(tmp_path: Path):
    import os
    import subprocess
    import sys

    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--db", str(tmp_path / "a.db")])
    assert first.exit_code == 0, first.output
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # set order differs between the two runs
    second = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "ticketflow", "demo", "--db", str(tmp_path / "b.db")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=300,
    )

    def summary(out: str) -> list[str]:
        return [line for line in out.splitlines() if line.startswith("  ") or line.endswith("tickets")]

    assert summary(first.output) == summary(second.stdout)
    zendesk = first.output.split("\nzendesk: ")[1].split("\n\n")[0].splitlines()
    sla_lines = [line.strip().removeprefix("SLA ") for line in zendesk if line.strip().startswith("SLA ")]
    # policy order, each target naming the tickets it is for
    assert sla_lines[0].startswith("first_response [category=question] within 1:00:00: ")
    assert sla_lines[1].startswith("first_response [otherwise] within 8:00:00: ")
    assert sla_lines[2].startswith("next_reply within 8:00:00: ")
    command = first.output.split("the zendesk SLA lines above, again: ticketflow ")[1].split("\n")[0].split()
    report = runner.invoke(cli, command)
    assert report.exit_code == 0, report.output
    for line in sla_lines:
        assert f"  {line}  median" in report.output
    assert "breaches by assignee: unassigned: " in report.output
    assert "None" not in report.output


# -- calendar show ----------------------------------------------------------------------------

CALENDAR_TOML = """
[calendar]
timezone = "America/New_York"
hours = { mon-fri = ["09:00-17:00"] }
holidays = { country = "US", subdiv = "NY" }

[[calendar.rules]]
name = "maintenance"
rrule = "FREQ=MONTHLY;BYDAY=1MO"
start = 2026-01-01
close = ["09:00-11:00"]
"""


def test_calendar_show_prints_open_windows_and_explains_an_instant(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    path = tmp_path / "office.toml"
    path.write_text(CALENDAR_TOML)
    status, out, _ = run(
        capsys,
        "calendar",
        "show",
        str(path),
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-10",
        "--explain",
        "2026-03-02T10:00",
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == (
        "2026-03-02T10:00:00-05:00: closed (rule 'maintenance' closes 09:00-11:00 on 2026-03-02); "
        "closed from 2026-02-27T17:00:00-05:00 until 2026-03-02T11:00:00-05:00"
    )
    assert lines[2] == "  Mon 2026-03-02  11:00-17:00       EST   6:00"
    assert lines[-2] == "  Mon 2026-03-09  09:00-17:00       EDT   8:00"
    assert lines[-1] == "open 46:00 from 2026-03-01T00:00:00-05:00 to 2026-03-10T00:00:00-04:00"


def test_calendar_show_reads_an_sla_calendar_by_name_and_the_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    import runpy

    path = tmp_path / "regional.toml"
    path.write_text(runpy.run_path(str(EXAMPLES / "regional_sla.py"))["LIFECYCLE"])
    status, out, _ = run(capsys, "calendar", "show", f"{path}:sydney", "--from", "2026-03-06", "--to", "2026-03-07")
    assert (status, out.splitlines()[1]) == (0, "  Fri 2026-03-06  09:00-17:00       AEDT  8:00")
    # Without CAL: the options; a night across the spring-forward change holds 7 real hours.
    night = ["--timezone", "Europe/Berlin", "--hours", "mon-sun=22:00-06:00"]
    status, out, _ = run(capsys, "calendar", "show", *night, "--from", "2026-03-28T12:00", "--to", "2026-03-29T12:00")
    assert out.splitlines()[1] == "  Sat 2026-03-28  22:00-06:00 (+1d) CET   7:00"
    status, out, _ = run(capsys, "calendar", "show", str(path) + ":sydney", "--from", "2026-03-06", "--ics")
    assert out.startswith("BEGIN:VCALENDAR")
    assert out.count("BEGIN:VEVENT") == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["{path}:paris", "--from", "2026-03-01"],
            "Invalid value for CAL: {path}: no SLA calendar 'paris'; known: berlin",
        ),
        (["{path}", "--from", "2026-03-01"], "no [calendar] table in it"),
        (["{path}:sydney", "--from", "2026-03-05", "--to", "2026-03-01"], "Invalid value for --to"),
        (["{path}:sydney", "--from", "someday"], "Invalid value for --from: 'someday' is not an ISO datetime"),
    ],
)
def test_calendar_show_refuses_bad_input_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
):
    import runpy

    path = tmp_path / "regional.toml"
    path.write_text(runpy.run_path(str(EXAMPLES / "regional_sla.py"))["LIFECYCLE"])
    status, _, err = run(capsys, "calendar", "show", *(a.format(path=path) for a in argv))
    assert (status, err.count("\n")) == (2, 1)
    assert message.format(path=path) in err


def test_calendar_show_names_a_bad_rule(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(CALENDAR_TOML.replace("BYDAY=1MO", "BYDAY=1XX"))
    status, _, err = run(capsys, "calendar", "show", str(path), "--from", "2026-03-01")
    assert status == 2
    assert "calendar.rules[0].rrule: cannot read 'FREQ=MONTHLY;BYDAY=1XX'" in err


def test_help_texts_show_no_rst_markup():
    runner = CliRunner()

    def walk(command: object, argv: list[str]) -> None:
        import click

        result = runner.invoke(cli, [*argv, "--help"])
        assert result.exit_code == 0, (argv, result.output)
        assert "`" not in result.output, (argv, result.output)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*argv, name])

    walk(cli, [])
