"""Core tables: customers, channel identities, loyalty, orders, tickets, feedback, surveys, audit.

Every timestamp is a timezone-aware UTC :class:`~bot.db.base.UTCDateTime`. Free-text columns hold text that
has already been through :func:`bot.services.masking.mask_sensitive`. Migration ``0001_core`` creates exactly
these tables; a test compares the two so they cannot drift.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, UTCDateTime

LEDGER_KINDS = ("earn", "redeem", "expire", "adjust")
ORDER_STATUSES = ("placed", "preparing", "shipped", "out_for_delivery", "delivered", "cancelled", "returned")
TICKET_STATUSES = ("open", "in_progress", "resolved", "closed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
SURVEY_KINDS = ("csat", "nps")
SENTIMENTS = ("positive", "neutral", "negative")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Customer(Base):
    """A loyalty-programme member. Personal columns are nulled/anonymised on erasure (``erased_at``)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(8), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Nullable only because erasure removes it; E.164 "+905321234567".
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    birth_date: Mapped[date | None] = mapped_column(Date)
    preferred_language: Mapped[str] = mapped_column(String(2), default="tr")
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Satisfaction check-ins (service messages) and commercial messages (law 6563) are separate consents.
    checkin_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    checkin_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checkin_consent_source: Mapped[str | None] = mapped_column(String(64))
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marketing_consent_source: Mapped[str | None] = mapped_column(String(64))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("preferred_language IN ('tr', 'en')", name="preferred_language"),)

    loyalty_account: Mapped[LoyaltyAccount | None] = relationship(back_populates="customer")


class ChannelIdentity(Base):
    """A sender on a channel (``external_id`` = Rasa sender id), optionally linked to a customer.

    Identification attempts and the lockout live here, per channel identity, so a locked Telegram chat
    does not lock the customer's web chat and vice versa.
    """

    __tablename__ = "channel_identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    unreachable_reason: Mapped[str | None] = mapped_column(String(64))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    identification_failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("channel", "external_id"),)


class LoyaltyAccount(Base):
    """Points balance (cache of the ledger sum) and lifetime points (sum of earned points) of a customer."""

    __tablename__ = "loyalty_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    lifetime_points: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[str] = mapped_column(String(32), default="Bronze")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("lifetime_points >= 0", name="lifetime_not_negative"),
    )

    customer: Mapped[Customer] = relationship(back_populates="loyalty_account")


class PointLedgerEntry(Base):
    """One signed change of a points balance. ``earn`` rows are lots that may expire (``expires_at``)."""

    __tablename__ = "point_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("loyalty_accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("kind", LEDGER_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'earn' AND points > 0) OR (kind IN ('redeem', 'expire') AND points < 0) OR kind = 'adjust'",
            name="points_sign",
        ),
        Index("ix_point_ledger_account_id_created_at", "account_id", "created_at"),
    )


class Reward(Base):
    """Something points can buy. ``stock`` NULL = unlimited."""

    __tablename__ = "rewards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_tr: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    cost: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("cost > 0", name="cost_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
    )


class Redemption(Base):
    """A reward bought with points; ``coupon_code`` is what the customer shows at the till or checkout."""

    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"), index=True)
    coupon_code: Mapped[str] = mapped_column(String(32), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BirthdayCoupon(Base):
    """One birthday coupon per customer per year, issued in the birth month."""

    __tablename__ = "birthday_coupons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    coupon_code: Mapped[str] = mapped_column(String(32), unique=True)
    valid_until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("customer_id", "year"),)


class Order(Base):
    """A web-shop order (mirrored from the shop system; read-only for the assistant)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(9), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20))
    carrier: Mapped[str | None] = mapped_column(String(40))
    tracking_code: Mapped[str | None] = mapped_column(String(40))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="TRY")
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    estimated_delivery: Mapped[date | None] = mapped_column(Date)
    # Distance-sales withdrawal right in Türkiye is 14 days from delivery; some goods differ.
    return_window_days: Mapped[int] = mapped_column(Integer, default=14)
    refund_status: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        CheckConstraint("refund_status IS NULL OR refund_status IN ('pending', 'refunded')", name="refund_status"),
        Index("ix_orders_customer_id_placed_at", "customer_id", "placed_at"),
    )


class Ticket(Base):
    """A complaint or service-recovery case handled by staff.

    ``ref`` is ``T-<year>-<id zero-padded to 6>``: derived from the primary key inside the inserting
    transaction, so it is unique under any concurrency on both databases without a counter row. It is
    nullable only for the instant between INSERT and the UPDATE that sets it.
    """

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str | None] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    category: Mapped[str] = mapped_column(String(20))
    order_number: Mapped[str | None] = mapped_column(String(9), index=True)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    channel: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(String(128), index=True)
    language: Mapped[str] = mapped_column(String(2), default="tr")
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(16), default="complaint")
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # First-response deadline = created_at + EXPECTED_RESPONSE_HOURS[priority]; stored so "overdue" is a query.
    first_response_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("status", TICKET_STATUSES), name="status"),
        CheckConstraint(_in("priority", TICKET_PRIORITIES), name="priority"),
        Index("ix_tickets_status_priority_created_at", "status", "priority", "created_at"),
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_status_first_response_due_at", "status", "first_response_due_at"),
    )

    notes: Mapped[list[TicketNote]] = relationship(back_populates="ticket", order_by="TicketNote.id")
    events: Mapped[list[TicketEvent]] = relationship(back_populates="ticket", order_by="TicketEvent.id")


class TicketNote(Base):
    """A note on a ticket: ``internal`` notes are staff-only, others were sent to the customer."""

    __tablename__ = "ticket_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="notes")


class TicketEvent(Base):
    """A status (or priority/assignee) change of a ticket, for SLA reporting and history."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(16), default="status")
    old_value: Mapped[str | None] = mapped_column(String(64))
    new_value: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Feedback(Base):
    """Free-text feedback (masked) with an optional 1–5 rating and its computed sentiment."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    sentiment: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    language: Mapped[str] = mapped_column(String(2), default="tr")
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating_range"),
        CheckConstraint(_in("sentiment", SENTIMENTS), name="sentiment"),
    )


class SurveyResponse(Base):
    """A CSAT (1–5) or NPS (0–10) answer; ``campaign_id`` gets its foreign key in the outreach migration."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(4))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)
    outbox_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # The ticket the survey asked about (CSAT after a resolved ticket), if any.
    ticket_ref: Mapped[str | None] = mapped_column(String(20))
    # The service-recovery ticket a low score opened, if any.
    recovery_ticket_ref: Mapped[str | None] = mapped_column(String(20))
    conversation_id: Mapped[str | None] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2), default="tr")
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("kind", SURVEY_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'csat' AND score BETWEEN 1 AND 5) OR (kind = 'nps' AND score BETWEEN 0 AND 10)",
            name="score_range",
        ),
        Index("ix_survey_responses_kind_created_at", "kind", "created_at"),
        Index("ix_survey_responses_created_at", "created_at"),
    )


class Conversation(Base):
    """A Rasa conversation (sender id) with its channel and, once identified, its customer."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    language: Mapped[str | None] = mapped_column(String(2))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditLog(Base):
    """Who did what to which entity; ``details`` holds ids and codes only, never personal data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),
        Index("ix_audit_log_created_at", "created_at"),
    )
