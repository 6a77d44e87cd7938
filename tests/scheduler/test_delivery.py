"""End to end inside one process: campaign run -> outbox -> Rasa (HTTP stub) -> fake Telegram / web inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.scheduler.outbox import SenderOptions, SenderStats, run_sender
from bot.services import campaigns, consent, outreach, surveys, web_inbox
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.scheduler.conftest import World, campaign_spec
from tests.scheduler.rasa_trigger_stub import RasaTriggerStub


async def drain() -> SenderStats:
    return await run_sender(SenderOptions(drain=True, poll_interval_s=0.05, concurrency=8))


def scheduled_campaign(**overrides: object) -> int:
    info = campaigns.create_campaign(campaign_spec(**overrides), "marketer@test")
    campaigns.schedule_campaign(info.id, "marketer@test")
    return info.id


async def test_campaign_reaches_each_customer_once_in_their_language(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI
) -> None:
    ayse = world.customer(first_name="Ayşe", language="tr", points=1250, api=telegram_api)
    john = world.customer(first_name="John", language="en", tier="Silver", points=12500, api=telegram_api)
    world.customer(first_name="Can", checkin=False, api=telegram_api)
    world.customer(first_name="Ece", opted_out=True, api=telegram_api)
    world.customer(first_name="Ali", reachable=False, api=telegram_api)
    campaign_id = scheduled_campaign()

    run = campaigns.run_campaign(campaign_id)
    assert (run.audience, run.queued, run.skipped) == (5, 2, 3)
    assert dict(run.skipped_by_reason) == {"no_consent": 1, "opted_out": 1, "unreachable": 1}

    stats = await drain()
    assert stats.outcomes["ok:delivered"] == 2

    ayse_chat, john_chat = world.chat_of(ayse), world.chat_of(john)
    [tr_message] = telegram_api.sent(ayse_chat)
    [en_message] = telegram_api.sent(john_chat)
    assert tr_message.text == "Merhaba Ayşe, Altın üyemiz olarak 1.250 puanınız var. Bizi puanlar mısınız?"
    assert en_message.text == "Hi John, as a Silver member you have 12,500 points. Would you rate us?"
    assert len(tr_message.button_titles) == 5  # the survey's score buttons, rendered as an inline keyboard

    [call] = rasa.calls_for(f"tg-{ayse_chat}")
    assert call.intent == "EXTERNAL_csat_checkin"
    rows = {row.customer_id: row for row in world.outbox(campaign_id=campaign_id)}
    assert call.entities["campaign_id"] == campaign_id
    assert call.entities["outbox_id"] == rows[ayse].id
    assert call.entities["message_en"].startswith("Hi Ayşe, as a Gold member")
    assert rows[ayse].state == "delivered" and rows[ayse].external_ids == [str(tr_message.message_id)]
    assert rows[ayse].expires_at is not None

    # Running the same occurrence again (a retried job, a coalesced misfire) queues and sends nothing new.
    again = campaigns.run_campaign(campaign_id)
    assert again.status == "completed" and again.note == "already run"
    await drain()
    assert len(telegram_api.sent(ayse_chat)) == 1 and len(rasa.calls) == 2

    # The customer answers (the action records it against the campaign and closes the survey).
    assert outreach.is_survey_open(rows[ayse].id)
    surveys.record_survey_response(
        "csat",
        4,
        "Hızlı teslimat",
        ayse,
        f"tg-{ayse_chat}",
        campaign_id,
        "telegram",
        "answer-1",
        outbox_id=rows[ayse].id,
    )
    assert outreach.mark_responded(rows[ayse].id)
    assert not outreach.is_survey_open(rows[ayse].id)
    assert outreach.survey_window(rows[ayse].id).status == "answered"
    results = campaigns.campaign_results(campaign_id)
    assert results.sent == 2 and results.delivered == 2 and results.responded == 1
    assert results.response_rate == 0.5
    assert results.csat_average == 4.0 and results.csat_distribution[4] == 1
    assert dict(results.skipped_by_reason) == {"no_consent": 1, "opted_out": 1, "unreachable": 1}
    assert results.comments[0].comment == "Hızlı teslimat"
    csv_text = campaigns.export_results_csv(campaign_id)
    assert "responded" in csv_text and ",4,Hızlı teslimat" in csv_text
    assert "Ayşe" not in csv_text  # customer numbers, not names


async def test_opt_out_after_queueing_cancels_the_message(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI
) -> None:
    stays = world.customer(api=telegram_api)
    leaves = world.customer(api=telegram_api)
    campaign_id = scheduled_campaign()
    assert campaigns.run_campaign(campaign_id).queued == 2
    consent.opt_out_channel("telegram", world.sender_of(leaves), "telegram_command")

    await drain()
    assert telegram_api.sent(world.chat_of(leaves)) == []
    assert len(telegram_api.sent(world.chat_of(stays))) == 1
    [row] = world.outbox(customer_id=leaves)
    assert (row.state, row.skip_reason) == ("skipped", "opted_out")
    assert rasa.calls_for(world.sender_of(leaves)) == []  # Rasa was not even asked


async def test_commercial_messages_need_marketing_consent(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI
) -> None:
    service_only = world.customer(marketing=False, api=telegram_api)
    both = world.customer(marketing=True, api=telegram_api)
    offer = scheduled_campaign(
        survey_type="message",
        template_tr="{first_name}, size özel %20 indirim!",
        template_en="{first_name}, 20% off just for you!",
    )
    notice = scheduled_campaign(
        survey_type="message",
        commercial=False,
        template_tr="{first_name}, mağazamız pazartesi kapalı.",
        template_en="{first_name}, our store is closed on Monday.",
    )
    campaigns.run_campaign(offer)
    campaigns.run_campaign(notice)
    await drain()
    assert [m.text for m in telegram_api.sent(world.chat_of(service_only))] == ["Ayşe, mağazamız pazartesi kapalı."]
    assert len(telegram_api.sent(world.chat_of(both))) == 2
    [row] = world.outbox(customer_id=service_only, campaign_id=offer)
    assert (row.state, row.skip_reason) == ("skipped", "no_consent")
    assert rasa.calls_for(world.sender_of(both))[0].intent == "EXTERNAL_campaign_message"


async def test_frequency_cap_across_campaigns(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI
) -> None:
    customer = world.customer(api=telegram_api)
    first = scheduled_campaign(name="Birinci")
    second = scheduled_campaign(name="İkinci", survey_type="nps")
    campaigns.run_campaign(first)
    await drain()
    run = campaigns.run_campaign(second)
    assert dict(run.skipped_by_reason) == {"capped": 1}
    await drain()
    assert len(telegram_api.sent(world.chat_of(customer))) == 1
    # A month later the customer may be asked again.
    third = scheduled_campaign(name="Üçüncü", survey_type="nps")
    later = datetime.now(UTC) + timedelta(days=31)
    assert campaigns.run_campaign(third, now=later).queued == 1


async def test_frequency_cap_holds_when_two_queued_surveys_race(world: World) -> None:
    customer = world.customer()
    now = datetime.now(UTC)
    config = outreach.OutreachConfig.load()
    from bot.db.session import session_scope

    with session_scope(write=True) as session:
        facts = outreach.load_recipient_facts(session, [customer])
        rows = [
            outreach.new_row(
                now,
                dedupe_key=f"race:{n}",
                occasion="nps_checkin",
                intent="EXTERNAL_nps_checkin",
                customer_id=customer,
                facts=facts[customer],
                config=config,
                survey_kind="nps",
                cap_group="survey",
            )
            for n in (1, 2)
        ]
        outreach.insert_rows(session, rows)
    claimed_a = outreach.claim_due("worker-a", 1)
    claimed_b = outreach.claim_due("worker-b", 1)
    assert len(claimed_a) == len(claimed_b) == 1
    # Both are "sending" at the same time: the earlier row wins, the later one is capped.
    plan_b = outreach.prepare_send(claimed_b[0].outbox_id, "worker-b")
    plan_a = outreach.prepare_send(claimed_a[0].outbox_id, "worker-a")
    assert {plan_a.action, plan_b.action} == {"send", "skipped"}
    assert plan_b.reason == "capped" if plan_b.action == "skipped" else plan_a.reason == "capped"


def test_quiet_hours_defer_to_the_next_local_morning(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIET_HOURS_START", "21:00")
    monkeypatch.setenv("QUIET_HOURS_END", "09:00")
    from bot.settings import get_settings

    get_settings.cache_clear()
    istanbul = world.customer()
    london = world.customer(timezone="Europe/London")
    campaign_id = scheduled_campaign()
    evening = datetime(2030, 1, 15, 19, 30, tzinfo=UTC)  # 22:30 in Istanbul, 19:30 in London
    campaigns.run_campaign(campaign_id, now=evening - timedelta(minutes=1))
    rows = {row.customer_id: row for row in world.outbox(campaign_id=campaign_id)}
    assert rows[istanbul].state == "queued"  # deferred, not skipped
    assert rows[istanbul].next_attempt_at == datetime(2030, 1, 16, 6, 0, tzinfo=UTC)  # 09:00 Istanbul
    assert rows[london].next_attempt_at < evening  # London is not in quiet hours yet

    claimed = outreach.claim_due("w", 10, now=evening)
    assert [c.outbox_id for c in claimed] == [rows[london].id]
    # Checked again right before sending: at 21:30 London time the London customer waits too.
    late = datetime(2030, 1, 15, 21, 30, tzinfo=UTC)
    plan = outreach.prepare_send(rows[london].id, "w", now=late)
    assert plan.action == "deferred" and plan.reason == "quiet_hours"
    assert plan.defer_until == datetime(2030, 1, 16, 9, 0, tzinfo=UTC)  # 09:00 London
    assert world.outbox(id=rows[london].id)[0].state == "queued"


async def test_web_visitors_get_checkins_in_their_inbox(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI
) -> None:
    customer = world.customer(telegram=False, web=True, language="en", first_name="Mia")
    campaign_id = scheduled_campaign(survey_type="nps")
    campaigns.run_campaign(campaign_id)
    await drain()
    sender = world.sender_of(customer, "web")
    pending = web_inbox.pending_for(sender)
    assert [m.message["text"] for m in pending][0].startswith("Hi Mia, as a Gold member")
    [row] = world.outbox(customer_id=customer)
    assert row.state == "sent" and row.channel == "web"
    await drain()  # nothing is posted twice
    assert len(web_inbox.pending_for(sender)) == len(pending)
    web_inbox.mark_delivered([m.id for m in pending], sender_id=sender)
    assert outreach.reconcile().web_delivered == 1
    assert world.outbox(customer_id=customer)[0].state == "delivered"


async def test_rasa_down_telegram_flood_and_blocked_chats(
    world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI
) -> None:
    customer = world.customer(api=telegram_api)
    blocked = world.customer(api=telegram_api)
    telegram_api.block_chat(world.chat_of(blocked))
    campaign_id = scheduled_campaign()
    campaigns.run_campaign(campaign_id)
    rasa.fail_next(2, 503)
    await drain()
    rows = {row.customer_id: row for row in world.outbox(campaign_id=campaign_id)}
    failed_first = [r for r in rows.values() if r.last_error and r.last_error.startswith("rasa_unavailable")]
    assert failed_first and all(r.state == "queued" and r.next_attempt_at > datetime.now(UTC) for r in failed_first)
    assert all(r.attempts == 1 for r in failed_first)

    # Later: Rasa is back, Telegram answers one 429 with retry_after.
    from sqlalchemy import update

    from bot.db.models_outreach import OutboxMessage
    from bot.db.session import session_scope

    with session_scope(write=True) as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=datetime.now(UTC)))
    telegram_api.fail_next(1, status=429, retry_after=1)
    await drain()
    rows = {row.customer_id: row for row in world.outbox(campaign_id=campaign_id)}
    assert (rows[blocked].state, rows[blocked].skip_reason) == ("skipped", "unreachable")
    assert rows[customer].state == "delivered"
    assert len(telegram_api.sent(world.chat_of(customer))) == 1


def test_nps_math_and_weekly_trend(world: World) -> None:
    assert campaigns.nps_score([10, 9, 8, 7, 6, 0]) == 0.0
    assert campaigns.nps_score([10, 10, 9, 6]) == 50.0
    assert campaigns.nps_score([0, 3, 6, 9]) == -50.0
    assert campaigns.nps_score([]) is None
    customers = [world.customer() for _ in range(4)]
    campaign_id = scheduled_campaign(survey_type="nps")
    for n, (customer, score) in enumerate(zip(customers, (10, 9, 7, 3), strict=True)):
        surveys.record_survey_response("nps", score, None, customer, f"c{n}", campaign_id, "telegram", f"nps-{n}")
    results = campaigns.campaign_results(campaign_id)
    assert (results.promoters, results.passives, results.detractors) == (2, 1, 1)
    assert results.nps == 25.0
    assert results.nps_distribution[10] == 1 and results.nps_distribution[3] == 1
    assert len(results.weekly) == 1 and results.weekly[0].nps == 25.0 and results.weekly[0].responses == 4


async def test_pause_holds_and_cancel_skips(world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI) -> None:
    customers = [world.customer(api=telegram_api) for _ in range(3)]
    campaign_id = scheduled_campaign()
    campaigns.run_campaign(campaign_id)
    campaigns.pause_campaign(campaign_id, "marketer@test")
    await drain()
    assert all(telegram_api.sent(world.chat_of(c)) == [] for c in customers)
    assert {row.state for row in world.outbox(campaign_id=campaign_id)} == {"queued"}
    cancelled = campaigns.cancel_campaign(campaign_id, "marketer@test")
    assert cancelled.status == "cancelled"
    rows = world.outbox(campaign_id=campaign_id)
    assert {(row.state, row.skip_reason) for row in rows} == {("skipped", "cancelled")}
    await drain()
    assert all(telegram_api.sent(world.chat_of(c)) == [] for c in customers)
    assert campaigns.campaign_results(campaign_id).skipped_by_reason == {"cancelled": 3}


async def test_one_reminder_at_most(world: World, rasa: RasaTriggerStub, telegram_api: FakeTelegramAPI) -> None:
    customer = world.customer(api=telegram_api)
    campaign_id = scheduled_campaign(reminder_after_hours=24)
    campaigns.run_campaign(campaign_id)
    await drain()
    # A day passes without an answer.
    from sqlalchemy import update

    from bot.db.models_outreach import OutboxMessage
    from bot.db.session import session_scope

    with session_scope(write=True) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.sent_at.is_not(None))
            .values(sent_at=datetime.now(UTC) - timedelta(hours=25))
        )
    assert outreach.reconcile().reminders == 1
    await drain()
    with session_scope(write=True) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.sent_at.is_not(None))
            .values(sent_at=datetime.now(UTC) - timedelta(hours=25))
        )
    assert outreach.reconcile().reminders == 0  # never a second reminder (not even for the reminder)
    await drain()
    messages = telegram_api.sent(world.chat_of(customer))
    assert len(messages) == 2
    assert rasa.calls[-1].entities.get("reminder") is True
    assert campaigns.campaign_results(campaign_id).reminders_sent == 1


def test_preview_and_dry_run(world: World) -> None:
    world.customer(first_name="Ayşe", last_name="Yılmaz")
    world.customer(first_name="John", language="en", checkin=False)
    info = campaigns.create_campaign(campaign_spec(), "marketer@test")
    preview = campaigns.preview_campaign(info.id)
    assert preview.audience_size == 2 and preview.eligible == 1
    assert {s.masked_name for s in preview.sample} == {"A*** Y.", "J*** Y."}
    assert preview.example_tr.startswith("Merhaba Ayşe")
    report = campaigns.dry_run(info.id)
    sent = [e for e in report.entries if e.would_send]
    skipped = [e for e in report.entries if not e.would_send]
    assert sent[0].message.startswith("Merhaba Ayşe, Altın üyemiz") and sent[0].channel == "telegram"
    assert skipped[0].skip_reason == "no_consent" and skipped[0].message is None
    assert world.outbox() == []  # a dry run stores nothing
