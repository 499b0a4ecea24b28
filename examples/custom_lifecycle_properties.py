"""Prove a team's own lifecycle correct with ticketflow's property suite (``pip install 'ticketflow[testing]'``).

In your test suite this is two lines — a class with ``lifecycle = ...`` that
inherits ``ticketflow.testing.LifecycleContract``. Run as a script, it checks
the example lifecycle and prints what it covered; the test suite runs it too.
"""

from __future__ import annotations

from pathlib import Path

import ticketflow as tf
from ticketflow.testing import LifecycleContract, PathCoverage, check_lifecycle

HERE = Path(__file__).resolve().parent
LIFECYCLE = tf.load_lifecycle(HERE / "custom_lifecycle.toml")


class TestHelpdeskLifecycle(LifecycleContract):
    """What you put in your tests: pytest collects and runs three property tests."""

    lifecycle = LIFECYCLE


def main(max_examples: int = 100) -> PathCoverage:
    """Path coverage plus *max_examples* random step sequences; raises AssertionError on a broken rule."""
    coverage = check_lifecycle(LIFECYCLE, max_examples=max_examples)
    print(f"{LIFECYCLE.id}: every one of {len(coverage.states)} states reached by its shortest path")
    print(f"{LIFECYCLE.id}: every one of {len(coverage.transitions)} transitions (per source) taken")
    print(f"{LIFECYCLE.id}: {max_examples} random step sequences kept every engine rule")
    return coverage


if __name__ == "__main__":
    main()
