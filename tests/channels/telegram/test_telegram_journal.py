"""The update journal on SQLite and PostgreSQL: de-duplication, per-chat order, leases, retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, update
from telegram import Bot, Update

from bot.channels.telegram import payloads, updates
from bot.db import get_engine, session_scope
from bot.db.models_channels import TelegramUpdate
from bot.services.tx import utcnow

BOT = Bot("7000000001:AAF-fake-token-for-tests_only")
BOT_ID = 7000000001


def _text_update(update_id: int, chat_id: int, text: str = "merhaba", chat_type: str = "private") -> Update:
    raw: dict[str, Any] = {
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 0, "text": text,
                    "chat": {"id": chat_id, "type": chat_type, "first_name": "A"},
                    "from": {"id": chat_id, "is_bot": False, "first_name": "A"}},
    }
    parsed = Update.de_json(raw, BOT)
    assert parsed is not None
    return parsed


def test_record_is_idempotent_and_scoped_per_bot(migrated_db: str) -> None:
    assert updates.record(BOT_ID, _text_update(10, 1)) is True
    assert updates.record(BOT_ID, _text_update(10, 1)) is False
    # Another bot's update 10 is a different update.
    assert updates.record(BOT_ID + 1, _text_update(10, 1)) is True
    # Group chats are not journaled at all.
    assert updates.record(BOT_ID, _text_update(11, -100, chat_type="group")) is False
    assert updates.status_counts(BOT_ID) == {"received": 1}


def test_head_is_the_oldest_pending_update_of_the_chat(migrated_db: str) -> None:
    for update_id, chat in ((21, 1), (20, 2), (22, 1), (23, 1)):
        updates.record(BOT_ID, _text_update(update_id, chat))
    head = updates.head(BOT_ID, 1)
    assert head is not None and head.update_id == 21
    assert head.payload is not None and head.payload["message"]["text"] == "merhaba"
    updates.mark_forwarded(head.id, [{"text": "x"}])
    assert updates.head(BOT_ID, 1).update_id == 21  # type: ignore[union-attr] - still pending (forwarded)
    updates.mark_replied(head.id)
    assert updates.head(BOT_ID, 1).update_id == 22  # type: ignore[union-attr]
    assert sorted(updates.due_chats(BOT_ID)) == [1, 2]


def test_leases_keep_two_processes_off_the_same_update(migrated_db: str) -> None:
    updates.record(BOT_ID, _text_update(30, 3))
    entry = updates.head(BOT_ID, 3)
    assert entry is not None
    assert updates.claim(entry.id, "process-a", timedelta(seconds=60))
    assert not updates.claim(entry.id, "process-b", timedelta(seconds=60))
    assert updates.claim(entry.id, "process-a", timedelta(seconds=60))  # renewal
    assert updates.due_chats(BOT_ID, "process-b") == []  # leased work is not handed out to others...
    assert updates.due_chats(BOT_ID, "process-a") == [3]  # ...but its holder may resume it
    assert updates.release_leases("process-a") == 1
    assert updates.claim(entry.id, "process-b", timedelta(seconds=60))
    # An expired lease (crashed process) can be taken over.
    with session_scope(write=True) as session:
        session.execute(update(TelegramUpdate).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert updates.claim(entry.id, "process-c", timedelta(seconds=60))


def test_retry_schedule_and_failure(migrated_db: str) -> None:
    updates.record(BOT_ID, _text_update(40, 4))
    entry = updates.head(BOT_ID, 4)
    assert entry is not None
    updates.schedule_retry(entry.id, timedelta(minutes=5), "rasa_unavailable")
    assert updates.due_chats(BOT_ID) == []
    retried = updates.head(BOT_ID, 4)
    assert retried is not None and retried.attempts == 1 and retried.next_attempt_at > utcnow()
    updates.mark_failed(entry.id, "recipient_unreachable:blocked")
    assert updates.head(BOT_ID, 4) is None
    with session_scope() as session:
        row = session.get(TelegramUpdate, entry.id)
        assert row is not None
        assert (row.status, row.payload, row.last_error) == ("failed", None, "recipient_unreachable:blocked")


def test_prune_removes_only_old_finished_rows(migrated_db: str) -> None:
    for update_id in (50, 51, 52):
        updates.record(BOT_ID, _text_update(update_id, 5))
    old = updates.head(BOT_ID, 5)
    assert old is not None
    updates.mark_replied(old.id)
    recent = updates.head(BOT_ID, 5)
    assert recent is not None
    updates.mark_replied(recent.id)
    pending = updates.head(BOT_ID, 5)
    with session_scope(write=True) as session:
        session.execute(update(TelegramUpdate).where(TelegramUpdate.id == old.id)
                        .values(completed_at=utcnow() - timedelta(days=8)))
    assert updates.prune() == 1
    assert updates.status_counts(BOT_ID) == {"replied": 1, "received": 1}
    assert pending is not None and updates.head(BOT_ID, 5).update_id == pending.update_id  # type: ignore[union-attr]


def test_payload_store_is_idempotent_and_prunable(migrated_db: str) -> None:
    payload = "/x" + "y" * 100
    key = "~" + "k" * 32
    payloads.store({key: payload})
    payloads.store({key: payload})
    assert payloads.resolve(key) == payload
    assert payloads.resolve("~unknown") is None
    assert payloads.prune(timedelta(days=-1)) == 1
    assert payloads.resolve(key) is None


def test_migration_downgrade_and_upgrade(migrated_db: str) -> None:
    from alembic import command
    from alembic.config import Config

    from bot.db.session import reset_engine
    from tests.conftest import apply_migrations

    reset_engine()
    config = Config("alembic.ini")
    config.set_main_option("sqlalchemy.url", migrated_db.replace("%", "%%"))
    command.downgrade(config, "0001_core")
    tables = set(inspect(get_engine()).get_table_names())
    assert "telegram_updates" not in tables and "telegram_callback_payloads" not in tables
    reset_engine()
    apply_migrations(migrated_db)
    tables = set(inspect(get_engine()).get_table_names())
    assert {"telegram_updates", "telegram_callback_payloads"} <= tables


@pytest.mark.parametrize("token,bot_id", [("123:abc", 123), ("7000000001:AAF-x", 7000000001)])
def test_bot_id_comes_from_the_token(token: str, bot_id: int) -> None:
    from bot.channels.telegram.sender import bot_id_from_token

    assert bot_id_from_token(token) == bot_id
    with pytest.raises(RuntimeError):
        bot_id_from_token("not-a-token")
