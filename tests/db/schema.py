"""Compare the SQLAlchemy models with the schema the Alembic migrations produce (shared by the migration tests)."""

from __future__ import annotations

from collections.abc import Collection

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from bot.db.base import Base


def schema_diff(url: str, tables: Collection[str]) -> list[object]:
    """What differs between the migrated database at ``url`` and the models registered on ``Base.metadata``,
    limited to ``tables`` (autogenerate's items: tuples, or lists of ``modify_*`` tuples grouped per column)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    return [item for item in diff if _table_of(item) in tables]


def _table_of(item: object) -> str | None:
    if isinstance(item, list):  # modify_* operations come grouped per column
        return _table_of(item[0])
    assert isinstance(item, tuple)
    operation = item[0]
    if operation.startswith("modify_") or operation in ("add_column", "remove_column"):
        return item[2]
    obj = item[1]
    table = getattr(obj, "table", None)
    return getattr(table if table is not None else obj, "name", None)
