"""TelegramSender on its own, as the scheduler (check-ins) and the console (agent replies) use it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.channels.telegram import payloads
from bot.channels.telegram.ratelimit import PerChatRateLimiter
from bot.channels.telegram.rendering import long_payload_key
from bot.channels.telegram.sender import (
    DeliveryDeferred,
    RecipientUnreachable,
    TelegramSender,
    build_bot,
)
from bot.services import reachability
from bot.settings import Settings
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


def _settings(api: FakeTelegramAPI) -> Settings:
    return Settings(telegram_token=api.token, telegram_base_url=api.base_url,
                    telegram_base_file_url=api.base_file_url)


@pytest_asyncio.fixture
async def sender(migrated_db: str, telegram_api: FakeTelegramAPI) -> AsyncIterator[TelegramSender]:
    async with TelegramSender.from_settings(_settings(telegram_api), backoff_s=0.05) as sender:
        yield sender


async def test_check_in_with_buttons_is_delivered_like_the_connector_renders_it(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.user(8001, "Ayşe", "tr")
    long_payload = '/csat_score{"score": 5, "campaign_id": 42, "idempotency_key": "checkin-42-8001-abcdef"}'
    ids = await sender.send_rasa_messages(8001, [
        {"text": "Siparişinizden memnun kaldınız mı? <1-5>"},
        {"text": "Puanınız:", "buttons": [{"title": "5 ⭐", "payload": long_payload},
                                          {"title": "1", "payload": "/csat_score{\"score\": 1}"}]},
    ])
    sent = telegram_api.sent(8001)
    assert ids == [m.message_id for m in sent]
    assert [m.text for m in sent] == ["Siparişinizden memnun kaldınız mı? <1-5>", "Puanınız:"]
    key = sent[1].callback_data("5 ⭐")
    assert key == long_payload_key(long_payload)
    # A press on that button will resolve, in any process sharing the database.
    assert payloads.resolve(key) == long_payload
    assert sent[1].callback_data("1") == '/csat_score{"score": 1}'


async def test_blocked_recipient_is_marked_unreachable(sender: TelegramSender, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.user(8002, "Ayşe", "tr")
    telegram_api.block_chat(8002)
    with pytest.raises(RecipientUnreachable) as caught:
        await sender.send_rasa_messages(8002, [{"text": "Merhaba"}])
    assert caught.value.reason == "blocked"
    assert not reachability.is_reachable("telegram", "tg-8002")
    assert len(telegram_api.calls_of("sendMessage", 8002)) == 1  # not retried


async def test_unknown_chat_is_unreachable(sender: TelegramSender, telegram_api: FakeTelegramAPI) -> None:
    with pytest.raises(RecipientUnreachable) as caught:
        await sender.send_rasa_messages(8999, [{"text": "Merhaba"}])
    assert caught.value.reason == "chat_not_found"
    assert not reachability.is_reachable("telegram", "tg-8999")


async def test_server_errors_are_retried_then_deferred(sender: TelegramSender, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.user(8003, "Ayşe", "tr")
    telegram_api.fail_next(2, status=500)
    await sender.send_rasa_messages(8003, [{"text": "bir"}])
    assert telegram_api.texts(8003) == ["bir"]
    assert [c.status for c in telegram_api.calls_of("sendMessage", 8003)] == [500, 500, 200]

    telegram_api.fail_next(10, status=502)
    with pytest.raises(DeliveryDeferred) as caught:
        await sender.send_rasa_messages(8003, [{"text": "iki"}])
    assert caught.value.reason.startswith("telegram_network")
    assert telegram_api.texts(8003) == ["bir"]
    assert reachability.is_reachable("telegram", "tg-8003")


async def test_flood_control_beyond_the_limiters_retries_defers_with_retry_after(
    migrated_db: str, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.user(8004, "Ayşe", "tr")
    bot = build_bot(_settings(telegram_api), rate_limiter=PerChatRateLimiter(max_retries=0))
    async with TelegramSender(bot, owns_bot=True) as sender:
        telegram_api.fail_next(1, status=429, retry_after=2, methods={"sendMessage"})
        with pytest.raises(DeliveryDeferred) as caught:
            await sender.send_rasa_messages(8004, [{"text": "kampanya"}])
    assert caught.value.retry_after == 2


async def test_per_chat_rate_limit_spaces_one_chat_but_not_others(
    migrated_db: str, telegram_api: FakeTelegramAPI
) -> None:
    for chat in (8005, 8006):
        telegram_api.user(chat, "Ayşe", "tr")
    limiter = PerChatRateLimiter(per_chat_max_rate=1, per_chat_time_period=0.25)
    async with TelegramSender(build_bot(_settings(telegram_api), rate_limiter=limiter), owns_bot=True) as sender:
        started = time.monotonic()

        async def burst(chat: int, count: int) -> float:
            await sender.send_rasa_messages(chat, [{"text": f"m{i}"} for i in range(count)])
            return time.monotonic() - started

        slow, fast = await asyncio.gather(burst(8005, 5), burst(8006, 1))
    assert slow >= 0.9  # 5 messages at 4/s
    assert fast < slow
    arrivals = [c.at for c in telegram_api.calls_of("sendMessage", 8005)]
    assert all(b - a >= 0.2 for a, b in zip(arrivals, arrivals[1:], strict=False))
    # The other chat is not held back: its message does not wait behind the first chat's queue. Compared by
    # order of arrival, not by wall-clock ratios, which a loaded machine stretches.
    [other] = [c.at for c in telegram_api.calls_of("sendMessage", 8006)]
    assert other < arrivals[2]


async def test_keyboard_removal_and_callback_answers_are_best_effort(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.user(8007, "Ayşe", "tr")
    [message_id] = await sender.send_rasa_messages(8007, [{"text": "?", "buttons": [{"title": "A", "payload": "/a"}]}])
    await sender.remove_inline_keyboard(8007, message_id)
    await sender.remove_inline_keyboard(8007, message_id)  # "message is not modified": no exception
    await sender.remove_inline_keyboard(8007, 424242)  # "message to edit not found": no exception
    await sender.answer_callback("never-issued")  # "query is too old": no exception
    assert telegram_api.sent(8007)[0].inline_keyboard is None
    statuses: list[Any] = [c.status for c in telegram_api.calls_of("editMessageReplyMarkup")]
    assert statuses == [200, 400, 400]
