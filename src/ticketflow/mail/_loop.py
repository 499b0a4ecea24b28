"""No mail loops: auto-replies, bulk mail and bounces never open tickets nor get an answer.

The headers read are those of RFC 3834 (``Auto-Submitted``), the de-facto
``Precedence``, ``X-Autoreply``/``X-Autorespond`` and ``List-Id`` (RFC 2919),
and the bounce senders (``MAILER-DAEMON``, ``postmaster``, an empty
``Return-Path``). A delivery status notification (RFC 3464) is read for the
message it reports on, so the bounce can be recorded on that message's ticket.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta
from email.message import Message

import attrs

from ticketflow.mail._message import InboundMail, message_ids

__all__ = ["Bounce", "RateLimit", "automatic_reason", "bounce_report"]

_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@", "mail-daemon@", "bounce@", "bounces@", "noreply-dsn@")
_BULK = frozenset({"bulk", "junk", "list", "auto_reply"})


def _header(mail: InboundMail, name: str) -> str | None:
    try:
        value = mail.message.get(name)
    except (ValueError, TypeError, IndexError):
        return "(unreadable)"
    return None if value is None else str(value).strip()


def automatic_reason(mail: InboundMail) -> str | None:
    """Why *mail* was sent by a machine (and must not open a ticket or be answered), or None for a person's mail.

    A bounce is reported too (``bounce``); :func:`bounce_report` reads it.
    """
    if _is_report(mail.message) or mail.sender.startswith(_BOUNCE_SENDERS):
        return "bounce"  # before Auto-Submitted, which bounces carry too
    auto = _header(mail, "Auto-Submitted")
    if auto is not None and auto.split(";")[0].strip().lower() != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _header(mail, "Precedence")
    if precedence is not None and precedence.lower() in _BULK:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        value = _header(mail, name)
        if value is not None and (name != "X-Auto-Response-Suppress" or _is_outlook_autoreply(mail)):
            return f"{name}: {value}"
    list_id = _header(mail, "List-Id")
    if list_id is not None:
        return f"List-Id: {list_id}"
    return_path = _header(mail, "Return-Path")
    if return_path is not None and return_path.replace(" ", "") == "<>":
        return "Return-Path: <> (a notification, RFC 5321)"
    return None


def _is_outlook_autoreply(mail: InboundMail) -> bool:
    # Exchange out-of-office replies carry X-Auto-Response-Suppress and no Auto-Submitted.
    return mail.subject.lower().startswith(("automatic reply:", "out of office", "autoreply", "abwesenheitsnotiz"))


def _is_report(message: Message) -> bool:
    return message.get_content_type() == "multipart/report"


@attrs.frozen
class Bounce:
    """A delivery status notification, read.

    Attributes:
        original_message_id: the Message-ID of the mail that could not be
            delivered, if the report includes it.
        recipients: the addresses that failed.
        status: the DSN status code (``5.1.1``), if given.
        diagnostic: the remote server's words, if given.
    """

    original_message_id: str | None
    recipients: tuple[str, ...]
    status: str | None
    diagnostic: str | None


def bounce_report(mail: InboundMail) -> Bounce:
    """Read a bounce: which message failed, for whom, and why (best effort for non-standard bounces)."""
    original: str | None = None
    recipients: list[str] = []
    status = diagnostic = None
    for part in mail.message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            for block in part.get_payload() if isinstance(part.get_payload(), list) else []:
                if not isinstance(block, Message):
                    continue
                final = block.get("Final-Recipient") or block.get("Original-Recipient")
                if final:
                    recipients.append(str(final).split(";")[-1].strip().lower())
                status = status or (str(block["Status"]).strip() if block.get("Status") else None)
                if block.get("Diagnostic-Code"):
                    diagnostic = diagnostic or str(block["Diagnostic-Code"]).split(";", 1)[-1].strip()
        elif content_type in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _original_id(part)
    if original is None:
        # Non-standard bounces quote the original in the body; the reply headers may also name it.
        ids = message_ids(_find_line(mail.text, "message-id:")) or mail.thread_ids
        original = ids[0] if ids else None
    return Bounce(original, tuple(recipients), status, diagnostic)


def _original_id(part: Message) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        ids = message_ids(str(payload[0].get("Message-ID", "")))
    else:
        text = payload if isinstance(payload, str) else ""
        ids = message_ids(_find_line(text, "message-id:"))
    return ids[0] if ids else None


def _find_line(text: str, prefix: str) -> str | None:
    for line in text.splitlines():
        if line.strip().lower().startswith(prefix):
            return line.split(":", 1)[1]
    return None


class RateLimit:
    """At most *limit* messages per sender in any *window*: stops a loop that slips past the headers.

    Counted per process (a sliding window per sender address); thread-safe.
    """

    def __init__(self, limit: int = 20, window: timedelta = timedelta(hours=1)) -> None:
        if limit < 1 or window <= timedelta(0):
            raise ValueError("a rate limit needs limit >= 1 and a positive window")
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, sender: str, at: datetime) -> bool:
        """Count one message from *sender* at *at*; False once the sender is over the limit."""
        with self._lock:
            times = self._seen.setdefault(sender, deque())
            while times and times[0] <= at - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(at)
            return True
