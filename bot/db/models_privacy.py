"""Privacy bookkeeping: conversations whose tracker events must be deleted (again) a little later.

Migration ``0007_tracker_purges`` creates exactly this table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime


class TrackerPurge(Base):
    """A Rasa conversation (sender id) of an erased customer whose tracker events are deleted once more at
    ``due_at``: when the erasure was asked for in the chat, Rasa saves that conversation after the action
    returned and re-inserts the current session's events (see :mod:`bot.services.privacy`).

    One row per sender; the row is deleted once the purge succeeded, so the sender id is not kept. A failed
    attempt keeps the row (``attempts``, ``last_error`` = the error's class only) and is retried.
    """

    __tablename__ = "tracker_purges"

    sender_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
