"""Telegram channel state: the durable update journal and the long-callback-payload map.

Why a journal: Telegram delivers every update at least once (a long-poll offset that was not confirmed, a
webhook that timed out) and our own process can stop at any moment. Writing each update here BEFORE we
acknowledge it, with a unique ``(bot_id, update_id)``, gives exactly-once handling: duplicates are ignored
by the unique key, and a restart resumes whatever was not finished. The journal is also the per-chat queue
(ordered by ``update_id``), the retry schedule when Rasa or Telegram is down, and the place where Rasa's
answer waits until every part of it has been delivered, so a retry never asks Rasa the same thing twice.

Migration ``0002_channels`` creates these tables (``0006_telegram_rasa_doubt`` adds ``rasa_may_have_it``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime

#: received: journaled, not yet answered by Rasa; forwarded: Rasa answered, replies (partly) undelivered;
#: replied: done; failed: given up for a permanent reason (bot blocked, unparseable update).
TELEGRAM_UPDATE_STATUSES = ("received", "forwarded", "replied", "failed")
PENDING_STATUSES = ("received", "forwarded")


class TelegramUpdate(Base):
    """One update received from the Telegram Bot API, from arrival until its replies are delivered.

    ``payload`` (the raw update, which contains the customer's text or phone number) and ``replies`` are
    only kept while the update is pending and are cleared when it completes: the journal must not become a
    second, unmanaged copy of conversations (KVKK/GDPR data minimisation). The row itself stays for a while
    so late duplicates are still recognised.
    """

    __tablename__ = "telegram_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Update ids are unique per bot only; several bots (staging, production) may share a database.
    bot_id: Mapped[int] = mapped_column(BigInteger)
    update_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    # message | callback_query: what the update was (for operators; the payload says the rest).
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # An error class or code (e.g. "rasa_unavailable", "telegram_network"), never message text.
    last_error: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Rasa's answer (a list of bot messages) once forwarded; delivered up to ``replies_sent`` rendered parts.
    replies: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    replies_sent: Mapped[int] = mapped_column(Integer, default=0)
    # The "one moment please" notice goes out once per outage, not once per retry.
    wait_notice_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Rasa may already have this update: set just before a request carrying it goes to Rasa and kept when
    # that request ends without a clear "not received" (a timeout, a 5xx, a crash of this process), so the
    # next attempt first looks for it in the conversation's tracker instead of sending it a second time.
    # Migration ``0006_telegram_rasa_doubt``.
    rasa_may_have_it: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # For a button press: the message whose keyboard was pressed, so a double tap is forwarded once.
    callback_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # A worker's claim on the row, so two connector processes never handle one chat at the same time.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("bot_id", "update_id"),
        CheckConstraint("status IN ('received', 'forwarded', 'replied', 'failed')", name="status"),
        # "What is next for this chat?" — the head of a chat's queue.
        Index("ix_telegram_updates_chat_id_status_update_id", "chat_id", "status", "update_id"),
        # "Which chats have work due?" — the retry loop.
        Index("ix_telegram_updates_status_next_attempt_at", "status", "next_attempt_at"),
        # Retention purges finished rows by age.
        Index("ix_telegram_updates_completed_at", "completed_at"),
    )


class TelegramCallbackPayload(Base):
    """A Rasa button payload longer than Telegram's 64-byte ``callback_data`` limit, stored under a short key.

    The key is derived from the payload's hash, so rendering the same buttons twice (a retry, the scheduler
    and the connector) yields the same key and storing it again is a no-op.
    """

    __tablename__ = "telegram_callback_payloads"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
