"""Every customer message is stored in Rasa exactly once, and answered exactly once, even when a request to
Rasa ends without an answer although Rasa handled it (slow Rasa, an error on the way back, a restart of the
connector mid-request) — and nothing is lost when a request never reached Rasa at all.

Rasa is the stub HTTP server on 127.0.0.1 (tests/fakes/rasa_stub.py) with a tracker like Rasa's; the
connector is unmodified and talks real HTTP to it, with a short timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from bot.channels import rasa_tracker
from tests.channels.telegram.conftest import FAST, journal_rows
from tests.fakes.rasa_stub import RasaRequest, RasaStub
from tests.fakes.telegram_api import FakeTelegramAPI

NOTICE_TR = "Bir saniye, hemen dönüyorum 🙏"
NOTICE_EN = "One moment please, I'll be right back 🙏"


def _done() -> bool:
    rows = journal_rows()
    return bool(rows) and all(r.status in ("replied", "failed") for r in rows)


def _stored(rasa: RasaStub, sender: str) -> list[str]:
    return [event["text"] for event in rasa.user_events(sender)]


async def test_slow_rasa_that_stored_the_message_is_not_sent_it_again(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub
) -> None:
    def script(request: RasaRequest) -> list[dict[str, Any]]:
        if request.message == "puanım":
            return [{"text": "Puanınız 120."}, {"text": "Başka?", "buttons": [{"title": "Evet", "payload": "/affirm"}]}]
        return [{"text": f"echo: {request.message}"}]

    rasa.script = script
    user = telegram_api.user(7001, "Ayşe", "tr")
    # Rasa handles the message at once but answers only after 1.5 s; the connector gives up after 0.4 s.
    rasa.answer_delay = 1.5
    await start_connector(rasa_request_timeout_s=0.4)
    telegram_api.enqueue_text(user, "puanım")
    await telegram_api.wait_for_messages(7001, 1)
    rasa.answer_delay = 0.0
    telegram_api.enqueue_text(user, "teşekkürler")  # waits behind the first message
    await telegram_api.wait_for_messages(7001, 4, timeout=10)
    await telegram_api.wait_for(_done, message="journal done")
    await asyncio.sleep(1.6)  # the first request's late answer has come and gone; nothing more may follow

    assert telegram_api.texts(7001) == [NOTICE_TR, "Puanınız 120.", "Başka?", "echo: teşekkürler"]
    assert telegram_api.sent(7001)[2].button_titles == ["Evet"]
    # Stored exactly once, in order; the first message was never posted to Rasa a second time.
    assert _stored(rasa, "tg-7001") == ["puanım", "teşekkürler"]
    assert rasa.attempts == 2
    assert rasa.tracker_reads >= 1
    first, second = journal_rows()
    assert first.status == "replied" and first.attempts == 1  # one timed-out attempt, then the tracker
    assert second.status == "replied" and second.attempts == 0


async def test_server_error_after_rasa_stored_the_message_delivers_the_stored_answer(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub
) -> None:
    user = telegram_api.user(7002, "John", "en")
    rasa.fail_next(1, status=502, after_handling=True)
    await start_connector()
    telegram_api.enqueue_text(user, "where is my order")
    await telegram_api.wait_for_messages(7002, 2, timeout=10)
    await telegram_api.wait_for(_done, message="journal done")
    await asyncio.sleep(0.5)
    assert telegram_api.texts(7002) == [NOTICE_EN, "echo: where is my order"]
    assert _stored(rasa, "tg-7002") == ["where is my order"]
    assert rasa.attempts == 1


async def test_message_that_never_reached_rasa_is_sent_once_when_rasa_is_back(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub
) -> None:
    user = telegram_api.user(7003, "John", "en")
    await start_connector()
    await rasa.go_down()  # connection refused: the request certainly never reached Rasa
    telegram_api.enqueue_text(user, "hello")
    await telegram_api.wait_for_messages(7003, 1)
    await telegram_api.wait_for(lambda: journal_rows()[0].attempts >= 3, message="several refused attempts")
    assert journal_rows()[0].status == "received"
    await rasa.come_back()
    await telegram_api.wait_for_messages(7003, 2, timeout=10)
    await telegram_api.wait_for(_done, message="journal done")
    await asyncio.sleep(0.5)
    assert telegram_api.texts(7003) == [NOTICE_EN, "echo: hello"]
    assert _stored(rasa, "tg-7003") == ["hello"]
    assert rasa.attempts == 1
    # Nothing could have reached Rasa, so there was no reason to look in its tracker.
    assert rasa.tracker_reads == 0


async def test_doubt_survives_rasa_going_down_before_the_tracker_could_be_read(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub
) -> None:
    user = telegram_api.user(7004, "Ayşe", "tr")
    rasa.answer_delay = 1.0
    await start_connector(options=dataclasses.replace(FAST, retry_base_s=0.8, retry_max_s=0.8),
                          rasa_request_timeout_s=0.3)
    telegram_api.enqueue_text(user, "iade")
    await telegram_api.wait_for_messages(7004, 1)  # timed out, Rasa has it
    await rasa.go_down()
    # The tracker cannot be read (connection refused): the update is retried and stays "Rasa may have it".
    await telegram_api.wait_for(lambda: journal_rows()[0].attempts >= 2, message="a refused tracker read")
    [row] = journal_rows()
    assert row.status == "received" and row.rasa_may_have_it
    await rasa.come_back()
    await telegram_api.wait_for_messages(7004, 2, timeout=10)
    await telegram_api.wait_for(_done, message="journal done")
    await asyncio.sleep(0.5)
    assert telegram_api.texts(7004) == [NOTICE_TR, "echo: iade"]
    assert _stored(rasa, "tg-7004") == ["iade"]
    assert rasa.attempts == 1


async def test_restart_during_a_slow_answer_delivers_the_stored_answer_without_resending(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub
) -> None:
    user = telegram_api.user(7005, "Ayşe", "tr")
    rasa.answer_delay = 3.0
    first = await start_connector(options=dataclasses.replace(FAST, shutdown_grace_s=0.0))
    telegram_api.enqueue_text(user, "kargom")
    await telegram_api.wait_for(lambda: len(rasa.requests) == 1, message="Rasa handled it")
    await first.stop()  # the process stops while Rasa's answer is still on its way
    [row] = journal_rows()
    assert row.status == "received" and row.rasa_may_have_it
    rasa.answer_delay = 0.0
    await start_connector()
    await telegram_api.wait_for_messages(7005, 1)
    await telegram_api.wait_for(_done, message="journal done")
    await asyncio.sleep(0.5)
    assert telegram_api.texts(7005) == ["echo: kargom"]
    assert _stored(rasa, "tg-7005") == ["kargom"]
    assert rasa.attempts == 1


async def test_restart_before_rasa_handled_the_message_sends_it_once(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub
) -> None:
    user = telegram_api.user(7006, "Ayşe", "tr")
    rasa.delay = 1.0  # slow *before* handling: the stopped connector's request is abandoned, as in Rasa
    first = await start_connector(options=dataclasses.replace(FAST, shutdown_grace_s=0.0))
    telegram_api.enqueue_text(user, "iade")
    await telegram_api.wait_for(lambda: rasa.attempts == 1, message="request in flight")
    await first.stop()
    rasa.delay = 0.0
    await start_connector()
    await telegram_api.wait_for_messages(7006, 1)
    await telegram_api.wait_for(_done, message="journal done")
    await telegram_api.wait_for(lambda: rasa.abandoned == 1, message="first request abandoned")
    assert telegram_api.texts(7006) == ["echo: iade"]
    assert _stored(rasa, "tg-7006") == ["iade"]
    assert rasa.tracker_reads >= 1  # looked first, found nothing, sent it


# -- reading the tracker ---------------------------------------------------------------------------------------


def _bot(text: str | None = None, **data: Any) -> dict[str, Any]:
    return {"event": "bot", "text": text, "data": data, "metadata": {}}


def _user(update_id: int | str, text: str = "x") -> dict[str, Any]:
    return {"event": "user", "text": text, "metadata": {"channel": "telegram", "telegram_update_id": update_id}}


LISTEN = {"event": "action", "name": "action_listen"}
BUTTON = {"title": "A", "payload": "/a"}


def test_recorded_answer_is_the_bot_turn_after_the_matching_user_event() -> None:
    events = [
        _user(1), _bot("eski"), LISTEN,
        _user(2), {"event": "slot", "name": "x", "value": 1}, _bot("bir"), _bot("iki"), LISTEN,
        _bot("later, not part of the turn"),
        _user(3), _bot("üç"), LISTEN,
    ]
    tracker = {"events": events}
    assert rasa_tracker.recorded_answer(tracker, "telegram_update_id", 2) == [{"text": "bir"}, {"text": "iki"}]
    assert rasa_tracker.recorded_answer(tracker, "telegram_update_id", 3) == [{"text": "üç"}]
    assert rasa_tracker.recorded_answer(tracker, "telegram_update_id", "1") == [{"text": "eski"}]
    assert rasa_tracker.recorded_answer(tracker, "telegram_update_id", 4) is None
    # A paused conversation records the message but the bot says nothing until the next message.
    paused = {"events": [_user(5), _user(6), _bot("sonra")]}
    assert rasa_tracker.recorded_answer(paused, "telegram_update_id", 5) == []
    assert rasa_tracker.recorded_answer({}, "telegram_update_id", 5) is None


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_bot("a\n\nb"), [{"text": "a"}, {"text": "b"}]),
        (_bot("seç", buttons=[BUTTON]), [{"text": "seç", "buttons": [BUTTON]}]),
        (_bot("hızlı", quick_replies=[BUTTON]), [{"text": "hızlı", "buttons": [BUTTON]}]),
        (_bot("foto", image="https://x/p.png", attachment="https://x/p.png"), [{"text": "foto"}, {"image": "https://x/p.png"}]),
        (_bot(None, custom={"request_contact": True}), [{"custom": {"request_contact": True}}]),
        (_bot(None, elements=[{"title": "T", "subtitle": "S"}]), [{"text": "T : S", "buttons": []}]),
    ],
)
def test_bot_events_become_the_messages_rasas_rest_channel_returns(
    event: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    assert rasa_tracker.rest_messages(event) == expected
