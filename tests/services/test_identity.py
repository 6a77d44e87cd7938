"""Identity: parsing, contact signatures, identification with lockout, channel links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db.models import AuditLog, ChannelIdentity, Conversation
from bot.db.session import session_scope
from bot.services import conversations, identity
from bot.services.errors import InvalidInput

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0532 123 45 67", "+905321234567"),
        ("+90 532 1234567", "+905321234567"),
        ("5321234567", "+905321234567"),
        ("905321234567", "+905321234567"),
        ("0090 532 123 45 67", "+905321234567"),
        ("(0532) 123-45-67", "+905321234567"),
        ("numaram 0532 123 45 67, teşekkürler", "+905321234567"),
        ("+905321234567", "+905321234567"),
        ("0212 123 45 67", None),  # landline
        ("532 123 45", None),
        ("MN100001", None),
        ("", None),
    ],
)
def test_normalize_phone(text: str, expected: str | None) -> None:
    assert identity.normalize_phone(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MN102345", "MN102345"),
        ("mn 102345", "MN102345"),
        ("MN-102345", "MN102345"),
        ("102345", "MN102345"),
        ("müşteri no: Mn102345", "MN102345"),
        ("MN10234", None),
        ("1023456", None),
        ("abc", None),
    ],
)
def test_normalize_customer_number(text: str, expected: str | None) -> None:
    assert identity.normalize_customer_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14.03.1988", date(1988, 3, 14)),
        ("14/3/88", date(1988, 3, 14)),
        ("1988-03-14", date(1988, 3, 14)),
        ("14 mart 1988", date(1988, 3, 14)),
        ("14 Mart 1988", date(1988, 3, 14)),
        ("14 MART 1988", date(1988, 3, 14)),
        ("1 Ağustos 1975", date(1975, 8, 1)),
        ("1 agustos 1975", date(1975, 8, 1)),
        ("29 Şubat 2000", date(2000, 2, 29)),
        ("March 14 1988", date(1988, 3, 14)),
        ("March 14, 1988", date(1988, 3, 14)),
        ("14th March 1988", date(1988, 3, 14)),
        ("05.06.05", date(2005, 6, 5)),
        ("doğum tarihim 14.03.1988", date(1988, 3, 14)),
        ("31.02.1990", None),
        ("01.01.2030", None),  # future
        ("14 foo 1988", None),
        ("yarın", None),
    ],
)
def test_parse_birth_date(text: str, expected: date | None) -> None:
    assert identity.parse_birth_date(text, today=TODAY) == expected


def test_contact_signature_round_trip(configured_env: str) -> None:
    signature = identity.sign_contact("tg-42", "+905321234567")
    assert len(signature) == 64
    assert identity.verify_contact("tg-42", "+905321234567", signature)
    assert not identity.verify_contact("tg-43", "+905321234567", signature)  # other sender
    assert not identity.verify_contact("tg-42", "+905329999999", signature)  # other phone
    assert not identity.verify_contact("tg-42", "+905321234567", "")
    assert not identity.verify_contact("tg-42", "+905321234567", signature[:-1] + "0")


def test_contact_signature_depends_on_secret(configured_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import get_settings

    signature = identity.sign_contact("tg-42", "+905321234567")
    monkeypatch.setenv("SECRET_KEY", "another-secret")
    get_settings.cache_clear()
    assert not identity.verify_contact("tg-42", "+905321234567", signature)


def test_identify_by_facts_success_links_channel_and_conversation(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer(first_name="Ayşe", phone="+905321234567", birth_date=date(1990, 3, 15))
    conversations.record_channel("tg-1", "telegram")
    result = identity.identify_by_facts("telegram", "tg-1", "0532 123 45 67", "15.03.1990")
    assert result.status == "ok"
    assert (result.customer_id, result.first_name, result.language) == (customer_id, "Ayşe", "tr")
    summary = identity.customer_for_channel("telegram", "tg-1")
    assert summary is not None and summary.customer_id == customer_id and summary.first_name == "Ayşe"
    assert identity.customer_for_channel("web", "tg-1") is None
    with session_scope() as session:
        assert (
            session.scalars(select(Conversation.customer_id).where(Conversation.sender_id == "tg-1")).one()
            == customer_id
        )
        actions = session.scalars(select(AuditLog.action)).all()
    assert "identity.identified" in actions


def test_identify_by_customer_number(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer(customer_number="MN123456", birth_date=date(1980, 1, 2))
    result = identity.identify_by_facts("web", "web-abc", "mn 123456", date(1980, 1, 2))
    assert result.status == "ok" and result.customer_id == customer_id


def test_lockout_after_three_failures_and_time_travel(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer(phone="+905321234567", birth_date=date(1990, 3, 15))
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    first = identity.identify_by_facts("telegram", "tg-7", "05321234567", date(1990, 3, 16), now=start)
    assert (first.status, first.attempts_left) == ("mismatch", 2)
    # An unknown phone counts exactly like a wrong birth date (no existence oracle).
    second = identity.identify_by_facts("telegram", "tg-7", "05559998877", date(1990, 3, 15), now=start)
    assert (second.status, second.attempts_left) == ("mismatch", 1)
    third = identity.identify_by_facts("telegram", "tg-7", "05321234567", date(1991, 3, 15), now=start)
    assert third.status == "locked" and third.locked_until == start + timedelta(minutes=15)
    # Even the right answer is refused while locked.
    during = identity.identify_by_facts(
        "telegram", "tg-7", "05321234567", date(1990, 3, 15), now=start + timedelta(minutes=14, seconds=59)
    )
    assert during.status == "locked" and during.customer_id is None
    # The lock is per channel identity: another chat is not affected.
    other = identity.identify_by_facts("telegram", "tg-8", "05321234567", date(1990, 3, 15), now=start)
    assert other.status == "ok"
    # After 15 minutes the counter starts again.
    after = start + timedelta(minutes=15, seconds=1)
    again = identity.identify_by_facts("telegram", "tg-7", "05321234567", date(1980, 1, 1), now=after)
    assert (again.status, again.attempts_left) == ("mismatch", 2)
    ok = identity.identify_by_facts("telegram", "tg-7", "05321234567", date(1990, 3, 15), now=after)
    assert ok.status == "ok" and ok.customer_id == customer_id
    with session_scope() as session:
        row = session.scalars(select(ChannelIdentity).where(ChannelIdentity.external_id == "tg-7")).one()
        assert (row.identification_failures, row.locked_until, row.customer_id) == (0, None, customer_id)


def test_lock_settings_are_configurable(make_customer: Callable[..., int], monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("IDENTIFICATION_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("IDENTIFICATION_LOCK_MINUTES", "5")
    get_settings.cache_clear()
    make_customer(phone="+905321234567", birth_date=date(1990, 3, 15))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert identity.identify_by_facts("web", "web-1", "5321234567", date(2000, 1, 1), now=now).attempts_left == 1
    locked = identity.identify_by_facts("web", "web-1", "5321234567", date(2000, 1, 1), now=now)
    assert locked.status == "locked" and locked.locked_until == now + timedelta(minutes=5)


def test_unparseable_input_is_invalid_and_not_counted(make_customer: Callable[..., int]) -> None:
    make_customer(phone="+905321234567", birth_date=date(1990, 3, 15))
    with pytest.raises(InvalidInput) as error:
        identity.identify_by_facts("web", "web-2", "hello", date(1990, 3, 15))
    assert error.value.code == "invalid_identifier"
    with pytest.raises(InvalidInput) as error:
        identity.identify_by_facts("web", "web-2", "05321234567", "not a date")
    assert error.value.code == "invalid_birth_date"
    with pytest.raises(InvalidInput) as error:
        identity.identify_by_facts("Tele Gram", "x", "05321234567", date(1990, 3, 15))
    assert error.value.code == "invalid_channel"
    assert identity.identify_by_facts("web", "web-2", "05321234567", date(1990, 3, 16)).attempts_left == 2


def test_identify_by_contact(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer(first_name="Mehmet", phone="+905321234567")
    result = identity.identify_by_contact("telegram", "tg-9", "+905321234567")
    assert result.status == "ok" and result.customer_id == customer_id and result.first_name == "Mehmet"
    unknown = identity.identify_by_contact("telegram", "tg-10", "+905559998877")
    assert unknown.status == "unknown" and unknown.customer_id is None
    with pytest.raises(InvalidInput):
        identity.identify_by_contact("telegram", "tg-10", "+4915112345678")


def test_contact_does_not_bypass_lock(make_customer: Callable[..., int]) -> None:
    make_customer(phone="+905321234567", birth_date=date(1990, 3, 15))
    now = datetime(2026, 5, 1, tzinfo=UTC)
    for _ in range(3):
        identity.identify_by_facts("telegram", "tg-11", "05321234567", date(2001, 1, 1), now=now)
    assert identity.identify_by_contact("telegram", "tg-11", "+905321234567", now=now).status == "locked"


def test_erased_customer_cannot_be_identified(make_customer: Callable[..., int]) -> None:
    from bot.services.privacy import erase_customer

    customer_id = make_customer(phone="+905321234567", birth_date=date(1990, 3, 15))
    assert identity.identify_by_facts("web", "web-3", "05321234567", date(1990, 3, 15)).status == "ok"
    erase_customer(customer_id, "test")
    assert identity.customer_for_channel("web", "web-3") is None
    assert identity.identify_by_facts("web", "web-4", "05321234567", date(1990, 3, 15)).status == "mismatch"
    assert identity.get_customer_summary(customer_id) is None


def test_customer_id_by_number(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer(customer_number="MN654321")
    assert identity.customer_id_by_number("mn654321") == customer_id
    assert identity.customer_id_by_number("MN000000") is None
