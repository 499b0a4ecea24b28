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
        self._fairy: Any = None
        self._cursor: Any = None  # one cursor, reused: each new one costs more than a round trip's client work
        self._last_used = 0.0
        _INSTANCES.add(self)

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A driver cursor in autocommit mode: on the pinned connection when it is free."""
        if not self._lock.acquire(blocking=False):
            with self._checked_out() as cursor:
                yield cursor
            return
        try:
            fairy = self._pinned()
            try:
                yield self._cursor
            finally:
                if fairy.driver_connection.broken or fairy.driver_connection.closed:
                    fairy.invalidate()
                    self._fairy = self._cursor = None
                self._last_used = time.monotonic()
        finally:
            self._lock.release()

    def release(self) -> None:
        """Return the pinned connection to the pool (unless a call is using it)."""
        if self._fairy is None or not self._lock.acquire(blocking=False):
            return
        try:
            if self._fairy is not None:
                self._check_in(self._fairy)
                self._fairy = self._cursor = None
        finally:
            self._lock.release()

    def _pinned(self) -> Any:
        fairy = self._fairy
        idle = time.monotonic() - self._last_used
        if fairy is not None and self._ping_after is not None and idle > self._ping_after and not self._alive(fairy):
            fairy.invalidate()
            fairy = self._fairy = self._cursor = None
        if fairy is None:
            fairy = self._fairy = self._check_out()
            self._cursor = fairy.driver_connection.cursor()
        return fairy

    def _check_out(self) -> Any:
        fairy: Any = self._engine.raw_connection()
        try:
            fairy.driver_connection.autocommit = True
        except BaseException:
            fairy.invalidate()
            raise
        return fairy

    @staticmethod
    def _check_in(fairy: Any) -> None:
        driver = fairy.driver_connection
        if driver.broken or driver.closed:
            fairy.invalidate()
            return
        driver.autocommit = False  # the pool's other users expect SQLAlchemy's default
        fairy.close()

    @staticmethod
    def _alive(fairy: Any) -> bool:
        try:
            fairy.driver_connection.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure means: do not use this connection
            return False
        return True

    @contextmanager
    def _checked_out(self) -> Iterator[Any]:
        fairy = self._check_out()
        try:
            yield fairy.driver_connection.cursor()
        finally:
            self._check_in(fairy)

    def _forget(self) -> None:
        if self._fairy is not None:
            _INHERITED.append((self._fairy, self._cursor))
            self._fairy = self._cursor = None
        self._lock = threading.Lock()
