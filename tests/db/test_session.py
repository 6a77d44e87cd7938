"""Engine/session helpers and model-level constraints on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from bot.db.models import AuditLog, Customer, SurveyResponse
from bot.db.session import get_engine, reset_engine, session_scope


def _customer(number: str, phone: str) -> Customer:
    return Customer(
        customer_number=number,
        first_name="Ali",
        last_name="Kaya",
        phone=phone,
        preferred_language="tr",
        checkin_consent=False,
        marketing_consent=False,
        created_at=datetime.now(UTC),
    )


def test_session_scope_commits_and_rolls_back(migrated_db: str) -> None:
    with session_scope(write=True) as session:
        session.add(_customer("MN000001", "+905550000001"))
    with pytest.raises(RuntimeError), session_scope(write=True) as session:
        session.add(_customer("MN000002", "+905550000002"))
        session.flush()
        raise RuntimeError("boom")
    with session_scope() as session:
        assert session.scalars(select(Customer.customer_number)).all() == ["MN000001"]


def test_engine_is_cached_and_resettable(migrated_db: str) -> None:
    engine = get_engine()
    assert get_engine() is engine
    reset_engine()
    assert get_engine() is not engine


def test_sqlite_pragmas(migrated_db: str) -> None:
    if not migrated_db.startswith("sqlite"):
        pytest.skip("SQLite-only settings")
    with get_engine().connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_timestamps_round_trip_as_aware_utc(migrated_db: str) -> None:
    istanbul = timezone(timedelta(hours=3))
    moment = datetime(2026, 5, 1, 15, 30, tzinfo=istanbul)
    with session_scope(write=True) as session:
        session.add(AuditLog(actor="t", action="a", entity="e", entity_id="1", details={"k": 1}, created_at=moment))
    with session_scope() as session:
        stored = session.scalars(select(AuditLog.created_at)).one()
    assert stored.tzinfo is not None and stored == moment and stored.utcoffset() == timedelta(0)
    with pytest.raises(Exception, match="naive"), session_scope(write=True) as session:
        session.add(AuditLog(actor="t", action="a", entity="e", details={}, created_at=datetime(2026, 1, 1)))
        session.flush()


def test_database_constraints(migrated_db: str) -> None:
    with session_scope(write=True) as session:
        session.add(_customer("MN000003", "+905550000003"))
    with pytest.raises(IntegrityError), session_scope(write=True) as session:
        session.add(_customer("MN000004", "+905550000003"))  # duplicate phone
    for kind, score in (("csat", 0), ("csat", 6), ("nps", 11), ("nps", -1)):
        with pytest.raises(IntegrityError), session_scope(write=True) as session:
            session.add(
                SurveyResponse(
                    kind=kind,
                    score=score,
                    channel="web",
                    language="tr",
                    idempotency_key=f"{kind}{score}",
                    created_at=datetime.now(UTC),
                )
            )
    with pytest.raises(IntegrityError), session_scope(write=True) as session:
        session.execute(
            text(
                "INSERT INTO loyalty_accounts (customer_id, balance, lifetime_points, tier, created_at, "
                "updated_at) VALUES (999, 0, 0, 'Bronze', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
