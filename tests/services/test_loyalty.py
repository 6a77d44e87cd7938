"""Loyalty: tiers, expiring points, birthday coupons, rewards, redemption (incl. concurrency), ledger invariant."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db.models import BirthdayCoupon, LoyaltyAccount, PointLedgerEntry, Redemption, Reward
from bot.db.session import session_scope
from bot.services import loyalty
from bot.services.errors import InvalidInput

COUPON = re.compile(r"^MMN-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}$")


def _balance_and_ledger(customer_id: int) -> tuple[int, int]:
    with session_scope() as session:
        account = session.scalars(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id)).one()
        return account.balance, loyalty.recompute_balance(session, account.id)


def test_tier_for_uses_settings_table(configured_env: str) -> None:
    assert loyalty.tier_for(0) == ("Bronze", "Silver", 1000)
    assert loyalty.tier_for(999) == ("Bronze", "Silver", 1)
    assert loyalty.tier_for(1000) == ("Silver", "Gold", 4000)
    assert loyalty.tier_for(7450) == ("Gold", "Platinum", 7550)
    assert loyalty.tier_for(15000) == ("Platinum", None, None)


def test_coupon_codes_are_readable_and_unique() -> None:
    codes = {loyalty.new_coupon_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(COUPON.match(code) for code in codes)


def test_status_for_customer_without_account(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer(birth_date=date(1990, 1, 5))
    status = loyalty.get_loyalty_status(customer_id, today=date(2026, 6, 1))
    assert (status.tier, status.balance, status.lifetime_points, status.next_tier, status.points_to_next_tier) == (
        "Bronze",
        0,
        0,
        "Silver",
        1000,
    )
    assert status.expiring_points == 0 and status.expiring_on is None and status.birthday_coupon_code is None
    with pytest.raises(InvalidInput) as error:
        loyalty.get_loyalty_status(customer_id + 999)
    assert error.value.code == "unknown_customer"


def test_earning_updates_balance_lifetime_tier_idempotently(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer()
    first = loyalty.earn_points(customer_id, 800, "purchase SP1", "order-1")
    assert (first.balance, first.tier, first.duplicate) == (800, "Bronze", False)
    again = loyalty.earn_points(customer_id, 800, "purchase SP1", "order-1")
    assert again.duplicate and again.balance == 800 and again.entry_id == first.entry_id
    second = loyalty.earn_points(customer_id, 4500, "purchase SP2", "order-2")
    assert (second.balance, second.lifetime_points, second.tier) == (5300, 5300, "Gold")
    status = loyalty.get_loyalty_status(customer_id)
    assert (status.tier, status.next_tier, status.points_to_next_tier) == ("Gold", "Platinum", 9700)
    assert _balance_and_ledger(customer_id) == (5300, 5300)
    with pytest.raises(InvalidInput):
        loyalty.earn_points(customer_id, 0, "nothing", "order-3")


def test_adjustment_never_makes_balance_negative(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer()
    loyalty.earn_points(customer_id, 100, "welcome", "w")
    with pytest.raises(InvalidInput) as error:
        loyalty.adjust_points(customer_id, -101, "correction", "adj-1", actor="staff")
    assert error.value.code == "insufficient_points"
    posting = loyalty.adjust_points(customer_id, -40, "correction", "adj-2", actor="staff")
    assert posting.balance == 60 and posting.lifetime_points == 100
    assert _balance_and_ledger(customer_id) == (60, 60)


def test_expiring_points_fifo_by_expiry(make_customer: Callable[..., int], make_reward: Callable[..., int]) -> None:
    customer_id = make_customer()
    today = date(2026, 11, 23)
    loyalty.earn_points(customer_id, 1000, "old lot", "lot-1", expires_at=today + timedelta(days=10))
    loyalty.earn_points(customer_id, 500, "mid lot", "lot-2", expires_at=today + timedelta(days=25))
    loyalty.earn_points(customer_id, 2000, "new lot", "lot-3", expires_at=today + timedelta(days=200))
    loyalty.earn_points(customer_id, 300, "no expiry", "lot-4")
    reward_id = make_reward(cost=400)
    assert loyalty.redeem_reward(customer_id, reward_id, "r-1").status == "ok"
    status = loyalty.get_loyalty_status(customer_id, today=today)
    # The 400 redeemed points consume the soonest-expiring lot first: 600 + 500 remain within 30 days.
    assert status.expiring_points == 1100
    assert status.expiring_on == today + timedelta(days=10)
    assert status.balance == 3400


def test_expire_due_points_is_idempotent(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer()
    loyalty.earn_points(customer_id, 700, "lot", "lot-a", expires_at=date(2026, 1, 31))
    loyalty.earn_points(customer_id, 300, "lot", "lot-b", expires_at=date(2026, 12, 31))
    loyalty.adjust_points(customer_id, -200, "used", "adj", actor="staff")
    assert loyalty.expire_due_points(today=date(2026, 2, 1)) == 500
    assert loyalty.expire_due_points(today=date(2026, 2, 1)) == 0
    assert loyalty.expire_due_points(today=date(2026, 1, 31)) == 0  # last valid day is inclusive
    assert _balance_and_ledger(customer_id) == (300, 300)
    with session_scope() as session:
        kinds = session.scalars(select(PointLedgerEntry.kind).order_by(PointLedgerEntry.id)).all()
    assert kinds == ["earn", "earn", "adjust", "expire"]
    assert loyalty.ledger_mismatches() == []


def test_birthday_coupon_once_per_year_in_birth_month(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer(birth_date=date(1990, 3, 15))
    assert loyalty.get_loyalty_status(customer_id, today=date(2026, 2, 28)).birthday_coupon_code is None
    code = loyalty.get_loyalty_status(customer_id, today=date(2026, 3, 1)).birthday_coupon_code
    assert code is not None and COUPON.match(code)
    assert loyalty.get_loyalty_status(customer_id, today=date(2026, 3, 31)).birthday_coupon_code == code
    assert loyalty.issue_birthday_coupon(customer_id, today=date(2026, 3, 20)) == code
    next_year = loyalty.issue_birthday_coupon(customer_id, today=date(2027, 3, 2))
    assert next_year is not None and next_year != code
    with session_scope() as session:
        coupons = session.scalars(select(BirthdayCoupon).order_by(BirthdayCoupon.year)).all()
        assert [(c.year, c.valid_until) for c in coupons] == [(2026, date(2026, 3, 31)), (2027, date(2027, 3, 31))]


def test_list_rewards_filters_and_localises(make_customer: Callable[..., int], make_reward: Callable[..., int]) -> None:
    customer_id = make_customer()
    loyalty.earn_points(customer_id, 600, "p", "p1")
    now = datetime.now(UTC)
    cheap = make_reward(cost=300, name_tr="Ücretsiz kargo", name_en="Free shipping")
    dear = make_reward(cost=900, stock=3, name_tr="Termos", name_en="Thermos flask")
    make_reward(cost=100, stock=0)  # out of stock
    make_reward(cost=100, valid_until=now - timedelta(days=1))  # expired
    make_reward(cost=100, valid_from=now + timedelta(days=1))  # not yet valid
    make_reward(cost=100, active=False)
    options = loyalty.list_rewards(customer_id, "en")
    assert [(o.id, o.name, o.cost, o.stock, o.affordable) for o in options] == [
        (cheap, "Free shipping", 300, None, True),
        (dear, "Thermos flask", 900, 3, False),
    ]
    assert [o.name for o in loyalty.list_rewards(customer_id, "tr")] == ["Ücretsiz kargo", "Termos"]


def test_redeem_statuses(make_customer: Callable[..., int], make_reward: Callable[..., int]) -> None:
    customer_id = make_customer()
    loyalty.earn_points(customer_id, 1000, "p", "p1")
    now = datetime.now(UTC)
    ok_reward = make_reward(cost=600, stock=2)
    result = loyalty.redeem_reward(customer_id, ok_reward, "k-ok")
    assert result.status == "ok" and COUPON.match(result.coupon_code or "")
    assert (result.new_balance, result.points_spent, result.reward_name) == (400, 600, "50 TL indirim çeki")
    assert loyalty.redeem_reward(customer_id, ok_reward, "k-poor").status == "insufficient_points"
    assert loyalty.redeem_reward(customer_id, make_reward(cost=10, stock=0), "k-stock").status == "out_of_stock"
    expired = make_reward(cost=10, valid_until=now - timedelta(hours=1))
    assert loyalty.redeem_reward(customer_id, expired, "k-exp").status == "expired"
    assert loyalty.redeem_reward(customer_id, 9999, "k-unknown").status == "unknown_reward"
    assert loyalty.redeem_reward(customer_id, make_reward(cost=10, active=False), "k-off").status == "unknown_reward"
    # Refusals change nothing.
    assert _balance_and_ledger(customer_id) == (400, 400)
    with session_scope() as session:
        assert session.get(Reward, ok_reward).stock == 1
        assert session.scalar(select(func.count()).select_from(Redemption)) == 1
    # A refused key is not remembered: after earning, the same key can succeed.
    loyalty.earn_points(customer_id, 500, "p", "p2")
    assert loyalty.redeem_reward(customer_id, ok_reward, "k-poor").status == "ok"


def test_same_idempotency_key_redeems_once(make_customer: Callable[..., int], make_reward: Callable[..., int]) -> None:
    customer_id = make_customer()
    other_id = make_customer()
    loyalty.earn_points(customer_id, 2000, "p", "p1")
    reward_id = make_reward(cost=500, stock=10)
    first = loyalty.redeem_reward(customer_id, reward_id, "same-key")
    second = loyalty.redeem_reward(customer_id, reward_id, "same-key")
    assert first.status == second.status == "ok"
    assert first.coupon_code == second.coupon_code and second.new_balance == 1500
    with pytest.raises(InvalidInput):
        loyalty.redeem_reward(other_id, reward_id, "same-key")
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Redemption)) == 1
        assert session.get(Reward, reward_id).stock == 9
    assert _balance_and_ledger(customer_id) == (1500, 1500)


def _run_threads(targets: list[Callable[[], None]]) -> None:
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrap(target: Callable[[], None]) -> None:
        barrier.wait()
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_concurrent_redemptions_never_oversell(
    make_customer: Callable[..., int], make_reward: Callable[..., int]
) -> None:
    customers = [make_customer() for _ in range(20)]
    for index, customer_id in enumerate(customers):
        loyalty.earn_points(customer_id, 1000, "p", f"seed-{index}")
    reward_id = make_reward(cost=700, stock=5)
    results: dict[int, loyalty.RedemptionResult] = {}

    def redeem(customer_id: int) -> Callable[[], None]:
        return lambda: results.__setitem__(
            customer_id, loyalty.redeem_reward(customer_id, reward_id, f"c-{customer_id}")
        )

    _run_threads([redeem(c) for c in customers])
    statuses = sorted(r.status for r in results.values())
    assert statuses.count("ok") == 5 and statuses.count("out_of_stock") == 15
    with session_scope() as session:
        assert session.get(Reward, reward_id).stock == 0
        assert session.scalar(select(func.count()).select_from(Redemption)) == 5
        coupons = session.scalars(select(Redemption.coupon_code)).all()
        assert len(set(coupons)) == 5
    for customer_id in customers:
        balance, ledger = _balance_and_ledger(customer_id)
        assert balance == ledger
        assert balance == (300 if results[customer_id].status == "ok" else 1000)
    assert loyalty.ledger_mismatches() == []


def test_concurrent_same_customer_never_overdraws(
    make_customer: Callable[..., int], make_reward: Callable[..., int]
) -> None:
    customer_id = make_customer()
    loyalty.earn_points(customer_id, 1000, "p", "p1")
    reward_id = make_reward(cost=300)
    results: list[loyalty.RedemptionResult] = []
    _run_threads(
        [lambda n=n: results.append(loyalty.redeem_reward(customer_id, reward_id, f"s-{n}")) for n in range(8)]
    )
    assert [r.status for r in results].count("ok") == 3
    assert _balance_and_ledger(customer_id) == (100, 100)


def test_concurrent_duplicate_key(make_customer: Callable[..., int], make_reward: Callable[..., int]) -> None:
    customer_id = make_customer()
    loyalty.earn_points(customer_id, 5000, "p", "p1")
    reward_id = make_reward(cost=500, stock=100)
    results: list[loyalty.RedemptionResult] = []
    _run_threads([lambda: results.append(loyalty.redeem_reward(customer_id, reward_id, "dup")) for _ in range(6)])
    assert {r.status for r in results} == {"ok"}
    assert len({r.coupon_code for r in results}) == 1
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Redemption)) == 1
        assert session.get(Reward, reward_id).stock == 99
    assert _balance_and_ledger(customer_id) == (4500, 4500)


def test_ledger_mismatch_is_detected(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer()
    loyalty.earn_points(customer_id, 100, "p", "p1")
    assert loyalty.ledger_mismatches() == []
    with session_scope(write=True) as session:
        account = session.scalars(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id)).one()
        account.balance = 90  # simulate a bug that bypassed _post
        account_id = account.id
    assert loyalty.ledger_mismatches() == [account_id]
