"""Migrations: upgrade from empty, match the models, and downgrade to base cleanly — on both databases."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

import bot.db.models  # noqa: F401 - registers the core tables
from bot.db.migrate import alembic_config, downgrade, upgrade
from tests.db.schema import schema_diff

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


@pytest.mark.filterwarnings("ignore:autogenerate skipping")
def test_core_models_match_migration(db_url: str) -> None:
    upgrade("heads", url=db_url)
    assert schema_diff(db_url, CORE_TABLES) == []


@pytest.mark.filterwarnings("ignore:autogenerate skipping")
def test_tracker_purges_migration_matches_model_and_downgrades(db_url: str) -> None:
    import bot.db.models_privacy  # noqa: F401 - registers tracker_purges

    upgrade("0006_telegram_rasa_doubt", url=db_url)
    assert "tracker_purges" not in _tables(db_url)
    upgrade("0007_tracker_purges", url=db_url)
    assert "tracker_purges" in _tables(db_url)
    assert schema_diff(db_url, {"tracker_purges"}) == []
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
