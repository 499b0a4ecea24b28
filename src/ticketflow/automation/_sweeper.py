"""The sweeper: runs what is due and delivers the outbox, every interval, until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import FrameType
from typing import Protocol

import attrs

from ticketflow.automation._delivery import DEFAULT_LEASE, new_owner, shared_notifiers, warn_unhandled
from ticketflow.automation._runner import SweepResult
from ticketflow.lifecycle import Lifecycle
from ticketflow.model import Event
from ticketflow.protocols import Clock, Notifier, TicketRepository

__all__ = ["Sweepable", "Sweeper"]

log = logging.getLogger("ticketflow.automation")


class Sweepable(Protocol):
    """What a sweeper drives (a :class:`~ticketflow.Workflow` is one)."""

    @property
    def lifecycle(self) -> Lifecycle:
        """The lifecycle whose tickets it serves."""
        ...

    @property
    def clock(self) -> Clock:
        """Where "now" comes from."""
        ...

    def run_due(self, now: datetime | None = None, *, limit: int = 100) -> SweepResult:
        """Fire what is due at *now* for up to *limit* tickets."""
        ...

    def deliver(
        self,
        now: datetime | None = None,
        *,
        limit: int = 100,
        owner: str | None = None,
        lease: timedelta = ...,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> int:
        """Claim and deliver up to *limit* outbox messages as *owner* (or with *notifiers*, if given)."""
        ...

    def unhandled_kinds(self) -> tuple[str, ...]:
        """The message kinds it can write that no notifier delivers."""
        ...

    @property
    def repository(self) -> TicketRepository:
        """The store its tickets and outbox live in."""
        ...

    @property
    def notifiers(self) -> Mapping[str, Notifier]:
        """Its notifiers by message kind."""
        ...


@attrs.frozen
class SweepReport:
    """One sweep: what ``run_due`` did and how many messages were delivered."""

    result: SweepResult
    delivered: int


class Sweeper:
    """Fires due timed rules, writes SLA alerts and delivers notifications, every *interval*.

    Use it in a thread (``start()`` / ``stop()``), in the foreground
    (``run_forever()``, stopping on SIGINT/SIGTERM with ``install_signal_handlers()``),
    or as an asyncio task (``await sweeper.run_async()``). Several sweepers,
    in threads or processes, may share one database: each rule still fires
    once, and each message is delivered once (claimed with a lease).

    One sweeper serves a store holding several lifecycles when given their
    workflows (``Sweeper([wf_a, wf_b])``): each lifecycle's due tickets go
    to its own workflow, so each is judged by its own rules and SLA policy.

    Args:
        workflow: the workflow (or workflows, one per lifecycle) whose
            repository, clock and registry it uses; the first one's clock
            says when "now" is.
        interval: time between sweeps (Sighten's runbook: 20 minutes).
        batch: tickets per ``run_due`` call, and messages per claim; a sweep
            repeats until nothing is due or deliverable.
        lease: how long a claimed message is this sweeper's alone; keep it
            longer than *batch* notifier calls can take.

    Raises:
        ValueError: no workflow, two for the same lifecycle, or an interval
            that is not positive.
        TypeError: a workflow or interval of the wrong type.

    A warning is logged (``ticketflow.automation``) for each message kind a
    lifecycle can write that has no notifier (``workflow.unhandled_kinds()``).
    """

    def __init__(
        self,
        workflow: Sweepable | Sequence[Sweepable],
        interval: timedelta = timedelta(minutes=1),
        batch: int = 100,
        *,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        if isinstance(workflow, str):  # a Sequence: "wf" would be the workflows "w" and "f"
            raise TypeError(f"workflow must be a Workflow or a list of them, got the string {workflow!r}")
        self.workflows: tuple[Sweepable, ...] = tuple(workflow) if isinstance(workflow, Sequence) else (workflow,)
        if not self.workflows:
            raise ValueError("a Sweeper needs at least one workflow")
        if not isinstance(interval, timedelta):
            raise TypeError(f"interval must be a timedelta, got {type(interval).__name__} {interval!r}")
        if interval <= timedelta(0):  # a sweep loop that never waits would spin a core
            raise ValueError(f"interval must be positive, got {interval}")
        lifecycles = [wf.lifecycle.id for wf in self.workflows]
        if len(set(lifecycles)) != len(lifecycles):
            raise ValueError(f"one workflow per lifecycle, got lifecycles {lifecycles}")
        #: the first workflow (the only one, usually)
        self.workflow = self.workflows[0]
        self.interval = interval
        self.batch = batch
        self.lease = lease
        #: Who this sweeper's claims belong to (host, process, a random part).
        self.owner = new_owner()
        for each in self.workflows:
            warn_unhandled(f"Sweeper({each!r})", each.unhandled_kinds())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> SweepReport:
        """One sweep at the (first) workflow clock's now: every lifecycle's due tickets, then the outbox."""
        now = self.workflow.clock.now()
        fired: list[Event] = []
        skipped: dict[str, str] = {}
        alerts = tickets = delivered = 0
        for workflow in self.workflows:
            while True:
                result = workflow.run_due(now, limit=self.batch)
                fired.extend(result.fired)
                alerts += result.alerts
                tickets += result.tickets
                skipped.update(result.skipped)
                if result.tickets - len(result.skipped) < self.batch:  # skipped ones stay due: not progress
                    break
        # one delivery for the whole store, with every lifecycle's notifiers: no workflow flags another's kinds
        first = self.workflow
        notifiers = (
            shared_notifiers(first.repository, [(wf.lifecycle.id, wf.notifiers) for wf in self.workflows])
            if len(self.workflows) > 1
            else None
        )
        while True:
            batch = first.deliver(now, limit=self.batch, owner=self.owner, lease=self.lease, notifiers=notifiers)
            delivered += batch
            if batch < self.batch or self._stop.is_set():
                break
        return SweepReport(SweepResult(tuple(fired), alerts, tickets, tuple(skipped.items())), delivered)

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask the sweeper to stop after the current sweep; joins its thread if it has one."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def run_forever(self) -> None:
        """Sweep every interval until :meth:`stop` (a failing sweep is logged, not fatal)."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # one bad sweep must not end the worker
                log.exception("sweep failed; retrying next interval")
            self._stop.wait(self.interval.total_seconds())

    def start(self) -> threading.Thread:
        """Run :meth:`run_forever` in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="ticketflow-sweeper", daemon=True)
        self._thread.start()
        return self._thread

    async def run_async(self) -> None:
        """Sweep every interval in an asyncio task (each sweep runs in a worker thread)."""
        import asyncio  # only here: `import ticketflow` stays free of asyncio (and ssl)

        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:  # one bad sweep must not end the worker
                log.exception("sweep failed; retrying next interval")
            await asyncio.sleep(self.interval.total_seconds())

    def install_signal_handlers(self) -> None:
        """Stop cleanly on SIGINT and SIGTERM (main thread only)."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: stopping after this sweep", signum)
            self._stop.set()

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
