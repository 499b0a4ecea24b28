"""One SQLite sweeper, this checkout against an earlier revision of ticketflow, measured in the same run.

Run: .venv/bin/python bench/bench_sweeper.py [--against c5c9f07] [--tickets 4000] [--rounds 5] [--instructions]
[--automation 1000000,10000] [--settled 1000000,10000]

Each side runs in an interpreter of its own: the earlier revision from
``git archive REV src bench`` (default c5c9f07, the code before the flat-cost work
of #22: what "today's rules/s" meant when it was filed), this checkout from
its ``src/``. Each side opens N zendesk tickets through the public API on a
fresh SQLite file (opened by a customer, asked a question by an agent), steps
its clock 24 hours and a minute, then times ``Workflow.run_due(limit=500)``
until nothing is due: every ticket's reminder fires (one event and one outbox
message per rule, committed). Rounds alternate the two sides so both see the
same load; the table gives each side's median rules/s (wall clock and per CPU
second of the sweeping process, and the kernel's share of that CPU: system
µs per rule) and the ratio. With ``--instructions``, it
also counts CPU instructions per rule with valgrind (a run that sweeps minus
one that only sets up), which the machine's load does not move. With
``--automation N,D``, it also runs each side's own ``bench/bench_automation.py``
(N bulk-loaded pending tickets, D of them due, each store as that side's
writes leave it) in alternating rounds and prints both rules/s. With
``--settled N,D``, each side fills the same way (its own
``bench_automation.fill``), syncs the disk, then runs the same timed sweep
loop: rules/s and per CPU second, without the kernel writing back the bulk
load during the sweep (which the whole-script rows include). No assertion:
the table is the result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import _options as options  # bench/_options.py: --help and --quick for every script

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "c5c9f07"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def worker(count: int, sweep: bool) -> None:
    """In a side's interpreter: open *count* due tickets on a fresh file, then (if *sweep*) sweep them; print JSON."""
    import ticketflow as tf

    customer = tf.Actor("customer", roles={"requester"})
    agent = tf.Actor("agent", roles={"agent"})
    with tempfile.TemporaryDirectory() as folder:
        clock = tf.SteppableClock(T0)
        repository = tf.SQLiteRepository(f"{folder}/sweep.db")
        wf = tf.Workflow(tf.builtin("zendesk"), repository, clock=clock)

        def due_tickets(how_many: int) -> None:
            for _ in range(how_many):
                ticket = wf.open(customer, title="printer", fields={"category": "question"})
                wf.fire(ticket.id, "ask", agent, comment="Which model is it?")
            clock.advance(timedelta(hours=24, minutes=1))

        due_tickets(1)  # a first sweep of one ticket in both phases: what it loads is not counted per rule
        wf.run_due()
        due_tickets(count)
        measured = timed_sweep(wf) if sweep else {"fired": 0, "wall": 0.0, "cpu": 0.0, "sys": 0.0}
        repository.close()
    print(json.dumps(measured))


def timed_sweep(wf: Any) -> dict[str, float]:
    """``wf.run_due(limit=500)`` until nothing is due: rules fired, wall and CPU seconds, kernel CPU seconds."""
    fired = 0
    began, began_cpu, began_sys = time.perf_counter(), time.process_time(), os.times().system
    while True:
        result = wf.run_due(limit=500)
        fired += len(result.fired)
        if not result.tickets:
            break
    wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    return {"fired": fired, "wall": wall, "cpu": cpu, "sys": os.times().system - began_sys}


def baseline_src(revision: str, folder: str) -> str | None:
    """``src/`` (and ``bench/``) of *revision* unpacked under *folder*, or None (the reason printed) if git cannot."""
    try:
        archive = subprocess.run(  # noqa: S603
            ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "src", "bench"],  # noqa: S607
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as failed:
        print(f"(no baseline: git archive {revision} failed: {failed})")
        return None
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return f"{folder}/src"


def run_side(src: str, count: int, sweep: bool, valgrind: bool = False) -> tuple[dict[str, float], int | None]:
    """Run :func:`worker` with *src* first on the path: its JSON, and the instructions valgrind counted (if asked)."""
    command = [sys.executable, __file__, "--worker", str(count), "sweep" if sweep else "setup"]
    if valgrind:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)  # noqa: S603
    counted = None
    if valgrind:
        found = re.search(r"refs:\s*([\d,]+)", done.stderr)
        if found is None:
            raise SystemExit(f"valgrind printed no instruction count:\n{done.stderr}")
        counted = int(found.group(1).replace(",", ""))
    return json.loads(done.stdout.strip().splitlines()[-1]), counted


def automation_rate(src: str, tickets: int, due: int) -> float:
    """Rules/s that *src*'s own ``bench/bench_automation.py`` prints for *tickets* pending, *due* of them due."""
    script = Path(src).parent / "bench" / "bench_automation.py"
    command = [sys.executable, str(script), "--tickets", str(tickets), "--due", str(due)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": src})  # noqa: S603
    found = re.search(r"rules fired and committed per second\s+([\d,]+)", done.stdout)
    if found is None:
        raise SystemExit(f"{script} printed no rules/s:\n{done.stdout}")
    return float(found.group(1).replace(",", ""))


def settled_worker(tickets: int, due: int) -> None:
    """In a side's interpreter: its own ``bench_automation.fill``, the disk settled, then the same timed sweep; JSON.

    The side's own ``bench/bench_automation.py`` (beside the ``src/`` it
    imports ticketflow from) fills the store, as that side's version writes
    it. ``os.sync()`` then writes the bulk load's dirty pages out before the
    clock starts, so neither side's sweep is timed while the kernel writes
    back a gigabyte it did not write.
    """
    import importlib.util

    import ticketflow as tf

    bench = Path(tf.__file__).resolve().parents[2] / "bench"  # the side's own bench/, beside its src/
    sys.path.insert(0, str(bench))  # its bench_automation imports its own _options
    spec = importlib.util.spec_from_file_location("side_bench_automation", bench / "bench_automation.py")
    assert spec is not None
    assert spec.loader is not None
    bench_automation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_automation)

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/sweep.db"
        bench_automation.fill(path, tickets, due)
        os.sync()
        time.sleep(1.0)
        now = T0 + timedelta(hours=24, minutes=1)
        repository = tf.SQLiteRepository(path)
        wf = tf.Workflow(tf.builtin("zendesk"), repository, clock=tf.SteppableClock(now))
        measured = timed_sweep(wf)
        repository.close()
    if measured["fired"] != due:
        raise SystemExit(f"settled sweep fired {measured['fired']} rules, not the {due} due: its rate would mislead")
    print(json.dumps(measured))


def settled_rate(src: str, tickets: int, due: int) -> tuple[float, float]:
    """(rules/s, rules per CPU second) of :func:`settled_worker` on *src* and its ``bench/``."""
    command = [sys.executable, __file__, "--settled-worker", str(tickets), str(due)]
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)  # noqa: S603
    run = json.loads(done.stdout.strip().splitlines()[-1])
    return run["fired"] / run["wall"], run["fired"] / run["cpu"]


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--against", default=BASELINE, help="the earlier git revision (default: %(default)s)")
    parser.add_argument("--tickets", type=int, default=4_000, help="due tickets per sweep (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="sweeps per side, alternating (default: %(default)s)")
    parser.add_argument(
        "--instructions",
        type=int,
        nargs="?",
        const=400,
        default=0,
        metavar="N",
        help="also count instructions per rule with valgrind over N tickets (default N: %(const)s)",
    )
    parser.add_argument(
        "--automation",
        metavar="N,D",
        help="also run each side's bench_automation.py on N pending tickets, D due (e.g. 1000000,10000)",
    )
    parser.add_argument(
        "--settled",
        metavar="N,D",
        help="also time the same sweep loop over each side's own bench_automation fill of N pending tickets, "
        "D due, after os.sync() (the bulk load's writeback out of the timed part; rules/s and per CPU second)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("N", "PHASE"), help=argparse.SUPPRESS)
    parser.add_argument("--settled-worker", nargs=2, type=int, metavar=("N", "D"), help=argparse.SUPPRESS)
    options.add_quick(parser)
    args = parser.parse_args()
    if args.worker:
        worker(int(args.worker[0]), args.worker[1] == "sweep")
        return
    if args.settled_worker:
        settled_worker(*args.settled_worker)
        return
    if args.quick:
        args.tickets, args.rounds = 50, 1
        args.instructions = 0
    with tempfile.TemporaryDirectory() as folder:
        sides = {"this checkout": str(ROOT / "src")}
        old = baseline_src(args.against, folder)
        if old is not None:
            sides[f"at {args.against}"] = old
        rates: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        kernel: dict[str, list[float]] = {side: [] for side in sides}  # µs of system (kernel) CPU per rule
        for _ in range(args.rounds):
            for side, src in sides.items():
                run, _ = run_side(src, args.tickets, sweep=True)
                rates[side].append((run["fired"] / run["wall"], run["fired"] / run["cpu"]))
                kernel[side].append(run["sys"] / run["fired"] * 1e6)
        per_rule: dict[str, float] = {}
        if args.instructions and shutil.which("valgrind") is None:
            print("(--instructions needs valgrind: apt install valgrind)")
        elif args.instructions:
            for side, src in sides.items():
                swept = run_side(src, args.instructions, sweep=True, valgrind=True)[1]
                set_up = run_side(src, args.instructions, sweep=False, valgrind=True)[1]
                per_rule[side] = ((swept or 0) - (set_up or 0)) / args.instructions
        automation: dict[str, list[float]] = {side: [] for side in sides}
        if args.automation:
            tickets, due = (int(n) for n in args.automation.split(","))
            for _ in range(args.rounds):
                for side, src in sides.items():
                    automation[side].append(automation_rate(src, tickets, due))
        settled: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        if args.settled:
            tickets, due = (int(n) for n in args.settled.split(","))
            for _ in range(args.rounds):
                for side, src in sides.items():
                    settled[side].append(settled_rate(src, tickets, due))
    load = os.getloadavg()[0]
    print(f"One SQLite sweeper, {args.tickets:,} due zendesk reminders, {args.rounds} rounds each (load {load:.1f})")
    print(f"{'':<24}{'rules/s':>10}{'rules/CPU s':>13}{'sys µs/rule':>13}{'instr/rule':>12}")
    for side, measured in rates.items():
        wall = statistics.median(rate for rate, _ in measured)
        cpu = statistics.median(rate for _, rate in measured)
        counted = f"{per_rule[side]:>12,.0f}" if side in per_rule else f"{'':>12}"
        print(f"{side:<24}{wall:>10,.0f}{cpu:>13,.0f}{statistics.median(kernel[side]):>13.1f}{counted}")
    earlier = f"at {args.against}"
    if earlier in rates:
        now_rates, old_rates = rates["this checkout"], rates[earlier]
        walls = " ".join(f"{n / o:.2f}" for (n, _), (o, _) in zip(now_rates, old_rates, strict=True))
        cpus = " ".join(f"{n / o:.2f}" for (_, n), (_, o) in zip(now_rates, old_rates, strict=True))
        print(f"{'this / earlier, rules/s':<30}{walls}  (each round)")
        print(f"{'this / earlier, per CPU s':<30}{cpus}")
        if len(per_rule) == 2:
            print(f"{'earlier / this, instructions':<30}{per_rule[earlier] / per_rule['this checkout']:.2f}")
    if args.automation:
        print(f"bench_automation.py, {args.automation} (pending, due), rules/s per round:")
        for side, rates_ in automation.items():
            print(f"{side:<30}" + " ".join(f"{rate:,.0f}" for rate in rates_))
        if earlier in automation:
            pairs = zip(automation["this checkout"], automation[earlier], strict=True)
            print(f"{'this / earlier':<30}" + " ".join(f"{n / o:.2f}" for n, o in pairs))

    if args.settled:
        print(f"each side's bench_automation fill, {args.settled} (pending, due), disk synced, same sweep loop:")
        for side, measured in settled.items():
            print(f"{side:<30}" + " ".join(f"{rate:,.0f}" for rate, _ in measured) + "  rules/s")
            print(f"{'':<30}" + " ".join(f"{rate:,.0f}" for _, rate in measured) + "  rules/CPU s")
        if earlier in settled:
            both = list(zip(settled["this checkout"], settled[earlier], strict=True))
            print(f"{'this / earlier, rules/s':<30}" + " ".join(f"{n[0] / o[0]:.2f}" for n, o in both))
            print(f"{'this / earlier, per CPU s':<30}" + " ".join(f"{n[1] / o[1]:.2f}" for n, o in both))


if __name__ == "__main__":
    main()
