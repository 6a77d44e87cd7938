"""Tickets: priority rules, refs, idempotent opening, masking, concurrency, staff updates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db.models import Ticket, TicketEvent, TicketNote
from bot.db.session import session_scope
from bot.services import tickets
from bot.services.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Avukatıma gideceğim!", "urgent"),
        ("AVUKAT ile görüşeceğim", "urgent"),
        ("avukatima danistim", "urgent"),
        ("Tüketici hakem heyetine başvuracağım", "urgent"),
        ("tuketici hakem heyeti", "urgent"),
        ("Dava açacağım", "urgent"),
        ("ürün yüzünden yangın çıktı", "urgent"),
        ("çocuğum zehirlendi", "urgent"),
        ("kutu açılırken yaralandı", "urgent"),
        ("I will sue you", "urgent"),
        ("my lawyer will contact you", "urgent"),
        ("my son got injured", "urgent"),
        ("Kartımdan iki kez çekildi", "high"),
        ("dolandırıldım", "high"),
        ("I was charged twice", "high"),
        ("şikayetvar'a yazacağım", "high"),
        ("Bir önerim var: uygulamaya karanlık mod", "low"),
        ("it would be nice to have gift wrapping", "low"),
        ("Kargom geç geldi", "normal"),
        ("The parcel is late", "normal"),
        ("", "normal"),
    ],
)
def test_detect_priority(text: str, expected: str) -> None:
    assert tickets.detect_priority(text) == expected


def test_no_false_positive_on_similar_words() -> None:
    assert tickets.detect_priority("Davet mektubu gelmedi") == "normal"  # "davet" is not "dava"
    assert tickets.detect_priority("the courier was courteous") == "normal"
    assert tickets.detect_priority("issue with my suede shoes") == "normal"


def test_expected_response_hours() -> None:
    assert tickets.EXPECTED_RESPONSE_HOURS == {"urgent": 2, "high": 8, "normal": 24, "low": 48}
    assert set(tickets.COMPLAINT_CATEGORIES) == {
        "delivery",
        "product",
        "refund",
        "staff",
        "loyalty",
        "website",
        "other",
    }
    assert all(set(labels) == {"tr", "en"} for labels in tickets.COMPLAINT_CATEGORIES.values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("T-2026-000123", "T-2026-000123"),
        ("t-2026-123", "T-2026-000123"),
        ("t 2026-123", "T-2026-000123"),
        ("talep no T-2026-000123 ne oldu", "T-2026-000123"),
        ("abc", None),
        ("T-2026", None),
        ("0", None),
    ],
)
def test_normalize_ticket_ref(text: str, expected: str | None) -> None:
    assert tickets.normalize_ticket_ref(text) == expected


def test_bare_number_gets_current_year(configured_env: str) -> None:
    year = datetime.now(UTC).year  # Istanbul year differs only in the last hours of 31 December
    assert tickets.normalize_ticket_ref("000123") in {f"T-{year}-000123", f"T-{year + 1}-000123"}


def test_open_ticket_masks_detects_priority_and_is_idempotent(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer()
    info = tickets.open_ticket(
        customer_id,
        "refund",
        "Avukatıma gideceğim, kart 4111 1111 1111 1111 iki kez çekildi",
        "sp 1000001",
        "telegram",
        "tg-5",
        "tr",
        "key-1",
    )
    assert info.ref.startswith(f"T-{info.created_at.year}-") and len(info.ref) == 13
    assert (info.status, info.priority, info.expected_response_hours) == ("open", "urgent", 2)
    assert info.order_number == "SP1000001" and info.first_response_due_at == info.created_at + timedelta(hours=2)
    again = tickets.open_ticket(customer_id, "refund", "different text", None, "telegram", "tg-5", "tr", "key-1")
    assert again.ref == info.ref
    with session_scope() as session:
        rows = session.scalars(select(Ticket)).all()
        assert len(rows) == 1
        assert "4111" not in rows[0].description and "**** **** **** 1111" in rows[0].description
        assert rows[0].conversation_id == "tg-5"
        assert session.scalars(select(TicketEvent.new_value)).all() == ["open"]


def test_open_ticket_validation(migrated_db: str) -> None:
    with pytest.raises(InvalidInput) as error:
        tickets.open_ticket(None, "weather", "text", None, "web", "web-1", "tr", "k1")
    assert error.value.code == "unknown_category"
    with pytest.raises(InvalidInput) as error:
        tickets.open_ticket(None, "other", "   ", None, "web", "web-1", "tr", "k2")
    assert error.value.code == "empty_description"


def test_get_and_latest_ticket(make_customer: Callable[..., int]) -> None:
    owner = make_customer()
    other = make_customer()
    first = tickets.open_ticket(owner, "delivery", "Kargom gelmedi", None, "web", "web-1", "tr", "a")
    second = tickets.open_ticket(owner, "product", "Ürün kırık", None, "web", "web-1", "tr", "b")
    tickets.open_ticket(other, "product", "başka", None, "web", "web-2", "tr", "c")
    number = first.ref.rsplit("-", 1)[1]
    assert tickets.get_ticket(first.ref).ref == first.ref  # type: ignore[union-attr]
    assert tickets.get_ticket(first.ref.lower(), owner).ref == first.ref  # type: ignore[union-attr]
    assert tickets.get_ticket(number, owner).ref == first.ref  # type: ignore[union-attr]
    assert tickets.get_ticket(str(int(number)), owner).ref == first.ref  # type: ignore[union-attr]
    assert tickets.get_ticket(first.ref, other) is None
    assert tickets.get_ticket(f"T-1999-{number}") is None  # wrong year
    assert tickets.get_ticket("T-2026-999999") is None
    assert tickets.latest_ticket(owner).ref == second.ref  # type: ignore[union-attr]
    assert tickets.latest_ticket(make_customer()) is None
    assert [t.ref for t in tickets.tickets_for_customer(owner)] == [second.ref, first.ref]


def test_concurrent_tickets_get_unique_refs(migrated_db: str) -> None:
    refs: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def open_one(n: int) -> None:
        barrier.wait()
        try:
            refs.append(tickets.open_ticket(None, "other", f"text {n}", None, "web", f"web-{n}", "tr", f"k-{n}").ref)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(refs) == 12 and len(set(refs)) == 12


def test_staff_workflow(migrated_db: str) -> None:
    info = tickets.open_ticket(None, "website", "Ödeme sayfası açılmıyor", None, "web", "web-1", "tr", "k")
    now = datetime.now(UTC)
    assigned = tickets.assign_ticket(info.ref, "ayse.destek", "lead")
    assert assigned.updated_at >= info.updated_at
    tickets.add_note(info.ref, "ayse.destek", "İç not: ödeme sağlayıcıya soruldu", internal=True)
    assert tickets.get_ticket(info.ref).first_response_at is None  # type: ignore[union-attr]
    tickets.add_note(info.ref, "ayse.destek", "Merhaba, inceliyoruz. Kart 4111111111111111", internal=False, now=now)
    assert tickets.get_ticket(info.ref).first_response_at == now  # type: ignore[union-attr]
    progressed = tickets.change_status(info.ref, "in_progress", "ayse.destek")
    assert progressed.status == "in_progress"
    resolved = tickets.change_status(info.ref, "resolved", "ayse.destek")
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    closed = tickets.change_status(info.ref, "closed", "ayse.destek")
    assert closed.status == "closed"
    with pytest.raises(InvalidInput) as error:
        tickets.change_status(info.ref, "open", "ayse.destek")
    assert error.value.code == "invalid_transition"
    with pytest.raises(InvalidInput):
        tickets.change_status("T-2026-999999", "closed", "x")
    with session_scope() as session:
        events = session.scalars(select(TicketEvent).order_by(TicketEvent.id)).all()
        assert [(e.field, e.new_value) for e in events] == [
            ("status", "open"),
            ("assignee", "ayse.destek"),
            ("status", "in_progress"),
            ("status", "resolved"),
            ("status", "closed"),
        ]
        bodies = session.scalars(select(TicketNote.body).order_by(TicketNote.id)).all()
        assert "4111111111111111" not in bodies[1]
