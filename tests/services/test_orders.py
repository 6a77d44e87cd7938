"""Orders: number normalisation, scoped look-ups, return guidance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bot.services import orders


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SP1234567", "SP1234567"),
        ("sp 1234567", "SP1234567"),
        ("#SP-1234567", "SP1234567"),
        ("1234567", "SP1234567"),
        ("siparişim SP1234567 nerede?", "SP1234567"),
        ("123456", None),
        ("12345678", None),
        ("5321234567", None),
        ("", None),
    ],
)
def test_normalize_order_number(text: str, expected: str | None) -> None:
    assert orders.normalize_order_number(text) == expected


def test_find_order_is_scoped_to_customer(make_customer: Callable[..., int], make_order: Callable[..., str]) -> None:
    owner = make_customer()
    stranger = make_customer()
    make_order("SP1000001", owner, "shipped")
    found = orders.find_order("sp 1000001", owner)
    assert found is not None and found.status == "shipped" and found.carrier == "Aras Kargo"
    assert found.placed_at.tzinfo is not None
    assert orders.find_order("SP1000001", stranger) is None
    assert orders.find_order("1000001") is not None
    assert orders.find_order("SP9999999") is None
    assert orders.find_order("not an order") is None


def test_recent_orders_newest_first(make_customer: Callable[..., int], make_order: Callable[..., str]) -> None:
    customer_id = make_customer()
    make_order("SP1000011", customer_id, placed_days_ago=30)
    make_order("SP1000012", customer_id, placed_days_ago=2)
    make_order("SP1000013", customer_id, placed_days_ago=10)
    make_order("SP1000014", customer_id, placed_days_ago=50)
    make_order("SP1000015", make_customer(), placed_days_ago=1)
    assert [o.number for o in orders.recent_orders(customer_id)] == ["SP1000012", "SP1000013", "SP1000011"]
    assert len(orders.recent_orders(customer_id, limit=10)) == 4


def _order(status: str, delivered: datetime | None, refund: str | None = None) -> orders.OrderInfo:
    return orders.OrderInfo(
        number="SP1000001",
        status=status,
        carrier="PTT Kargo",
        tracking_code=None,  # type: ignore[arg-type]
        placed_at=datetime(2026, 3, 1, tzinfo=UTC),
        shipped_at=None,
        delivered_at=delivered,
        estimated_delivery=None,
        total=0,
        currency="TRY",
        return_window_days=14,
        refund_status=refund,
        customer_id=None,  # type: ignore[arg-type]
    )


def test_return_guidance(configured_env: str) -> None:
    delivered = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 12:00 in Istanbul
    order = _order("delivered", delivered)
    assert orders.return_guidance(order, today=date(2026, 3, 13)) == orders.ReturnGuidance(
        True, "within_window", 11, None
    )
    assert orders.return_guidance(order, today=date(2026, 3, 24)).days_left == 0  # last day
    assert orders.return_guidance(order, today=date(2026, 3, 25)) == orders.ReturnGuidance(
        False, "window_closed", 0, None
    )
    # Delivered 23:30 Istanbul time on the 10th = 20:30 UTC: the window counts Istanbul days.
    late = replace(order, delivered_at=datetime(2026, 3, 10, 20, 30, tzinfo=UTC))
    assert orders.return_guidance(late, today=date(2026, 3, 24)).eligible
    assert orders.return_guidance(_order("shipped", None), today=date(2026, 3, 13)).reason_code == "not_delivered"
    assert orders.return_guidance(_order("cancelled", None)).reason_code == "cancelled"
    returned = orders.return_guidance(_order("returned", delivered, "refunded"))
    assert (returned.eligible, returned.reason_code, returned.refund_status) == (False, "already_returned", "refunded")
