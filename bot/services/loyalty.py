"""Loyalty points: status, rewards, redemption, birthday coupons, expiry.

Invariants (tested):
- ``loyalty_accounts.balance`` equals the sum of the account's ``point_ledger`` rows. Every change writes the
  ledger row and updates the balance in the same transaction (:func:`_post`); :func:`ledger_mismatches`
  finds accounts that break it.
- A balance never goes negative and a reward's stock never below zero: redemption uses conditional UPDATEs
  (``... WHERE balance >= cost``, ``... WHERE stock > 0``), which PostgreSQL re-evaluates after a concurrent
  writer commits, and SQLite write transactions start with ``BEGIN IMMEDIATE`` (one writer at a time).
- One idempotency key redeems at most once (unique ``redemptions.idempotency_key``).

Expiry rule: each ``earn`` row is a lot usable through its ``expires_at`` day (inclusive; NULL = never
expires). Every debit (redeem, expire, negative adjust) consumes lots first-expiring-first (FIFO by expiry
date, then by age). "Expiring points" are what remains of lots whose ``expires_at`` falls within
``points_expiry_warning_days`` from today; :func:`expire_due_points` turns remaining points of lots past their
day into ``expire`` rows.
"""

from __future__ import annotations

import calendar
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import BirthdayCoupon, Customer, LoyaltyAccount, PointLedgerEntry, Redemption, Reward
from bot.services import audit
from bot.services.errors import InvalidInput
from bot.services.tx import transaction, utcnow
from bot.settings import get_settings

RedemptionStatus = Literal["ok", "insufficient_points", "out_of_stock", "expired", "unknown_reward"]

#: Coupon alphabet without look-alikes (0/O, 1/I/L) so codes survive being read aloud or copied by hand.
COUPON_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
COUPON_PREFIX = "MMN"
#: Longest caller-provided idempotency key (the ledger stores it with a short prefix in 128 characters).
MAX_IDEMPOTENCY_KEY = 100


@dataclass(frozen=True)
class LoyaltyStatus:
    customer_id: int
    tier: str
    balance: int
    lifetime_points: int
    next_tier: str | None
    points_to_next_tier: int | None
    expiring_points: int
    expiring_on: date | None
    birthday_coupon_code: str | None


@dataclass(frozen=True)
class RewardOption:
    id: int
    code: str
    name: str
    cost: int
    stock: int | None  # None = unlimited
    affordable: bool


@dataclass(frozen=True)
class RedemptionResult:
    status: RedemptionStatus
    coupon_code: str | None
    new_balance: int | None
    reward_name: str | None = None
    points_spent: int = 0


@dataclass(frozen=True)
class LedgerPosting:
    """Result of :func:`earn_points` / :func:`adjust_points`."""

    account_id: int
    entry_id: int
    balance: int
    lifetime_points: int
    tier: str
    duplicate: bool


# --- helpers -------------------------------------------------------------------------------------------------


class _Rejected(Exception):
    """Internal: a redemption or debit refused inside a (sub)transaction that must roll back."""

    def __init__(self, status: RedemptionStatus) -> None:
        super().__init__(status)
        self.status = status


def local_today() -> date:
    """Today in the business timezone (Europe/Istanbul): birthdays and expiry days are local days."""
    return utcnow().astimezone(ZoneInfo(get_settings().timezone)).date()


def new_coupon_code(prefix: str = COUPON_PREFIX) -> str:
    """A readable, unguessable code like ``MMN-7KQ2-9XTR`` (8 random symbols of 31, about 40 bits)."""
    symbols = "".join(secrets.choice(COUPON_ALPHABET) for _ in range(8))
    return f"{prefix}-{symbols[:4]}-{symbols[4:]}"


def tier_for(lifetime_points: int) -> tuple[str, str | None, int | None]:
    """``(tier, next_tier, points_to_next_tier)`` for a lifetime-points total, from ``settings.tier_table()``."""
    table = get_settings().tier_table()
    current = table[0][0]
    for name, threshold in table:
        if lifetime_points < threshold:
            return current, name, threshold - lifetime_points
        current = name
    return current, None, None


def _check_key(idempotency_key: str) -> str:
    if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput("invalid_idempotency_key", f"idempotency key must be 1-{MAX_IDEMPOTENCY_KEY} characters")
    return idempotency_key


def _account_for(session: Session, customer_id: int, *, create: bool, now: datetime) -> LoyaltyAccount | None:
    account = session.scalars(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id)).one_or_none()
    if account is None and create:
        account = LoyaltyAccount(
            customer_id=customer_id, balance=0, lifetime_points=0, tier=tier_for(0)[0], created_at=now, updated_at=now
        )
        session.add(account)
        session.flush()
    return account


def _active_customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        raise InvalidInput("unknown_customer", "no such customer")
    return customer


def _post(
    session: Session,
    account: LoyaltyAccount,
    kind: str,
    points: int,
    reason: str,
    key: str,
    now: datetime,
    *,
    expires_at: date | None = None,
) -> PointLedgerEntry:
    """Write one ledger row and move the balance by the same amount (the single place that does).

    A debit is a conditional UPDATE (``WHERE balance >= points``): if a concurrent writer spent the points
    first, :class:`_Rejected` ("insufficient_points") is raised and the caller's (sub)transaction rolls back.
    """
    entry = PointLedgerEntry(
        account_id=account.id,
        kind=kind,
        points=points,
        reason=reason[:200],
        idempotency_key=key,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(entry)
    session.flush()  # the unique key fails here, before the balance moves
    earned = points if kind == "earn" or (kind == "adjust" and points > 0) else 0
    # Relative UPDATE, never "balance = <value read earlier>": concurrent postings cannot overwrite each other,
    # and the CHECK (balance >= 0) rejects an overdraft at the database.
    statement = update(LoyaltyAccount).where(LoyaltyAccount.id == account.id)
    if points < 0:
        statement = statement.where(LoyaltyAccount.balance >= -points)
    moved = session.execute(
        statement.values(
            balance=LoyaltyAccount.balance + points,
            lifetime_points=LoyaltyAccount.lifetime_points + earned,
            updated_at=now,
        ).execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", moved).rowcount != 1:
        raise _Rejected("insufficient_points")
    session.refresh(account)
    tier = tier_for(account.lifetime_points)[0]
    if account.tier != tier:
        account.tier = tier
    return entry


def recompute_balance(session: Session | None, account_id: int) -> int:
    """The balance according to the ledger (sum of its rows) — the source of truth the cached balance mirrors."""
    if session is None:
        with transaction() as own:
            return recompute_balance(own, account_id)
    total = session.scalar(
        select(func.coalesce(func.sum(PointLedgerEntry.points), 0)).where(PointLedgerEntry.account_id == account_id)
    )
    return int(total or 0)


def ledger_mismatches(session: Session | None = None) -> list[int]:
    """Ids of accounts whose cached balance differs from their ledger sum (empty list = consistent)."""
    if session is None:
        with transaction() as own:
            return ledger_mismatches(own)
    sums = (
        select(PointLedgerEntry.account_id, func.sum(PointLedgerEntry.points).label("total"))
        .group_by(PointLedgerEntry.account_id)
        .subquery()
    )
    rows = session.execute(
        select(LoyaltyAccount.id, LoyaltyAccount.balance, sums.c.total).outerjoin(
            sums, sums.c.account_id == LoyaltyAccount.id
        )
    ).all()
    return [account_id for account_id, balance, total in rows if balance != int(total or 0)]


def _remaining_lots(session: Session, account_id: int) -> list[tuple[PointLedgerEntry, int]]:
    """Earn lots with what is left of each after FIFO-by-expiry consumption of every debit."""
    entries = session.scalars(
        select(PointLedgerEntry).where(PointLedgerEntry.account_id == account_id).order_by(PointLedgerEntry.id)
    ).all()
    lots = sorted(
        (e for e in entries if e.points > 0),
        key=lambda e: (e.expires_at or date.max, e.id),
    )
    debit = -sum(e.points for e in entries if e.points < 0)
    remaining: list[tuple[PointLedgerEntry, int]] = []
    for lot in lots:
        used = min(lot.points, debit)
        debit -= used
        remaining.append((lot, lot.points - used))
    return remaining


# --- points --------------------------------------------------------------------------------------------------


def earn_points(
    customer_id: int,
    points: int,
    reason: str,
    idempotency_key: str,
    *,
    expires_at: date | None = None,
    now: datetime | None = None,
) -> LedgerPosting:
    """Credit ``points`` (a lot expiring after ``expires_at``); the same key credits once."""
    if points <= 0:
        raise InvalidInput("invalid_points", "earned points must be positive")
    return _post_once(customer_id, "earn", points, reason, "earn:" + _check_key(idempotency_key), expires_at, now)


def adjust_points(
    customer_id: int, points: int, reason: str, idempotency_key: str, *, actor: str, now: datetime | None = None
) -> LedgerPosting:
    """A staff correction (positive or negative, never below zero balance); audited."""
    if points == 0:
        raise InvalidInput("invalid_points", "an adjustment must change the balance")
    posting = _post_once(customer_id, "adjust", points, reason, "adjust:" + _check_key(idempotency_key), None, now)
    if not posting.duplicate:
        audit.record(actor, "loyalty.adjusted", "loyalty_account", posting.account_id, {"points": points})
    return posting


def _post_once(
    customer_id: int, kind: str, points: int, reason: str, key: str, expires_at: date | None, now: datetime | None
) -> LedgerPosting:
    now = now or utcnow()
    try:
        with transaction(write=True) as session:
            _active_customer(session, customer_id)
            account = _account_for(session, customer_id, create=True, now=now)
            assert account is not None
            existing = session.scalars(select(PointLedgerEntry).where(PointLedgerEntry.idempotency_key == key)).first()
            if existing is not None:
                return _posting(account, existing, duplicate=True)
            try:
                entry = _post(session, account, kind, points, reason, key, now, expires_at=expires_at)
            except _Rejected as rejected:
                raise InvalidInput("insufficient_points", "adjustment would make the balance negative") from rejected
            return _posting(account, entry, duplicate=False)
    except IntegrityError:
        # A concurrent call with the same key won the race; report its posting.
        with transaction() as session:
            existing = session.scalars(select(PointLedgerEntry).where(PointLedgerEntry.idempotency_key == key)).first()
            if existing is None:
                raise
            account = session.get(LoyaltyAccount, existing.account_id)
            assert account is not None
            return _posting(account, existing, duplicate=True)


def _posting(account: LoyaltyAccount, entry: PointLedgerEntry, *, duplicate: bool) -> LedgerPosting:
    return LedgerPosting(
        account_id=account.id,
        entry_id=entry.id,
        balance=account.balance,
        lifetime_points=account.lifetime_points,
        tier=account.tier,
        duplicate=duplicate,
    )


def expire_due_points(today: date | None = None, *, now: datetime | None = None) -> int:
    """Write ``expire`` rows for the unused rest of every lot whose last valid day is before ``today``.

    Idempotent (one expire row per lot, keyed by the lot); returns the number of points expired. Meant for a
    daily scheduler job.
    """
    today = today or local_today()
    now = now or utcnow()
    expired_total = 0
    with transaction(write=True) as session:
        account_ids = session.scalars(
            select(PointLedgerEntry.account_id)
            .where(PointLedgerEntry.kind == "earn", PointLedgerEntry.expires_at < today)
            .distinct()
        ).all()
        for account_id in account_ids:
            account = session.get(LoyaltyAccount, account_id, with_for_update=True)
            if account is None:
                continue
            for lot, left in _remaining_lots(session, account_id):
                if left <= 0 or lot.expires_at is None or lot.expires_at >= today:
                    continue
                key = f"expire:{lot.id}"
                if session.scalars(select(PointLedgerEntry.id).where(PointLedgerEntry.idempotency_key == key)).first():
                    continue
                _post(session, account, "expire", -left, f"expired lot {lot.id}", key, now)
                expired_total += left
    return expired_total


# --- status --------------------------------------------------------------------------------------------------


def _birthday_coupon_in(session: Session, customer_id: int, year: int) -> BirthdayCoupon | None:
    return session.scalars(
        select(BirthdayCoupon).where(BirthdayCoupon.customer_id == customer_id, BirthdayCoupon.year == year)
    ).one_or_none()


def issue_birthday_coupon(customer_id: int, today: date | None = None) -> str | None:
    """This year's birthday coupon code if ``today`` is in the customer's birth month, else None.

    Issued once per customer per year (unique constraint); calling again returns the same code.
    """
    today = today or local_today()
    with transaction() as session:
        customer = _active_customer(session, customer_id)
        if customer.birth_date is None or customer.birth_date.month != today.month:
            return None
        existing = _birthday_coupon_in(session, customer_id, today.year)
        if existing is not None:
            return existing.coupon_code
    try:
        with transaction(write=True) as session:
            existing = _birthday_coupon_in(session, customer_id, today.year)
            if existing is not None:
                return existing.coupon_code
            coupon = BirthdayCoupon(
                customer_id=customer_id,
                year=today.year,
                coupon_code=new_coupon_code(),
                valid_until=today.replace(day=calendar.monthrange(today.year, today.month)[1]),
                created_at=utcnow(),
            )
            session.add(coupon)
            session.flush()
            audit.record_in(session, "system", "loyalty.birthday_coupon", "customer", customer_id, {"year": today.year})
            return coupon.coupon_code
    except IntegrityError:
        with transaction() as session:
            existing = _birthday_coupon_in(session, customer_id, today.year)
            if existing is None:
                raise
            return existing.coupon_code


def get_loyalty_status(customer_id: int, today: date | None = None) -> LoyaltyStatus:
    """Tier, balance, next tier, expiring points; issues this year's birthday coupon in the birth month.

    Raises ``InvalidInput("unknown_customer")`` for an unknown or erased customer. A customer without an
    account yet is reported with zero points (nothing is written).
    """
    today = today or local_today()
    birthday_code = issue_birthday_coupon(customer_id, today)
    warning_days = get_settings().points_expiry_warning_days
    with transaction() as session:
        _active_customer(session, customer_id)
        account = _account_for(session, customer_id, create=False, now=utcnow())
        balance = account.balance if account else 0
        lifetime = account.lifetime_points if account else 0
        tier, next_tier, to_next = tier_for(lifetime)
        expiring = 0
        expiring_on: date | None = None
        if account is not None:
            horizon = today + timedelta(days=warning_days)
            for lot, left in _remaining_lots(session, account.id):
                if left > 0 and lot.expires_at is not None and lot.expires_at <= horizon:
                    expiring += left
                    day = max(lot.expires_at, today)
                    expiring_on = day if expiring_on is None else min(expiring_on, day)
        return LoyaltyStatus(
            customer_id=customer_id,
            tier=tier,
            balance=balance,
            lifetime_points=lifetime,
            next_tier=next_tier,
            points_to_next_tier=to_next,
            expiring_points=expiring,
            expiring_on=expiring_on,
            birthday_coupon_code=birthday_code,
        )


# --- rewards -------------------------------------------------------------------------------------------------


def _reward_name(reward: Reward, language: str) -> str:
    return reward.name_en if language == "en" else reward.name_tr


def _reward_available(reward: Reward, now: datetime) -> bool:
    return (
        reward.active
        and (reward.valid_from is None or reward.valid_from <= now)
        and (reward.valid_until is None or reward.valid_until > now)
    )


def list_rewards(customer_id: int, language: str, *, now: datetime | None = None) -> list[RewardOption]:
    """Rewards the customer can choose now (active, valid, in stock), cheapest first, named in ``language``."""
    now = now or utcnow()
    with transaction() as session:
        _active_customer(session, customer_id)
        account = _account_for(session, customer_id, create=False, now=now)
        balance = account.balance if account else 0
        rewards = session.scalars(
            select(Reward)
            .where(Reward.active.is_(True), (Reward.stock.is_(None)) | (Reward.stock > 0))
            .order_by(Reward.cost, Reward.id)
        ).all()
        return [
            RewardOption(
                id=reward.id,
                code=reward.code,
                name=_reward_name(reward, language),
                cost=reward.cost,
                stock=reward.stock,
                affordable=balance >= reward.cost,
            )
            for reward in rewards
            if _reward_available(reward, now)
        ]


def _result_of(session: Session, redemption: Redemption, language: str) -> RedemptionResult:
    reward = session.get(Reward, redemption.reward_id)
    account = _account_for(session, redemption.customer_id, create=False, now=utcnow())
    return RedemptionResult(
        status="ok",
        coupon_code=redemption.coupon_code,
        new_balance=account.balance if account else 0,
        reward_name=_reward_name(reward, language) if reward else None,
        points_spent=redemption.points,
    )


def _existing_redemption(session: Session, key: str, customer_id: int) -> Redemption | None:
    redemption = session.scalars(select(Redemption).where(Redemption.idempotency_key == key)).one_or_none()
    if redemption is not None and redemption.customer_id != customer_id:
        raise InvalidInput("idempotency_key_reused", "idempotency key belongs to another customer's redemption")
    return redemption


def redeem_reward(
    customer_id: int, reward_id: int, idempotency_key: str, *, language: str = "tr", now: datetime | None = None
) -> RedemptionResult:
    """Spend points on a reward: deduction, coupon and stock decrement in one transaction.

    The same ``idempotency_key`` returns the first successful result (with the current balance) without
    redeeming again. Refusals (``insufficient_points``, ``out_of_stock``, ``expired``, ``unknown_reward``)
    change nothing and are not remembered, so a retry after earning points can succeed.
    """
    _check_key(idempotency_key)
    for _attempt in range(3):
        try:
            return _redeem_once(customer_id, reward_id, idempotency_key, language, now or utcnow())
        except IntegrityError:
            # Either a concurrent request with the same key committed first, or (astronomically rarely) the
            # coupon code collided; the former is answered with the original result, the latter retried.
            with transaction() as session:
                existing = _existing_redemption(session, idempotency_key, customer_id)
                if existing is not None:
                    return _result_of(session, existing, language)
    raise RuntimeError("redemption failed repeatedly on unique constraints")


def _redeem_once(customer_id: int, reward_id: int, key: str, language: str, now: datetime) -> RedemptionResult:
    with transaction(write=True) as session:
        existing = _existing_redemption(session, key, customer_id)
        if existing is not None:
            return _result_of(session, existing, language)
        _active_customer(session, customer_id)
        account = _account_for(session, customer_id, create=False, now=now)
        balance = account.balance if account else 0
        reward = session.get(Reward, reward_id)
        if reward is None or not reward.active:
            return RedemptionResult(status="unknown_reward", coupon_code=None, new_balance=balance)
        name = _reward_name(reward, language)
        if not _reward_available(reward, now):
            return RedemptionResult(status="expired", coupon_code=None, new_balance=balance, reward_name=name)
        if reward.stock is not None and reward.stock <= 0:
            return RedemptionResult(status="out_of_stock", coupon_code=None, new_balance=balance, reward_name=name)
        cost = reward.cost
        if account is None or balance < cost:
            return RedemptionResult(
                status="insufficient_points", coupon_code=None, new_balance=balance, reward_name=name
            )
        try:
            with session.begin_nested():
                redemption = Redemption(
                    customer_id=customer_id,
                    reward_id=reward.id,
                    coupon_code=new_coupon_code(),
                    idempotency_key=key,
                    points=cost,
                    created_at=now,
                )
                session.add(redemption)
                session.flush()  # a concurrent same-key request fails here (PostgreSQL waits for the first)
                # Always account first, reward second: one lock order for every redemption, so no deadlocks.
                _post(session, account, "redeem", -cost, f"reward {reward.code}", f"redeem:{key}", now)
                if reward.stock is not None:
                    taken = session.execute(
                        update(Reward)
                        .where(Reward.id == reward.id, Reward.stock > 0)
                        .values(stock=Reward.stock - 1)
                        .execution_options(synchronize_session=False)
                    )
                    if cast("CursorResult[Any]", taken).rowcount != 1:
                        raise _Rejected("out_of_stock")
        except _Rejected as rejected:
            session.refresh(account)
            return RedemptionResult(
                status=rejected.status, coupon_code=None, new_balance=account.balance, reward_name=name
            )
        audit.record_in(
            session,
            "customer",
            "loyalty.redeemed",
            "redemption",
            redemption.id,
            {"reward_id": reward.id, "points": cost, "customer_id": customer_id},
        )
        return RedemptionResult(
            status="ok",
            coupon_code=redemption.coupon_code,
            new_balance=account.balance,
            reward_name=name,
            points_spent=cost,
        )
