"""E-mail in and out: parse, thread, strip quotes, stop loops (the ``mail`` extra).

Install with ``pip install 'ticketflow[mail]'``. Nothing here is imported by
``import ticketflow``; import ``ticketflow.mail`` where you take mail in.
"""

from ticketflow.mail._auth import authentication_results
from ticketflow.mail._desk import MAILER_DAEMON, MailDesk, MailOutcome, requester_actor
from ticketflow.mail._loop import Bounce, RateLimit, automatic_reason, bounce_report
from ticketflow.mail._message import AttachmentInfo, AttachmentStore, InboundMail, MailError, parse_message
from ticketflow.mail._reply import strip_reply
from ticketflow.mail._smtp import DEFAULT_TEMPLATES, MailTemplate, SmtpNotifier
from ticketflow.mail._store import (
    DirectoryAttachments,
    DirectoryQuarantine,
    MailRecord,
    MemoryAttachments,
    MemoryMessageIds,
    MemoryQuarantine,
    MessageIdStore,
    Quarantine,
    SQLiteMessageIds,
)
from ticketflow.mail._thread import ThreadDecision, Threader, normalise_subject
from ticketflow.mail._transport import ImapPoller, MailHandler, MailServer, ingest_path

__all__ = [
    "DEFAULT_TEMPLATES",
    "MAILER_DAEMON",
    "AttachmentInfo",
    "AttachmentStore",
    "Bounce",
    "DirectoryAttachments",
    "DirectoryQuarantine",
    "ImapPoller",
    "InboundMail",
    "MailDesk",
    "MailError",
    "MailHandler",
    "MailOutcome",
    "MailRecord",
    "MailServer",
    "MailTemplate",
    "MemoryAttachments",
    "MemoryMessageIds",
    "MemoryQuarantine",
    "MessageIdStore",
    "Quarantine",
    "RateLimit",
    "SQLiteMessageIds",
    "SmtpNotifier",
    "ThreadDecision",
    "Threader",
    "authentication_results",
    "automatic_reason",
    "bounce_report",
    "ingest_path",
    "normalise_subject",
    "parse_message",
    "requester_actor",
    "strip_reply",
]
