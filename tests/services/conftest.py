"""Factories for service tests: rows are created through the ORM in their own committed transaction."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.db.models import Customer, Order, Reward
from bot.db.session import session_scope

_numbers = itertools.count(200001)


@pytest.fixture
def make_customer(migrated_db: str) -> Callable[..., int]:
    """Create a customer and return its id. Phone/number are unique per call unless given."""

    def factory(
        *,
        first_name: str = "Zeynep",
        last_name: str = "Kaya",
        phone: str | None = None,
        birth_date: date | None = date(1985, 6, 20),
        language: str = "tr",
        customer_number: str | None = None,
    ) -> int:
        serial = next(_numbers)
        with session_scope(write=True) as session:
            customer = Customer(
                customer_number=customer_number or f"MN{serial:06d}",
                first_name=first_name,
                last_name=last_name,
                phone=phone or f"+90555{serial:07d}",
                email=f"c{serial}@example.com",
                birth_date=birth_date,
                preferred_language=language,
                checkin_consent=False,
                marketing_consent=False,
                created_at=datetime.now(UTC),
            )
            session.add(customer)
            session.flush()
            return customer.id

    return factory


@pytest.fixture
def make_reward(migrated_db: str) -> Callable[..., int]:
    """Create a reward and return its id."""
    counter = itertools.count(1)

    def factory(
        *,
        cost: int = 500,
        stock: int | None = None,
        active: bool = True,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        name_tr: str = "50 TL indirim çeki",
        name_en: str = "50 TL discount voucher",
    ) -> int:
        with session_scope(write=True) as session:
            reward = Reward(
                code=f"R{next(counter)}",
                name_tr=name_tr,
                name_en=name_en,
                cost=cost,
                stock=stock,
                valid_from=valid_from,
                valid_until=valid_until,
                active=active,
                created_at=datetime.now(UTC),
            )
            session.add(reward)
            session.flush()
            return reward.id

    return factory


@pytest.fixture
def make_order(migrated_db: str) -> Callable[..., str]:
    """Create an order and return its number."""

    def factory(
        number: str,
        customer_id: int | None,
        status: str = "delivered",
        *,
        delivered_days_ago: int | None = 3,
        refund_status: str | None = None,
        placed_days_ago: int = 10,
    ) -> str:
        now = datetime.now(UTC)
        delivered = (
            now - timedelta(days=delivered_days_ago)
            if status == "delivered" and delivered_days_ago is not None
            else None
        )
        with session_scope(write=True) as session:
            session.add(
                Order(
                    number=number,
                    customer_id=customer_id,
                    status=status,
                    carrier="Aras Kargo" if status != "placed" else None,
                    tracking_code="AR0000000001" if status != "placed" else None,
                    total=Decimal("249.90"),
                    currency="TRY",
                    placed_at=now - timedelta(days=placed_days_ago),
                    shipped_at=now - timedelta(days=placed_days_ago - 1)
                    if status not in ("placed", "preparing")
                    else None,
                    delivered_at=delivered,
                    estimated_delivery=None,
                    return_window_days=14,
                    refund_status=refund_status,
                )
            )
        return number

    return factory
