"""ticketflow.mail: reading, threading, quote stripping, loop guard and the desk's decisions."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import ticketflow as tf
from ticketflow.mail import (
    DirectoryQuarantine,
    InboundMail,
    MailDesk,
    MailError,
    MailRecord,
    MemoryAttachments,
    MemoryMessageIds,
    MessageIdStore,
    RateLimit,
    SQLiteMessageIds,
    authentication_results,
    automatic_reason,
    bounce_report,
    normalise_subject,
    parse_message,
    strip_reply,
)

CORPUS = Path(__file__).parent / "mail"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
AGENT = tf.Actor("sam", roles={"agent"})
SYSTEM = tf.Actor("system", roles={"system"})
CONFIRMATION_ID = "zd-1.opened@support.example.com"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def zendesk_mail() -> tf.Lifecycle:
    """The Zendesk-style built-in with human keys, so confirmations carry a ticket number."""
    return tf.builtin("zendesk").extend({"id": "zendesk_mail", "key_prefix": "ZD"})


def mail(headers: str, body: str = "Hello,\n\nplease help.\n") -> bytes:
    return (headers.strip() + "\n\n" + body).encode()


# -- the corpus: every message threads to the right ticket, and the rule is printed ------

# file, what ingesting it does, the ticket it goes to, the rule that matched
CORPUS_TABLE = [
    ("01_gmail_new_request.eml", "opened", "ZD-1", "new"),
    ("02_gmail_reply_threaded.eml", "commented", "ZD-1", "in_reply_to"),
    ("03_outlook_reply_key_in_subject.eml", "commented", "ZD-1", "subject_key"),
    ("04_apple_mail_reply_references.eml", "commented", "ZD-1", "in_reply_to"),
    ("05_thunderbird_plus_address.eml", "commented", "ZD-1", "plus_address"),
    ("06_outlook_german_reply_subject_only.eml", "commented", "ZD-1", "same_subject"),
    ("07_html_only_new.eml", "opened", "ZD-2", "new"),
    ("08_forwarded_inline.eml", "opened", "ZD-3", "new"),
    ("09_outlook_out_of_office.eml", "dropped", None, "automatic"),
    ("10_vacation_autoreply_precedence.eml", "dropped", None, "automatic"),
    ("11_mailing_list.eml", "dropped", None, "automatic"),
    ("12_bounce_dsn.eml", "bounce", "ZD-1", "in_reply_to"),
    ("13_iso8859_new_encoded_subject.eml", "opened", "ZD-4", "new"),
    ("14_iso2022jp_new.eml", "opened", "ZD-5", "new"),
    ("15_windows1252_mislabelled_with_attachment.eml", "commented", "ZD-2", "in_reply_to"),
    ("18_outlook_html_only_reply.eml", "commented", "ZD-2", "references"),
    ("16_reply_to_closed_ticket.eml", "follow_up", "ZD-6", "in_reply_to"),
    ("17_malformed_no_sender.eml", "kept", None, ""),
    ("01_gmail_new_request.eml", "duplicate", "ZD-1", "new"),
]


@pytest.fixture
def desk_run() -> tuple[tf.Workflow, MailDesk, list[tuple[str, object]]]:
    """Ingest the whole corpus in order, as one mailbox would deliver it."""
    wf = tf.Workflow(zendesk_mail())
    desk = MailDesk(wf, attachments=MemoryAttachments())
    outcomes = []
    for i, (name, *_) in enumerate(CORPUS_TABLE):
        at = T0 + timedelta(minutes=10 * i)
        if name.startswith("16_"):  # the agent solved ZD-1 and the system closed it: it is immutable now
            wf.fire("ZD-1", "solve", AGENT, comment="Replaced the fuser.", at=at)
            wf.fire("ZD-1", "close", SYSTEM, at=at)
        outcomes.append((name, desk.ingest(corpus(name), at=at)))
        if name.startswith("01_") and len(outcomes) == 1:
            # what the SMTP notifier records when it sends the confirmation
            desk.store.record(
                MailRecord(
                    CONFIRMATION_ID, "out", "ZD-1", "sent", "ticket.opened", at, recipients=("dana.old@example.org",)
                )
            )
    return wf, desk, outcomes


def test_corpus_threads_every_message_to_the_right_ticket(desk_run, capsys: pytest.CaptureFixture[str]):
    _wf, _desk, outcomes = desk_run
    rows = []
    with capsys.disabled():
        print(f"\n{'message':<50} {'action':<10} {'ticket':<12} rule")
        for (name, outcome), (_, action, ticket, rule) in zip(outcomes, CORPUS_TABLE, strict=True):
            print(f"{name:<50} {outcome.action:<10} {outcome.ticket_id or '-':<12} {outcome.rule or '-'}")
            rows.append(((outcome.action, outcome.ticket_id, outcome.rule), (action, ticket, rule)))
    assert [expected for _, expected in rows] == [actual for actual, _ in rows]


def comments(wf: tf.Workflow, ticket_id: str) -> list[tuple[str, str, str]]:
    return [(e.actor.id, e.comment.visibility, e.comment.body) for e in wf.history(ticket_id) if e.comment]


def test_corpus_comments_are_the_new_text_without_quotes_or_signatures(desk_run):
    wf, _desk, _ = desk_run
    bodies = [body for actor, _, body in comments(wf, "ZD-1") if actor == "dana@example.org"]
    assert bodies == [
        "Hi,\n\nthe printer on floor 3 jams on every second page since this morning.\n"
        "We tried another paper tray, same thing.",
        "It is a HP LaserJet M507, serial CNB3K12345.",  # Gmail: "On ... wrote:" and the quote gone
        "The error light is blinking orange now.",  # Outlook: signature and "From: ... Sent:" block gone
        "Forgot to say: it is the one next to the kitchen.",  # Apple Mail: "Sent from my iPhone" gone
        "Photo of the display is on the way, the gateway here strips headers.",  # Thunderbird
        "Er druckt wieder, danke! Sie können das Ticket schließen.",  # German Outlook, ISO-8859-1
    ]


def test_corpus_html_charsets_forwards_and_attachments_are_read(desk_run):
    wf, desk, _ = desk_run
    (_, _, vpn), (_, _, screenshot), (_, _, html_reply) = comments(wf, "ZD-2")
    # HTML-only Outlook reply: the "From: ... Sent:" block is gone; a signature with no marker stays
    assert html_reply == "It works on the cable, only Wi\u2013Fi drops.\n\nMorgan Lee\nIT | Contoso"
    assert "* Windows 11" in vpn
    assert "VPN drops every 10 minutes" in vpn
    assert "<" not in vpn
    assert screenshot == "Here is the screenshot \u2013 the client says \u201ctunnel reset\u201d."  # cp1252 as us-ascii
    assert "reverse-charge" in comments(wf, "ZD-3")[0][2]  # a forward keeps what it forwards
    assert wf.get("ZD-4").title == "Drucker im Erdgeschoß stört"  # encoded-word subject
    assert comments(wf, "ZD-4")[0][2] == "Der Drucker im Erdgeschoß zeigt »Papierstau«, obwohl kein Papier drin ist."
    assert wf.get("ZD-5").title == "VPNの接続が切れます"  # ISO-2022-JP
    attachment = next(r for r in desk.thread("ZD-2") if r.attachments).attachments[0]
    assert (attachment.filename, attachment.content_type, attachment.size, attachment.content_id) == (
        "vpn.png",
        "image/png",
        68,
        "img001@contoso.example",
    )
    assert attachment.ref is not None
    assert attachment.ref.startswith("sha256:")


def test_corpus_bounce_is_an_internal_note_on_the_ticket_it_concerns(desk_run):
    wf, _, _ = desk_run
    note = [c for c in comments(wf, "ZD-1") if c[0] == "mailer-daemon"]
    assert note == [
        (
            "mailer-daemon",
            "internal",
            f"Mail to dana.old@example.org could not be delivered (5.1.1 550 5.1.1 User unknown); "
            f"Message-ID <{CONFIRMATION_ID}>.",
        )
    ]


def test_corpus_reply_to_a_closed_ticket_opens_a_follow_up(desk_run):
    wf, _, outcomes = desk_run
    outcome = dict(outcomes)["16_reply_to_closed_ticket.eml"]
    follow_up = wf.get(outcome.ticket_id)
    assert wf.get("ZD-1").state == "closed"
    assert follow_up.title == "Follow-up: Printer on floor 3 is jammed"
    assert wf.history(follow_up.id)[0].meta["follow_up_of"] == "ZD-1"
    assert comments(wf, follow_up.id) == [("dana@example.org", "public", "It jams again, same printer.")]
    # the follow-up gets the next human key and its own confirmation, as any new ticket does
    assert follow_up.id == "ZD-6"
    confirmations = [
        m.payload for m in wf.repository.pending_messages() if m.ticket_id == "ZD-6" and m.kind == "ticket.opened"
    ]
    assert confirmations == [
        {"key": "ZD-6", "title": "Follow-up: Printer on floor 3 is jammed", "to": "dana@example.org"}
    ]


def test_corpus_keeps_each_full_original_for_audit(desk_run):
    _, desk, _ = desk_run
    assert desk.attachments is not None
    gmail_reply = next(r for r in desk.thread("ZD-1") if r.message_id.startswith("CAJx8R2e7Wm"))
    assert gmail_reply.rule == "in_reply_to"
    assert desk.attachments.blobs[gmail_reply.original] == corpus("02_gmail_reply_threaded.eml")  # type: ignore[attr-defined]


# -- reading ------------------------------------------------------------------------


def test_malformed_mail_is_a_mail_error_naming_the_problem():
    with pytest.raises(MailError, match="no sender address in From") as raised:
        parse_message(corpus("17_malformed_no_sender.eml"))
    assert raised.value.message_id == "nosender-0001@broken.example"
    with pytest.raises(MailError, match="no header block"):
        parse_message(b"")
    with pytest.raises(MailError, match="expected the message's bytes, got str"):
        parse_message("From: a@b.example\n\nhi")  # type: ignore[arg-type]
    assert isinstance(raised.value, tf.TicketflowError)


def test_malformed_mail_is_kept_in_the_quarantine_and_nothing_is_written(tmp_path: Path):
    wf = tf.Workflow(zendesk_mail())
    desk = MailDesk(wf, quarantine=DirectoryQuarantine(tmp_path / "kept"))
    outcome = desk.ingest(corpus("17_malformed_no_sender.eml"), at=T0)
    assert (outcome.action, outcome.message_id) == ("kept", "nosender-0001@broken.example")
    (kept,) = (tmp_path / "kept").glob("*.eml")
    assert kept.read_bytes() == corpus("17_malformed_no_sender.eml")
    assert kept.with_suffix(".reason").read_text() == "no sender address in From\n"
    assert wf.find().tickets == ()


def test_a_message_without_message_id_gets_a_stable_one_so_it_is_ingested_once():
    raw = mail("From: a@example.org\nTo: support@example.com\nSubject: Help")
    first, second = parse_message(raw), parse_message(raw)
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@ticketflow.invalid")
    desk = MailDesk(tf.Workflow(zendesk_mail()))
    assert [desk.ingest(raw, at=T0).action, desk.ingest(raw, at=T0).action] == ["opened", "duplicate"]


def test_ingesting_the_same_message_twice_changes_nothing():
    wf = tf.Workflow(zendesk_mail())
    desk = MailDesk(wf)
    desk.ingest(corpus("01_gmail_new_request.eml"), at=T0)
    desk.store.record(MailRecord(CONFIRMATION_ID, "out", "ZD-1", "sent", "ticket.opened", T0))
    desk.ingest(corpus("02_gmail_reply_threaded.eml"), at=T0)
    before = (wf.get("ZD-1"), wf.history("ZD-1"), desk.thread("ZD-1"))
    again = desk.ingest(corpus("02_gmail_reply_threaded.eml"), at=T0 + timedelta(hours=1))
    assert (again.action, again.ticket_id, again.rule) == ("duplicate", "ZD-1", "in_reply_to")
    assert (wf.get("ZD-1"), wf.history("ZD-1"), desk.thread("ZD-1")) == before


def test_a_refused_message_takes_no_ticket_key():
    wf, desk = opened_desk()  # ZD-1
    refused = [
        mail("From: a@example.org\nSubject: Help\nMessage-ID: <nul-body@example.org>", "Hel\x00lo\n"),
        mail("From: a@example.org\nSubject: He\x00lp\nMessage-ID: <nul-subject@example.org>"),
    ]
    for raw in refused:
        outcome = desk.ingest(raw, at=T0)
        assert (outcome.action, outcome.ticket_id) == ("refused", None)
        assert "a NUL character cannot be stored" in outcome.reason
    assert wf.repository.count() == 1
    later = desk.ingest(mail("From: a@example.org\nSubject: Help\nMessage-ID: <fine@example.org>"), at=T0)
    assert (later.action, later.ticket_id) == ("opened", "ZD-2")  # ZD-2 and ZD-3 were not used up


def test_attachment_bytes_go_to_the_store_never_into_the_history():
    store = MemoryAttachments()
    parsed = parse_message(corpus("15_windows1252_mislabelled_with_attachment.eml"), store)
    (info,) = parsed.attachments
    assert store.blobs[info.ref or ""].startswith(b"\x89PNG")  # type: ignore[index]
    wf = tf.Workflow(zendesk_mail())
    MailDesk(wf, attachments=store).ingest(corpus("15_windows1252_mislabelled_with_attachment.eml"), at=T0)
    assert b"PNG" not in repr(wf.history("ZD-1")).encode()


# -- quote and signature stripping ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks!\n\nOn Mon, Nov 30, 2026 at 9:00 AM Support <s@x.example> wrote:\n> old", "Thanks!"),
        ("Danke.\n\nAm 30.11.2026 um 09:00 schrieb Support <s@x.example>:\n> alt", "Danke."),
        ("Merci.\n\nLe lun. 30 nov. 2026 à 09:00, Support <s@x.example> a écrit :\n> vieux", "Merci."),
        ("Gracias.\n\nEl lun, 30 nov 2026 a las 9:00, Support (<s@x.example>) escribió:\n> viejo", "Gracias."),
        ("Bedankt.\n\nOp ma 30 nov 2026 om 09:00 schreef Support <s@x.example>:\n> oud", "Bedankt."),
        ("Done.\n\nBest regards,\nDana\n", "Done."),
        ("Short one\n\nSent from my iPhone", "Short one"),
    ],
)
def test_strip_reply_removes_quote_headers_in_several_languages_and_signatures(text: str, expected: str):
    assert strip_reply(text) == expected


def test_strip_reply_never_empties_a_message():
    assert strip_reply("On Mon, Nov 30, 2026 at 9:00 AM Support <s@x.example> wrote:\n> all quote") != ""


# -- threading rules -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "normal"),
    [
        ("Re: RE: Fwd: [ZD-1] Printer  jammed", "printer jammed"),
        ("AW: WG: Drucker", "drucker"),
        ("SV: Re[2]: Printer", "printer"),
        ("Printer", "printer"),
        ("[EXTERNAL] Re: Printer", "printer"),
    ],
)
def test_normalise_subject_removes_prefixes_tags_and_case(subject: str, normal: str):
    assert normalise_subject(subject) == normal


def opened_desk(**options: object) -> tuple[tf.Workflow, MailDesk]:
    wf = tf.Workflow(zendesk_mail())
    desk = MailDesk(wf, **options)  # type: ignore[arg-type]
    desk.ingest(corpus("01_gmail_new_request.eml"), at=T0)
    return wf, desk


def test_a_bracketed_word_that_is_no_ticket_does_not_thread():
    _, desk = opened_desk()
    raw = mail("From: dana@example.org\nSubject: [EXTERNAL] New laptop\nMessage-ID: <x1@example.org>")
    assert desk.ingest(raw, at=T0).action == "opened"


def test_same_subject_needs_a_reply_the_same_requester_and_the_window():
    wf, desk = opened_desk(fallback_days=3)
    fresh = mail("From: dana@example.org\nSubject: Printer on floor 3 is jammed\nMessage-ID: <n1@example.org>")
    other = mail("From: lee@example.org\nSubject: Re: Printer on floor 3 is jammed\nMessage-ID: <n2@example.org>")
    late = mail("From: dana@example.org\nSubject: Re: Printer on floor 3 is jammed\nMessage-ID: <n3@example.org>")
    assert desk.ingest(fresh, at=T0).rule == "new"  # not a reply: a new request with the same subject
    assert desk.ingest(other, at=T0).rule == "new"  # someone else's
    assert desk.ingest(late, at=T0 + timedelta(days=4)).rule == "new"  # outside the window
    assert len(wf.find().tickets) == 4


def test_same_subject_can_be_turned_off():
    _, desk = opened_desk(fallback_days=None)
    reply = mail("From: dana@example.org\nSubject: Re: Printer on floor 3 is jammed\nMessage-ID: <n4@example.org>")
    assert desk.decide(reply, at=T0).rule == "new"


def test_a_ticket_key_of_another_lifecycle_does_not_thread():
    repository = tf.MemoryRepository()
    other = tf.Workflow(tf.builtin("sighten"), repository=repository)
    other.open(tf.Actor("x", roles={"requester"}), title="elsewhere")
    desk = MailDesk(tf.Workflow(zendesk_mail(), repository=repository))
    raw = mail("From: dana@example.org\nSubject: Re: [SUP-1] elsewhere\nMessage-ID: <n5@example.org>")
    assert desk.decide(raw, at=T0).rule == "new"


# -- no mail loops ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("X-Autoreply: yes", "X-Autoreply: yes"),
        ("X-Autorespond: vacation", "X-Autorespond: vacation"),
        ("List-Id: <team.lists.example.org>", "List-Id: <team.lists.example.org>"),
        ("Return-Path: <>", "Return-Path: <> (a notification, RFC 5321)"),
    ],
)
def test_machine_mail_never_opens_a_ticket(header: str, reason: str):
    wf, desk = opened_desk()
    raw = mail(f"From: robot@example.org\nSubject: Hello\nMessage-ID: <auto@example.org>\n{header}")
    outcome = desk.ingest(raw, at=T0)
    assert (outcome.action, outcome.reason) == ("dropped", reason)
    assert len(wf.find().tickets) == 1


def test_auto_submitted_no_is_a_person():
    raw = mail("From: dana@example.org\nSubject: Hello\nAuto-Submitted: no")
    assert automatic_reason(parse_message(raw)) is None


def test_bounce_senders_are_bounces_even_without_a_report():
    raw = mail("From: MAILER-DAEMON@mx.example.com\nSubject: failure notice\nMessage-ID: <b1@mx.example.com>")
    assert automatic_reason(parse_message(raw)) == "bounce"
    desk = MailDesk(tf.Workflow(zendesk_mail()))
    outcome = desk.ingest(raw, at=T0)
    assert (outcome.action, outcome.ticket_id, outcome.reason) == ("bounce", None, "no ticket sent the bounced message")


def test_bounce_report_reads_the_delivery_status():
    report = bounce_report(parse_message(corpus("12_bounce_dsn.eml")))
    assert report.original_message_id == CONFIRMATION_ID
    assert report.recipients == ("dana.old@example.org",)
    assert (report.status, report.diagnostic) == ("5.1.1", "550 5.1.1 User unknown")


SENT_ID = "3f1c9a0d5e7b2a4c6d8e0f1a2b3c4d5e.ticket.opened@help.example"


def forged_report(original_id: str, *, recipient: str | None, note: str = "Call +1 555 0100 to verify.") -> bytes:
    """A multipart/report from anyone, naming *original_id*; with a delivery-status part when *recipient*."""
    status = (
        f"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; evil.example\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; {note}\n\n"
        if recipient
        else ""
    )
    return (
        "From: attacker@evil.example\nTo: support@help.example\nSubject: Undelivered\n"
        "Message-ID: <forged-1@evil.example>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        f"--B\nContent-Type: text/plain\n\n{note}\n\n{status}"
        f"--B\nContent-Type: text/rfc822-headers\n\nFrom: Support <support@help.example>\n"
        f"Message-ID: <{original_id}>\n\n--B--\n"
    ).encode()


def bounce_desk() -> tuple[tf.Workflow, MailDesk]:
    """ZD-1 opened by Dana, and the confirmation the notifier sent her recorded."""
    wf, desk = opened_desk()
    sent = MailRecord(SENT_ID, "out", "ZD-1", "sent", "ticket.opened", T0, recipients=("dana@example.org",))
    desk.store.record(sent)
    return wf, desk


def daemon_notes(wf: tf.Workflow) -> list[str]:
    return [body for actor, _, body in comments(wf, "ZD-1") if actor == "mailer-daemon"]


def test_a_bounce_for_a_recipient_the_message_never_had_writes_nothing():
    wf, desk = bounce_desk()
    outcome = desk.ingest(forged_report(SENT_ID, recipient="attacker@evil.example"), at=T0)
    assert (outcome.action, outcome.ticket_id) == ("bounce", None)
    assert "names none of the recipients" in outcome.reason
    assert daemon_notes(wf) == []


def test_a_report_without_delivery_status_naming_a_sent_id_writes_nothing():
    wf, desk = bounce_desk()  # the reported repro: only text/rfc822-headers naming the Message-ID
    outcome = desk.ingest(forged_report(SENT_ID, recipient=None), at=T0)
    assert (outcome.action, outcome.ticket_id) == ("bounce", None)
    assert daemon_notes(wf) == []


def test_a_bounce_naming_a_received_message_writes_nothing():
    wf, desk = bounce_desk()  # Dana's own Message-ID is no secret: it is not mail we sent
    received = "CAJx8R2fQ1vN0d3xU9Lr2=7hHkKp3PZ@mail.gmail.com"
    outcome = desk.ingest(forged_report(received, recipient="dana@example.org"), at=T0)
    assert (outcome.action, outcome.ticket_id, outcome.reason) == ("bounce", None, "no ticket sent the bounced message")
    assert daemon_notes(wf) == []


def test_a_bounce_of_sent_mail_for_its_recipient_is_noted():
    wf, desk = bounce_desk()
    outcome = desk.ingest(forged_report(SENT_ID, recipient="Dana@Example.org", note="550 User unknown"), at=T0)
    assert (outcome.action, outcome.ticket_id) == ("bounce", "ZD-1")
    assert daemon_notes(wf) == [
        f"Mail to dana@example.org could not be delivered (5.1.1 550 User unknown); Message-ID <{SENT_ID}>."
    ]


def test_a_non_standard_bounce_is_noted_when_its_text_names_the_recipient():
    wf, desk = bounce_desk()
    outcome = desk.ingest(forged_report(SENT_ID, recipient=None, note="<dana@example.org>: user unknown"), at=T0)
    assert (outcome.action, outcome.ticket_id) == ("bounce", "ZD-1")
    assert len(daemon_notes(wf)) == 1


def test_mail_reusing_the_id_of_mail_we_sent_does_not_hide_it_from_its_bounces(store: MessageIdStore):
    # Dana knows the Message-ID of the confirmation she got; mail of hers reusing it must not shadow it
    wf, desk = opened_desk(store=store)
    store.record(MailRecord(SENT_ID, "out", "ZD-1", "sent", "ticket.opened", T0, recipients=("dana@example.org",)))
    reuse = mail(f"From: dana@example.org\nSubject: Re: [ZD-1] Printer\nMessage-ID: <{SENT_ID}>")
    assert desk.ingest(reuse, at=T0).reason == "our own outgoing message came back"
    assert [r.direction for r in store.thread("ZD-1") if r.message_id == SENT_ID] == ["out"]
    outcome = desk.ingest(forged_report(SENT_ID, recipient="dana@example.org"), at=T0)
    assert (outcome.action, outcome.ticket_id) == ("bounce", "ZD-1")
    assert len(daemon_notes(wf)) == 1


def test_a_received_record_beside_a_sent_one_does_not_hide_it(store: MessageIdStore):
    # as an earlier release recorded a received message reusing a sent Message-ID: bounces and replies still find it
    wf, desk = opened_desk(store=store)
    store.record(MailRecord(SENT_ID, "out", "ZD-1", "sent", "ticket.opened", T0, recipients=("dana@example.org",)))
    store.record(MailRecord(SENT_ID, "in", None, "dropped", "own_message", T0, sender="dana@example.org"))
    assert store.find(SENT_ID) == MailRecord(
        SENT_ID, "out", "ZD-1", "sent", "ticket.opened", T0, recipients=("dana@example.org",)
    )
    outcome = desk.ingest(forged_report(SENT_ID, recipient="dana@example.org"), at=T0)
    assert (outcome.action, outcome.ticket_id, len(daemon_notes(wf))) == ("bounce", "ZD-1", 1)
    reply = mail(
        f"From: dana@example.org\nSubject: Re: Printer\nMessage-ID: <r1@example.org>\nIn-Reply-To: <{SENT_ID}>"
    )
    assert (desk.ingest(reply, at=T0).action, desk.decide(reply, at=T0).rule) == ("commented", "in_reply_to")


def test_a_sender_over_the_rate_limit_is_dropped():
    wf = tf.Workflow(zendesk_mail())
    desk = MailDesk(wf, rate_limit=RateLimit(3, timedelta(minutes=10)))
    actions = [
        desk.ingest(mail(f"From: loop@example.org\nSubject: Ticket {i}\nMessage-ID: <r{i}@example.org>"), at=T0).action
        for i in range(5)
    ]
    assert actions == ["opened", "opened", "opened", "dropped", "dropped"]
    later = mail("From: loop@example.org\nSubject: Later\nMessage-ID: <r9@example.org>")
    assert desk.ingest(later, at=T0 + timedelta(minutes=11)).action == "opened"


def test_our_own_message_coming_back_is_dropped():
    wf, desk = opened_desk()
    desk.store.record(MailRecord("ours-1@support.example.com", "out", "ZD-1", "sent", "ticket.opened", T0))
    raw = mail("From: support@example.com\nSubject: [ZD-1] Printer\nMessage-ID: <ours-1@support.example.com>")
    assert desk.ingest(raw, at=T0).reason == "our own outgoing message came back"
    assert len(wf.history("ZD-1")) == 1


# -- channel trust from [intake] ---------------------------------------------------------

REQUIRED = {"severity": "high", "product_component": "EPC", "description": "from e-mail"}


def interfacing_fields(parsed: object) -> dict[str, str]:
    subject = parsed.subject.lower()  # type: ignore[attr-defined]
    kind = "bug_report" if "error" in subject else "how_to"
    return {"type": kind, **REQUIRED}


def test_interfacing_email_opens_a_ticket_only_for_the_request_types_its_channel_names():
    wf = tf.Workflow(tf.builtin("interfacing"))
    desk = MailDesk(wf, fields_for=interfacing_fields)
    bug = desk.ingest(mail("From: ops@client.example\nSubject: Error 500 on export\nMessage-ID: <i1@c.example>"), at=T0)
    how = desk.ingest(mail("From: ops@client.example\nSubject: How do I export?\nMessage-ID: <i2@c.example>"), at=T0)
    assert (bug.action, bug.ticket_id, how.action, how.ticket_id) == ("opened", "INT-1", "contact", None)
    kinds = sorted(m.kind for m in wf.repository.pending_messages())
    assert kinds == ["contact.recorded", "ticket.opened"]


def strict_interfacing() -> tf.Lifecycle:
    """Interfacing, with bug reports by e-mail taken only from senders whose DKIM signature passed."""
    intake = copy.deepcopy(dict(tf.builtin("interfacing").document["intake"]))
    intake["channels"]["email"].update(needs_authentication=["bug_report"], instead="portal")
    return tf.builtin("interfacing").extend({"intake": intake})


SIGNED = (
    "From: ops@client.example\nSubject: Error 500 on export\nMessage-ID: <s1@c.example>\n"
    "Authentication-Results: {server}; spf=pass smtp.mailfrom=client.example; dkim={dkim} header.d=client.example"
)


def test_an_unauthenticated_sender_is_refused_and_gets_the_channels_refusal_by_mail():
    wf = tf.Workflow(strict_interfacing())
    desk = MailDesk(wf, fields_for=interfacing_fields, authserv_id="mx.example.com", require_auth=("dkim",))
    outcome = desk.ingest(mail(SIGNED.format(server="mx.example.com", dkim="fail")), at=T0)
    assert outcome.action == "refused"
    assert "cannot be authenticated" in outcome.reason
    (refusal,) = wf.repository.pending_messages()
    assert (refusal.kind, refusal.payload["to"], refusal.payload["instead"]) == (
        "mail.refused",
        "ops@client.example",
        "portal",
    )
    assert wf.find().tickets == ()


def test_an_authenticated_sender_opens_the_ticket_and_forged_results_count_for_nothing():
    wf = tf.Workflow(strict_interfacing())
    desk = MailDesk(wf, fields_for=interfacing_fields, authserv_id="mx.example.com", require_auth=("dkim",))
    forged = mail(SIGNED.format(server="attacker.example", dkim="pass").replace("<s1@", "<s2@"))
    assert authentication_results(parse_message(forged), "mx.example.com") == {}
    assert desk.ingest(forged, at=T0).action == "refused"
    signed = desk.ingest(mail(SIGNED.format(server="mx.example.com", dkim="pass")), at=T0)
    assert (signed.action, signed.ticket_id) == ("opened", "INT-1")


def test_a_forged_from_cannot_act_as_staff():
    # an agent answering by mail is mapped by actor_for; a From header alone proves nothing, so it must not make staff
    def actor_for(m: InboundMail) -> tf.Actor:
        return tf.Actor(m.sender, roles={"agent" if m.sender == "sam@help.example" else "requester"})

    forged = mail(
        "From: sam@help.example\nSubject: Re: [ZD-1] Printer\nMessage-ID: <f1@attacker.example>\n"
        "Authentication-Results: attacker.example; dkim=pass header.d=help.example",
        body="Refund approved, closing.",
    )
    for options in ({}, {"authserv_id": "mx.help.example", "require_auth": ("dkim",)}):
        wf, desk = opened_desk(actor_for=actor_for, **options)
        outcome = desk.ingest(forged, at=T0)
        assert (outcome.action, outcome.ticket_id) == ("refused", "ZD-1")
        assert "authenticated" in outcome.reason
        assert len(wf.history("ZD-1")) == 1
        assert desk.quarantine.kept[-1][2] == forged  # type: ignore[attr-defined]
        new = mail("From: sam@help.example\nSubject: Please reset all passwords\nMessage-ID: <f2@attacker.example>")
        assert desk.ingest(new, at=T0).action == "refused"
        assert wf.repository.count() == 1  # type: ignore[attr-defined]
    signed = mail(
        "From: sam@help.example\nSubject: Re: [ZD-1] Printer\nMessage-ID: <f3@help.example>\n"
        "Authentication-Results: mx.help.example; dkim=pass header.d=help.example",
        body="Sent you a new driver.",
    )
    assert desk.ingest(signed, at=T0).action == "commented"  # the MTA vouches for it: the agent acts
    assert wf.history("ZD-1")[-1].actor.roles == {"agent"}


def agent_by_address(m: InboundMail) -> tf.Actor:
    return tf.Actor(m.sender, roles={"agent" if m.sender.endswith("help.example") else "requester"})


@pytest.mark.parametrize(
    "results",
    [
        "dkim=pass header.d=attacker.example; dmarc=fail header.from=help.example",  # the attacker's own signature
        "dkim=pass header.d=example",  # a bare TLD is no one's domain
        "dkim=pass header.d=nothelp.example",  # a suffix of the name, not a parent domain
        "dkim=pass header.d=mail.help.example",  # a child domain may not speak for its parent
        "dkim=pass",  # no signing domain: nothing to align
        "dkim=fail header.d=help.example; spf=pass smtp.mailfrom=bounce@attacker.example",
        "dkim=pass header.d=attacker.example; dmarc=pass header.from=attacker.example",  # DMARC for another From
    ],
)
def test_a_pass_for_another_domain_than_the_froms_does_not_make_staff(results: str):
    # DKIM/SPF passes prove the signer's (envelope's) domain, not the From: anyone signs with their own domain
    forged = mail(
        "From: sam@help.example\nSubject: Re: [ZD-1] Printer\nMessage-ID: <u1@attacker.example>\n"
        f"Authentication-Results: mx.help.example; {results}",
        body="Internal: refund approved.",
    )
    for require in (("dkim",), ("spf",), ("dmarc",), ("dkim", "spf")):
        wf, desk = opened_desk(actor_for=agent_by_address, authserv_id="mx.help.example", require_auth=require)
        outcome = desk.ingest(forged, at=T0)
        assert (outcome.action, outcome.ticket_id) == ("refused", "ZD-1"), (results, require)
        assert "authenticated" in outcome.reason
        assert len(wf.history("ZD-1")) == 1


@pytest.mark.parametrize(
    ("results", "require"),
    [
        ("dkim=pass header.d=help.example", ("dkim",)),
        ("dkim=pass header.d=Help.Example.", ("dkim",)),  # DNS names are case-insensitive, a root dot changes nothing
        ("dkim=pass header.d=attacker.example; dkim=pass header.d=help.example", ("dkim",)),  # one aligned signature
        ("spf=pass smtp.mailfrom=bounces@help.example", ("spf",)),
        ("spf=pass smtp.mailfrom=help.example; dkim=pass header.d=help.example", ("spf", "dkim")),
        ("dkim=pass header.d=esp.example; dmarc=pass header.from=help.example", ("dkim",)),  # DMARC proved the From
        ("dmarc=pass header.from=help.example", ("dmarc",)),
        ("dmarc=pass", ("dmarc",)),
    ],
)
def test_a_pass_aligned_with_the_from_makes_staff(results: str, require: tuple[str, ...]):
    signed = mail(
        "From: sam@help.example\nSubject: Re: [ZD-1] Printer\nMessage-ID: <a1@help.example>\n"
        f"Authentication-Results: mx.help.example; {results}",
        body="Sent you a new driver.",
    )
    wf, desk = opened_desk(actor_for=agent_by_address, authserv_id="mx.help.example", require_auth=require)
    assert desk.ingest(signed, at=T0).action == "commented"
    assert wf.history("ZD-1")[-1].actor == tf.Actor("sam@help.example", roles={"agent"})


def test_a_signature_of_a_parent_domain_is_aligned_and_unaligned_passes_are_named():
    raw = mail(
        "From: Sam <Sam@EU.Help.Example>\nSubject: x\nMessage-ID: <p1@help.example>\n"
        "Authentication-Results: mx.help.example; dkim=pass header.d=help.example; "
        "spf=pass smtp.mailfrom=attacker.example; dmarc=fail header.from=eu.help.example"
    )
    assert authentication_results(parse_message(raw), "mx.help.example") == {
        "dkim": "pass",
        "spf": "unaligned",
        "dmarc": "fail",
    }


def test_the_address_staff_mail_claims_to_be_from_is_told_it_was_refused():
    # the real agent learns that mail in their name was refused (forged, or their mail system does not sign it)
    from ticketflow.mail import SmtpNotifier

    wf, desk = opened_desk(actor_for=agent_by_address, authserv_id="mx.help.example", require_auth=("dkim",))
    forged = mail(
        "From: sam@help.example\nSubject: Re: [ZD-1] Printer\nMessage-ID: <n1@attacker.example>\n"
        "Authentication-Results: mx.help.example; dkim=pass header.d=attacker.example"
    )
    assert desk.ingest(forged, at=T0).action == "refused"
    (refusal,) = [m for m in wf.repository.pending_messages() if m.kind == "mail.refused"]
    assert (refusal.payload["to"], refusal.payload["in_reply_to"]) == ("sam@help.example", "n1@attacker.example")
    rendered = SmtpNotifier(sender="Support <support@help.example>", store=desk.store).render(refusal)
    assert rendered is not None
    assert "nothing was changed" in rendered.get_content()
    assert len(wf.history("ZD-1")) == 1


def test_require_auth_needs_the_mtas_authserv_id():
    with pytest.raises(ValueError, match="authserv_id"):
        MailDesk(tf.Workflow(zendesk_mail()), require_auth=("dkim",))


def test_a_reply_the_lifecycle_refuses_is_kept_and_reported():
    wf, desk = opened_desk(
        actor_for=lambda m: (
            tf.Actor(m.sender, roles={"guest"}) if "lee" in m.sender else tf.Actor(m.sender, roles={"requester"})
        )
    )
    raw = mail("From: lee@example.org\nSubject: Re: [ZD-1] Printer\nMessage-ID: <g1@example.org>")
    outcome = desk.ingest(raw, at=T0)
    assert (outcome.action, outcome.ticket_id, outcome.rule) == ("refused", "ZD-1", "subject_key")
    assert "no ticket with id 'ZD-1'" in outcome.reason  # a stranger to the ticket: as if it did not exist
    assert desk.quarantine.kept[-1][2] == raw  # type: ignore[attr-defined]
    assert len(wf.history("ZD-1")) == 1


def test_an_empty_reply_is_recorded_as_no_text():
    wf, desk = opened_desk()
    empty = mail("From: dana@example.org\nSubject: Re: [ZD-1] x\nMessage-ID: <e1@example.org>", body="")
    assert desk.ingest(empty, at=T0).action == "commented"
    assert wf.history("ZD-1")[-1].comment == tf.Comment("dana@example.org", "(no text)")


# -- stores ------------------------------------------------------------------------------

STORES: dict[str, Callable[[Path], MessageIdStore]] = {
    "memory": lambda _path: MemoryMessageIds(),
    "sqlite": lambda path: SQLiteMessageIds(path / "mail.db"),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MessageIdStore:
    return STORES[request.param](tmp_path)


def test_message_id_store_contract(store: MessageIdStore):
    first = MailRecord("a@x", "in", "ZD-1", "opened", "new", T0, sender="d@x", subject="s")
    store.record(first)
    store.record(MailRecord("a@x", "in", "ZD-9", "commented", "in_reply_to", T0))  # ignored: known
    store.record(MailRecord("b@x", "out", "ZD-1", "sent", "ticket.opened", T0 + timedelta(seconds=1)))
    store.record(MailRecord("c@x", "in", None, "dropped", "automatic", T0))
    assert store.find("a@x") == first
    assert store.find("missing") is None
    assert store.ticket_for(["missing", "c@x", "b@x"]) == "ZD-1"
    assert [r.message_id for r in store.thread("ZD-1")] == ["a@x", "b@x"]


def test_sqlite_message_ids_survive_a_restart(tmp_path: Path):
    SQLiteMessageIds(tmp_path / "mail.db").record(MailRecord("a@x", "in", "ZD-1", "opened", "new", T0))
    assert SQLiteMessageIds(tmp_path / "mail.db").ticket_for(["a@x"]) == "ZD-1"


def test_message_id_stores_keep_the_recipients_of_sent_mail(store: MessageIdStore):
    store.record(MailRecord("b@x", "out", "ZD-1", "sent", "ticket.opened", T0, recipients=("dana@example.org",)))
    found = store.find("b@x")
    assert found is not None
    assert found.recipients == ("dana@example.org",)


def test_sqlite_message_ids_upgrade_a_table_made_before_recipients(tmp_path: Path):
    import sqlite3

    path = tmp_path / "mail.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE mail_messages (message_id TEXT NOT NULL, direction TEXT NOT NULL, ticket_id TEXT, "
            "action TEXT NOT NULL, rule TEXT NOT NULL, at TEXT NOT NULL, sender TEXT NOT NULL, "
            "subject TEXT NOT NULL, original TEXT, attachments TEXT NOT NULL, PRIMARY KEY (message_id, direction))"
        )
        db.execute(
            "INSERT INTO mail_messages VALUES ('a@x', 'out', 'ZD-1', 'sent', 'k', ?, '', '', NULL, '[]')",
            (T0.isoformat(),),
        )
    db.close()
    store = SQLiteMessageIds(path)
    assert store.find("a@x") == MailRecord("a@x", "out", "ZD-1", "sent", "k", T0)
    store.record(MailRecord("b@x", "out", "ZD-1", "sent", "k", T0, recipients=("d@x",)))
    assert [r.recipients for r in SQLiteMessageIds(path).thread("ZD-1")] == [(), ("d@x",)]


OLD_INSERT = "INSERT OR IGNORE INTO mail_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # as earlier releases write


def test_a_process_on_an_earlier_release_keeps_writing_the_mail_table(tmp_path: Path):
    # rolling upgrade: the worker runs this release, the MTA pipe still the previous one, on one file
    import sqlite3

    path = tmp_path / "mail.db"
    store = SQLiteMessageIds(path)
    store.record(MailRecord("b@x", "out", "ZD-1", "sent", "k", T0, recipients=("d@x",)))
    with sqlite3.connect(path) as db:
        old_row = ("a@x", "in", "ZD-1", "commented", "in_reply_to", T0.isoformat(), "d@x", "s", None, "[]")
        db.execute(OLD_INSERT, old_row)
        rows = db.execute("SELECT * FROM mail_messages ORDER BY message_id").fetchall()
    db.close()
    assert [len(row) for row in rows] == [10, 10]  # earlier releases read rows by position
    assert [(r.message_id, r.recipients) for r in SQLiteMessageIds(path).thread("ZD-1")] == [
        ("b@x", ("d@x",)),
        ("a@x", ()),
    ]


def test_sqlite_message_ids_move_a_recipients_column_out_of_the_mail_table(tmp_path: Path):
    import sqlite3

    path = tmp_path / "mail.db"
    with sqlite3.connect(path) as db:  # as a development build made it: recipients as an eleventh column
        db.execute(
            "CREATE TABLE mail_messages (message_id TEXT NOT NULL, direction TEXT NOT NULL, ticket_id TEXT, "
            "action TEXT NOT NULL, rule TEXT NOT NULL, at TEXT NOT NULL, sender TEXT NOT NULL, "
            "subject TEXT NOT NULL, original TEXT, attachments TEXT NOT NULL, "
            "recipients TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (message_id, direction))"
        )
        db.execute(
            "INSERT INTO mail_messages VALUES ('a@x', 'out', 'ZD-1', 'sent', 'k', ?, '', '', NULL, '[]', '[\"d@x\"]')",
            (T0.isoformat(),),
        )
    db.close()
    store = SQLiteMessageIds(path)
    assert store.find("a@x") == MailRecord("a@x", "out", "ZD-1", "sent", "k", T0, recipients=("d@x",))
    with sqlite3.connect(path) as db:
        db.execute(OLD_INSERT, ("c@x", "in", None, "dropped", "automatic", T0.isoformat(), "", "", None, "[]"))
    db.close()
    assert store.find("c@x") is not None


def test_a_second_record_of_sent_mail_keeps_the_first_recipients(store: MessageIdStore):
    store.record(MailRecord("b@x", "out", "ZD-1", "sent", "k", T0, recipients=("d@x",)))
    store.record(MailRecord("b@x", "out", "ZD-2", "sent", "k", T0, recipients=("e@x",)))
    assert [(r.ticket_id, r.recipients) for r in store.thread("ZD-1")] == [("ZD-1", ("d@x",))]


def test_sqlite_message_ids_refuse_a_file_that_is_not_sqlite(tmp_path: Path):
    bad = tmp_path / "mail.db"
    bad.write_bytes(b"not a database, just text" * 100)
    with pytest.raises(tf.StorageError, match="cannot keep mail records"):
        SQLiteMessageIds(bad)


def test_import_ticketflow_imports_nothing_of_mail():
    code = "import sys, ticketflow; print(sorted(m for m in sys.modules if 'mail' in m or 'smtp' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout  # noqa: S603 - our own interpreter
    assert out.strip() == "[]"


def test_a_strangers_reply_with_a_guessed_key_does_not_reach_the_ticket():
    wf, desk = opened_desk()
    raw = mail("From: mallory@evil.example\nSubject: Re: [ZD-1] Printer\nMessage-ID: <m1@evil.example>", "Pay here.\n")
    outcome = desk.ingest(raw, at=T0)
    assert (outcome.action, outcome.ticket_id, outcome.rule) == ("refused", "ZD-1", "subject_key")
    assert len(wf.history("ZD-1")) == 1  # per-ticket access: only the ticket's people may comment


def test_a_desk_on_a_channel_the_lifecycle_lacks_is_refused_when_it_is_made_not_per_message():
    with pytest.raises(ValueError, match=r"MailDesk: channel 'mail' is not one of the lifecycle's \[intake\] channels"):
        MailDesk(tf.Workflow(tf.builtin("interfacing")), channel="mail")
    assert MailDesk(tf.Workflow(tf.builtin("zendesk")), channel="anything").channel == "anything"  # no channels


def test_cli_mail_ingest_names_a_channel_the_lifecycle_lacks_in_one_line(tmp_path: Path):
    from click.testing import CliRunner

    from ticketflow.cli import cli

    db = str(tmp_path / "t.db")
    args = ["mail", "ingest", "--db", db, "--create", "--lifecycle", "interfacing", "--channel", "mail", "-"]
    result = CliRunner().invoke(cli, args, input=(CORPUS / "01_gmail_new_request.eml").read_bytes())
    assert result.exit_code == 1
    known = "(portal, email, chat, phone)"
    assert f"channel 'mail' is not one of the lifecycle's [intake] channels {known}" in result.output
    assert "Traceback" not in result.output


def test_a_naive_at_is_refused_by_name_before_the_message_is_read():
    wf = tf.Workflow(tf.builtin("zendesk"))
    desk = MailDesk(wf)
    raw = b"From: dana@example.org\nSubject: Printer\nMessage-ID: <naive-1@example.org>\n\nIt jams.\n"
    for call in (desk.ingest, desk.decide):
        with pytest.raises(tf.NaiveDatetime, match="at must be timezone-aware"):
            call(raw, at=datetime(2026, 3, 2, 10))  # the naive instant under test
    assert wf.repository.count() == 0
    assert desk.ingest(raw, at=datetime(2026, 3, 2, 10, tzinfo=UTC)).action == "opened"  # and not taken as ingested


@pytest.mark.parametrize(
    ("html", "problem"),
    [
        ("<style>p { margin: 0 }</style><p>{title}</p>", "Unknown format code"),  # CSS braces, not doubled
        ("<p>{title</p>", "expected '}' before end of string"),
        ("<p>{ticket.id}</p>", "has no attribute 'id'"),
    ],
)
def test_a_mail_template_that_cannot_be_filled_in_is_refused_when_made_not_at_every_delivery(html: str, problem: str):
    from ticketflow.mail import MailTemplate

    with pytest.raises(ValueError, match=r"^MailTemplate\.html: cannot be filled in \(") as caught:
        MailTemplate("{title}", "Hello", html=html)
    assert problem in str(caught.value)
    assert "a literal brace is written twice: {{ and }}" in str(caught.value)
    assert MailTemplate("{title}", "Hello", html="<style>p {{ margin: 0 }}</style>{title}").html  # doubled: fine
