"""Reading a Rasa tracker: did Rasa record a given customer message, and what did the bot answer to it?

Why: a request to Rasa's REST channel can end without an answer although Rasa handled the message (Rasa was
slow and the client timed out, the connection broke while the answer was on its way, a proxy answered 5xx).
Sending the message again would store it twice. The conversation's tracker is Rasa's own record: if it
holds the ``user`` event (recognised by the metadata the channel attached, e.g. ``telegram_update_id``),
the ``bot`` events that followed it are the answer the REST channel would have returned.

Pure functions over the JSON of ``GET /conversations/{id}/tracker?include_events=ALL`` (Rasa 3.6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def find_user_event(events: Sequence[Mapping[str, Any]], metadata_key: str, value: object) -> int | None:
    """Index of the last ``user`` event whose ``metadata[metadata_key]`` is ``value``, or None."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") != "user":
            continue
        metadata = event.get("metadata")
        if isinstance(metadata, Mapping) and metadata_key in metadata and _same(metadata[metadata_key], value):
            return index
    return None


def answer_after(events: Sequence[Mapping[str, Any]], index: int) -> list[dict[str, Any]]:
    """The REST-channel messages of the bot's turn that answered the ``user`` event at ``index``.

    The turn is every ``bot`` event up to the ``action_listen`` that ends it (Rasa saves a message and its
    whole turn together), and never beyond the next ``user`` event (another message, or an intent injected
    by the scheduler: its answer is not this message's).
    """
    messages: list[dict[str, Any]] = []
    for event in events[index + 1 :]:
        kind = event.get("event")
        if kind == "user" or (kind == "action" and event.get("name") == "action_listen"):
            break
        if kind == "bot":
            messages.extend(rest_messages(event))
    return messages


def recorded_answer(tracker: Mapping[str, Any], metadata_key: str, value: object) -> list[dict[str, Any]] | None:
    """The bot messages that answered the message carrying ``metadata_key: value``; None if it is not recorded."""
    events = tracker.get("events") or []
    index = find_user_event(events, metadata_key, value)
    if index is None:
        return None
    return answer_after(events, index)


def rest_messages(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What Rasa's REST channel returns for one ``bot`` event.

    Mirrors Rasa 3.6: ``BotUttered.message()`` (data, text and metadata merged; an image duplicated as the
    attachment counts once), ``OutputChannel.send_response`` (which parts in which order) and
    ``CollectingOutputChannel`` (plain texts split at blank lines; quick replies and elements as buttons).
    """
    message: dict[str, Any] = dict(event.get("data") or {})
    message["text"] = event.get("text")
    message.update(event.get("metadata") or {})
    if message.get("image") == message.get("attachment"):
        message["attachment"] = None

    out: list[dict[str, Any]] = []

    def emit(**fields: Any) -> None:
        out.append({key: value for key, value in fields.items() if value is not None})

    if message.get("quick_replies"):
        emit(text=message.get("text"), buttons=message["quick_replies"])
    elif message.get("buttons"):
        emit(text=message.get("text"), buttons=message["buttons"])
    elif message.get("text"):
        for part in str(message["text"]).strip().split("\n\n"):
            emit(text=part)
    if message.get("custom"):
        emit(custom=message["custom"])
    if message.get("image"):
        emit(image=message["image"])
    if message.get("attachment"):
        emit(attachment=message["attachment"])
    for element in message.get("elements") or []:
        title, subtitle = element.get("title", ""), element.get("subtitle", "")
        emit(text=f"{title} : {subtitle}", buttons=element.get("buttons", []))
    return out


def _same(recorded: object, value: object) -> bool:
    # Metadata went through JSON (and possibly a tracker store): compare ids by their text as well.
    return recorded == value or (recorded is not None and str(recorded) == str(value))
