"""The web inbox service on SQLite and PostgreSQL: posting, idempotency, delivery, expiry, retention."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select

from bot.db import session_scope
from bot.db.base import Base
from bot.db.models_webchat import WebInboxMessage
from bot.services import web_inbox
from bot.services.errors import InvalidInput
from tests.channels.webchat.support import new_session_id

ROOT = Path(__file__).resolve().parents[3]


def _row_count() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(WebInboxMessage)) or 0)


def test_post_then_pending_keeps_order_and_cleans_messages(migrated_db: str) -> None:
    visitor = new_session_id()
    result = web_inbox.post_to_web(
        visitor,
        [
            {"text": "  Merhaba, ben Ayşe.  ", "recipient_id": visitor},
            {
                "text": "Memnun kaldınız mı?",
                "buttons": [{"title": "Evet", "payload": "/affirm"}, {"title": "Hayır", "payload": "/deny"}],
            },
            {"image": "https://cdn.example/kart.png"},
        ],
        source="agent",
        idempotency_key="agent-msg:1",
    )
    assert result.created is True
    assert len(result.ids) == 3

    pending = web_inbox.pending_for(visitor)
    assert [m.id for m in pending] == list(result.ids)
    # Only the keys the page renders survive; text is trimmed.
    assert pending[0].message == {"text": "Merhaba, ben Ayşe."}
    assert pending[1].message["buttons"] == [
        {"title": "Evet", "payload": "/affirm"},
        {"title": "Hayır", "payload": "/deny"},
    ]
    assert pending[2].message == {"image": "https://cdn.example/kart.png"}
    assert all(m.is_agent and m.delivered_at is None for m in pending)
    assert pending[0].created_at.tzinfo is not None

    # Another visitor sees nothing of it.
    assert web_inbox.pending_for(new_session_id()) == []


def test_same_idempotency_key_posts_once(migrated_db: str) -> None:
    visitor = new_session_id()
    first = web_inbox.post_to_web(visitor, [{"text": "Anketimize katılır mısınız?"}], "checkin", "checkin:42")
    again = web_inbox.post_to_web(visitor, [{"text": "Anketimize katılır mısınız?"}], "checkin", "checkin:42")
    assert again.created is False
    assert again.ids == first.ids
    assert len(web_inbox.pending_for(visitor)) == 1
    assert _row_count() == 1


def test_idempotency_key_of_another_visitor_is_refused(migrated_db: str) -> None:
    web_inbox.post_to_web(new_session_id(), [{"text": "Merhaba"}], "agent", "agent-msg:7")
    with pytest.raises(InvalidInput) as error:
        web_inbox.post_to_web(new_session_id(), [{"text": "Merhaba"}], "agent", "agent-msg:7")
    assert error.value.code == "idempotency_conflict"


def test_concurrent_posts_with_one_key_store_one_copy(migrated_db: str) -> None:
    visitor = new_session_id()
    barrier = threading.Barrier(6)

    def post(_: int) -> tuple[int, ...]:
        barrier.wait()
        return web_inbox.post_to_web(
            visitor, [{"text": "Temsilci yanıtı"}, {"text": "İkinci balon"}], "agent", "agent-msg:race"
        ).ids

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(post, range(6)))
    assert len(set(results)) == 1
    assert _row_count() == 2


@pytest.mark.parametrize(
    ("sender", "messages", "source", "key", "code"),
    [
        ("tg-12345", [{"text": "x"}], "agent", "k", "invalid_sender"),
        ("web-not-a-uuid", [{"text": "x"}], "agent", "k", "invalid_sender"),
        ("web-6F9619FF-8B86-D011-B42D-00C04FC964FF", [{"text": "x"}], "agent", "k", "invalid_sender"),
        (None, [], "agent", "k", "invalid_message"),
        (None, [{"text": "   "}], "agent", "k", "invalid_message"),
        (None, [{"image": "javascript:alert(1)"}], "agent", "k", "invalid_message"),
        (None, [{"text": "x", "buttons": [{"title": "", "payload": "/a"}]}], "agent", "k", "invalid_message"),
        (None, [{"text": "x" * 4001}], "agent", "k", "invalid_message"),
        (None, [{"text": "x"}] * 21, "agent", "k", "invalid_message"),
        (None, {"text": "one message, not a list"}, "agent", "k", "invalid_message"),
        (None, [{"text": "x"}], "Agent!", "k", "invalid_source"),
        (None, [{"text": "x"}], "agent", "", "invalid_idempotency_key"),
    ],
)
def test_bad_posts_are_refused_with_a_code(
    migrated_db: str, sender: str | None, messages: object, source: str, key: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        web_inbox.post_to_web(sender or new_session_id(), messages, source, key)  # type: ignore[arg-type]
    assert error.value.code == code
    assert _row_count() == 0


def test_mark_delivered_is_scoped_to_the_visitor_and_idempotent(migrated_db: str) -> None:
    alice, bob = new_session_id(), new_session_id()
    alice_ids = web_inbox.post_to_web(alice, [{"text": "a1"}, {"text": "a2"}], "agent", "a").ids
    bob_ids = web_inbox.post_to_web(bob, [{"text": "b1"}], "agent", "b").ids

    # Bob's page cannot acknowledge Alice's messages by guessing ids.
    assert web_inbox.mark_delivered(list(alice_ids), sender_id=bob) == 0
    assert len(web_inbox.pending_for(alice)) == 2

    first_time = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert web_inbox.mark_delivered([alice_ids[0]], sender_id=alice, now=first_time) == 1
    # A repeated acknowledgement changes nothing and keeps the first delivery time.
    assert web_inbox.mark_delivered([alice_ids[0]], sender_id=alice, now=first_time + timedelta(hours=1)) == 0
    delivered = web_inbox.delivered_for(alice)
    assert [m.id for m in delivered] == [alice_ids[0]]
    assert delivered[0].delivered_at == first_time
    assert [m.id for m in web_inbox.pending_for(alice)] == [alice_ids[1]]
    assert [m.id for m in web_inbox.pending_for(bob)] == list(bob_ids)

    # Without a sender (a producer-side call) any ids may be marked.
    assert web_inbox.mark_delivered([*alice_ids, *bob_ids]) == 2
    assert web_inbox.mark_delivered([]) == 0
    with pytest.raises(InvalidInput):
        web_inbox.mark_delivered(["1"])  # type: ignore[list-item]


def test_pending_skips_expired_and_already_seen(migrated_db: str) -> None:
    visitor = new_session_id()
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    old = web_inbox.post_to_web(
        visitor, [{"text": "Geçen haftaki anket"}], "checkin", "c1", expires_at=now - timedelta(minutes=1), now=now
    )
    fresh = web_inbox.post_to_web(
        visitor, [{"text": "Yeni anket"}], "checkin", "c2", expires_at=now + timedelta(days=7), now=now
    )
    later = web_inbox.post_to_web(visitor, [{"text": "Temsilci"}], "agent", "c3", now=now)
    assert [m.id for m in web_inbox.pending_for(visitor, now=now)] == [*fresh.ids, *later.ids]
    assert [m.id for m in web_inbox.pending_for(visitor, after_id=fresh.ids[0], now=now)] == list(later.ids)
    assert old.ids[0] not in [m.id for m in web_inbox.pending_for(visitor, now=now)]
    with pytest.raises(InvalidInput):
        web_inbox.post_to_web(visitor, [{"text": "x"}], "checkin", "c4", expires_at=datetime(2026, 1, 1))


def test_purge_and_forget(migrated_db: str) -> None:
    visitor, other = new_session_id(), new_session_id()
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    delivered_old = web_inbox.post_to_web(visitor, [{"text": "eski"}], "agent", "p1", now=now - timedelta(days=40))
    web_inbox.mark_delivered(delivered_old.ids, now=now - timedelta(days=40))
    expired = web_inbox.post_to_web(
        visitor, [{"text": "süresi geçti"}], "checkin", "p2", expires_at=now - timedelta(days=1), now=now
    )
    pending = web_inbox.post_to_web(visitor, [{"text": "bekliyor"}], "agent", "p3", now=now)
    kept_other = web_inbox.post_to_web(other, [{"text": "başkası"}], "agent", "p4", now=now)

    assert web_inbox.purge(delivered_before=now - timedelta(days=30), now=now) == 2
    with session_scope() as session:
        remaining = set(session.scalars(select(WebInboxMessage.id)).all())
    assert remaining == {*pending.ids, *kept_other.ids}
    assert expired.ids[0] not in remaining

    assert web_inbox.forget_sender(visitor) == 1
    assert web_inbox.pending_for(visitor) == []
    assert [m.id for m in web_inbox.pending_for(other)] == list(kept_other.ids)


def test_is_web_sender() -> None:
    assert web_inbox.is_web_sender("web-3f2b8a4e-9c1d-4e5f-8a7b-6c5d4e3f2a1b")
    assert not web_inbox.is_web_sender("web-3f2b8a4e9c1d4e5f8a7b6c5d4e3f2a1b")
    assert not web_inbox.is_web_sender("tg-123")
    assert not web_inbox.is_web_sender(None)


def _alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "bot" / "db" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def test_migration_matches_the_model_and_downgrades(migrated_db: str) -> None:
    engine = create_engine(migrated_db)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        ours = [d for d in diffs if "web_inbox_messages" in repr(d)]
        assert ours == []

        cfg = _alembic_config(migrated_db)
        command.downgrade(cfg, "0002_channels")
        assert "web_inbox_messages" not in inspect(engine).get_table_names()
        command.upgrade(cfg, "head")
        assert "web_inbox_messages" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_cli_posts_lists_and_purges(migrated_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import build_parser

    visitor = new_session_id()
    parser = build_parser()
    args = parser.parse_args(
        ["webchat", "post", "--session", visitor, "--text", "Merhaba", "--source", "agent", "--key", "cli:1"]
    )
    assert args.func(args) == 0
    posted = json.loads(capsys.readouterr().out)
    assert posted["created"] is True
    args = parser.parse_args(["webchat", "pending", "--session", visitor])
    assert args.func(args) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [item["id"] for item in listed] == posted["ids"] and listed[0]["source"] == "agent"
    assert "Merhaba" not in json.dumps(listed)  # ids only, never the text
    args = parser.parse_args(["webchat", "pending", "--session", "tg-1"])
    assert args.func(args) == 2
    assert "invalid_sender" in capsys.readouterr().out
