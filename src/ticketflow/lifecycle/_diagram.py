"""Diagram text for a lifecycle: Mermaid and Graphviz DOT, no graphviz needed.

Written here rather than through ``transitions.extensions.GraphMachine``:
that needs the ``graphviz``/``pygraphviz`` packages for DOT, and neither of
its outputs knows ticketflow's groups, roles or event-driven transitions,
which are what a reader of a support lifecycle wants to see on the edges.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import timedelta

    from ticketflow.lifecycle._definition import Lifecycle, TimedRule, Transition

__all__ = ["edge_label", "timer_label", "to_dot", "to_mermaid"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _node(state: str) -> str:
    return _UNSAFE.sub("_", state)


def edge_label(t: Transition) -> str:
    """``trigger [roles]`` or ``on comment [roles]`` for an event-driven one.

    A transition picked by the data the step carries shows it
    (``resolve (customer_unresponsive) [agent]``); one going back where the
    ticket came from is marked ``↩``.
    """
    head = f"on {t.on.event}" + (f" {t.on.field}" if t.on.field else "") if t.on else t.trigger
    if t.given:  # transitions told apart by the data the step carries
        head += " (" + ", ".join(str(v) if not isinstance(v, tuple) else "/".join(v) for v in t.given.values()) + ")"
    if t.returns:
        head += " ↩"
    who = sorted(t.roles) + sorted(t.who)
    return f"{head} [{', '.join(who)}]" if who else head


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0 and (unit != "d" or seconds >= 2 * size):  # 24h, not 1d
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def timer_label(rule: TimedRule) -> str:
    """``24h: notify requester_reminder`` / ``7d: close, tag no_response``: when and what a timed rule does."""
    after = f"{rule.business_days}bd" if rule.business_days else _span(rule.after)
    if rule.clock == "business" and not rule.business_days:
        after += " business"
    if rule.since != "state_entered":
        after += f" since {rule.since}"
    does = [rule.fire] if rule.fire else []
    does += [f"tag {tag}" for tag in sorted(rule.add_tags)] + [f"untag {tag}" for tag in sorted(rule.remove_tags)]
    does += [f"set {name}" for name in rule.set_fields] + [f"notify {name}" for name in rule.notify]
    return f"{after}: {', '.join(does)}" if does else after


def _timer_edges(lifecycle: Lifecycle) -> list[tuple[str, str, str]]:
    """(source, dest, label) per timed rule and watched state: to the fired transition's dest, else a loop."""
    edges = []
    for rule in lifecycle.timers:
        for state in rule.states:
            dest = state
            if rule.fire:
                fired = lifecycle.engine.transitions_from(state, rule.fire)
                dest = fired[0].dest if fired else state
            edges.append((state, dest, f"timer {timer_label(rule)}"))
    return edges


def to_mermaid(lifecycle: Lifecycle) -> str:
    """A Mermaid ``stateDiagram-v2``; groups become classes, terminals end at ``[*]``."""
    lines = ["stateDiagram-v2", f"    [*] --> {_node(lifecycle.initial)}"]
    for state in lifecycle.states.values():
        if state.id != _node(state.id):
            lines.append(f'    state "{state.id}" as {_node(state.id)}')
    for t in lifecycle.transitions:
        for source in t.sources:
            lines.append(f"    {_node(source)} --> {_node(t.dest)}: {edge_label(t)}")
    for source, dest, label in _timer_edges(lifecycle):  # Mermaid state diagrams have no dotted edges
        lines.append(f"    {_node(source)} --> {_node(dest)}: ⏱ {label}")
    for state in lifecycle.states.values():
        if state.terminal:
            lines.append(f"    {_node(state.id)} --> [*]")
    for group, ids in lifecycle.groups.items():
        lines.append(f"    classDef group_{_node(group)} font-style:italic")
        lines.append(f"    class {','.join(_node(i) for i in ids)} group_{_node(group)}")
    return "\n".join(lines) + "\n"


def to_dot(lifecycle: Lifecycle) -> str:
    """Graphviz DOT text; each group is a cluster, terminal states are double circles."""
    lines = [f'digraph "{lifecycle.id}" {{', "    rankdir=LR;", '    __start [shape=point, label=""];']
    grouped: dict[str | None, list[str]] = {}
    for state in lifecycle.states.values():
        grouped.setdefault(state.group, []).append(state.id)
    for group, ids in grouped.items():
        indent = "    "
        if group is not None:
            lines.append(f'    subgraph "cluster_{group}" {{')
            lines.append(f'        label="{group}";')
            indent = "        "
        for sid in ids:
            shape = "doublecircle" if lifecycle.states[sid].terminal else "circle"
            lines.append(f'{indent}"{sid}" [shape={shape}];')
        if group is not None:
            lines.append("    }")
    lines.append(f'    __start -> "{lifecycle.initial}";')
    for t in lifecycle.transitions:
        style = ", style=dashed" if t.on else ""
        for source in t.sources:
            lines.append(f'    "{source}" -> "{t.dest}" [label="{edge_label(t)}"{style}];')
    for source, dest, label in _timer_edges(lifecycle):
        lines.append(f'    "{source}" -> "{dest}" [label="{label}", style=dotted];')
    lines.append("}")
    return "\n".join(lines) + "\n"
