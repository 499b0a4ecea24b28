"""The built-in lifecycles: TOML files shipped in ``builtin/``, loaded like any other."""

from __future__ import annotations

import functools
from importlib import resources

from ticketflow.errors import InvalidLifecycle
from ticketflow.lifecycle._definition import Lifecycle
from ticketflow.lifecycle._loader import loads_lifecycle

__all__ = ["builtin", "builtins"]

_PACKAGE = "ticketflow.lifecycle.builtin"


def builtins() -> list[str]:
    """The ids of the built-in lifecycles, sorted."""
    files = resources.files(_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


@functools.cache
def builtin(lifecycle_id: str) -> Lifecycle:
    """Load the built-in lifecycle *lifecycle_id* (compiled once per process).

    Raises:
        InvalidLifecycle: there is no built-in with that id.
    """
    if lifecycle_id not in builtins():
        raise InvalidLifecycle(
            f"builtin:{lifecycle_id}", "", f"no built-in lifecycle {lifecycle_id!r}; available: {', '.join(builtins())}"
        )
    text = resources.files(_PACKAGE).joinpath(f"{lifecycle_id}.toml").read_text(encoding="utf-8")
    return loads_lifecycle(text, "toml", source=f"builtin:{lifecycle_id}")
