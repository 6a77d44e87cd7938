"""Automatic check-ins: CSAT after support, ticket follow-up, birthday with coupon, periodic NPS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.db.models_outreach import OutboxMessage
from bot.db.session import session_scope
from bot.scheduler import automatic
from bot.scheduler.outbox import SenderOptions, run_sender
from bot.services import outreach
from bot.settings import get_settings
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.scheduler.conftest import World
from tests.scheduler.rasa_trigger_stub import RasaTriggerStub


def _make_due() -> None:
    with session_scope(write=True) as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.state == "queued").values(next_attempt_at=datetime.now(UTC))
        )


async def test_csat_after_a_support_conversation(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI
) -> None:
    now = datetime.now(UTC)
    helped = world.customer(api=telegram_api)
    sender = world.conversation(helped, last_seen=now - timedelta(hours=3))
    ticket = world.ticket(helped, created_at=now - timedelta(hours=3, minutes=10), conversation_id=sender)
    just_chatting = world.customer(api=telegram_api)
    world.conversation(just_chatting, last_seen=now - timedelta(hours=3))
    too_recent = world.customer(api=telegram_api)
    recent_sender = world.conversation(too_recent, last_seen=now - timedelta(minutes=30))
    world.ticket(too_recent, created_at=now - timedelta(minutes=40), conversation_id=recent_sender)

    summary = automatic.run_scan("csat", now=now)
    assert (summary.queued, summary.skipped) == (1, 0)
    [row] = world.outbox(occasion="csat_checkin")
    assert (row.customer_id, row.ticket_id, row.dedupe_key) == (helped, ticket, f"csat:ticket:{ticket}")
    assert automatic.run_scan("csat", now=now + timedelta(minutes=10)).queued == 0  # idempotent

    await run_sender(SenderOptions(drain=True, poll_interval_s=0.05))
    [message] = telegram_api.sent(world.chat_of(helped))
    assert message.text.startswith("Merhaba Ayşe, kısa süre önce destek ekibimizle görüştünüz")
    [call] = rasa.calls
    assert call.intent == "EXTERNAL_csat_checkin" and call.entities["ticket_id"].startswith("T-")
    assert call.entities["campaign_id"] is None and call.entities["outbox_id"] == row.id


def test_csat_respects_the_switch(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_CSAT_ENABLED", "false")
    get_settings.cache_clear()
    now = datetime.now(UTC)
    customer = world.customer()
    sender = world.conversation(customer, last_seen=now - timedelta(hours=3))
    world.ticket(customer, created_at=now - timedelta(hours=4), conversation_id=sender)
    assert automatic.run_scan("csat", now=now).considered == 0


async def test_ticket_followup_once_and_not_when_reopened(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI
) -> None:
    now = datetime.now(UTC)
    resolved = world.customer(api=telegram_api, language="en", first_name="John")
    reopened = world.customer(api=telegram_api)
    fresh = world.customer(api=telegram_api)
    t1 = world.ticket(
        resolved, created_at=now - timedelta(days=4), status="resolved", resolved_at=now - timedelta(days=2, hours=1)
    )
    t2 = world.ticket(
        reopened, created_at=now - timedelta(days=4), status="resolved", resolved_at=now - timedelta(days=2, hours=1)
    )
    world.ticket(fresh, created_at=now - timedelta(days=1), status="resolved", resolved_at=now - timedelta(hours=5))
    assert automatic.run_scan("ticket_followup", now=now).queued == 2
    assert automatic.run_scan("ticket_followup", now=now + timedelta(hours=1)).queued == 0  # one per ticket
    world.set_ticket_status(t2, "open")  # the customer complained again before we asked
    await run_sender(SenderOptions(drain=True, poll_interval_s=0.05))
    [message] = telegram_api.sent(world.chat_of(resolved))
    assert message.text.startswith(f"Hi John, your complaint T-{now.year}-{t1:06d} was marked as resolved")
    assert message.button_titles == ["Yes", "No"]
    assert telegram_api.sent(world.chat_of(reopened)) == []
    [row] = world.outbox(ticket_id=t2)
    assert (row.state, row.skip_reason) == ("skipped", "ticket_reopened")


async def test_birthday_greeting_with_coupon_needs_marketing_consent(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI
) -> None:
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Europe/Istanbul")).date()
    birthday = today.replace(year=1990) if not (today.month == 2 and today.day == 29) else today.replace(year=1992)
    fan = world.customer(birth_date=birthday, marketing=True, api=telegram_api)
    quiet = world.customer(birth_date=birthday, marketing=False, api=telegram_api)
    world.customer(birth_date=birthday - timedelta(days=40), marketing=True, api=telegram_api)
    summary = automatic.run_scan("birthday", now=now)
    assert (summary.queued, dict(summary.by_reason)) == (1, {"no_consent": 1})
    [row] = world.outbox(customer_id=fan)
    local_morning = datetime.combine(today, datetime.min.time().replace(hour=9), tzinfo=ZoneInfo("Europe/Istanbul"))
    assert row.next_attempt_at >= min(local_morning.astimezone(UTC), now) - timedelta(seconds=1)
    assert automatic.run_scan("birthday", now=now + timedelta(hours=1)).queued == 0
    _make_due()
    await run_sender(SenderOptions(drain=True, poll_interval_s=0.05))
    [message] = telegram_api.sent(world.chat_of(fan))
    assert message.text.startswith("İyi ki doğdunuz Ayşe!")
    coupon = rasa.calls[0].entities["coupon_code"]
    assert coupon and coupon in message.text
    assert telegram_api.sent(world.chat_of(quiet)) == []


def test_periodic_nps_for_active_members(world: World) -> None:
    now = datetime.now(UTC)
    active = world.customer()
    world.conversation(active, last_seen=now - timedelta(days=10))
    asked_recently = world.customer()
    world.conversation(asked_recently, last_seen=now - timedelta(days=10))
    inactive = world.customer()
    no_member = world.customer(tier=None)
    world.conversation(no_member, last_seen=now - timedelta(days=3))
    del inactive
    with session_scope(write=True) as session:
        facts = outreach.load_recipient_facts(session, [asked_recently])
        row = outreach.new_row(
            now - timedelta(days=40),
            dedupe_key="nps:old",
            occasion="nps_checkin",
            intent="EXTERNAL_nps_checkin",
            customer_id=asked_recently,
            facts=facts[asked_recently],
            config=outreach.OutreachConfig.load(),
            survey_kind="nps",
            cap_group="survey",
        )
        row.update(state="delivered", sent_at=now - timedelta(days=40))
        outreach.insert_rows(session, [row])
    summary = automatic.run_scan("nps", now=now)
    assert summary.queued == 1
    assert [r.customer_id for r in world.outbox(occasion="nps_checkin", state="queued")] == [active]
    assert automatic.run_scan("nps", now=now + timedelta(hours=2)).queued == 0
