"""Attainment reports: how often each promise was kept, as plain data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from ticketflow.errors import LifecycleError
from ticketflow.lifecycle import Lifecycle
from ticketflow.model import Event, Ticket
from ticketflow.sla._clock import evaluate
from ticketflow.sla._policy import SlaPolicy

__all__ = ["MetricAttainment", "SlaReport", "attainment"]


@attrs.frozen
class MetricAttainment:
    """How one metric did for one target.

    Attributes:
        metric: the metric id.
        target: the target (None: tickets no target selected).
        finished: cycles that stopped.
        met: finished cycles within the target.
        breached: cycles past the target, finished or still running.
        running: cycles still running and not yet breached.
        share_met: met / (met + breached), or None when there are none.
        p50: median business time of finished cycles.
        p90: 90th percentile of the same.
        selector: which tickets the target is for, when the metric has
            several (``category=question``, ``otherwise``); else empty.
        version: the lifecycle (policy) version the cycles started under,
            in a report split by version (``by_version=True``); else None.
    """

    metric: str
    target: timedelta | None
    finished: int
    met: int
    breached: int
    running: int
    share_met: float | None
    p50: timedelta | None
    p90: timedelta | None
    selector: str = ""
    version: int | None = None

    def line(self, label: str | None = None) -> str:
        """A sentence such as ``first_response [category=question] within 1:00:00: 87% (261 of 300)``."""
        share = "n/a" if self.share_met is None else f"{self.share_met:.0%}"
        within = f" within {self.target}" if self.target is not None else ""
        which = f" [{self.selector}]" if self.selector else ""
        if self.version is not None:
            which += f" (v{self.version})"
        return f"{label or self.metric}{which}{within}: {share} ({self.met} of {self.met + self.breached})"


@attrs.frozen
class SlaReport:
    """Attainment over a set of tickets.

    Attributes:
        tickets: how many tickets were evaluated.
        metrics: one entry per metric and target, in policy order.
        breaches_by: for each grouping field (``assignee``, a field name),
            breached cycles per value.
    """

    tickets: int
    metrics: tuple[MetricAttainment, ...]
    breaches_by: dict[str, dict[object, int]]

    def for_metric(self, metric_id: str) -> list[MetricAttainment]:
        """The entries of one metric (one per target)."""
        return [m for m in self.metrics if m.metric == metric_id]


#: A report line's identity: metric, target, and the version its cycles started under (split by version only).
_Key = tuple[str, timedelta | None, int | None]


def _selector(when: Mapping[str, Any]) -> str:
    """``category=question``, ``priority=high|urgent`` for a target's ``when``; ``otherwise`` for none."""
    parts = []
    for name, value in when.items():
        values = value if isinstance(value, tuple | list | frozenset | set) else (value,)
        parts.append(f"{name}={'|'.join(sorted(str(v) for v in values))}")
    return ", ".join(parts) or "otherwise"


def _policy_order(policy: SlaPolicy) -> dict[tuple[str, timedelta | None], tuple[int, int, str]]:
    """Rank and selector of each (metric, target) in the policy's order."""
    ranks: dict[tuple[str, timedelta | None], tuple[int, int, str]] = {}
    for m, metric in enumerate(policy.metrics):
        for t, target in enumerate(metric.targets):
            selector = _selector(target.when) if len(metric.targets) > 1 else ""
            key = (metric.id, target.target)
            if key in ranks:  # two selectors with the same target: one line names both
                rank = ranks[key]
                ranks[key] = (rank[0], rank[1], f"{rank[2]}; {selector}")
            else:
                ranks[key] = (m, t, selector)
    return ranks


def _percentile(values: Sequence[timedelta], fraction: float) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _check_group_by(lifecycle: Lifecycle, group_by: Sequence[str]) -> None:
    """A TypeError for a string (it would group by its letters), a LifecycleError naming an unknown name."""
    if isinstance(group_by, str):
        raise TypeError(f"group_by must be a collection of names, got the string {group_by!r}; write ({group_by!r},)")
    for name in group_by:
        if name not in ("assignee", "requester") and name not in lifecycle.fields:
            known = ", ".join(["assignee", "requester", *lifecycle.fields])
            raise LifecycleError(f"cannot group breaches by {name!r}; use one of {known}")


def attainment(
    policy: SlaPolicy,
    lifecycle: Lifecycle,
    items: Iterable[tuple[Ticket, Sequence[Event]]],
    now: datetime,
    *,
    group_by: Sequence[str] = ("assignee",),
    by_version: bool = False,
) -> SlaReport:
    """Evaluate every ticket's clocks and add them up per metric and target.

    Args:
        policy: the SLA policy.
        lifecycle: the tickets' lifecycle.
        items: tickets with their histories.
        now: the instant of the report.
        group_by: ``assignee``, ``requester`` or field names to count breaches by.
        by_version: one entry per metric, target and the lifecycle (policy)
            version its cycles started under (``MetricAttainment.version``).
    """
    _check_group_by(lifecycle, group_by)
    finished: dict[_Key, list[timedelta]] = {}
    counts: dict[_Key, Counter[str]] = {}
    breaches: dict[str, Counter[object]] = {name: Counter() for name in group_by}
    order: list[_Key] = []
    tickets = 0
    for ticket, history in items:
        tickets += 1
        for clock in evaluate(policy, lifecycle, ticket, history, now):
            if not clock.cycles and (clock.metric, clock.target, None) not in counts:
                order.append((clock.metric, clock.target, None))
                counts[clock.metric, clock.target, None] = Counter()
                finished[clock.metric, clock.target, None] = []
            for cycle in clock.cycles:
                # each cycle under the target it was judged by (and the version it started under)
                key = (clock.metric, cycle.target, cycle.version if by_version else None)
                if key not in counts:
                    order.append(key)
                    counts[key] = Counter()
                    finished[key] = []
                tally = counts[key]
                if cycle.stopped_at is not None:
                    finished[key].append(cycle.elapsed)
                    tally["finished"] += 1
                if cycle.breached:
                    tally["breached"] += 1
                    for name in group_by:
                        value = getattr(ticket, name) if name in ("assignee", "requester") else ticket.fields.get(name)
                        breaches[name][value] += 1
                elif cycle.stopped_at is not None:
                    tally["met"] += 1
                else:
                    tally["running"] += 1
    ranks = _policy_order(policy)
    # policy order, not ticket order: by metric, then version, then target (an earlier version's last)
    metric_rank = {metric.id: m for m, metric in enumerate(policy.metrics)}
    order.sort(
        key=lambda key: (
            metric_rank.get(key[0], len(metric_rank)),
            key[2] or 0,
            ranks.get(key[:2], (0, len(policy.metrics) + 1, ""))[1],
        )
    )
    metrics = []
    for key in order:
        tally = counts[key]
        judged = tally["met"] + tally["breached"]
        metrics.append(
            MetricAttainment(
                metric=key[0],
                target=key[1],
                finished=tally["finished"],
                met=tally["met"],
                breached=tally["breached"],
                running=tally["running"],
                share_met=tally["met"] / judged if judged else None,
                p50=_percentile(finished[key], 0.5),
                p90=_percentile(finished[key], 0.9),
                selector=ranks.get(key[:2], (0, 0, ""))[2],
                version=key[2],
            )
        )
    return SlaReport(tickets, tuple(metrics), {name: dict(c) for name, c in breaches.items()})
