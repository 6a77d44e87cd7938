"""Every customer message is stored in Rasa exactly once, and answered exactly once, even when a request to
Rasa ends without an answer although Rasa handled it (slow Rasa, an error on the way back, a restart of the
connector mid-request) — and nothing is lost when a request never reached Rasa at all.

Rasa is the stub HTTP server on 127.0.0.1 (tests/fakes/rasa_stub.py) with a tracker like Rasa's; the
connector is unmodified and talks real HTTP to it, with a short timeout.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.channels import rasa_tracker
from tests.channels.telegram.conftest import FAST, NOTICE_EN, NOTICE_TR, Channel, journal_rows
from tests.fakes.rasa_stub import RasaRequest, RasaStub


def _stored(rasa: RasaStub, sender: str) -> list[str]:
    return [event["text"] for event in rasa.user_events(sender)]


async def test_slow_rasa_that_stored_the_message_is_not_sent_it_again(channel: Channel) -> None:
    def script(request: RasaRequest) -> list[dict[str, Any]]:
        if request.message == "puanım":
            return [{"text": "Puanınız 120."}, {"text": "Başka?", "buttons": [{"title": "Evet", "payload": "/affirm"}]}]
        return [{"text": f"echo: {request.message}"}]

    api, rasa = channel.api, channel.rasa
    rasa.script = script
    # Rasa handles the message at once but answers only after 1.5 s; the connector gives up after 0.4 s.
    rasa.answer_delay = 1.5
    user, _ = await channel.open(7001, "Ayşe", "tr", rasa_request_timeout_s=0.4)
    api.enqueue_text(user, "puanım")
    await api.wait_for_messages(7001, 1)
    rasa.answer_delay = 0.0
    api.enqueue_text(user, "teşekkürler")  # waits behind the first message
    # Then the first request's late answer comes and goes; nothing more may follow.
    await channel.settled(7001, 4, quiet_s=1.6)

    assert api.texts(7001) == [NOTICE_TR, "Puanınız 120.", "Başka?", "echo: teşekkürler"]
    assert api.sent(7001)[2].button_titles == ["Evet"]
    # Stored exactly once, in order; the first message was never posted to Rasa a second time.
    assert _stored(rasa, "tg-7001") == ["puanım", "teşekkürler"]
    assert rasa.attempts == 2
    assert rasa.tracker_reads >= 1
    first, second = journal_rows()
    assert first.status == "replied" and first.attempts == 1  # one timed-out attempt, then the tracker
    assert second.status == "replied" and second.attempts == 0


async def test_server_error_after_rasa_stored_the_message_delivers_the_stored_answer(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    rasa.fail_next(1, status=502, after_handling=True)
    user, _ = await channel.open(7002, "John", "en")
    api.enqueue_text(user, "where is my order")
    await channel.settled(7002, 2, quiet_s=0.5)
    assert api.texts(7002) == [NOTICE_EN, "echo: where is my order"]
    assert _stored(rasa, "tg-7002") == ["where is my order"]
    assert rasa.attempts == 1


async def test_message_that_never_reached_rasa_is_sent_once_when_rasa_is_back(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    user, _ = await channel.open(7003, "John", "en")
    await rasa.go_down()  # connection refused: the request certainly never reached Rasa
    api.enqueue_text(user, "hello")
    await api.wait_for_messages(7003, 1)
    await api.wait_for(lambda: journal_rows()[0].attempts >= 3, message="several refused attempts")
    assert journal_rows()[0].status == "received"
    await rasa.come_back()
    await channel.settled(7003, 2, quiet_s=0.5)
    assert api.texts(7003) == [NOTICE_EN, "echo: hello"]
    assert _stored(rasa, "tg-7003") == ["hello"]
    assert rasa.attempts == 1
    # Nothing could have reached Rasa, so there was no reason to look in its tracker.
    assert rasa.tracker_reads == 0


async def test_doubt_survives_rasa_going_down_before_the_tracker_could_be_read(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    rasa.answer_delay = 1.0
    slow_retries = dataclasses.replace(FAST, retry_base_s=0.8, retry_max_s=0.8)
    user, _ = await channel.open(7004, "Ayşe", "tr", options=slow_retries, rasa_request_timeout_s=0.3)
    api.enqueue_text(user, "iade")
    await api.wait_for_messages(7004, 1)  # timed out, Rasa has it
    await rasa.go_down()
    # The tracker cannot be read (connection refused): the update is retried and stays "Rasa may have it".
    await api.wait_for(lambda: journal_rows()[0].attempts >= 2, message="a refused tracker read")
    [row] = journal_rows()
    assert row.status == "received" and row.rasa_may_have_it
    await rasa.come_back()
    await channel.settled(7004, 2, quiet_s=0.5)
    assert api.texts(7004) == [NOTICE_TR, "echo: iade"]
    assert _stored(rasa, "tg-7004") == ["iade"]
    assert rasa.attempts == 1


async def test_restart_during_a_slow_answer_delivers_the_stored_answer_without_resending(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    rasa.answer_delay = 3.0
    user, first = await channel.open(7005, "Ayşe", "tr", options=dataclasses.replace(FAST, shutdown_grace_s=0.0))
    api.enqueue_text(user, "kargom")
    await api.wait_for(lambda: len(rasa.requests) == 1, message="Rasa handled it")
    await first.stop()  # the process stops while Rasa's answer is still on its way
    [row] = journal_rows()
    assert row.status == "received" and row.rasa_may_have_it
    rasa.answer_delay = 0.0
    await channel.start()
    await channel.settled(7005, 1, quiet_s=0.5)
    assert api.texts(7005) == ["echo: kargom"]
    assert _stored(rasa, "tg-7005") == ["kargom"]
    assert rasa.attempts == 1


async def test_restart_before_rasa_handled_the_message_sends_it_once(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    rasa.delay = 1.0  # slow *before* handling: the stopped connector's request is abandoned, as in Rasa
    user, first = await channel.open(7006, "Ayşe", "tr", options=dataclasses.replace(FAST, shutdown_grace_s=0.0))
    api.enqueue_text(user, "iade")
    await api.wait_for(lambda: rasa.attempts == 1, message="request in flight")
    await first.stop()
    rasa.delay = 0.0
    await channel.start()
    await channel.settled(7006, 1)
    await api.wait_for(lambda: rasa.abandoned == 1, message="first request abandoned")
    assert api.texts(7006) == ["echo: iade"]
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
