"""Console tables: staff accounts and sessions, conversation review, human takeover.

Migration ``0005_console`` creates exactly these tables. ``conversation_summaries`` and its satellites
(``conversation_intents``) are a *reporting copy* of Rasa's tracker store maintained incrementally by
:func:`bot.services.tracker_events.sync_summaries`; they can always be rebuilt from the tracker
(``python -m bot.cli console-rebuild-summaries``). Everything else here is primary data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime

STAFF_ROLES = ("agent", "marketer", "admin")
FLAG_REASONS = ("fallback", "low_confidence", "low_score")
FLAG_STATUSES = ("new", "reviewed", "applied")
HANDOVER_STATUSES = ("waiting", "active", "released", "expired")
#: Handovers in these states hold the conversation (at most one per sender).
OPEN_HANDOVER_STATUSES = ("waiting", "active")
DELIVERY_STATUSES = ("pending", "sent", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class StaffUser(Base):
    """A console user (support agent, marketer or admin); passwords are argon2id hashes."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    ui_language: Mapped[str] = mapped_column(String(2), default="tr")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("role", STAFF_ROLES), name="role"),
        CheckConstraint("ui_language IN ('tr', 'en')", name="ui_language"),
    )


class StaffSession(Base):
    """A server-side login session. The cookie carries a signed random token; only its SHA-256 is stored,
    so a leaked database does not yield usable sessions, and logout/password change revoke at once."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class LoginAttempt(Base):
    """One login attempt, for rate limiting (failures per account+IP in a sliding window)."""

    __tablename__ = "console_login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(45))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_console_login_attempts_email_ip_attempted_at", "email", "ip", "attempted_at"),
        Index("ix_console_login_attempts_ip_attempted_at", "ip", "attempted_at"),
    )


class TrackerSyncState(Base):
    """Where :func:`sync_summaries` stopped reading Rasa's ``events`` table (one row per tracker source)."""

    __tablename__ = "tracker_sync_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # JSON [[event id, first seen (epoch s)], ...]: ids below the cursor not yet visible (a transaction
    # that took its id before a later one but committed after it). Re-checked on every sync, dropped
    # after a while (a rolled-back insert leaves a gap for ever).
    pending_gaps: Mapped[str] = mapped_column(Text, default="[]")
    domain_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConversationSummary(Base):
    """One row per Rasa conversation (sender id): what the conversation list filters and sorts on.

    Sort columns are NOT NULL and indexed together with ``sender_id`` so every sort order can be paged
    with a keyset ("after this row") instead of OFFSET, which stays fast at any depth.
    """

    __tablename__ = "conversation_summaries"

    sender_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    customer_id: Mapped[int | None] = mapped_column(Integer)
    first_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    bot_turns: Mapped[int] = mapped_column(Integer, default=0)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    intents: Mapped[str] = mapped_column(Text, default="")
    has_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_turns: Mapped[int] = mapped_column(Integer, default=0)
    low_confidence_turns: Mapped[int] = mapped_column(Integer, default=0)
    # 1.0 when no user turn was classified, so the column can be NOT NULL (keyset sort).
    min_confidence: Mapped[float] = mapped_column(Float, default=1.0)
    has_ticket: Mapped[bool] = mapped_column(Boolean, default=False)
    has_complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    has_handover: Mapped[bool] = mapped_column(Boolean, default=False)
    last_csat: Mapped[int | None] = mapped_column(Integer)
    last_nps: Mapped[int | None] = mapped_column(Integer)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[str] = mapped_column(Text, default="")
    last_user_text: Mapped[str | None] = mapped_column(String(200))
    last_user_event_id: Mapped[int | None] = mapped_column(BigInteger)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # Customer messages (masked, newest last, capped) for full-text search.
    search_text: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_conversation_summaries_last_event_at", "last_event_at", "sender_id"),
        Index("ix_conversation_summaries_first_event_at", "first_event_at", "sender_id"),
        Index("ix_conversation_summaries_turns", "turns", "sender_id"),
        Index("ix_conversation_summaries_min_confidence", "min_confidence", "sender_id"),
        Index("ix_conversation_summaries_channel", "channel", "last_event_at"),
        Index("ix_conversation_summaries_language", "language", "last_event_at"),
        Index("ix_conversation_summaries_customer_id", "customer_id"),
        # Partial indexes on the rare flags: small, and exactly what "needs review" filters use.
        Index(
            "ix_conversation_summaries_unreviewed",
            "last_event_at",
            sqlite_where=text("reviewed = 0"),
            postgresql_where=text("reviewed = false"),
        ),
        Index(
            "ix_conversation_summaries_fallback",
            "last_event_at",
            sqlite_where=text("has_fallback = 1"),
            postgresql_where=text("has_fallback = true"),
        ),
        Index(
            "ix_conversation_summaries_csat",
            "last_csat",
            "last_event_at",
            sqlite_where=text("last_csat IS NOT NULL"),
            postgresql_where=text("last_csat IS NOT NULL"),
        ),
        Index(
            "ix_conversation_summaries_nps",
            "last_nps",
            "last_event_at",
            sqlite_where=text("last_nps IS NOT NULL"),
            postgresql_where=text("last_nps IS NOT NULL"),
        ),
        Index(
            "ix_conversation_summaries_search",
            func.to_tsvector(literal_column("'simple'"), literal_column("search_text")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )


class ConversationIntent(Base):
    """Which intents occurred in a conversation and how often (filter "intent = X" and top intents)."""

    __tablename__ = "conversation_intents"

    sender_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    intent: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_conversation_intents_intent", "intent", "sender_id"),)


class ConversationTag(Base):
    """A reviewer's tag on a conversation (free text, lower-case, e.g. "iade", "kargo-gecikmesi")."""

    __tablename__ = "conversation_tags"

    sender_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_conversation_tags_tag", "tag", "sender_id"),)


class ConversationNote(Base):
    """A reviewer's internal note on a conversation (masked before storing)."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewFlag(Base):
    """A turn flagged for review: the assistant fell back, was unsure, or the customer gave a low score.

    ``ref`` identifies the flagged thing within its reason (``e<event id>`` for a turn, ``s<survey
    response id>`` for a score) so re-running the sync never flags the same thing twice.
    Lifecycle: new -> reviewed (a person looked at it) -> applied (its correction went into training data).
    """

    __tablename__ = "review_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="new")
    intent_name: Mapped[str | None] = mapped_column(String(255))
    confidence: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(16))
    turn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[int | None] = mapped_column(Integer)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("reason", "ref"),
        CheckConstraint(_in("reason", FLAG_REASONS), name="reason"),
        CheckConstraint(_in("status", FLAG_STATUSES), name="status"),
        Index("ix_review_flags_status_turn_at", "status", "turn_at"),
    )


class IntentCorrection(Base):
    """ "This turn's intent was wrong; it should have been X" - exported as Rasa NLU training data."""

    __tablename__ = "intent_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    event_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    predicted_intent: Mapped[str | None] = mapped_column(String(255))
    corrected_intent: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(2), default="tr")
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("sender_id", "event_id"),
        Index("ix_intent_corrections_corrected_intent", "corrected_intent"),
    )


class SavedFilter(Base):
    """A named set of list filters (the query string) saved by one user for one page."""

    __tablename__ = "console_saved_filters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"))
    page: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("user_id", "page", "name"),)


class Handover(Base):
    """A request for a human: waiting -> active (an agent holds it, Rasa paused) -> released, or
    waiting -> expired (nobody took it in time: the customer was told and a ticket opened)."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    language: Mapped[str] = mapped_column(String(2), default="tr")
    customer_id: Mapped[int | None] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket_ref: Mapped[str | None] = mapped_column(String(20))
    # When the customer was told that nobody could take the chat now (the expiry notice).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("status", HANDOVER_STATUSES), name="status"),
        # At most one open handover per conversation, enforced by the database under any concurrency.
        Index(
            "uq_handovers_open_sender_id",
            "sender_id",
            unique=True,
            sqlite_where=text("status IN ('waiting', 'active')"),
            postgresql_where=text("status IN ('waiting', 'active')"),
        ),
        Index("ix_handovers_status_requested_at", "status", "requested_at"),
    )


class AgentMessage(Base):
    """Something a person wrote to the customer during a takeover (shown in the transcript)."""

    __tablename__ = "agent_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handover_id: Mapped[int | None] = mapped_column(ForeignKey("handovers.id", ondelete="SET NULL"), index=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    delivery_status: Mapped[str] = mapped_column(String(16), default="pending")
    error_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("delivery_status", DELIVERY_STATUSES), name="delivery_status"),
        Index("ix_agent_messages_sender_id_created_at", "sender_id", "created_at"),
    )
