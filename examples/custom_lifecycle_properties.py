"""Prove a team's own lifecycle correct with ticketflow's property suite (``pip install 'ticketflow[testing]'``).

In your test suite this is two lines — a class with ``lifecycle = ...`` that
inherits ``ticketflow.testing.LifecycleContract``. Run as a script, it checks
the example lifecycle and prints what it covered; the test suite runs it too.
"""

from __future__ import annotations

from pathlib import Path

import ticketflow as tf
from ticketflow.testing import KitCoverage, LifecycleContract, check_lifecycle

HERE = Path(__file__).resolve().parent
LIFECYCLE = tf.load_lifecycle(HERE / "custom_lifecycle.toml")


class TestHelpdeskLifecycle(LifecycleContract):
    """What you put in your tests: pytest collects and runs every check of the kit."""

    lifecycle = LIFECYCLE


def main(max_examples: int = 100) -> KitCoverage:
    """Every check of the kit plus *max_examples* random step sequences; AssertionError on a broken rule."""
    coverage = check_lifecycle(LIFECYCLE, max_examples=max_examples)
    print(coverage.report())
    print(f"{LIFECYCLE.id}: {max_examples} random step sequences kept every engine, view and SLA rule")
    assert not coverage.missing(), coverage.missing()
    return coverage


if __name__ == "__main__":
    main()
