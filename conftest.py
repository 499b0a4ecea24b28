"""Every code block in README.md and docs/**/*.md runs as a test (Sybil).

How a page is run (CONTRIBUTING in docs/contributing.md says the same for authors):

- Each page runs in a fresh temporary folder, which is the working directory
  while its blocks run; blocks on one page share one namespace, in order.
- A ``python`` block is executed.
- A ``toml``/``json``/``yaml`` block with a title (```` ```toml title="support.toml" ````)
  is written to that file in the page's folder first, so the blocks after it can
  load it; mkdocs shows the title above the block.
- ``<!-- skip: next "reason" -->`` before a block skips it, with the reason
  reported by pytest; a skip without a reason is an error.
- ``<!-- invisible-code-block: python ... -->`` runs set-up code the reader does not see.

New pages are picked up automatically: no list to update.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sybil import Document, Example, Region, Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

_FILE_INFO = re.compile(r'(?P<language>toml|json|yaml)[ \t]+[^\n]*?title="(?P<title>[^"]+)"[^\n]*\n')


class _FileBlockParser:
    """A titled toml/json/yaml block becomes that file in the page's working folder."""

    def __init__(self) -> None:
        self.lexer = RawFencedCodeBlockLexer(info_pattern=_FILE_INFO)

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.lexer(document):
            region.parsed = (region.lexemes["title"], str(region.lexemes["source"]))
            region.evaluator = self.write
            yield region

    @staticmethod
    def write(example: Example) -> None:
        title, text = example.parsed
        path = Path(title)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(f"{title!r}: a docs file block writes inside the page's folder only")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


class _ReasonedSkipParser(SkipParser):
    """``skip: next`` / ``skip: start`` must say why the block cannot run."""

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in super().__call__(document):
            action, reason = region.parsed
            if action in ("next", "start") and not (reason or "").strip():
                raise ValueError(f"{document.path}: 'skip: {action}' needs a reason: <!-- skip: {action} \"why\" -->")
            yield region


def _enter_page(namespace: dict[str, Any]) -> None:
    folder = tempfile.mkdtemp(prefix="ticketflow-docs-")
    namespace["__docs_folder__"] = (os.getcwd(), folder)
    os.chdir(folder)


def _leave_page(namespace: dict[str, Any]) -> None:
    for value in list(namespace.values()):  # close the repositories the page opened
        repository = getattr(value, "repository", value)
        close = getattr(repository, "close", None)
        if callable(close) and type(repository).__module__.startswith("ticketflow.repository"):
            with contextlib.suppress(Exception):  # best effort: the page's own checks already ran
                close()
    previous, folder = namespace.pop("__docs_folder__")
    os.chdir(previous)
    shutil.rmtree(folder, ignore_errors=True)


SYBIL = Sybil(
    parsers=[_ReasonedSkipParser(), _FileBlockParser(), PythonCodeBlockParser()],
    patterns=["*.md"],  # pytest collects README.md and docs/ (testpaths),
    setup=_enter_page,
    teardown=_leave_page,
)
pytest_collect_file = SYBIL.pytest()
