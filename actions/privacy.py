"""Consent and data rights (KVKK / GDPR): opt-out, opt-in, erasure, export.

Opt-out works for anyone at once, identified or not (it is about this chat). Opt-in, erasure and
export need identification; erasure is explained and confirmed first, and afterwards the
conversation forgets who the customer was.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    AfterIdentificationAction,
    MemnunAction,
    call,
    channel_of,
    customer_id_of,
    language_of,
    say,
    yes_no_buttons,
    yes_or_no,
)
from actions.forms import MemnunFormValidation, answer_to, form_ended_early, reset_events
from actions.i18n import t
from bot.services import consent, privacy

log = logging.getLogger("actions.privacy")

#: Slots that identify the customer; cleared after erasure.
IDENTITY_SLOTS = ("customer_id", "customer_first_name")

#: Labels for the parts of an export (keys of privacy.export_customer_data), in display order.
EXPORT_SECTIONS: dict[str, dict[str, str]] = {
    "customer": {"tr": "Üyelik bilgileri", "en": "Membership details"},
    "channel_identities": {"tr": "Bağlı kanallar", "en": "Linked channels"},
    "conversations": {"tr": "Görüşmeler", "en": "Conversations"},
    "loyalty": {"tr": "Puan hareketleri", "en": "Points transactions"},
    "orders": {"tr": "Siparişler", "en": "Orders"},
    "tickets": {"tr": "Şikâyet / talepler", "en": "Complaints / tickets"},
    "feedback": {"tr": "Görüş ve öneriler", "en": "Feedback"},
    "survey_responses": {"tr": "Anket yanıtları", "en": "Survey answers"},
}


def consent_source(tracker: Tracker) -> str:
    """Where a consent decision was made, stored with it (e.g. "chat:telegram")."""
    return f"chat:{channel_of(tracker)}"


class ActionOptOut(MemnunAction):
    def name(self) -> str:
        return "action_opt_out"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        # The service also withdraws the linked customer's consents, so every channel stops.
        await call(consent.opt_out_channel, channel_of(tracker), tracker.sender_id, consent_source(tracker))
        log.info("opt-out recorded (channel=%s)", channel_of(tracker))
        say(dispatcher, tracker, "opt_out_done")
        return []


class ActionOptIn(AfterIdentificationAction):
    def name(self) -> str:
        return "action_opt_in"

    async def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        assert customer_id is not None
        source = consent_source(tracker)
        await call(consent.opt_in_channel, channel_of(tracker), tracker.sender_id, source)
        await call(consent.set_checkin_consent, customer_id, True, source)
        log.info("check-in consent granted customer_id=%s", customer_id)
        say(dispatcher, tracker, "opt_in_done")
        return []


class ValidateDeleteDataForm(MemnunFormValidation):
    """delete_data_form: the consequences are explained in the question; only a clear "yes" erases."""

    form_slots = ("delete_confirmed",)
    no_is_answer = frozenset({"delete_confirmed"})
    cancel_message = "delete_cancelled"

    def name(self) -> str:
        return "validate_delete_data_form"

    async def form_required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return domain_slots if customer_id_of(tracker) is not None else []

    async def extract_delete_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = answer_to(tracker, "delete_confirmed")
        return {} if answer is None else {"delete_confirmed": answer}

    async def validate_delete_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = yes_or_no(tracker, strict=True)
        if answer is None:
            return self.reask(dispatcher, tracker, "delete_confirmed", "yes_no_reask")
        return self.accept(delete_confirmed=answer)


class ActionAskDeleteConfirmed(MemnunAction):
    def name(self) -> str:
        return "action_ask_delete_confirmed"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        say(
            dispatcher,
            tracker,
            "ask_delete_confirmed",
            buttons=yes_no_buttons(language, "button_delete_yes", "button_delete_no"),
        )
        return []


class ActionDeleteMyData(AfterIdentificationAction):
    def name(self) -> str:
        return "action_delete_my_data"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return super().events_after_failure(tracker) + reset_events("delete_confirmed")

    async def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if form_ended_early(tracker):
            return []
        if tracker.get_slot("delete_confirmed") is not True:
            say(dispatcher, tracker, "delete_cancelled")
            return []
        customer_id = customer_id_of(tracker)
        assert customer_id is not None
        report = await call(privacy.erase_customer, customer_id, consent_source(tracker))
        log.info("customer erased customer_id=%s already=%s", customer_id, report.already_erased)
        say(dispatcher, tracker, "delete_already" if report.already_erased else "delete_done")
        # The conversation must not keep pointing at the erased customer.
        return [SlotSet(slot, None) for slot in IDENTITY_SLOTS]


def export_summary(data: dict[str, Any], language: str) -> list[tuple[str, int]]:
    """(label, number of records) per non-empty section of an export."""
    rows = []
    for key, labels in EXPORT_SECTIONS.items():
        value = data.get(key)
        if key == "loyalty" and isinstance(value, dict):
            count = len(value.get("ledger") or []) + len(value.get("redemptions") or [])
        elif isinstance(value, list):
            count = len(value)
        else:
            count = 1 if value else 0
        if count:
            rows.append((labels[language], count))
    return rows


class ActionExportMyData(AfterIdentificationAction):
    """A summary in the chat plus the full JSON as a custom payload the channel delivers as a file."""

    def name(self) -> str:
        return "action_export_my_data"

    async def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        assert customer_id is not None
        language = language_of(tracker)
        data = await call(privacy.export_customer_data, customer_id)
        log.info("data export prepared customer_id=%s", customer_id)
        lines = [t("export_header", language)]
        for label, count in export_summary(data, language):
            lines.append(t("export_line", language, label=label, count=count))
        lines.append(t("export_footer", language))
        dispatcher.utter_message(text="\n".join(lines))
        customer = data.get("customer") or {}
        filename = f"memnun-{customer.get('customer_number', 'data')}.json"
        dispatcher.utter_message(json_message={"data_export": {"filename": filename, "data": data}})
        return []
