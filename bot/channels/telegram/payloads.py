"""Long button payloads: stored under the short key that goes into Telegram's 64-byte ``callback_data``.

Keys are content hashes (:func:`.rendering.long_payload_key`), so storing is idempotent and any process
(connector, scheduler, console) that renders the same buttons produces the same key. Rows unused for a
long time are pruned; a press on such an ancient button gets a polite "no longer available".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import delete, select, update

from bot.channels.telegram._sql import insert_ignoring_conflicts, rowcount
from bot.db.models_channels import TelegramCallbackPayload
from bot.services.tx import transaction, utcnow

#: Buttons older than this are not expected to be pressed any more.
RETENTION = timedelta(days=90)


def store(payloads: Mapping[str, str]) -> None:
    """Make every ``{key: payload}`` resolvable (no-op for keys already stored, which are refreshed)."""
    if not payloads:
        return
    now = utcnow()
    rows = [
        {"key": key, "payload": payload, "created_at": now, "last_used_at": now} for key, payload in payloads.items()
    ]
    with transaction(write=True) as session:
        insert_ignoring_conflicts(session, TelegramCallbackPayload.__table__, rows, ["key"])
        session.execute(
            update(TelegramCallbackPayload)
            .where(TelegramCallbackPayload.key.in_(list(payloads)))
            .values(last_used_at=now)
        )


def resolve(key: str) -> str | None:
    """The payload stored under ``key``, or None if unknown (never stored, or pruned)."""
    with transaction() as session:
        return session.scalars(
            select(TelegramCallbackPayload.payload).where(TelegramCallbackPayload.key == key)
        ).one_or_none()


def prune(retention: timedelta = RETENTION) -> int:
    """Delete payloads not used within ``retention``; returns how many."""
    with transaction(write=True) as session:
        result = session.execute(
            delete(TelegramCallbackPayload).where(TelegramCallbackPayload.last_used_at < utcnow() - retention)
        )
        return rowcount(result)
