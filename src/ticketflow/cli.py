"""The ``ticketflow`` command (Click): lifecycles, validation, diagrams, calendars, SLA reports, export, worker, demo.

Shell completion comes with Click: ``eval "$(_TICKETFLOW_COMPLETE=bash_source ticketflow)"``.
Help texts are shown without their RST markup (``x`` prints as x).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

import ticketflow as tf
from ticketflow.lifecycle import Lifecycle, parse_duration
from ticketflow.lifecycle._diagram import timer_label
from ticketflow.lifecycle._loader import parse_file
from ticketflow.repository._export import DEFAULT_CSV_COLUMNS

__all__ = ["cli", "main"]


# -- the error boundary: every command (also those added later) inherits it -------------------

_PROBLEM_LIMIT = 20  # problems `validate` reports per file before it stops looking
_ARGV = "ticketflow.argv"


class _PipeClosed(Exception):
    """The reader of our stdout went away (``ticketflow export | head``)."""


class _Group(click.Group):
    """The top-level group: one clear line for every error, exit 1 (2 for usage), no traceback.

    ``invoke`` turns what bad input raises anywhere below it (ticketflow's own
    errors, files that cannot be read, values out of range, text that is not
    UTF-8) into a :class:`click.ClickException`; ``main`` prints every
    ``ClickException`` (usage errors too) as one line and handles a closed
    pipe (``ticketflow export | head``) quietly. Subcommands and sub-groups
    added anywhere get this without doing anything.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except tf.TicketflowError as exc:
            raise click.ClickException(str(exc)) from exc
        except UnicodeError as exc:
            raise click.ClickException(f"{_input_name(ctx)}: not UTF-8 text ({exc})") from exc
        except BrokenPipeError:
            raise _PipeClosed from None
        except OSError as exc:
            where = exc.filename if exc.filename is not None else _input_name(ctx)
            raise click.ClickException(f"{where}: {exc.strerror or exc}") from exc
        except (ValueError, OverflowError, RecursionError) as exc:
            raise click.ClickException(f"{_input_name(ctx)}: {exc}") from exc

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGV] = list(args)
        return super().parse_args(ctx, args)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        _plain_help(self)
        try:
            return super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
            status = exc.exit_code
        except click.ClickException as exc:
            click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
            status = exc.exit_code
        except click.Abort:
            click.echo("Error: aborted", err=True)
            status = 1
        except _PipeClosed:
            _quiet_stdout()
            status = 128 + 13  # what the shell reports for a tool stopped by SIGPIPE (`yes | head`)
        if standalone_mode:
            sys.exit(status)
        return status


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def _quiet_stdout() -> None:
    """After the reader of our stdout went away: point stdout at /dev/null so the exit flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor (a test runner)
        pass


def _input_name(ctx: click.Context) -> str:
    """The command line as given, to name what was bad when the error does not."""
    return " ".join(["ticketflow", *ctx.meta.get(_ARGV, [])])


def _lifecycle(name: str) -> Lifecycle:
    """A built-in id or a lifecycle file; anything else is one line listing the built-ins."""
    if name in tf.builtins():
        return tf.builtin(name)
    if not Path(name).exists():
        raise click.ClickException(
            f"{name!r} is neither a built-in lifecycle ({', '.join(tf.builtins())}) nor a file; "
            "`ticketflow init` writes an example file"
        )
    return _load_file(name)


def _load_file(name: str) -> Lifecycle:
    try:
        return tf.load_lifecycle(name)
    except tf.InvalidLifecycle:
        raise
    except UnicodeError as exc:
        raise click.ClickException(f"{name}: not UTF-8 text ({exc})") from exc
    except OSError as exc:
        raise click.ClickException(f"{name}: {exc.strerror or exc}") from exc
    except (ValueError, OverflowError, RecursionError) as exc:
        raise click.ClickException(f"{name}: {exc}") from exc


def _repository(where: str, *, create: bool = False, create_hint: bool = False) -> tf.TicketRepository:
    """The repository at ``--db``; a SQLite path that does not exist is refused unless *create*."""
    if where.startswith("postgresql"):
        from ticketflow.repository.postgres import PostgresRepository

        repo: tf.TicketRepository = PostgresRepository(where)
    else:
        if not create and not Path(where).exists():
            hint = " (or pass --create to start an empty one)" if create_hint else ""
            raise click.ClickException(f"--db {where}: no such database file; check the path{hint}")
        repo = tf.SQLiteRepository(where)
    close = getattr(repo, "close", None)
    if callable(close):
        click.get_current_context().call_on_close(close)
    return repo


def _db_option(f: Any) -> Any:
    return click.option("--db", required=True, metavar="PATH|URL", help="SQLite file or postgresql+psycopg:// URL")(f)


def _instant(text: str, what: str, zone: str | None = None) -> datetime:
    """An ISO instant; a naive one is read in *zone* when given (``--timezone``)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO datetime (2026-03-06T16:00-05:00)", param_hint=what) from None
    if value.tzinfo is None:
        if zone is None:
            raise click.BadParameter(f"{text!r} is naive; give its UTC offset (…T16:00-05:00)", param_hint=what)
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value


_HELP = """Support-ticket lifecycles, business calendars and SLA reports from the command line.

Start with: ticketflow demo; ticketflow init; ticketflow show zendesk.
Shell completion: eval "$(_TICKETFLOW_COMPLETE=bash_source ticketflow)".
"""


def _plain(text: str | None) -> str | None:
    """Help text without RST markup: ``x`` and `x` print as x."""
    return None if text is None else re.sub(r"``?([^`]+)``?", r"\1", text)


def _plain_help(command: click.Command) -> None:
    """Strip RST markup from the help of *command* and everything under it (commands added later too)."""
    command.help = _plain(command.help)
    command.short_help = _plain(command.short_help)
    for param in command.params:
        if isinstance(param, click.Option):
            param.help = _plain(param.help)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _plain_help(sub)


@click.group(cls=_Group, help=_HELP)
@click.version_option(tf.__version__, "--version", "-V", prog_name="ticketflow")
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
    """Describe LIFECYCLE (a built-in id or a file): states, transitions, timers, SLA."""
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
        click.echo(f"  timer {rule.id:<26} in {', '.join(rule.states)} after {timer_label(rule)}")
        if rule.description:
            click.echo(f"  {'':<32} {rule.description}")
    for metric in lc.document.get("sla", {}).get("metrics", []):
        targets = ", ".join(t["target"] for t in metric["targets"])
        click.echo(f"  sla {metric['id']:<28} targets {targets}")


def _problems(name: str) -> tuple[Lifecycle | None, list[str]]:
    """Load *name*; on a problem, set the part it names aside and look again (up to a limit)."""
    try:
        lc = _load_file(name)
        if "sla" in lc.document:  # the SLA section, counted on any calendar when it names none
            tf.policy_for(lc, lc.calendar or tf.BusinessCalendar.always_open())
        return lc, []
    except tf.InvalidLifecycle as first:
        problems, first_path = [str(first)], first.path
        try:
            document = parse_file(name)
        except tf.InvalidLifecycle:  # a syntax error: nothing after it can be read
            return None, problems
    if not isinstance(document, dict) or "extends" in document:
        return None, problems  # paths after a merge are the merged document's: report the first
    renumber: dict[tuple[object, ...], list[int]] = {}
    removed: list[str] = []
    while len(problems) < _PROBLEM_LIMIT and _set_aside(document, _tokens(first_path), renumber, removed):
        try:
            tf.load_lifecycle(document, source=name)
            break
        except tf.InvalidLifecycle as exc:
            if _consequence(exc, removed):
                break
            line = str(tf.InvalidLifecycle(name, _renumbered(exc.path, renumber), exc.problem))
            if line in problems:
                break
            problems.append(line)
            first_path = exc.path
    else:
        if len(problems) >= _PROBLEM_LIMIT:
            problems.append(f"{name}: stopped after {_PROBLEM_LIMIT} problems")
    return None, problems


_GRAPH_PROBLEMS = ("dead end", "unreachable", "at least one")


def _consequence(exc: tf.InvalidLifecycle, removed: list[str]) -> bool:
    """Whether a problem may come from setting parts aside rather than from the file."""
    if any(p == exc.path or p.startswith((f"{exc.path}.", f"{exc.path}[")) for p in removed):
        return True
    return any("[" in p for p in removed) and any(word in exc.problem for word in _GRAPH_PROBLEMS)


def _tokens(path: str) -> list[str | int]:
    return [int(index) if index else key for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)]


def _set_aside(
    document: dict[str, Any], tokens: list[str | int], renumber: dict[tuple[object, ...], list[int]], removed: list[str]
) -> bool:
    """Remove the list item (or else the key) a problem's path names; False when nothing could be removed."""
    for depth, token in enumerate(tokens):
        if isinstance(token, int):
            container = _walk(document, tokens[:depth])
            if not isinstance(container, list) or token >= len(container):
                return False
            renumber.setdefault(tuple(tokens[:depth]), list(range(len(container)))).pop(token)
            del container[token]
            removed.append(_path(tokens[: depth + 1]))
            return True
    for depth in range(len(tokens), 0, -1):
        parent = _walk(document, tokens[: depth - 1])
        if isinstance(parent, dict) and tokens[depth - 1] in parent:
            del parent[tokens[depth - 1]]
            removed.append(_path(tokens[:depth]))
            return True
    return False


def _walk(document: Any, tokens: list[str | int]) -> Any:
    for token in tokens:
        try:
            document = document[token]
        except (KeyError, IndexError, TypeError):
            return None
    return document


def _renumbered(path: str, renumber: dict[tuple[object, ...], list[int]]) -> str:
    """A path in the trimmed document, with list indices of the file as written."""
    tokens = _tokens(path)
    for depth, token in enumerate(tokens):
        if isinstance(token, int):
            original = renumber.get(tuple(tokens[:depth]))
            if original is not None and token < len(original):
                tokens[depth] = original[token]
            break
    return _path(tokens)


def _path(tokens: list[str | int]) -> str:
    out = ""
    for token in tokens:
        out += f"[{token}]" if isinstance(token, int) else (f".{token}" if out else token)
    return out


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
def validate(files: Sequence[str]) -> None:
    """Check lifecycle FILES; print file:path: problem lines (every problem, up to 20 a file) and exit 1 on any."""
    failed = 0
    for name in files:
        lc, problems = _problems(name)
        for problem in problems:
            click.echo(problem, err=True)
        if lc is None:
            failed += 1
        else:
            click.echo(f"{name}: ok ({lc.id}, {len(lc.states)} states, {len(lc.transitions)} transitions)")
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("lifecycle")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid", show_default=True)
def diagram(lifecycle: str, fmt: str) -> None:
    """Print LIFECYCLE's diagram (timers dotted): Mermaid, DOT, or SVG (SVG needs Graphviz's dot)."""
    lc = _lifecycle(lifecycle)
    if fmt == "mermaid":
        click.echo(lc.to_mermaid(), nl=False)
    elif fmt == "dot":
        click.echo(lc.to_dot(), nl=False)
    else:
        dot = shutil.which("dot")
        if dot is None:
            raise click.ClickException(
                "SVG needs Graphviz's dot program (apt install graphviz); --format dot works without"
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

_CALENDAR = "ticketflow.calendar"
_CALENDAR_DEFAULTS: dict[str, Any] = {"timezone": "UTC", "hours": ("mon-fri=09:00-17:00",), "holidays": None}


def _calendar_options(f: Any) -> Any:
    """--timezone/--hours/--holidays, taken by the calendar group and by each of its commands."""
    f = click.option(
        "--holidays",
        default=None,
        metavar="COUNTRY[-SUBDIV]",
        help="public holidays, observed days included: US, US-NY, FR, DE-BY",
    )(f)
    f = click.option(
        "--hours",
        multiple=True,
        metavar="DAYS=WINDOW[,WINDOW]",
        help="opening hours, repeatable  [default: mon-fri=09:00-17:00]",
    )(f)
    return click.option(
        "--timezone",
        default=None,
        metavar="ZONE",
        help="IANA zone; naive times are read in it when given (without it, give each time's offset)  [default: UTC]",
    )(f)


def _given(timezone: str | None, hours: Sequence[str], holidays: str | None) -> dict[str, Any]:
    return {k: v for k, v in (("timezone", timezone), ("hours", tuple(hours)), ("holidays", holidays)) if v}


def _build_calendar(timezone: str, hours: Sequence[str], holidays: str | None) -> tf.BusinessCalendar:
    try:
        ZoneInfo(timezone)
    except (ValueError, OSError, LookupError):
        raise click.BadParameter(
            f"unknown zone {timezone!r}; use an IANA name such as Europe/Paris", param_hint="--timezone"
        ) from None
    week: dict[str, list[str]] = {}
    for item in hours:
        days, _, windows = item.partition("=")
        if not windows:
            raise click.BadParameter(f"{item!r}: write DAYS=WINDOWS, such as mon-fri=09:00-17:00", param_hint="--hours")
        week[days] = windows.split(",")
    source: Any = ()
    if holidays:
        country, _, subdiv = holidays.partition("-")
        try:
            source = tf.holidays_for(country, subdiv=subdiv or None)
        except tf.TicketflowError as exc:
            raise click.BadParameter(str(exc), param_hint="--holidays") from exc
    try:
        return tf.BusinessCalendar(timezone, week, holidays=source)
    except tf.TicketflowError as exc:
        raise click.BadParameter(str(exc), param_hint="--hours") from exc


def _with_calendar(f: Any) -> Any:
    """A calendar command: its own options win over the group's; ``pass_obj`` then gives the calendar."""

    @_calendar_options
    @functools.wraps(f)
    def command(*args: Any, timezone: str | None, hours: Sequence[str], holidays: str | None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        given = {**ctx.meta.get(_CALENDAR, {}), **_given(timezone, hours, holidays)}
        ctx.meta[_CALENDAR] = given
        ctx.obj = _build_calendar(**{**_CALENDAR_DEFAULTS, **given})
        return f(*args, **kwargs)

    return command


class _CalendarGroup(click.Group):
    """Every command added to ``calendar`` takes the calendar options too (after its name)."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return self.command()(args[0])
        decorator = super().command(*args, **kwargs)
        return lambda f: decorator(_with_calendar(f))


def _zone() -> str | None:
    """The --timezone given (before or after the command's name): naive times are read in it."""
    zone = click.get_current_context().meta[_CALENDAR].get("timezone")
    return None if zone is None else str(zone)


@cli.group(cls=_CalendarGroup)
@_calendar_options
@click.pass_context
def calendar(ctx: click.Context, timezone: str | None, hours: Sequence[str], holidays: str | None) -> None:
    """Ad-hoc business-time questions; the options go before or after the command's name."""
    ctx.meta[_CALENDAR] = _given(timezone, hours, holidays)


@calendar.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("start")
@click.argument("duration")
@click.pass_obj
def calendar_add(cal: tf.BusinessCalendar, start: str, duration: str) -> None:
    """START + DURATION of business time (2h, 1d12h, -90m, 3bd)."""
    negative = duration.startswith("-")
    at = _instant(start, "START", _zone())
    try:
        span, days = parse_duration(duration.lstrip("-"))
        if days:
            click.echo(cal.add_days(at, -days if negative else days).isoformat())
        else:
            click.echo(cal.add(at, -span if negative else span).isoformat())
    except OverflowError as exc:
        raise click.BadParameter(
            f"{duration!r} takes the answer past what a date can hold", param_hint="DURATION"
        ) from exc
    except ValueError as exc:
        raise click.BadParameter(f"{duration!r}: {exc}", param_hint="DURATION") from exc


@calendar.command("between")
@click.argument("a")
@click.argument("b")
@click.pass_obj
def calendar_between(cal: tf.BusinessCalendar, a: str, b: str) -> None:
    """Business time from A to B (negative if B is before A)."""
    click.echo(str(cal.between(_instant(a, "A", _zone()), _instant(b, "B", _zone()))))


@calendar.command("open")
@click.argument("instant")
@click.pass_obj
def calendar_open(cal: tf.BusinessCalendar, instant: str) -> None:
    """Whether INSTANT is open, and the next opening or closing."""
    at = _instant(instant, "INSTANT", _zone())
    if cal.is_open(at):
        click.echo(f"open until {cal.next_close(at).isoformat()}")
    else:
        click.echo(f"closed until {cal.next_open(at).isoformat()}")


def _calendar_named(spec: str) -> tf.BusinessCalendar:
    """CAL: a TOML/JSON/YAML file with a calendar (``[calendar]`` or at the top), or FILE:NAME for an SLA calendar."""
    where, _, name = spec.partition(":")
    document = tf.builtin(where).document if where in tf.builtins() else parse_file(where)
    if not isinstance(document, dict):
        raise click.BadParameter(f"{where}: expected a table holding a calendar", param_hint="CAL")
    if name:
        calendars = document.get("sla", {}).get("calendars", {})
        if name not in calendars:
            known = ", ".join(sorted(calendars)) or "none"
            raise click.BadParameter(f"{where}: no SLA calendar {name!r}; known: {known}", param_hint="CAL")
        table = calendars[name]
    elif "calendar" in document:
        table = document["calendar"]
    elif "timezone" in document:
        table = document
    else:
        raise click.BadParameter(
            f"{where}: no [calendar] table in it; name one of its SLA calendars as {where}:NAME", param_hint="CAL"
        )
    try:
        return tf.BusinessCalendar.from_config(table, base=None if where in tf.builtins() else Path(where).parent)
    except tf.CalendarError as exc:
        raise click.BadParameter(f"{spec}: {exc}", param_hint="CAL") from exc


@calendar.command("show")
@click.argument("cal_spec", metavar="[CAL]", required=False)
@click.option("--from", "start", required=True, help="ISO date or datetime; naive: in the calendar's zone")
@click.option("--to", "end", default=None, help="ISO date or datetime  [default: 7 days after --from]")
@click.option(
    "--explain", "explain", default=None, metavar="INSTANT", help="say which rule makes INSTANT open or closed"
)
@click.option("--ics", is_flag=True, help="print the open windows as iCalendar (extra `ical`)")
@click.pass_obj
def calendar_show(
    cal: tf.BusinessCalendar, cal_spec: str | None, start: str, end: str | None, explain: str | None, ics: bool
) -> None:
    """The open windows from --from to --to of CAL (a calendar file, or FILE:NAME for an SLA calendar).

    Without CAL, the calendar given by --timezone/--hours/--holidays.
    """
    if cal_spec is not None:
        cal = _calendar_named(cal_spec)
    a = _instant(start, "--from", cal.timezone)
    b = _instant(end, "--to", cal.timezone) if end is not None else a + timedelta(days=7)
    if b <= a:
        raise click.BadParameter(f"{end!r} is not after --from", param_hint="--to")
    if explain is not None:
        click.echo(str(cal.explain(_instant(explain, "--explain", cal.timezone))))
    if ics:
        click.echo(cal.to_ics(a, b), nl=False)
        return
    click.echo(cal.describe() + (f" (+{len(cal.rules)} rules)" if cal.rules else ""))
    total = timedelta(0)
    for lo, hi in cal.open_windows(a, b):
        days = (hi.date() - lo.date()).days
        later = f" (+{days}d)" if days else ""
        length = cal.between(lo, hi)  # real time: a night across a DST change is 7 or 9 hours
        total += length
        click.echo(f"  {lo:%a %Y-%m-%d}  {lo:%H:%M}-{hi:%H:%M}{later:<6} {lo.strftime('%Z'):<5} {_clock_hours(length)}")
    click.echo(f"open {_clock_hours(total)} from {a.isoformat()} to {b.isoformat()}")


def _clock_hours(value: timedelta) -> str:
    minutes = int(value.total_seconds()) // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


# -- data ----------------------------------------------------------------------------------


@cli.group()
def sla() -> None:
    """SLA reports over a database."""


@sla.command("report")
@_db_option
@click.option("--lifecycle", "lifecycle", required=True, help="built-in id or file")
@click.option("--now", "now_text", default=None, help="ISO instant (default: now); the demo prints the one it used")
def sla_report(db: str, lifecycle: str, now_text: str | None) -> None:
    """Attainment per metric and target, and breaches per assignee."""
    now = _instant(now_text, "--now") if now_text else None
    wf = tf.Workflow(_lifecycle(lifecycle), _repository(db))
    report = wf.sla_report(now)
    click.echo(f"{report.tickets} tickets")
    for metric in report.metrics:
        p50 = metric.p50 if metric.p50 is not None else "-"
        click.echo(f"  {metric.line()}  median {p50}  running {metric.running}")
    for name, counts in report.breaches_by.items():
        for value, count in sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))):
            click.echo(f"  breaches by {name}: {'unassigned' if value is None else value}: {count}")


@cli.command()
@_db_option
@click.argument("lifecycle")
@click.option("--batch", type=click.IntRange(min=1), default=200, show_default=True, help="tickets per transaction")
@click.option("--now", "now_text", default=None, help="ISO instant to reschedule as of (default: now)")
def reschedule(db: str, lifecycle: str, batch: int, now_text: str | None) -> None:
    """Recompute the stored next due instant of every ticket of LIFECYCLE (a built-in id or a file).

    After the rules behind due instants changed without a new version (a
    holiday added, a policy loaded anew), so the sweeper finds each warning,
    breach and timed rule at its new instant. See docs/versions.md.
    """
    now = _instant(now_text, "--now") if now_text else None
    report = tf.Workflow(_lifecycle(lifecycle), _repository(db)).reschedule(batch=batch, at=now)
    click.echo(f"rescheduled {report.rescheduled} tickets; {len(report.skipped)} in states this version lacks")
    for ticket_id in report.skipped:
        click.echo(f"  skipped {ticket_id}")


@cli.command()
@_db_option
@click.argument("old")
@click.argument("new")
@click.option("--plan", "plan_file", required=True, type=click.Path(dir_okay=False), help="the migration plan file")
@click.option("--dry-run", is_flag=True, help="report what would happen; write nothing")
@click.option("--batch", type=click.IntRange(min=1), default=200, show_default=True, help="tickets per transaction")
@click.option("--part", default="1/1", show_default=True, help="I/N: this worker's share of the tickets (N workers)")
def migrate(db: str, old: str, new: str, plan_file: str, dry_run: bool, batch: int, part: str) -> None:
    """Move tickets from lifecycle version OLD to NEW (built-in ids or files) as the plan says.

    The plan is checked against both versions first. Then each ticket on OLD
    gets one migrated event, its due instant recomputed, in batches; a re-run
    (after a crash) skips the tickets already on NEW. OLD may be the higher
    version: a plan from 2 to 1 rolls tickets back. See docs/versions.md.
    """
    match = re.fullmatch(r"(\d+)/(\d+)", part)
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise click.BadParameter(f"{part!r}: write I/N with 1 <= I <= N (e.g. 2/4)", param_hint="--part")
    older, newer = _lifecycle(old), _lifecycle(new)
    plan = tf.load_migration(plan_file, older, newer)
    wf = tf.Workflow(newer, _repository(db), previous=[older])
    report = wf.migrate(plan, dry_run=dry_run, batch=batch, part=(int(match[1]) - 1, int(match[2])))
    for line in report.lines():
        click.echo(line)


@cli.command("export")
@_db_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-", help="file to write  [default: stdout]")
@click.option("--column", "columns", multiple=True, help="CSV column (repeat); field:<name> for a field")
@click.option(
    "--raw",
    is_flag=True,
    help="CSV: write values as stored, without the ' that keeps =, +, -, @ cells from running as spreadsheet formulas",
)
def export(db: str, fmt: str, out: Any, columns: Sequence[str], raw: bool) -> None:
    """Export tickets (with their histories, for JSON Lines)."""
    if fmt == "jsonl" and (columns or raw):  # else they would be ignored without a word
        given = "--column" if columns else "--raw"
        raise click.UsageError(f"{given} is for --format csv; JSON Lines holds every ticket whole")
    repo = _repository(db)
    if fmt == "jsonl":
        tf.export_jsonl(repo, out)
    else:
        tf.export_csv(repo, out, list(columns) or DEFAULT_CSV_COLUMNS, raw=raw)


@cli.command("import")
@_db_option
@click.option("--create", is_flag=True, help="create the SQLite file if it does not exist (removed again on failure)")
@click.option(
    "--lifecycle", "lifecycles", multiple=True, help="lifecycle file of imported tickets (repeat; built-ins are known)"
)
@click.argument("source", type=click.File("r", encoding="utf-8"))
def import_(db: str, create: bool, lifecycles: Sequence[str], source: Any) -> None:
    """Import tickets from a JSON Lines export (all or nothing), with their next due instants."""
    name = getattr(source, "name", "<stdin>")
    fresh = create and not db.startswith("postgresql") and not Path(db).exists()
    try:
        repo = _repository(db, create=create, create_hint=True)
        count = tf.import_jsonl(repo, source, source=name, schedule=_import_schedule(repo, lifecycles))
    except UnicodeError as exc:
        _forget(db, fresh)
        raise click.ClickException(f"{name}: not UTF-8 text ({exc})") from exc
    except BaseException:
        _forget(db, fresh)
        raise
    click.echo(f"imported {count} tickets")


def _import_schedule(
    repo: tf.TicketRepository, lifecycles: Sequence[str]
) -> Callable[[tf.Ticket, Sequence[tf.Event]], datetime | None]:
    """Each imported ticket's next due instant, by its lifecycle's Workflow (built-ins found by id)."""
    workflows = {lc.id: tf.Workflow(lc, repo) for lc in map(_lifecycle, lifecycles)}

    def schedule(ticket: tf.Ticket, history: Sequence[tf.Event]) -> datetime | None:
        wf = workflows.get(ticket.lifecycle_id)
        if wf is None:
            if ticket.lifecycle_id not in tf.builtins():
                raise tf.StorageError(f"lifecycle {ticket.lifecycle_id!r} is not a built-in: pass --lifecycle FILE")
            wf = workflows[ticket.lifecycle_id] = tf.Workflow(tf.builtin(ticket.lifecycle_id), repo)
        return wf.imported_due(ticket, history)

    return schedule


def _forget(db: str, fresh: bool) -> None:
    """Remove a SQLite file this command created, after it failed."""
    if fresh:
        click.get_current_context().close()  # close the repository first
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)


def _load_app(spec: str) -> list[tf.Workflow]:
    """The Workflow(s) of ``module:factory``: the attribute, called if it is callable (no arguments)."""
    import importlib

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise click.BadParameter(
            f"{spec!r}: write module:factory (e.g. myapp.tickets:make_workflow)", param_hint="--app"
        )
    if "" not in sys.path:
        sys.path.insert(0, "")  # the app's module from the current directory, as gunicorn and flask do
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"{spec!r}: cannot import {module_name!r}: {exc}", param_hint="--app") from exc
    target = getattr(module, attribute, None)
    if target is None:
        raise click.BadParameter(f"{spec!r}: module {module_name!r} has no {attribute!r}", param_hint="--app")
    made = target() if callable(target) and not isinstance(target, tf.Workflow) else target
    workflows = [made] if isinstance(made, tf.Workflow) else list(made) if isinstance(made, list | tuple) else [made]
    if not workflows or not all(isinstance(w, tf.Workflow) for w in workflows):
        raise click.BadParameter(
            f"{spec!r}: the factory must return a Workflow or a list of them, got {type(made).__name__}",
            param_hint="--app",
        )
    return workflows


def _interval(between: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--interval`` option of a command that repeats (``worker``, ``mail imap``): seconds, more than 0."""
    return click.option(
        "--interval",
        default=60.0,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True),
        help=f"seconds between {between}",
    )


@cli.command()
@click.option("--app", "app", help="module:factory returning your Workflow(s), with their registry and notifiers")
@click.option("--db", metavar="PATH|URL", help="SQLite file or postgresql+psycopg:// URL (without --app)")
@click.option("--lifecycle", "lifecycle", help="built-in id or file (without --app)")
@_interval("sweeps")
@click.option("--once", is_flag=True, help="sweep once and exit")
@click.option("--create", is_flag=True, help="create the SQLite file if it does not exist")
def worker(app: str | None, db: str | None, lifecycle: str | None, interval: float, once: bool, create: bool) -> None:
    """Run the sweeper: timed rules, SLA alerts, notifications; stops cleanly on SIGINT/SIGTERM.

    With ``--app myapp.tickets:make_workflow`` it sweeps the Workflow(s) your
    factory returns, so your registry's notifiers deliver the outbox; with
    ``--db`` and ``--lifecycle`` alone there are no notifiers, and messages are
    kept (undeliverable) for a worker that has them.
    """
    if app is not None:
        if db is not None or lifecycle is not None:
            raise click.UsageError("give --app, or --db with --lifecycle, not both")
        workflows = _load_app(app)
        where = app
    elif db is None or lifecycle is None:
        raise click.UsageError("give --app module:factory, or both --db and --lifecycle")
    else:
        workflows = [tf.Workflow(_lifecycle(lifecycle), _repository(db, create=create, create_hint=True))]
        where = db
    # one Sweeper per store, over every workflow of that store: each lifecycle's due tickets go to its own
    # workflow, and the outbox is delivered once with all their notifiers (none flags another's kinds)
    stores: dict[str, list[tf.Workflow]] = {}
    for wf in workflows:
        stores.setdefault(repr(wf.repository), []).append(wf)
    sweepers = [tf.Sweeper(group, interval=timedelta(seconds=interval)) for group in stores.values()]
    if once:
        for sweeper in sweepers:
            report = sweeper.run_once()
            prefix = ", ".join(wf.lifecycle.id for wf in sweeper.workflows) + ": " if len(workflows) > 1 else ""
            click.echo(
                f"{prefix}fired {len(report.result.fired)} rules, "
                f"{report.result.alerts} SLA alerts, delivered {report.delivered}"
            )
        return
    main, *others = sweepers
    for other in others:
        other.start()
    main.install_signal_handlers()
    click.echo(f"sweeping {where} ({len(workflows)} workflow(s)) every {interval:g}s; Ctrl-C to stop")
    main.run_forever()
    for other in others:
        other.stop()
    click.echo("stopped")


# -- e-mail (the mail extra; imported only when a mail command runs) ------------------------

_EX_TEMPFAIL = 75  # sysexits.h: the MTA keeps the message and retries


@cli.group()
def mail() -> None:
    """E-mail in: an SMTP/LMTP receiver, a pipe/Maildir ingester, an IMAP poller (needs ticketflow[mail])."""


_DESK_OPTIONS = ("db", "create", "lifecycle", "mail_db", "quarantine", "attachments", "channel")


def _with_desk(command: Any) -> Any:
    """The options every mail command shares; the command receives the MailDesk they describe as ``desk``."""

    @functools.wraps(command)
    def run(**kwargs: Any) -> Any:
        desk = _desk(**{name: kwargs.pop(name) for name in _DESK_OPTIONS})
        return command(desk=desk, **kwargs)

    options = [
        _db_option,
        click.option("--create", is_flag=True, help="create the SQLite --db if it does not exist"),
        click.option("--lifecycle", "lifecycle", required=True, help="built-in id or file"),
        click.option("--mail-db", default=None, help="SQLite file for Message-IDs (default: --db when it is SQLite)"),
        click.option("--quarantine", default="mail-kept", show_default=True, help="directory for unusable mail"),
        click.option("--attachments", default=None, help="directory for attachment bytes and originals"),
        click.option("--channel", default="email", show_default=True, help="the [intake] channel mail comes through"),
    ]
    for option in reversed(options):
        run = option(run)
    return run


def _desk(
    db: str, create: bool, lifecycle: str, mail_db: str | None, quarantine: str, attachments: str | None, channel: str
) -> Any:
    try:
        from ticketflow import mail as tfmail
    except ImportError as missing:
        raise click.ClickException(
            f"the mail commands need the mail extra: pip install 'ticketflow[mail]' ({missing})"
        ) from missing
    if mail_db is None:
        if db.startswith("postgresql"):
            raise click.ClickException("--mail-db: give a SQLite file for Message-IDs when --db is PostgreSQL")
        mail_db = db
    return tfmail.MailDesk(
        _outbox_writer(_lifecycle(lifecycle), _repository(db, create=create, create_hint=True)),
        store=tfmail.SQLiteMessageIds(mail_db),
        quarantine=tfmail.DirectoryQuarantine(quarantine),
        attachments=tfmail.DirectoryAttachments(attachments) if attachments else None,
        channel=channel,
    )


def _outbox_writer(lifecycle: Lifecycle, repository: tf.TicketRepository) -> tf.Workflow:
    """A Workflow for a mail command, which writes the outbox and never delivers: its "no notifier" warning at debug.

    An MTA pipe runs `mail ingest` once per message, so the warning (what
    no notifier delivers) would be on stderr for every message, about a
    delivery that is `ticketflow worker`'s, which warns itself. Wiring is
    all that runs under the filter, and the automation logger says nothing
    else then; the message still shows with debug logging on.
    """
    import logging

    logger = logging.getLogger("ticketflow.automation")

    def at_debug(record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno > logging.DEBUG or logger.isEnabledFor(logging.DEBUG)

    logger.addFilter(at_debug)
    try:
        return tf.Workflow(lifecycle, repository)
    finally:
        logger.removeFilter(at_debug)


def _outcome_line(outcome: Any) -> str:
    where = f" {outcome.ticket_id}" if outcome.ticket_id else ""
    why = f" ({outcome.rule})" if outcome.rule else ""
    reason = f": {outcome.reason}" if outcome.reason else ""
    return f"<{outcome.message_id}> {outcome.action}{where}{why}{reason}"


@mail.command("ingest")
@_with_desk
@click.argument("source")
def mail_ingest(desk: Any, source: str) -> None:
    """Ingest a message file, a directory, a Maildir, or '-' (one message on stdin: an MTA pipe transport).

    Idempotent by Message-ID. Exits 75 (try again later) when a store
    fails, so a pipe transport keeps the message and retries.
    """
    from ticketflow.mail import ingest_path

    try:
        outcomes = [desk.ingest(sys.stdin.buffer.read())] if source == "-" else ingest_path(desk, source)
    except (OSError, tf.StorageError) as failed:
        click.echo(f"Error: could not ingest {source}: {failed}", err=True)
        sys.exit(_EX_TEMPFAIL)
    for outcome in outcomes:
        click.echo(_outcome_line(outcome))


@mail.command("serve")
@_with_desk
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8025, show_default=True, help="port to listen on")
@click.option("--lmtp", is_flag=True, help="speak LMTP (for an MTA's lmtp transport) instead of SMTP")
def mail_serve(desk: Any, host: str, port: int, lmtp: bool) -> None:
    """Receive mail over SMTP or LMTP and ingest each message; stops cleanly on SIGINT/SIGTERM."""
    import signal
    import threading

    from ticketflow.mail import MailServer

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with MailServer(desk, host=host, port=port, lmtp=lmtp):
        click.echo(f"{'LMTP' if lmtp else 'SMTP'} on {host}:{port} into {desk.workflow.repository!r}; Ctrl-C to stop")
        stop.wait()
    click.echo("stopped")


@mail.command("imap")
@_with_desk
@click.option("--host", required=True, help="the IMAP server")
@click.option("--user", required=True, help="the mailbox user")
@click.option(
    "--password-env", default="TICKETFLOW_IMAP_PASSWORD", show_default=True, help="variable with the password"
)
@click.option("--mailbox", "folder", default="INBOX", show_default=True, help="the folder to read")
@click.option("--no-ssl", is_flag=True, help="plain IMAP on port 143 instead of IMAPS on 993")
@_interval("polls")
@click.option("--once", is_flag=True, help="poll once and exit")
def mail_imap(
    desk: Any, host: str, user: str, password_env: str, folder: str, no_ssl: bool, interval: float, once: bool
) -> None:
    """Poll an IMAP mailbox: ingest unread mail, then mark it read (the password comes from the environment)."""
    import os
    import signal

    from ticketflow.mail import ImapPoller

    password = os.environ.get(password_env)
    if password is None:
        raise click.ClickException(f"--password-env: set {password_env} to the mailbox password")
    poller = ImapPoller(desk, host=host, username=user, password=password, mailbox=folder, use_ssl=not no_ssl)
    if once:
        for outcome in poller.poll_once():
            click.echo(_outcome_line(outcome))
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: poller.stop())
    click.echo(f"polling {poller!r} every {interval:g}s; Ctrl-C to stop")
    poller.run(interval)
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
    inbox: Counter[str] = Counter()
    wf = tf.Workflow(
        lc, repository, clock=clock, id_factory=lambda: f"ZD-{next(numbers)}", registry=_demo_registry(lc, inbox)
    )
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
    wf.deliver()  # what a Sweeper does after run_due: hand the outbox to the registry's notifiers
    delivered = ", ".join(f"{count} {kind!r}" for kind, count in sorted(inbox.items()))
    click.echo(f"  delivered from the outbox to the demo's notifier: {delivered}")
    repository.close()
    report_at = _simulate_builtins(path)
    click.echo("\nthe zendesk lifecycle as a Mermaid diagram (paste into any Mermaid viewer):\n")
    click.echo(lc.to_mermaid())
    click.echo(f"tickets and their histories are in the SQLite file {path.resolve()}")
    click.echo(f"explore them: ticketflow export --db {path} | head")
    click.echo(
        f"the zendesk SLA lines above, again: ticketflow sla report --db {path} --lifecycle zendesk"
        f" --now {report_at.isoformat()}"
    )


def _demo_registry(lifecycle: tf.Lifecycle, inbox: Counter[str]) -> tf.Registry:
    """A registry whose notifier counts each kind of message *lifecycle* writes (an app sends mail, calls hooks)."""
    from ticketflow.automation import emitted_kinds

    registry = tf.Registry()
    for kind in emitted_kinds(lifecycle, tf.policy_for(lifecycle, lifecycle.calendar)):
        registry.add_notifier(kind, lambda message: inbox.update([message.kind]))
    return registry


def _numbered(prefix: str) -> Callable[[], str]:
    numbers = iter(range(1, 10_000_000))
    return lambda: f"{prefix}-{next(numbers):05d}"


def _simulate_builtins(path: Path, days: int = 21) -> datetime:
    """Three weeks of traffic through each built-in, in the same file; returns the instant of the SLA lines."""
    from ticketflow._simulation import simulate_store

    start = datetime(2026, 3, 2, 0, 0, tzinfo=ZoneInfo("America/New_York"))
    click.echo(f"\nSimulating {days} days of traffic through each of the five built-ins (same SQLite file):")
    summaries = []
    with click.progressbar(length=days * 24 * len(tf.builtins()), label="simulated hours", width=30) as bar:
        repository, clock = tf.SQLiteRepository(path), tf.SteppableClock(start)  # one store, clock and Sweeper
        inbox: Counter[str] = Counter()
        workflows = [
            tf.Workflow(
                lifecycle,
                repository,
                clock=clock,
                id_factory=_numbered(lifecycle.id.upper()[:3]),  # ids in order: every run gives the same numbers
                registry=_demo_registry(lifecycle, inbox),
            )
            for lifecycle in map(tf.builtin, tf.builtins())
        ]
        try:
            summaries.extend(simulate_store(workflows, start, days, tick=lambda: bar.update(1)))
        finally:
            repository.close()
    for summary in summaries:
        states = ", ".join(f"{state} {count}" for state, count in summary.by_state.items() if count)
        click.echo(f"\n{summary.lifecycle_id}: {summary.tickets} tickets — {states}")
        click.echo(f"  {summary.steps} steps by agents and customers, {summary.refused} refused (and left unchanged)")
        if summary.automations:
            ranked = sorted(summary.automations.items(), key=lambda item: (-item[1], item[0]))
            fired = ", ".join(f"{rule} {count}" for rule, count in ranked)
            click.echo(f"  automations fired: {fired}")
        if summary.sla is not None:
            for metric in summary.sla.metrics:
                click.echo(f"  SLA {metric.line()}")
    delivered = ", ".join(f"{count} {kind!r}" for kind, count in sorted(inbox.items()))
    click.echo(f"\nnotifications delivered by the sweeper to the demo's notifier: {delivered}")
    return start + timedelta(days=days)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (for tests and ``python -m``)."""
    try:
        status = cli.main(args=list(argv) if argv is not None else None, prog_name="ticketflow", standalone_mode=False)
    except SystemExit as exc:  # a command that exits with its own status (validate)
        return exc.code if isinstance(exc.code, int) else 1
    return status if isinstance(status, int) else 0
