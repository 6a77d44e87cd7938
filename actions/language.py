"""The conversation's language: detected per message, or chosen explicitly by the customer."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MemnunAction, call, channel_of, customer_id_of, entity_values, language_of
from actions.i18n import LANGUAGES, t
from bot.services import conversations
from bot.services.errors import ServiceError
from bot.services.textnorm import fold

log = logging.getLogger("actions.language")

#: Where bot/nlu/language.py puts a confident detection in the parse result.
DETECTED_LANGUAGE_KEY = "memnun_language"


class ActionDetectLanguage(Action):
    """Custom slot mapping for `language`: copies the detector's confident guess into the slot.

    Runs inside action_extract_slots after every user message. Messages without a confident guess
    ("ok", "👍", an order number) keep the current language.
    """

    def name(self) -> str:
        return "action_detect_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        detected = (tracker.latest_message or {}).get(DETECTED_LANGUAGE_KEY)
        if detected in LANGUAGES and detected != tracker.get_slot("language"):
            return [SlotSet("language", detected)]
        return []


def requested_language(values: list[str]) -> str | None:
    """ "en"/"tr" from the target_language entity, also when the synonym mapper did not normalise it."""
    for value in values:
        folded = fold(value)
        if folded in LANGUAGES:
            return folded
        if folded.startswith(("ing", "eng")):
            return "en"
        if folded.startswith(("tur", "turk")):
            return "tr"
    return None


class ActionChangeLanguage(MemnunAction):
    """Switch to the requested language (or the other one) and confirm in it."""

    def name(self) -> str:
        return "action_change_language"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        target = requested_language(entity_values(tracker, "target_language"))
        if target is None:
            target = "en" if language_of(tracker) == "tr" else "tr"
        dispatcher.utter_message(text=t("language_changed", target))
        try:
            # Remember it for messages we start ourselves (check-ins, campaigns).
            await call(
                conversations.record_channel,
                tracker.sender_id,
                channel_of(tracker),
                customer_id_of(tracker),
                language=target,
            )
        except ServiceError as error:
            log.warning("could not store the language preference: %s", type(error).__name__)
        return [SlotSet("language", target)]
