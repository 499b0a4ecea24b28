"""A few weeks of plausible traffic through a lifecycle, on a simulated clock (for the demo).

Every hour of business time customers open tickets; agents and customers act
on open tickets by picking, at random, one of the steps the lifecycle allows
them (with the data it requires); some customers go silent, so reminders and
auto-closes fire; the sweeper runs every simulated hour.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from ticketflow.automation import Sweeper
from ticketflow.errors import TicketflowError
from ticketflow.lifecycle import Lifecycle, Transition
from ticketflow.model import Actor, Ticket
from ticketflow.protocols import TicketRepository
from ticketflow.sla import SlaReport
from ticketflow.workflow import Workflow

__all__ = ["SimulationSummary", "simulate", "simulate_store"]

_CUSTOMERS = [Actor(f"customer-{i}@example.com", roles={"requester"}) for i in range(12)]
_AGENTS = [Actor(name, roles={"agent"}) for name in ("ana", "ben", "carla", "dev")]


@attrs.frozen
class SimulationSummary:
    """What a simulation did to one lifecycle's tickets."""

    lifecycle_id: str
    tickets: int
    by_state: dict[str, int]
    steps: int
    refused: int
    automations: Counter[str]
    sla: SlaReport | None


def _data_for(lifecycle: Lifecycle, t: Transition, rng: random.Random) -> dict[str, object]:
    fields: dict[str, object] = {}
    for name, spec in lifecycle.fields.items():
        if t.dest in spec.required_in or name in t.require:
            fields[name] = rng.choice(spec.choices) if spec.choices else spec.example()
    return fields


def _step(wf: Workflow, ticket: Ticket, rng: random.Random) -> bool:
    """One plausible action on an open ticket; True if it was taken."""
    lc = wf.lifecycle
    if rng.random() < 0.35:  # the customer writes (or stays silent)
        if rng.random() < 0.5:
            return False
        requester = Actor(ticket.requester or "customer", roles={"requester"})
        wf.comment(ticket.id, requester, rng.choice(["Any news?", "Here is the file.", "Thanks!", "It works now."]))
        return True
    agent = Actor(ticket.assignee, roles={"agent"}) if ticket.assignee else rng.choice(_AGENTS)
    triggers = [t for t in wf.allowed(ticket.id, agent) if t not in ("comment", "update")]
    if not triggers:
        wf.comment(ticket.id, agent, "Looking into it.")
        return True
    trigger = rng.choice(triggers)
    t = lc.engine.transitions_from(ticket.state, trigger)[0]
    kwargs: dict[str, object] = {"fields": _data_for(lc, t, rng) or None, "comment": "Update from support."}
    if "assignee" in t.require or ticket.assignee is None:
        kwargs["assignee"] = agent.id
    wf.fire(ticket.id, trigger, agent, **kwargs)  # type: ignore[arg-type]
    return True


class _Traffic:
    """One lifecycle's simulated customers and agents, an hour at a time."""

    def __init__(self, wf: Workflow, seed: int) -> None:
        self.wf = wf
        self.rng = random.Random(seed)  # noqa: S311 - simulated traffic, not secrets
        self.open_ids: list[str] = []
        self.steps = self.refused = 0

    def hour(self, hour: int, now: datetime) -> None:
        wf, lc, rng = self.wf, self.wf.lifecycle, self.rng
        working = now.weekday() < 5 and 8 <= now.hour < 18
        for _ in range(rng.choice([0, 0, 1, 1, 2]) if working else rng.choice([0, 0, 0, 1])):
            fields = {n: (rng.choice(s.choices) if s.choices else s.example()) for n, s in lc.fields.items()
                      if lc.initial in s.required_in or (s.choices and rng.random() < 0.5)}  # fmt: skip
            try:
                opened = wf.open(rng.choice(_CUSTOMERS), title=f"Request {hour}", fields=fields)
            except TicketflowError:
                self.refused += 1
                continue
            self.open_ids.append(opened.id)
        if working:
            newest = self.open_ids[-2:]  # agents watch the queue's newest tickets, then pick others
            others = rng.sample(self.open_ids, k=min(len(self.open_ids), 3))
            for ticket_id in dict.fromkeys([*newest, *others]):
                ticket = wf.get(ticket_id)
                if lc.states[ticket.state].terminal:
                    self.open_ids.remove(ticket_id)
                    continue
                try:
                    self.steps += _step(wf, ticket, rng)
                except TicketflowError:
                    self.refused += 1

    def summary(self, end: datetime) -> SimulationSummary:
        wf, lc = self.wf, self.wf.lifecycle
        repo: TicketRepository = wf.repository
        by_state = {state: repo.count(state=state, lifecycle_id=lc.id) for state in lc.states}
        automations: Counter[str] = Counter()
        for ticket_id in set(self.open_ids) | {t.id for t in repo.find(lifecycle_id=lc.id, limit=1000).tickets}:
            for event in repo.history(ticket_id):
                if "rule" in event.meta:
                    automations[str(event.meta["rule"])] += 1
        report = wf.sla_report(end) if wf.sla_policy is not None else None
        return SimulationSummary(lc.id, sum(by_state.values()), by_state, self.steps, self.refused, automations, report)


def _mover(wf: Workflow) -> Callable[[datetime], object]:
    move = getattr(wf.clock, "set", None)
    if move is None:
        raise TypeError("simulate needs a workflow on a SteppableClock")
    return move  # type: ignore[no-any-return]


def simulate(
    wf: Workflow,
    start: datetime,
    days: int = 21,
    *,
    seed: int = 7,
    tick: Callable[[], None] | None = None,
) -> SimulationSummary:
    """Run *days* of traffic through *wf* from *start* (its clock must be steppable)."""
    return simulate_store([wf], start, days, seed=seed, tick=tick)[0]


def simulate_store(
    workflows: Sequence[Workflow],
    start: datetime,
    days: int = 21,
    *,
    seed: int = 7,
    tick: Callable[[], None] | None = None,
) -> list[SimulationSummary]:
    """Run *days* of traffic through several lifecycles sharing one store and one steppable clock.

    Every simulated hour each lifecycle gets its traffic, then one
    :class:`~ticketflow.Sweeper` over all the workflows runs what is due,
    each lifecycle's tickets by its own rules. *tick* is called once per
    lifecycle and hour.
    """
    move = _mover(workflows[0])
    traffic = [_Traffic(wf, seed) for wf in workflows]
    sweeper = Sweeper(list(workflows))
    for hour in range(days * 24):
        now = start + timedelta(hours=hour)
        move(now)
        for lane in traffic:
            lane.hour(hour, now)
            if tick is not None:
                tick()
        sweeper.run_once()
    return [lane.summary(start + timedelta(days=days)) for lane in traffic]
