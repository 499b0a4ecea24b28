"""ticketflow.mail over real SMTP: the receiver, the SMTP notifier, Maildirs and the IMAP poller."""

from __future__ import annotations

import hashlib
import imaplib
import mailbox
import smtplib
import socket
import ssl
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

import ticketflow as tf
from ticketflow.mail import (
    DEFAULT_TEMPLATES,
    ImapPoller,
    MailDesk,
    MailServer,
    MailTemplate,
    MemoryMessageIds,
    SmtpNotifier,
    SQLiteMessageIds,
    ingest_path,
)

from .test_mail import CORPUS, corpus, mail, zendesk_mail

SUPPORT = "Support <support@example.com>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Smarthost:
    """The team's outgoing SMTP server: keeps every message it is given."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.received.append(envelope)
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret", handled=False)  # not handled: the server answers 535

    def messages(self) -> list[EmailMessage]:
        found = []
        for envelope in self.received:
            parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found


@pytest.fixture
def smarthost() -> Iterator[tuple[Smarthost, int]]:
    host = Smarthost()
    port = free_port()
    controller = Controller(
        host,
        hostname="127.0.0.1",
        port=port,
        authenticator=host.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield host, port
    finally:
        controller.stop()


def crlf(raw: bytes) -> bytes:
    """The message with CRLF line ends, as an MTA sends it (the corpus files are stored with LF)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send(port: int, raw: bytes, sender: str = "dana@example.org") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(sender, ["support@example.com"], crlf(raw))


def test_end_to_end_mail_opens_a_ticket_confirms_threads_the_reply_and_drops_the_auto_reply(
    tmp_path: Path, smarthost: tuple[Smarthost, int]
):
    outgoing, smtp_port = smarthost
    wf = tf.Workflow(zendesk_mail(), repository=tf.SQLiteRepository(tmp_path / "tickets.db"))
    store = SQLiteMessageIds(tmp_path / "tickets.db")
    desk = MailDesk(wf, store=store)
    SmtpNotifier(sender=SUPPORT, store=store, host="127.0.0.1", port=smtp_port).register(wf.registry)
    with MailServer(desk, port=free_port()) as server:
        # 1. the requester's mail reaches the receiver over SMTP and opens a ticket
        send(server.port, corpus("01_gmail_new_request.eml"))
        assert wf.get("ZD-1").title == "Printer on floor 3 is jammed"

        # 2. the confirmation goes out through the SMTP notifier, threaded to her mail
        assert wf.deliver() == 1
        (confirmation,) = outgoing.messages()
        assert confirmation["Subject"] == "[ZD-1] Printer on floor 3 is jammed"
        assert confirmation["To"] == "dana@example.org"
        assert confirmation["In-Reply-To"] == "<CAJx8R2fQ1vN0d3xU9Lr2=7hHkKp3PZ@mail.gmail.com>"
        assert confirmation["References"] == "<CAJx8R2fQ1vN0d3xU9Lr2=7hHkKp3PZ@mail.gmail.com>"
        assert confirmation["Auto-Submitted"] == "auto-replied"
        assert "Your ticket number is ZD-1." in confirmation.get_content()
        sent_id = confirmation["Message-ID"]

        # 3. her reply to the confirmation (no key in the subject) becomes a comment on the same ticket
        reply = mail(
            f"From: Dana <dana@example.org>\nTo: support@example.com\nSubject: Re: your request\n"
            f"Message-ID: <dana-reply@example.org>\nIn-Reply-To: {sent_id}\nReferences: {sent_id}",
            "Second floor too.\n\nOn Mon, Nov 30, 2026 at 10:05 AM Support <support@example.com> wrote:\n> old\n",
        )
        send(server.port, reply)
        assert wf.history("ZD-1")[-1].comment == tf.Comment("dana@example.org", "Second floor too.")

        # 4. an auto-reply to the confirmation is dropped: no comment, no mail back
        out_of_office = mail(
            f"From: Dana <dana@example.org>\nSubject: Automatic reply: [ZD-1] Printer\n"
            f"Message-ID: <ooo@example.org>\nIn-Reply-To: {sent_id}\nAuto-Submitted: auto-replied",
            "I am out of the office.\n",
        )
        send(server.port, out_of_office)
        assert len(wf.history("ZD-1")) == 2
        assert wf.deliver() == 0
        assert len(outgoing.received) == 1

    assert [(o.action, o.ticket_id, o.rule) for o in server.handler.outcomes] == [
        ("opened", "ZD-1", "new"),
        ("commented", "ZD-1", "in_reply_to"),
        ("dropped", None, "automatic"),
    ]
    assert [(r.direction, r.action, r.rule) for r in desk.thread("ZD-1")] == [
        ("in", "opened", "new"),
        ("out", "sent", "ticket.opened"),
        ("in", "commented", "in_reply_to"),
    ]


def test_lmtp_receiver_answers_and_ingests(tmp_path: Path):
    wf = tf.Workflow(zendesk_mail())
    with (
        MailServer(MailDesk(wf), port=free_port(), lmtp=True) as server,
        smtplib.LMTP("127.0.0.1", server.port) as lmtp,
    ):
        refused = lmtp.sendmail("dana@example.org", ["support@example.com"], crlf(corpus("01_gmail_new_request.eml")))
    assert refused == {}
    assert wf.get("ZD-1").requester == "dana@example.org"


def test_the_receiver_answers_451_when_a_store_fails_so_the_mta_retries(tmp_path: Path):
    class BrokenStore(MemoryMessageIds):
        def record(self, record: Any, /) -> None:
            raise OSError("disk full")

    desk = MailDesk(tf.Workflow(zendesk_mail()), store=BrokenStore())
    with MailServer(desk, port=free_port()) as server, pytest.raises(smtplib.SMTPDataError) as refused:
        send(server.port, corpus("01_gmail_new_request.eml"))
    assert refused.value.smtp_code == 451


def test_notifier_logs_in_and_stamps_the_threading_headers(smarthost: tuple[Smarthost, int]):
    outgoing, port = smarthost
    store = MemoryMessageIds()
    notifier = SmtpNotifier(
        sender=SUPPORT,
        store=store,
        host="127.0.0.1",
        port=port,
        username="desk",
        password="s3cret",  # noqa: S106 - the test server's
    )
    message = tf.OutboxMessage(
        "ZD-7:opened", "ZD-7", "ticket.opened", {"key": "ZD-7", "title": "Café", "to": "dana@example.org"},
        datetime(2026, 11, 30, tzinfo=UTC),
    )  # fmt: skip
    notifier(message)
    notifier(message)  # a retried delivery sends the same Message-ID: receivers drop the copy
    assert outgoing.logins == [(b"desk", b"s3cret")] * 2
    first, second = outgoing.messages()
    assert first["Message-ID"] == second["Message-ID"] == f"<{notifier.message_id(message)}>"
    assert first["Subject"] == "[ZD-7] Café"
    assert "In-Reply-To" not in first  # nothing received for ZD-7 yet
    assert store.ticket_for([notifier.message_id(message)]) == "ZD-7"
    sent = store.find(notifier.message_id(message))
    assert sent is not None
    assert sent.recipients == ("dana@example.org",)  # a bounce is matched to these


def test_notifier_message_ids_cannot_be_derived_from_the_outbox_key():
    message = tf.OutboxMessage("ZD-1:opened", "ZD-1", "ticket.opened", {}, datetime(2026, 11, 30, tzinfo=UTC))
    store = MemoryMessageIds()
    first = SmtpNotifier(sender=SUPPORT, store=store, secret="from-the-config")  # noqa: S106 - a test value
    again = SmtpNotifier(sender=SUPPORT, store=store, secret=b"from-the-config")
    other = SmtpNotifier(sender=SUPPORT, store=store, secret="another-deployment")  # noqa: S106 - a test value
    unkeyed = SmtpNotifier(sender=SUPPORT, store=store)
    guessed = hashlib.sha256(b"ZD-1:opened").hexdigest()
    ids = [n.message_id(message) for n in (first, again, other, unkeyed)]
    assert ids[0] == ids[1]  # the same secret: the same id after a restart
    assert len(set(ids[1:])) == 3
    assert all(guessed[:24] not in i for i in ids)
    assert unkeyed.message_id(message) == ids[3]  # a retry by the same notifier sends the same id
    with pytest.raises(ValueError, match="secret"):
        SmtpNotifier(sender=SUPPORT, store=store, secret="")


@pytest.fixture
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for 127.0.0.1 and a client context trusting it (a test CA, made by trustme)."""
    import trustme

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


def opened_message() -> tf.OutboxMessage:
    payload = {"key": "ZD-1", "title": "Printer", "to": "dana@example.org"}
    return tf.OutboxMessage("ZD-1:opened", "ZD-1", "ticket.opened", payload, datetime.now(UTC))


def test_notifier_upgrades_with_starttls_before_logging_in(tls: tuple[ssl.SSLContext, ssl.SSLContext]):
    server_context, client_context = tls
    host, port = Smarthost(), free_port()
    controller = Controller(
        host, hostname="127.0.0.1", port=port, tls_context=server_context, require_starttls=True,
        authenticator=host.authenticate,
    )  # fmt: skip
    controller.start()
    try:
        plain = SmtpNotifier(sender=SUPPORT, store=MemoryMessageIds(), host="127.0.0.1", port=port)
        with pytest.raises(smtplib.SMTPException):
            plain(opened_message())  # the server requires STARTTLS: nothing goes out in the clear
        secure = SmtpNotifier(
            sender=SUPPORT, store=MemoryMessageIds(), host="127.0.0.1", port=port, starttls=True,
            ssl_context=client_context, username="desk", password="s3cret",  # noqa: S106 - the test server's
        )  # fmt: skip
        secure(opened_message())
    finally:
        controller.stop()
    assert host.logins == [(b"desk", b"s3cret")]
    assert [m["Subject"] for m in host.messages()] == ["[ZD-1] Printer"]


def test_notifier_speaks_smtps(tls: tuple[ssl.SSLContext, ssl.SSLContext]):
    server_context, client_context = tls
    host, port = Smarthost(), free_port()
    controller = Controller(host, hostname="127.0.0.1", port=port, ssl_context=server_context)
    controller.start()
    try:
        SmtpNotifier(
            sender=SUPPORT, store=MemoryMessageIds(), host="127.0.0.1", port=port, use_ssl=True,
            ssl_context=client_context,
        )(opened_message())  # fmt: skip
    finally:
        controller.stop()
    assert [m["To"] for m in host.messages()] == ["dana@example.org"]


def test_notifier_refused_login_raises_so_delivery_is_retried(smarthost: tuple[Smarthost, int]):
    _, port = smarthost
    wf = tf.Workflow(zendesk_mail())
    notifier = SmtpNotifier(sender=SUPPORT, store=MemoryMessageIds(), host="127.0.0.1", port=port, username="desk",
                            password="wrong")  # fmt: skip  # noqa: S106 - a wrong password on purpose
    notifier.register(wf.registry)
    wf.open(tf.Actor("dana@example.org", roles={"requester"}), title="Printer")
    assert wf.deliver() == 0
    assert [m.key for m in wf.repository.pending_messages() if m.kind == "ticket.opened"] == ["ZD-1:opened"]


def test_notifier_templates_per_kind_with_html_and_the_key_in_the_subject(smarthost: tuple[Smarthost, int]):
    outgoing, port = smarthost
    templates = {
        **DEFAULT_TEMPLATES,
        "requester_reminder": MailTemplate(
            "Still there? {title}", "Hello,\n\nany news on {title}?\n", html="<p>Any news on <b>{title}</b>?</p>"
        ),
    }
    notifier = SmtpNotifier(sender=SUPPORT, store=MemoryMessageIds(), port=port, host="127.0.0.1", templates=templates)
    payload = {"ticket_id": "ZD-3", "rule": "pending_reminder_24h", "title": "<VPN>", "to": "lee@example.org"}
    notifier(tf.OutboxMessage("ZD-3:r:1:requester_reminder", "ZD-3", "requester_reminder", payload, datetime.now(UTC)))
    (sent,) = outgoing.messages()
    assert sent["Subject"] == "[ZD-3] Still there? <VPN>"
    assert sent["Auto-Submitted"] == "auto-generated"
    assert sent.get_body(("html",)).get_content().strip() == "<p>Any news on <b>&lt;VPN&gt;</b>?</p>"  # type: ignore[union-attr]
    assert "any news on <VPN>?" in sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_message_without_an_address_is_not_mailed():
    notifier = SmtpNotifier(sender=SUPPORT, store=MemoryMessageIds(), port=1)
    message = tf.OutboxMessage("k", "ZD-1", "ticket.opened", {"key": "ZD-1", "to": "agent-7"}, datetime.now(UTC))
    assert notifier.render(message) is None
    notifier(message)  # nothing to send, so nothing to retry: no connection is attempted


def test_the_refusal_mail_answers_the_refused_message(smarthost: tuple[Smarthost, int]):
    from .test_mail import SIGNED, interfacing_fields, strict_interfacing

    outgoing, port = smarthost
    wf = tf.Workflow(strict_interfacing())
    desk = MailDesk(wf, fields_for=interfacing_fields, authserv_id="mx.example.com", require_auth=("dkim",))
    SmtpNotifier(sender=SUPPORT, store=desk.store, host="127.0.0.1", port=port).register(wf.registry)
    desk.ingest(mail(SIGNED.format(server="mx.example.com", dkim="fail")))
    assert wf.deliver() == 1
    (refusal,) = outgoing.messages()
    assert (refusal["To"], refusal["Subject"], refusal["In-Reply-To"]) == (
        "ops@client.example",
        "Re: Error 500 on export",
        "<s1@c.example>",
    )
    assert "Please use the portal channel instead." in refusal.get_content()
    assert refusal["Auto-Submitted"] == "auto-replied"


def test_ingest_path_reads_a_maildir_and_a_second_run_changes_nothing(tmp_path: Path):
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for name in ("01_gmail_new_request.eml", "07_html_only_new.eml", "11_mailing_list.eml"):
        box.add(corpus(name))
    wf = tf.Workflow(zendesk_mail())
    desk = MailDesk(wf)
    assert sorted(o.action for o in ingest_path(desk, tmp_path / "Maildir")) == ["dropped", "opened", "opened"]
    assert {o.action for o in ingest_path(desk, tmp_path / "Maildir")} == {"duplicate"}
    assert [o.action for o in ingest_path(desk, CORPUS / "13_iso8859_new_encoded_subject.eml")] == ["opened"]
    assert len(wf.find().tickets) == 3


class FakeImap:
    """An IMAP server's answers, as imaplib returns them (there is no IMAP server on the test machine)."""

    def __init__(self, messages: dict[str, bytes]) -> None:
        self.messages = messages
        self.seen: set[str] = set()
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, host: str, port: int) -> FakeImap:
        self.calls.append(("connect", host, str(port)))
        return self

    def login(self, user: str, password: str) -> tuple[str, list[bytes]]:
        self.calls.append(("login", user))
        return "OK", [b"logged in"]

    def select(self, mailbox: str) -> tuple[str, list[bytes]]:
        return "OK", [str(len(self.messages)).encode()]

    def uid(self, command: str, *args: str) -> tuple[str, list[Any]]:
        if command == "SEARCH":
            return "OK", [" ".join(u for u in self.messages if u not in self.seen).encode()]
        if command == "FETCH":
            return "OK", [(f"{args[0]} (UID {args[0]} BODY[] {{1}}".encode(), self.messages[args[0]]), b")"]
        self.seen.add(args[0])  # STORE +FLAGS (\Seen)
        return "OK", []

    def logout(self) -> tuple[str, list[bytes]]:
        return "BYE", []


class FolderImap(FakeImap):
    """A server with named folders: a SELECT names one as an IMAP string (quoted when it has a space), or gets NO."""

    def __init__(self, messages: dict[str, bytes], folders: set[str]) -> None:
        super().__init__(messages)
        self.folders = folders
        self.selected: list[str] = []

    def select(self, mailbox: str) -> tuple[str, list[bytes]]:
        self.selected.append(mailbox)
        name = mailbox[1:-1] if mailbox.startswith('"') else mailbox
        if " " in mailbox and not mailbox.startswith('"'):
            raise imaplib.IMAP4.error(f"SELECT command error: BAD [b'Could not parse command: SELECT {mailbox}']")
        if name not in self.folders:
            return "NO", [b"[NONEXISTENT] Unknown Mailbox: " + name.encode()]
        return "OK", [str(len(self.messages)).encode()]


def test_imap_poller_reads_a_folder_with_a_space_and_names_one_that_does_not_exist():
    server = FolderImap({"7": corpus("01_gmail_new_request.eml")}, {"INBOX", "Support Requests"})
    desk = MailDesk(tf.Workflow(zendesk_mail()))
    login = {"host": "imap.example.com", "username": "support", "password": "pw", "connect": server}
    poller = ImapPoller(desk, mailbox="Support Requests", **login)
    assert [o.action for o in poller.poll_once()] == ["opened"]
    assert server.selected == ['"Support Requests"']
    typo = ImapPoller(desk, mailbox="Suport", **login)
    with pytest.raises(
        imaplib.IMAP4.error, match=r"cannot select mailbox 'Suport' on imap\.example\.com: NO \[NONEXISTENT\]"
    ):
        typo.poll_once()  # was: command SEARCH illegal in state AUTH


def test_imap_poller_run_retries_after_a_store_failure_and_the_message_stays_unread():
    server = FakeImap({"7": corpus("01_gmail_new_request.eml")})
    desk = MailDesk(tf.Workflow(zendesk_mail()))
    poller = ImapPoller(desk, host="imap.example.com", username="support", password="pw", connect=server)  # noqa: S106
    calls = []

    def ingest(raw: bytes, *, at: datetime | None = None) -> Any:
        calls.append(raw)
        if len(calls) == 1:
            raise tf.StorageError("database is locked; nothing was written")
        poller.stop()  # the second poll takes it: stop after it
        return MailDesk.ingest(desk, raw, at=at)

    desk.ingest = ingest  # type: ignore[method-assign]
    poller.run(interval=0)  # returned: the failure did not end the loop (it used to raise out of run)
    assert len(calls) == 2
    assert server.seen == {"7"}  # marked read only once it was ingested
    assert desk.workflow.repository.count() == 1


def test_imap_poller_ingests_unread_mail_and_marks_it_read():
    server = FakeImap({"7": corpus("01_gmail_new_request.eml"), "8": corpus("09_outlook_out_of_office.eml")})
    wf = tf.Workflow(zendesk_mail())
    poller = ImapPoller(MailDesk(wf), host="imap.example.com", username="support", password="pw", connect=server)  # noqa: S106
    assert [o.action for o in poller.poll_once()] == ["opened", "dropped"]
    assert server.seen == {"7", "8"}
    assert poller.poll_once() == []
    assert server.calls[0] == ("connect", "imap.example.com", "993")


# -- the command line -----------------------------------------------------------------------


def test_cli_mail_ingest_from_stdin_is_idempotent_and_reports_each_decision(tmp_path: Path):
    from click.testing import CliRunner

    from ticketflow.cli import cli

    db = str(tmp_path / "t.db")
    args = [
        "mail",
        "ingest",
        "--db",
        db,
        "--create",
        "--lifecycle",
        "zendesk",
        "--quarantine",
        str(tmp_path / "kept"),
        "-",
    ]
    first = CliRunner().invoke(cli, args, input=corpus("01_gmail_new_request.eml"))
    again = CliRunner().invoke(cli, args, input=corpus("01_gmail_new_request.eml"))
    bad = CliRunner().invoke(cli, args, input=corpus("17_malformed_no_sender.eml"))
    assert (first.exit_code, again.exit_code, bad.exit_code) == (0, 0, 0)
    assert first.output.startswith("<CAJx8R2fQ1vN0d3xU9Lr2=7hHkKp3PZ@mail.gmail.com> opened ")
    assert " duplicate " in again.output
    assert "kept: unusable e-mail" in bad.output
    assert len(list((tmp_path / "kept").glob("*.eml"))) == 1
    assert tf.SQLiteRepository(db).count() == 1


def test_cli_mail_ingest_through_a_pipe_prints_no_notifier_warning_per_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    import logging
    import subprocess

    from click.testing import CliRunner

    from ticketflow.cli import cli

    args = ["mail", "ingest", "--db", str(tmp_path / "t.db"), "--create", "--lifecycle", "zendesk"]
    args += ["--quarantine", str(tmp_path / "kept"), "-"]
    # one process per message, as an MTA pipe runs it: stderr stays empty (the worker delivers, and warns)
    piped = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "ticketflow", *args],
        input=corpus("01_gmail_new_request.eml"),
        capture_output=True,
        check=False,
    )
    assert (piped.returncode, piped.stderr.decode()) == (0, "")
    assert b" opened " in piped.stdout
    with caplog.at_level(logging.DEBUG, logger="ticketflow.automation"):
        assert CliRunner().invoke(cli, args, input=corpus("07_html_only_new.eml")).exit_code == 0
        said = [(r.levelname, r.getMessage()) for r in caplog.records if "no notifier" in r.getMessage()]
        assert [level for level, _ in said] == ["DEBUG"]  # still there for whoever logs at debug
        caplog.clear()
        tf.Workflow(tf.builtin("zendesk"))  # a Workflow of the application's own still warns
        assert [r.levelname for r in caplog.records if "no notifier" in r.getMessage()] == ["WARNING"]


def test_cli_mail_ingest_exits_75_when_the_message_cannot_be_read_so_the_mta_retries(tmp_path: Path):
    from click.testing import CliRunner

    from ticketflow.cli import cli

    missing = tmp_path / "no-such-dir" / "message.eml"
    args = ["mail", "ingest", "--db", str(tmp_path / "t.db"), "--create", "--lifecycle", "zendesk", str(missing)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 75
    assert "could not ingest" in result.output


def test_cli_mail_serve_receives_over_smtp_until_sigterm(tmp_path: Path):
    import signal
    import subprocess
    import sys
    import time

    db, port = tmp_path / "t.db", free_port()
    command = [
        sys.executable,
        "-m",
        "ticketflow",
        "mail",
        "serve",
        "--db",
        str(db),
        "--create",
        "--lifecycle",
        "zendesk",
    ]
    server = subprocess.Popen(  # noqa: S603 - our own interpreter running our own command
        [*command, "--port", str(port), "--quarantine", str(tmp_path / "kept")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                send(port, corpus("07_html_only_new.eml"))
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert out.splitlines() == [
        f"SMTP on 127.0.0.1:{port} into SQLiteRepository({str(db)!r}); Ctrl-C to stop",
        "stopped",
    ]
    (ticket,) = tf.SQLiteRepository(db).find().tickets
    assert ticket.title == "VPN drops every 10 minutes"


def test_cli_mail_without_the_extra_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from click.testing import CliRunner

    from ticketflow.cli import cli

    monkeypatch.setitem(sys.modules, "ticketflow.mail", None)  # as if aiosmtpd & co. were not installed
    monkeypatch.delattr(tf, "mail")  # this test process imported it already
    args = ["mail", "ingest", "--db", str(tmp_path / "t.db"), "--create", "--lifecycle", "zendesk", "-"]
    result = CliRunner().invoke(cli, args, input=b"")
    assert result.exit_code == 1
    assert "the mail commands need the mail extra: pip install 'ticketflow[mail]'" in result.output
