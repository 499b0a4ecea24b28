"""Outbound mail: the outbox's messages rendered from templates and sent by SMTP, threaded.

The notifier is an ordinary :class:`~ticketflow.Notifier`: register it for
the kinds it has templates for and run ``Workflow.deliver`` (or a
``Sweeper``). Each mail's Message-ID is a keyed digest (HMAC) of the
outbox message's key, so a retried delivery sends the same Message-ID
(receivers drop the copy) while nobody without the secret can name it (a
forged bounce must not reach a ticket); it is recorded, with the
recipients, in the :class:`~ticketflow.mail.MessageIdStore` so that replies
thread to the ticket and a bounce is matched to the mail it reports on.
"""

from __future__ import annotations

import hashlib
import hmac
import html as html_lib
import logging
import secrets
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any

import attrs

from ticketflow.clock import SystemClock
from ticketflow.mail._store import MailRecord, MessageIdStore
from ticketflow.protocols import Clock, OutboxMessage
from ticketflow.registry import Registry

__all__ = ["DEFAULT_TEMPLATES", "MailTemplate", "SmtpNotifier"]

log = logging.getLogger("ticketflow.mail")


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


@attrs.frozen
class MailTemplate:
    """How one kind of outbox message reads as mail (``str.format`` fields from its payload).

    The fields are the payload's keys plus ``key`` (the ticket key) and
    ``ticket_id``; a field the payload lacks renders empty. The ticket key
    in brackets is put in front of the subject when the template has none
    there, so replies thread by subject too.

    Raises:
        ValueError: a part that cannot be filled in (a lone brace, ``{0}``,
            ``{title.x}``): a brace meant literally is written ``{{`` / ``}}``.

    Attributes:
        subject: the subject line.
        text: the plain-text body.
        html: an HTML alternative (payload values are HTML-escaped), if any.
        auto_submitted: the ``Auto-Submitted`` header (RFC 3834):
            ``auto-replied`` for answers to the requester's own mail,
            ``auto-generated`` for notifications, ``no`` to leave it out.
    """

    subject: str
    text: str
    html: str | None = None
    auto_submitted: str = "auto-generated"

    def __attrs_post_init__(self) -> None:
        # Filled in when a message is delivered: a template that cannot be filled in would fail every
        # delivery, retried forever. An HTML <style> block's braces are the likely way to write one.
        for part in ("subject", "text", "html"):
            value = getattr(self, part)
            if value is None:
                continue
            try:
                value.format_map(_Fields())
            except (ValueError, AttributeError, IndexError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"MailTemplate.{part}: cannot be filled in ({exc}); fields are {{name}}, and a literal brace "
                    "is written twice: {{ and }} (CSS, JSON)"
                ) from None


#: Templates for the messages the library writes to the outbox for requesters.
DEFAULT_TEMPLATES: Mapping[str, MailTemplate] = {
    "ticket.opened": MailTemplate(
        "[{key}] {title}",
        'We received your request "{title}".\n\nYour ticket number is {key}. Reply to this message to add to it.\n',
        auto_submitted="auto-replied",
    ),
    "requester_reminder": MailTemplate(
        "[{key}] {title}: we are waiting for your reply",
        'Your ticket {key} "{title}" is waiting for your answer. Reply to this message to continue.\n',
    ),
    "mail.refused": MailTemplate(
        "Re: {subject}",
        "We could not take your request by e-mail: {reason}.\n{instead_hint}",
        auto_submitted="auto-replied",
    ),
}


class SmtpNotifier:
    """Sends outbox messages as e-mail through an SMTP server (``smtplib``).

    Args:
        sender: the From address (``Support <support@example.com>``).
        store: where sent Message-IDs are recorded (the desk's store).
        host: the SMTP server.
        port: its port (25, 587 with ``starttls``, 465 with ``use_ssl``).
        templates: a :class:`MailTemplate` per outbox kind.
        starttls: upgrade the connection with STARTTLS before sending.
        use_ssl: connect with TLS from the start (SMTPS).
        username: log in with this user (and *password*), if given.
        password: the password for *username*.
        ssl_context: the TLS context (default: the system's, verifying).
        timeout: seconds for connecting and each command.
        domain: the right-hand side of Message-IDs (default: the sender's
            domain).
        clock: when records are stamped (default: the system clock).
        secret: the key Message-IDs are derived with (HMAC-SHA256 of the
            outbox key), from your configuration, never a literal in code.
            Without one, each notifier draws a random key: a retry by the
            same notifier sends the same Message-ID, one after a restart a
            new one. Message-IDs must not be guessable: whoever can name one
            could forge a bounce for that ticket.

    Raises:
        ValueError: *sender* has no address with a domain, or *secret* is empty.
    """

    def __init__(
        self,
        *,
        sender: str,
        store: MessageIdStore,
        host: str = "localhost",
        port: int = 25,
        templates: Mapping[str, MailTemplate] = DEFAULT_TEMPLATES,
        starttls: bool = False,
        use_ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        domain: str | None = None,
        clock: Clock | None = None,
        secret: str | bytes | None = None,
    ) -> None:
        address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
        if "@" not in address:
            raise ValueError(f"sender {sender!r} has no e-mail address")
        if secret is not None and not secret:
            raise ValueError("SmtpNotifier(secret=...) is empty: pass a long random value from your configuration")
        if secret is None:
            self._secret = secrets.token_bytes(32)
        else:
            self._secret = secret.encode() if isinstance(secret, str) else bytes(secret)
        self.sender = sender
        self.address = address
        self.store = store
        self.host = host
        self.port = port
        self.templates = dict(templates)
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.username = username
        self.password = password
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.domain = domain or address.split("@", 1)[1]
        self.clock: Clock = clock if clock is not None else SystemClock()

    def __repr__(self) -> str:
        return f"SmtpNotifier({self.host}:{self.port}, sender={self.sender!r}, kinds={sorted(self.templates)})"

    def register(self, registry: Registry) -> None:
        """Register this notifier for every kind it has a template for."""
        for kind in self.templates:
            registry.add_notifier(kind, self)

    def message_id(self, message: OutboxMessage) -> str:
        """The Message-ID (no brackets) of the mail for *message*: the same on every delivery attempt.

        A keyed digest of the outbox key: keys (``ZD-1:opened``) are easy to
        guess, the id is not without the notifier's secret.
        """
        digest = hmac.new(self._secret, message.key.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{digest}.{message.kind}@{self.domain}"

    def render(self, message: OutboxMessage) -> EmailMessage | None:
        """The mail for *message*, or None when it has no template or no recipient address."""
        template = self.templates.get(message.kind)
        to = str(message.payload.get("to") or "")
        if template is None or "@" not in to:
            return None
        key = str(message.payload.get("key") or message.ticket_id)
        fields = _Fields({name: "" if value is None else str(value) for name, value in message.payload.items()})
        fields.setdefault("key", key)
        fields["ticket_id"] = message.ticket_id
        if fields.get("instead"):
            fields.setdefault("instead_hint", f"Please use the {fields['instead']} channel instead.\n")
        subject = " ".join(template.subject.format_map(fields).split())
        if key and f"[{key}]" not in subject:
            subject = f"[{key}] {subject}"
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = to
        mail["Subject"] = subject
        mail["Date"] = format_datetime(self.clock.now())
        mail["Message-ID"] = f"<{self.message_id(message)}>"
        if template.auto_submitted != "no":
            mail["Auto-Submitted"] = template.auto_submitted
        parent, references = self._thread(message)
        if parent:
            mail["In-Reply-To"] = f"<{parent}>"
            mail["References"] = " ".join(f"<{i}>" for i in references)
        mail.set_content(template.text.format_map(fields))
        if template.html is not None:
            escaped = _Fields({name: html_lib.escape(value) for name, value in fields.items()})
            mail.add_alternative(template.html.format_map(escaped), subtype="html")
        return mail

    def _thread(self, message: OutboxMessage) -> tuple[str | None, list[str]]:
        """The Message-ID this mail answers and the References chain (first and last nine of the thread)."""
        records = self.store.thread(message.ticket_id) if message.ticket_id else []
        ids = [r.message_id for r in records if r.action not in ("dropped", "bounce", "refused")]
        explicit = message.payload.get("in_reply_to")
        if explicit:
            ids.append(str(explicit))
        if not ids:
            return None, []
        received = [r.message_id for r in records if r.direction == "in" and r.message_id in ids]
        parent = str(explicit) if explicit else (received[-1] if received else ids[-1])
        references = ids if len(ids) <= 10 else [ids[0], *ids[-9:]]
        return parent, references

    def __call__(self, message: OutboxMessage, /) -> None:
        """Send the mail for *message* and record its Message-ID; raise to have delivery retried."""
        mail = self.render(message)
        if mail is None:
            log.warning("outbox message %s (%s) has no template or no address: not mailed", message.key, message.kind)
            return
        self._send(mail)
        self.store.record(
            MailRecord(
                self.message_id(message),
                "out",
                message.ticket_id or None,
                "sent",
                message.kind,
                self.clock.now(),
                sender=self.address,
                subject=str(mail["Subject"]),
                recipients=tuple(address.lower() for _, address in getaddresses([str(mail["To"])]) if address),
            )
        )

    def _send(self, mail: EmailMessage) -> None:
        context = self.ssl_context or ssl.create_default_context()
        options: dict[str, Any] = {"timeout": self.timeout}
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, context=context, **options)
        else:
            smtp = smtplib.SMTP(self.host, self.port, **options)
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            smtp.send_message(mail, from_addr=self.address)
