"""Which channel each conversation (Rasa sender id) came from, and to which customer it belongs.

Every conversation is recorded once per session start (not per message) with its channel; the same call
keeps the sender's channel identity row (reachability, opt-out, identification state) in existence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db.models import ChannelIdentity, Conversation
from bot.services.errors import InvalidInput
from bot.services.identity import get_or_create_channel_identity, validate_channel
from bot.services.tx import transaction, utcnow


@dataclass(frozen=True)
class ConversationInfo:
    sender_id: str
    channel: str
    customer_id: int | None
    language: str | None
    first_seen: datetime
    last_seen: datetime


def channel_from_sender_id(sender_id: str) -> str:
    """``tg-...`` -> ``telegram``, ``web-...`` -> ``web``, anything else -> ``rest`` (the brief's convention)."""
    if sender_id.startswith("tg-"):
        return "telegram"
    if sender_id.startswith("web-"):
        return "web"
    return "rest"


def _info(row: Conversation) -> ConversationInfo:
    return ConversationInfo(
        sender_id=row.sender_id,
        channel=row.channel,
        customer_id=row.customer_id,
        language=row.language,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
    )


def record_channel(
    sender_id: str,
    channel: str,
    customer_id: int | None = None,
    *,
    language: str | None = None,
    now: datetime | None = None,
) -> ConversationInfo:
    """Create or touch the conversation row (and the sender's channel identity).

    ``customer_id`` links the conversation when given; None never unlinks an identified conversation.
    ``language`` ("tr"/"en") is remembered when given.
    """
    if not sender_id or len(sender_id) > 128:
        raise InvalidInput("invalid_sender_id", "sender id must be 1-128 characters")
    validate_channel(channel)
    if language is not None and language not in ("tr", "en"):
        raise InvalidInput("invalid_language", "language must be tr or en")
    now = now or utcnow()
    for _attempt in range(2):
        try:
            with transaction(write=True) as session:
                row = session.scalars(select(Conversation).where(Conversation.sender_id == sender_id)).one_or_none()
                if row is None:
                    row = Conversation(
                        sender_id=sender_id,
                        channel=channel,
                        customer_id=customer_id,
                        language=language,
                        first_seen=now,
                        last_seen=now,
                    )
                    session.add(row)
                else:
                    row.last_seen = now
                    if customer_id is not None:
                        row.customer_id = customer_id
                    if language is not None:
                        row.language = language
                identity = get_or_create_channel_identity(session, channel, sender_id, now)
                identity.last_seen = now
                if customer_id is not None and identity.customer_id is None:
                    identity.customer_id = customer_id
                session.flush()
                return _info(row)
        except IntegrityError:
            # A concurrent first message created the row: the second pass updates it. A second failure is
            # something else (e.g. an unknown customer id) and propagates.
            if _attempt:
                raise
    raise AssertionError("unreachable")


def get_conversation(sender_id: str) -> ConversationInfo | None:
    """The recorded conversation for a sender id, if any."""
    with transaction() as session:
        row = session.scalars(select(Conversation).where(Conversation.sender_id == sender_id)).one_or_none()
        return _info(row) if row else None


def mark_unreachable(channel: str, external_id: str, reason: str, *, now: datetime | None = None) -> None:
    """Remember that proactive messages cannot reach this sender (e.g. the Telegram bot was blocked)."""
    now = now or utcnow()
    with transaction(write=True) as session:
        identity = get_or_create_channel_identity(session, channel, external_id, now)
        identity.reachable = False
        identity.unreachable_reason = reason[:64]


def mark_reachable(channel: str, external_id: str, *, now: datetime | None = None) -> None:
    """The sender wrote to us again, so the channel works (e.g. they unblocked the bot)."""
    now = now or utcnow()
    with transaction(write=True) as session:
        identity = session.scalars(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        ).one_or_none()
        if identity is not None:
            identity.reachable = True
            identity.unreachable_reason = None
            identity.last_seen = now
