"""Storage behind the :class:`~ticketflow.protocols.TicketRepository` Protocol.

- :class:`MemoryRepository` — in process memory, for tests and prototypes;
- :class:`SQLiteRepository` — one file, the embedded default;
- ``PostgresRepository`` — PostgreSQL (the ``postgres`` extra; the package
  ``ticketflow.repository.postgres``), imported from there or as
  ``ticketflow.PostgresRepository`` (``SQLAlchemyRepository`` is its deprecated former name);
- export and import of tickets with their histories (JSON Lines, CSV).
"""

from ticketflow.repository._export import export_csv, export_json_view, export_jsonl, import_jsonl, neutralize
from ticketflow.repository._memory import MemoryRepository
from ticketflow.repository._sqlite import SCHEMA_VERSION, SQLiteRepository

__all__ = [
    "SCHEMA_VERSION",
    "MemoryRepository",
    "SQLiteRepository",
    "export_csv",
    "export_json_view",
    "export_jsonl",
    "import_jsonl",
    "neutralize",
]
