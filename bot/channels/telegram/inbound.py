"""What a customer's update means for Rasa: forward it (with which text and metadata), answer locally, or ignore.

Pure decisions, no I/O except resolving a long button payload, so every rule here is testable on its own:

- Text is forwarded as typed, except that leading slashes are removed: in Rasa ``/intent{"entity": ...}``
  bypasses NLU, and a customer must not be able to inject intents or entities (``/share_contact{...}``).
- ``/start [payload]`` -> ``/greet`` with ``metadata.start_payload`` (deep links such as
  ``t.me/<bot>?start=order_SP1234567``); ``/help`` -> ``/help`` (with a built-in answer should Rasa have
  none); ``/language [tr|en]`` -> a TR/EN keyboard, or ``/change_language{"target_language": ...}``;
  ``/stop`` -> ``/opt_out`` (and the connector records the opt-out itself, immediately).
- A shared contact is forwarded as ``/share_contact`` with a signed ``metadata.contact`` ONLY if it is the
  sender's own (``contact.user_id == from_user.id``, which Telegram sets for the "share my number" button);
  anyone else's number is refused: it proves nothing about who is writing.
- A button press is forwarded as its payload, if the button really is on the pressed message.
- Photos, voice messages, stickers...: a caption is forwarded as text; otherwise a polite "please type".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardMarkup, Update, User

from bot.channels.telegram import payloads, rendering, texts
from bot.channels.telegram.ids import CHANNEL, sender_id_for
from bot.channels.telegram.texts import Language
from bot.services import identity

#: Telegram deep-link payloads: up to 64 characters of A-Z, a-z, 0-9, _ and -.
_START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LANGUAGE_WORDS: dict[str, Language] = {
    "tr": "tr",
    "türkçe": "tr",
    "turkce": "tr",
    "turkish": "tr",
    "en": "en",
    "english": "en",
    "ingilizce": "en",
    "i̇ngilizce": "en",
}
_MEDIA_KINDS = (
    "photo",
    "video",
    "voice",
    "audio",
    "document",
    "sticker",
    "animation",
    "video_note",
    "location",
    "venue",
    "poll",
    "dice",
)


@dataclass(frozen=True)
class Forward:
    """Send ``text`` with ``metadata`` to Rasa and deliver its answer."""

    text: str
    metadata: dict[str, Any]
    #: A built-in answer (a :mod:`.texts` key) for when Rasa answers nothing.
    fallback: str | None = None
    #: Record the channel opt-out right away (``/stop``), not only when Rasa's action runs.
    opt_out: bool = False


@dataclass(frozen=True)
class LocalReply:
    """Answer without Rasa (Rasa-style bot messages, rendered like Rasa's)."""

    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Ignore:
    """Nothing to do (a stale or foreign button, an empty update). ``reason`` is a code for the logs."""

    reason: str


Decision = Forward | LocalReply | Ignore


@dataclass(frozen=True)
class Sender:
    """Who wrote: the chat, the Rasa sender id, the Telegram user and the language of their app."""

    chat_id: int
    sender_id: str
    user_id: int | None
    language_code: str | None

    @property
    def language(self) -> Language | None:
        return texts.language_from_code(self.language_code)

    def metadata(self, update_id: int) -> dict[str, Any]:
        hint = None
        if self.language_code:
            hint = self.language_code.split("-")[0].split("_")[0].lower()
        return {
            "channel": CHANNEL,
            "telegram_user_id": self.user_id,
            "language_hint": hint,
            "telegram_update_id": update_id,
        }


def sender_of(update: Update) -> Sender:
    user: User | None = update.effective_user
    chat = update.effective_chat
    chat_id = chat.id if chat is not None else (user.id if user is not None else 0)
    return Sender(
        chat_id=chat_id,
        sender_id=sender_id_for(chat_id),
        user_id=user.id if user is not None else None,
        language_code=user.language_code if user is not None else None,
    )


def change_language_payload(language: Language) -> str:
    return "/change_language" + json.dumps({"target_language": language}, separators=(",", ":"))


def language_menu(language: Language | None) -> LocalReply:
    return LocalReply(
        [
            {
                "text": texts.text("choose_language", language),
                "buttons": [
                    {"title": "🇹🇷 Türkçe", "payload": change_language_payload("tr")},
                    {"title": "🇬🇧 English", "payload": change_language_payload("en")},
                ],
            }
        ]
    )


def _strip_command_syntax(text: str) -> str:
    return text.lstrip().lstrip("/").strip()


def _command(text: str) -> tuple[str, str] | None:
    """``"/start@memnun_bot order_1"`` -> ``("start", "order_1")``; None if ``text`` is not a command."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2 or not stripped[1].isalpha():
        return None
    head, _, rest = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
        return None
    return name, rest.strip()


def _interpret_command(name: str, argument: str, who: Sender, metadata: dict[str, Any]) -> Decision | None:
    if name == "start":
        if argument and _START_PAYLOAD.fullmatch(argument):
            metadata = {**metadata, "start_payload": argument}
        return Forward("/greet", metadata)
    if name == "help":
        return Forward("/help", metadata, fallback="help")
    if name in ("language", "dil"):
        target = _LANGUAGE_WORDS.get(argument.lower()) if argument else None
        if target is None:
            return language_menu(who.language)
        return Forward(change_language_payload(target), metadata)
    if name == "stop":
        return Forward("/opt_out", metadata, opt_out=True)
    return None


def _interpret_contact(update: Update, who: Sender, metadata: dict[str, Any]) -> Decision:
    message = update.message
    assert message is not None and message.contact is not None
    contact = message.contact
    from_user = message.from_user
    if from_user is None or contact.user_id is None or contact.user_id != from_user.id:
        return LocalReply(
            [{"text": texts.text("foreign_contact", who.language)}, {"custom": {"request_contact": True}}]
        )
    raw = contact.phone_number or ""
    phone = identity.normalize_phone(raw)
    if phone is None:
        # A real, verified number that is not a Turkish mobile: pass it on in E.164 so the assistant can say
        # "no account with this number" instead of pretending nothing was shared.
        digits = re.sub(r"\D", "", raw)
        phone = f"+{digits}" if digits else ""
    signed = {
        "phone": phone,
        "user_id": contact.user_id,
        "signature": identity.sign_contact(who.sender_id, phone),
    }
    return Forward("/share_contact", {**metadata, "contact": signed})


def _interpret_message(update: Update, who: Sender, metadata: dict[str, Any]) -> Decision:
    message = update.message
    assert message is not None
    if message.contact is not None:
        return _interpret_contact(update, who, metadata)
    if message.text is not None:
        command = _command(message.text)
        if command is not None:
            decision = _interpret_command(command[0], command[1], who, metadata)
            if decision is not None:
                return decision
        text = _strip_command_syntax(message.text)
        return Forward(text, metadata) if text else Ignore("empty_text")
    kind = next((name for name in _MEDIA_KINDS if getattr(message, name, None)), "other")
    caption = _strip_command_syntax(message.caption or "")
    if caption:
        return Forward(caption, {**metadata, "attachment_type": kind})
    return LocalReply([{"text": texts.text("unsupported_message", who.language)}])


def _keyboard_callback_data(markup: Any) -> set[str] | None:
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    return {
        str(button.callback_data)
        for row in markup.inline_keyboard
        for button in row
        if button.callback_data is not None
    }


def _interpret_callback(update: Update, metadata: dict[str, Any], resolve: Callable[[str], str | None]) -> Decision:
    query = update.callback_query
    assert query is not None
    data = query.data
    if not data:
        return Ignore("no_callback_data")
    message = query.message
    if message is not None:
        offered = _keyboard_callback_data(getattr(message, "reply_markup", None))
        # A press must match a button that is on the message (clients can send any callback data).
        if offered is None:
            return Ignore("keyboard_already_used")
        if data not in offered:
            return Ignore("unknown_button")
    payload: str | None = data
    if rendering.is_long_payload_key(data):
        payload = resolve(data)
        if payload is None:
            return Ignore("button_expired")
    assert payload is not None
    return Forward(payload, metadata)


def interpret(update: Update, *, resolve: Callable[[str], str | None] | None = None) -> Decision:
    """Decide what to do with a journaled update (blocking: may read the payload store)."""
    resolve = resolve or payloads.resolve
    who = sender_of(update)
    metadata = who.metadata(update.update_id)
    if update.message is not None:
        return _interpret_message(update, who, metadata)
    if update.callback_query is not None:
        return _interpret_callback(update, metadata, resolve)
    return Ignore("unsupported_update")


def removes_reply_keyboard(update: Update) -> bool:
    """After a contact share the "share my number" keyboard has done its job and should go away."""
    return update.message is not None and update.message.contact is not None
