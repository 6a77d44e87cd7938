"""Exactly-once under crashes and concurrency: real sender processes, SIGKILL, restarts, several senders.

The sender runs as ``python -m bot.scheduler --sender-only`` in a subprocess against the fake Telegram Bot
API and the Rasa trigger stub (both real HTTP servers in this test process). ``MEMNUN_FAILPOINT`` makes a
process SIGKILL itself at a chosen step of the delivery protocol; the random-kill test uses a plain
``kill -9`` from outside at whatever moment the process happens to be in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter

from bot.services import campaigns, outreach
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramAPI
from tests.scheduler.conftest import RASA_TOKEN, World, campaign_spec, sender_subprocess
from tests.scheduler.rasa_trigger_stub import RasaTriggerStub

LEASE_S = 1.0
#: Every step boundary of the protocol, in order. The two inside the Telegram window are uncertain.
#: (``before_finish`` is only reached by a row resumed after its last receipt; ``after_record`` of the
#: first part of a two-part NPS message covers "some parts delivered".)
OUTSIDE_WINDOW = ("claimed", "prepared", "after_rasa", "after_store", "after_record")
INSIDE_WINDOW = ("before_send", "after_send")


def _env(db_url: str, rasa: RasaTriggerStub, api: FakeTelegramAPI, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "RASA_HOST": "127.0.0.1",
        "RASA_PORT": str(rasa.port),
        "RASA_TOKEN": RASA_TOKEN,
        "TELEGRAM_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_BASE_URL": api.base_url,
        "TELEGRAM_BASE_FILE_URL": api.base_file_url,
        "QUIET_HOURS_START": "00:00",
        "QUIET_HOURS_END": "00:00",
        "OUTREACH_LEASE_SECONDS": str(LEASE_S),
        "LOG_LEVEL": "WARNING",
        **extra,
    }


async def _wait(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("sender process did not finish in time")
        await asyncio.sleep(0.05)
    return process.returncode


def _queue_campaign(
    world: World, api: FakeTelegramAPI, customers: int, survey_type: str = "csat"
) -> tuple[int, dict[int, int]]:
    ids = [world.customer(first_name=f"Müşteri{n}", api=api) for n in range(customers)]
    info = campaigns.create_campaign(campaign_spec(survey_type=survey_type), "marketer@test")
    campaigns.schedule_campaign(info.id, "marketer@test")
    assert campaigns.run_campaign(info.id).queued == customers
    return info.id, {customer: world.chat_of(customer) for customer in ids}


async def test_kill_at_every_step_never_duplicates(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI, migrated_db: str
) -> None:
    """One process per step, each SIGKILLed there on the step's 2nd hit; the next one resumes; a last one
    drains. NPS check-ins are two Telegram messages (question + scale hint), so resuming mid-row is covered."""
    campaign_id, chats = _queue_campaign(world, telegram_api, 12, "nps")
    env = _env(migrated_db, rasa, telegram_api)
    points = [*OUTSIDE_WINDOW[:3], *INSIDE_WINDOW, *OUTSIDE_WINDOW[3:]]
    for point in points:
        process = sender_subprocess({**env, "MEMNUN_FAILPOINT": f"{point}:2"}, "--concurrency", "1")
        code = await _wait(process)
        assert code == -signal.SIGKILL, f"{point}: expected a SIGKILL, got {code}: {process.stdout.read()!r}"
        # The next process starts at once: it takes other rows, and the dead one's row once its lease ran out.
    await asyncio.sleep(LEASE_S + 0.3)
    final = sender_subprocess(env, "--drain", "--concurrency", "1")
    assert await _wait(final) == 0, final.stdout.read()

    rows = {row.customer_id: row for row in world.outbox(campaign_id=campaign_id)}
    texts = {customer: [m.text for m in telegram_api.sent(chat)] for customer, chat in chats.items()}
    duplicated = {c: t for c, t in texts.items() if max(Counter(t).values(), default=0) > 1}
    assert not duplicated, f"a customer got the same message twice: {duplicated}"
    uncertain = [row for row in rows.values() if row.last_error == outreach.DELIVERY_UNCERTAIN]
    delivered = [row for row in rows.values() if row.state == "delivered"]
    # Kills outside the Telegram window lose nothing; the two inside it are reported, never repeated.
    assert len(uncertain) == len(INSIDE_WINDOW) and all(row.state == "failed" for row in uncertain)
    assert len(delivered) == len(rows) - len(uncertain)
    assert all(len(texts[row.customer_id]) == 2 for row in delivered)
    # before_send:2 died before the 2nd part (1 message arrived); after_send:2 after Telegram took it (2).
    assert sorted(len(texts[row.customer_id]) for row in uncertain) == [1, 2]
    # Rasa is asked again only if the previous process died before storing its answer.
    asked = Counter(call.sender for call in rasa.calls)
    assert sum(asked.values()) <= len(rows) + 1


async def test_at_least_once_policy_resends_the_uncertain_part(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI, migrated_db: str
) -> None:
    """The documented alternative: nobody is missed, at the price of a possible duplicate."""
    campaign_id, chats = _queue_campaign(world, telegram_api, 3)
    env = _env(migrated_db, rasa, telegram_api, OUTREACH_UNCERTAIN_DELIVERY="at_least_once")
    killed = sender_subprocess({**env, "MEMNUN_FAILPOINT": "after_send:1"}, "--concurrency", "1")
    assert await _wait(killed) == -signal.SIGKILL
    await asyncio.sleep(LEASE_S + 0.3)
    assert await _wait(sender_subprocess(env, "--drain", "--concurrency", "1")) == 0
    received = sorted(len(telegram_api.sent(chat)) for chat in chats.values())
    assert received == [1, 1, 2]
    assert {row.state for row in world.outbox(campaign_id=campaign_id)} == {"delivered"}


async def test_restart_in_the_middle_of_a_campaign(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI, migrated_db: str
) -> None:
    """kill -9 from outside at an arbitrary moment mid-campaign, restart: every recipient at most once,
    everyone outside the in-flight window exactly once, nothing left behind."""
    campaign_id, chats = _queue_campaign(world, telegram_api, 30)
    env = _env(migrated_db, rasa, telegram_api)
    process = sender_subprocess(env, "--concurrency", "4")
    await telegram_api.wait_for(lambda: len(telegram_api.calls_of("sendMessage")) >= 8, timeout=30)
    os.kill(process.pid, signal.SIGKILL)
    assert await _wait(process) == -signal.SIGKILL
    sent_before = len(telegram_api.calls_of("sendMessage"))
    assert sent_before < 30, "the kill came too late to test anything"
    await asyncio.sleep(LEASE_S + 0.3)
    assert await _wait(sender_subprocess(env, "--drain", "--concurrency", "4")) == 0

    rows = world.outbox(campaign_id=campaign_id)
    received = {row.customer_id: len(telegram_api.sent(chats[row.customer_id])) for row in rows}
    assert max(received.values()) == 1, received
    assert {row.state for row in rows} <= {"delivered", "failed"}
    uncertain = [row for row in rows if row.state == "failed"]
    assert all(row.last_error == outreach.DELIVERY_UNCERTAIN for row in uncertain)
    assert len(uncertain) <= 4  # at most the rows that were in flight at the kill
    assert all(received[row.customer_id] == 1 for row in rows if row.state == "delivered")


async def test_concurrent_senders_do_not_double_send(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI, migrated_db: str
) -> None:
    """Three sender processes on one outbox (SKIP LOCKED claims on PostgreSQL, the write lock on SQLite)."""
    campaign_id, chats = _queue_campaign(world, telegram_api, 60)
    env = _env(migrated_db, rasa, telegram_api, OUTREACH_LEASE_SECONDS="10")
    processes = [sender_subprocess(env, "--drain", "--concurrency", "8", "--telegram-rate", "10") for _ in range(3)]
    codes = await asyncio.gather(*(_wait(process) for process in processes))
    assert codes == [0, 0, 0], [p.stdout.read() for p in processes]
    received = Counter(len(telegram_api.sent(chat)) for chat in chats.values())
    assert received == Counter({1: 60})
    assert Counter(call.sender for call in rasa.calls).most_common(1)[0][1] == 1  # Rasa asked once per row
    assert {row.state for row in world.outbox(campaign_id=campaign_id)} == {"delivered"}
    outputs = [p.stdout.read().decode() for p in processes]
    claimed = [int(out.rsplit("'claimed': ", 1)[1].split(",")[0].split("}")[0]) for out in outputs]
    assert sum(claimed) == 60
