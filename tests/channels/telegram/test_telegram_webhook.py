"""Webhook mode: Telegram pushes updates; only requests with the secret token are accepted."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from bot.channels.telegram.connector import WebhookConfig
from tests.channels.telegram.conftest import journal_rows
from tests.fakes.rasa_stub import RasaStub
from tests.fakes.telegram_api import FakeTelegramAPI

SECRET = "s3cret_Token-for-tests"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def webhook() -> WebhookConfig:
    port = _free_port()
    return WebhookConfig(listen="127.0.0.1", port=port, url=f"http://127.0.0.1:{port}/telegram/webhook",
                         secret_token=SECRET)


async def test_webhook_registers_and_handles_pushed_updates(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub, webhook: WebhookConfig
) -> None:
    user = telegram_api.user(7001, "Ayşe", "tr")
    await start_connector(mode="webhook", webhook=webhook)
    assert telegram_api.webhook_url == webhook.url
    assert telegram_api.webhook_secret == SECRET
    [registration] = telegram_api.calls_of("setWebhook")
    assert registration.params["allowed_updates"] == ["message", "callback_query", "my_chat_member"]

    telegram_api.enqueue_text(user, "merhaba")
    telegram_api.enqueue_text(user, "nasılsın")
    await telegram_api.wait_for_messages(7001, 2)
    assert telegram_api.texts(7001) == ["echo: merhaba", "echo: nasılsın"]
    assert {status for _, status in telegram_api.webhook_deliveries} == {200}
    assert telegram_api.calls_of("getUpdates") == []


async def test_requests_without_the_right_secret_get_403_and_are_ignored(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub, webhook: WebhookConfig
) -> None:
    user = telegram_api.user(7002, "Ayşe", "tr")
    await start_connector(mode="webhook", webhook=webhook)
    forged = {"update_id": 999_000_001, "message": {
        "message_id": 1, "date": 0, "chat": {"id": 7002, "type": "private", "first_name": "Ayşe"}, "from": user,
        "contact": {"phone_number": "+905321234567", "first_name": "Ayşe", "user_id": 7002},
    }}
    assert await telegram_api.post_to_webhook(forged) == 403
    assert await telegram_api.post_to_webhook(forged, secret_token="wrong-secret") == 403
    assert await telegram_api.post_to_webhook(forged, secret_token=SECRET.upper()) == 403
    await asyncio.sleep(0.3)
    assert journal_rows() == []
    assert rasa.requests == []
    assert telegram_api.sent(7002) == []

    # The same update with the right secret is accepted.
    assert await telegram_api.post_to_webhook(forged, secret_token=SECRET) == 200
    await telegram_api.wait_for_messages(7002, 1)
    assert rasa.messages_from("tg-7002") == ["/share_contact"]


async def test_webhook_redelivery_is_handled_once(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub, webhook: WebhookConfig
) -> None:
    user = telegram_api.user(7003, "Ayşe", "tr")
    await start_connector(mode="webhook", webhook=webhook)
    update = telegram_api.enqueue_text(user, "iade istiyorum")
    await telegram_api.wait_for_messages(7003, 1)
    # Telegram did not see our 200 in time and posts the same update again (twice).
    assert await telegram_api.post_to_webhook(update, secret_token=SECRET) == 200
    assert await telegram_api.post_to_webhook(update, secret_token=SECRET) == 200
    await asyncio.sleep(0.5)
    assert telegram_api.texts(7003) == ["echo: iade istiyorum"]
    assert rasa.messages_from("tg-7003") == ["iade istiyorum"]


def test_webhook_mode_refuses_to_start_without_a_secret() -> None:
    from bot.settings import Settings

    settings = Settings(telegram_token="1:x", telegram_mode="webhook", telegram_webhook_url="https://bot.example/tg")
    with pytest.raises(RuntimeError, match="TELEGRAM_WEBHOOK_SECRET"):
        WebhookConfig.from_settings(settings)
    with pytest.raises(RuntimeError, match="TELEGRAM_WEBHOOK_URL"):
        WebhookConfig.from_settings(Settings(telegram_token="1:x", telegram_webhook_secret="abc"))
    config = WebhookConfig.from_settings(Settings(
        telegram_token="1:x", telegram_webhook_url="https://bot.example/tg/hook", telegram_webhook_secret="abc"
    ))
    assert (config.url_path, config.listen) == ("tg/hook", "127.0.0.1")
