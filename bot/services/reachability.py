"""Can we still reach this sender on this channel?

A Telegram user who blocked the bot (403 "bot was blocked by the user"), deleted their account or never
started the bot cannot receive anything, and every further attempt only burns rate limit and fills logs.
Channels mark such senders unreachable the moment the platform says so; producers of proactive messages
(scheduler, console) skip them. A new message from the sender proves they are back and clears the mark.

``external_id`` is the Rasa sender id (``tg-<chat id>``), like everywhere in the channel identities table.
"""

from __future__ import annotations

from sqlalchemy import select, update

from bot.db.models import ChannelIdentity
from bot.services.identity import get_or_create_channel_identity, validate_channel
from bot.services.tx import transaction, utcnow

#: Reasons are short machine-readable codes, never the platform's free-text description.
REASONS = ("blocked", "deactivated", "not_started", "chat_not_found", "forbidden")


def mark_unreachable(channel: str, external_id: str, reason: str) -> None:
    """Record that messages to this sender cannot be delivered (creates the channel identity if needed)."""
    validate_channel(channel)
    code = reason if reason in REASONS else "forbidden"
    now = utcnow()
    with transaction(write=True) as session:
        identity = get_or_create_channel_identity(session, channel, external_id, now)
        identity.reachable = False
        identity.unreachable_reason = code


def mark_reachable(channel: str, external_id: str) -> bool:
    """Clear an unreachable mark (the sender wrote to us again); True if there was one to clear."""
    validate_channel(channel)
    with transaction(write=True) as session:
        result = session.execute(
            update(ChannelIdentity)
            .where(
                ChannelIdentity.channel == channel,
                ChannelIdentity.external_id == external_id,
                ChannelIdentity.reachable.is_(False),
            )
            .values(reachable=True, unreachable_reason=None, last_seen=utcnow())
        )
        return bool(getattr(result, "rowcount", 0))


def is_reachable(channel: str, external_id: str) -> bool:
    """False only if the channel told us this sender cannot be reached; unknown senders are reachable."""
    validate_channel(channel)
    with transaction() as session:
        reachable = session.scalars(
            select(ChannelIdentity.reachable).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        ).one_or_none()
    return reachable is not False
