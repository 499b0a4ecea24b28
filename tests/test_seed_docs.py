"""The built-ins' pages claim only what is proved: every row of each mapping table names its test.

Each row of the table in ``docs/lifecycles/<id>.md`` ends with a "proved by"
cell: the tests (``tests/<file>.py::<test>``) that drive the claim through
the public API, or "left to the application" and why. This file checks that
every named test exists, and — when this run collected it — that it passed.
It runs after every other test (``tests/conftest.py`` orders it last).
"""

import importlib
import re
from pathlib import Path

import pytest

from .conftest import OUTCOMES, ROOT

PAGES = sorted((ROOT / "docs" / "lifecycles").glob("*.md"))
REF = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)`")
LEFT = re.compile(r"^left to the application: \S+( \S+){3,}", re.IGNORECASE)


def mapping_rows(page: Path) -> list[tuple[int, list[str]]]:
    """The rows of the page's "seed says" table, with their line numbers, as cells."""
    rows: list[tuple[int, list[str]]] = []
    inside = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("| seed says |"):
            inside = True
            continue
        if inside and line.startswith("|---"):
            continue
        if inside and line.startswith("|"):
            rows.append((number, [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]))
        elif inside:
            break
    return rows


def named_test(path: str, name: str) -> object:
    """The test function (or class method) *path*::*name*, or None if there is none."""
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    target: object = module
    for part in name.split("::"):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target if callable(target) and name.split("::")[-1].startswith("test_") else None


def proofs(cell: str) -> list[tuple[str, str]]:
    return REF.findall(cell)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_row_of_the_mapping_table_names_its_proof(page: Path):
    rows = mapping_rows(page)
    assert rows, f"{page.name}: no '| seed says | encoded as | proved by |' table"
    for number, cells in rows:
        where = f"{page.name}:{number}"
        assert len(cells) == 3, f"{where}: a row needs seed says | encoded as | proved by, got {len(cells)} cells"
        proved = cells[2]
        assert proofs(proved) or LEFT.match(proved), (
            f"{where}: the 'proved by' cell names no test (`tests/x.py::test_y`) and does not say "
            f"'left to the application: <why>': {proved!r}"
        )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_named_test_exists_and_passed_in_this_run(page: Path):
    for number, cells in mapping_rows(page):
        for path, name in proofs(cells[-1]):
            where = f"{page.name}:{number}: {path}::{name}"
            assert (ROOT / path).is_file(), f"{where}: no such file"
            assert named_test(path, name) is not None, f"{where}: no such test"
            ran = {
                node: outcome
                for node, outcome in OUTCOMES.items()
                if re.match(rf"{re.escape(f'{path}::{name}')}(\[|$)", node)
            }
            failed = sorted(node for node, outcome in ran.items() if outcome != "passed")
            assert not failed, f"{where}: the proof did not pass in this run: {failed}"


def test_the_check_refuses_a_bogus_name():
    assert named_test(
        "tests/test_seed_sighten.py", "test_closing_when_customer_has_been_unresponsive_to_at_least_2_attempts"
    )
    assert named_test("tests/test_seed_sighten.py", "test_no_such_rule_is_proved_here") is None
    assert named_test("tests/test_builtin.py", "TestSighten::test_no_such_contract") is None
    assert named_test("tests/test_seed_sighten.py", "CUSTOMER") is None  # not a test
    assert not proofs("| the docs say so |")
    assert not LEFT.match("left to the application")  # and why
