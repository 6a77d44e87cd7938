"""Free-text feedback ("görüş/öneri"), with an optional 1-5 rating; thanked according to its sentiment."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    MemnunAction,
    as_int,
    button,
    call,
    channel_of,
    customer_id_of,
    idempotency_key,
    is_skip,
    language_of,
    latest_intent,
    latest_text,
    say,
)
from actions.forms import SKIPPED, MemnunFormValidation, form_ended_early, reset_events
from actions.i18n import t
from bot.services import feedback, surveys
from bot.services.textnorm import words

log = logging.getLogger("actions.feedback")

MIN_FEEDBACK_WORDS = 2


def score_buttons(language: str, low: int, high: int) -> list[dict[str, str]]:
    """Score buttons whose payload is the plain number, so the answer is read like a typed one."""
    skip = t("button_skip", language)
    return [button(str(n), str(n)) for n in range(low, high + 1)] + [button(skip, skip.lower())]


async def is_substantive_feedback(text: str, language: str) -> bool:
    """Does the message that started the flow already contain the feedback itself?

    "Görüş bildirmek istiyorum" does not; "kasiyeriniz çok kabaydı" or a longer text does.
    """
    count = len(words(text))
    if count >= 6:
        return True
    if count >= 3:
        return await call(feedback.classify_sentiment, text, language) != "neutral"
    return False


class ValidateFeedbackForm(MemnunFormValidation):
    form_slots = ("feedback_text", "feedback_rating")
    no_is_answer = frozenset({"feedback_rating"})

    def name(self) -> str:
        return "validate_feedback_form"

    async def on_activation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = latest_text(tracker)
        if latest_intent(tracker) == "give_feedback" and await is_substantive_feedback(text, language_of(tracker)):
            return [SlotSet("feedback_text", text)]
        return []

    async def validate_feedback_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(words(text)) < MIN_FEEDBACK_WORDS:
            return self.reask(dispatcher, tracker, "feedback_text", "feedback_text_too_short")
        return self.accept(feedback_text=text)

    async def validate_feedback_rating(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        score = surveys.parse_score(text, "csat")
        if score is not None:
            return self.accept(feedback_rating=score)
        if is_skip(text, latest_intent(tracker)):
            return self.accept(feedback_rating=SKIPPED)
        return self.reask(dispatcher, tracker, "feedback_rating", "feedback_rating_invalid")


class ActionAskFeedbackText(MemnunAction):
    def name(self) -> str:
        return "action_ask_feedback_text"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(dispatcher, tracker, "ask_feedback_text")
        return []


class ActionAskFeedbackRating(MemnunAction):
    def name(self) -> str:
        return "action_ask_feedback_rating"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(dispatcher, tracker, "ask_feedback_rating", buttons=score_buttons(language_of(tracker), 1, 5))
        return []


class ActionRecordFeedback(MemnunAction):
    def name(self) -> str:
        return "action_record_feedback"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return reset_events(*ValidateFeedbackForm.form_slots)

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        done = self.events_after_failure(tracker)
        text = tracker.get_slot("feedback_text")
        if form_ended_early(tracker) or not text:
            return done
        language = language_of(tracker)
        rating = tracker.get_slot("feedback_rating")
        info = await call(
            feedback.record_feedback,
            str(text),
            None if rating == SKIPPED else as_int(rating),
            channel_of(tracker),
            tracker.sender_id,
            customer_id_of(tracker),
            language,
            idempotency_key(tracker),
        )
        log.info("feedback recorded id=%s sentiment=%s", info.id, info.sentiment)
        if info.sentiment == "negative":
            say(
                dispatcher,
                tracker,
                "feedback_thanks_negative",
                buttons=[button(t("button_complain", language), "/complain")],
            )
        else:
            say(dispatcher, tracker, f"feedback_thanks_{info.sentiment}")
        return done
