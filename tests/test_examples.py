"""Every example under examples/ runs, and does what it says."""

import os
import runpy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import ticketflow as tf
from ticketflow.testing import LifecycleContract

from .conftest import EXAMPLES, ROOT


def test_custom_lifecycle_example_runs(capsys: pytest.CaptureFixture[str]):
    namespace = runpy.run_path(str(EXAMPLES / "custom_lifecycle.py"))
    ticket = namespace["main"]()
    out = capsys.readouterr().out
    assert ticket.state == "closed"
    assert ticket.version == 7
    assert "refused: " in out
    assert "(category)" in out
    assert "is immutable" in out
    assert out.count("stateDiagram-v2") == 1


def test_extend_builtin_example_runs(capsys: pytest.CaptureFixture[str]):
    namespace = runpy.run_path(str(EXAMPLES / "extend_builtin.py"))
    ours = namespace["main"]()
    out = capsys.readouterr().out
    assert ours.id == "our_helpcenter"
    assert "take" not in ours.triggers
    assert "escalated" in ours.states
    assert "solved tickets close after 3 days" in out
    assert "refused: " in out
    assert "escalated to tax-team: escalated" in out


def test_sla_example_runs_and_its_output_is_the_one_in_the_docs(capsys: pytest.CaptureFixture[str]):
    from .conftest import ROOT

    runpy.run_path(str(EXAMPLES / "sla_clocks.py"))["main"]()
    out = capsys.readouterr().out
    assert "due Mon 09 Mar 10:00  running  warned [0.5, 0.75]" in out
    assert out.strip() in (ROOT / "docs" / "sla.md").read_text()


def test_helpdesk_on_sqlite_example_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    report = runpy.run_path(str(EXAMPLES / "helpdesk_sqlite.py"))["main"](tmp_path / "helpdesk.db")
    out = capsys.readouterr().out
    assert "How do I export invoices?: closed" in out
    assert "Logo variants: closed" in out  # no answer: reminders, then auto-close
    assert out.count("e-mail to dana: reminder") == 4  # two pending tickets, two reminders each
    assert report.tickets == 3


def flask_app() -> tuple[Any, Any, Any]:
    example = runpy.run_path(str(EXAMPLES / "flask_app.py"))
    app = example["create_app"](tf.Workflow(tf.builtin("zendesk")), secret_key="test-secret-" + "x" * 32)

    def bearer(actor: tf.Actor) -> dict[str, str]:
        return {"Authorization": f"Bearer {example['issue_token'](app, actor)}"}

    return app, app.test_client(), bearer


def test_flask_example_fires_transitions_over_http():
    _, client, bearer = flask_app()
    customer = bearer(tf.Actor("dana", roles={"requester"}))
    agent = bearer(tf.Actor("sam", roles={"agent"}))
    created = client.post("/tickets", json={"title": "Logo", "fields": {"category": "question"}}, headers=customer)
    assert created.status_code == 201
    ticket_id = created.get_json()["id"]
    asked = client.post(f"/tickets/{ticket_id}/ask", json={"comment": "Which format?"}, headers=agent)
    assert asked.get_json()["state"] == "pending"
    refused = client.post(f"/tickets/{ticket_id}/close", headers=agent)
    assert (refused.status_code, refused.get_json()["error"]) == (403, "PermissionDenied")
    missing = client.post(f"/tickets/{ticket_id}/solve", headers=agent)
    assert (missing.status_code, missing.get_json()["error"]) == (422, "FieldError")
    assert client.get("/tickets/nope", headers=agent).status_code == 404
    client.post(f"/tickets/{ticket_id}/comment", json={"comment": "note"}, headers=agent)
    client.post(f"/tickets/{ticket_id}/comment", json={"comment": "psst", "visibility": "internal"}, headers=agent)
    shown = client.get(f"/tickets/{ticket_id}", headers=customer).get_json()
    assert shown["comments"] == ["Which format?", "note"]
    assert [t["id"] for t in client.get("/tickets", headers=customer).get_json()["tickets"]] == [ticket_id]


def test_flask_example_refuses_another_customer_and_anonymous_requests():
    _, client, bearer = flask_app()
    dana = bearer(tf.Actor("dana", roles={"requester"}))
    ticket_id = client.post("/tickets", json={"title": "Invoice"}, headers=dana).get_json()["id"]
    wf_before = client.get(f"/tickets/{ticket_id}", headers=dana).get_json()
    eve = bearer(tf.Actor("eve", roles={"requester"}))
    assert client.get(f"/tickets/{ticket_id}", headers=eve).status_code == 404  # as if it did not exist
    assert client.post(f"/tickets/{ticket_id}/comment", json={"comment": "hi"}, headers=eve).status_code == 404
    assert client.get("/tickets", headers=eve).get_json()["tickets"] == []
    token = bearer(tf.Actor("dana", roles={"agent"}))["Authorization"]
    forged = {"Authorization": token[:-2] + ("xy" if not token.endswith("xy") else "yx")}  # tampered with
    for headers in ({}, {"X-User": "dana", "X-Roles": "agent"}, {"Authorization": "Bearer nonsense"}, forged):
        response = client.get(f"/tickets/{ticket_id}", headers=headers)
        assert (response.status_code, response.get_json()["error"]) == (401, "Unauthenticated")
        assert client.post(f"/tickets/{ticket_id}/comment", json={"comment": "x"}, headers=headers).status_code == 401
    example = runpy.run_path(str(EXAMPLES / "flask_app.py"))
    other_app = example["create_app"](tf.Workflow(tf.builtin("zendesk")), secret_key="another-secret-" + "y" * 32)
    foreign = {"Authorization": f"Bearer {example['issue_token'](other_app, tf.Actor('dana', roles={'agent'}))}"}
    assert client.get(f"/tickets/{ticket_id}", headers=foreign).status_code == 401  # signed by another app
    assert client.get(f"/tickets/{ticket_id}", headers=dana).get_json() == wf_before  # nothing changed


@pytest.mark.skipif(not os.environ.get("TICKETFLOW_TEST_POSTGRES_URL"), reason="PostgreSQL TESTS SKIPPED: no URL")
def test_postgres_worker_example_sweeps(tmp_path: Path):
    import uuid

    url = os.environ["TICKETFLOW_TEST_POSTGRES_URL"]
    schema = f"tf_test_{uuid.uuid4().hex[:10]}"
    worker = runpy.run_path(str(EXAMPLES / "postgres_worker.py"))["make_worker"](url, schema)
    try:
        wf = worker.workflow
        t = wf.open(tf.Actor("c", roles={"requester"}), title="x", at=datetime(2020, 1, 1, tzinfo=UTC))
        wf.fire(t.id, "solve", tf.Actor("a", roles={"agent"}), comment="done", at=datetime(2020, 1, 1, tzinfo=UTC))
        report = worker.run_once()
        assert [e.meta["rule"] for e in report.result.fired] == ["solved_auto_close_24h"]
    finally:
        worker.workflow.repository.drop_schema()


def test_custom_lifecycle_properties_example_runs(capsys: pytest.CaptureFixture[str]):
    namespace = runpy.run_path(str(EXAMPLES / "custom_lifecycle_properties.py"))
    coverage = namespace["main"](max_examples=20)
    assert coverage.exercised["states"] == set(namespace["LIFECYCLE"].states)
    assert coverage.missing() == {}
    out = capsys.readouterr().out
    assert "states: 7/7 exercised" in out
    assert "timers: 1/1 exercised" in out
    assert issubclass(namespace["TestHelpdeskLifecycle"], LifecycleContract)


def test_regional_sla_example_picks_each_organisations_calendar(capsys: pytest.CaptureFixture[str]):
    namespace = runpy.run_path(str(EXAMPLES / "regional_sla.py"))
    clocks = namespace["main"]()
    out = capsys.readouterr().out
    calendars = {org: {c.metric: c.cycles[-1].calendar for c in found} for org, found in clocks.items()}
    assert calendars["acme"] == {"first_response": "berlin", "resolution": "berlin"}
    assert calendars["wombat"]["first_response"] == "sydney"
    assert calendars["initech"]["first_response"] == "new_york"
    assert calendars["moved"] == {"first_response": "berlin", "resolution": "new_york"}
    assert "acme     first_response  berlin    elapsed 0:00:00  due Mon 09 Mar 10:00 CET" in out
    assert "wombat   first_response  sydney    elapsed 0:00:00  due Mon 09 Mar 11:00 AEDT" in out
    assert (
        "moved    first_response  berlin    elapsed 1:30:00  due Mon 09 Mar 10:00 CET  met" in out
    )  # met: keeps due_at
    assert out.strip() in (ROOT / "docs" / "business-calendar.md").read_text()


def test_mail_desk_example_threads_the_reply_and_drops_the_auto_reply(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    desk = runpy.run_path(str(EXAMPLES / "mail_desk.py"))["main"](tmp_path)
    out = capsys.readouterr().out
    assert "sent to dana@example.org: [HD-1] Printer on floor 3 is jammed  (In-Reply-To <dana-1@example.org>)" in out
    assert "dana-2@example.org     commented  HD-1  in_reply_to" in out
    assert "dana-ooo@example.org   dropped    -     automatic" in out
    assert "dana@example.org: It is the one next to the kitchen." in out
    assert [r.action for r in desk.thread("HD-1")] == ["opened", "sent", "commented"]


def test_postgres_worker_example_without_an_argument_prints_its_usage():
    import subprocess
    import sys

    done = subprocess.run(  # noqa: S603
        [sys.executable, str(EXAMPLES / "postgres_worker.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "the following arguments are required: url" in done.stderr
    help_text = subprocess.run(  # noqa: S603
        [sys.executable, str(EXAMPLES / "postgres_worker.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert "postgresql+psycopg://user@host/db" in help_text.stdout


def test_every_example_is_run_by_a_test():
    # a new example without a test would rot unnoticed: each one must be named by some test module
    tests = "\n".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    assert [p.name for p in sorted(EXAMPLES.glob("*.py")) if p.name not in tests] == []


def test_builtin_wiring_example_gives_each_builtin_what_it_names(capsys: pytest.CaptureFixture[str]):
    assigned = runpy.run_path(str(EXAMPLES / "builtin_wiring.py"))["main"]()
    out = capsys.readouterr().out
    devrev_id = next(key for key in assigned if key not in ("CU-1", "SUP-1"))
    assert (assigned["CU-1"], assigned[devrev_id], assigned["SUP-1"]) == ("facets-poc-1", "cxe-exports", "am-alex")
    assert "@pm-pat: SUP-2 escalated as DEV-881" in out
