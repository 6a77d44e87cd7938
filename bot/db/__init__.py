"""Memnun's data layer: SQLAlchemy 2 models, engine/session helpers and Alembic migrations.

Only ``bot.services`` should import from here; everything else goes through the services.
"""

from bot.db.base import Base
from bot.db.session import get_engine, reset_engine, session_scope

__all__ = ["Base", "get_engine", "reset_engine", "session_scope"]
