"""Analytics numbers and CSV, the campaign pages on the scheduler's service, user admin and the audit page."""

from __future__ import annotations

import csv
import io
from datetime import date

from bot.services import analytics, campaigns, handover, staff
from tests.console.conftest import PASSWORD, Tracker, create_customer, seed_conversation


def test_outcomes_and_rates(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    for n in range(2):
        tracker.turn(f"tg-{8100 + n}", "puanım", "check_points", "1.250 puan")
    handover.request_handover(seeded.web_sender_id, "customer_request")
    from bot.services.tracker_events import sync_summaries

    sync_summaries()
    period = analytics.default_period()
    outcome = analytics.outcomes(period)
    # 4 conversations: one with a ticket, one with a handover, two plain.
    assert outcome.conversations == 4
    assert outcome.contained == 3 and outcome.containment_rate == 0.75
    assert outcome.deflected == 2 and outcome.deflection_rate == 0.5
    # The complaint ticket and the recovery ticket the low CSAT answer opened.
    assert outcome.tickets_opened == 2 and outcome.tickets_resolved == 0 and outcome.resolution_rate == 0.0
    by_channel = analytics.conversations_by("channel", period)
    totals = {s.name: sum(v or 0 for v in s.values) for s in by_channel.series}
    assert totals["telegram"] == 3 and totals["web"] == 1
    by_language = analytics.conversations_by("language", period)
    assert {s.name: sum(v or 0 for v in s.values) for s in by_language.series}["en"] == 1
    top = analytics.top_intents(period)
    assert top.labels[0] == "inform" or "check_points" in top.labels[:2]
    fallback = analytics.fallback_rate(period)
    assert any(v for v in fallback.series[0].values)
    csat = analytics.csat(period)
    assert csat.series[0].values[-1] == 0.0 and csat.series[2].values[-1] == 1  # one answer, score 1
    tiers = analytics.tier_distribution()
    assert dict(zip(tiers.labels, tiers.series[0].values, strict=True))["Gold"] == 1

    marketer = as_role("marketer")
    page = marketer.get("/console/analytics")
    assert page.status_code == 200
    assert 'data-testid="kpi-containment">75.0%' in page.text
    assert "Kapsama (containment)" in page.text and "Yönlendirme (deflection)" in page.text
    assert 'id="chart-data"' in page.text and "/static/vendor/chartjs/chart.umd.min.js" in page.text
    # No personal data or message text on the marketers' page.
    assert "SP1234567" not in page.text and "ezik" not in page.text and "+90532" not in page.text
    exported = marketer.get("/console/analytics/conversations_by_channel.csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:3] == ["label", "telegram", "web"]
    assert rows[-1][0] == date.today().isoformat() or len(rows) == 31
    assert marketer.get("/console/analytics/nope.csv").status_code == 404


def test_chart_json_and_period_bounds(tracker: Tracker, as_role) -> None:
    seed_conversation(tracker)
    marketer = as_role("marketer")
    data = marketer.get(
        "/console/analytics/conversations_by_channel.json", params={"from": "2020-01-01", "to": "2030-01-01"}
    ).json()
    assert len(data["labels"]) == 366  # clamped to a year


def test_campaign_pages_create_preview_schedule_and_results(tracker: Tracker, as_role) -> None:
    customer_id = create_customer("MN100002", "+905321112233", "Can", "Demir", "Silver")
    from bot.services import conversations

    conversations.record_channel("tg-9101", "telegram", customer_id, language="tr")
    marketer = as_role("marketer")
    assert "Yeni kampanya" in marketer.get("/console/campaigns").text
    bad = marketer.post(
        "/console/campaigns",
        {"name": "", "survey_type": "csat", "template_tr": "x", "template_en": "y", "schedule_kind": "once"},
    )
    assert bad.status_code == 400 and "campaign-error" in bad.text
    created = marketer.post(
        "/console/campaigns",
        {
            "name": "Altın üyelere NPS",
            "survey_type": "nps",
            "template_tr": "Merhaba {first_name}, bizi tavsiye eder misiniz?",
            "template_en": "Hi {first_name}, would you recommend us?",
            "schedule_kind": "once",
            "run_at": "2099-06-01T10:00",
            "seg_language": "tr",
        },
    )
    assert created.status_code == 303, created.text[:500]
    detail_url = created.headers["location"]
    campaign_id = int(detail_url.rsplit("/", 1)[1])
    detail = marketer.get(detail_url)
    assert detail.status_code == 200 and "Altın üyelere NPS" in detail.text
    assert "campaign-audience" in detail.text
    assert "Demir" not in detail.text  # the preview sample is masked
    dry = marketer.get(f"/console/campaigns/{campaign_id}/dry-run")
    assert dry.status_code == 200 and "dry-run-table" in dry.text
    scheduled = marketer.post(f"/console/campaigns/{campaign_id}/schedule")
    assert scheduled.status_code == 303
    assert campaigns.get_campaign(campaign_id).status == "scheduled"
    marketer.post(f"/console/campaigns/{campaign_id}/pause")
    assert campaigns.get_campaign(campaign_id).status == "paused"
    results = marketer.get(f"/console/campaigns/{campaign_id}/results.csv")
    assert results.status_code == 200 and results.headers["content-type"].startswith("text/csv")


def test_admin_manages_users_and_reads_the_audit_log(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    admin = as_role("admin")
    created = admin.post(
        "/console/admin/users",
        {"email": "yeni@memnun.test", "display_name": "Yeni Kişi", "role": "marketer", "password": "long enough pass"},
    )
    assert created.status_code == 303
    duplicate = admin.post(
        "/console/admin/users", {"email": "yeni@memnun.test", "role": "agent", "password": "long enough pass"}
    )
    assert duplicate.status_code == 400 and "zaten kayıtlı" in duplicate.text
    account = next(u for u in staff.list_users() if u.email == "yeni@memnun.test")
    assert account.role == "marketer"
    admin.post(f"/console/admin/users/{account.id}", {"role": "agent"})
    admin.post(f"/console/admin/users/{account.id}/password", {"password": "another long pass"})
    assert staff.login("yeni@memnun.test", "another long pass", "1.1.1.1").status == "ok"
    admin.post(f"/console/admin/users/{account.id}", {"active": "0"})
    assert staff.login("yeni@memnun.test", "another long pass", "1.1.1.2").status == "invalid"

    admin.get(f"/console/conversations/{seeded.sender_id}")
    audit = admin.get("/console/admin/audit", params={"entity_id": seeded.sender_id})
    assert audit.status_code == 200 and "conversation.view" in audit.text and "Yönetici" in audit.text
    everything = admin.get("/console/admin/audit").text
    for action in ("staff_user.create", "staff_user.update", "staff_user.password_reset", "console.login"):
        assert action in everything
    assert PASSWORD not in everything and "another long pass" not in everything
