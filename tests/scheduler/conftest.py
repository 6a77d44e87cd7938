"""Fixtures for the outreach tests: a data builder, the Rasa trigger stub, the fake Telegram Bot API.

Every data-touching test runs on SQLite and PostgreSQL (``migrated_db``). Quiet hours are switched off by
default (start == end) so tests do not depend on the wall clock; the quiet-hours tests pass explicit times.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramAPI
from tests.scheduler.rasa_trigger_stub import RasaTriggerStub

ROOT = Path(__file__).resolve().parents[2]
RASA_TOKEN = "test-rasa-token"
_serial = itertools.count(300001)


@pytest.fixture
def outreach_env(migrated_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("QUIET_HOURS_START", "00:00")
    monkeypatch.setenv("QUIET_HOURS_END", "00:00")
    monkeypatch.setenv("RASA_TOKEN", RASA_TOKEN)
    monkeypatch.setenv("OUTREACH_LEASE_SECONDS", "3")
    from bot.settings import get_settings

    get_settings.cache_clear()
    return migrated_db


@pytest.fixture
def rasa(outreach_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RasaTriggerStub]:
    with RasaTriggerStub(RASA_TOKEN) as stub:
        monkeypatch.setenv("RASA_HOST", "127.0.0.1")
        monkeypatch.setenv("RASA_PORT", str(stub.port))
        from bot.settings import get_settings

        get_settings.cache_clear()
        yield stub


@pytest.fixture
async def telegram_api(outreach_env: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        monkeypatch.setenv("TELEGRAM_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
        monkeypatch.setenv("TELEGRAM_BASE_FILE_URL", api.base_file_url)
        from bot.settings import get_settings

        get_settings.cache_clear()
        yield api


@dataclass
class World:
    """Creates rows directly (committed), the way the shop and earlier conversations would have."""

    def customer(
        self,
        *,
        first_name: str = "Ayşe",
        last_name: str = "Yılmaz",
        language: str = "tr",
        checkin: bool = True,
        marketing: bool = False,
        tier: str | None = "Gold",
        points: int = 1250,
        chat_id: int | None = None,
        telegram: bool = True,
        web: bool = False,
        reachable: bool = True,
        opted_out: bool = False,
        timezone: str | None = None,
        birth_date: date | None = None,
        api: FakeTelegramAPI | None = None,
    ) -> int:
        from bot.db.models import ChannelIdentity, Customer, LoyaltyAccount
        from bot.db.session import session_scope

        serial = next(_serial)
        now = datetime.now(UTC)
        with session_scope(write=True) as session:
            customer = Customer(
                customer_number=f"MN{serial:06d}",
                first_name=first_name,
                last_name=last_name,
                phone=f"+90532{serial:07d}",
                preferred_language=language,
                timezone=timezone,
                birth_date=birth_date,
                checkin_consent=checkin,
                checkin_consent_at=now if checkin else None,
                marketing_consent=marketing,
                marketing_consent_at=now if marketing else None,
                opted_out_at=now if opted_out else None,
                created_at=now,
            )
            session.add(customer)
            session.flush()
            if tier is not None:
                session.add(
                    LoyaltyAccount(
                        customer_id=customer.id,
                        balance=points,
                        lifetime_points=max(points, 0),
                        tier=tier,
                        created_at=now,
                        updated_at=now,
                    )
                )
            if telegram:
                chat = chat_id or 7_000_000 + serial
                session.add(
                    ChannelIdentity(
                        channel="telegram",
                        external_id=f"tg-{chat}",
                        customer_id=customer.id,
                        reachable=reachable,
                        identification_failures=0,
                        first_seen=now,
                        last_seen=now,
                    )
                )
                if api is not None:
                    api.user(chat, first_name=first_name)
            if web:
                session.add(
                    ChannelIdentity(
                        channel="web",
                        external_id=f"web-00000000-0000-4000-8000-{serial:012d}",
                        customer_id=customer.id,
                        reachable=reachable,
                        identification_failures=0,
                        first_seen=now,
                        last_seen=now - timedelta(minutes=1),
                    )
                )
            return customer.id

    def chat_of(self, customer_id: int) -> int:
        from sqlalchemy import select

        from bot.db.models import ChannelIdentity
        from bot.db.session import session_scope

        with session_scope() as session:
            external = session.scalars(
                select(ChannelIdentity.external_id).where(
                    ChannelIdentity.customer_id == customer_id, ChannelIdentity.channel == "telegram"
                )
            ).one()
        return int(external[3:])

    def sender_of(self, customer_id: int, channel: str = "telegram") -> str:
        from sqlalchemy import select

        from bot.db.models import ChannelIdentity
        from bot.db.session import session_scope

        with session_scope() as session:
            return session.scalars(
                select(ChannelIdentity.external_id).where(
                    ChannelIdentity.customer_id == customer_id, ChannelIdentity.channel == channel
                )
            ).one()

    def conversation(self, customer_id: int, *, last_seen: datetime, sender_id: str | None = None) -> str:
        from bot.db.models import Conversation
        from bot.db.session import session_scope

        sender = sender_id or self.sender_of(customer_id)
        with session_scope(write=True) as session:
            session.add(
                Conversation(
                    sender_id=sender,
                    channel="telegram" if sender.startswith("tg-") else "web",
                    customer_id=customer_id,
                    language="tr",
                    first_seen=last_seen - timedelta(minutes=20),
                    last_seen=last_seen,
                )
            )
        return sender

    def ticket(
        self,
        customer_id: int,
        *,
        created_at: datetime,
        conversation_id: str | None = None,
        status: str = "open",
        resolved_at: datetime | None = None,
    ) -> int:
        from bot.db.models import Ticket
        from bot.db.session import session_scope

        serial = next(_serial)
        with session_scope(write=True) as session:
            ticket = Ticket(
                customer_id=customer_id,
                category="delivery",
                description="Kargo gecikti",
                status=status,
                priority="normal",
                channel="telegram",
                conversation_id=conversation_id,
                language="tr",
                idempotency_key=f"test-ticket-{serial}",
                created_at=created_at,
                updated_at=created_at,
                first_response_due_at=created_at + timedelta(hours=24),
                resolved_at=resolved_at,
            )
            session.add(ticket)
            session.flush()
            ticket.ref = f"T-{created_at.year}-{ticket.id:06d}"
            return ticket.id

    def set_ticket_status(self, ticket_id: int, status: str) -> None:
        from bot.db.models import Ticket
        from bot.db.session import session_scope

        with session_scope(write=True) as session:
            session.get(Ticket, ticket_id).status = status  # type: ignore[union-attr]

    def outbox(self, **filters: Any) -> list[Any]:
        from sqlalchemy import select

        from bot.db.models_outreach import OutboxMessage
        from bot.db.session import session_scope

        with session_scope() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            for key, value in filters.items():
                query = query.where(getattr(OutboxMessage, key) == value)
            return list(session.scalars(query))


@pytest.fixture
def world(outreach_env: str) -> World:
    return World()


def campaign_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "Altın üyeler memnuniyet",
        "survey_type": "csat",
        "template_tr": "Merhaba {first_name}, {tier} üyemiz olarak {points} puanınız var. Bizi puanlar mısınız?",
        "template_en": "Hi {first_name}, as a {tier} member you have {points} points. Would you rate us?",
        "segment": {},
        "schedule_kind": "once",
        "run_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
    }
    spec.update(overrides)
    return spec


def sender_subprocess(env_overrides: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    """``python -m bot.scheduler --sender-only ...`` with the test's settings (real process, real signals)."""
    env = dict(os.environ)
    env.update(env_overrides)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.scheduler", "--sender-only", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
