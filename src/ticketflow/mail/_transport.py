"""Getting mail in: an SMTP/LMTP receiver (``aiosmtpd``), files and Maildirs, and an IMAP poller.

Every path hands the raw bytes to :meth:`MailDesk.ingest`, which is
idempotent by Message-ID: delivery is at-least-once (an MTA retries until
the receiver answered ``250``; the poller marks a message read only after it
was ingested), and a second delivery changes nothing.
"""

from __future__ import annotations

import imaplib
import logging
import mailbox
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from ticketflow.errors import StorageError
from ticketflow.mail._desk import MailDesk, MailOutcome

__all__ = ["ImapPoller", "MailHandler", "MailServer", "ingest_path"]

log = logging.getLogger("ticketflow.mail")


class MailHandler:
    """An ``aiosmtpd`` handler: each message received is ingested by the desk before the server answers.

    The answer is ``250`` once the message is ingested (or kept in the
    quarantine), and ``451`` (try again later) if a store failed, so the
    sending MTA retries and no message is lost. Over LMTP the answer is
    given once per recipient, as the protocol requires.

    Args:
        desk: the desk that ingests.
        lmtp: answer once per recipient (LMTP).
    """

    def __init__(self, desk: MailDesk, *, lmtp: bool = False) -> None:
        self.desk = desk
        self.lmtp = lmtp
        self.outcomes: list[MailOutcome] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        """Ingest the message; answer 250, or 451 when it could not be stored."""
        content = envelope.original_content or b""
        try:
            outcome = self.desk.ingest(content)
        except Exception:
            log.exception("ingesting a message from %s failed", envelope.mail_from)
            status = "451 4.3.0 could not store the message; try again later"
        else:
            self.outcomes.append(outcome)
            status = f"250 2.0.0 {outcome.action} {outcome.ticket_id or ''}".rstrip()
        if self.lmtp:
            return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))
        return status


class _Controller(Controller):
    def __init__(self, handler: MailHandler, hostname: str, port: int) -> None:
        super().__init__(handler, hostname=hostname, port=port)
        self._lmtp = handler.lmtp

    def factory(self) -> SMTP:
        if self._lmtp:
            return LMTP(self.handler, **self.SMTP_kwargs)
        return SMTP(self.handler, **self.SMTP_kwargs)


class MailServer:
    """An SMTP (or LMTP) server on a thread, for an MTA to hand mail to (``ticketflow mail serve``).

    Args:
        desk: the desk that ingests.
        host: the address to listen on.
        port: the port (default 8025; 24 is LMTP's, 25 SMTP's).
        lmtp: speak LMTP (``LHLO``, one answer per recipient) instead of SMTP.
    """

    def __init__(self, desk: MailDesk, *, host: str = "127.0.0.1", port: int = 8025, lmtp: bool = False) -> None:
        self.handler = MailHandler(desk, lmtp=lmtp)
        self.host = host
        self.port = port
        self._controller = _Controller(self.handler, host, port)

    def __repr__(self) -> str:
        kind = "LMTP" if self.handler.lmtp else "SMTP"
        return f"MailServer({kind} on {self.host}:{self.port})"

    def start(self) -> None:
        """Listen, on a background thread."""
        self._controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()

    def __enter__(self) -> MailServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _messages(path: Path) -> Iterator[bytes]:
    if (path / "cur").is_dir() and (path / "new").is_dir():
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.keys()):
            yield box.get_bytes(key)
    elif path.is_dir():
        for file in sorted(p for p in path.iterdir() if p.is_file()):
            yield file.read_bytes()
    else:
        yield path.read_bytes()


def ingest_path(desk: MailDesk, path: str | Path) -> list[MailOutcome]:
    """Ingest one message file, every file of a directory, or every message of a Maildir (``cur`` and ``new``).

    Messages are left where they are: ingesting them again changes nothing.
    """
    return [desk.ingest(raw) for raw in _messages(Path(path))]


def _quoted(mailbox: str) -> str:
    """*mailbox* as an IMAP quoted string: imaplib sends names as given, and ``Support Requests`` is two words."""
    if len(mailbox) > 1 and mailbox.startswith('"') and mailbox.endswith('"'):
        return mailbox
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapPoller:
    r"""Fetches unread mail from an IMAP mailbox and ingests it (``imaplib``).

    A message is marked ``\Seen`` only after it was ingested: a crash in
    between fetches it again next time, and the desk recognises it.

    Args:
        desk: the desk that ingests.
        host: the IMAP server.
        username: the mailbox user.
        password: its password.
        mailbox: the folder to read.
        port: the port (default: 993 with TLS, 143 without).
        use_ssl: connect with TLS (IMAPS).
        connect: makes the connection (for tests, or STARTTLS set-ups);
            receives ``(host, port)``.
    """

    def __init__(
        self,
        desk: MailDesk,
        *,
        host: str,
        username: str,
        password: str,
        mailbox: str = "INBOX",
        port: int | None = None,
        use_ssl: bool = True,
        connect: Callable[[str, int], Any] | None = None,
    ) -> None:
        self.desk = desk
        self.host = host
        self.username = username
        self.password = password
        self.mailbox = mailbox
        self.port = port if port is not None else (993 if use_ssl else 143)
        self._connect = connect or (imaplib.IMAP4_SSL if use_ssl else imaplib.IMAP4)
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"ImapPoller({self.username}@{self.host}:{self.port}/{self.mailbox})"

    def poll_once(self) -> list[MailOutcome]:
        """Ingest every unread message of the mailbox; return what became of each."""
        outcomes = []
        imap = self._connect(self.host, self.port)
        try:
            imap.login(self.username, self.password)
            status, detail = imap.select(_quoted(self.mailbox))
            if status != "OK":  # imaplib returns a NO; the SEARCH after it would fail as "illegal in state AUTH"
                said = b" ".join(d for d in detail if isinstance(d, bytes)).decode(errors="replace")
                raise imaplib.IMAP4.error(f"cannot select mailbox {self.mailbox!r} on {self.host}: {status} {said}")
            _, data = imap.uid("SEARCH", "UNSEEN")
            for uid in (data[0] or b"").decode().split():
                _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) > 1), None)
                if raw is None:
                    log.warning("IMAP message %s had no body; left unread", uid)
                    continue
                outcomes.append(self.desk.ingest(raw))
                imap.uid("STORE", uid, "+FLAGS", "(\\Seen)")
        finally:
            try:
                imap.logout()
            except (imaplib.IMAP4.error, OSError):
                log.debug("IMAP logout failed", exc_info=True)
        return outcomes

    def run(self, interval: float = 60.0) -> None:
        """Poll every *interval* seconds until :meth:`stop`; a failed poll is logged and retried.

        A poll fails on the server or the network, or when the desk cannot
        store a message (a :class:`~ticketflow.StorageError`: the message stays
        unread, so the next poll takes it again).
        """
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (imaplib.IMAP4.error, OSError, StorageError):
                log.exception("IMAP poll of %r failed; retrying in %ss", self, interval)
            self._stop.wait(interval)

    def stop(self) -> None:
        """Make :meth:`run` return after the current poll."""
        self._stop.set()
