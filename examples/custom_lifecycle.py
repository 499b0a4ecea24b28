"""A team's own lifecycle: loaded from TOML, driven, refused, diagrammed.

Run it with ``python examples/custom_lifecycle.py``; the test suite runs it too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ticketflow as tf

HERE = Path(__file__).resolve().parent


def main() -> tf.Ticket:
    """Walk one ticket from new to closed, showing a refusal on the way."""
    lifecycle = tf.load_lifecycle(HERE / "custom_lifecycle.toml")
    print(f"lifecycle {lifecycle.id!r}: states {', '.join(lifecycle.states)}")

    workflow = tf.Workflow(lifecycle)  # in memory; pass tf.SQLiteRepository(...) to keep tickets
    alice = tf.Actor("alice", roles={"requester"})
    bob = tf.Actor("bob", roles={"agent"})
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    ticket = workflow.open(alice, title="VPN drops every hour", at=now)  # the team sets the priority
    print(f"opened {ticket.id[:8]} in {ticket.state!r}; bob may: {workflow.allowed(ticket.id, bob)}")

    try:
        workflow.fire(ticket.id, "triage", bob, at=now)
    except tf.FieldError as refused:
        print(f"refused: {refused}")
    assert workflow.get(ticket.id).version == 1  # the refusal changed nothing

    steps: list[tuple[str, dict[str, Any]]] = [
        ("triage", {"fields": {"category": "access"}}),
        ("start", {"assignee": "bob"}),
        ("ask", {"comment": "Which VPN client version?"}),
    ]
    for minutes, (trigger, data) in enumerate(steps, start=1):
        ticket = workflow.fire(ticket.id, trigger, bob, at=now + timedelta(minutes=10 * minutes), **data)
        print(f"{trigger:>8} -> {ticket.state}")
    ticket = workflow.comment(ticket.id, alice, "5.2.1", at=now + timedelta(hours=1))
    print(f" comment -> {ticket.state} (the requester's reply moved it)")
    later = now + timedelta(hours=2)
    ticket = workflow.fire(ticket.id, "resolve", bob, fields={"resolution": "Upgraded the client"}, at=later)
    ticket = workflow.fire(ticket.id, "close", alice, at=later + timedelta(hours=1))
    print(f"   close -> {ticket.state}; version {ticket.version}")

    try:
        workflow.comment(ticket.id, alice, "One more thing", at=later + timedelta(days=1))
    except tf.TicketClosed as closed:
        print(f"refused: {closed}")

    assert tf.replay(workflow.history(ticket.id)) == ticket
    print(lifecycle.to_mermaid())
    return ticket


if __name__ == "__main__":
    main()
