"""Messages waiting for a web chat visitor: agent replies during a takeover, scheduled check-ins.

Why an inbox: Rasa's socket.io channel only reaches a browser tab that is open and connected at that very
moment, and nothing outside Rasa can push through it. Producers (the console's agent replies, the
scheduler's outbox) therefore store the messages here; the chat page fetches what is pending when it loads,
receives new ones live through a server-sent event stream while it is open, and acknowledges what it has
shown. Until acknowledged a message stays pending, so a closed tab or a dropped connection loses nothing.

Every producer passes an idempotency key: retrying a post (a scheduler job re-run after a crash, an agent
double-clicking "send") returns the first post's ids instead of showing the visitor the message twice.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models_webchat import WebInboxMessage
from bot.services.errors import InvalidInput
from bot.services.tx import transaction, utcnow

#: Source whose messages the page labels "Müşteri temsilcisi / Support agent".
AGENT_SOURCE = "agent"
#: A post may not carry more bubbles than this (a runaway producer must not flood a visitor).
MAX_MESSAGES_PER_POST = 20
MAX_TEXT_LENGTH = 4000
MAX_BUTTONS = 10
MAX_BUTTON_TITLE_LENGTH = 100
MAX_BUTTON_PAYLOAD_LENGTH = 1000
MAX_IDS_PER_ACK = 500

_SOURCE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class InboxMessage:
    """One stored message; ``message`` is a Rasa-style bot message (text, buttons, image, custom)."""

    id: int
    sender_id: str
    source: str
    message: Mapping[str, Any]
    created_at: datetime
    expires_at: datetime | None
    delivered_at: datetime | None

    @property
    def is_agent(self) -> bool:
        return self.source == AGENT_SOURCE


@dataclass(frozen=True)
class PostResult:
    """The ids of a post's messages, in order; ``created`` is False when the key had been used before."""

    ids: tuple[int, ...]
    created: bool


def is_web_sender(sender_id: object) -> bool:
    """True for a web chat sender id, ``web-`` + a canonical lower-case UUID (what the page generates).

    Producers use it to route a message: ``web-...`` goes to this inbox, ``tg-...`` to Telegram.
    """
    if not isinstance(sender_id, str) or not sender_id.startswith("web-") or len(sender_id) != 40:
        return False
    try:
        return str(uuid.UUID(sender_id[4:])) == sender_id[4:]
    except ValueError:
        return False


def _require_sender(sender_id: object) -> str:
    if not is_web_sender(sender_id):
        raise InvalidInput("invalid_sender", "sender_id must be 'web-' followed by a lower-case UUID")
    assert isinstance(sender_id, str)
    return sender_id


def _clean_button(button: object) -> dict[str, str]:
    if not isinstance(button, Mapping):
        raise InvalidInput("invalid_message", "a button must be an object with title and payload")
    title, payload = button.get("title"), button.get("payload")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_BUTTON_TITLE_LENGTH:
        raise InvalidInput("invalid_message", "a button needs a non-empty title of at most 100 characters")
    if not isinstance(payload, str) or not payload.strip() or len(payload) > MAX_BUTTON_PAYLOAD_LENGTH:
        raise InvalidInput("invalid_message", "a button needs a non-empty payload")
    return {"title": title.strip(), "payload": payload.strip()}


def clean_message(message: object) -> dict[str, Any]:
    """Validate one Rasa-style bot message and keep only the keys the page can show.

    Accepted keys are those of Rasa's REST channel replies (``text``, ``buttons``, ``image``, ``custom``), so a
    producer can forward what ``RasaClient.trigger_intent`` returned without reshaping it.
    """
    if not isinstance(message, Mapping):
        raise InvalidInput("invalid_message", "a message must be an object")
    cleaned: dict[str, Any] = {}
    text = message.get("text")
    if text is not None:
        if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
            raise InvalidInput("invalid_message", "text must be a string of at most 4000 characters")
        if text.strip():
            cleaned["text"] = text.strip()
    buttons = message.get("buttons")
    if buttons:
        if not isinstance(buttons, Sequence) or isinstance(buttons, str) or len(buttons) > MAX_BUTTONS:
            raise InvalidInput("invalid_message", "buttons must be a list of at most 10 buttons")
        cleaned["buttons"] = [_clean_button(button) for button in buttons]
    image = message.get("image")
    if image is not None:
        # Only web URLs: a "javascript:" or "data:" URL has no business in an <img> we render.
        if not isinstance(image, str) or not re.match(r"^https?://\S+$", image) or len(image) > 2000:
            raise InvalidInput("invalid_message", "image must be an http(s) URL")
        cleaned["image"] = image
    custom = message.get("custom")
    if custom is not None:
        if not isinstance(custom, Mapping):
            raise InvalidInput("invalid_message", "custom must be an object")
        cleaned["custom"] = copy.deepcopy(dict(custom))
    if not cleaned:
        raise InvalidInput("invalid_message", "a message needs text, buttons, an image or custom data")
    return cleaned


def _to_info(row: WebInboxMessage) -> InboxMessage:
    return InboxMessage(
        id=row.id,
        sender_id=row.sender_id,
        source=row.source,
        message=copy.deepcopy(row.payload),
        created_at=row.created_at,
        expires_at=row.expires_at,
        delivered_at=row.delivered_at,
    )


def _existing_post(idempotency_key: str, sender_id: str) -> PostResult | None:
    with transaction() as session:
        rows = session.scalars(
            select(WebInboxMessage)
            .where(WebInboxMessage.idempotency_key == idempotency_key)
            .order_by(WebInboxMessage.position)
        ).all()
        if not rows:
            return None
        if rows[0].sender_id != sender_id:
            # Reusing a key for another visitor is a producer bug; never hand back someone else's ids.
            raise InvalidInput("idempotency_conflict", "idempotency_key was already used for another sender")
        return PostResult(ids=tuple(row.id for row in rows), created=False)


def post_to_web(
    sender_id: str,
    messages: Iterable[Mapping[str, Any]],
    source: str,
    idempotency_key: str,
    *,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> PostResult:
    """Store ``messages`` for the web visitor ``sender_id``; the same ``idempotency_key`` posts only once.

    ``source`` says who speaks (``"agent"`` gets the support-agent label on the page; ``"checkin"``,
    ``"campaign"``, ``"system"`` ... are shown as the assistant). ``expires_at`` hides a message that was not
    picked up in time (e.g. a check-in past its answer window).
    """
    sender_id = _require_sender(sender_id)
    if not isinstance(source, str) or not _SOURCE_RE.match(source):
        raise InvalidInput("invalid_source", "source must be a short lower-case slug such as 'agent'")
    if not isinstance(idempotency_key, str) or not idempotency_key.strip() or len(idempotency_key) > 200:
        raise InvalidInput("invalid_idempotency_key", "idempotency_key must be 1-200 characters")
    if isinstance(messages, Mapping):
        raise InvalidInput("invalid_message", "messages must be a list of messages, not one message")
    cleaned = [clean_message(message) for message in messages]
    if not cleaned or len(cleaned) > MAX_MESSAGES_PER_POST:
        raise InvalidInput("invalid_message", "a post needs 1-20 messages")
    if expires_at is not None and expires_at.tzinfo is None:
        raise InvalidInput("invalid_expiry", "expires_at must be timezone-aware")

    existing = _existing_post(idempotency_key, sender_id)
    if existing is not None:
        return existing
    created_at = now or utcnow()
    try:
        with transaction(write=True) as session:
            rows = [
                WebInboxMessage(
                    sender_id=sender_id,
                    idempotency_key=idempotency_key,
                    position=position,
                    source=source,
                    payload=message,
                    created_at=created_at,
                    expires_at=expires_at,
                    delivered_at=None,
                )
                for position, message in enumerate(cleaned)
            ]
            session.add_all(rows)
            session.flush()
            return PostResult(ids=tuple(row.id for row in rows), created=True)
    except IntegrityError:
        # A concurrent post with the same key won the race (PostgreSQL); answer with its ids.
        existing = _existing_post(idempotency_key, sender_id)
        if existing is None:
            raise
        return existing


def _not_expired(now: datetime) -> Any:
    return or_(WebInboxMessage.expires_at.is_(None), WebInboxMessage.expires_at > now)


def pending_for(
    sender_id: str, *, after_id: int = 0, limit: int = 50, now: datetime | None = None
) -> list[InboxMessage]:
    """Undelivered, unexpired messages for ``sender_id``, oldest first (``after_id`` skips those already seen)."""
    sender_id = _require_sender(sender_id)
    limit = max(1, min(int(limit), 200))
    now = now or utcnow()
    with transaction() as session:
        rows = session.scalars(
            select(WebInboxMessage)
            .where(
                WebInboxMessage.sender_id == sender_id,
                WebInboxMessage.delivered_at.is_(None),
                WebInboxMessage.id > after_id,
                _not_expired(now),
            )
            .order_by(WebInboxMessage.id)
            .limit(limit)
        ).all()
        return [_to_info(row) for row in rows]


def delivered_for(sender_id: str, *, limit: int = 100) -> list[InboxMessage]:
    """The most recent ``limit`` delivered messages for ``sender_id``, oldest first (for the page's history)."""
    sender_id = _require_sender(sender_id)
    limit = max(1, min(int(limit), 500))
    with transaction() as session:
        rows = session.scalars(
            select(WebInboxMessage)
            .where(WebInboxMessage.sender_id == sender_id, WebInboxMessage.delivered_at.is_not(None))
            .order_by(WebInboxMessage.id.desc())
            .limit(limit)
        ).all()
        return [_to_info(row) for row in reversed(rows)]


def _clean_ids(ids: Iterable[object]) -> list[int]:
    if isinstance(ids, (str, bytes)):
        raise InvalidInput("invalid_ids", "ids must be a list of integers")
    result: list[int] = []
    for value in ids:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InvalidInput("invalid_ids", "ids must be positive integers")
        result.append(value)
    if len(result) > MAX_IDS_PER_ACK:
        raise InvalidInput("invalid_ids", "too many ids in one acknowledgement")
    return sorted(set(result))


def mark_delivered(ids: Iterable[int], *, sender_id: str | None = None, now: datetime | None = None) -> int:
    """Mark messages as shown to the visitor; returns how many changed state.

    Idempotent: already-delivered ids are left alone (their first delivery time stays). ``sender_id``
    restricts the update to that visitor's messages — the web endpoint always passes it, so one visitor
    cannot acknowledge another's messages by guessing ids.
    """
    clean_ids = _clean_ids(ids)
    if sender_id is not None:
        sender_id = _require_sender(sender_id)
    if not clean_ids:
        return 0
    conditions: list[ColumnElement[bool]] = [
        WebInboxMessage.id.in_(clean_ids),
        WebInboxMessage.delivered_at.is_(None),
    ]
    if sender_id is not None:
        conditions.append(WebInboxMessage.sender_id == sender_id)
    with transaction(write=True) as session:
        result = session.execute(
            update(WebInboxMessage)
            .where(and_(*conditions))
            .values(delivered_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge(*, delivered_before: datetime, now: datetime | None = None) -> int:
    """Retention: delete messages delivered before ``delivered_before`` and undelivered ones that expired.

    The conversation itself lives in Rasa's tracker; the inbox is only a delivery queue, so keeping
    delivered rows for long serves no one (and holds personal text longer than needed).
    """
    if delivered_before.tzinfo is None:
        raise InvalidInput("invalid_cutoff", "delivered_before must be timezone-aware")
    now = now or utcnow()
    with transaction(write=True) as session:
        result = session.execute(
            delete(WebInboxMessage)
            .where(
                or_(
                    WebInboxMessage.delivered_at < delivered_before,
                    and_(WebInboxMessage.delivered_at.is_(None), WebInboxMessage.expires_at <= now),
                )
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def forget_sender_in(session: Session, sender_id: str) -> int:
    """Erasure: delete every inbox message of one web visitor inside the caller's transaction (the privacy
    service erases a customer's conversations in one transaction); returns how many."""
    sender_id = _require_sender(sender_id)
    result = session.execute(
        delete(WebInboxMessage)
        .where(WebInboxMessage.sender_id == sender_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def forget_sender(sender_id: str) -> int:
    """Erasure: delete every inbox message of one web visitor, in a transaction of its own."""
    sender_id = _require_sender(sender_id)
    with transaction(write=True) as session:
        return forget_sender_in(session, sender_id)
