"""Migration 0005_console creates exactly the tables of bot/db/models_console.py, on both databases."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

import bot.db.models_console  # noqa: F401 - registers the console tables
from bot.db.migrate import downgrade, upgrade
from tests.db.schema import schema_diff

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


def test_console_models_match_migration(db_url: str) -> None:
    upgrade("heads", url=db_url)
    engine = create_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= CONSOLE_TABLES
        if engine.dialect.name == "postgresql":
            indexes = {i["name"] for i in inspect(engine).get_indexes("conversation_summaries")}
            assert "ix_conversation_summaries_search" in indexes  # the full-text GIN index
    finally:
        engine.dispose()
    # Alembic cannot compare expression indexes; the GIN index is checked by name above.
    console_diff = [
        d
        for d in schema_diff(db_url, CONSOLE_TABLES)
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
