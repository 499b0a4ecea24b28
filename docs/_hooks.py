"""MkDocs hooks: pages generated from the code, so they cannot drift.

- ``reference/format.md`` — every key of the lifecycle format, from the shape
  the loader checks (``ticketflow.lifecycle._shape.LIFECYCLE``);
- ``reference/cli.md`` — the ``--help`` of every ``ticketflow`` command.
"""

from __future__ import annotations

from typing import Any

import click

from ticketflow.cli import cli
from ticketflow.lifecycle._shape import LIFECYCLE, ListOf, Node, Scalar, Table


def _kind(node: Node) -> str:
    if isinstance(node, Scalar):
        kind = node.kind if node.kind != "any" else "any value"
        return f"{kind} ({', '.join(node.choices)})" if node.choices else kind
    if isinstance(node, ListOf):
        inner = _kind(node.item)
        return f"{inner} or list of them" if node.single else f"list of {inner}"
    return "table"


def _rows(node: Node, path: str, out: list[str]) -> None:
    if isinstance(node, ListOf):
        _rows(node.item, f"{path}[]", out)
        return
    if not isinstance(node, Table):
        return
    for key, (child, required) in node.keys.items():
        where = f"{path}.{key}" if path else key
        doc = (child.doc or "").replace("|", "\\|")
        out.append(f"| `{where}` | {_kind(child)} | {'yes' if required else ''} | {doc} |")
        _rows(child, where, out)
    if node.values is not None:
        where = f"{path}.<name>" if path else "<name>"
        doc = (node.doc or "").replace("|", "\\|")
        out.append(f"| `{where}` | {_kind(node.values)} | | {doc} |")
        _rows(node.values, where, out)


def format_reference() -> str:
    """The lifecycle format as one table, generated from the loader's shape."""
    out = ["| key | kind | required | meaning |", "|---|---|---|---|"]
    _rows(LIFECYCLE, "", out)
    return "\n".join(out)


def cli_reference() -> str:
    """The help of every command, as the command prints it."""
    sections = []

    def walk(command: click.Command, names: list[str]) -> None:
        ctx = click.Context(command, info_name=" ".join(names))
        sections.append(f"## `{' '.join(names)}`\n\n```text\n{command.get_help(ctx)}\n```\n")
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    walk(sub, [*names, name])

    walk(cli, ["ticketflow"])
    return "\n".join(sections)


def on_page_markdown(markdown: str, page: Any, **_kwargs: Any) -> str:
    """Fill the generated pages."""
    if "<!-- generated: format -->" in markdown:
        markdown = markdown.replace("<!-- generated: format -->", format_reference())
    if "<!-- generated: cli -->" in markdown:
        markdown = markdown.replace("<!-- generated: cli -->", cli_reference())
    return markdown
