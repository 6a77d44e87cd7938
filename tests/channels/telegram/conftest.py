"""Fixtures for the Telegram channel: the fake Bot API, a scripted Rasa, and connectors wired to both.

Everything is real except the two remote parties: python-telegram-bot talks HTTP to the fake Bot API on
127.0.0.1, the connector talks HTTP to the Rasa stub on 127.0.0.1, and the journal lives in the migrated
test database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.channels.telegram.connector import ConnectorOptions, TelegramConnector, WebhookConfig
from bot.settings import Settings
from tests.fakes.rasa_stub import RasaStub
from tests.fakes.telegram_api import FakeTelegramAPI

#: Production timings shortened so that every test finishes in a few seconds.
FAST = ConnectorOptions(
    retry_base_s=0.2,
    retry_max_s=1.0,
    scan_interval_s=0.05,
    lease_s=30.0,
    typing_interval_s=0.5,
    poll_timeout_s=1,
    shutdown_grace_s=5.0,
    send_attempts=3,
    send_backoff_s=0.05,
    per_chat_burst=20,
    per_chat_period_s=1,
)

StartConnector = Callable[..., Awaitable[TelegramConnector]]

#: The polite notice a customer gets when Rasa does not answer at once.
NOTICE_TR = "Bir saniye, hemen dönüyorum 🙏"
NOTICE_EN = "One moment please, I'll be right back 🙏"


def settings_for(api: FakeTelegramAPI, rasa: RasaStub, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_token": api.token,
        "telegram_base_url": api.base_url,
        "telegram_base_file_url": api.base_file_url,
        "rasa_host": "127.0.0.1",
        "rasa_port": rasa.port,
        "rasa_request_timeout_s": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest_asyncio.fixture
async def telegram_api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
def rasa_script() -> Callable[..., Any] | None:
    """Override in a test module to give the Rasa stub another script (None: echo)."""
    return None


@pytest_asyncio.fixture
async def rasa(rasa_script: Callable[..., Any] | None) -> AsyncIterator[RasaStub]:
    stub = RasaStub(rasa_script) if rasa_script is not None else RasaStub()
    async with stub:
        yield stub


@pytest_asyncio.fixture
async def start_connector(
    migrated_db: str, telegram_api: FakeTelegramAPI, rasa: RasaStub
) -> AsyncIterator[StartConnector]:
    """``await start_connector(mode="polling", options=FAST, **settings_overrides)``; stopped at teardown."""
    started: list[TelegramConnector] = []

    async def start(
        mode: str = "polling",
        options: ConnectorOptions = FAST,
        webhook: WebhookConfig | None = None,
        **overrides: Any,
    ) -> TelegramConnector:
        connector = TelegramConnector(settings_for(telegram_api, rasa, **overrides), options=options)
        await connector.start(mode, webhook)  # type: ignore[arg-type]
        started.append(connector)
        return connector

    yield start
    for connector in reversed(started):
        await connector.stop()


def journal_rows() -> list[Any]:
    """Every journal row, oldest update first (read through the same engine the connector uses)."""
    from bot.db import session_scope
    from bot.db.models_channels import TelegramUpdate

    with session_scope() as session:
        rows = session.scalars(select(TelegramUpdate).order_by(TelegramUpdate.update_id)).all()
        session.expunge_all()
        return list(rows)


def journal_done() -> bool:
    """There are journal rows and every one is closed (replied or failed)."""
    rows = journal_rows()
    return bool(rows) and all(r.status in ("replied", "failed") for r in rows)


@dataclasses.dataclass
class Channel:
    """One test's Telegram set-up: the fake Bot API, the Rasa stub, and ``start`` for connectors wired to both."""

    api: FakeTelegramAPI
    rasa: RasaStub
    start: StartConnector

    async def open(
        self, user_id: int, first_name: str = "Ayşe", language_code: str | None = "tr", **start: Any
    ) -> tuple[dict[str, Any], TelegramConnector]:
        """A user who has started the bot, and a started connector (``start`` takes ``start_connector``'s arguments)."""
        user = self.api.user(user_id, first_name, language_code)
        return user, await self.start(**start)

    async def settled(self, chat_id: int, count: int, timeout: float = 10.0, quiet_s: float = 0.0) -> None:
        """``count`` messages were sent to the chat and the journal is done; then ``quiet_s`` more for stragglers."""
        await self.api.wait_for_messages(chat_id, count, timeout=timeout)
        await self.api.wait_for(journal_done, message="journal done")
        if quiet_s:
            await asyncio.sleep(quiet_s)


@pytest.fixture
def channel(start_connector: StartConnector, telegram_api: FakeTelegramAPI, rasa: RasaStub) -> Channel:
    """The fake Bot API, the Rasa stub and ``start_connector`` together (the connectors stop at teardown)."""
    return Channel(api=telegram_api, rasa=rasa, start=start_connector)
