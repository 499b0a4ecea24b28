"""`make mutate`: mutation testing of ticketflow's core with mutmut, one module at a time.

Runs ``mutmut run`` (niced: the machine is shared) for each module asked for
(default: all of them), then prints a score per module and every surviving
mutant that ``tests/mutation-equivalents.txt`` does not record as equivalent.
A survivor is either killed by a new test or recorded there with a one-line
reason. Scores count caught (killed or timed out) among the mutants checked,
leaving out recorded equivalents; a mutant no test reaches counts as survived.

    python scripts/mutate.py                 # every module (hours on 2 cores)
    python scripts/mutate.py calendar sla    # some
    python scripts/mutate.py --report        # only print what earlier runs found
    python scripts/mutate.py --sample 50 engine   # a fixed random sample: an estimate in minutes

Exit status 1 when engine, sla or calendar (fully checked) scores below 95%.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
EQUIVALENTS = ROOT / "tests" / "mutation-equivalents.txt"
#: module name -> the mutant names it covers (mutmut's names are dotted module paths).
MODULES = {
    "engine": ("ticketflow.lifecycle._engine.*",),
    "sla": ("ticketflow.sla.*",),
    "calendar": ("ticketflow.calendar.*",),
    "repository": ("ticketflow.repository.*",),
    "automation": ("ticketflow.automation.*",),
    "access": ("ticketflow._view.*", "ticketflow.lifecycle._access.*"),
}
TARGET = {"engine": 95.0, "sla": 95.0, "calendar": 95.0}
CAUGHT = {"killed", "timeout"}
UNCAUGHT = {"survived", "no tests", "suspicious"}


def equivalents() -> dict[str, str]:
    """Recorded equivalent mutants: ``name  # reason`` per line; a line without a reason is an error."""
    recorded = {}
    for number, line in enumerate(EQUIVALENTS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, _, reason = line.partition("#")
        if not reason.strip():
            raise SystemExit(f"{EQUIVALENTS.name}:{number}: {name.strip()} needs a reason after '#'")
        recorded[name.strip()] = reason.strip()
    return recorded


def results() -> dict[str, str]:
    """Every mutant mutmut knows about and its status."""
    out = subprocess.run(
        [MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    statuses = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            statuses[name] = status
    return statuses


def sample(statuses: dict[str, str], module: str, size: int) -> list[str]:
    """A fixed random sample of *size* of the module's mutants (the same every run, for an unbiased estimate)."""
    names = sorted(n for n in statuses if any(fnmatch.fnmatch(n, p) for p in MODULES[module]))
    return sorted(random.Random(f"{module}:{size}").sample(names, min(size, len(names))))


def main() -> int:
    """Run the modules asked for, then report; 1 when a targeted module scores below its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--report", action="store_true", help="only report what earlier runs found")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", "1")))
    parser.add_argument("--sample", type=int, default=0, help="check (and score) only N mutants per module")
    args = parser.parse_args()
    chosen = args.modules or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    statuses = results() if args.sample else {}
    picked = {module: sample(statuses, module, args.sample) for module in chosen} if args.sample else {}
    if not args.report:
        for module in chosen:
            names = picked.get(module) or MODULES[module]
            print(f"== mutmut run {module}: {len(names) if args.sample else ' '.join(names)}", flush=True)
            subprocess.run(["nice", "-n", "19", MUTMUT, "run", "--max-children", str(args.jobs), *names], cwd=ROOT)
    recorded = equivalents()
    statuses = results()
    failing = False
    print(f"\n{'module':<11} {'mutants':>7} {'caught':>7} {'survived':>8} {'equiv.':>6} {'unchecked':>9} {'score':>7}")
    survivors = []
    for module in chosen:
        mine = {n: s for n, s in statuses.items() if any(fnmatch.fnmatch(n, p) for p in MODULES[module])}
        if args.sample:
            mine = {n: s for n, s in mine.items() if n in picked[module]}
        counts = Counter("equivalent" if n in recorded else s for n, s in mine.items())
        caught = sum(counts[s] for s in CAUGHT)
        uncaught = sum(counts[s] for s in UNCAUGHT)
        unchecked = counts["not checked"] + counts["skipped"]
        score = 100.0 * caught / (caught + uncaught) if caught + uncaught else float("nan")
        print(
            f"{module:<11} {len(mine):>7} {caught:>7} {uncaught:>8} {counts['equivalent']:>6} {unchecked:>9} "
            f"{score:>6.1f}%"
        )
        survivors += [f"  {n}: {s}" for n, s in sorted(mine.items()) if s in UNCAUGHT and n not in recorded]
        if module in TARGET and not unchecked and not args.sample and score < TARGET[module]:
            failing = True
    if survivors:
        print("\nSurvivors (kill with a test, or record in tests/mutation-equivalents.txt with a reason;")
        print("`mutmut show NAME` prints the change):")
        print("\n".join(survivors))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
