"""The docs-as-tests mechanism (top-level conftest.py): pages run in order, files load, skips say why."""

import importlib.util
import re
import unittest
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT

_spec = importlib.util.spec_from_file_location("docs_conftest", ROOT / "conftest.py")
assert _spec is not None
assert _spec.loader is not None
DOCS: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(DOCS)


def run_page(tmp_path: Path, text: str) -> dict[str, Any]:
    """Run a markdown page the way pytest runs the docs; returns its namespace."""
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    document = DOCS.SYBIL.parse(page)
    DOCS._enter_page(document.namespace)
    try:
        for example in document.examples():
            example.evaluate()
    finally:
        DOCS._leave_page(document.namespace)
    return document.namespace


def test_blocks_on_a_page_share_state_in_order_and_titled_files_are_written(tmp_path: Path):
    namespace = run_page(
        tmp_path,
        '```toml title="tiny.toml"\nid = "tiny"\ninitial = "a"\n[states.a]\n[states.b]\nterminal = true\n'
        '[[transitions]]\ntrigger = "go"\nsource = "a"\ndest = "b"\n```\n\n'
        "```python\nimport ticketflow as tf\nlc = tf.load_lifecycle('tiny.toml')\n```\n\n"
        "```python\nfound = lc.id\n```\n",
    )
    assert namespace["found"] == "tiny"


def test_a_broken_block_fails(tmp_path: Path):
    with pytest.raises(NameError, match="undefined_name"):
        run_page(tmp_path, "```python\nundefined_name.fire()\n```\n")


def test_a_skip_must_give_its_reason(tmp_path: Path):
    with pytest.raises(ValueError, match="needs a reason"):
        run_page(tmp_path, "<!-- skip: next -->\n\n```python\nraise SystemExit\n```\n")


def test_a_skip_with_a_reason_is_reported_with_it(tmp_path: Path):
    with pytest.raises(unittest.SkipTest, match="needs a server"):
        run_page(tmp_path, '<!-- skip: next "needs a server" -->\n\n```python\nraise SystemExit\n```\n')


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))], ids=lambda p: p.name)
def test_every_python_block_of_every_page_is_collected(page: Path):
    # a block the mechanism does not see (```py, a typo in the fence) would never run
    fences = re.findall(r"^[ \t]*```+[ \t]*(py|python|python3)\b", page.read_text(encoding="utf-8"), re.MULTILINE)
    document = DOCS.SYBIL.parse(page)
    python = [e for e in document.examples() if type(e.region.evaluator).__name__ != "Skipper"]
    python = [e for e in python if getattr(e.region.evaluator, "__name__", "") != "write"]
    assert all(f == "python" for f in fences), f"{page.name}: write ```python, not ```py"
    assert len(python) >= len(fences)
