"""Reading one e-mail: headers, bodies, charsets and attachments, with the standard library's parser.

``parse_message`` turns the raw bytes an MTA delivers into an
:class:`InboundMail` value. Mail that cannot be used (no sender, no headers)
is a :class:`MailError` saying why; the caller keeps the bytes for inspection.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Protocol, runtime_checkable

import attrs

from ticketflow.errors import TicketflowError

__all__ = [
    "AttachmentInfo",
    "AttachmentStore",
    "InboundMail",
    "MailError",
    "parse_message",
]

_ID = re.compile(r"<([^<>\s]+)>")


class MailError(TicketflowError):
    """A message that cannot be taken as mail (no sender, no headers, not bytes).

    Attributes:
        reason: what is wrong with it.
        message_id: its Message-ID, when one could be read.
    """

    def __init__(self, reason: str, message_id: str | None = None) -> None:
        self.reason = reason
        self.message_id = message_id
        where = f" (Message-ID <{message_id}>)" if message_id else ""
        super().__init__(f"unusable e-mail{where}: {reason}; it was kept for inspection, not ingested")


@attrs.frozen
class AttachmentInfo:
    """What the history knows of an attachment: never its bytes.

    Attributes:
        filename: the name the sender gave it (``""`` when none).
        content_type: its MIME type (``image/png``).
        size: its decoded size in bytes.
        content_id: its Content-ID (an inline image an HTML body shows), if any.
        ref: where the application's :class:`AttachmentStore` put the bytes
            (``None`` when no store is configured).
    """

    filename: str
    content_type: str
    size: int
    content_id: str | None = None
    ref: str | None = None


@runtime_checkable
class AttachmentStore(Protocol):
    """Keeps attachment bytes (and original messages) outside the ticket history.

    Contract: ``put`` stores *data* and returns a reference the application
    can resolve later (a path, a URL, an object key); storing the same bytes
    twice may return the same reference; it raises to refuse, and then the
    message is not ingested (it is retried by the transport).
    """

    def put(self, data: bytes, info: AttachmentInfo, /) -> str:
        """Store *data* described by *info*; return its reference."""
        ...


@attrs.frozen(eq=False)
class InboundMail:
    """One received e-mail, read.

    Attributes:
        message_id: its Message-ID without angle brackets (a stable digest of
            the bytes when the sender gave none, so ingesting twice is still
            recognised).
        in_reply_to: the Message-IDs of ``In-Reply-To``.
        references: the Message-IDs of ``References``, oldest first.
        subject: the decoded subject (encoded words read), ``""`` if none.
        sender: the sender's address, lower-cased (``From``; ``Reply-To``
            is not trusted for identity).
        sender_name: the sender's display name.
        recipients: the addresses of ``To``, ``Cc``, ``Delivered-To`` and
            ``X-Original-To`` (lower-cased), where a plus-address shows.
        date: the ``Date`` header as an aware datetime, if present and valid.
        text: the plain-text body (converted from HTML when there is no text
            part), decoded from its charset.
        html: the HTML body, if any.
        attachments: the attachments, as metadata.
        message: the parsed message, for headers a caller wants to read.
        raw: the bytes as received.
    """

    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    sender: str
    sender_name: str
    recipients: tuple[str, ...]
    date: datetime | None
    text: str
    html: str | None
    attachments: tuple[AttachmentInfo, ...]
    message: EmailMessage = attrs.field(repr=False)
    raw: bytes = attrs.field(repr=False)

    def header(self, name: str) -> str | None:
        """The header's decoded value (the first one), or None."""
        value = self.message.get(name)
        return None if value is None else str(value)

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The Message-IDs this mail answers: ``In-Reply-To`` first, then ``References`` newest first."""
        seen: dict[str, None] = dict.fromkeys(self.in_reply_to)
        seen.update(dict.fromkeys(reversed(self.references)))
        return tuple(seen)


def message_ids(value: str | None) -> tuple[str, ...]:
    """The Message-IDs in a header value (``<a@b> <c@d>``), brackets removed, in order."""
    if not value:
        return ()
    found = _ID.findall(value)
    if not found and value.strip() and " " not in value.strip():
        found = [value.strip()]  # a bare id, as some clients write it
    return tuple(found)


def decode_part(part: Message) -> str:
    """A text part's content as str: its declared charset, then UTF-8, then Windows-1252.

    Mislabelled mail is common (8-bit text declared ``us-ascii``, or no
    charset at all); an unknown charset name falls through to the next
    guess instead of failing the message.
    """
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    declared = part.get_content_charset()
    for charset in (declared, "utf-8", "cp1252"):
        if not charset:
            continue
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def html_to_text(html: str) -> str:
    """Plain text of an HTML body (``inscriptis``: block layout, lists and tables kept readable)."""
    from inscriptis import get_text

    text: str = get_text(html)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _addresses(message: EmailMessage, *names: str) -> tuple[str, ...]:
    values = [str(v) for name in names for v in message.get_all(name, [])]
    return tuple(addr.lower() for _, addr in getaddresses(values) if "@" in addr)


def _sender(message: EmailMessage) -> tuple[str, str]:
    header = message.get("From")
    if header is None:
        return "", ""
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if addresses and addresses[0].addr_spec and "@" in addresses[0].addr_spec:
        return addresses[0].addr_spec.lower(), addresses[0].display_name
    name, addr = parseaddr(str(header))
    return (addr.lower(), name) if "@" in addr else ("", "")


def _date(message: EmailMessage) -> datetime | None:
    try:
        header = message.get("Date")
    except (ValueError, TypeError, IndexError):
        return None
    when = getattr(header, "datetime", None)
    return when if isinstance(when, datetime) and when.utcoffset() is not None else None


def _bodies(message: EmailMessage) -> tuple[Message | None, Message | None]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return plain, html


def _attachments(message: EmailMessage, bodies: tuple[Message | None, ...]) -> list[tuple[AttachmentInfo, bytes]]:
    found: list[tuple[AttachmentInfo, bytes]] = []
    for part in message.walk():
        if part is message or part.is_multipart() or any(part is b for b in bodies):
            continue
        if part.get_content_type() in ("message/delivery-status", "text/rfc822-headers"):
            continue  # report parts of a bounce, read by the loop guard
        disposition = part.get_content_disposition()
        filename = part.get_filename() or ""
        content_type = part.get_content_type()
        if disposition is None and not filename and content_type.startswith("text/"):
            continue  # an alternative body we did not choose
        if content_type == "message/rfc822":
            inner = part.get_payload()
            data = inner[0].as_bytes() if isinstance(inner, list) and inner and isinstance(inner[0], Message) else b""
            filename = filename or "forwarded.eml"
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        cid = part.get("Content-ID")
        ids = message_ids(str(cid)) if cid else ()
        found.append((AttachmentInfo(filename, content_type, len(data), ids[0] if ids else None), data))
    return found


def parse_message(raw: bytes, attachments: AttachmentStore | None = None) -> InboundMail:
    """Read raw RFC 5322 bytes into an :class:`InboundMail`.

    Args:
        raw: the message as received (CRLF or LF line ends).
        attachments: where attachment bytes go; without one only their
            metadata is kept.

    Raises:
        MailError: not bytes, no header block, or no usable sender address.
    """
    if not isinstance(raw, bytes | bytearray):
        raise MailError(f"expected the message's bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default always makes EmailMessage
        raise MailError("the parser did not return a message")
    digest = hashlib.sha256(raw).hexdigest()[:32]
    try:
        own = message_ids(str(message.get("Message-ID", "")))
    except (ValueError, TypeError, IndexError):
        own = ()
    message_id = own[0] if own else f"{digest}@ticketflow.invalid"
    if not message.keys():
        raise MailError("no header block (is this a message at all?)", message_id if own else None)
    sender, sender_name = _sender(message)
    if not sender:
        raise MailError("no sender address in From", message_id if own else None)
    try:
        subject = " ".join(str(message.get("Subject", "")).split())
    except (ValueError, TypeError, IndexError):
        subject = ""
    plain, html_part = _bodies(message)
    html = decode_part(html_part) if html_part is not None else None
    if plain is not None:
        text = decode_part(plain).replace("\r\n", "\n").strip()
    elif html is not None:
        text = html_to_text(html)
    else:
        text = ""
    infos = []
    for info, data in _attachments(message, (plain, html_part)):
        infos.append(attrs.evolve(info, ref=attachments.put(data, info)) if attachments is not None else info)
    return InboundMail(
        message_id=message_id,
        in_reply_to=message_ids(_safe_header(message, "In-Reply-To")),
        references=message_ids(_safe_header(message, "References")),
        subject=subject,
        sender=sender,
        sender_name=sender_name,
        recipients=_addresses(message, "To", "Cc", "Delivered-To", "X-Original-To"),
        date=_date(message),
        text=text,
        html=html,
        attachments=tuple(infos),
        message=message,
        raw=raw,
    )


def _safe_header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError):
        return None
    return None if value is None else str(value)
