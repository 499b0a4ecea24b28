"""Which ticket a message belongs to, when the threading headers are there and when they are not.

Rules, in order (the first that finds an existing ticket wins):

1. ``in_reply_to`` / ``references``: a Message-ID the desk received or sent
   for a ticket (the :class:`~ticketflow.mail.MessageIdStore`);
2. ``subject_key``: a ticket key in brackets in the subject (``[SUP-1042]``);
3. ``plus_address``: a recipient such as ``support+SUP-1042@example.com``;
4. ``same_subject``: a reply (``Re:``/``AW:``/``SV:``..., or threading
   headers naming unknown messages) from the same requester whose subject,
   normalised, equals the title of one of their tickets updated within the
   last N days;
5. ``new``: none matched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from ticketflow.mail._message import InboundMail
from ticketflow.mail._store import MessageIdStore
from ticketflow.model import Ticket

__all__ = ["ThreadDecision", "Threader", "normalise_subject"]

# Reply and forward prefixes in the languages mail clients write them (and "RE[2]:"/"Re^2:" counters).
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|antw|antwort|sv|vs|vl|ref|rif|r|res|odp|tr|wg|fw|fwd|enc|rv|doorst|trs|ynt|atb|odg)"
    r"(?:\s*[\[(^]?\d+[\])]?)?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)
_REPLY = re.compile(
    r"^\s*(?:re|aw|antw|antwort|sv|vs|ref|rif|r|res|odp|ynt|atb|odg)(?:\s*[\[(^]?\d+[\])]?)?\s*[:\uff1a]", re.IGNORECASE
)  # a fullwidth colon too (CJK clients)
_TAG = re.compile(r"\[\s*#?\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*\]")


def normalise_subject(subject: str) -> str:
    """The subject without reply/forward prefixes, bracketed tags and case: for comparing threads."""
    text = subject
    while True:
        stripped = _TAG.sub(" ", _PREFIX.sub("", text)).strip()
        if stripped == text:
            break
        text = stripped
    return " ".join(text.split()).casefold()


@attrs.frozen
class ThreadDecision:
    """Where a message goes, and which rule said so.

    Attributes:
        rule: ``in_reply_to``, ``references``, ``subject_key``,
            ``plus_address``, ``same_subject`` or ``new``.
        ticket_id: the ticket found (``None`` for ``new``).
        detail: what matched (the Message-ID, the key, the address, the title).
    """

    rule: str
    ticket_id: str | None
    detail: str = ""


@attrs.frozen
class Threader:
    """Applies the threading rules with narrow collaborators (no Workflow).

    Attributes:
        store: the Message-IDs known per ticket.
        exists: whether a ticket id (a key from a subject or address) names a
            ticket of this desk.
        recent: the requester's tickets updated since an instant.
        fallback_days: how far back ``same_subject`` looks (``None``: off).
    """

    store: MessageIdStore
    exists: Callable[[str], bool]
    recent: Callable[[str, datetime], Sequence[Ticket]]
    fallback_days: int | None = 14

    def decide(self, mail: InboundMail, at: datetime) -> ThreadDecision:
        """The decision for *mail* received at *at*."""
        for rule, ids in (("in_reply_to", mail.in_reply_to), ("references", tuple(reversed(mail.references)))):
            for message_id in ids:
                found = self.store.ticket_for([message_id])
                if found is not None:
                    return ThreadDecision(rule, found, f"<{message_id}>")
        for key in _TAG.findall(mail.subject):
            if self.exists(key):
                return ThreadDecision("subject_key", key, f"[{key}]")
        for address in mail.recipients:
            local = address.split("@", 1)[0]
            if "+" in local:
                key = local.split("+", 1)[1]
                for candidate in (key, key.upper()):
                    if self.exists(candidate):
                        return ThreadDecision("plus_address", candidate, address)
        if self.fallback_days is not None and (_REPLY.match(mail.subject) or mail.thread_ids):
            wanted = normalise_subject(mail.subject)
            since = at - timedelta(days=self.fallback_days)
            matches = [t for t in self.recent(mail.sender, since) if wanted and normalise_subject(t.title) == wanted]
            if matches:
                ticket = max(matches, key=lambda t: t.updated_at)
                return ThreadDecision("same_subject", ticket.id, ticket.title)
        return ThreadDecision("new", None)
