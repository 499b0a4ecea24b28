"""Connections to PostgreSQL: the pinned connection of the hot statements, the pool, and one retry policy.

:class:`Retry` is the one backoff of the package: every call that may lose
its connection before it wrote anything (a checkout, a read, a write before
its commit) is tried again through it, a bounded number of times.
:class:`Database` runs reads and writes through SQLAlchemy's pool and the
pinned connection with that policy.

One pooled PostgreSQL connection is kept checked out for a repository's hot statements.

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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ticketflow.errors import StorageError

__all__ = ["RETRY", "Database", "PinnedConnection", "Retry"]

_T = TypeVar("_T")

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


@attrs.frozen
class Retry:
    """How often, and after which pauses, a call that lost its connection before writing anything is tried again.

    Iterate over it for the attempts (``0 .. retries``); after a failed
    attempt call :meth:`again`, which pauses (``first_pause``, doubling) or,
    after the last attempt, raises the given error.
    """

    retries: int = 3
    first_pause: float = 0.1

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.retries + 1))

    def again(self, attempt: int, error: StorageError, cause: BaseException) -> None:
        """After *attempt* failed with *cause*: pause before the next one, or raise *error* if it was the last."""
        if attempt >= self.retries:
            raise error from cause
        time.sleep(self.first_pause * 2**attempt)


#: The package's retry policy.
RETRY = Retry()


class Database:
    """An engine's pool and a pinned connection, used with one :class:`Retry` policy.

    Args:
        engine: a PostgreSQL engine on psycopg 3.
        ping_after: seconds of idleness after which the pinned connection is
            pinged before use; ``None`` never pings.
        retry: the retry policy.
    """

    def __init__(self, engine: Engine, ping_after: float | None, retry: Retry = RETRY) -> None:
        self.engine = engine
        self.retry = retry
        self.pinned = PinnedConnection(engine, ping_after)
        self.dbapi: Any = engine.dialect.loaded_dbapi
        #: the driver's errors after which the connection is lost (and a call that wrote nothing may be retried)
        self.lost: tuple[type[Exception], ...] = (self.dbapi.OperationalError, self.dbapi.InterfaceError)

    def connect(self) -> Connection:
        """A pooled SQLAlchemy connection (the pinned one is returned to the pool first)."""
        self.pinned.release()  # a small pool must not wait for the connection the hot calls keep idle
        for attempt in self.retry:
            try:
                return self.engine.connect()
            except sa.exc.OperationalError as exc:
                self.retry.again(attempt, StorageError(f"cannot reach the database: {exc.orig}"), exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, run: Callable[[Connection], _T]) -> _T:
        """Run a read through SQLAlchemy in autocommit mode, retrying connection failures."""
        for attempt in self.retry:
            try:
                # autocommit: a read needs no BEGIN/ROLLBACK round trips
                with self.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    return run(conn)
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                self.retry.again(attempt, StorageError(f"database read failed: {exc.orig}"), exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def write(self, run: Callable[[Connection], None]) -> None:
        """Run a one-transaction write through SQLAlchemy, retrying connection failures before the commit."""
        for attempt in self.retry:
            conn = self.connect()
            try:
                trans = conn.begin()
                try:
                    run(conn)
                except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                    trans.rollback()
                    self.retry.again(attempt, StorageError(f"database write failed: {exc.orig}"), exc)
                    continue
                except BaseException:
                    trans.rollback()
                    raise
                try:
                    trans.commit()
                except sa.exc.DBAPIError as exc:
                    raise StorageError(f"the commit failed; its outcome is unknown: {exc.orig}") from exc
                return
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                raise StorageError(f"database write failed: {exc.orig}") from exc
            finally:
                conn.close()

    def hot_read(self, statement: str, parameters: Any, *, one: bool = False, what: str = "read") -> Any:
        """Run a read (or a statement safe to repeat, named by *what*) on the pinned connection, retrying failures."""
        for attempt in self.retry:
            try:
                with self.pinned.cursor() as cursor:
                    cursor.execute(statement, parameters)
                    return cursor.fetchone() if one else cursor.fetchall()
            except self.lost as exc:
                self.retry.again(attempt, StorageError(f"database {what} failed: {exc}"), exc)
            except self.dbapi.Error as exc:
                raise StorageError(f"database {what} failed: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def transaction(self, *, begin: bool = True) -> Iterator[Any]:
        """A driver cursor between BEGIN and COMMIT on the pinned connection.

        A failure before the commit rolls back (nothing was written) and
        raises StorageError; a connection failure during the commit raises
        StorageError saying its outcome is unknown. *begin*: False when the
        caller sends BEGIN itself (with its first statements, in a pipeline).
        """
        failures = self.dbapi.Error
        try:
            pinned = self.pinned.cursor()
            cursor = pinned.__enter__()
        except failures as exc:
            raise StorageError(f"cannot reach the database; nothing written: {exc}") from exc
        with ExitStack() as stack:
            stack.push(pinned)
            try:
                if begin:
                    cursor.execute("BEGIN")
            except failures as exc:
                raise StorageError(f"database write failed and was rolled back: {exc}") from exc
            try:
                yield cursor
            except failures as exc:
                self._rollback(cursor)
                raise StorageError(f"database write failed and was rolled back: {exc}") from exc
            except BaseException:
                self._rollback(cursor)
                raise
            try:
                cursor.execute("COMMIT")
            except self.lost as exc:
                raise StorageError(f"the commit failed; its outcome is unknown: {exc}") from exc
            except failures as exc:
                raise StorageError(f"the commit was refused and rolled back: {exc}") from exc

    def _rollback(self, cursor: Any) -> None:
        # on a broken connection the server rolled back already; the pinned connection is replaced
        with suppress(self.dbapi.Error):
            cursor.execute("ROLLBACK")
