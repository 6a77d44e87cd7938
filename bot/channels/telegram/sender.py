"""Sending Rasa-style messages to a Telegram chat: the one delivery path for connector, scheduler and console.

What a caller can rely on:

- Messages look exactly like the connector's answers (:func:`.rendering.render`).
- Flood limits are respected before Telegram complains (:class:`.ratelimit.PerChatRateLimiter`: 30/s
  overall, about 1/s per chat) and a 429 pauses all sending for its ``retry_after``.
- 5xx answers and network errors are retried a few times with exponential backoff; if Telegram is still
  unwell, :class:`DeliveryDeferred` tells the caller to try later (the connector's journal, the scheduler's
  outbox) — nothing is silently lost.
- 403 (the customer blocked the bot, deleted the account, never started it) marks the channel identity
  unreachable via :mod:`bot.services.reachability` and raises :class:`RecipientUnreachable`: do not retry.
- A message Telegram refuses as malformed (400) raises :class:`MessageRejected` (retrying cannot help);
  an image Telegram cannot fetch falls back to a text with the link.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from telegram import Bot, Message
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.channels.telegram import payloads, rendering
from bot.channels.telegram.ids import CHANNEL, log_ref, sender_id_for
from bot.channels.telegram.ratelimit import PerChatRateLimiter, retry_after_seconds
from bot.channels.telegram.rendering import OutgoingMessage
from bot.channels.telegram.texts import Language
from bot.services import reachability
from bot.services.errors import ServiceError
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)


class RecipientUnreachable(Exception):
    """Telegram will not deliver to this chat (blocked, deactivated, never started). Do not retry."""

    def __init__(self, chat_id: int, reason: str) -> None:
        super().__init__(f"telegram chat unreachable: {reason}")
        self.chat_id = chat_id
        self.reason = reason


class DeliveryDeferred(Exception):
    """A temporary failure (network, Telegram 5xx, flood control): try again later.

    ``retry_after`` (seconds) is set when Telegram said how long to wait.
    """

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class MessageRejected(Exception):
    """Telegram refused this message as malformed (400). Retrying the same message cannot succeed."""


def build_bot(
    settings: Settings | None = None,
    *,
    rate_limiter: PerChatRateLimiter | None = None,
    connection_pool_size: int = 64,
) -> ExtBot[int]:
    """A PTB bot for ``settings.telegram_token`` talking to ``settings.telegram_base_url`` (the fake in tests).

    PTB's default request object has a single connection; we serve many chats concurrently, so the pool is
    sized for that. ``getUpdates`` gets its own small pool so a long poll never blocks sending.
    """
    settings = settings or get_settings()
    if settings.telegram_token is None:
        raise RuntimeError("TELEGRAM_TOKEN is not set: the Telegram channel cannot start without a bot token")
    return ExtBot(
        token=settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_base_file_url,
        request=HTTPXRequest(
            connection_pool_size=connection_pool_size,
            connect_timeout=5.0,
            read_timeout=15.0,
            write_timeout=15.0,
            pool_timeout=10.0,
        ),
        get_updates_request=HTTPXRequest(
            connection_pool_size=2, connect_timeout=5.0, read_timeout=10.0, pool_timeout=5.0
        ),
        rate_limiter=rate_limiter if rate_limiter is not None else PerChatRateLimiter(),
    )


def bot_id_from_token(token: str) -> int:
    """The bot's user id is the part of the token before the colon (no network round trip needed)."""
    head, _, _ = token.partition(":")
    if not head.isdigit():
        raise RuntimeError("TELEGRAM_TOKEN does not look like a bot token (expected '<digits>:<secret>')")
    return int(head)


def _forbidden_reason(description: str) -> str:
    text = description.lower()
    if "blocked" in text:
        return "blocked"
    if "deactivated" in text:
        return "deactivated"
    if "initiate" in text:
        return "not_started"
    return "forbidden"


class TelegramSender:
    """Delivers rendered messages to Telegram chats with limits, retries and unreachable-marking.

    Build it around the connector's bot (``TelegramSender(application.bot)``) or standalone with
    :meth:`from_settings` (scheduler, console), then ``async with sender: ...``.
    """

    def __init__(
        self,
        bot: Bot,
        *,
        attempts: int = 3,
        backoff_s: float = 0.5,
        owns_bot: bool = False,
    ) -> None:
        self.bot = bot
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._owns_bot = owns_bot

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> TelegramSender:
        return cls(build_bot(settings), owns_bot=True, **kwargs)

    async def __aenter__(self) -> TelegramSender:
        if self._owns_bot:
            await self.bot.initialize()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._owns_bot:
            await self.bot.shutdown()

    # -- Rasa messages -----------------------------------------------------------------------------------------

    @staticmethod
    def render(
        messages: Iterable[Mapping[str, Any]],
        *,
        language: Language | None = None,
        remove_reply_keyboard: bool = False,
    ) -> list[OutgoingMessage]:
        return rendering.render(messages, language=language, remove_reply_keyboard=remove_reply_keyboard)

    @staticmethod
    async def prepare(messages: Iterable[Mapping[str, Any]]) -> None:
        """Store long button payloads so presses on them resolve (call before sending the rendered parts)."""
        long_ones = rendering.long_payloads(list(messages))
        if long_ones:
            await asyncio.to_thread(payloads.store, long_ones)

    async def send_rasa_messages(
        self,
        chat_id: int,
        messages: Iterable[Mapping[str, Any]],
        *,
        language: Language | None = None,
        remove_reply_keyboard: bool = False,
    ) -> list[int]:
        """Render and deliver Rasa bot messages in order; returns the Telegram message ids.

        Raises :class:`RecipientUnreachable`, :class:`DeliveryDeferred` or :class:`MessageRejected`.
        A caller that must resume exactly where a failure stopped (the connector) uses :meth:`render` and
        :meth:`deliver` itself and records progress after each part.
        """
        messages = list(messages)
        await self.prepare(messages)
        sent: list[int] = []
        for part in self.render(messages, language=language, remove_reply_keyboard=remove_reply_keyboard):
            message_id = await self.deliver(chat_id, part)
            if message_id is not None:
                sent.append(message_id)
        return sent

    # -- single parts ------------------------------------------------------------------------------------------

    async def deliver(self, chat_id: int, part: OutgoingMessage) -> int | None:
        """Send one rendered part, retrying transient failures; returns its message id."""
        for attempt in range(1, self.attempts + 1):
            try:
                message = await self._send_once(chat_id, part)
                return message.message_id
            except RetryAfter as error:
                # The rate limiter already waited and retried; Telegram still wants us to slow down.
                raise DeliveryDeferred("telegram_flood_control", retry_after_seconds(error)) from error
            except Forbidden as error:
                await self._mark_unreachable(chat_id, _forbidden_reason(error.message))
                raise RecipientUnreachable(chat_id, _forbidden_reason(error.message)) from error
            except BadRequest as error:
                if "chat not found" in error.message.lower():
                    await self._mark_unreachable(chat_id, "chat_not_found")
                    raise RecipientUnreachable(chat_id, "chat_not_found") from error
                if part.photo:
                    log.warning("telegram rejected an image for %s; sending it as a link", log_ref(chat_id))
                    caption = f"{part.text}\n\n" if part.text else ""
                    fallback = OutgoingMessage(
                        text=caption + rendering.escape(part.photo), reply_markup=part.reply_markup
                    )
                    return await self.deliver(chat_id, fallback)
                log.error("telegram rejected a message for %s: %s", log_ref(chat_id), type(error).__name__)
                raise MessageRejected(error.message) from error
            except (InvalidToken, ChatMigrated):
                raise
            except NetworkError as error:  # includes TimedOut and 5xx answers
                if attempt == self.attempts:
                    raise DeliveryDeferred(f"telegram_network:{type(error).__name__}") from error
                delay = self.backoff_s * (2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
                log.info(
                    "telegram send to %s failed (%s); retry %d in %.1fs",
                    log_ref(chat_id),
                    type(error).__name__,
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, chat_id: int, part: OutgoingMessage) -> Message:
        if part.document:
            return await self.bot.send_document(
                chat_id=chat_id,
                document=part.document.content,
                filename=part.document.filename,
                caption=part.text,
                parse_mode=ParseMode.HTML if part.text else None,
                reply_markup=part.reply_markup,
            )
        if part.photo:
            return await self.bot.send_photo(
                chat_id=chat_id,
                photo=part.photo,
                caption=part.text,
                parse_mode=ParseMode.HTML if part.text else None,
                reply_markup=part.reply_markup,
            )
        return await self.bot.send_message(
            chat_id=chat_id,
            text=part.text or "",
            parse_mode=ParseMode.HTML,
            reply_markup=part.reply_markup,
        )

    async def _mark_unreachable(self, chat_id: int, reason: str) -> None:
        log.warning("telegram chat %s is unreachable (%s)", log_ref(chat_id), reason)
        try:
            await asyncio.to_thread(reachability.mark_unreachable, CHANNEL, sender_id_for(chat_id), reason)
        except ServiceError:
            log.warning("could not record that %s is unreachable (database unavailable)", log_ref(chat_id))

    # -- best-effort extras -----------------------------------------------------------------------------------

    async def send_notice(self, chat_id: int, plain_text: str) -> bool:
        """A short service text ("one moment please"); never raises, returns whether it was delivered."""
        try:
            await self.deliver(chat_id, OutgoingMessage(text=rendering.escape(plain_text)))
            return True
        except (RecipientUnreachable, DeliveryDeferred, MessageRejected, TelegramError):
            return False

    async def send_typing(self, chat_id: int) -> None:
        """Show "typing…" (lasts about 5 seconds); failures do not matter."""
        try:
            await self.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
        except TelegramError as error:
            log.debug("typing indicator for %s failed: %s", log_ref(chat_id), type(error).__name__)

    async def remove_inline_keyboard(self, chat_id: int, message_id: int) -> None:
        """Take the buttons off a message after one was pressed, so the choice cannot be made twice."""
        try:
            await self.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
        except BadRequest as error:
            # "message is not modified" (already removed) or "message to edit not found" (deleted): fine.
            log.debug("keyboard removal for %s skipped: %s", log_ref(chat_id), type(error).__name__)
        except TelegramError as error:
            log.info("keyboard removal for %s failed: %s", log_ref(chat_id), type(error).__name__)

    async def answer_callback(self, query_id: str, text: str | None = None) -> None:
        """Stop the button's loading spinner (and optionally show a short toast)."""
        try:
            await self.bot.answer_callback_query(callback_query_id=query_id, text=text)
        except TelegramError as error:
            # A duplicate delivery of the same press ("query is too old") lands here: nothing to do.
            log.debug("callback answer failed: %s", type(error).__name__)


def retry_delay(attempts: int, *, base_s: float, max_s: float) -> timedelta:
    """Exponential backoff with jitter for the ``attempts``-th retry (1-based)."""
    seconds = min(max_s, base_s * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))
