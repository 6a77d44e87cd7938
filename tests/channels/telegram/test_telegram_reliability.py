"""Exactly-once, in-order delivery when things go wrong: duplicates, flood control, Rasa or Telegram down,
restarts, blocked users and human takeover."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from bot.services import reachability
from tests.channels.telegram.conftest import FAST, NOTICE_EN, NOTICE_TR, Channel, journal_done, journal_rows
from tests.fakes.rasa_stub import RasaRequest

# PTB itself reads RetryAfter.retry_after when building a 429 error (a deprecation notice of PTB 22).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


async def test_duplicate_deliveries_are_handled_once(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    user, _ = await channel.open(6001, "Ayşe", "tr")
    update = api.enqueue_text(user, "siparişim nerede")
    api.redeliver(update)
    api.redeliver(update)
    await channel.settled(6001, 1)
    # Telegram delivers it once more, long after it was answered.
    api.redeliver(update)
    await api.wait_for(lambda: not api.pending_updates, message="redelivery fetched")
    await asyncio.sleep(0.5)
    assert api.texts(6001) == ["echo: siparişim nerede"]
    assert rasa.messages_from("tg-6001") == ["siparişim nerede"]
    assert [r.update_id for r in journal_rows()] == [update["update_id"]]


async def test_flood_control_storm_delivers_everything_once_in_order_honouring_retry_after(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    users = [api.user(6100 + i, f"U{i}", "tr") for i in range(3)]
    await channel.start()
    api.fail_next(4, status=429, retry_after=1, methods={"sendMessage"})
    for round_ in range(3):
        for user in users:
            api.enqueue_text(user, f"mesaj {round_} from {user['id']}")
    for user in users:
        await api.wait_for_messages(user["id"], 3, timeout=30)
    await api.wait_for(journal_done, timeout=10, message="journal done")
    await asyncio.sleep(0.3)
    for user in users:
        assert api.texts(user["id"]) == [f"echo: mesaj {r} from {user['id']}" for r in range(3)]
        assert rasa.messages_from(f"tg-{user['id']}") == [f"mesaj {r} from {user['id']}" for r in range(3)]
    throttled = [c for c in api.calls if c.status == 429]
    assert len(throttled) == 4
    # After a 429 with retry_after=1, nothing rate-limited was sent for a second (calls already under way
    # when the 429 was answered, within 0.3 s on a busy machine, left before the bot knew).
    limited = [c for c in api.calls if c.method != "getUpdates"]
    for denial in throttled:
        too_early = [c for c in limited if denial.answered_at + 0.3 < c.at < denial.answered_at + 0.98]
        assert too_early == [], f"{[(c.method, c.at - denial.answered_at) for c in too_early]}"


async def test_rasa_down_gets_one_polite_notice_then_everything_is_delivered_in_order(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    rasa.fail_until_recovered(503)
    user, _ = await channel.open(6201, "Ayşe", "tr")
    api.enqueue_text(user, "birinci")
    await api.wait_for_messages(6201, 1)
    api.enqueue_text(user, "ikinci")
    await api.wait_for(lambda: rasa.attempts >= 4, message="several retries")
    assert api.texts(6201) == [NOTICE_TR]
    # Later messages of the chat wait behind the first: Rasa never saw "ikinci" before "birinci".
    assert rasa.requests == []
    rasa.recover()
    await channel.settled(6201, 3)
    assert api.texts(6201) == [NOTICE_TR, "echo: birinci", "echo: ikinci"]
    assert rasa.messages_from("tg-6201") == ["birinci", "ikinci"]
    first = journal_rows()[0]
    assert first.attempts >= 3 and first.wait_notice_sent


async def test_rasa_unreachable_then_back_on_the_same_port(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    user, _ = await channel.open(6202, "John", "en")
    await rasa.go_down()
    api.enqueue_text(user, "hello")
    [notice] = await api.wait_for_messages(6202, 1)
    assert notice.text == NOTICE_EN
    await asyncio.sleep(0.6)  # a few failed retries (connection refused)
    await rasa.come_back()
    await api.wait_for_messages(6202, 2, timeout=10)
    assert api.texts(6202) == [notice.text, "echo: hello"]


async def test_rasa_timeout_is_retried_and_the_customer_gets_one_answer(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    rasa.delay = 2.0
    user, _ = await channel.open(6203, "Ayşe", "tr", rasa_request_timeout_s=0.4)
    api.enqueue_text(user, "puanım")
    await api.wait_for_messages(6203, 1)
    rasa.delay = 0.0
    await channel.settled(6203, 2, quiet_s=2.2)  # let the timed-out request finish inside "Rasa"
    assert api.texts(6203) == [NOTICE_TR, "echo: puanım"]
    # The timed-out request was abandoned by "Rasa" (as Rasa's server does when the client hangs up), the
    # retry looked in the tracker, did not find it, and sent it: stored once.
    assert rasa.messages_from("tg-6203") == ["puanım"]


async def test_restart_in_the_middle_resumes_pending_updates_without_repeating_any(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    users = [api.user(6300 + i, f"U{i}", "tr") for i in range(2)]
    rasa.delay = 0.3
    first = await channel.start()
    for round_ in range(3):
        for user in users:
            api.enqueue_text(user, f"m{round_}")
    await api.wait_for(lambda: sum(len(api.sent(u["id"])) for u in users) >= 2, message="2 replies")
    await first.stop()
    pending = [r for r in journal_rows() if r.status in ("received", "forwarded")]
    assert pending, "the restart should happen with work left over"
    assert all(r.lease_owner is None for r in journal_rows())  # claims were given back

    await channel.start()
    for user in users:
        await api.wait_for_messages(user["id"], 3, timeout=15)
    await api.wait_for(journal_done, message="journal done")
    await asyncio.sleep(0.3)
    for user in users:
        assert api.texts(user["id"]) == ["echo: m0", "echo: m1", "echo: m2"]
        assert rasa.messages_from(f"tg-{user['id']}") == ["m0", "m1", "m2"]
    assert len(journal_rows()) == 6


async def test_hard_stop_during_a_rasa_call_still_answers_once(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    rasa.delay = 1.0
    user, first = await channel.open(6304, "Ayşe", "tr", options=dataclasses.replace(FAST, shutdown_grace_s=0.0))
    api.enqueue_text(user, "iade")
    await api.wait_for(lambda: rasa.attempts == 1, message="request in flight")
    await first.stop()
    [row] = journal_rows()
    assert row.status == "received"
    rasa.delay = 0.0
    await channel.start()
    await channel.settled(6304, 1, quiet_s=1.2)
    assert api.texts(6304) == ["echo: iade"]
    assert rasa.messages_from("tg-6304") == ["iade"]


async def test_answer_interrupted_by_telegram_outage_resumes_at_the_missing_part(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    rasa.script = lambda request: [{"text": "bir"}, {"text": "iki"}, {"text": "üç"}]
    # The first part goes through; the next 5 sends fail (more than the sender's 3 quick attempts).
    api.fail_next(5, status=500, methods={"sendMessage"}, after=1)
    user, _ = await channel.open(6401, "Ayşe", "tr")
    api.enqueue_text(user, "say")
    await channel.settled(6401, 3, timeout=15)
    assert api.texts(6401) == ["bir", "iki", "üç"]
    assert rasa.messages_from("tg-6401") == ["say"]  # the retry did not ask Rasa again
    [row] = journal_rows()
    assert row.attempts >= 1 and row.status == "replied"
    assert len([c for c in api.calls_of("sendMessage", 6401) if c.status == 500]) == 5


async def test_blocked_bot_marks_the_chat_unreachable_and_is_not_retried(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    api.block_chat(6501)
    user, _ = await channel.open(6501, "Ayşe", "tr")
    api.enqueue_text(user, "merhaba")
    await api.wait_for(journal_done, message="journal closed")
    [row] = journal_rows()
    assert row.status == "failed" and row.last_error == "recipient_unreachable:blocked"
    assert row.payload is None
    assert not reachability.is_reachable("telegram", "tg-6501")
    await asyncio.sleep(0.6)
    assert len(api.calls_of("sendMessage", 6501)) == 1
    assert rasa.messages_from("tg-6501") == ["merhaba"]  # the transcript still has it

    # The customer unblocks and writes again: reachable again, answered normally.
    api.unblock_chat(6501)
    api.enqueue_text(user, "tekrar merhaba")
    await api.wait_for_messages(6501, 1)
    assert api.texts(6501) == ["echo: tekrar merhaba"]
    assert reachability.is_reachable("telegram", "tg-6501")


async def test_block_and_unblock_events_update_reachability(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    user, _ = await channel.open(6502, "Ayşe", "tr")
    api.enqueue_my_chat_member(user, "kicked")
    await api.wait_for(lambda: not reachability.is_reachable("telegram", "tg-6502"), message="unreachable")
    api.enqueue_my_chat_member(user, "member")
    await api.wait_for(lambda: reachability.is_reachable("telegram", "tg-6502"), message="reachable")
    assert rasa.requests == []


async def test_chats_are_concurrent_but_each_chat_stays_in_order(channel: Channel) -> None:
    async def script(request: RasaRequest) -> list[dict[str, Any]]:
        if request.sender == "tg-6601":
            await asyncio.sleep(0.4)
        return [{"text": f"echo: {request.message}"}]

    api, rasa = channel.api, channel.rasa
    rasa.script = script
    slow = api.user(6601, "Slow", "tr")
    fast = api.user(6602, "Fast", "tr")
    await channel.start()
    for text in ("a1", "a2", "a3"):
        api.enqueue_text(slow, text)
    api.enqueue_text(fast, "b1")
    await api.wait_for_messages(6602, 1)
    # The fast chat did not wait for the slow one.
    assert len(api.sent(6601)) < 3
    await api.wait_for_messages(6601, 3, timeout=10)
    assert api.texts(6601) == ["echo: a1", "echo: a2", "echo: a3"]
    # Rasa saw the slow chat's messages one after another, never overlapping.
    slow_requests = [r for r in rasa.requests if r.sender == "tg-6601"]
    assert [r.message for r in slow_requests] == ["a1", "a2", "a3"]
    assert all(b.at - a.at >= 0.35 for a, b in zip(slow_requests, slow_requests[1:], strict=False))


async def test_held_conversation_reaches_rasa_but_the_bot_stays_silent(channel: Channel) -> None:
    from bot.services import handover, staff

    api, rasa = channel.api, channel.rasa
    agent = staff.create_user("agent@example.com", "a-long-enough-passphrase", "agent")
    handover.take("tg-6701", agent.id)
    user, _ = await channel.open(6701, "Ayşe", "tr")
    api.enqueue_text(user, "bir temsilciyle konuşuyorum")
    await api.wait_for(journal_done, message="journal done")
    assert rasa.messages_from("tg-6701") == ["bir temsilciyle konuşuyorum"]
    await asyncio.sleep(0.3)
    assert api.sent(6701) == []
    assert api.calls_of("sendChatAction", 6701) == []

    handover.release("tg-6701", agent.id)
    api.enqueue_text(user, "teşekkürler")
    await api.wait_for_messages(6701, 1)
    assert api.texts(6701) == ["echo: teşekkürler"]


async def test_group_chats_and_edits_are_not_handled(channel: Channel) -> None:
    api, rasa = channel.api, channel.rasa
    user, _ = await channel.open(6801, "Ayşe", "tr")
    group_message = {"message_id": 1, "date": 0, "text": "puanım ne", "from": user,
                     "chat": {"id": -100123, "type": "supergroup", "title": "Ailem"}}
    api._enqueue({"message": group_message})
    api._enqueue({"edited_message": {**group_message, "chat": {"id": 6801, "type": "private",
                                                               "first_name": "Ayşe"}}})
    api.enqueue_text(user, "son")
    await api.wait_for_messages(6801, 1)
    assert rasa.requests and [r.message for r in rasa.requests] == ["son"]
    assert len(journal_rows()) == 1


async def test_logs_carry_no_texts_phones_chat_ids_or_tokens(
    channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from bot.channels.telegram.connector import quiet_third_party_loggers

    api = channel.api
    names = ("httpx", "httpcore", "telegram", "telegram.ext", "tornado.access")
    saved = {name: logging.getLogger(name).level for name in names}
    caplog.set_level(logging.DEBUG)
    quiet_third_party_loggers()
    try:
        channel.rasa.fail_next(1)  # exercise the retry path's logging too
        user, _ = await channel.open(987654321, "Ayşe", "tr")
        api.enqueue_text(user, "gizli-metin-42 kargom nerede")
        api.enqueue_contact(user, "0532 765 43 21")
        await channel.settled(987654321, 3)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    logged = "\n".join(record.getMessage() + str(record.args or "") for record in caplog.records)
    assert "update" in logged  # there are log lines, with update ids
    for secret in ("gizli-metin-42", "5327654321", "532 765", "987654321", api.token.split(":")[1]):
        assert secret not in logged


async def test_update_is_not_acknowledged_while_the_journal_is_unavailable(channel: Channel) -> None:
    from sqlalchemy import text

    from bot.db import session_scope

    api, rasa = channel.api, channel.rasa
    user, _ = await channel.open(6901, "Ayşe", "tr")
    api.enqueue_text(user, "önce")
    await channel.settled(6901, 1)

    # The journal table disappears (a real database failure for every statement touching it).
    with session_scope(write=True) as session:
        session.execute(text("ALTER TABLE telegram_updates RENAME TO telegram_updates_offline"))
    fetches_before = len(api.calls_of("getUpdates"))
    update = api.enqueue_text(user, "sonra")
    # PTB keeps fetching it (it was never confirmed), and nothing is sent to Rasa or the customer.
    await api.wait_for(lambda: len(api.calls_of("getUpdates")) >= fetches_before + 2,
                       timeout=10, message="re-fetches")
    assert any(u["update_id"] == update["update_id"] for u in api.pending_updates)
    assert rasa.messages_from("tg-6901") == ["önce"]

    with session_scope(write=True) as session:
        session.execute(text("ALTER TABLE telegram_updates_offline RENAME TO telegram_updates"))
    await api.wait_for_messages(6901, 2, timeout=15)
    assert api.texts(6901) == ["echo: önce", "echo: sonra"]
    assert rasa.messages_from("tg-6901") == ["önce", "sonra"]


async def test_database_outage_right_after_a_send_does_not_send_it_twice(channel: Channel) -> None:
    from sqlalchemy import text

    from bot.db import session_scope

    api, rasa = channel.api, channel.rasa
    rasa.script = lambda request: [{"text": "bir"}, {"text": "iki"}]
    api.set_delay("sendMessage", 0.4)
    user, _ = await channel.open(6902, "Ayşe", "tr")
    api.enqueue_text(user, "merhaba")
    # The first part is on its way to Telegram when the journal becomes unavailable...
    await api.wait_for(lambda: len(api.calls_of("sendMessage", 6902)) == 1, message="sending")
    with session_scope(write=True) as session:
        session.execute(text("ALTER TABLE telegram_updates RENAME TO telegram_updates_offline"))
    await api.wait_for_messages(6902, 1)
    await asyncio.sleep(0.6)  # ...and stays so while the connector wants to record the delivery.
    with session_scope(write=True) as session:
        session.execute(text("ALTER TABLE telegram_updates_offline RENAME TO telegram_updates"))
    await channel.settled(6902, 2, timeout=15, quiet_s=0.3)
    assert api.texts(6902) == ["bir", "iki"]
    assert rasa.messages_from("tg-6902") == ["merhaba"]
