"""The mail desk: one received message in, one decision out, through the public Workflow API.

Ingesting is at-least-once safe: a message whose Message-ID the store knows
changes nothing the second time. Unusable mail is kept in the quarantine,
never lost; machine mail (auto-replies, lists, bounces) never opens a ticket
nor is answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from ticketflow.errors import LifecycleMismatch, TicketflowError, TicketNotFound
from ticketflow.intake import IntakeRefused
from ticketflow.mail._auth import authentication_results
from ticketflow.mail._loop import Bounce, RateLimit, automatic_reason, bounce_report
from ticketflow.mail._message import AttachmentInfo, AttachmentStore, InboundMail, MailError, parse_message
from ticketflow.mail._reply import strip_reply
from ticketflow.mail._store import MailRecord, MemoryMessageIds, MemoryQuarantine, MessageIdStore, Quarantine
from ticketflow.mail._thread import ThreadDecision, Threader
from ticketflow.model import Actor, Ticket, require_aware
from ticketflow.protocols import OutboxMessage

if TYPE_CHECKING:
    from ticketflow.workflow import Workflow

__all__ = ["MAILER_DAEMON", "MailDesk", "MailOutcome", "requester_actor"]

log = logging.getLogger("ticketflow.mail")

#: The default actor that records bounces on tickets, as an internal comment (a role that may comment).
MAILER_DAEMON = Actor("mailer-daemon", roles={"agent"})

_FORWARD = ("fwd:", "fw:", "wg:", "tr:", "enc:", "doorst:", "vl:", "rv:")


def requester_actor(mail: InboundMail) -> Actor:
    """The default actor of a received message: its sender's address, as a requester."""
    return Actor(mail.sender, roles={"requester"})


@attrs.frozen
class MailOutcome:
    """What ingesting one message did.

    Attributes:
        action: ``opened``, ``commented``, ``follow_up`` (a reply to an
            immutable ticket opened a new one), ``contact`` (the channel
            records a contact, not a ticket), ``dropped`` (machine mail, or
            over the sender's rate limit), ``bounce``, ``refused`` (the
            channel or the lifecycle refused it; a refusal mail was queued
            where fitting), ``duplicate`` (ingested before), ``kept``
            (unusable: in the quarantine).
        message_id: the message's Message-ID (``None`` if it had none readable).
        ticket_id: the ticket it went to, if any.
        rule: the threading rule that matched (see
            :class:`~ticketflow.mail.ThreadDecision`), ``""`` when none ran.
        reason: why it was dropped, refused or kept.
    """

    action: str
    message_id: str | None
    ticket_id: str | None = None
    rule: str = ""
    reason: str = ""


class MailDesk:
    """Turns received e-mail into tickets and comments on one :class:`~ticketflow.Workflow`.

    Args:
        workflow: the workflow tickets are opened on; every ticket write goes
            through its public methods (``receive``, ``reply``, ``comment``).
        store: the Message-IDs per ticket (default: in memory; use
            :class:`~ticketflow.mail.SQLiteMessageIds` to survive restarts).
        quarantine: where unusable or refused mail is kept (default: memory).
        attachments: where attachment bytes and each full original message
            go; without one, only metadata is kept.
        channel: the ``[intake]`` channel mail comes through; one the
            lifecycle's ``[intake]`` channels lack is a ValueError here (a
            lifecycle without channels takes any).
        actor_for: the actor a message acts as (default: its sender as a
            ``requester``); map your agents' addresses to agents here. A
            message whose actor is staff is refused (kept in the quarantine)
            unless it is authenticated (*authserv_id*, *require_auth*): a
            From header alone is trivial to forge. The address it claims is
            sent a ``mail.refused`` message.
        fields_for: the fields of a ticket a message opens (the request
            type for ``[intake]``, required fields of the lifecycle).
        fallback_days: how far back the same-subject rule looks (``None``: off).
        rate_limit: per-sender limit (``None``: off).
        authserv_id: the ``authserv-id`` of your MTA's
            ``Authentication-Results`` headers (others are ignored).
        require_auth: results that must be ``pass`` for a sender to count as
            authenticated (``("dkim",)``, ``("spf", "dkim")``); with none,
            mail is unauthenticated for the channel's ``needs_authentication``.
        bounce_actor: who writes the internal note recording a bounce on its
            ticket (default: ``mailer-daemon`` as an ``agent``); only for a
            report on mail the store records as sent, naming one of its
            recipients.
    """

    def __init__(
        self,
        workflow: Workflow,
        *,
        store: MessageIdStore | None = None,
        quarantine: Quarantine | None = None,
        attachments: AttachmentStore | None = None,
        channel: str = "email",
        actor_for: Callable[[InboundMail], Actor] = requester_actor,
        fields_for: Callable[[InboundMail], Mapping[str, Any]] | None = None,
        fallback_days: int | None = 14,
        rate_limit: RateLimit | None = None,
        authserv_id: str | None = None,
        require_auth: Sequence[str] = (),
        bounce_actor: Actor = MAILER_DAEMON,
    ) -> None:
        self.workflow = workflow
        self.store: MessageIdStore = store if store is not None else MemoryMessageIds()
        self.quarantine: Quarantine = quarantine if quarantine is not None else MemoryQuarantine()
        self.attachments = attachments
        channels = workflow.intake.channels
        if channels and channel not in channels:  # else every message would be refused, one by one
            raise ValueError(
                f"MailDesk: channel {channel!r} is not one of the lifecycle's [intake] channels "
                f"({', '.join(channels)}); pass channel= one of them"
            )
        self.channel = channel
        self.actor_for = actor_for
        self.fields_for = fields_for
        self.rate_limit = rate_limit if rate_limit is not None else RateLimit()
        self.authserv_id = authserv_id
        self.require_auth = tuple(require_auth)
        if self.require_auth and authserv_id is None:
            raise ValueError("require_auth needs authserv_id: the id your MTA writes in Authentication-Results")
        self.bounce_actor = bounce_actor
        # One message at a time per desk: the receiver's thread and a poller's never race on one Message-ID.
        self._lock = threading.Lock()
        self.threader = Threader(self.store, self._exists, self._recent, fallback_days)

    def __repr__(self) -> str:
        return f"MailDesk({self.workflow!r}, channel={self.channel!r}, store={self.store!r})"

    # -- collaborators of the threader -----------------------------------------------

    def _exists(self, ticket_id: str) -> bool:
        try:
            return self.workflow.get(ticket_id).lifecycle_id == self.workflow.lifecycle.id
        except (TicketNotFound, LifecycleMismatch):  # another lifecycle's ticket is not this desk's
            return False

    def _recent(self, requester: str, since: datetime) -> Sequence[Ticket]:
        return self.workflow.find(requester=requester, updated_after=since, limit=200).tickets

    # -- ingesting -----------------------------------------------------------------

    def ingest(self, raw: bytes, *, at: datetime | None = None) -> MailOutcome:
        """Take one received message (its raw bytes) and say what became of it.

        Never raises for a bad message: unusable mail is ``kept`` in the
        quarantine with its reason. Raises only when a store fails (the
        transport should retry; nothing was half-done that a retry repeats).
        Messages are taken one at a time per desk; give desks in several
        processes different mailboxes (the check for a known Message-ID and
        the write are not one transaction across processes).

        Raises:
            NaiveDatetime: *at* (the caller's, not the message's) has no zone.
        """
        if at is not None:
            require_aware(at, "at")
        with self._lock:
            return self._ingest(raw, at)

    def _ingest(self, raw: bytes, at: datetime | None) -> MailOutcome:
        when = self.workflow.clock.now() if at is None else at
        try:
            mail = parse_message(raw, self.attachments)
        except MailError as error:
            self.quarantine.keep(bytes(raw) if isinstance(raw, bytes | bytearray) else b"", error.reason, when)
            return MailOutcome("kept", error.message_id, reason=str(error))
        known = self.store.find(mail.message_id)
        if known is not None and known.direction == "out":
            # Not recorded: a received record of the id must not sit beside the sent one (a store finding the
            # received record first would match the sent mail's bounces and replies to it).
            reason = "our own outgoing message came back"
            log.info("mail <%s> from %s dropped: %s", mail.message_id, mail.sender, reason)
            return MailOutcome("dropped", mail.message_id, None, "own_message", reason)
        if known is not None:
            before = f"ingested before: {known.action}"
            return MailOutcome("duplicate", mail.message_id, known.ticket_id, known.rule, before)
        original = self._keep_original(mail)
        automatic = automatic_reason(mail)
        if automatic == "bounce":
            return self._bounce(mail, when, original)
        if automatic is not None:
            return self._done(mail, when, None, "dropped", "automatic", original, automatic)
        if not self.rate_limit.allow(mail.sender, when):
            reason = f"over {self.rate_limit.limit} messages from {mail.sender} within {self.rate_limit.window}"
            return self._done(mail, when, None, "dropped", "rate_limit", original, reason)
        decision = self.threader.decide(mail, when)
        if decision.ticket_id is not None:
            return self._reply(mail, decision, when, original)
        return self._open(mail, when, original)

    def decide(self, raw: bytes, *, at: datetime | None = None) -> ThreadDecision:
        """The threading decision for a message, without ingesting it (for tests and tooling)."""
        if at is not None:
            require_aware(at, "at")
        return self.threader.decide(parse_message(raw), self.workflow.clock.now() if at is None else at)

    def thread(self, ticket_id: str) -> list[MailRecord]:
        """The ticket's mail, received and sent, oldest first: the audit trail of the desk's decisions."""
        return self.store.thread(ticket_id)

    def authenticated(self, mail: InboundMail) -> bool:
        """Whether *mail*'s sender counts as authenticated (every ``require_auth`` result passed)."""
        if not self.require_auth or self.authserv_id is None:
            return False
        results = authentication_results(mail, self.authserv_id)
        return all(results.get(method) == "pass" for method in self.require_auth)

    # -- the steps -------------------------------------------------------------------

    def _keep_original(self, mail: InboundMail) -> str | None:
        if self.attachments is None:
            return None
        return self.attachments.put(mail.raw, AttachmentInfo("original.eml", "message/rfc822", len(mail.raw)))

    def _done(
        self,
        mail: InboundMail,
        at: datetime,
        ticket_id: str | None,
        action: str,
        rule: str,
        original: str | None,
        reason: str = "",
    ) -> MailOutcome:
        self.store.record(
            MailRecord(
                mail.message_id,
                "in",
                ticket_id,
                action,
                rule,
                at,
                sender=mail.sender,
                subject=mail.subject,
                original=original,
                attachments=mail.attachments,
            )
        )
        if action in ("dropped", "refused"):
            log.info("mail <%s> from %s %s: %s", mail.message_id, mail.sender, action, reason)
        return MailOutcome(action, mail.message_id, ticket_id, rule, reason)

    def _unproven(self, mail: InboundMail, actor: Actor) -> str | None:
        """Why *actor* may not act for this message: staff by a From header no MTA vouched for (else None)."""
        if not self.workflow.lifecycle.access.is_staff(actor) or self.authenticated(mail):
            return None
        why = (
            f"{mail.sender} maps to staff (roles {', '.join(sorted(actor.roles))}), but a From header proves "
            "nothing: staff act by mail only when authenticated (MailDesk(authserv_id=..., require_auth=...))"
        )
        if self.authserv_id is None or not self.require_auth:
            return why
        results = authentication_results(mail, self.authserv_id)
        found = ", ".join(f"{method}={results.get(method, 'none')}" for method in self.require_auth)
        return f"{why}; {self.authserv_id} found {found} for the From domain"

    def _reply(self, mail: InboundMail, decision: ThreadDecision, at: datetime, original: str | None) -> MailOutcome:
        assert decision.ticket_id is not None  # noqa: S101 - decide() found one
        body = strip_reply(mail.text) or "(no text)"
        actor = self.actor_for(mail)
        unproven = self._unproven(mail, actor)
        if unproven is not None:
            self._refuse_unproven(mail, unproven, at)
            return self._done(mail, at, decision.ticket_id, "refused", decision.rule, original, unproven)
        try:
            ticket = self.workflow.reply(decision.ticket_id, actor, body, at=at)
        except TicketflowError as refused:
            self.quarantine.keep(mail.raw, str(refused), at)
            return self._done(mail, at, decision.ticket_id, "refused", decision.rule, original, str(refused))
        action = "commented" if ticket.id == decision.ticket_id else "follow_up"
        return self._done(mail, at, ticket.id, action, decision.rule, original)

    def _open(self, mail: InboundMail, at: datetime, original: str | None) -> MailOutcome:
        forwarded = mail.subject.lower().startswith(_FORWARD)
        body = mail.text.strip() if forwarded else strip_reply(mail.text)
        fields = dict(self.fields_for(mail)) if self.fields_for is not None else {}
        actor = self.actor_for(mail)
        unproven = self._unproven(mail, actor)
        if unproven is not None:
            self._refuse_unproven(mail, unproven, at)
            return self._done(mail, at, None, "refused", "new", original, unproven)
        try:
            result = self.workflow.receive(
                actor,
                channel=self.channel,
                authenticated=self.authenticated(mail),
                title=mail.subject or "(no subject)",
                fields=fields,
                comment=body or None,
                at=at,
            )
        except IntakeRefused as refused:
            self._refusal_mail(mail, refused, at)
            return self._done(mail, at, None, "refused", "new", original, str(refused))
        except TicketflowError as refused:
            self.quarantine.keep(mail.raw, str(refused), at)
            return self._done(mail, at, None, "refused", "new", original, str(refused))
        if isinstance(result, OutboxMessage):
            return self._done(mail, at, None, "contact", "new", original)
        return self._done(mail, at, result.id, "opened", "new", original)

    def _refuse_unproven(self, mail: InboundMail, unproven: str, at: datetime) -> None:
        """Keep staff mail no MTA vouched for, and tell the address it claims to be from (its owner)."""
        self.quarantine.keep(mail.raw, unproven, at)
        reason = (
            f"mail from staff is acted on only when your mail system authenticates it as sent from {mail.sender} "
            "(DKIM signed by your domain); this message was not, and nothing was changed. If you did not send it, "
            "someone wrote your address in its From"
        )
        self._queue_refusal(mail, reason, "", self.channel, at)

    def _refusal_mail(self, mail: InboundMail, refused: IntakeRefused, at: datetime) -> None:
        """Queue the channel's refusal for the sender (kind ``mail.refused``), with the rest of the outbox."""
        self._queue_refusal(mail, refused.reason, refused.instead or "", refused.channel, at)

    def _queue_refusal(self, mail: InboundMail, reason: str, instead: str, channel: str, at: datetime) -> None:
        message = OutboxMessage(
            f"mail.refused:{mail.message_id}",
            "",
            "mail.refused",
            {
                "to": mail.sender,
                "subject": mail.subject,
                "reason": reason,
                "instead": instead,
                "channel": channel,
                "in_reply_to": mail.message_id,
            },
            at,
        )
        with self.workflow.repository.transaction() as tx:
            tx.enqueue(message)

    def _bounce(self, mail: InboundMail, at: datetime, original: str | None) -> MailOutcome:
        report = bounce_report(mail)
        sent = self.store.find(report.original_message_id) if report.original_message_id else None
        if sent is None or sent.direction != "out" or sent.ticket_id is None:
            # Only mail we sent can bounce: a report naming a received (or unknown) Message-ID is anyone's forgery.
            return self._done(mail, at, None, "bounce", "bounce", original, "no ticket sent the bounced message")
        failed = _bounced_recipients(report, sent, mail.text)
        if not failed:
            reason = f"the report names none of the recipients of <{sent.message_id}>"
            return self._done(mail, at, None, "bounce", "bounce", original, reason)
        ticket_id = sent.ticket_id
        why = " ".join(x for x in (report.status, report.diagnostic) if x) or "no reason given"
        note = f"Mail to {', '.join(failed)} could not be delivered ({why}); Message-ID <{sent.message_id}>."
        try:
            self.workflow.comment(ticket_id, self.bounce_actor, note, visibility="internal", at=at)
        except TicketflowError as refused:
            log.warning("bounce for ticket %s not recorded as a comment: %s", ticket_id, refused)
        return self._done(mail, at, ticket_id, "bounce", "in_reply_to", original, note)


def _bounced_recipients(report: Bounce, sent: MailRecord, text: str) -> list[str]:
    """The recipients of *sent* the bounce reports as failed (a non-standard bounce: those its text names)."""
    if report.recipients:
        return [r.strip("<>") for r in report.recipients if r.strip("<>") in sent.recipients]
    lowered = text.lower()
    return [r for r in sent.recipients if r in lowered]
