"""`make mutate`: mutation testing of ticketflow's core with mutmut, one module at a time.

Each module runs in its own work directory (``.mutate/<module>/``, links to
``src/`` and ``tests/`` plus a ``pyproject.toml`` whose ``[tool.mutmut]`` names
that module's files and the test files that exercise it), so one module's run
mutates only its own code, runs only its own fast tests, and keeps its own
results. mutmut runs with one worker (``--jobs`` for more) under ``nice -n 10``
(``MUTATE_NICE`` to change it): the machine is shared. Afterwards the script
prints a score per module and every surviving mutant that
``tests/mutation-equivalents.txt`` does not record as equivalent.
A survivor is either killed by a new test or recorded there with a one-line
reason. The score is caught (killed or timed out) / (checked - recorded
equivalents); a mutant no test reaches counts as survived.

    python scripts/mutate.py                      # every module (hours on 2 cores)
    python scripts/mutate.py calendar sla         # some (a stopped run resumes where it was)
    python scripts/mutate.py --fresh calendar     # forget earlier results and check every mutant again
    python scripts/mutate.py --survivors sla      # re-check only the last run's survivors (after adding tests)
    python scripts/mutate.py --report             # only print what earlier runs found
    python scripts/mutate.py --sample 50 engine   # a fixed random sample: an estimate in minutes

Exit status 1 when engine, sla or calendar (fully checked) scores below 95%.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutate"
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
EQUIVALENTS = ROOT / "tests" / "mutation-equivalents.txt"


class Module(NamedTuple):
    """What one module mutates (globs under the root) and the test files that decide its mutants."""

    sources: tuple[str, ...]
    tests: tuple[str, ...]


#: module name -> its source files and its tests (the fast in-process ones that exercise it).
MODULES = {
    "engine": Module(
        ("src/ticketflow/lifecycle/_engine.py",),
        ("tests/test_workflow.py", "tests/test_lifecycle.py", "tests/test_model.py", "tests/test_testing.py"),
    ),
    "sla": Module(("src/ticketflow/sla/*",), ("tests/test_sla.py", "tests/test_versions.py")),
    "calendar": Module(("src/ticketflow/calendar/*",), ("tests/test_calendar.py",)),
    "repository": Module(("src/ticketflow/repository/*",), ("tests/test_repository.py", "tests/test_recent.py")),
    "automation": Module(("src/ticketflow/automation/*",), ("tests/test_automation.py",)),
    "access": Module(
        ("src/ticketflow/_view.py", "src/ticketflow/lifecycle/_access.py"),
        ("tests/test_view.py", "tests/test_access.py"),
    ),
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


def workdir(module: str) -> Path:
    """The module's work directory, (re)written: links to the tree and its own ``[tool.mutmut]``."""
    here = WORK / module
    here.mkdir(parents=True, exist_ok=True)
    shared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    for name in ["src", "tests", *shared.get("also_copy", [])]:
        link = here / name.rstrip("/")
        if not link.is_symlink():
            link.symlink_to(ROOT / name.rstrip("/"))
    selection = list(shared.get("pytest_add_cli_args_test_selection", []))
    options = selection[selection.index("-k") :] if "-k" in selection else []
    section = "\n".join(
        [
            "[tool.mutmut]",
            f"# written by scripts/mutate.py for the {module} module",
            f"source_paths = {json.dumps(shared.get('source_paths', ['src']))}",
            f"only_mutate = {json.dumps(list(MODULES[module].sources))}",
            f"also_copy = {json.dumps(shared.get('also_copy', []))}",
            f"pytest_add_cli_args_test_selection = {json.dumps([*MODULES[module].tests, *options])}",
            f"pytest_add_cli_args = {json.dumps(shared.get('pytest_add_cli_args', []))}",
            "",
        ]
    )
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", lambda _: section + "\n", text)
    target = here / "pyproject.toml"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return here


def results(module: str) -> dict[str, str]:
    """Every mutant of *module* its last run knows about, and its status (empty before a first run)."""
    here = WORK / module
    if not (here / "mutants").is_dir():
        return {}
    out = subprocess.run(
        [MUTMUT, "results", "--all", "true"], cwd=here, capture_output=True, text=True, check=True
    ).stdout
    statuses = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            statuses[name] = status
    return statuses


def sample(statuses: dict[str, str], module: str, size: int) -> list[str]:
    """A fixed random sample of *size* of the module's mutants (the same every run, for an unbiased estimate)."""
    names = sorted(statuses)
    return sorted(random.Random(f"{module}:{size}").sample(names, min(size, len(names))))


def refresh(here: Path) -> None:
    """Copy changed non-Python files of ``src/`` (built-in lifecycles, data) into mutmut's copy.

    mutmut copies the source tree once and afterwards refreshes only the Python
    files, so a built-in TOML changed since (a rebase) would be stale there.
    """
    copy = here / "mutants" / "src"
    if not copy.is_dir():
        return
    for path in (ROOT / "src").rglob("*"):
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts:
            target = copy / path.relative_to(ROOT / "src")
            if not target.exists() or target.read_bytes() != path.read_bytes():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


def run(module: str, names: list[str], jobs: int) -> None:
    """``mutmut run`` in the module's work directory, niced; *names* empty: the ones not checked yet."""
    here = workdir(module)
    refresh(here)
    # Without names mutmut checks the mutants it has no result for (a stopped run resumes; a changed
    # function's mutants are checked again); named mutants are checked again whatever their result.
    print(f"== mutmut run {module}: {len(names) if names else 'the unchecked'} mutant(s)", flush=True)
    niceness = os.environ.get("MUTATE_NICE", "10")
    subprocess.run(["nice", "-n", niceness, MUTMUT, "run", "--max-children", str(jobs), *names], cwd=here, check=False)


def main() -> int:
    """Run the modules asked for, then report; 1 when a targeted module scores below its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--report", action="store_true", help="only report what earlier runs found")
    parser.add_argument("--survivors", action="store_true", help="re-check only the survivors of the last run")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results: check every mutant again")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", "1")))
    parser.add_argument("--sample", type=int, default=0, help="check (and score) only N mutants per module")
    args = parser.parse_args()
    chosen = args.modules or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    recorded = equivalents()
    picked: dict[str, list[str]] = {}
    for module in chosen:
        if args.sample:
            known = results(module)
            if not known:  # a first run generates the mutants (and checks them all); sample from then on
                print(f"== {module}: no mutants generated yet, generating them")
                run(module, ["ticketflow.does_not_exist*"], args.jobs)
                known = results(module)
            picked[module] = sample(known, module, args.sample)
        if args.report:
            continue
        if args.fresh and (WORK / module / "mutants").is_dir():
            shutil.rmtree(WORK / module / "mutants")
        if args.survivors:
            again = [n for n, s in results(module).items() if s in UNCAUGHT and n not in recorded]
            if not again:
                print(f"== {module}: no survivors to re-check")
                continue
            run(module, again, args.jobs)
        else:
            run(module, picked.get(module, []), args.jobs)
    failing = False
    print(f"\n{'module':<11} {'mutants':>7} {'caught':>7} {'survived':>8} {'equiv.':>6} {'unchecked':>9} {'score':>7}")
    survivors = []
    for module in chosen:
        mine = results(module)
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
        if module in TARGET and mine and not unchecked and not args.sample and score < TARGET[module]:
            failing = True
    if survivors:
        print(f"\nSurvivors (kill with a test, or record in {EQUIVALENTS.relative_to(ROOT)} with a reason;")
        print("`cd .mutate/MODULE && mutmut show NAME` prints the change):")
        print("\n".join(survivors))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
