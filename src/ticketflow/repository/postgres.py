"""PostgreSQL storage (needs ``pip install 'ticketflow[postgres]'``)."""

from ticketflow.repository._sqlalchemy import SQLAlchemyRepository

__all__ = ["SQLAlchemyRepository"]
