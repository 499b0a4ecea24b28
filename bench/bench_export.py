"""Streaming export: peak memory of a CSV and a JSON view export of N tickets from SQLite.

Run: .venv/bin/python bench/bench_export.py [--tickets 1000000]  (or `make bench`)

Bulk-loads N tickets into a SQLite file, then exports them in a child process
(CSV, then a JSON view) and reports the child's peak resident memory
(`ru_maxrss`) next to the memory of a child that only imports ticketflow and
opens the file. No assertion: the table is the result.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _options as options  # noqa: E402 - bench/_options.py: --help and --quick for every script
from bench_storage import fill_million  # noqa: E402 - sibling script

CHILD = """
import resource, sys, ticketflow as tf
repo = tf.SQLiteRepository(sys.argv[1])
mode = sys.argv[2]
with open(sys.argv[3], "w") as out:
    if mode == "csv":
        count = tf.export_csv(repo, out)
    elif mode == "json":
        count = tf.repository.export_json_view(repo, out)
    else:
        count = 0
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(db: str, mode: str, out: str) -> tuple[int, float, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, db, mode, out], capture_output=True, text=True, check=True)  # noqa: S603
    count, rss_kb = done.stdout.split()
    return int(count), int(rss_kb) / 1024, time.perf_counter() - started


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000, help="tickets to export (default: %(default)s)")
    options.add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.tickets = 2_000
    with tempfile.TemporaryDirectory() as folder:
        db = f"{folder}/export.db"
        fill_million(db, args.tickets)
        _, base, _ = run(db, "none", f"{folder}/none")
        rows = []
        for mode in ("csv", "json"):
            count, peak, seconds = run(db, mode, f"{folder}/out.{mode}")
            rows.append((mode, count, peak, seconds))
    print(f"Streaming export from SQLite ({args.tickets:,} tickets), peak resident memory of the exporting process")
    print(f"{'baseline: import ticketflow, open the file':<44}{base:>10.0f} MB")
    for mode, count, peak, seconds in rows:
        print(f"{f'{mode} export of {count:,} tickets':<44}{peak:>10.0f} MB{seconds:>10.1f} s")


if __name__ == "__main__":
    main()
