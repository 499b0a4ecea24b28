"""The ``ticketflow`` command: demo, lifecycles, validate, diagram, schema."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import ticketflow as tf
from ticketflow.lifecycle import Lifecycle

__all__ = ["main"]


def _lifecycle(name: str) -> Lifecycle:
    return tf.builtin(name) if name in tf.builtins() else tf.load_lifecycle(name)


def _cmd_lifecycles(_args: argparse.Namespace) -> int:
    for lifecycle_id in tf.builtins():
        lc = tf.builtin(lifecycle_id)
        print(f"{lc.id:<12} {lc.name}")
        for group, states in lc.groups.items():
            print(f"{'':<12}   {group}: {', '.join(states)}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            lc = tf.load_lifecycle(path)
        except tf.InvalidLifecycle as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
        else:
            print(f"{path}: ok ({lc.id}, {len(lc.states)} states, {len(lc.transitions)} transitions)")
    return 1 if failed else 0


def _cmd_diagram(args: argparse.Namespace) -> int:
    lc = _lifecycle(args.lifecycle)
    print(lc.to_mermaid() if args.format == "mermaid" else lc.to_dot(), end="")
    return 0


def _cmd_schema(_args: argparse.Namespace) -> int:
    print(json.dumps(tf.json_schema(), indent=2))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """A short walk through the built-in Zendesk-style lifecycle, on a simulated clock."""
    lc = tf.builtin("zendesk")
    clock = tf.SteppableClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("America/New_York")))
    numbers = iter(range(1001, 10_000))
    path = Path(args.db)
    for suffix in ("", "-wal", "-shm"):  # a fresh demo database each run
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    repository = tf.SQLiteRepository(path)
    wf = tf.Workflow(lc, repository, clock=clock, id_factory=lambda: f"ZD-{next(numbers)}")
    client = tf.Actor("dana@client.example", roles={"requester"})
    agent = tf.Actor("sam", roles={"agent"})
    print(f"ticketflow demo — lifecycle {lc.id!r} ({lc.name})")
    print(f"states: {', '.join(lc.states)}\n")

    ticket = wf.open(client, title="Logo on the invoice is blurry", fields={"category": "work_request"})
    clock.advance(minutes=42)
    wf.fire(ticket.id, "ask", agent, comment="Could you send the original logo file?")
    clock.advance(hours=5)
    wf.comment(ticket.id, client, "Attached, thanks!")
    clock.advance(hours=2)
    wf.fire(ticket.id, "solve", agent, comment="Replaced the logo; the next invoice will use it.")
    try:
        wf.fire(ticket.id, "close", agent)
    except tf.PermissionDenied as refused:
        print(f"refused as expected: {refused}\n")

    print(f"history of {ticket.id}:")
    for event in wf.history(ticket.id):
        moved = f"{event.source or '-'} -> {event.target}"
        said = f'  "{event.comment.body}"' if event.comment else ""
        print(f"  {event.seq}. {event.at:%a %H:%M}  {event.actor.id:<20} {event.trigger:<18} {moved:<18}{said}")
    final = wf.get(ticket.id)
    assert tf.replay(wf.history(ticket.id)) == final  # noqa: S101 - the demo shows the invariant holds
    print(f"\nnow {final.state!r}, version {final.version}; replaying the history gives the same ticket.")
    for sla_clock in wf.sla(ticket.id):
        print(
            f"SLA {sla_clock.metric}: {sla_clock.elapsed} of {sla_clock.target} business time, "
            f"breached: {sla_clock.breached}"
        )

    silent = wf.open(client, title="Password reset link expired", fields={"category": "question"})
    wf.fire(silent.id, "ask", agent, comment="Which e-mail address do you sign in with?")
    print(f"\n{silent.id}: asked the customer, who never answers. The sweeper runs 9 days later and fires:")
    clock.advance(days=9)
    result = wf.run_due()
    for event in result.fired:
        rule, due = event.meta["rule"], event.meta["due_at"][:16]
        print(f"  {event.ticket_id}  {rule:<24} due {due}  {event.trigger:<8} -> {event.target}")
    print(f"  {silent.id} is now {wf.get(silent.id).state!r} with tags {sorted(wf.get(silent.id).tags)}")
    print(f"  SLA alerts written to the outbox: {result.alerts}")
    print(f"  outbox: {len(repository.pending_messages(limit=1000))} messages waiting for your notifiers")
    print("\nthe lifecycle as a Mermaid diagram (paste into any Mermaid viewer):\n")
    print(lc.to_mermaid())
    print(f"tickets and their histories are in the SQLite file {path.resolve()}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="walk a ticket through a built-in lifecycle, stored in SQLite")
    demo.add_argument("--db", default="ticketflow-demo.db", help="the SQLite file (recreated)")
    demo.set_defaults(run=_cmd_demo)
    sub.add_parser("lifecycles", help="list the built-in lifecycles").set_defaults(run=_cmd_lifecycles)
    validate = sub.add_parser("validate", help="check lifecycle files; exit 1 with file:path: message lines")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(run=_cmd_validate)
    diagram = sub.add_parser("diagram", help="print a lifecycle's diagram")
    diagram.add_argument("lifecycle", help="a built-in id or a file")
    diagram.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    diagram.set_defaults(run=_cmd_diagram)
    sub.add_parser("schema", help="print the JSON Schema of the lifecycle format").set_defaults(run=_cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except tf.TicketflowError as exc:
        print(f"ticketflow: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
