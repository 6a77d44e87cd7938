"""Human takeover against a real HTTP stand-in for Rasa and the fake Telegram Bot API; the complaint queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from bot.db.models import AuditLog, Ticket
from bot.db.models_console import AgentMessage, Handover
from bot.db.session import session_scope
from bot.services import handover, web_inbox
from bot.services.tx import utcnow
from tests.console.conftest import Seeded, ThreadedServer, Tracker, seed_conversation
from tests.console.rasa_events_stub import RasaEventsStub
from tests.fakes.telegram_api import FakeTelegramAPI

RASA_TOKEN = "console-test-token"


@pytest.fixture
def rasa(tracker: Tracker, monkeypatch: pytest.MonkeyPatch) -> Iterator[RasaEventsStub]:
    from bot.settings import get_settings

    def store(sender: str, events: list[dict]) -> None:  # Rasa records appended events in its tracker store
        for event in events:
            getattr(tracker, event["event"])(sender)

    stub = RasaEventsStub(RASA_TOKEN, on_events=store)
    with ThreadedServer(stub):
        monkeypatch.setenv("RASA_PORT", str(stub.port))
        monkeypatch.setenv("RASA_TOKEN", RASA_TOKEN)
        get_settings.cache_clear()
        yield stub


@pytest.fixture
def telegram(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegramAPI]:
    from bot.settings import get_settings

    api = FakeTelegramAPI()
    with ThreadedServer(api):
        monkeypatch.setenv("TELEGRAM_TOKEN", api.token)
        monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
        monkeypatch.setenv("TELEGRAM_BASE_FILE_URL", api.base_file_url)
        get_settings.cache_clear()
        yield api


@pytest.fixture
def seeded(tracker: Tracker, telegram: FakeTelegramAPI) -> Seeded:
    result = seed_conversation(tracker)
    telegram.user(result.chat_id)  # the customer has started the bot, so the chat exists
    return result


def _actions(prefix: str) -> list[AuditLog]:
    with session_scope() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action.like(prefix + "%")).order_by(AuditLog.id)).all()
        for row in rows:
            session.expunge(row)
        return rows


def test_takeover_pauses_rasa_replies_on_telegram_and_hands_back(
    seeded: Seeded, rasa: RasaEventsStub, telegram: FakeTelegramAPI, as_role
) -> None:
    s = seeded.sender_id
    requested = handover.request_handover(s, "customer_request", language="tr")
    assert requested.created and requested.status == "waiting"
    assert handover.request_handover(s, "customer_request").id == requested.id  # idempotent while open

    agent = as_role("agent")
    panel = agent.get("/console/live/panel")
    assert f"waiting-{s}" in panel.text
    assert "1" in agent.get("/console/live/badge").text

    taken = agent.post(f"/console/conversations/{s}/take", headers={"HX-Request": "true"})
    assert taken.status_code == 200 and "held-by-me" in taken.text
    assert rasa.events_for(s) == ["pause"]
    assert handover.is_held(s)

    # A second agent cannot take or write into it.
    other = as_role("agent2")
    refused = other.post(f"/console/conversations/{s}/take", headers={"HX-Request": "true"})
    assert refused.status_code == 409 and "başka bir temsilci" in refused.text
    assert (
        other.post(
            f"/console/conversations/{s}/reply", {"message": "ben yazayım"}, headers={"HX-Request": "true"}
        ).status_code
        == 409
    )

    reply = agent.post(
        f"/console/conversations/{s}/reply",
        {"message": "Merhaba, ben Ayşe. Paketinizi <hemen> inceliyorum."},
        headers={"HX-Request": "true"},
    )
    assert reply.status_code == 200
    texts = telegram.texts(seeded.chat_id)
    assert texts and texts[-1] == "👤 Müşteri temsilcisi: Merhaba, ben Ayşe. Paketinizi <hemen> inceliyorum."
    with session_scope() as session:
        message = session.scalar(select(AgentMessage).where(AgentMessage.sender_id == s))
        assert message is not None and message.delivery_status == "sent"
    # The transcript shows the pause and the agent's message (escaped).
    page = agent.get(f"/console/conversations/{s}/transcript").text
    assert "Asistan duraklatıldı" in page
    assert "Paketinizi &lt;hemen&gt; inceliyorum." in page and "iletildi" in page

    released = agent.post(f"/console/conversations/{s}/release", headers={"HX-Request": "true"})
    assert released.status_code == 200
    assert rasa.events_for(s) == ["pause", "resume"]
    assert not handover.is_held(s)
    assert "Asistanımız yeniden sizinle" in telegram.texts(seeded.chat_id)[-1]
    actions = [a.action for a in _actions("handover.")]
    assert actions == ["handover.take", "handover.reply", "handover.release"]
    assert all("message" not in a.details and "text" not in a.details for a in _actions("handover."))


def test_take_is_undone_when_rasa_cannot_be_paused(seeded: Seeded, rasa: RasaEventsStub, as_role) -> None:
    s = seeded.sender_id
    handover.request_handover(s, "customer_request")
    rasa.fail_with = 503
    agent = as_role("agent")
    response = agent.post(f"/console/conversations/{s}/take", headers={"HX-Request": "true"})
    assert response.status_code == 409 and "Rasa" in response.text
    current = handover.open_handover(s)
    assert current is not None and current.status == "waiting" and current.taken_by is None
    assert not handover.is_held(s)


def test_release_keeps_the_hold_when_rasa_cannot_resume(seeded: Seeded, rasa: RasaEventsStub, as_role) -> None:
    s = seeded.sender_id
    agent = as_role("agent")
    agent.post(f"/console/conversations/{s}/take", headers={"HX-Request": "true"})
    assert handover.is_held(s)
    rasa.fail_with = 500
    response = agent.post(f"/console/conversations/{s}/release", headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert handover.is_held(s)  # the assistant is still paused: the agent must keep the conversation


def test_reply_to_web_visitor_goes_to_the_web_inbox(seeded: Seeded, rasa: RasaEventsStub, as_role) -> None:
    w = seeded.web_sender_id
    agent = as_role("agent")
    assert agent.post(f"/console/conversations/{w}/take", headers={"HX-Request": "true"}).status_code == 200
    agent.post(
        f"/console/conversations/{w}/reply",
        {"message": "Hello, I am looking into your refund."},
        headers={"HX-Request": "true"},
    )
    pending = web_inbox.pending_for(w)
    assert [m.message.get("text") for m in pending] == ["Hello, I am looking into your refund."]
    assert pending[0].source == "agent"


def test_unanswered_request_expires_into_a_ticket_and_a_notice(seeded: Seeded, telegram: FakeTelegramAPI) -> None:
    import asyncio

    from bot.console.jobs import expire_stale_handovers_job

    s = seeded.sender_id
    info = handover.request_handover(s, "customer_request", language="tr", customer_id=seeded.customer_id)
    fresh = handover.request_handover(seeded.web_sender_id, "customer_request", language="en")
    with session_scope(write=True) as session:
        session.execute(
            update(Handover).where(Handover.id == info.id).values(requested_at=utcnow() - timedelta(minutes=30))
        )
    result = asyncio.run(expire_stale_handovers_job())
    assert result == {"notices": 1, "delivered": 1, "failed": 0}
    with session_scope() as session:
        row = session.get(Handover, info.id)
        assert row is not None and row.status == "expired" and row.notified_at is not None and row.ticket_ref
        ticket = session.scalar(select(Ticket).where(Ticket.ref == row.ticket_ref))
        assert ticket is not None and ticket.conversation_id == s and ticket.priority == "high"
        assert session.get(Handover, fresh.id).status == "waiting"  # not stale yet
    notice = telegram.texts(seeded.chat_id)[-1]
    assert row.ticket_ref in notice and "saat" in notice
    # Running again neither opens another ticket nor repeats the notice.
    assert asyncio.run(expire_stale_handovers_job()) == {"notices": 0, "delivered": 0, "failed": 0}
    assert telegram.texts(seeded.chat_id).count(notice) == 1


def test_low_score_shows_live_and_can_be_dismissed(seeded: Seeded, as_role) -> None:
    agent = as_role("agent")
    panel = agent.get("/console/live/panel").text
    assert "CSAT 1" in panel and seeded.sender_id in panel
    agent.post(f"/console/live/low-scores/{seeded.low_survey_id}/dismiss")
    assert "CSAT 1" not in agent.get("/console/live/panel").text


def test_complaint_queue_and_resolution_tells_the_customer(seeded: Seeded, telegram: FakeTelegramAPI, as_role) -> None:
    agent = as_role("agent")
    ref = seeded.ticket_ref
    listing = agent.get("/console/tickets")
    assert ref in listing.text and "Paket ezik geldi" in listing.text
    assert agent.post(f"/console/tickets/{ref}/assign", {"assignee": "me"}).status_code == 303
    assert agent.post(f"/console/tickets/{ref}/priority", {"value": "urgent"}).status_code == 303
    assert agent.post(f"/console/tickets/{ref}/note", {"body": "Kargo firmasına yazıldı"}).status_code == 303
    assert agent.post(f"/console/tickets/{ref}/status", {"value": "in_progress"}).status_code == 303
    mine = agent.get("/console/tickets", params={"assignee": "me", "priority": "urgent"})
    assert ref in mine.text
    resolved = agent.post(
        f"/console/tickets/{ref}/status", {"value": "resolved", "resolution": "Yeni ürün yarın kargoda."}
    )
    assert resolved.status_code == 303 and "msg=notified" in resolved.headers["location"]
    told = telegram.texts(seeded.chat_id)[-1]
    assert ref in told and "Yeni ürün yarın kargoda." in told
    with session_scope() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
        assert ticket is not None and ticket.status == "resolved" and ticket.resolved_at is not None
        assert ticket.assignee is not None and ticket.assignee.startswith("staff:")
        assert ticket.first_response_at is not None
    detail = agent.get(resolved.headers["location"]).text
    assert "Kargo firmasına yazıldı" in detail and "Müşteriye bildirildi" in detail
    # Not allowed: resolved -> resolved is a no-op, closed -> in_progress is refused.
    agent.post(f"/console/tickets/{ref}/status", {"value": "closed"})
    refused = agent.post(f"/console/tickets/{ref}/status", {"value": "in_progress"})
    assert "err=invalid_transition" in refused.headers["location"]
    reopened = agent.post(f"/console/tickets/{ref}/status", {"value": "open"})
    assert reopened.status_code == 303
    with session_scope() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
        assert ticket.resolved_at is None  # a re-opened ticket is not resolved any more
    actions = {a.action for a in _actions("ticket.")}
    assert {
        "ticket.view",
        "ticket.assign",
        "ticket.priority",
        "ticket.note",
        "ticket.status",
        "ticket.customer_notified",
    } <= actions


def test_resolution_arms_the_schedulers_check_in(seeded: Seeded, telegram: FakeTelegramAPI, as_role) -> None:
    """The scheduler's automatic scan reads tickets.resolved_at: resolve, let time pass, scan, see the check-in."""
    from bot.services import outreach

    agent = as_role("agent")
    agent.post(f"/console/tickets/{seeded.ticket_ref}/status", {"value": "resolved"})
    with session_scope(write=True) as session:
        session.execute(
            text("UPDATE tickets SET resolved_at = :t WHERE ref = :r"),
            {"t": utcnow() - timedelta(days=3), "r": seeded.ticket_ref},
        )
    summary = outreach.enqueue_ticket_followups()
    assert summary.considered == 1 and summary.queued == 1, summary
