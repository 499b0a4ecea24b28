"""A help desk that works by e-mail: mail in over SMTP, confirmations out over SMTP, replies threaded.

Everything runs on this machine: the desk's receiver (what your MTA would
hand mail to), and a stand-in for your outgoing mail server that prints
what it is given. Run it with ``python examples/mail_desk.py [DIR]``; the
test suite runs it too.
"""

from __future__ import annotations

import smtplib
import socket
import sys
import tempfile
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

import ticketflow as tf
from ticketflow.mail import DirectoryQuarantine, MailDesk, MailServer, SmtpNotifier, SQLiteMessageIds


class Outgoing:
    """Stands in for the team's outgoing SMTP server: prints each message and keeps it."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        """Keep and print one message."""
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        self.sent.append(mail)
        print(f"  sent to {mail['To']}: {mail['Subject']}  (In-Reply-To {mail['In-Reply-To']})")
        return "250 OK"


def free_port() -> int:
    """A port nobody listens on (for the two local servers)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def send(port: int, text: str) -> None:
    """What a customer's mail server does: hand the message over by SMTP."""
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("dana@example.org", ["support@example.com"], text.replace("\n", "\r\n").encode())


def main(folder: Path) -> MailDesk:
    """Open a ticket by mail, confirm it, thread the reply, drop the auto-reply; print the thread."""
    lifecycle = tf.builtin("zendesk").extend({"id": "helpdesk", "key_prefix": "HD"})  # ticket keys HD-1, HD-2...
    wf = tf.Workflow(lifecycle, repository=tf.SQLiteRepository(folder / "tickets.db"))
    store = SQLiteMessageIds(folder / "tickets.db")  # the desk's own table, beside the tickets
    desk = MailDesk(wf, store=store, quarantine=DirectoryQuarantine(folder / "kept"))

    outgoing = Outgoing()
    smarthost = Controller(outgoing, hostname="127.0.0.1", port=free_port())
    smarthost.start()
    notifier = SmtpNotifier(sender="Support <support@example.com>", store=store, host="127.0.0.1", port=smarthost.port)
    notifier.register(wf.registry)  # ticket.opened, requester_reminder, mail.refused

    try:
        with MailServer(desk, port=free_port()) as receiver:
            print("1. a customer writes in")
            send(
                receiver.port,
                "From: Dana <dana@example.org>\nTo: support@example.com\nSubject: Printer on floor 3 is jammed\n"
                "Message-ID: <dana-1@example.org>\n\nIt jams on every second page.\n",
            )
            print("2. the sweeper delivers the confirmation")
            wf.deliver()
            confirmation = outgoing.sent[-1]["Message-ID"]
            print("3. she answers the confirmation; her client quotes it")
            send(
                receiver.port,
                f"From: Dana <dana@example.org>\nTo: support@example.com\nSubject: Re: [HD-1] Printer\n"
                f"Message-ID: <dana-2@example.org>\nIn-Reply-To: {confirmation}\n\n"
                "It is the one next to the kitchen.\n\nOn Mon, Nov 30, 2026 at 10:05 AM Support wrote:\n> Thanks\n",
            )
            print("4. her out-of-office answers the confirmation too")
            send(
                receiver.port,
                f"From: Dana <dana@example.org>\nTo: support@example.com\nSubject: Automatic reply: [HD-1] Printer\n"
                f"Message-ID: <dana-ooo@example.org>\nIn-Reply-To: {confirmation}\nAuto-Submitted: auto-replied\n\n"
                "I am out of the office.\n",
            )
    finally:
        smarthost.stop()

    print("\nwhat the desk decided:")
    for outcome in receiver.handler.outcomes:
        print(f"  {outcome.message_id:<22} {outcome.action:<10} {outcome.ticket_id or '-':<5} {outcome.rule}")
    print("\nHD-1's comments:")
    for event in wf.history("HD-1"):
        if event.comment is not None:
            print(f"  {event.actor.id}: {event.comment.body}")
    return desk


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="mail-desk-")))
