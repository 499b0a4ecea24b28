"""PostgreSQL storage: many app servers and sweepers on one database (needs ``pip install 'ticketflow[postgres]'``).

:class:`PostgresRepository` keeps tickets, histories, due timers, links and an
outbox in PostgreSQL through psycopg 3 and SQLAlchemy 2 Core. The package:

- ``_schema``: the one definition of the tables, and the versioned migrations;
- ``_statements``: the hot SQL (get, history, the one-statement save), derived
  from the tables;
- ``_connection``: the pinned connection of the hot calls, the pool, and the
  one retry policy;
- ``_repository``: :class:`PostgresRepository` itself.

``SQLAlchemyRepository`` is the deprecated former name of
:class:`PostgresRepository` (a ``DeprecationWarning`` when it is used).
"""

from __future__ import annotations

import warnings

try:
    import psycopg  # noqa: F401
    import sqlalchemy  # noqa: F401 - only to say which extra is missing
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("PostgresRepository needs the extra: pip install 'ticketflow[postgres]'") from exc

from ticketflow.repository.postgres._repository import PostgresRepository

__all__ = ["PostgresRepository"]


def __getattr__(name: str) -> type[PostgresRepository]:
    if name == "SQLAlchemyRepository":
        warnings.warn(
            "SQLAlchemyRepository is deprecated: use PostgresRepository "
            "(from ticketflow import PostgresRepository, or ticketflow.repository.postgres)",
            DeprecationWarning,
            stacklevel=2,
        )
        return PostgresRepository
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
