"""Shared test set-up: hypothesis profiles.

``ci`` (the default) has a fixed budget and no deadline so the suite stays
fast and deterministic on 2 cores; ``thorough`` tries 100x as many examples
(``make thorough`` or ``HYPOTHESIS_PROFILE=thorough``).
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import ticketflow as tf

settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def helpdesk() -> tf.Lifecycle:
    """The example team lifecycle from examples/custom_lifecycle.toml."""
    return tf.load_lifecycle(EXAMPLES / "custom_lifecycle.toml")


_RACES: list[str] = []


@pytest.fixture
def race_report(request: pytest.FixtureRequest):
    """Report what a race test observed (conflicts, shares) at the end of the run, instead of asserting it.

    How often workers collide depends on the machine's load; what must hold
    (nothing lost, nothing twice) is asserted, and the counts are shown.
    """

    def report(**counts: object) -> None:
        _RACES.append(f"{request.node.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    return report


#: Outcomes of this run's tests by node id, for tests that check what other tests proved.
OUTCOMES: dict[str, str] = {}
#: Tests that read OUTCOMES: they run after every other test of the session.
RUN_LAST = ("tests/test_seed_docs.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.nodeid.startswith(RUN_LAST))  # stable: everything else keeps its order


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    counts = report.when == "call" or report.outcome != "passed"  # a failed set-up or tear-down counts too
    if counts and OUTCOMES.get(report.nodeid) in (None, "passed"):
        OUTCOMES[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _RACES:
        terminalreporter.section("races (counts vary with the machine's load)")
        for line in _RACES:
            terminalreporter.write_line(line)


@contextmanager
def unchanged(wf: tf.Workflow, *ticket_ids: str) -> Iterator[None]:
    """The block must leave each ticket, its version, history and links exactly as they were."""
    before = [(wf.get(i), wf.history(i), wf.links(i)) for i in ticket_ids]
    yield
    assert [(wf.get(i), wf.history(i), wf.links(i)) for i in ticket_ids] == before
