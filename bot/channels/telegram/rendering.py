"""Rasa bot messages -> Telegram messages.

One pure function, :func:`render`, used by the connector and by :class:`~.sender.TelegramSender` (scheduler
check-ins, agent replies), so a message looks the same whoever sends it. Rules:

- Text is sent as HTML with every ``<``, ``>`` and ``&`` escaped: whatever a response author or an agent
  types ("<3", "A&B", "x<y>z", stray Markdown) is shown literally and can never make Telegram reject the
  message ("can't parse entities"). Markdown links ``[title](url)`` become ``title (url)``, which Telegram
  turns into a tappable link by itself.
- Texts longer than Telegram's 4096-character limit are split at paragraph, line, sentence or word
  boundaries, never inside a word; buttons go under the last part.
- Buttons become an inline keyboard. ``callback_data`` is limited to 64 bytes, so a longer payload (e.g.
  ``/redeem{"reward_id": ..., "idempotency_key": ...}``) is replaced by a short key derived from its hash;
  :func:`long_payloads` tells the caller which keys to store (see :mod:`.payloads`) before sending.
- ``image`` becomes a photo (with the text as caption when it fits).
- ``custom: {"request_contact": true}`` offers the reply keyboard "📱 Numaramı paylaş / Share my number",
  attached to the question it belongs to; ``custom: {"remove_keyboard": true}`` removes it again.
- ``custom: {"data_export": {"filename": ..., "data": {...}}}`` (the personal-data export) becomes a JSON
  file (``sendDocument``): a Telegram customer expects a file to keep, not a wall of JSON in the chat.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.channels.telegram import texts
from bot.channels.telegram.texts import Language

#: Telegram's limits (https://core.telegram.org/bots/api): message text and photo caption length after
#: entity parsing, in UTF-16 code units; callback_data in bytes.
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64
#: Keys for long payloads start with a character Rasa payloads never start with ("/intent" or plain text).
LONG_PAYLOAD_PREFIX = "~"
#: Shown when a Rasa message has buttons but no text (Telegram requires a text).
EMPTY_TEXT_WITH_BUTTONS = "👇"
#: Button labels are cut beyond this many characters (Telegram shows long labels badly anyway).
MAX_BUTTON_TITLE = 64

ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove

_MARKDOWN_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’)\]]*)\s+")


@dataclass(frozen=True)
class OutgoingDocument:
    """A file to upload: its name as the customer sees it and its bytes."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class OutgoingMessage:
    """One Telegram call: ``send_message``, ``send_photo`` (``photo``) or ``send_document`` (``document``).

    ``text`` is ready HTML (the caption of a photo or document).
    """

    text: str | None
    photo: str | None = None
    reply_markup: ReplyMarkup | None = None
    document: OutgoingDocument | None = None

    @property
    def kind(self) -> str:
        return "document" if self.document else "photo" if self.photo else "text"


@dataclass(frozen=True)
class _KeyboardSlot:
    """A reply keyboard waiting to be attached to a neighbouring message (resolved by :func:`render`)."""

    markup: ReplyMarkup
    text: str | None


# --- text -------------------------------------------------------------------------------------------------


def utf16_len(value: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji outside the BMP counts 2)."""
    return len(value.encode("utf-16-le")) // 2


def prepare_text(value: str) -> str:
    """Rasa text -> plain text as the customer should read it (Markdown links spelled out)."""
    return _MARKDOWN_LINK.sub(r"\1 (\2)", value).strip()


def escape(value: str) -> str:
    """Plain text -> Telegram HTML that shows exactly ``value``."""
    return html.escape(value, quote=False)


def _prefix_fitting(value: str, limit: int) -> int:
    """The largest ``n`` with ``utf16_len(value[:n]) <= limit``."""
    total = 0
    for index, char in enumerate(value):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > limit:
            return index
    return len(value)


def _cut_position(value: str, limit: int) -> int:
    """Where to cut ``value`` so the head fits ``limit``: the latest natural boundary that is not too early."""
    window_end = _prefix_fitting(value, limit)
    window = value[:window_end]
    # A boundary in the first third would leave a tiny part; then prefer a weaker boundary further on.
    earliest = window_end // 3
    paragraph = window.rfind("\n\n")
    if paragraph >= earliest:
        return paragraph + 2
    line = window.rfind("\n")
    if line >= earliest:
        return line + 1
    sentence_ends = [match.end() for match in _SENTENCE_END.finditer(window)]
    if sentence_ends and sentence_ends[-1] >= earliest:
        return sentence_ends[-1]
    space = max(window.rfind(" "), window.rfind("\t"))
    if space >= earliest:
        return space + 1
    return max(window_end, 1)


def split_text(value: str, limit: int = MAX_TEXT) -> list[str]:
    """Split plain text into parts of at most ``limit`` UTF-16 units at paragraph/line/sentence/word ends."""
    parts: list[str] = []
    remaining = value.strip()
    while utf16_len(remaining) > limit:
        cut = _cut_position(remaining, limit)
        head = remaining[:cut].rstrip()
        if head:
            parts.append(head)
        remaining = remaining[cut:].lstrip()
    if remaining:
        parts.append(remaining)
    return parts


# --- buttons ----------------------------------------------------------------------------------------------


def callback_data_for(payload: str) -> str:
    """The ``callback_data`` for a button payload: the payload itself when it fits, else a short key."""
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(LONG_PAYLOAD_PREFIX):
        return payload
    return long_payload_key(payload)


def long_payload_key(payload: str) -> str:
    """``~`` + 32 characters of the payload's SHA-256 (192 bits: collisions are not a practical concern)."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()
    return LONG_PAYLOAD_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")[:32]


def is_long_payload_key(data: str) -> bool:
    return data.startswith(LONG_PAYLOAD_PREFIX)


def _buttons_of(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    buttons = message.get("buttons") or message.get("quick_replies") or []
    return [button for button in buttons if isinstance(button, Mapping)]


def long_payloads(messages: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{key: payload}`` for every button payload in ``messages`` that needs the payload store."""
    found: dict[str, str] = {}
    for message in messages:
        for button in _buttons_of(message):
            payload = _button_payload(button)
            if payload is None or _button_url(button):
                continue
            data = callback_data_for(payload)
            if data != payload:
                found[data] = payload
    return found


def _button_title(button: Mapping[str, Any]) -> str:
    title = str(button.get("title") or button.get("payload") or "").strip() or "…"
    if len(title) > MAX_BUTTON_TITLE:
        title = title[: MAX_BUTTON_TITLE - 1].rstrip() + "…"
    return title


def _button_payload(button: Mapping[str, Any]) -> str | None:
    payload = button.get("payload")
    if payload is None:
        payload = button.get("title")
    if payload is None:
        return None
    return str(payload)


def _button_url(button: Mapping[str, Any]) -> str | None:
    url = button.get("url")
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    payload = button.get("payload")
    if isinstance(payload, str) and payload.startswith(("https://", "http://")):
        return payload
    return None


def _row_width(titles: Sequence[str]) -> int:
    """Buttons per row: long labels one per row, short ones side by side (rating scales, yes/no)."""
    longest = max(len(title) for title in titles)
    if longest > 20:
        width = 1
    elif longest > 10:
        width = 2
    else:
        width = 5 if longest <= 3 else 3
    width = min(width, len(titles))
    # Balance the rows (6 buttons -> 3+3, not 5+1).
    rows = math.ceil(len(titles) / width)
    return math.ceil(len(titles) / rows)


def inline_keyboard(buttons: Sequence[Mapping[str, Any]]) -> InlineKeyboardMarkup | None:
    """Rasa buttons -> an inline keyboard (None when there are no usable buttons)."""
    built: list[InlineKeyboardButton] = []
    for button in buttons:
        title = _button_title(button)
        url = _button_url(button)
        if url:
            built.append(InlineKeyboardButton(title, url=url))
            continue
        payload = _button_payload(button)
        if payload is None:
            continue
        built.append(InlineKeyboardButton(title, callback_data=callback_data_for(payload)))
    if not built:
        return None
    width = _row_width([button.text for button in built])
    rows = [built[start : start + width] for start in range(0, len(built), width)]
    return InlineKeyboardMarkup(rows)


def share_contact_keyboard() -> ReplyKeyboardMarkup:
    """The reply keyboard that lets a customer share their own verified phone number with one tap."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(texts.SHARE_CONTACT_BUTTON, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


# --- messages ---------------------------------------------------------------------------------------------


def _text_messages(plain: str, markup: ReplyMarkup | None) -> list[OutgoingMessage]:
    parts = split_text(plain) if plain else []
    if not parts:
        if markup is None:
            return []
        parts = [EMPTY_TEXT_WITH_BUTTONS]
    messages = [OutgoingMessage(text=escape(part)) for part in parts]
    if markup is not None:
        messages[-1] = replace(messages[-1], reply_markup=markup)
    return messages


def _attachment_url(attachment: Any) -> str | None:
    if isinstance(attachment, str):
        return attachment
    if isinstance(attachment, Mapping):
        payload = attachment.get("payload")
        if isinstance(payload, Mapping):
            for key in ("src", "url"):
                if isinstance(payload.get(key), str):
                    return str(payload[key])
        for key in ("src", "url"):
            if isinstance(attachment.get(key), str):
                return str(attachment[key])
    return None


def _render_one(message: Mapping[str, Any], language: Language | None) -> list[OutgoingMessage | _KeyboardSlot]:
    out: list[OutgoingMessage | _KeyboardSlot] = []
    plain = prepare_text(str(message.get("text") or ""))
    markup = inline_keyboard(_buttons_of(message))
    image = message.get("image")
    if isinstance(image, str) and image:
        if plain and utf16_len(plain) <= MAX_CAPTION:
            out.append(OutgoingMessage(text=escape(plain), photo=image, reply_markup=markup))
        elif plain:
            out.append(OutgoingMessage(text=None, photo=image))
            out.extend(_text_messages(plain, markup))
        else:
            out.append(OutgoingMessage(text=None, photo=image, reply_markup=markup))
    else:
        out.extend(_text_messages(plain, markup))

    attachment = _attachment_url(message.get("attachment"))
    if attachment:
        out.append(OutgoingMessage(text=escape(attachment)))

    custom = message.get("custom")
    if isinstance(custom, Mapping):
        custom_text = prepare_text(str(custom.get("text") or ""))
        if custom.get("request_contact"):
            out.append(_KeyboardSlot(share_contact_keyboard(), custom_text or None))
        elif custom.get("remove_keyboard"):
            out.append(_KeyboardSlot(ReplyKeyboardRemove(), custom_text or None))
        elif isinstance(custom.get("data_export"), Mapping):
            out.append(OutgoingMessage(text=None, document=data_export_document(custom["data_export"])))
        elif custom_text:
            out.extend(_text_messages(custom_text, None))
    return out


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def data_export_document(export: Mapping[str, Any]) -> OutgoingDocument:
    """The personal-data export as a readable UTF-8 JSON file (Turkish letters as they are, indented)."""
    stem = _UNSAFE_FILENAME.sub("-", str(export.get("filename") or "memnun-data")).strip("-.")
    stem = stem.removesuffix(".json")[:60] or "memnun-data"
    content = json.dumps(export.get("data"), ensure_ascii=False, indent=2, default=str) + "\n"
    return OutgoingDocument(filename=f"{stem}.json", content=content.encode("utf-8"))


def _resolve_keyboard_slots(
    items: list[OutgoingMessage | _KeyboardSlot], language: Language | None
) -> list[OutgoingMessage]:
    """Attach each reply keyboard to the message next to it (a message carries one keyboard at most)."""
    resolved: list[OutgoingMessage | _KeyboardSlot] = list(items)
    for index, item in enumerate(resolved):
        if not isinstance(item, _KeyboardSlot):
            continue
        if item.text:
            resolved[index] = OutgoingMessage(text=escape(item.text), reply_markup=item.markup)
            continue
        for neighbour in (index - 1, index + 1):
            if 0 <= neighbour < len(resolved):
                candidate = resolved[neighbour]
                if (
                    isinstance(candidate, OutgoingMessage)
                    and (candidate.text or candidate.photo or candidate.document)
                    and candidate.reply_markup is None
                ):
                    resolved[neighbour] = replace(candidate, reply_markup=item.markup)
                    resolved[index] = OutgoingMessage(text=None)  # placeholder, dropped below
                    break
        else:
            prompt_key = "share_contact_prompt" if isinstance(item.markup, ReplyKeyboardMarkup) else None
            prompt = texts.text(prompt_key, language) if prompt_key else "✓"
            resolved[index] = OutgoingMessage(text=escape(prompt), reply_markup=item.markup)
    return [
        item
        for item in resolved
        if isinstance(item, OutgoingMessage) and (item.text or item.photo or item.document)
    ]


def render(
    messages: Iterable[Mapping[str, Any]],
    *,
    remove_reply_keyboard: bool = False,
    language: Language | None = None,
) -> list[OutgoingMessage]:
    """Rasa bot messages -> the Telegram messages to send, in order. Deterministic (safe to re-render).

    ``remove_reply_keyboard``: the customer just used the share-contact keyboard; take it away with the
    first message that has no other keyboard (unless the answer offers it again).
    """
    items: list[OutgoingMessage | _KeyboardSlot] = []
    for message in messages:
        items.extend(_render_one(message, language))
    rendered = _resolve_keyboard_slots(items, language)
    offers_keyboard = any(isinstance(item.reply_markup, ReplyKeyboardMarkup) for item in rendered)
    if remove_reply_keyboard and not offers_keyboard:
        for index, item in enumerate(rendered):
            if item.reply_markup is None:
                rendered[index] = replace(item, reply_markup=ReplyKeyboardRemove())
                break
    return rendered
