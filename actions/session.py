"""Session start: what a conversation remembers after an hour of silence, and recording its channel.

Carried over: the language and who the customer is (identification holds for the conversation).
Not carried over: half-finished forms, pending requests and survey context, so an old answer can
never complete a new question. (The domain's carry_over_slots_to_new_session is true; this action
decides which slots that means.)
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import KNOWN_CHANNELS, call, customer_id_of
from actions.i18n import LANGUAGES
from bot.services import conversations

log = logging.getLogger("actions.session")

CARRIED_SLOTS = ("language", "customer_id", "customer_first_name")


def session_metadata(tracker: Tracker) -> dict[str, Any]:
    metadata = tracker.get_slot("session_started_metadata") or {}
    return metadata if isinstance(metadata, dict) else {}


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        metadata = session_metadata(tracker)
        events: list[EventType] = [SessionStarted()]
        carried = {slot: tracker.get_slot(slot) for slot in CARRIED_SLOTS if tracker.get_slot(slot) is not None}
        first_session = not any(event.get("event") == "user" for event in tracker.events)
        hint = metadata.get("language_hint")
        if first_session and hint in LANGUAGES:
            # A brand-new conversation starts in the language of the customer's app/browser.
            carried["language"] = hint
        events += [SlotSet(slot, value) for slot, value in carried.items()]
        channel = metadata.get("channel")
        if channel not in KNOWN_CHANNELS:
            channel = conversations.channel_from_sender_id(tracker.sender_id)
        language = carried.get("language")
        try:
            await call(
                conversations.record_channel,
                tracker.sender_id,
                channel,
                customer_id_of(tracker),
                language=language if language in LANGUAGES else None,
            )
        except Exception as error:  # noqa: BLE001
            # Bookkeeping only: the conversation must start even when the database is down.
            log.warning("could not record the conversation channel: %s", type(error).__name__)
        events.append(ActionExecuted("action_listen"))
        return events
