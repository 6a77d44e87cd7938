"""Turn a Rasa tracker (plus delivered web-inbox messages) into the chat page's visible history.

The Rasa tracker is the source of truth for what was said: it survives a cleared browser cache on the
server side, includes what the visitor typed in another tab, and is what staff see. The page keeps a local
copy only for an instant first paint and for when Rasa cannot be reached. This module decides what a person
would recognise as "the conversation": user messages as they saw them (a button's title, not its payload),
bot texts, buttons and images — and nothing of the bookkeeping (actions, slots, silent commands).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.services.web_inbox import InboxMessage

#: Prefix Rasa gives user events created by `trigger_intent` (scheduler check-ins): not typed by anyone.
EXTERNAL_PREFIX = "EXTERNAL: "


def _clean_buttons(raw: object) -> list[dict[str, str]]:
    buttons: list[dict[str, str]] = []
    if not isinstance(raw, list):
        return buttons
    for button in raw:
        if not isinstance(button, Mapping):
            continue
        title, payload = button.get("title"), button.get("payload")
        if isinstance(title, str) and title and isinstance(payload, str) and payload:
            buttons.append({"title": title, "payload": payload})
    return buttons


def _image_of(data: Mapping[str, Any]) -> str | None:
    image = data.get("image")
    if isinstance(image, str) and image.startswith(("https://", "http://")):
        return image
    attachment = data.get("attachment")
    if isinstance(attachment, Mapping) and attachment.get("type") == "image":
        payload = attachment.get("payload")
        src = payload.get("src") if isinstance(payload, Mapping) else None
        if isinstance(src, str) and src.startswith(("https://", "http://")):
            return src
    return None


def _user_item(event: Mapping[str, Any], index: int) -> dict[str, Any] | None:
    metadata = event.get("metadata") if isinstance(event.get("metadata"), Mapping) else {}
    assert isinstance(metadata, Mapping)
    if metadata.get("silent"):
        return None
    text = event.get("text")
    display = metadata.get("display_text")
    if isinstance(display, str) and display.strip():
        text = display
    if not isinstance(text, str) or not text.strip():
        return None
    if text.startswith(EXTERNAL_PREFIX) or (text.startswith("/") and not display):
        # Intent payloads and externally triggered intents were never typed by the visitor.
        return None
    client_id = metadata.get("client_message_id")
    return {
        "id": f"c-{client_id}" if isinstance(client_id, str) and client_id else f"t-{index}",
        "role": "user",
        "source": "visitor",
        "text": text,
        "buttons": [],
        "image": None,
        "ts": float(event.get("timestamp") or 0),
        "buttonsActive": False,
        "chosen": None,
    }


def _bot_item(event: Mapping[str, Any], index: int) -> dict[str, Any] | None:
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    metadata = event.get("metadata") if isinstance(event.get("metadata"), Mapping) else {}
    assert isinstance(metadata, Mapping)
    text = event.get("text") if isinstance(event.get("text"), str) else None
    buttons = _clean_buttons(data.get("buttons")) or _clean_buttons(data.get("quick_replies"))
    image = _image_of(data)
    if not (text and text.strip()) and not buttons and not image:
        return None
    source = metadata.get("source")
    return {
        "id": f"t-{index}",
        "role": "bot",
        "source": source if isinstance(source, str) and source else "assistant",
        "text": text.strip() if text else None,
        "buttons": buttons,
        "image": image,
        "ts": float(event.get("timestamp") or 0),
        "buttonsActive": False,
        "chosen": None,
    }


def inbox_item(message: InboxMessage) -> dict[str, Any]:
    """A web-inbox message as a history item (also the shape the inbox endpoints send)."""
    payload = message.message
    text = payload.get("text")
    image = payload.get("image")
    return {
        "id": f"i-{message.id}",
        "inboxId": message.id,
        "role": "bot",
        "source": message.source,
        "text": text if isinstance(text, str) else None,
        "buttons": _clean_buttons(payload.get("buttons")),
        "image": image if isinstance(image, str) else None,
        "ts": message.created_at.timestamp(),
        "buttonsActive": False,
        "chosen": None,
    }


def build_transcript(
    tracker: Mapping[str, Any], delivered_inbox: Iterable[InboxMessage] = (), *, limit: int = 100
) -> list[dict[str, Any]]:
    """The last ``limit`` visible messages, oldest first, with only the still-answerable buttons active.

    A user message that reached Rasa twice (the page re-sent it after a connection drop whose
    acknowledgement was lost) carries the same ``client_message_id`` and is shown once.
    """
    inbox = list(delivered_inbox)
    inbox_ids = {message.id for message in inbox}
    items: list[dict[str, Any]] = []
    seen_client_ids: set[str] = set()
    last_with_buttons: dict[str, Any] | None = None
    events = tracker.get("events") or []
    for index, event in enumerate(events):
        if not isinstance(event, Mapping):
            continue
        kind = event.get("event")
        if kind == "user":
            if last_with_buttons is not None:
                # Remember which button answered the question, so the history shows it as chosen.
                payloads = {button["payload"] for button in last_with_buttons["buttons"]}
                if event.get("text") in payloads:
                    last_with_buttons["chosen"] = event.get("text")
                last_with_buttons = None
            item = _user_item(event, index)
            if item is None:
                continue
            if item["id"].startswith("c-"):
                if item["id"] in seen_client_ids:
                    continue
                seen_client_ids.add(item["id"])
            items.append(item)
        elif kind == "bot":
            metadata = event.get("metadata")
            if isinstance(metadata, Mapping) and metadata.get("web_inbox_id") in inbox_ids:
                continue  # the same message is in the inbox list below, with its delivery identity
            item = _bot_item(event, index)
            if item is not None:
                items.append(item)
                if item["buttons"]:
                    last_with_buttons = item
    items.extend(inbox_item(message) for message in inbox)
    # Stable sort: tracker order is kept for equal timestamps; inbox messages slot in by creation time.
    items.sort(key=lambda item: item["ts"])
    items = items[-limit:]
    for item in reversed(items):
        if item["role"] == "user":
            break
        if item["buttons"]:
            item["buttonsActive"] = True
            break
    return items
