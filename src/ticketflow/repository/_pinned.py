"""One pooled PostgreSQL connection kept checked out for a repository's hot statements.

``get``, ``history`` and ``save`` are a repository's hottest calls: a fire is
one of each (``get`` then ``save``). Through SQLAlchemy's ``Connection`` each
costs a pool checkout and check-in, a pre-ping round trip and statement
compilation — measured at about three times the client CPU of the statement
itself. This module keeps one pooled psycopg connection checked out in
autocommit mode, so a hot call is one prepared statement and one round trip.

- One caller at a time uses the pinned connection (a non-blocking lock); a
  concurrent caller (another thread) checks out a connection of its own from
  the engine's pool for that call, as before.
- A pinned connection idle for longer than ``ping_after`` is pinged before use
  (a quiet night is when servers restart); a broken one is invalidated and
  replaced from the pool.
- :meth:`PinnedConnection.release` returns it to the pool, so the
  repository's other calls never wait for a connection it is keeping idle.
- After ``os.fork`` the child forgets the parent's connection (keeping the
  object so that nothing closes the parent's socket) and pins its own.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine

_INSTANCES: weakref.WeakSet[PinnedConnection] = weakref.WeakSet()
_INHERITED: list[Any] = []  # a forked child's copies of its parent's connections: never used, never closed


def _forget_after_fork() -> None:
    for pinned in list(_INSTANCES):
        pinned._forget()


os.register_at_fork(after_in_child=_forget_after_fork)


class _Held:
    """The pinned connection and its one reused cursor (a new cursor costs more than a round trip's client work)."""

    __slots__ = ("cursor", "fairy")

    def __init__(self) -> None:
        self.fairy: Any = None
        self.cursor: Any = None

    def set(self, fairy: Any) -> None:
        self.fairy = fairy
        self.cursor = None if fairy is None else fairy.driver_connection.cursor()

    def check_in(self) -> None:
        """Return the connection to the pool (also run when a repository is collected unclosed)."""
        if self.fairy is not None:
            _check_in(self.fairy)
            self.set(None)


def _check_out(engine: Engine) -> Any:
    fairy: Any = engine.raw_connection()
    try:
        fairy.driver_connection.autocommit = True
    except BaseException:
        fairy.invalidate()
        raise
    return fairy


def _check_in(fairy: Any) -> None:
    driver = fairy.driver_connection
    if driver.broken or driver.closed:
        fairy.invalidate()
        return
    driver.autocommit = False  # the pool's other users expect SQLAlchemy's default
    fairy.close()


def _alive(fairy: Any) -> bool:
    try:
        fairy.driver_connection.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means: do not use this connection
        return False
    return True


class PinnedConnection:
    """A pooled driver connection in autocommit mode, reused call after call.

    Args:
        engine: the SQLAlchemy engine whose pool supplies the connection.
        ping_after: seconds of idleness after which the connection is pinged
            before use; ``None`` never pings.
    """

    def __init__(self, engine: Engine, ping_after: float | None) -> None:
        self._engine = engine
        self._ping_after = ping_after
        self._lock = threading.Lock()
        self._held = _Held()
        self._last_used = 0.0
        self._finalizer = weakref.finalize(self, self._held.check_in)
        _INSTANCES.add(self)

    @property
    def backend_pid(self) -> int | None:
        """The server process of the pinned connection, if one is pinned (for diagnostics and tests)."""
        fairy = self._held.fairy
        return None if fairy is None else int(fairy.driver_connection.info.backend_pid)

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A driver cursor in autocommit mode: on the pinned connection when it is free."""
        if not self._lock.acquire(blocking=False):
            fairy = _check_out(self._engine)
            try:
                yield fairy.driver_connection.cursor()
            finally:
                _check_in(fairy)
            return
        try:
            fairy = self._pinned()
            try:
                yield self._held.cursor
            finally:
                if fairy.driver_connection.broken or fairy.driver_connection.closed:
                    fairy.invalidate()
                    self._held.set(None)
                self._last_used = time.monotonic()
        finally:
            self._lock.release()

    def release(self) -> None:
        """Return the pinned connection to the pool (unless a call is using it)."""
        if self._held.fairy is None or not self._lock.acquire(blocking=False):
            return
        try:
            self._held.check_in()
        finally:
            self._lock.release()

    def _pinned(self) -> Any:
        held = self._held
        stale = self._ping_after is not None and time.monotonic() - self._last_used > self._ping_after
        if held.fairy is not None and stale and not _alive(held.fairy):
            held.fairy.invalidate()
            held.set(None)
        if held.fairy is None:
            held.set(_check_out(self._engine))
        return held.fairy

    def _forget(self) -> None:
        if self._held.fairy is not None:
            _INHERITED.append((self._held.fairy, self._held.cursor))
            self._held.set(None)
        self._lock = threading.Lock()
