"""Links between tickets and to records in other trackers; link-driven moves; duplicates; broadcasts.

The functions take the instant explicitly; :class:`~ticketflow.Workflow`
passes its clock's (or the caller's, checked aware). Every change goes
through the :class:`~ticketflow.recording.Recorder` of the
:class:`~ticketflow.recording.Scope` they are given, so link-rule moves and
broadcasts get their due instants and fired transitions run their actions.

Each link is recorded twice, in one transaction: as an event in the ticket's
history (``meta["link"]``) and in the repository's link index, which answers
both "what does this ticket link to" and "which tickets link to this".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ticketflow._brief import brief
from ticketflow.errors import FieldError, LifecycleMismatch, PermissionDenied, TicketNotFound, TransitionNotAllowed
from ticketflow.model import SYSTEM, Actor, Comment, Event, Ticket
from ticketflow.protocols import Link, TicketRepository
from ticketflow.recording import Reads, Scope, Step, Write, fired, opened

__all__ = [
    "EVERYONE",
    "LINK_KINDS",
    "ExternalRecord",
    "acknowledge",
    "acknowledgements",
    "addressed_to",
    "broadcast",
    "broadcasts_for",
    "link",
    "linked_record_changed",
    "mark_duplicate",
    "record_target",
]

#: The link kinds every lifecycle knows (``addressed_to`` links a broadcast to its audience).
LINK_KINDS = ("relates_to", "blocks", "caused_by", "follow_up_of", "duplicate_of", "addressed_to")
#: The audience of a broadcast to every account (a multicast names accounts).
EVERYONE = "account:*"


@attrs.frozen
class ExternalRecord:
    """A record in another tracker (an engineering issue, a CRM case...).

    Attributes:
        kind: what it is (``issue``).
        key: its key there (``ENG-1042``).
        url: a link to it.
        status: its status there, if known.
        priority: its priority there, if known.
    """

    kind: str
    key: str
    url: str | None = None
    status: str | None = None
    priority: str | None = None

    @property
    def target(self) -> str:
        """How links name it: ``record:<kind>:<key>``."""
        return record_target(self.kind, self.key)


def record_target(kind: str, key: str) -> str:
    """The link target naming an external record."""
    return f"record:{kind}:{key}"


def link(
    scope: Scope,
    ticket_id: str,
    actor: Actor,
    kind: str,
    *,
    to_ticket: str | None = None,
    record: ExternalRecord | None = None,
    at: datetime,
) -> Ticket:
    """Link a ticket to another ticket or to a record: an event and an index entry, together.

    ``addressed_to`` is refused: those links are a broadcast's audience, written only by :func:`broadcast`.
    """
    if kind == "addressed_to":  # only broadcast() writes it: a caller's would pose as a broadcast's audience
        raise FieldError(ticket_id, "link", ["kind"], "addressed_to links are a broadcast's audience: use broadcast()")
    if kind not in LINK_KINDS:
        raise FieldError(ticket_id, "link", ["kind"], f"unknown link kind {kind!r}; use one of {', '.join(LINK_KINDS)}")
    if (to_ticket is None) == (record is None):
        raise FieldError(ticket_id, "link", ["to_ticket", "record"], "link to exactly one ticket or one record")
    if to_ticket is not None:
        # TicketNotFound if it does not exist, or the actor may not see it
        scope.lifecycle.access.check_read(scope.repository.get(to_ticket), actor)
        target, details = to_ticket, {}
    else:
        assert record is not None  # noqa: S101 - narrowed above
        # the record's kind is in its target (record:<kind>:<key>); the link's own kind stays the event's "kind"
        details = {k: v for k, v in attrs.asdict(record).items() if v is not None and k != "kind"}
        target = record.target

    def plan(reads: Reads) -> Write[Ticket]:
        ticket = reads.ticket(ticket_id)
        new, event, taken = scope.engine.apply(
            ticket, "update", actor, at, meta={"link": {"kind": kind, "target": target, **details}}
        )
        return Write(new, (fired(ticket, new, event, taken),), links=(Link(ticket_id, kind, target),))

    return scope.recorder.record(plan)


def _last_seen(history: Sequence[Event], target: str) -> tuple[Any, Any] | None:
    for event in reversed(history):
        seen = event.meta.get("record")
        if seen == target:
            return event.meta.get("status"), event.meta.get("priority")
    return None


def _all_linked_match(reads: Reads, ticket_id: str, kind: str, changed: str, statuses: frozenset[str]) -> bool:
    """Whether every other record of *kind* linked to the ticket was last seen in one of *statuses*."""
    prefix = record_target(kind, "")
    history = reads.history(ticket_id)
    for entry in reads.repository.links(ticket_id):
        if entry.target.startswith(prefix) and entry.target != changed:
            seen = _last_seen(history, entry.target)
            if seen is None or seen[0] not in statuses:
                return False
    return True


def linked_record_changed(
    scope: Scope,
    kind: str,
    key: str,
    *,
    status: str,
    priority: str | None = None,
    at: datetime,
) -> list[Event]:
    """A linked record changed: record it on every linked ticket once, and apply the link rules.

    For each ticket linked to the record, the first ``link_rules`` entry that
    applies and whose trigger the ticket's state allows is fired as
    ``system`` (a rule with ``all`` only once every record of its kind linked
    to the ticket was last seen in one of its statuses); otherwise the change
    is recorded as an update. A change
    already recorded (same status and priority) does nothing, so repeated
    webhooks are harmless.
    """
    target = record_target(kind, key)
    meta = {"record": target, "status": status, "priority": priority}
    lifecycle, engine = scope.lifecycle, scope.engine
    written: list[Event] = []

    def plan_for(ticket_id: str) -> Any:
        def plan(reads: Reads) -> Write[Event | None]:
            ticket = reads.ticket(ticket_id)
            if lifecycle.states[ticket.state].immutable or _last_seen(reads.history(ticket_id), target) == (
                status,
                priority,
            ):
                return Write(None)
            step = None
            for rule in lifecycle.link_rules:
                if rule.applies(kind, status, priority):
                    if rule.all and not _all_linked_match(reads, ticket_id, rule.record, target, rule.statuses):
                        continue
                    try:
                        step = engine.apply(
                            ticket, rule.fire, SYSTEM, at, meta={**meta, "rule": f"link:{rule.fire}"},
                            comment=Comment(SYSTEM.id, f"{kind} {key} is now {status}", "internal"),
                            guards=scope.guards,
                        )  # fmt: skip
                        break
                    except (TransitionNotAllowed, PermissionDenied, FieldError):
                        continue
            if step is None:
                step = engine.apply(ticket, "update", SYSTEM, at, meta=meta)
            new, event, taken = step
            return Write(event, (fired(ticket, new, event, taken),))

        return plan

    for entry in scope.repository.linked(target):
        try:
            event = scope.recorder.record(plan_for(entry.ticket_id))
        except LifecycleMismatch:
            continue  # another lifecycle's ticket: its own Workflow applies its own link rules
        if event is not None:
            written.append(event)
    return written


def mark_duplicate(
    scope: Scope,
    duplicate_id: str,
    original_id: str,
    actor: Actor,
    *,
    trigger: str,
    fields: dict[str, Any] | None = None,
    comment: str | None = None,
    at: datetime,
) -> Ticket:
    """Close *duplicate_id* as a duplicate of *original_id*, atomically.

    The original gains the duplicate's requester and participants as
    participants; the duplicate is closed by *trigger* (with *fields*, say a
    reason) and linked ``duplicate_of`` the original. All or nothing.
    """
    if duplicate_id == original_id:
        raise FieldError(duplicate_id, trigger, ["original_id"], "a ticket cannot duplicate itself")
    engine = scope.engine

    access = scope.lifecycle.access

    def plan(reads: Reads) -> Write[Ticket]:
        # both tickets must be the actor's to see before anything is judged: a refusal about one must not
        # tell a stranger that the other exists
        duplicate = access.check_read(reads.ticket(duplicate_id), actor)
        original = access.check_read(reads.ticket(original_id), actor)
        people = (original.participants | duplicate.participants | {duplicate.requester or ""}) - {
            "",
            original.requester or "",
        }
        merged, merged_event, merged_taken = engine.apply(
            original, "update", actor, at, attributes={"participants": people}, meta={"merged": duplicate_id}
        )
        closed, closed_event, closed_taken = engine.apply(
            duplicate,
            trigger,
            actor,
            at,
            fields=fields,
            comment=Comment(actor.id, comment or f"Duplicate of {original_id}", "public"),
            meta={"duplicate_of": original_id},
            guards=scope.guards,
        )
        steps = (
            fired(original, merged, merged_event, merged_taken),
            fired(duplicate, closed, closed_event, closed_taken),
        )
        return Write(closed, steps, links=(Link(duplicate_id, "duplicate_of", original_id),))

    return scope.recorder.record(plan)


def broadcast(
    scope: Scope,
    actor: Actor,
    *,
    title: str,
    accounts: Sequence[str] | None = None,
    fields: Mapping[str, Any] | None = None,
    comment: str | None = None,
    at: datetime,
) -> Ticket:
    """One ticket addressed to many customers: every account (broadcast) or the *accounts* named (multicast).

    The audience is stored as ``addressed_to`` links in the same transaction
    as the ticket, so each customer finds it with :func:`broadcasts_for`.
    Only the lifecycle's ``[access].broadcast`` roles (default: staff) may
    broadcast.
    """
    access = scope.lifecycle.access
    if not access.standing(actor).roles & access.broadcast:
        raise PermissionDenied("(new)", "broadcast", actor.id, sorted(actor.roles), sorted(access.broadcast))
    if isinstance(accounts, str):  # iterable: "acme" would address the accounts a, c, m, e
        raise TypeError(f"accounts must be a collection of account names, got the string {brief(accounts)}")
    names = None if accounts is None else list(accounts)
    if names is not None and not all(isinstance(a, str) and a for a in names):
        raise FieldError(None, "open", ["accounts"], f"expected account names, got {brief(names)}")
    audience = [EVERYONE] if names is None else [f"account:{a}" for a in dict.fromkeys(names)]
    if not audience:
        raise FieldError(None, "open", ["accounts"], "a multicast needs at least one account")
    ticket, event = scope.engine.open(
        scope.new_id(),
        actor,
        at,
        title=title,
        fields=fields,
        comment=None if comment is None else Comment(actor.id, comment, "public"),
        meta={"broadcast": tuple(audience)},
    )
    links = tuple(Link(ticket.id, "addressed_to", target) for target in audience)
    step: Step = opened(ticket, event)
    return scope.recorder.record(lambda _reads: Write(ticket, (step,), links=links))


def addressed_to(repository: TicketRepository, ticket_id: str, accounts: Iterable[str]) -> bool:
    """Whether the ticket is a broadcast to everyone, or a multicast to one of *accounts*."""
    audience = {link.target for link in repository.links(ticket_id) if link.kind == "addressed_to"}
    return EVERYONE in audience or any(f"account:{a}" in audience for a in accounts)


def broadcasts_for(repository: TicketRepository, account: str) -> list[Ticket]:
    """The broadcast and multicast tickets addressed to *account*, oldest first."""
    ids = {link.ticket_id for link in repository.linked(EVERYONE)}
    ids |= {link.ticket_id for link in repository.linked(f"account:{account}")}
    return sorted((repository.get(i) for i in ids), key=lambda t: (t.created_at, t.id))


def acknowledge(scope: Scope, ticket_id: str, account: str, actor: Actor, *, at: datetime) -> Ticket:
    """Record that *account* acknowledged the broadcast (once; a second acknowledgement changes nothing).

    The acknowledgement is a comment that moves nothing: a member of the
    audience is not related to the ticket, so it takes none of the
    lifecycle's ``on = comment`` transitions (a requester's reply).
    Only a member of the account (``account in actor.accounts``) may
    acknowledge for it, or an actor holding an ``[access].on_behalf`` role
    (the event keeps both: the actor, and the account acknowledged for).
    """
    if not isinstance(actor, Actor):
        raise TypeError(f"actor must be a ticketflow.Actor, got {type(actor).__name__}")
    access = scope.lifecycle.access
    if account not in actor.accounts and not access.standing(actor).roles & access.on_behalf:
        raise PermissionDenied(
            ticket_id, "acknowledge", actor.id, sorted(actor.roles), sorted(access.on_behalf),
            subject=f"acknowledge for account {account!r}, which they do not belong to",
        )  # fmt: skip
    repository = scope.repository
    audience = {link.target for link in repository.links(ticket_id) if link.kind == "addressed_to"}
    if not audience:
        if not access.may_see(repository.get(ticket_id), actor):
            raise TicketNotFound(ticket_id)  # a stranger: as for a ticket that does not exist
        raise FieldError(ticket_id, "acknowledge", ["ticket_id"], "not a broadcast or multicast ticket")
    if EVERYONE not in audience and f"account:{account}" not in audience:
        raise TicketNotFound(ticket_id)  # not addressed to this account: as if it did not exist

    def plan(reads: Reads) -> Write[Ticket]:
        ticket = reads.ticket(ticket_id)
        if any(e.meta.get("ack") == account for e in reads.history(ticket_id)):
            return Write(ticket)  # acknowledged already: nothing changes
        note = Comment(actor.id, f"Acknowledged for {account}", "public")
        new, event, taken = scope.engine.apply(  # the library's own step, with its own meta; it moves nothing
            ticket, "comment", actor, at, comment=note, meta={"ack": account}, guards=scope.guards, related=True,
            react=False,
        )  # fmt: skip
        return Write(new, (fired(ticket, new, event, taken),))

    return scope.recorder.record(plan)


def acknowledgements(repository: TicketRepository, ticket_id: str) -> dict[str, datetime]:
    """Which accounts acknowledged the broadcast, and when."""
    return {str(e.meta["ack"]): e.at for e in repository.history(ticket_id) if "ack" in e.meta}
