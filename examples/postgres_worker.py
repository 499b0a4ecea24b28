"""Several sweepers sharing one PostgreSQL database (``pip install 'ticketflow[postgres]'``).

Run ``python examples/postgres_worker.py postgresql+psycopg://user@host/db`` on
as many machines as you like: each claims due tickets with leases, and every
timed rule still fires once. The test suite runs it against the local server
when TICKETFLOW_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import ticketflow as tf
from ticketflow.repository.postgres import SQLAlchemyRepository


def make_worker(url: str, schema: str | None = None) -> tf.Sweeper:
    """A sweeper for the Zendesk-style lifecycle on PostgreSQL."""
    registry = tf.Registry()
    registry.add_notifier("requester_reminder", lambda message: print(f"reminder for {message.ticket_id}"))
    repository = SQLAlchemyRepository(url, schema=schema, lease=timedelta(minutes=2))
    workflow = tf.Workflow(tf.builtin("zendesk"), repository, registry=registry)
    return tf.Sweeper(workflow, interval=timedelta(seconds=30))


if __name__ == "__main__":
    worker = make_worker(sys.argv[1])
    worker.install_signal_handlers()  # Ctrl-C or SIGTERM: finish the sweep, then stop
    worker.run_forever()
