"""The web inbox: messages waiting for a web chat visitor who may not be on the page right now.

Rasa's socket.io channel can only reach a visitor whose page is open and connected. Everything else that
wants to talk to a web visitor — a support agent during a human takeover, a satisfaction check-in from the
scheduler — writes here, and the chat page picks the messages up (live while open, or on the next visit)
and acknowledges them. Migration ``0003_webchat`` creates exactly this table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime


class WebInboxMessage(Base):
    """One bot-style message (text, buttons, image) for one web visitor (Rasa sender id ``web-<uuid>``).

    A producer posts a batch of messages under one idempotency key; ``position`` keeps their order and the
    unique ``(idempotency_key, position)`` makes a retried post a no-op instead of a duplicate bubble.
    """

    __tablename__ = "web_inbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    # Who wrote it: "agent" (shown with the support-agent label), "checkin", "campaign", "system", ...
    source: Mapped[str] = mapped_column(String(32))
    # A Rasa bot message: {"text": ..., "buttons": [{"title", "payload"}], "image": ..., "custom": ...}.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A check-in that was never seen within its answer window should not pop up weeks later.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("idempotency_key", "position"),
        # The page's question is always "what is still pending for this visitor?".
        Index("ix_web_inbox_messages_sender_pending", "sender_id", "delivered_at"),
        # Retention purges by age.
        Index("ix_web_inbox_messages_created_at", "created_at"),
    )
