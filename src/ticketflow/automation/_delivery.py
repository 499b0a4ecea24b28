"""Outbox delivery: per kind, claimed with a lease, backed off per message, logged.

Guarantees, with a repository that offers claims (memory, SQLite, PostgreSQL):

- **no head-of-line blocking**: a sweeper claims only messages of kinds it has
  a notifier for; a message of any other kind is flagged ``undeliverable``
  (kept, listed by ``deliveries(status="undeliverable")``) and delivered as
  soon as a sweeper with a notifier for its kind runs;
- **exactly once in normal operation**: a claim leases the message to one
  sweeper (SQLite: one ``BEGIN IMMEDIATE``; PostgreSQL: ``FOR UPDATE SKIP
  LOCKED``; memory: a lock), so N sweepers in threads or processes hand each
  message to a notifier once;
- **at least once across crashes**: a sweeper that dies holding a claim
  releases it when the lease ends, and the message is delivered again with
  the same ``message.key`` (the idempotency key a receiver deduplicates on);
- **per-message backoff**: a notifier that raises delays that message only
  (30 s, 1 min, 2 min ... an hour), recorded with its error in the log.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from ticketflow.automation._timers import backoff
from ticketflow.errors import StorageError, TicketflowError
from ticketflow.lifecycle import Lifecycle
from ticketflow.protocols import ClaimingOutbox, Notifier, OutboxMessage, TicketRepository
from ticketflow.sla import SlaPolicy

__all__ = [
    "DEFAULT_LEASE",
    "DeliveryState",
    "deliver",
    "emitted_kinds",
    "new_owner",
    "unhandled_kinds",
    "warn_unhandled",
]

log = logging.getLogger("ticketflow.automation")

#: How long a claimed message is held by one sweeper before another may take it.
DEFAULT_LEASE = timedelta(minutes=5)


def new_owner() -> str:
    """A claim owner naming this host, process and a random part (unique per sweeper)."""
    import socket  # only when an owner id is made: a plain import stays light

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def emitted_kinds(lifecycle: Lifecycle, sla_policy: SlaPolicy | None) -> frozenset[str]:
    """The outbox message kinds a workflow running *lifecycle* (and *sla_policy*) can write."""
    kinds = {name for rule in lifecycle.timers for name in rule.notify}
    kinds.update(name for state in lifecycle.states.values() for name in state.notify)
    if lifecycle.key_prefix is not None:
        kinds.add("ticket.opened")
    if sla_policy is not None:
        kinds.add("sla.breached")
        if any(metric.warn_at for metric in sla_policy.metrics):
            kinds.add("sla.warning")
    channels = lifecycle.document.get("intake", {}).get("channels", {})
    if any("*" not in spec.get("ticket", ["*"]) for spec in channels.values()):
        kinds.add("contact.recorded")
    return frozenset(kinds)


def unhandled_kinds(
    lifecycle: Lifecycle, sla_policy: SlaPolicy | None, notifiers: Mapping[str, Any]
) -> tuple[str, ...]:
    """The kinds the lifecycle can emit that no notifier is registered for, sorted."""
    return tuple(sorted(emitted_kinds(lifecycle, sla_policy) - set(notifiers)))


def warn_unhandled(where: str, kinds: Collection[str]) -> None:
    """Log one warning naming the kinds nobody delivers (nothing if there are none)."""
    if kinds:
        log.warning(
            "%s: no notifier for message kind(s) %s; such messages are kept as undeliverable "
            "(registry.add_notifier(kind, ...) delivers them)",
            where,
            ", ".join(sorted(kinds)),
        )


@attrs.define
class DeliveryState:
    """Per-process retry bookkeeping, for a repository without claims (a user's own)."""

    attempts: dict[str, int] = attrs.field(factory=dict)
    retry_at: dict[str, datetime] = attrs.field(factory=dict)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def delivery_log(repository: TicketRepository) -> ClaimingOutbox:
    """*repository* as a :class:`~ticketflow.ClaimingOutbox` (``Workflow.deliveries`` / ``redeliver``).

    Raises:
        StorageError: the repository keeps no delivery log.
    """
    if not isinstance(repository, ClaimingOutbox):
        raise StorageError(f"{repository!r} keeps no delivery log (it does not implement ClaimingOutbox)")
    return repository


def deliver(
    repository: TicketRepository,
    notifiers: Mapping[str, Notifier],
    now: datetime,
    *,
    owner: str,
    lease: timedelta = DEFAULT_LEASE,
    limit: int = 100,
    state: DeliveryState | None = None,
) -> int:
    """Claim up to *limit* messages of the kinds in *notifiers*, deliver them, and return how many were delivered.

    Messages of other kinds are flagged undeliverable (and a warning logged
    the first time each is); a notifier that raises is retried after a growing
    delay, per message. A message whose lease is nearly over is left for the
    next claim rather than delivered late.
    """
    if not isinstance(repository, ClaimingOutbox):
        return _deliver_unclaimed(repository, notifiers, now, state or DeliveryState(), limit)
    outbox = repository
    flagged = outbox.mark_undeliverable(notifiers.keys())
    if flagged:
        log.warning(
            "undeliverable outbox messages (no notifier for their kind): %s",
            ", ".join(f"{count} {kind!r}" for kind, count in sorted(flagged.items())),
        )
    if not notifiers:
        return 0
    started = time.monotonic()
    budget = lease.total_seconds() * 0.8
    delivered = 0
    for claimed in outbox.claim_messages(notifiers.keys(), now, owner=owner, lease=lease, limit=limit):
        if time.monotonic() - started > budget:
            break  # the rest of the claim lapses: another sweep takes it, nobody delivers it late
        message = claimed.message
        try:
            notifiers[message.kind](message)
        except Exception as exc:  # a notifier's failure must never lose the message
            attempts = claimed.attempts + 1
            outbox.mark_failed(message.key, _describe(exc), now + backoff(attempts))
            log.exception("notifier %r failed on %s (attempt %d)", message.kind, message.key, attempts)
            continue
        outbox.mark_delivered(message.key, now)
        delivered += 1
    return delivered


def _deliver_unclaimed(
    repository: TicketRepository,
    notifiers: Mapping[str, Notifier],
    now: datetime,
    state: DeliveryState,
    limit: int,
) -> int:
    """Delivery for a repository without claims: one process, pending messages of handled kinds."""
    delivered = 0
    pending: list[OutboxMessage] = [m for m in repository.pending_messages(10 * limit) if m.kind in notifiers]
    for message in pending[:limit]:
        if state.retry_at.get(message.key, now) > now:
            continue
        try:
            notifiers[message.kind](message)
        except Exception:  # a notifier's failure must never lose the message
            attempts = state.attempts[message.key] = state.attempts.get(message.key, 0) + 1
            state.retry_at[message.key] = now + backoff(attempts)
            log.exception("notifier %r failed on %s (attempt %d)", message.kind, message.key, attempts)
            continue
        repository.mark_delivered(message.key)
        state.attempts.pop(message.key, None)
        state.retry_at.pop(message.key, None)
        delivered += 1
    return delivered


def shared_notifiers(
    repository: TicketRepository, registered: Sequence[tuple[str, Mapping[str, Notifier]]]
) -> dict[str, Notifier]:
    """One notifier per message kind for a store shared by several lifecycles' workflows.

    *registered* pairs each lifecycle id with its workflow's notifiers. A
    kind only one of them delivers (or all with the very same notifier) goes
    to that notifier; a kind they deliver differently goes to the notifier
    of the message's ticket's lifecycle (read from *repository*), else to the
    first one registered for it. So one workflow's delivery never flags
    another lifecycle's kinds undeliverable.
    """
    by_kind: dict[str, dict[str, Notifier]] = {}
    for lifecycle_id, notifiers in registered:
        for kind, notifier in notifiers.items():
            by_kind.setdefault(kind, {})[lifecycle_id] = notifier
    merged: dict[str, Notifier] = {}
    for kind, owners in by_kind.items():
        distinct = {id(notifier): notifier for notifier in owners.values()}
        if len(distinct) == 1:
            merged[kind] = next(iter(distinct.values()))
        else:
            merged[kind] = _RoutedNotifier(repository, owners)
    return merged


@attrs.frozen
class _RoutedNotifier:
    """Delivers each message with the notifier of its ticket's lifecycle (the first one if it has none)."""

    repository: TicketRepository
    owners: Mapping[str, Notifier]

    def __call__(self, message: OutboxMessage) -> None:
        notifier = next(iter(self.owners.values()))
        try:
            lifecycle_id = self.repository.get(message.ticket_id).lifecycle_id
        except TicketflowError:  # no such ticket (a contact, a message about a deleted one): the first one
            lifecycle_id = None
        if lifecycle_id is not None:
            notifier = self.owners.get(lifecycle_id, notifier)
        notifier(message)
