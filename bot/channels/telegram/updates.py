"""The durable update journal: every Telegram update is handled once, in order per chat, even across restarts.

How it works:

1. :class:`JournalingQueue` is the :class:`telegram.ext.Application`'s update queue. PTB puts each update
   into it *before* acknowledging it to Telegram (long polling confirms an offset only on the next
   ``getUpdates`` call; the webhook answers 200 only after ``put`` returned). Our ``put`` first writes the
   update to ``telegram_updates`` with ``INSERT ... ON CONFLICT DO NOTHING`` on ``(bot_id, update_id)``:
   a duplicate delivery changes nothing, and an update Telegram considers delivered is always on disk. If
   the database is down, ``put`` raises a :class:`telegram.error.NetworkError`, so PTB does not confirm the
   update and fetches (or Telegram re-posts) it again later.
2. The connector's per-chat worker takes the chat's oldest pending row (:func:`head`), claims it
   (:func:`claim`, a lease so two processes never work on one chat) and moves it through
   ``received -> forwarded -> replied``. Rasa's answer is stored with the row (:func:`mark_forwarded`)
   and every delivered part advances ``replies_sent`` (:func:`mark_progress`), so a retry after a crash or a
   Telegram outage neither asks Rasa twice nor sends a part twice.
   Before a request goes to Rasa the row is marked :func:`mark_rasa_may_have_it`: if that request ends
   without an answer (timeout, 5xx, a crash of this process), Rasa may still have recorded the message, and
   the next attempt looks for it in the conversation's tracker before sending it again (see the connector).
3. Failures reschedule the row (:func:`schedule_retry`); the retry loop finds due chats with
   :func:`due_chats`. Only permanent failures (the customer blocked the bot) end in ``failed``.

Functions here are synchronous (one transaction each); the connector calls them via ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from telegram import Update
from telegram.error import NetworkError

from bot.channels.telegram._sql import insert_ignoring_conflicts, rowcount
from bot.channels.telegram.ids import log_ref
from bot.db.models_channels import PENDING_STATUSES, TelegramUpdate
from bot.services.errors import ServiceUnavailable
from bot.services.tx import transaction, utcnow

log = logging.getLogger(__name__)

#: Finished rows are kept this long so that late duplicates are still recognised (Telegram keeps
#: undelivered updates for 24 hours).
RETENTION = timedelta(days=7)
#: Error descriptions are cut to this length (they are codes and exception class names, never texts).
MAX_ERROR = 200


@dataclass(frozen=True)
class JournalEntry:
    """A pending journal row as the worker needs it (a plain snapshot, not an ORM object)."""

    id: int
    update_id: int
    chat_id: int
    kind: str
    status: str
    attempts: int
    next_attempt_at: datetime
    payload: dict[str, Any] | None
    replies: list[dict[str, Any]] | None
    replies_sent: int
    wait_notice_sent: bool
    callback_message_id: int | None
    rasa_may_have_it: bool = False


class JournalUnavailable(NetworkError):
    """The journal could not be written: PTB must not acknowledge the update (it retries the fetch)."""


# --- which updates we journal --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalKey:
    kind: str
    chat_id: int
    callback_message_id: int | None = None


def journal_key(update: Update) -> JournalKey | None:
    """What to journal for ``update``, or None if the connector does not handle it.

    Memnun serves customers one-to-one: only private chats are handled (in a group, answers about points
    and orders would be read by everyone). Edited messages, channel posts and membership changes are not
    conversation turns and are not journaled (membership changes are handled directly, see the connector).
    """
    if update.message is not None:
        if update.message.chat.type != "private":
            return None
        return JournalKey("message", update.message.chat.id)
    query = update.callback_query
    if query is not None:
        chat = query.message.chat if query.message is not None else None
        if chat is not None and chat.type != "private":
            return None
        chat_id = chat.id if chat is not None else query.from_user.id
        message_id = query.message.message_id if query.message is not None else None
        return JournalKey("callback_query", chat_id, message_id)
    return None


# --- writing ----------------------------------------------------------------------------------------------------


def record(bot_id: int, update: Update) -> bool:
    """Journal ``update`` if it is one we handle; True if it was new (False: duplicate or not handled)."""
    key = journal_key(update)
    if key is None:
        return False
    now = utcnow()
    row = {
        "bot_id": bot_id,
        "update_id": update.update_id,
        "chat_id": key.chat_id,
        "kind": key.kind,
        "status": "received",
        "attempts": 0,
        "next_attempt_at": now,
        "payload": update.to_dict(),
        "replies_sent": 0,
        "wait_notice_sent": False,
        "rasa_may_have_it": False,
        "callback_message_id": key.callback_message_id,
        "received_at": now,
        "updated_at": now,
    }
    with transaction(write=True) as session:
        inserted = insert_ignoring_conflicts(session, TelegramUpdate.__table__, [row], ["bot_id", "update_id"])
    if inserted:
        log.info("telegram update %s journaled (%s, %s)", update.update_id, key.kind, log_ref(key.chat_id))
    else:
        log.info("telegram update %s is a duplicate; ignored", update.update_id)
    return bool(inserted)


def _entry(row: TelegramUpdate) -> JournalEntry:
    return JournalEntry(
        id=row.id,
        update_id=row.update_id,
        chat_id=row.chat_id,
        kind=row.kind,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        payload=row.payload,
        replies=row.replies,
        replies_sent=row.replies_sent,
        wait_notice_sent=row.wait_notice_sent,
        callback_message_id=row.callback_message_id,
        rasa_may_have_it=bool(row.rasa_may_have_it),
    )


def head(bot_id: int, chat_id: int) -> JournalEntry | None:
    """The chat's oldest pending update (its conversation must advance in ``update_id`` order)."""
    with transaction() as session:
        row = session.scalars(
            select(TelegramUpdate)
            .where(
                TelegramUpdate.bot_id == bot_id,
                TelegramUpdate.chat_id == chat_id,
                TelegramUpdate.status.in_(PENDING_STATUSES),
            )
            .order_by(TelegramUpdate.update_id)
            .limit(1)
        ).one_or_none()
        return _entry(row) if row is not None else None


def claim(entry_id: int, owner: str, lease: timedelta) -> bool:
    """Take (or extend) the lease on a pending row; False if another live process holds it."""
    now = utcnow()
    with transaction(write=True) as session:
        result = session.execute(
            update(TelegramUpdate)
            .where(
                TelegramUpdate.id == entry_id,
                TelegramUpdate.status.in_(PENDING_STATUSES),
                or_(
                    TelegramUpdate.lease_until.is_(None),
                    TelegramUpdate.lease_until < now,
                    TelegramUpdate.lease_owner == owner,
                ),
            )
            .values(lease_owner=owner, lease_until=now + lease, updated_at=now)
        )
        return bool(rowcount(result))


def _transition(entry_id: int, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    with transaction(write=True) as session:
        session.execute(update(TelegramUpdate).where(TelegramUpdate.id == entry_id).values(**values))


def mark_forwarded(entry_id: int, replies: list[dict[str, Any]]) -> None:
    """Rasa answered: keep the answer with the row until every part of it is delivered."""
    _transition(entry_id, status="forwarded", replies=replies, replies_sent=0, last_error=None)


def mark_progress(entry_id: int, replies_sent: int, owner: str, lease: timedelta) -> None:
    """``replies_sent`` rendered parts are delivered (and the lease is extended for the rest)."""
    now = utcnow()
    _transition(entry_id, replies_sent=replies_sent, lease_owner=owner, lease_until=now + lease, updated_at=now)


def mark_replied(entry_id: int) -> None:
    """Done: forget the customer's text and our answer (data minimisation), keep the row for de-duplication."""
    now = utcnow()
    _transition(
        entry_id,
        status="replied",
        payload=None,
        replies=None,
        last_error=None,
        lease_owner=None,
        lease_until=None,
        completed_at=now,
        updated_at=now,
    )


def mark_failed(entry_id: int, error: str) -> None:
    """Give up for a permanent reason (e.g. the customer blocked the bot); the payload is forgotten too."""
    now = utcnow()
    _transition(
        entry_id,
        status="failed",
        payload=None,
        replies=None,
        last_error=error[:MAX_ERROR],
        lease_owner=None,
        lease_until=None,
        completed_at=now,
        updated_at=now,
    )


def schedule_retry(entry_id: int, delay: timedelta, error: str, *, rasa_may_have_it: bool | None = None) -> None:
    """Try again after ``delay`` (counts an attempt, releases the lease).

    ``rasa_may_have_it`` (when given) records what the failed attempt leaves behind: False once it is clear
    that no request ever reached Rasa (e.g. connection refused on the only attempt), True if one may have.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "attempts": TelegramUpdate.attempts + 1,
        "next_attempt_at": now + delay,
        "last_error": error[:MAX_ERROR],
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
    }
    if rasa_may_have_it is not None:
        values["rasa_may_have_it"] = rasa_may_have_it
    with transaction(write=True) as session:
        session.execute(update(TelegramUpdate).where(TelegramUpdate.id == entry_id).values(**values))


def mark_wait_notice_sent(entry_id: int) -> None:
    _transition(entry_id, wait_notice_sent=True)


def mark_rasa_may_have_it(entry_id: int) -> None:
    """A request carrying this update is about to go to Rasa: from now on Rasa may have recorded it.

    Written *before* sending, so that even a crash during the request leaves the doubt on record.
    """
    _transition(entry_id, rasa_may_have_it=True)


def release_leases(owner: str) -> int:
    """Give back every lease ``owner`` holds (graceful shutdown: a new process may continue at once)."""
    with transaction(write=True) as session:
        result = session.execute(
            update(TelegramUpdate).where(TelegramUpdate.lease_owner == owner).values(lease_owner=None, lease_until=None)
        )
        return rowcount(result)


# --- reading ----------------------------------------------------------------------------------------------------


def due_chats(bot_id: int, owner: str | None = None, limit: int = 500) -> list[int]:
    """Chats with a pending update that is due and not leased by another live process.

    Rows leased by ``owner`` itself are included: a process knows which of its workers run (and does not
    start a second one for a chat), so its own lease left behind by a failed worker must not block the chat.
    """
    now = utcnow()
    with transaction() as session:
        return list(
            session.scalars(
                select(TelegramUpdate.chat_id)
                .where(
                    TelegramUpdate.bot_id == bot_id,
                    TelegramUpdate.status.in_(PENDING_STATUSES),
                    TelegramUpdate.next_attempt_at <= now,
                    or_(
                        TelegramUpdate.lease_until.is_(None),
                        TelegramUpdate.lease_until < now,
                        TelegramUpdate.lease_owner == owner,
                    ),
                )
                .group_by(TelegramUpdate.chat_id)
                .order_by(func.min(TelegramUpdate.update_id))
                .limit(limit)
            )
        )


def earlier_press_of_same_message(bot_id: int, entry: JournalEntry) -> bool:
    """True if a button of the same message was already pressed (a double tap): forward only the first."""
    if entry.callback_message_id is None:
        return False
    with transaction() as session:
        found = session.scalars(
            select(TelegramUpdate.id)
            .where(
                TelegramUpdate.bot_id == bot_id,
                TelegramUpdate.chat_id == entry.chat_id,
                TelegramUpdate.kind == "callback_query",
                TelegramUpdate.callback_message_id == entry.callback_message_id,
                TelegramUpdate.update_id < entry.update_id,
                TelegramUpdate.status != "failed",
            )
            .limit(1)
        ).first()
        return found is not None


def status_counts(bot_id: int | None = None) -> dict[str, int]:
    """How many journal rows are in each status (for ``memnun telegram status`` and monitoring)."""
    with transaction() as session:
        query = select(TelegramUpdate.status, func.count()).group_by(TelegramUpdate.status)
        if bot_id is not None:
            query = query.where(TelegramUpdate.bot_id == bot_id)
        return {status: int(count) for status, count in session.execute(query)}


def prune(retention: timedelta = RETENTION) -> int:
    """Delete finished rows older than ``retention``; returns how many."""
    cutoff = utcnow() - retention
    with transaction(write=True) as session:
        result = session.execute(
            delete(TelegramUpdate).where(
                and_(TelegramUpdate.status.in_(("replied", "failed")), TelegramUpdate.completed_at < cutoff)
            )
        )
        return rowcount(result)


# --- the queue PTB writes into -----------------------------------------------------------------------------------


class JournalingQueue(asyncio.Queue):  # type: ignore[type-arg]
    """The Application's update queue: journals each update before PTB may acknowledge it to Telegram."""

    def __init__(self, bot_id: int) -> None:
        super().__init__()
        self.bot_id = bot_id

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            try:
                await asyncio.to_thread(record, self.bot_id, item)
            except ServiceUnavailable as error:
                log.warning("telegram update %s not journaled (database unavailable)", item.update_id)
                raise JournalUnavailable("update journal unavailable; Telegram will deliver again") from error
            except Exception as error:
                # Never let an unexpected error kill PTB's polling task: report it as a network error so the
                # update stays unacknowledged and is fetched again (and the error is logged each time).
                log.exception("telegram update %s not journaled", item.update_id)
                raise JournalUnavailable("update journal failed; Telegram will deliver again") from error
        await super().put(item)
