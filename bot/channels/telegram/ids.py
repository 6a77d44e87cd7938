"""Identifiers: Rasa sender ids for Telegram chats, and chat ids made safe for logs.

Logs must not let a reader find a customer, and a Telegram chat id is a stable personal identifier. Plain
hashing would not help (chat ids are ten-digit numbers: trivially brute-forced), so log references are an
HMAC under the deployment's secret key: stable within a deployment (so one chat's lines can be followed)
but meaningless outside it.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from bot.settings import get_settings

SENDER_PREFIX = "tg-"
CHANNEL = "telegram"


def sender_id_for(chat_id: int) -> str:
    """The Rasa sender id of a Telegram chat: ``tg-<chat id>``."""
    return f"{SENDER_PREFIX}{chat_id}"


def chat_id_from_sender(sender_id: str) -> int | None:
    """The chat id in ``tg-<chat id>``, or None if ``sender_id`` is not a Telegram sender id."""
    if not sender_id.startswith(SENDER_PREFIX):
        return None
    try:
        return int(sender_id[len(SENDER_PREFIX) :])
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _log_key() -> bytes:
    return hashlib.sha256(b"memnun-log-ref|" + get_settings().secret_key.get_secret_value().encode()).digest()


def log_ref(chat_id: int | str | None) -> str:
    """A short, stable, non-reversible reference to a chat for log lines (``c:3f9a1b2c4d5e``)."""
    if chat_id is None:
        return "c:-"
    digest = hmac.new(_log_key(), str(chat_id).encode(), hashlib.sha256).hexdigest()
    return f"c:{digest[:12]}"
