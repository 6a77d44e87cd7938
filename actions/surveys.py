"""CSAT / NPS check-ins started by the scheduler, and campaign messages.

Flow: EXTERNAL_csat_checkin (or _nps_) starts the form with the check-in question (the campaign's
own wording when the trigger carries message_tr / message_en), the score is read from free text
("5", "beş", "çok memnunum", "⭐⭐⭐⭐"), then "why?" (skippable), then everything is stored once. A
low score opens a recovery ticket in the service and the customer is offered a person.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

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
    human_button,
    idempotency_key,
    is_skip,
    language_of,
    latest_intent,
    say,
)
from actions.feedback import score_buttons
from actions.forms import REASK_COUNT, SKIPPED, MemnunFormValidation, form_ended_early, reset_events
from actions.i18n import t
from bot.services import surveys
from bot.services.surveys import SurveyKind

log = logging.getLogger("actions.surveys")

SCORE_SLOTS: dict[str, str] = {"csat": "csat_score", "nps": "nps_score"}
SCORE_RANGES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10)}
#: Slots describing the survey context (campaign, outbox message, template texts, ticket).
CONTEXT_SLOTS = ("campaign_id", "outbox_id", "message_tr", "message_en", "survey_kind", "ticket_id")


def campaign_text(tracker: Tracker) -> str | None:
    """The campaign's own text in the conversation's language (or the other one if that is all we have)."""
    language = language_of(tracker)
    other = "en" if language == "tr" else "tr"
    for lang in (language, other):
        text = tracker.get_slot(f"message_{lang}")
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def is_low(kind: str, score: int) -> bool:
    return score <= surveys.LOW_SCORE_MAX[kind]


class SurveyFormValidation(MemnunFormValidation):
    kind: ClassVar[SurveyKind]
    no_is_answer = frozenset({"survey_comment"})
    cancel_message = "survey_aborted"
    abort_message = "survey_aborted"

    def say_abort(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        # Not answering a survey is fine; no offer of a person here.
        say(dispatcher, tracker, self.abort_message)

    async def _validate_score(self, value: Any, tracker: Tracker, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        slot = SCORE_SLOTS[self.kind]
        score, comment = surveys.split_score_comment(str(value or ""), self.kind)
        if score is None:
            # The ask action repeats the question with a hint.
            return self.reask(dispatcher, tracker, slot, None)
        answer: dict[str, Any] = {slot: score}
        if comment:  # "2, kargo çok geç geldi": no need to ask why
            answer["survey_comment"] = comment
        return self.accept(**answer)

    async def validate_survey_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if not text or text == SKIPPED or is_skip(text, latest_intent(tracker)):
            return self.accept(survey_comment=SKIPPED)
        return self.accept(survey_comment=text)


class ValidateCsatForm(SurveyFormValidation):
    kind = "csat"
    form_slots = ("csat_score", "survey_comment")

    def name(self) -> str:
        return "validate_csat_form"

    async def validate_csat_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._validate_score(value, tracker, dispatcher)


class ValidateNpsForm(SurveyFormValidation):
    kind = "nps"
    form_slots = ("nps_score", "survey_comment")

    def name(self) -> str:
        return "validate_nps_form"

    async def validate_nps_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._validate_score(value, tracker, dispatcher)


class _AskScore(MemnunAction):
    kind: ClassVar[SurveyKind]

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        low, high = SCORE_RANGES[self.kind]
        if int(tracker.get_slot(REASK_COUNT) or 0) > 0:
            text = t(f"{self.kind}_score_hint", language)
        elif template := campaign_text(tracker):
            # The campaign's own wording; the scale is added unless the template already gives it.
            has_scale = any(ch.isdigit() for ch in template)
            text = template if has_scale else f"{template}\n{t(f'{self.kind}_scale', language)}"
        elif self.kind == "csat" and tracker.get_slot("ticket_id"):
            text = t("ask_csat_score_ticket", language)  # after a resolved ticket: rate the support
        else:
            text = t(f"ask_{self.kind}_score", language)
        dispatcher.utter_message(text=text, buttons=score_buttons(language, low, high)[:-1])
        return []


class ActionAskCsatScore(_AskScore):
    kind = "csat"

    def name(self) -> str:
        return "action_ask_csat_score"


class ActionAskNpsScore(_AskScore):
    kind = "nps"

    def name(self) -> str:
        return "action_ask_nps_score"


def survey_kind_of(tracker: Tracker) -> SurveyKind | None:
    """Which survey just ran: the form that ran last, else whichever score slot is filled."""
    latest = tracker.latest_action_name
    if latest == "nps_form" or (latest != "csat_form" and tracker.get_slot("nps_score") is not None):
        return "nps"
    if latest == "csat_form" or tracker.get_slot("csat_score") is not None:
        return "csat"
    return None


class ActionAskSurveyComment(MemnunAction):
    def name(self) -> str:
        return "action_ask_survey_comment"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        kind = survey_kind_of(tracker) or "csat"
        score = as_int(tracker.get_slot(SCORE_SLOTS[kind]))
        key = "ask_survey_comment_low" if score is not None and is_low(kind, score) else "ask_survey_comment_high"
        skip = t("button_skip", language)
        say(dispatcher, tracker, key, buttons=[button(skip, skip.lower())])
        return []


class ActionRecordSurvey(MemnunAction):
    """After csat_form / nps_form: store the answer once; apologise and offer a person for a low score."""

    def name(self) -> str:
        return "action_record_survey"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return reset_events("csat_score", "nps_score", "survey_comment", *CONTEXT_SLOTS)

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        done = self.events_after_failure(tracker)
        kind = survey_kind_of(tracker)
        score = as_int(tracker.get_slot(SCORE_SLOTS[kind])) if kind else None
        if form_ended_early(tracker) or kind is None or score is None:
            return done
        language = language_of(tracker)
        comment = tracker.get_slot("survey_comment")
        ticket_ref = tracker.get_slot("ticket_id")
        result = await call(
            surveys.record_survey_response,
            kind,
            score,
            None if comment in (None, SKIPPED) else str(comment),
            customer_id_of(tracker),
            tracker.sender_id,
            as_int(tracker.get_slot("campaign_id")),
            channel_of(tracker),
            idempotency_key(tracker),
            outbox_id=as_int(tracker.get_slot("outbox_id")),
            ticket_ref=str(ticket_ref) if ticket_ref else None,
            language=language,
        )
        log.info("survey recorded id=%s kind=%s low=%s", result.response_id, kind, result.low_score)
        if result.low_score:
            buttons = [human_button(language), button(t("button_no_thanks", language), "/deny")]
            if result.recovery_ticket_ref:
                say(dispatcher, tracker, "survey_low_recovery", ref=result.recovery_ticket_ref, buttons=buttons)
            else:
                say(dispatcher, tracker, "survey_low_no_ticket", buttons=buttons)
        else:
            say(dispatcher, tracker, "survey_thanks")
        return done


class ActionSendCampaignMessage(MemnunAction):
    """EXTERNAL_campaign_message: the marketer's text in the customer's language, with the opt-out hint
    commercial messages must carry."""

    def name(self) -> str:
        return "action_send_campaign_message"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        # Only the message's own slots: this may run in the middle of a form (interruption rules).
        return [SlotSet(slot, None) for slot in ("message_tr", "message_en", "campaign_id", "outbox_id")]

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = campaign_text(tracker)
        if text is None:
            log.warning("campaign message without text (campaign_id=%s)", tracker.get_slot("campaign_id"))
            return self.events_after_failure(tracker)
        dispatcher.utter_message(text=f"{text}\n\n{t('campaign_opt_out_hint', language_of(tracker))}")
        return self.events_after_failure(tracker)
