"""Campaign definitions: templates, placeholders, cron, times, segments — clear bilingual errors, early."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.services import campaigns, outreach, segments
from bot.services.errors import InvalidInput
from tests.scheduler.conftest import World, campaign_spec


def test_templates_render_in_both_languages_with_placeholders() -> None:
    context = {"first_name": "Ayşe", "tier": "Gold", "points": 12500}
    tr = outreach.validate_template("Merhaba {first_name}, {tier} üyemizsiniz: {points} puan", "tr")
    en = outreach.validate_template("Hi {first_name}, you are {tier}: {points} points", "en")
    assert outreach.render_template(tr, "tr", context) == "Merhaba Ayşe, Altın üyemizsiniz: 12.500 puan"
    assert outreach.render_template(en, "en", context) == "Hi Ayşe, you are Gold: 12,500 points"
    # An erased / unnamed customer gets a neutral salutation, never "None".
    assert outreach.render_template(tr, "tr", {"first_name": None, "tier": None, "points": 0}).startswith(
        "Merhaba değerli müşterimiz"
    )
    assert outreach.render_template("{{literal}} {first_name}", "en", context) == "{literal} Ayşe"


@pytest.mark.parametrize(
    ("template", "code", "fragment"),
    [
        ("Merhaba {name}", "unknown_placeholder", "{name}"),
        ("Merhaba {first_name.upper}", "unknown_placeholder", "{first_name.upper}"),
        ("Puan: {points:>8}", "invalid_template", "{points}"),
        ("Merhaba {}", "unknown_placeholder", "{}"),
        ("Merhaba {first_name", "invalid_template", "{{"),
        ("   ", "empty_template", "boş"),
    ],
)
def test_bad_templates_are_rejected_with_a_bilingual_message(template: str, code: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as error:
        outreach.validate_template(template, "tr")
    assert error.value.code == code
    message = str(error.value)
    assert fragment in message
    assert "Türkçe şablon" in message and "Turkish template" in message


def test_cron_is_validated_and_means_crontab_weekdays() -> None:
    with pytest.raises(InvalidInput) as error:
        campaigns.crontab_trigger("61 9 * * *", "Europe/Istanbul")
    assert error.value.code == "invalid_cron"
    assert "Geçersiz cron" in str(error.value) and "Invalid cron" in str(error.value)
    with pytest.raises(InvalidInput):
        campaigns.crontab_trigger("every monday", "Europe/Istanbul")
    # "1" is Monday in crontab (APScheduler 3 alone would read Tuesday).
    trigger = campaigns.crontab_trigger("0 9 * * 1", "Europe/Istanbul")
    start = datetime(2026, 12, 1, tzinfo=UTC)  # a Tuesday
    fire = trigger.get_next_fire_time(None, start)
    assert fire is not None and fire.strftime("%A %H:%M") == "Monday 09:00"
    assert fire.utcoffset() == timedelta(hours=3)  # Istanbul local time
    weekend = campaigns.crontab_trigger("0 10 * * 6-7", "Europe/Istanbul")
    days = set()
    moment = start
    for _ in range(4):
        moment = weekend.get_next_fire_time(None, moment + timedelta(minutes=1))
        days.add(moment.strftime("%A"))
    assert days == {"Saturday", "Sunday"}


def test_segment_rules_are_strict() -> None:
    with pytest.raises(InvalidInput) as error:
        segments.validate_segment({"tier": ["Gold"]})
    assert "tier_in" in str(error.value)  # the message lists the valid rules
    with pytest.raises(InvalidInput):
        segments.validate_segment({"tier_in": ["Diamond"]})
    with pytest.raises(InvalidInput):
        segments.validate_segment({"points_min": 500, "points_max": 100})
    assert segments.validate_segment({"tier_in": ["gold"], "points_min": "100"}) == {
        "tier_in": ["Gold"],
        "points_min": 100,
    }


def test_schedule_errors_come_before_anything_is_scheduled(world: World) -> None:
    world.customer()
    with pytest.raises(InvalidInput) as error:
        campaigns.create_campaign(campaign_spec(schedule_kind="cron", cron="0 25 * * *"), "tester")
    assert error.value.code == "invalid_cron"
    with pytest.raises(InvalidInput) as error:
        campaigns.create_campaign(campaign_spec(template_en="Hi {firstname}"), "tester")
    assert error.value.code == "unknown_placeholder" and "{firstname}" in str(error.value)

    past = campaigns.create_campaign(
        campaign_spec(run_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat()), "tester"
    )
    with pytest.raises(InvalidInput) as error:
        campaigns.schedule_campaign(past.id, "tester")
    assert error.value.code == "time_in_past"
    assert "geçmişte" in str(error.value) and "in the past" in str(error.value)

    nobody = campaigns.create_campaign(campaign_spec(segment={"tier_in": ["Platinum"]}), "tester")
    with pytest.raises(InvalidInput) as error:
        campaigns.schedule_campaign(nobody.id, "tester")
    assert error.value.code == "empty_audience"
    assert campaigns.get_campaign(nobody.id).status == "draft"  # type: ignore[union-attr]

    ok = campaigns.create_campaign(campaign_spec(), "tester")
    scheduled = campaigns.schedule_campaign(ok.id, "tester")
    assert scheduled.status == "scheduled" and scheduled.next_run_at is not None


def test_no_eligible_recipients_is_an_error(world: World) -> None:
    world.customer(checkin=False)
    world.customer(opted_out=True)
    campaign = campaigns.create_campaign(campaign_spec(), "tester")
    with pytest.raises(InvalidInput) as error:
        campaigns.schedule_campaign(campaign.id, "tester")
    assert error.value.code == "no_eligible_recipients"
    assert "no_consent: 1" in str(error.value) and "opted_out: 1" in str(error.value)


def test_naive_times_are_campaign_local(world: World) -> None:
    info = campaigns.create_campaign(campaign_spec(run_at="2030-03-01T10:00"), "tester")
    assert info.run_at == datetime(2030, 3, 1, 7, 0, tzinfo=UTC)  # 10:00 in Istanbul (UTC+3)
