"""Fixtures for the action tests: a seeded database, the identified demo customer, a dead database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def seeded_db(migrated_db: str) -> Iterator[str]:
    """A migrated database with the demo data set (demo customer MN100001 Ayşe Yılmaz)."""
    from bot.services.seed import seed_demo_data

    seed_demo_data()
    yield migrated_db


@pytest.fixture
def demo_customer(seeded_db: str) -> dict[str, Any]:
    """Facts of the demo customer, identified on a fresh Telegram chat."""
    from bot.services import identity
    from bot.services.seed import DEMO_PHONE, demo_birth_date

    result = identity.identify_by_facts("telegram", "tg-1001", DEMO_PHONE, demo_birth_date())
    assert result.status == "ok"
    return {
        "customer_id": result.customer_id,
        "customer_first_name": result.first_name,
        "phone": DEMO_PHONE,
        "birth_date": demo_birth_date(),
    }


@pytest.fixture
def unreachable_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Settings pointing at a PostgreSQL port where nothing listens: every service call fails."""
    from bot.settings import get_settings

    url = "postgresql+psycopg://postgres@127.0.0.1:1/memnun_unreachable"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    _reset_engines()
    yield url
    _reset_engines()
    get_settings.cache_clear()


def _reset_engines() -> None:
    from bot.db import session as db_session

    reset = getattr(db_session, "reset_engine", None)
    if reset is not None:
        reset()
