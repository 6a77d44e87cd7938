"""Demo seed (idempotent, consistent) and the data CLI commands."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db.models import Customer, Order, Reward, SurveyResponse, Ticket
from bot.db.session import session_scope
from bot.services import cli as services_cli
from bot.services import identity, loyalty, orders, seed, tickets


def test_seed_is_idempotent_and_demo_customer_is_complete(migrated_db: str) -> None:
    report = seed.seed_demo_data(None, customers=50, random_seed=42)
    assert report.created and report.customers == 50 and 8 <= report.rewards <= 12
    assert not seed.seed_demo_data(None).created
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 50
        statuses = set(session.scalars(select(Order.status)))
        assert statuses == set(seed.ORDER_STATUSES)
        carriers = set(session.scalars(select(Order.carrier).where(Order.carrier.is_not(None))))
        assert carriers <= set(seed.CARRIERS) and len(carriers) >= 3
        rewards = session.scalars(select(Reward)).all()
        assert any(r.stock == 0 for r in rewards) and any(r.valid_until is not None for r in rewards)
        assert session.scalar(select(func.count()).select_from(Ticket)) >= 5
        assert session.scalar(select(func.count()).select_from(SurveyResponse)) >= 5
        phones = session.scalars(select(Customer.phone)).all()
        assert all(identity.normalize_phone(p) == p for p in phones)
    assert loyalty.ledger_mismatches() == []
    demo_id = identity.customer_id_by_number("MN100001")
    assert demo_id is not None
    today = loyalty.local_today()
    status = loyalty.get_loyalty_status(demo_id, today=today)
    assert status.tier == "Gold" and status.expiring_points > 0 and status.birthday_coupon_code
    assert (
        identity.identify_by_facts("telegram", "tg-demo", "0532 123 45 67", seed.demo_birth_date(today)).customer_id
        == demo_id
    )
    shipped = orders.find_order("SP1000001", demo_id)
    delivered = orders.find_order("SP1000002", demo_id)
    assert shipped is not None and shipped.status == "shipped" and shipped.tracking_code
    assert delivered is not None and delivered.status == "delivered" and delivered.delivered_at is not None
    assert orders.return_guidance(delivered).days_left == 11
    tiers = set()
    with session_scope() as session:
        for customer_id in session.scalars(select(Customer.id)):
            tiers.add(loyalty.get_loyalty_status(customer_id, today=today + timedelta(days=40)).tier)
    assert tiers == {"Bronze", "Silver", "Gold", "Platinum"}
    assert tickets.latest_ticket(demo_id) is not None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    services_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return args.func(args)


def test_cli_migrate_seed_export_erase(configured_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("migrate") == 0
    assert _run("seed", "--customers", "5") == 0
    assert "MN100001" in capsys.readouterr().out
    assert _run("seed") == 0
    assert "already present" in capsys.readouterr().out
    out = tmp_path / "export.json"
    assert _run("export-customer", "MN100001", "-o", str(out)) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["customer"]["first_name"] == "Ayşe" and data["customer"]["phone"] == "+905321234567"
    assert _run("erase-customer", "mn100001", "--yes", "--requested-via", "email") == 0
    assert "erased" in capsys.readouterr().out
    assert _run("erase-customer", "MN100001", "--yes") == 0
    assert "already erased" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _run("export-customer", "MN999999")
