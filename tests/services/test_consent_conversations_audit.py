"""Consents and opt-outs, conversation/channel records, the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.db.models import AuditLog, ChannelIdentity, Customer
from bot.db.session import session_scope
from bot.services import audit, consent, conversations, identity
from bot.services.errors import InvalidInput


def test_consents_are_separate_with_timestamp_and_source(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer()
    moment = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    state = consent.set_checkin_consent(customer_id, True, "telegram:chat", now=moment)
    assert (state.checkin_consent, state.checkin_consent_at, state.marketing_consent) == (True, moment, False)
    state = consent.set_marketing_consent(customer_id, True, "web:form")
    assert state.marketing_consent and state.checkin_consent
    state = consent.set_marketing_consent(customer_id, False, "web:form")
    assert not state.marketing_consent and state.checkin_consent
    with session_scope() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.checkin_consent_source == "telegram:chat"
        assert customer.marketing_consent_source == "web:form"
        actions = session.scalars(select(AuditLog.action)).all()
    assert actions.count("consent.marketing") == 2
    with pytest.raises(InvalidInput):
        consent.set_checkin_consent(customer_id, True, "")
    with pytest.raises(InvalidInput):
        consent.set_checkin_consent(424242, True, "x")


def test_opt_out_unidentified_sender(migrated_db: str) -> None:
    assert not consent.is_opted_out("telegram", "tg-100")
    consent.opt_out_channel("telegram", "tg-100", "chat:dur")
    assert consent.is_opted_out("telegram", "tg-100")
    assert not consent.is_opted_out("web", "tg-100")
    consent.opt_in_channel("telegram", "tg-100", "chat:start")
    assert not consent.is_opted_out("telegram", "tg-100")


def test_opt_out_of_identified_sender_withdraws_consents(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer(phone="+905321234567")
    consent.set_checkin_consent(customer_id, True, "signup")
    consent.set_marketing_consent(customer_id, True, "signup")
    assert identity.identify_by_contact("telegram", "tg-5", "+905321234567").status == "ok"
    consent.opt_out_channel("telegram", "tg-5", "chat:stop")
    state = consent.get_consent(customer_id)
    assert (state.checkin_consent, state.marketing_consent, state.opted_out) == (False, False, True)
    # The customer's other channel is opted out too, through the customer.
    identity.identify_by_contact("web", "web-5", "+905321234567")
    assert consent.is_opted_out("web", "web-5")
    summary = identity.customer_for_channel("web", "web-5")
    assert summary is not None and summary.opted_out
    # A new explicit consent is a newer decision than the blanket opt-out.
    assert not consent.set_checkin_consent(customer_id, True, "web:form").opted_out


def test_record_channel(make_customer: Callable[..., int]) -> None:
    first = conversations.record_channel("web-abc", "web", language="tr")
    assert (first.channel, first.customer_id, first.language) == ("web", None, "tr")
    customer_id = make_customer()
    second = conversations.record_channel("web-abc", "web", customer_id)
    assert second.customer_id == customer_id and second.first_seen == first.first_seen
    third = conversations.record_channel("web-abc", "web")
    assert third.customer_id == customer_id  # None never unlinks
    assert conversations.get_conversation("web-abc") == third
    with session_scope() as session:
        row = session.scalars(select(ChannelIdentity).where(ChannelIdentity.external_id == "web-abc")).one()
        assert row.customer_id == customer_id and row.reachable
    with pytest.raises(InvalidInput):
        conversations.record_channel("x", "web", language="de")


def test_channel_from_sender_id() -> None:
    assert conversations.channel_from_sender_id("tg-123") == "telegram"
    assert conversations.channel_from_sender_id("web-8f1c") == "web"
    assert conversations.channel_from_sender_id("curl-test") == "rest"


def test_reachability(migrated_db: str) -> None:
    conversations.mark_unreachable("telegram", "tg-9", "bot_blocked")
    with session_scope() as session:
        row = session.scalars(select(ChannelIdentity)).one()
        assert (row.reachable, row.unreachable_reason) == (False, "bot_blocked")
    conversations.mark_reachable("telegram", "tg-9")
    with session_scope() as session:
        row = session.scalars(select(ChannelIdentity)).one()
        assert (row.reachable, row.unreachable_reason) == (True, None)


def test_audit_record_and_personal_data_guard(migrated_db: str) -> None:
    audit.record("ayse.destek", "ticket.viewed", "ticket", "T-2026-000001", {"reason": "sla"})
    with session_scope() as session:
        row = session.scalars(select(AuditLog)).one()
        assert (row.actor, row.action, row.entity, row.entity_id, row.details) == (
            "ayse.destek",
            "ticket.viewed",
            "ticket",
            "T-2026-000001",
            {"reason": "sla"},
        )
        assert row.created_at.tzinfo is not None
    for key in ("phone", "Email", "description"):
        with pytest.raises(InvalidInput) as error:
            audit.record("x", "y", "z", 1, {key: "secret"})
        assert error.value.code == "personal_data_in_audit"
    with pytest.raises(InvalidInput):
        audit.record("x", "y", "z", 1, {"nested": {"first_name": "Ayşe"}})
