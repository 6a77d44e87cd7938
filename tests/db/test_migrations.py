"""Migrations: upgrade from empty, match the models, and downgrade to base cleanly — on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

import bot.db.models  # noqa: F401 - registers the core tables
from bot.db.base import Base
from bot.db.migrate import alembic_config, downgrade, upgrade

CORE_TABLES = {
    "customers",
    "channel_identities",
    "loyalty_accounts",
    "point_ledger",
    "rewards",
    "redemptions",
    "birthday_coupons",
    "orders",
    "tickets",
    "ticket_notes",
    "ticket_events",
    "feedback",
    "survey_responses",
    "conversations",
    "audit_log",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_core_revision_is_the_root() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    core = script.get_revision("0001_core")
    assert core is not None and core.down_revision is None
    assert len(script.get_heads()) == 1, "migrations must form one chain"


def test_upgrade_from_empty_and_downgrade_to_base(db_url: str) -> None:
    assert _tables(db_url) == set()
    upgrade("0001_core", url=db_url)
    assert _tables(db_url) == CORE_TABLES
    upgrade("heads", url=db_url)
    assert _tables(db_url) >= CORE_TABLES
    downgrade("base", url=db_url)
    assert _tables(db_url) == set()
    upgrade("heads", url=db_url)  # and back up again: downgrade left nothing behind
    assert _tables(db_url) >= CORE_TABLES


def _schema_diff(url: str) -> list[object]:
    """What differs between the migrated database at ``url`` and the models."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


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


@pytest.mark.filterwarnings("ignore:autogenerate skipping")
def test_core_models_match_migration(db_url: str) -> None:
    upgrade("heads", url=db_url)
    core_diff = [item for item in _schema_diff(db_url) if _table_of(item) in CORE_TABLES]
    assert core_diff == []


@pytest.mark.filterwarnings("ignore:autogenerate skipping")
def test_tracker_purges_migration_matches_model_and_downgrades(db_url: str) -> None:
    import bot.db.models_privacy  # noqa: F401 - registers tracker_purges

    upgrade("0006_telegram_rasa_doubt", url=db_url)
    assert "tracker_purges" not in _tables(db_url)
    upgrade("0007_tracker_purges", url=db_url)
    assert "tracker_purges" in _tables(db_url)
    assert [item for item in _schema_diff(db_url) if _table_of(item) == "tracker_purges"] == []
    engine = create_engine(db_url)
    try:
        inspector = inspect(engine)
        assert inspector.get_pk_constraint("tracker_purges")["constrained_columns"] == ["sender_id"]
        assert [ix["column_names"] for ix in inspector.get_indexes("tracker_purges")] == [["due_at"]]
    finally:
        engine.dispose()
    downgrade("0006_telegram_rasa_doubt", url=db_url)
    assert "tracker_purges" not in _tables(db_url)
    assert "telegram_updates" in _tables(db_url)
    upgrade("heads", url=db_url)
    assert "tracker_purges" in _tables(db_url)
