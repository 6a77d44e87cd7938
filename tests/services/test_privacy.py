"""Erasure keeps aggregates but no personal data; export returns everything as JSON-able data."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db.models import (
    AuditLog,
    ChannelIdentity,
    Conversation,
    Customer,
    Feedback,
    SurveyResponse,
    Ticket,
    TicketNote,
)
from bot.db.session import session_scope
from bot.services import conversations, feedback, identity, loyalty, privacy, surveys, tickets
from bot.services.errors import InvalidInput


@pytest.fixture
def busy_customer(
    make_customer: Callable[..., int], make_reward: Callable[..., int], make_order: Callable[..., str]
) -> int:
    """A customer with something in every table."""
    customer_id = make_customer(
        first_name="Ayşe", last_name="Yılmaz", phone="+905321234567", birth_date=date(1990, 3, 15)
    )
    conversations.record_channel("tg-77", "telegram")
    identity.identify_by_contact("telegram", "tg-77", "+905321234567")
    loyalty.earn_points(customer_id, 2000, "purchase", "e1")
    loyalty.redeem_reward(customer_id, make_reward(cost=500), "r1")
    make_order("SP1000077", customer_id)
    ticket = tickets.open_ticket(
        customer_id, "delivery", "Adresim Moda Cad. No 5, kargo gelmedi", "SP1000077", "telegram", "tg-77", "tr", "t1"
    )
    tickets.add_note(ticket.ref, "staff", "Müşteri Ayşe Hanım aradı", internal=True)
    feedback.record_feedback("Ayşe olarak söylüyorum: berbat", None, "telegram", "tg-77", customer_id, "tr", "f1")
    surveys.record_survey_response("csat", 1, "Kızım hastalandı", customer_id, "tg-77", None, "telegram", "s1")
    return customer_id


def test_export_contains_everything_and_is_json(busy_customer: int) -> None:
    data = privacy.export_customer_data(busy_customer)
    text = json.dumps(data, ensure_ascii=False)
    assert data["customer"]["phone"] == "+905321234567" and data["customer"]["birth_date"] == "1990-03-15"
    assert [c["external_id"] for c in data["channel_identities"]] == ["tg-77"]
    assert data["conversations"][0]["sender_id"] == "tg-77"
    assert data["loyalty"]["account"]["balance"] == 1500
    assert [e["points"] for e in data["loyalty"]["ledger"]] == [2000, -500]
    assert data["loyalty"]["redemptions"][0]["reward_name_en"] == "50 TL discount voucher"
    assert data["orders"][0]["number"] == "SP1000077" and data["orders"][0]["total"] == "249.90"
    assert len(data["tickets"]) == 2  # complaint + survey recovery
    assert data["tickets"][0]["notes"][0]["body"] == "Müşteri Ayşe Hanım aradı"
    assert data["feedback"][0]["sentiment"] == "negative"
    assert data["survey_responses"][0]["score"] == 1
    assert "idempotency_key" not in text
    with pytest.raises(InvalidInput):
        privacy.export_customer_data(987654)


def test_erasure_anonymises_and_keeps_aggregates(busy_customer: int) -> None:
    report = privacy.erase_customer(busy_customer, "email")
    assert not report.already_erased
    assert (
        report.feedback_redacted,
        report.tickets_redacted,
        report.ticket_notes_redacted,
        report.survey_comments_redacted,
        report.channel_identities_unlinked,
        report.conversations_unlinked,
    ) == (1, 2, 1, 1, 1, 1)
    with session_scope() as session:
        customer = session.get(Customer, busy_customer)
        assert customer is not None
        assert (customer.first_name, customer.last_name, customer.phone, customer.email, customer.birth_date) == (
            "[silindi]",
            "[silindi]",
            None,
            None,
            None,
        )
        assert not customer.checkin_consent and not customer.marketing_consent and customer.erased_at is not None
        assert session.scalars(select(Feedback.text)).all() == ["[silindi]"]
        assert set(session.scalars(select(Ticket.description))) == {"[silindi]"}
        assert session.scalars(select(TicketNote.body)).all() == ["[silindi]"]
        assert session.scalars(select(SurveyResponse.comment)).all() == ["[silindi]"]
        assert session.scalars(select(ChannelIdentity.customer_id)).all() == [None]
        assert session.scalars(select(Conversation.customer_id)).all() == [None]
        # Aggregates survive: scores, sentiments, ticket stats, the ledger.
        assert session.scalars(select(SurveyResponse.score)).all() == [1]
        assert session.scalars(select(Feedback.sentiment)).all() == ["negative"]
        assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.customer_id == busy_customer)) == 2
        assert sorted(session.scalars(select(Ticket.priority))) == ["high", "normal"]
        audit_row = session.scalars(select(AuditLog).where(AuditLog.action == "privacy.erased")).one()
        assert audit_row.details["requested_via"] == "email" and audit_row.details["tickets"] == 2
        assert "Ayşe" not in json.dumps(audit_row.details, ensure_ascii=False)
    assert loyalty.ledger_mismatches() == []
    again = privacy.erase_customer(busy_customer, "email")
    assert again.already_erased and again.erased_at == report.erased_at
    with session_scope() as session:
        assert (
            session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "privacy.erased")) == 1
        )
    # The phone is free again: the person may come back as a new customer.
    assert identity.identify_by_contact("telegram", "tg-77", "+905321234567").status == "unknown"
    exported = privacy.export_customer_data(busy_customer)
    assert exported["customer"]["phone"] is None and exported["channel_identities"] == []


def test_erase_unknown_customer(migrated_db: str) -> None:
    with pytest.raises(InvalidInput):
        privacy.erase_customer(5555, "console")


def test_erasure_forgets_every_conversation_of_the_customer(
    busy_customer: int, make_customer: Callable[..., int]
) -> None:
    """The transcript (Rasa's events), the console's copies and the web inbox go, for each of the customer's
    senders (Telegram and web); another customer's conversations stay exactly as they were."""
    from bot.db.models_console import AgentMessage, ConversationIntent, ConversationSummary, ReviewFlag
    from bot.db.models_webchat import WebInboxMessage
    from bot.services import review, staff, tracker_events, web_inbox
    from bot.services.tx import utcnow
    from tests.console.conftest import Tracker

    ayse_web = f"web-{uuid.uuid4()}"
    conversations.record_channel(ayse_web, "web")
    assert identity.identify_by_contact("web", ayse_web, "+905321234567").status == "ok"
    other = make_customer(first_name="Zeynep", phone="+905557654321")
    other_tg, other_web = "tg-88", f"web-{uuid.uuid4()}"
    for sender, channel in ((other_tg, "telegram"), (other_web, "web")):
        conversations.record_channel(sender, channel)
        assert identity.identify_by_contact(channel, sender, "+905557654321").status == "ok"
    ayse_senders, other_senders = ("tg-77", ayse_web), (other_tg, other_web)

    # Rasa's tracker store: a separate SQLite file, or the same PostgreSQL database (configured_env).
    engine = tracker_events.tracker_engine()
    tracker_events.create_events_table(engine)
    tracker = Tracker(engine)
    for sender in (*ayse_senders, *other_senders):
        tracker.session_started(sender)
        tracker.turn(sender, f"adresim Moda Cad. No 5 ({sender})", "inform", "Teşekkürler")
        tracker.turn(sender, "asdf qwer", "nlu_fallback", "Anlayamadım", confidence=0.2)
        if web_inbox.is_web_sender(sender):
            web_inbox.post_to_web(sender, [{"text": "Merhaba"}], "agent", f"k-{sender}")
    events_per_sender = len(tracker_events.conversation_events("tg-77"))
    tracker_events.sync_summaries()
    reviewer = staff.create_user("reviewer@memnun.test", "correct horse battery", "agent", "Reviewer")
    with session_scope(write=True) as session:
        for sender in (*ayse_senders, *other_senders):
            session.add(AgentMessage(sender_id=sender, text="Ayşe Hanım merhaba", created_at=utcnow()))
    for sender in (*ayse_senders, *other_senders):
        review.add_tag(sender, "kargo", reviewer.id)
        review.add_note(sender, reviewer.id, "Moda'daki adres")
    before = {sender: review.load_transcript(sender) for sender in other_senders}
    other_summaries = _summaries(other_senders)
    assert set(other_summaries) == set(other_senders)
    assert {customer_id for customer_id, *_ in other_summaries.values()} == {other}

    report = privacy.erase_customer(busy_customer, "console")

    assert (report.conversations_forgotten, report.tracker_events_deleted, report.web_inbox_messages_deleted) == (
        2,
        2 * events_per_sender,
        1,
    )
    for sender in ayse_senders:
        assert tracker_events.conversation_events(sender) == []
        transcript = review.load_transcript(sender)
        assert transcript.event_count == 0 and transcript.summary is None
        assert not [item for item in transcript.items if item.kind in ("user", "bot", "agent")]
        assert transcript.notes == () and transcript.tags == ()
    with session_scope() as session:
        for model in (ConversationSummary, ConversationIntent, ReviewFlag, AgentMessage, WebInboxMessage):
            assert session.scalars(select(model.sender_id).where(model.sender_id.in_(ayse_senders))).all() == []
        assert session.scalars(select(WebInboxMessage.sender_id)).all() == [other_web]
        audit_row = session.scalars(select(AuditLog).where(AuditLog.action == "privacy.erased")).one()
        assert (audit_row.details["conversations_forgotten"], audit_row.details["tracker_events"]) == (
            2,
            2 * events_per_sender,
        )
        assert audit_row.details["web_inbox_messages"] == 1 and audit_row.details["console_records"] > 0
        assert not any(sender in json.dumps(audit_row.details) for sender in ayse_senders)

    # The other customer's conversations are untouched.
    for sender in other_senders:
        after = review.load_transcript(sender)
        assert after.event_count == before[sender].event_count == events_per_sender
        assert after.items == before[sender].items and after.notes == before[sender].notes
        assert after.tags == ("kargo",)
    assert _summaries(other_senders) == other_summaries

    # Nothing brings the erased conversations back: not the next sync, not a rebuild from the tracker.
    tracker_events.sync_summaries()
    tracker_events.rebuild_summaries()
    with session_scope() as session:
        summaries = set(session.scalars(select(ConversationSummary.sender_id)))
    assert summaries == set(other_senders)


def _summaries(senders: tuple[str, ...]) -> dict[str, tuple[object, ...]]:
    from bot.db.models_console import ConversationSummary

    with session_scope() as session:
        rows = session.scalars(select(ConversationSummary).where(ConversationSummary.sender_id.in_(senders)))
        return {r.sender_id: (r.customer_id, r.turns, r.search_text, r.last_user_text) for r in rows}


# --- the delayed purge: Rasa re-saves the conversation the erasure was asked for in -----------------------


def _identification_session(tracker: Any, sender: str) -> None:
    """What a real in-chat erasure conversation leaves in the tracker: identification turns with the phone
    number and birth date, the confirmation, the erasure action and its reply."""
    tracker.session_started(sender)
    tracker.turn(sender, "verilerimi silin", "delete_my_data", "Telefon numaranız nedir?")
    tracker.user(sender, "0532 123 45 67", "inform")
    tracker.slot(sender, "phone", "+905321234567")
    tracker.bot(sender, "Doğum tarihiniz?")
    tracker.user(sender, "15.03.1990", "inform")
    tracker.slot(sender, "birth_date", "1990-03-15")
    tracker.turn(sender, "evet", "affirm", "Verileriniz silindi.", action="action_delete_my_data")


def _purges() -> dict[str, tuple[Any, ...]]:
    from bot.db.models_privacy import TrackerPurge

    with session_scope() as session:
        return {
            row.sender_id: (row.requested_at, row.due_at, row.attempts, row.last_error)
            for row in session.scalars(select(TrackerPurge))
        }


@pytest.fixture
def tracker_store(migrated_db: str) -> Any:
    """Rasa's ``events`` table at the configured tracker URL, and a writer that inserts rows like Rasa does."""
    from bot.services import tracker_events
    from tests.console.conftest import Tracker

    engine = tracker_events.tracker_engine()
    tracker_events.create_events_table(engine)
    return Tracker(engine)


def test_events_rasa_re_saves_after_an_in_chat_erasure_are_purged_when_due(
    busy_customer: int, tracker_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from bot.db.models_console import AgentMessage, ConversationSummary, ReviewFlag
    from bot.scheduler.jobs import tracker_purge_job
    from bot.services import tracker_events
    from bot.services.tx import utcnow
    from bot.settings import get_settings

    monkeypatch.setenv("PRIVACY_TRACKER_PURGE_DELAY_S", "300")
    get_settings.cache_clear()
    _identification_session(tracker_store, "tg-77")
    tracker_store.turn("tg-99", "kargom nerede", "track_order", "Sipariş numaranız?")
    tracker_events.sync_summaries()
    session_events = len(tracker_events.conversation_events("tg-77"))

    report = privacy.erase_customer(busy_customer, "telegram")
    assert report.tracker_events_deleted == session_events
    assert _purges() == {"tg-77": (report.erased_at, report.erased_at + timedelta(seconds=300), 0, None)}

    # Rasa saves the tracker it held while the action ran: its SQLTrackerStore finds none of the session's
    # events stored any more and inserts them all again (phone number and birth date included).
    _identification_session(tracker_store, "tg-77")
    tracker_store.turn("tg-99", "teşekkürler", "thank", "Rica ederim")
    assert len(tracker_events.conversation_events("tg-77")) == session_events
    # Meanwhile an agent writes to the conversation; the console copies it.
    with session_scope(write=True) as session:
        session.add(AgentMessage(sender_id="tg-77", text="Ayşe Hanım, verileriniz silindi", created_at=utcnow()))
    # The console's sync does not copy the re-saved events of a conversation waiting for its purge.
    sync = tracker_events.sync_summaries()
    assert sync.caught_up and sync.events_read > session_events
    with session_scope() as session:
        summaries = {s.sender_id: s.turns for s in session.scalars(select(ConversationSummary))}
        # Nor does it flag her low CSAT score (erasure removed that flag) for review again.
        assert session.scalars(select(ReviewFlag.sender_id)).all() == []
    assert summaries == {"tg-99": 2}

    # Not due yet: nothing is purged.
    early = tracker_purge_job(now=report.erased_at + timedelta(seconds=299))
    assert (early.due, early.purged) == (0, 0)
    assert len(tracker_events.conversation_events("tg-77")) == session_events
    assert set(_purges()) == {"tg-77"}

    due = tracker_purge_job(now=report.erased_at + timedelta(seconds=301))
    assert (due.due, due.purged, due.failed, due.tracker_events_deleted) == (1, 1, 0, session_events)
    assert due.console_records_deleted == 1  # the agent's message
    assert tracker_events.conversation_events("tg-77") == []
    assert _purges() == {}  # the sender id is not kept
    with session_scope() as session:
        assert session.scalars(select(AgentMessage.sender_id)).all() == []
    # The other conversation is untouched, and nothing brings the erased one back.
    assert len(tracker_events.conversation_events("tg-99")) == 2 * 5
    tracker_events.sync_summaries()
    tracker_events.rebuild_summaries()
    with session_scope() as session:
        assert set(session.scalars(select(ConversationSummary.sender_id))) == {"tg-99"}
        assert session.scalars(select(ReviewFlag.sender_id)).all() == []
    again = tracker_purge_job(now=report.erased_at + timedelta(hours=1))
    assert (again.due, again.purged) == (0, 0)


def test_a_failing_tracker_store_keeps_the_purge_for_a_retry(
    busy_customer: int, tracker_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from bot.scheduler.jobs import tracker_purge_job
    from bot.services import tracker_events
    from bot.settings import get_settings

    report = privacy.erase_customer(busy_customer, "telegram")
    due_at = report.erased_at + timedelta(seconds=get_settings().privacy_tracker_purge_delay_s)
    assert get_settings().privacy_tracker_purge_delay_s == 120
    _identification_session(tracker_store, "tg-77")  # Rasa re-saves the session
    working_url = get_settings().effective_tracker_url

    # The tracker store becomes unreachable: a SQLite file that cannot be opened / a closed PostgreSQL port.
    broken = (
        f"sqlite:///{tmp_path / 'no-such-dir' / 'tracker.db'}"
        if working_url.startswith("sqlite")
        else "postgresql+psycopg://postgres@127.0.0.1:1/memnun"
    )
    monkeypatch.setenv("TRACKER_DATABASE_URL", broken)
    get_settings.cache_clear()
    for attempt in (1, 2):
        failed = tracker_purge_job(now=due_at + timedelta(minutes=attempt))
        assert (failed.due, failed.purged, failed.failed) == (1, 0, 1)
        assert failed.error is not None and "OperationalError" in failed.error
        assert _purges() == {"tg-77": (report.erased_at, due_at, attempt, failed.error)}

    # Back up: the next run purges the re-saved events and forgets the sender id.
    monkeypatch.setenv("TRACKER_DATABASE_URL", working_url)
    get_settings.cache_clear()
    assert len(tracker_events.conversation_events("tg-77")) > 0
    done = tracker_purge_job(now=due_at + timedelta(minutes=3))
    assert (done.due, done.purged, done.failed) == (1, 1, 0)
    assert tracker_events.conversation_events("tg-77") == []
    assert _purges() == {}
