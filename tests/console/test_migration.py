"""Migration 0005_console creates exactly the tables of bot/db/models_console.py, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import bot.db.models_console  # noqa: F401 - registers the console tables
from bot.db.base import Base
from bot.db.migrate import downgrade, upgrade

CONSOLE_TABLES = {
    "console_users",
    "console_sessions",
    "console_login_attempts",
    "tracker_sync_state",
    "conversation_summaries",
    "conversation_intents",
    "conversation_tags",
    "conversation_notes",
    "review_flags",
    "intent_corrections",
    "console_saved_filters",
    "handovers",
    "agent_messages",
}


def _table_of(item: object) -> str | None:
    if isinstance(item, list):
        return _table_of(item[0])
    assert isinstance(item, tuple)
    operation = item[0]
    if operation.startswith("modify_") or operation in ("add_column", "remove_column"):
        return item[2]
    obj = item[1]
    table = getattr(obj, "table", None)
    return getattr(table if table is not None else obj, "name", None)


def test_console_models_match_migration(db_url: str) -> None:
    upgrade("heads", url=db_url)
    engine = create_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= CONSOLE_TABLES
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        if engine.dialect.name == "postgresql":
            indexes = {i["name"] for i in inspect(engine).get_indexes("conversation_summaries")}
            assert "ix_conversation_summaries_search" in indexes  # the full-text GIN index
    finally:
        engine.dispose()
    console_diff = [item for item in diff if _table_of(item) in CONSOLE_TABLES]
    # Alembic cannot compare expression indexes; the GIN index is checked by name above.
    console_diff = [
        d
        for d in console_diff
        if not (isinstance(d, tuple) and getattr(d[1], "name", "") == "ix_conversation_summaries_search")
    ]
    assert console_diff == []


def test_console_downgrade_removes_its_tables(db_url: str) -> None:
    upgrade("heads", url=db_url)
    downgrade("0004_outreach", url=db_url)
    engine = create_engine(db_url)
    try:
        assert not CONSOLE_TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    upgrade("heads", url=db_url)
