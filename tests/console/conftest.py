"""Console fixtures: a migrated database, Rasa's tracker ``events`` table, staff users and a logged-in client.

The tracker table is created with the exact DDL of Rasa 3.6's ``SQLTrackerStore`` (id INTEGER PK,
sender_id VARCHAR(255) indexed, type_name, timestamp FLOAT, intent_name, action_name, data TEXT) and
filled with rows in Rasa's format (``data`` = the event's ``as_dict()`` JSON), so the code under test reads
exactly what a real Rasa writes. On SQLite the tracker is a separate file (like the embedded profile); on
PostgreSQL it is the same database (like production).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

RASA_EVENTS_DDL = (
    "CREATE TABLE events ("
    " id INTEGER NOT NULL,"
    " sender_id VARCHAR(255) NOT NULL,"
    " type_name VARCHAR(255) NOT NULL,"
    " timestamp FLOAT,"
    " intent_name VARCHAR(255),"
    " action_name VARCHAR(255),"
    " data TEXT,"
    " PRIMARY KEY (id))",
    "CREATE INDEX ix_events_sender_id ON events (sender_id)",
)
RASA_EVENTS_DDL_PG = (
    "CREATE TABLE events ("
    " id SERIAL NOT NULL,"
    " sender_id VARCHAR(255) NOT NULL,"
    " type_name VARCHAR(255) NOT NULL,"
    " timestamp FLOAT,"
    " intent_name VARCHAR(255),"
    " action_name VARCHAR(255),"
    " data TEXT,"
    " PRIMARY KEY (id))",
    "CREATE INDEX ix_events_sender_id ON events (sender_id)",
)
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id, with cheap parameters: production's (64 MiB, 3 passes) cost ~0.3 s per hash on CI's two
    cores and the suite hashes hundreds of times. ``test_production_hash_parameters`` checks the real ones."""
    from argon2 import PasswordHasher

    from bot.services import staff

    monkeypatch.setattr(staff, "_hasher", PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))


@dataclass
class Tracker:
    """Writes events the way Rasa's SQLTrackerStore does."""

    engine: Engine
    clock: float = field(default_factory=lambda: time.time() - 3600)

    def _add(
        self,
        sender_id: str,
        event: dict[str, Any],
        *,
        intent: str | None = None,
        action: str | None = None,
        at: float | None = None,
    ) -> int:
        self.clock = at if at is not None else self.clock + 1.0
        event = {**event, "timestamp": self.clock}
        with self.engine.begin() as conn:
            row = conn.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                    "VALUES (:s, :t, :ts, :i, :a, :d) RETURNING id"
                ),
                {
                    "s": sender_id,
                    "t": event["event"],
                    "ts": self.clock,
                    "i": intent,
                    "a": action,
                    "d": json.dumps(event),
                },
            ).one()
        return int(row[0])

    def session_started(self, sender_id: str, **kw: Any) -> int:
        self._add(
            sender_id,
            {"event": "action", "name": "action_session_start", "policy": None, "confidence": 1.0},
            action="action_session_start",
            **kw,
        )
        return self._add(sender_id, {"event": "session_started"})

    def user(
        self,
        sender_id: str,
        text_: str,
        intent: str,
        confidence: float = 0.95,
        *,
        entities: list[dict[str, Any]] | None = None,
        lang: str | None = "tr",
        channel: str | None = None,
        ranking: list[dict[str, Any]] | None = None,
        **kw: Any,
    ) -> int:
        metadata: dict[str, Any] = {}
        if lang:
            metadata["language_hint"] = lang
        if channel:
            metadata["channel"] = channel
        event = {
            "event": "user",
            "text": text_,
            "parse_data": {
                "intent": {"name": intent, "confidence": confidence},
                "entities": entities or [],
                "text": text_,
                "message_id": f"m{time.monotonic_ns()}",
                "metadata": metadata,
                "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
            },
            "input_channel": channel or "rest",
            "message_id": f"m{time.monotonic_ns()}",
            "metadata": metadata,
        }
        self._add(sender_id, {"event": "user_featurization", "use_text_for_featurization": False}, **kw)
        return self._add(sender_id, event, intent=intent)

    def bot(self, sender_id: str, text_: str, buttons: list[dict[str, str]] | None = None, **kw: Any) -> int:
        data: dict[str, Any] = {
            "elements": None,
            "quick_replies": None,
            "buttons": buttons,
            "attachment": None,
            "image": None,
            "custom": None,
        }
        return self._add(sender_id, {"event": "bot", "text": text_, "data": data, "metadata": {}}, **kw)

    def action(self, sender_id: str, name: str, confidence: float = 0.99, **kw: Any) -> int:
        return self._add(
            sender_id,
            {
                "event": "action",
                "name": name,
                "policy": "TEDPolicy",
                "confidence": confidence,
                "action_text": None,
                "hide_rule_turn": False,
            },
            action=name,
            **kw,
        )

    def slot(self, sender_id: str, name: str, value: Any, **kw: Any) -> int:
        return self._add(sender_id, {"event": "slot", "name": name, "value": value}, **kw)

    def active_loop(self, sender_id: str, name: str | None, **kw: Any) -> int:
        return self._add(sender_id, {"event": "active_loop", "name": name}, **kw)

    def pause(self, sender_id: str, **kw: Any) -> int:
        return self._add(sender_id, {"event": "pause"}, **kw)

    def resume(self, sender_id: str, **kw: Any) -> int:
        return self._add(sender_id, {"event": "resume"}, **kw)

    def turn(
        self,
        sender_id: str,
        text_: str,
        intent: str,
        reply: str,
        *,
        confidence: float = 0.95,
        action: str | None = None,
        **kw: Any,
    ) -> int:
        event_id = self.user(sender_id, text_, intent, confidence, **kw)
        self.action(sender_id, action or f"utter_{intent}")
        self.bot(sender_id, reply)
        self.action(sender_id, "action_listen")
        return event_id


@pytest.fixture
def tracker(migrated_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tracker]:
    """Rasa's events table at ``settings.effective_tracker_url`` (separate SQLite file / same PostgreSQL DB)."""
    from bot.services.tracker_events import reset_tracker_engines
    from bot.settings import get_settings

    if migrated_db.startswith("sqlite"):
        tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
        monkeypatch.setenv("TRACKER_DATABASE_URL", tracker_url)
        ddl = RASA_EVENTS_DDL
    else:
        tracker_url = migrated_db
        monkeypatch.delenv("TRACKER_DATABASE_URL", raising=False)
        ddl = RASA_EVENTS_DDL_PG
    get_settings.cache_clear()
    reset_tracker_engines()
    assert get_settings().effective_tracker_url == tracker_url
    engine = create_engine(tracker_url)
    with engine.begin() as conn:
        for statement in ddl:
            conn.execute(text(statement))
    yield Tracker(engine)
    engine.dispose()
    reset_tracker_engines()


@dataclass(frozen=True)
class Staff:
    agent: Any
    agent2: Any
    marketer: Any
    admin: Any


@pytest.fixture
def staff_users(migrated_db: str) -> Staff:
    from bot.services import staff

    return Staff(
        agent=staff.create_user("ayse@memnun.test", PASSWORD, "agent", "Ayşe Temsilci"),
        agent2=staff.create_user("mehmet@memnun.test", PASSWORD, "agent", "Mehmet Temsilci"),
        marketer=staff.create_user("zeynep@memnun.test", PASSWORD, "marketer", "Zeynep Pazarlama"),
        admin=staff.create_user("admin@memnun.test", PASSWORD, "admin", "Yönetici"),
    )


def make_client(base_url: str = "http://testserver") -> TestClient:
    from bot.console.app import create_console_app

    return TestClient(create_console_app(standalone=True), base_url=base_url, follow_redirects=False)


_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
_HX_CSRF_RE = re.compile(r'"X-CSRF-Token": "([^"]+)"')


def login_csrf(client: TestClient) -> str:
    page = client.get("/console/login")
    assert page.status_code == 200
    match = _CSRF_RE.search(page.text)
    assert match, "login form has no CSRF token"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token (read from the page, as htmx does)."""
    token = login_csrf(client)
    response = client.post("/console/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text[:500]
    return page_csrf(client)


def page_csrf(client: TestClient) -> str:
    page = client.get("/console/password")
    match = _HX_CSRF_RE.search(page.text)
    assert match, "no CSRF token on the page"
    return match.group(1)


@dataclass
class LoggedIn:
    client: TestClient
    csrf: str

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kw)


@pytest.fixture
def as_role(staff_users: Staff) -> Iterator[Any]:
    clients: list[TestClient] = []

    def factory(role: str) -> LoggedIn:
        client = make_client()
        clients.append(client)
        email = {
            "agent": "ayse@memnun.test",
            "agent2": "mehmet@memnun.test",
            "marketer": "zeynep@memnun.test",
            "admin": "admin@memnun.test",
        }[role]
        return LoggedIn(client, login(client, email))

    yield factory
    for client in clients:
        client.close()


class ThreadedServer:
    """Runs an async fake server (FakeTelegramAPI, RasaEventsStub) on its own event loop in a thread, so a
    synchronous TestClient request can reach it without deadlocking the test's loop."""

    def __init__(self, server: Any) -> None:
        import asyncio

        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Any:
        import asyncio

        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@dataclass(frozen=True)
class Seeded:
    sender_id: str
    web_sender_id: str
    customer_id: int
    ticket_ref: str
    low_survey_id: int
    user_event_ids: dict[str, int]
    chat_id: int


def create_customer(
    number: str = "MN100001",
    phone: str = "+905321234567",
    first_name: str = "Ayşe",
    last_name: str = "Yılmaz",
    tier: str = "Gold",
) -> int:
    from datetime import UTC, date, datetime

    from bot.db.models import Customer, LoyaltyAccount
    from bot.db.session import session_scope

    now = datetime.now(UTC)
    with session_scope(write=True) as session:
        customer = Customer(
            customer_number=number,
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            email="ayse.yilmaz@example.com",
            birth_date=date(1988, 3, 14),
            preferred_language="tr",
            checkin_consent=True,
            checkin_consent_at=now,
            checkin_consent_source="telegram",
            marketing_consent=False,
            created_at=now,
        )
        session.add(customer)
        session.flush()
        session.add(
            LoyaltyAccount(
                customer_id=customer.id, balance=6400, lifetime_points=7200, tier=tier, created_at=now, updated_at=now
            )
        )
        return customer.id


def seed_conversation(tracker: Tracker, chat_id: int = 9001) -> Seeded:
    """A realistic Telegram conversation: greeting, order question with an entity, a fallback, a low-confidence
    turn, a complaint form that opens a ticket, a low CSAT answer; plus a short web conversation."""
    from bot.services import conversations, surveys, tickets

    sender = f"tg-{chat_id}"
    customer_id = create_customer()
    conversations.record_channel(sender, "telegram", customer_id, language="tr")
    ids: dict[str, int] = {}
    tracker.session_started(sender)
    ids["greet"] = tracker.turn(sender, "merhaba", "greet", "Merhaba Ayşe! Size nasıl yardımcı olabilirim?")
    ids["order"] = tracker.user(
        sender,
        "SP1234567 siparişim nerede",
        "track_order",
        0.97,
        entities=[
            {"entity": "order_number", "start": 0, "end": 9, "value": "SP1234567", "extractor": "RegexEntityExtractor"}
        ],
    )
    tracker.action(sender, "action_track_order")
    tracker.slot(sender, "order_number", "SP1234567")
    tracker.bot(
        sender, "Siparişiniz kargoda, yarın teslim edilecek.", buttons=[{"title": "Teşekkürler", "payload": "/thank"}]
    )
    tracker.action(sender, "action_listen")
    ids["fallback"] = tracker.user(
        sender,
        "kargom hala yok ne iş",
        "nlu_fallback",
        0.31,
        ranking=[{"name": "nlu_fallback", "confidence": 0.31}, {"name": "complain", "confidence": 0.29}],
    )
    tracker.action(sender, "action_default_fallback")
    tracker.bot(sender, "Üzgünüm, anlayamadım. Başka türlü yazar mısınız?")
    tracker.action(sender, "action_listen")
    ids["low"] = tracker.user(sender, "şikayet etmek istiyorum", "complain", 0.55)
    tracker.action(sender, "complaint_form")
    tracker.active_loop(sender, "complaint_form")
    tracker.bot(sender, "Şikayetinizi kısaca anlatır mısınız?")
    tracker.action(sender, "action_listen")
    ids["xss"] = tracker.user(sender, "<script>alert('xss')</script> paket ezik geldi", "inform", 0.91)
    tracker.action(sender, "complaint_form")
    tracker.slot(sender, "phone", "+905321234567")
    tracker.active_loop(sender, None)
    ticket = tickets.open_ticket(
        customer_id, "delivery", "Paket ezik geldi", "SP1234567", "telegram", sender, "tr", f"seed-ticket-{chat_id}"
    )
    tracker.bot(sender, f"Kaydınızı {ticket.ref} numarasıyla açtım.")
    tracker.action(sender, "action_listen")
    ids["score"] = tracker.user(sender, "1", "inform", 0.99)
    survey = surveys.record_survey_response(
        "csat", 1, "çok kötü", customer_id, sender, None, "telegram", f"seed-survey-{chat_id}"
    )
    tracker.bot(sender, "Geri bildiriminiz için teşekkürler.")

    web = "web-5b1f8a2c-7e4d-4c3b-9a1e-2d6f0c8b7a91"
    conversations.record_channel(web, "web", None, language="en")
    tracker.session_started(web)
    tracker.turn(web, "hello, where is my refund", "ask_refund", "Let me check.", lang="en", channel="web")
    from bot.services.tracker_events import sync_summaries

    sync_summaries()
    return Seeded(sender, web, customer_id, ticket.ref, survey.response_id, ids, chat_id)
