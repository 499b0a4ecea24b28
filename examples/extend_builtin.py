"""Start from a built-in lifecycle and change a few parts in your own file.

Run it with ``python examples/extend_builtin.py``; the test suite runs it too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import ticketflow as tf

HERE = Path(__file__).resolve().parent


def main() -> tf.Lifecycle:
    """Load extend_builtin.toml (`extends = "zendesk"` plus changes) and use the result."""
    ours = tf.load_lifecycle(HERE / "extend_builtin.toml")
    print(f"{ours.id}: {', '.join(ours.states)}")
    print(f"triggers: {', '.join(ours.triggers)}")
    solved_rule = next(r for r in ours.timers if r.id == "solved_auto_close_24h")
    print(f"solved tickets close after {solved_rule.after}")

    wf = tf.Workflow(ours)
    customer = tf.Actor("dana", roles={"requester"})
    agent = tf.Actor("sam", roles={"agent"})
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    ticket = wf.open(customer, title="Invoices show the wrong VAT rate", at=at)
    try:
        wf.fire(ticket.id, "escalate", agent, at=at)
    except tf.FieldError as refused:
        print(f"refused: {refused}")
    ticket = wf.fire(ticket.id, "escalate", agent, fields={"specialist": "tax-team"}, at=at + timedelta(minutes=5))
    print(f"escalated to {ticket.fields['specialist']}: {ticket.state}")
    return ours


if __name__ == "__main__":
    main()
