"""Outreach tables: marketers' campaigns, their runs, the durable outbox, and the scheduler's leader lease.

The outbox is the heart of exactly-once delivery: one row per recipient per occasion, identified by a
UNIQUE ``dedupe_key`` (``campaign:<id>:<run_key>:<customer_id>``, ``csat:ticket:<id>``, ...), so every
producer (campaign runs, automatic scans, reminders) can be re-run after a crash or a misfire without
creating a second message. The columns ``claimed_by``/``lease_expires_at`` (who is sending it, until when),
``rasa_messages`` (what Rasa said, stored before delivery) and ``delivered_parts``/``inflight_part`` (how
far delivery got) let a restarted sender resume without re-sending what a customer already received.
Migration ``0004_outreach`` creates exactly these tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime

SURVEY_TYPES = ("csat", "nps", "message")
SCHEDULE_KINDS = ("once", "cron", "after_ticket_resolved", "after_conversation")
CAMPAIGN_STATUSES = ("draft", "scheduled", "running", "paused", "completed", "cancelled", "missed")
RUN_STATUSES = ("running", "completed", "missed", "failed")
OUTBOX_STATES = ("queued", "sending", "sent", "delivered", "failed", "responded", "skipped")
OCCASIONS = ("campaign", "csat_checkin", "ticket_followup", "birthday", "nps_checkin")
SKIP_REASONS = (
    "no_consent",
    "opted_out",
    "capped",
    "unreachable",
    "ticket_reopened",
    "cancelled",
    "expired",
    "answered",
)
CAP_GROUPS = ("survey", "marketing")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Campaign(Base):
    """A marketer's campaign: who (``segment`` rules), what (survey type + tr/en templates), when (schedule).

    ``commercial`` marks a commercial electronic message (law 6563): it additionally needs marketing
    consent. Surveys default to non-commercial service messages.
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    survey_type: Mapped[str] = mapped_column(String(8))
    commercial: Mapped[bool] = mapped_column(Boolean, default=False)
    segment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    template_tr: Mapped[str] = mapped_column(Text)
    template_en: Mapped[str] = mapped_column(Text)
    schedule_kind: Mapped[str] = mapped_column(String(24))
    run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cron: Mapped[str | None] = mapped_column(String(120))
    delay_hours: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Istanbul")
    reminder_after_hours: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    # Bumped on every schedule change so the scheduler can tell a stale job from a current one.
    schedule_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("survey_type", SURVEY_TYPES), name="survey_type"),
        CheckConstraint(_in("schedule_kind", SCHEDULE_KINDS), name="schedule_kind"),
        CheckConstraint(_in("status", CAMPAIGN_STATUSES), name="status"),
        Index("ix_campaigns_status", "status"),
    )


class CampaignRun(Base):
    """One firing of a campaign (``run_key`` = "once", the cron occurrence, or "event:<...>" batches)."""

    __tablename__ = "campaign_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    run_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    audience: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("campaign_id", "run_key"),
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
    )


class OutboxMessage(Base):
    """One proactive message to one recipient, from queueing to its answer.

    States: queued -> sending -> sent -> delivered | failed -> responded; or skipped (``skip_reason``).
    Telegram rows become ``delivered`` as soon as Telegram returns the message ids; web rows stay ``sent``
    until the visitor's page acknowledges them.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    occasion: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    run_key: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    sender_id: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(String(16))
    intent: Mapped[str] = mapped_column(String(48))
    survey_kind: Mapped[str | None] = mapped_column(String(4))
    # Which frequency cap the row counts against (None = exempt: reminders, ticket follow-ups, birthdays).
    cap_group: Mapped[str | None] = mapped_column(String(12))
    language: Mapped[str] = mapped_column(String(2), default="tr")
    # Occasion-specific context (ticket ref, coupon year, templates for ad-hoc messages); never free text.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_reminder: Mapped[bool] = mapped_column(Boolean, default=False)
    reminder_of_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(12), default="queued")
    skip_reason: Mapped[str | None] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    send_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(96))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rasa_messages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # Rendered parts to deliver (a long Rasa text may become several Telegram messages); set with rasa_messages.
    total_parts: Mapped[int | None] = mapped_column(Integer)
    delivered_parts: Mapped[int] = mapped_column(Integer, default=0)
    inflight_part: Mapped[int | None] = mapped_column(Integer)
    external_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sending_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("state", OUTBOX_STATES), name="state"),
        CheckConstraint(_in("occasion", OCCASIONS), name="occasion"),
        CheckConstraint("skip_reason IS NULL OR state = 'skipped'", name="skip_reason_only_when_skipped"),
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_outbox_campaign_id_state", "campaign_id", "state"),
        Index("ix_outbox_customer_id_sent_at", "customer_id", "sent_at"),
        Index("ix_outbox_ticket_id", "ticket_id"),
    )


class SchedulerLease(Base):
    """A named lease (e.g. "scheduler") so only one process runs the APScheduler job store at a time."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(96))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class APSchedulerJob(Base):
    """APScheduler 3's SQLAlchemyJobStore table, declared here so Alembic owns the whole schema.

    The layout is APScheduler's own (id, next_run_time as a UNIX timestamp, pickled job state); the job store
    finds the table already present and uses it as is.
    """

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)
