"""Order look-ups and return guidance.

Orders are mirrored from the shop system; the assistant only reads them. Return guidance follows the
distance-sales rule in Türkiye: the withdrawal period (``return_window_days``, 14 by default) runs from
delivery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.db.models import Order
from bot.services.tx import transaction, utcnow
from bot.settings import get_settings

OrderStatus = Literal["placed", "preparing", "shipped", "out_for_delivery", "delivered", "cancelled", "returned"]
ReturnReason = Literal["within_window", "window_closed", "not_delivered", "cancelled", "already_returned"]


@dataclass(frozen=True)
class OrderInfo:
    number: str
    status: OrderStatus
    carrier: str | None
    tracking_code: str | None
    placed_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None
    estimated_delivery: date | None
    total: Decimal
    currency: str
    return_window_days: int
    refund_status: str | None  # None | "pending" | "refunded"
    customer_id: int | None


@dataclass(frozen=True)
class ReturnGuidance:
    """Whether the order can be returned now.

    ``reason_code``: ``within_window`` (eligible; ``days_left`` = days after today, 0 = last day), ``window_closed``,
    ``not_delivered`` (not delivered yet: cancel or refuse the parcel instead), ``cancelled``,
    ``already_returned`` (see ``refund_status``).
    """

    eligible: bool
    reason_code: ReturnReason
    days_left: int | None
    refund_status: str | None


_ORDER_NUMBER = re.compile(r"(?<![a-z0-9])(?:sp)?\s*[-#:]?\s*(\d{7})(?!\d)", re.IGNORECASE)


def normalize_order_number(text: str) -> str | None:
    """``SP1234567``, ``sp 1234567``, ``#SP-1234567``, ``1234567`` -> ``SP1234567``; None if there is none."""
    if not text:
        return None
    match = _ORDER_NUMBER.search(text.strip())
    return f"SP{match.group(1)}" if match else None


def _info(order: Order) -> OrderInfo:
    return OrderInfo(
        number=order.number,
        status=order.status,  # type: ignore[arg-type]
        carrier=order.carrier,
        tracking_code=order.tracking_code,
        placed_at=order.placed_at,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
        estimated_delivery=order.estimated_delivery,
        total=order.total,
        currency=order.currency,
        return_window_days=order.return_window_days,
        refund_status=order.refund_status,
        customer_id=order.customer_id,
    )


def find_order(order_number: str, customer_id: int | None = None) -> OrderInfo | None:
    """The order, or None; with ``customer_id`` only that customer's order is returned (no cross-customer leak)."""
    number = normalize_order_number(order_number)
    if number is None:
        return None
    with transaction() as session:
        query = select(Order).where(Order.number == number)
        if customer_id is not None:
            query = query.where(Order.customer_id == customer_id)
        order = session.scalars(query).one_or_none()
        return _info(order) if order else None


def recent_orders(customer_id: int, limit: int = 3) -> list[OrderInfo]:
    """The customer's latest orders, newest first."""
    with transaction() as session:
        orders = session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(max(1, min(limit, 50)))
        ).all()
        return [_info(order) for order in orders]


def return_guidance(order: OrderInfo, today: date | None = None) -> ReturnGuidance:
    """Can this order still be returned? Days are counted in the business timezone, delivery day excluded."""
    tz = ZoneInfo(get_settings().timezone)
    today = today or utcnow().astimezone(tz).date()
    if order.status == "cancelled":
        return ReturnGuidance(False, "cancelled", None, order.refund_status)
    if order.status == "returned":
        return ReturnGuidance(False, "already_returned", None, order.refund_status or "pending")
    if order.status != "delivered" or order.delivered_at is None:
        return ReturnGuidance(False, "not_delivered", None, order.refund_status)
    delivered_on = order.delivered_at.astimezone(tz).date()
    last_day = delivered_on.toordinal() + order.return_window_days
    days_left = last_day - today.toordinal()
    if days_left < 0:
        return ReturnGuidance(False, "window_closed", 0, order.refund_status)
    # The window's last day is delivery day + window; days_left == 0 means "today is the last day".
    return ReturnGuidance(True, "within_window", days_left, order.refund_status)
