"""Fixtures for the Telegram channel: the fake Bot API, a scripted Rasa, and connectors wired to both.

Everything is real except the two remote parties: python-telegram-bot talks HTTP to the fake Bot API on
127.0.0.1, the connector talks HTTP to the Rasa stub on 127.0.0.1, and the journal lives in the migrated
test database (SQLite and PostgreSQL).
"""

from __future__ import annotations

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
