"""Several sweepers sharing one PostgreSQL database (``pip install 'ticketflow[postgres]'``).

Run ``python examples/postgres_worker.py postgresql+psycopg://user@host/db`` on
as many machines as you like: each claims due tickets with leases, and every
timed rule still fires once. The test suite runs it against the local server
when TICKETFLOW_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

import ticketflow as tf
from ticketflow.repository.postgres import PostgresRepository


def make_worker(url: str, schema: str | None = None) -> tf.Sweeper:
    """A sweeper for the Zendesk-style lifecycle on PostgreSQL."""
    registry = tf.Registry()
    registry.add_notifier("requester_reminder", lambda message: print(f"reminder for {message.ticket_id}"))
    repository = PostgresRepository(url, schema=schema, lease=timedelta(minutes=2))
    workflow = tf.Workflow(tf.builtin("zendesk"), repository, registry=registry)
    return tf.Sweeper(workflow, interval=timedelta(seconds=30))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, then sweep until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the database, such as postgresql+psycopg://user@host/db")
    parser.add_argument("--schema", default=None, help="PostgreSQL schema for ticketflow's tables (default: public)")
    args = parser.parse_args(argv)
    worker = make_worker(args.url, args.schema)
    worker.install_signal_handlers()  # Ctrl-C or SIGTERM: finish the sweep, then stop
    print(f"sweeping every {worker.interval.total_seconds():g}s; reminders are printed; Ctrl-C or SIGTERM stops")
    worker.run_forever()
    print("stopped")


if __name__ == "__main__":
    main()
