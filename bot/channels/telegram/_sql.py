"""Portable "INSERT ... ON CONFLICT DO NOTHING" for SQLite and PostgreSQL (the two backends we run on)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE/DELETE (typed access to ``CursorResult.rowcount``)."""
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def insert_ignoring_conflicts(
    session: Session, table: Table | Any, rows: Sequence[dict[str, Any]], conflict_columns: Sequence[str]
) -> int:
    """Insert ``rows``; rows that collide on ``conflict_columns`` are skipped. Returns how many were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    else:  # pragma: no cover - we only deploy on SQLite and PostgreSQL
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    # RETURNING tells inserted rows from skipped ones on both backends (psycopg reports rowcount -1 here).
    statement = statement.returning(*table.primary_key.columns)
    inserted = 0
    for row in rows:
        inserted += len(session.execute(statement, row).all())
    return inserted
