"""End to end over Rasa's REST channel: the real Rasa server, the real action server, a real database.

Runs on both profiles: the embedded default (SQLite data + SQLite tracker store, in-memory locks) and
production (PostgreSQL for our data and the tracker store, Redis lock store).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.settings import Settings, get_settings
from tests.engine.stack import RasaStack, free_port

pytestmark = pytest.mark.engine


def _digits(text_: str) -> str:
    return re.sub(r"[.,\s]", "", text_)


def _texts(replies: list[dict]) -> str:
    return "\n".join(str(r.get("text") or "") for r in replies)


@pytest.fixture(scope="module", params=["sqlite", "postgresql+redis"])
def stack(request: pytest.FixtureRequest, trained_model: Path, tmp_path_factory: pytest.TempPathFactory,
          pg_databases, ) -> Iterator[RasaStack]:
    from bot.db import session as db_session
    from bot.runner import upgrade_to_head
    from bot.services.seed import seed_demo_data

    workdir = tmp_path_factory.mktemp("stack")
    overrides: dict[str, str] = {}
    if request.param == "sqlite":
        overrides["DATABASE_URL"] = f"sqlite:///{workdir / 'memnun.db'}"
        overrides["TRACKER_DATABASE_URL"] = f"sqlite:///{workdir / 'tracker.db'}"
    else:
        request.getfixturevalue("postgres_available")
        redis_url = request.getfixturevalue("redis_url")
        overrides["DATABASE_URL"] = pg_databases.create_database("memnun_e2e")
        overrides["REDIS_URL"] = redis_url
    monkeypatch = pytest.MonkeyPatch()
    for key, value in overrides.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RASA_TOKEN", uuid.uuid4().hex)
    get_settings.cache_clear()
    db_session.reset_engine()
    upgrade_to_head(get_settings().database_url)
    seed_demo_data()
    settings = Settings(rasa_port=free_port(), action_port=free_port())
    running = RasaStack(settings=settings, model=trained_model, log_dir=workdir / "logs").start()
    try:
        yield running
    finally:
        running.stop()
        db_session.reset_engine()
        monkeypatch.undo()
        get_settings.cache_clear()


def _birth_date_text(separator: str) -> str:
    return f"15{separator}{date.today().month:02d}{separator}1990"


def _ticket_count(database_url: str, ref: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM tickets WHERE ref = :ref"), {"ref": ref}).scalar_one())
    finally:
        engine.dispose()


def test_turkish_conversation_loyalty_order_and_complaint(stack: RasaStack) -> None:
    sender = f"rest-e2e-tr-{uuid.uuid4().hex[:8]}"
    greeting = _texts(stack.say(sender, "slm"))
    assert "Merhaba" in greeting

    ask_identity = _texts(stack.say(sender, "puanim ne kadar acaba"))
    assert re.search(r"telefon|müşteri numara", ask_identity, re.IGNORECASE), ask_identity
    ask_birth = _texts(stack.say(sender, "0532 123 45 67"))
    assert re.search(r"doğum", ask_birth, re.IGNORECASE), ask_birth
    status = _texts(stack.say(sender, _birth_date_text(".")))
    assert "Altın" in status, status
    assert "6950" in _digits(status), status

    order = _texts(stack.say(sender, "SP1000001'in kargosu nerde"))
    assert "SP1000001" in order and "Yurtiçi" in order, order

    tracker = stack.tracker(sender)
    assert tracker["slots"]["language"] == "tr"
    assert tracker["slots"]["customer_id"]


def test_turkish_complaint_opens_a_ticket(stack: RasaStack) -> None:
    sender = f"rest-e2e-trc-{uuid.uuid4().hex[:8]}"
    stack.say(sender, "merhaba")
    replies = stack.say(sender, "sikayet etmek istiyorum")
    assert any(r.get("buttons") for r in replies), replies  # categories offered as buttons
    stack.say(sender, '/inform{"complaint_category":"delivery"}')
    stack.say(sender, "SP1000001")
    confirm = _texts(stack.say(sender, "kargom 5 gundur gelmedi, kimse bilgi vermiyor"))
    assert confirm
    done = _texts(stack.say(sender, "evet"))
    match = re.search(r"T-\d{4}-\d{6}", done)
    assert match, done
    assert _ticket_count(stack.settings.database_url, match.group(0)) == 1


def test_english_conversation_answers_in_english(stack: RasaStack) -> None:
    sender = f"rest-e2e-en-{uuid.uuid4().hex[:8]}"
    greeting = _texts(stack.say(sender, "hello there"))
    assert re.search(r"\b(Hi|Hello)\b", greeting), greeting
    ask_identity = _texts(stack.say(sender, "how many points do i have"))
    assert re.search(r"phone|customer number", ask_identity, re.IGNORECASE), ask_identity
    stack.say(sender, "+90 532 123 45 67")
    status = _texts(stack.say(sender, _birth_date_text("/")))
    assert "Gold" in status and "6950" in _digits(status), status
    order = _texts(stack.say(sender, "where is my order SP1000001"))
    assert "SP1000001" in order, order
    assert stack.tracker(sender)["slots"]["language"] == "en"


def test_language_switch_mid_conversation(stack: RasaStack) -> None:
    sender = f"rest-e2e-sw-{uuid.uuid4().hex[:8]}"
    assert "Merhaba" in _texts(stack.say(sender, "merhabalar"))
    stack.say(sender, "can we speak english please")
    assert stack.tracker(sender)["slots"]["language"] == "en"
    english = _texts(stack.say(sender, "what are your opening hours"))
    assert re.search(r"[A-Za-z]", english) and not re.search(r"[ğşıİ]", english), english


def test_every_message_is_stored_once(stack: RasaStack) -> None:
    sender = f"rest-e2e-once-{uuid.uuid4().hex[:8]}"
    for message in ("selam", "magazalariniz nerede", "tesekkurler"):
        assert stack.say(sender, message)
    events = stack.tracker(sender)["events"]
    user_texts = [e["text"] for e in events if e["event"] == "user"]
    assert user_texts == ["selam", "magazalariniz nerede", "tesekkurler"]
