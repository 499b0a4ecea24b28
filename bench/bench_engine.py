"""Engine cost: ticketflow's fire vs a bare `transitions` trigger and python-statemachine.

Run: .venv/bin/python bench/bench_engine.py  (or `make bench`)

Prints, in one run on this machine:
- µs per fire: `Workflow.fire` (building the new ticket and its Event and saving
  both in the memory repository, with the version check; by staff, and by the
  requester, whose fire also checks the relation and access) next to a bare trigger
  on one shared `transitions.Machine` and a python-statemachine `send`;
- memory per stored ticket (ticket + its opening event) next to a model
  registered on a shared `transitions` machine and a python-statemachine instance;
- compile time for a 20-state lifecycle.

With `--instructions`, it prints instead CPU instructions per call counted by
`valgrind --tool=callgrind` (2n calls minus n calls, so set-up cancels out):
repeatable whatever else the machine is doing, unlike seconds on a shared one.
No assertion: the table is the result.
"""

from __future__ import annotations

import argparse
import gc
import re
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import _options as options  # bench/_options.py: --help and --quick for every script
from statemachine import State, StateMachine
from transitions import Machine

import ticketflow as tf

PING_PONG: dict[str, Any] = {
    "id": "pingpong",
    "initial": "a",
    "states": {"a": {}, "b": {}},
    "transitions": [
        {"trigger": "go", "source": "a", "dest": "b"},
        {"trigger": "back", "source": "b", "dest": "a"},
    ],
}
AGENT = tf.Actor("agent-1", roles={"agent"})
CUSTOMER = tf.Actor("customer-1", roles={"requester"})
AT = datetime(2026, 1, 5, 9, tzinfo=UTC)


def per_call_us(run: Callable[[int], None], n: int, repeats: int = 7) -> float:
    """Best-of-median µs per call of `run(n)` doing n calls."""
    samples = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        run(n)
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def ticketflow_fire(n: int) -> None:
    wf = tf.Workflow(tf.load_lifecycle(PING_PONG))
    ticket = wf.open(AGENT, title="bench", at=AT)
    fire, tid = wf.fire, ticket.id
    for _ in range(n // 2):
        fire(tid, "go", AGENT, at=AT)
        fire(tid, "back", AGENT, at=AT)


def ticketflow_fire_with_data(n: int) -> None:
    document = {**PING_PONG, "fields": {"note": {"type": "string"}}}
    wf = tf.Workflow(tf.load_lifecycle(document))
    ticket = wf.open(AGENT, title="bench", at=AT)
    fire, tid = wf.fire, ticket.id
    for i in range(n // 2):
        fire(tid, "go", AGENT, at=AT, fields={"note": str(i)}, comment="on it")
        fire(tid, "back", AGENT, at=AT, add_tags=("seen",))


def ticketflow_fire_by_customer(n: int) -> None:
    # the requester firing on their own ticket: the relation and per-part access checks run on each fire
    document = {**PING_PONG, "transitions": [dict(t, roles=["agent", "requester"]) for t in PING_PONG["transitions"]]}
    wf = tf.Workflow(tf.load_lifecycle(document))
    ticket = wf.open(AGENT, title="bench", at=AT, requester=CUSTOMER.id)
    fire, tid = wf.fire, ticket.id
    for _ in range(n // 2):
        fire(tid, "go", CUSTOMER, at=AT)
        fire(tid, "back", CUSTOMER, at=AT)


class Carrier:
    state: str


def transitions_trigger(n: int) -> None:
    machine = Machine(model=None, states=["a", "b"], initial="a", auto_transitions=False)
    machine.add_transition("go", "a", "b")
    machine.add_transition("back", "b", "a")
    carrier = Carrier()
    machine.add_model(carrier)
    go, back = carrier.go, carrier.back  # type: ignore[attr-defined]
    for _ in range(n // 2):
        go()
        back()


class PingPong(StateMachine):  # type: ignore[misc]
    a = State(initial=True)
    b = State()
    go = a.to(b)
    back = b.to(a)


def statemachine_send(n: int) -> None:
    sm = PingPong()
    send = sm.send
    for _ in range(n // 2):
        send("go")
        send("back")


def bytes_per(make: Callable[[int], Any], n: int = 20_000) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = make(n)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / n


def tf_tickets(n: int) -> Any:
    ids = iter(range(n))
    wf = tf.Workflow(tf.load_lifecycle(PING_PONG), id_factory=lambda: f"T{next(ids):07d}")
    for _ in range(n):
        wf.open(AGENT, title="bench", at=AT)
    return wf


def transitions_models(n: int) -> Any:
    machine = Machine(model=None, states=["a", "b"], initial="a", auto_transitions=False)
    machine.add_transition("go", "a", "b")
    machine.add_transition("back", "b", "a")
    models = [Carrier() for _ in range(n)]
    for model in models:
        machine.add_model(model)
    return machine, models


def statemachine_instances(n: int) -> Any:
    return [PingPong() for _ in range(n)]


def twenty_states() -> dict[str, Any]:
    states = {f"s{i}": {"group": "open" if i < 10 else "closed"} for i in range(20)}
    states["s19"]["terminal"] = True
    transitions = [{"trigger": f"next{i}", "source": f"s{i}", "dest": f"s{i + 1}"} for i in range(19)]
    transitions += [{"trigger": "cancel", "source": "*", "dest": "s19", "roles": ["agent", "requester"]}]
    transitions += [{"trigger": f"back{i}", "source": f"s{i + 1}", "dest": f"s{i}"} for i in range(18)]
    return {"id": "twenty", "initial": "s0", "states": states, "transitions": transitions}


RUNNERS: dict[str, Callable[[int], None]] = {
    "fire": ticketflow_fire,
    "fire_with_data": ticketflow_fire_with_data,
    "fire_by_customer": ticketflow_fire_by_customer,
    "trigger": transitions_trigger,
    "send": statemachine_send,
}


def instructions(name: str, n: int) -> int:
    """Instructions valgrind counts for *n* calls of RUNNERS[name], in a fresh interpreter."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
    done = subprocess.run([*command, "--run", name, str(n)], capture_output=True, text=True, check=True)  # noqa: S603
    found = re.search(r"refs:\s*([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{done.stderr}")
    return int(found.group(1).replace(",", ""))


def print_instructions(n: int) -> None:
    """The fire table in instructions per call (valgrind), load-independent."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt install valgrind)")
    per_call = {name: (instructions(name, 2 * n) - instructions(name, n)) / n for name in RUNNERS}
    ours = per_call["fire"]
    print(f"fire cost, CPU instructions per call (valgrind callgrind; {2 * n:,} calls minus {n:,})")
    print(f"{'':<46}{'instr':>10}{'ticketflow / it':>18}")
    print(f"{'ticketflow Workflow.fire (+Event, memory repo)':<46}{ours:>10,.0f}{1.0:>18.2f}")
    print(f"{'  same, with a field change, comment or tag':<46}{per_call['fire_with_data']:>10,.0f}{'':>18}")
    print(f"{'  same, fired by a customer (access checks)':<46}{per_call['fire_by_customer']:>10,.0f}{'':>18}")
    trigger = per_call["trigger"]
    print(f"{'transitions trigger, shared Machine':<46}{trigger:>10,.0f}{ours / trigger:>18.2f}")
    print(f"{'python-statemachine send':<46}{per_call['send']:>10,.0f}{ours / per_call['send']:>18.2f}")


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--calls", type=int, default=20_000, help="calls per timed run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs; the median is shown (default: %(default)s)")
    parser.add_argument(
        "--objects",
        type=int,
        default=20_000,
        help="tickets/models/instances for the memory rows (default: %(default)s)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count CPU instructions per fire with valgrind instead of timing (repeatable on a busy machine)",
    )
    parser.add_argument("--run", nargs=2, metavar=("NAME", "N"), help=argparse.SUPPRESS)  # one valgrind child
    options.add_quick(parser)
    args = parser.parse_args()
    if args.run:
        RUNNERS[args.run[0]](int(args.run[1]))
        return
    if args.quick:
        args.calls, args.repeats, args.objects = 300, 1, 300
    if args.instructions:
        print_instructions(max(args.calls // 2, 100))
        return
    n, repeats, objects = args.calls, args.repeats, args.objects
    ours = per_call_us(ticketflow_fire, n, repeats)
    with_data = per_call_us(ticketflow_fire_with_data, n, repeats)
    by_customer = per_call_us(ticketflow_fire_by_customer, n, repeats)
    bare = per_call_us(transitions_trigger, n, repeats)
    psm = per_call_us(statemachine_send, n, repeats)
    print(f"fire cost, µs per call (median of {repeats} runs of {n:,} calls)")
    print(f"{'':<46}{'µs':>8}{'ticketflow / it':>18}")
    print(f"{'ticketflow Workflow.fire (+Event, memory repo)':<46}{ours:>8.2f}{1.0:>18.2f}")
    print(f"{'  same, with a field change, comment or tag':<46}{with_data:>8.2f}{'':>18}")
    print(f"{'  same, fired by a customer (access checks)':<46}{by_customer:>8.2f}{'':>18}")
    print(f"{'transitions trigger, shared Machine':<46}{bare:>8.2f}{ours / bare:>18.2f}")
    print(f"{'python-statemachine send':<46}{psm:>8.2f}{ours / psm:>18.2f}")
    print()
    print(f"memory per ticket, bytes (tracemalloc, {objects:,} of each)")
    print(f"{'ticketflow ticket + opening event in MemoryRepository':<56}{bytes_per(tf_tickets, objects):>10,.0f}")
    print(
        f"{'transitions model on one shared Machine (add_model)':<56}{bytes_per(transitions_models, objects):>10,.0f}"
    )
    print(f"{'python-statemachine instance':<56}{bytes_per(statemachine_instances, objects):>10,.0f}")
    print()
    document = twenty_states()
    compile_ms = (
        per_call_us(lambda k: [tf.load_lifecycle(document) for _ in range(k)], 20, repeats=max(1, repeats - 2)) / 1000
    )
    print(f"compile a 20-state, {len(document['transitions'])}-transition lifecycle: {compile_ms:.2f} ms")


if __name__ == "__main__":
    main()
