"""The ``ticketflow`` command (Click): lifecycles, validation, diagrams, calendars, SLA reports, export, worker, demo.

Shell completion comes with Click: ``eval "$(_TICKETFLOW_COMPLETE=bash_source ticketflow)"``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

import ticketflow as tf
from ticketflow.lifecycle import Lifecycle, parse_duration
from ticketflow.repository._export import DEFAULT_CSV_COLUMNS

__all__ = ["cli", "main"]


def _lifecycle(name: str) -> Lifecycle:
    return tf.builtin(name) if name in tf.builtins() else tf.load_lifecycle(name)


def _repository(where: str) -> tf.TicketRepository:
    if where.startswith("postgresql"):
        from ticketflow.repository.postgres import SQLAlchemyRepository

        repo: tf.TicketRepository = SQLAlchemyRepository(where)
        return repo
    return tf.SQLiteRepository(where)


def _instant(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f"{what}: {text!r} is not an ISO datetime (2026-03-06T16:00-05:00)") from None
    if value.tzinfo is None:
        raise click.ClickException(f"{what}: {text!r} is naive; give its UTC offset or zone (…T16:00-05:00)")
    return value


class _Group(click.Group):
    """Turns ticketflow's own errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except tf.TicketflowError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group, help=__doc__)
@click.version_option(tf.__version__, prog_name="ticketflow")
def cli() -> None:
    """The ticketflow command."""


@cli.command()
def lifecycles() -> None:
    """List the built-in lifecycles and their states by group."""
    for lifecycle_id in tf.builtins():
        lc = tf.builtin(lifecycle_id)
        click.echo(f"{lc.id:<12} {lc.name}")
        for group, states in lc.groups.items():
            click.echo(f"{'':<12}   {group}: {', '.join(states)}")


@cli.command()
@click.argument("lifecycle")
def show(lifecycle: str) -> None:
    """Describe a lifecycle (a built-in id or a file): states, transitions, timers, SLA."""
    lc = _lifecycle(lifecycle)
    click.echo(f"{lc.id} — {lc.name} (from {lc.source})")
    click.echo(f"initial: {lc.initial}")
    for state in lc.states.values():
        flags = [f for f, on in (("terminal", state.terminal), ("immutable", state.immutable)) if on]
        click.echo(f"  state {state.id:<28} {state.group or '-':<12} {' '.join(flags)}")
    for t in lc.transitions:
        who = sorted(t.roles) + sorted(t.who)
        how = f"on {t.on.event}" if t.on else t.trigger
        click.echo(f"  {how:<28} {', '.join(t.sources)} -> {t.dest}  [{', '.join(who)}]")
    for rule in lc.timers:
        click.echo(f"  timer {rule.id:<26} in {', '.join(rule.states)}: {rule.description or rule.after}")
    for metric in lc.document.get("sla", {}).get("metrics", []):
        targets = ", ".join(t["target"] for t in metric["targets"])
        click.echo(f"  sla {metric['id']:<28} targets {targets}")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
def validate(files: Sequence[str]) -> None:
    """Check lifecycle files; print file:path: problem lines and exit 1 on any problem."""
    failed = 0
    for name in files:
        try:
            lc = tf.load_lifecycle(name)
            if "sla" in lc.document:  # the SLA section, counted on any calendar when it names none
                tf.policy_for(lc, lc.calendar or tf.BusinessCalendar.always_open())
        except tf.InvalidLifecycle as exc:
            click.echo(str(exc), err=True)
            failed += 1
        else:
            click.echo(f"{name}: ok ({lc.id}, {len(lc.states)} states, {len(lc.transitions)} transitions)")
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("lifecycle")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid")
def diagram(lifecycle: str, fmt: str) -> None:
    """Print a lifecycle's diagram: Mermaid, DOT, or SVG (SVG needs Graphviz's `dot`)."""
    lc = _lifecycle(lifecycle)
    if fmt == "mermaid":
        click.echo(lc.to_mermaid(), nl=False)
    elif fmt == "dot":
        click.echo(lc.to_dot(), nl=False)
    else:
        dot = shutil.which("dot")
        if dot is None:
            raise click.ClickException(
                "SVG needs Graphviz's `dot` program (apt install graphviz); --format dot works without"
            )
        svg = subprocess.run([dot, "-Tsvg"], input=lc.to_dot(), capture_output=True, text=True, check=True)  # noqa: S603
        click.echo(svg.stdout, nl=False)


_EXAMPLE = "custom_lifecycle.toml"


def _example_lifecycle() -> str:
    """The example lifecycle's text: packaged in the wheel, or from the source tree's examples/."""
    packaged = resources.files("ticketflow") / "_examples" / _EXAMPLE
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "examples" / _EXAMPLE).read_text(encoding="utf-8")


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="overwrite an existing file")
def init(directory: str, force: bool) -> None:
    """Write the example lifecycle (an IT help desk) into DIRECTORY to start your own from."""
    target = Path(directory) / _EXAMPLE
    if target.exists() and not force:
        raise click.ClickException(f"{target}: exists; keep it, or pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_example_lifecycle(), encoding="utf-8")
    click.echo(f"wrote {target}")
    click.echo(f"next: ticketflow validate {target}; ticketflow diagram {target}; in Python:")
    click.echo(f'  wf = ticketflow.Workflow(ticketflow.load_lifecycle("{target}"))')


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the lifecycle format (for editors)."""
    click.echo(json.dumps(tf.json_schema(), indent=2))


# -- calendar -------------------------------------------------------------------------


@cli.group()
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone")
@click.option("--hours", multiple=True, default=["mon-fri=09:00-17:00"], show_default=True, help="DAYS=WINDOW[,WINDOW]")
@click.option("--holidays", "country", default=None, help="country code for public holidays, such as US")
@click.pass_context
def calendar(ctx: click.Context, timezone: str, hours: Sequence[str], country: str | None) -> None:
    """Ad-hoc business-time questions."""
    week: dict[str, list[str]] = {}
    for item in hours:
        days, _, windows = item.partition("=")
        if not windows:
            raise click.ClickException(f"--hours {item!r}: write DAYS=WINDOWS, such as mon-fri=09:00-17:00")
        week[days] = windows.split(",")
    ctx.obj = tf.BusinessCalendar(timezone, week, holidays=tf.holidays_for(country) if country else ())


@calendar.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("start")
@click.argument("duration")
@click.pass_obj
def calendar_add(cal: tf.BusinessCalendar, start: str, duration: str) -> None:
    """START + DURATION of business time (`2h`, `1d12h`, `-90m`)."""
    negative = duration.startswith("-")
    try:
        span, days = parse_duration(duration.lstrip("-"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    at = _instant(start, "START")
    if days:
        click.echo(cal.add_days(at, -days if negative else days).isoformat())
    else:
        click.echo(cal.add(at, -span if negative else span).isoformat())


@calendar.command("between")
@click.argument("a")
@click.argument("b")
@click.pass_obj
def calendar_between(cal: tf.BusinessCalendar, a: str, b: str) -> None:
    """Business time from A to B (negative if B is before A)."""
    click.echo(str(cal.between(_instant(a, "A"), _instant(b, "B"))))


@calendar.command("open")
@click.argument("instant")
@click.pass_obj
def calendar_open(cal: tf.BusinessCalendar, instant: str) -> None:
    """Whether INSTANT is open, and the next opening or closing."""
    at = _instant(instant, "INSTANT")
    if cal.is_open(at):
        click.echo(f"open until {cal.next_close(at).isoformat()}")
    else:
        click.echo(f"closed until {cal.next_open(at).isoformat()}")


# -- data ----------------------------------------------------------------------------------


@cli.group()
def sla() -> None:
    """SLA reports over a database."""


@sla.command("report")
@click.option("--db", required=True, help="SQLite file or postgresql+psycopg:// URL")
@click.option("--lifecycle", "lifecycle", required=True, help="built-in id or file")
@click.option("--now", "now_text", default=None, help="ISO instant (default: now)")
def sla_report(db: str, lifecycle: str, now_text: str | None) -> None:
    """Attainment per metric and target, and breaches per assignee."""
    wf = tf.Workflow(_lifecycle(lifecycle), _repository(db))
    report = wf.sla_report(_instant(now_text, "--now") if now_text else None)
    click.echo(f"{report.tickets} tickets")
    for metric in report.metrics:
        p50 = metric.p50 if metric.p50 is not None else "-"
        click.echo(f"  {metric.line()}  median {p50}  running {metric.running}")
    for name, counts in report.breaches_by.items():
        for value, count in sorted(counts.items(), key=lambda item: -item[1]):
            click.echo(f"  breaches by {name}: {value}: {count}")


@cli.command("export")
@click.option("--db", required=True, help="SQLite file or postgresql+psycopg:// URL")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--out", type=click.File("w"), default="-")
@click.option("--column", "columns", multiple=True, help="CSV column (repeat); field:<name> for a field")
def export(db: str, fmt: str, out: Any, columns: Sequence[str]) -> None:
    """Export tickets (with their histories, for JSON Lines)."""
    repo = _repository(db)
    if fmt == "jsonl":
        tf.export_jsonl(repo, out)
    else:
        tf.export_csv(repo, out, list(columns) or DEFAULT_CSV_COLUMNS)


@cli.command("import")
@click.option("--db", required=True, help="SQLite file or postgresql+psycopg:// URL")
@click.argument("source", type=click.File("r"))
def import_(db: str, source: Any) -> None:
    """Import tickets from a JSON Lines export (all or nothing)."""
    count = tf.import_jsonl(_repository(db), source, source=getattr(source, "name", "<stdin>"))
    click.echo(f"imported {count} tickets")


@cli.command()
@click.option("--db", required=True, help="SQLite file or postgresql+psycopg:// URL")
@click.option("--lifecycle", "lifecycle", required=True, help="built-in id or file")
@click.option("--interval", default=60.0, show_default=True, help="seconds between sweeps")
@click.option("--once", is_flag=True, help="sweep once and exit")
def worker(db: str, lifecycle: str, interval: float, once: bool) -> None:
    """Run the sweeper: timed rules, SLA alerts, notifications; stops cleanly on SIGINT/SIGTERM."""
    wf = tf.Workflow(_lifecycle(lifecycle), _repository(db))
    sweeper = tf.Sweeper(wf, interval=timedelta(seconds=interval))
    if once:
        report = sweeper.run_once()
        click.echo(
            f"fired {len(report.result.fired)} rules, {report.result.alerts} SLA alerts, delivered {report.delivered}"
        )
        return
    sweeper.install_signal_handlers()
    click.echo(f"sweeping {db} every {interval:g}s; Ctrl-C to stop")
    sweeper.run_forever()
    click.echo("stopped")


@cli.command()
@click.option("--db", default="ticketflow-demo.db", show_default=True, help="the SQLite file (recreated)")
def demo(db: str) -> None:
    """Walk tickets through the Zendesk-style built-in, stored in SQLite, on a simulated clock."""
    _demo(Path(db))


def _demo(path: Path) -> None:
    lc = tf.builtin("zendesk")
    clock = tf.SteppableClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("America/New_York")))
    numbers = iter(range(1001, 10_000))
    for suffix in ("", "-wal", "-shm"):  # a fresh demo database each run
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    repository = tf.SQLiteRepository(path)
    wf = tf.Workflow(lc, repository, clock=clock, id_factory=lambda: f"ZD-{next(numbers)}")
    client = tf.Actor("dana@client.example", roles={"requester"})
    agent = tf.Actor("sam", roles={"agent"})
    click.echo(f"ticketflow demo — lifecycle {lc.id!r} ({lc.name})")
    click.echo(f"states: {', '.join(lc.states)}\n")

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
        click.echo(f"refused as expected: {refused}\n")

    click.echo(f"history of {ticket.id}:")
    for event in wf.history(ticket.id):
        moved = f"{event.source or '-'} -> {event.target}"
        said = f'  "{event.comment.body}"' if event.comment else ""
        click.echo(f"  {event.seq}. {event.at:%a %H:%M}  {event.actor.id:<20} {event.trigger:<18} {moved:<18}{said}")
    final = wf.get(ticket.id)
    if tf.replay(wf.history(ticket.id)) != final:  # pragma: no cover - the invariant the demo shows
        raise click.ClickException("history does not replay to the ticket")
    click.echo(f"\nnow {final.state!r}, version {final.version}; replaying the history gives the same ticket.")
    for sla_clock in wf.sla(ticket.id):
        click.echo(
            f"SLA {sla_clock.metric}: {sla_clock.elapsed} of {sla_clock.target} business time, "
            f"breached: {sla_clock.breached}"
        )

    silent = wf.open(client, title="Password reset link expired", fields={"category": "question"})
    wf.fire(silent.id, "ask", agent, comment="Which e-mail address do you sign in with?")
    click.echo(f"\n{silent.id}: asked the customer, who never answers. The sweeper runs 9 days later and fires:")
    clock.advance(days=9)
    result = wf.run_due()
    for event in result.fired:
        rule, due = event.meta["rule"], event.meta["due_at"][:16]
        click.echo(f"  {event.ticket_id}  {rule:<24} due {due}  {event.trigger:<8} -> {event.target}")
    click.echo(f"  {silent.id} is now {wf.get(silent.id).state!r} with tags {sorted(wf.get(silent.id).tags)}")
    click.echo(f"  SLA alerts written to the outbox: {result.alerts}")
    click.echo(f"  outbox: {len(repository.pending_messages(limit=1000))} messages waiting for your notifiers")
    _simulate_builtins(path)
    click.echo("\nthe zendesk lifecycle as a Mermaid diagram (paste into any Mermaid viewer):\n")
    click.echo(lc.to_mermaid())
    click.echo(f"tickets and their histories are in the SQLite file {path.resolve()}")
    click.echo(
        f"explore them: ticketflow export --db {path} | head; ticketflow sla report --db {path} --lifecycle zendesk"
    )


def _simulate_builtins(path: Path, days: int = 21) -> None:
    """Three weeks of traffic through each built-in, in the same file, with a summary per lifecycle."""
    from ticketflow._simulation import simulate

    start = datetime(2026, 3, 2, 0, 0, tzinfo=ZoneInfo("America/New_York"))
    click.echo(f"\nSimulating {days} days of traffic through each of the five built-ins (same SQLite file):")
    summaries = []
    with click.progressbar(length=days * 24 * len(tf.builtins()), label="simulated hours", width=30) as bar:
        for lifecycle_id in tf.builtins():
            wf = tf.Workflow(tf.builtin(lifecycle_id), tf.SQLiteRepository(path), clock=tf.SteppableClock(start))
            summaries.append(simulate(wf, start, days, tick=lambda: bar.update(1)))
    for summary in summaries:
        states = ", ".join(f"{state} {count}" for state, count in summary.by_state.items() if count)
        click.echo(f"\n{summary.lifecycle_id}: {summary.tickets} tickets — {states}")
        click.echo(f"  {summary.steps} steps by agents and customers, {summary.refused} refused (and left unchanged)")
        if summary.automations:
            fired = ", ".join(f"{rule} {count}" for rule, count in summary.automations.most_common())
            click.echo(f"  automations fired: {fired}")
        if summary.sla is not None:
            for metric in summary.sla.metrics:
                click.echo(f"  SLA {metric.line()}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (for tests and ``python -m``)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="ticketflow", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0
