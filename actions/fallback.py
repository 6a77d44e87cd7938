"""Our versions of Rasa's fallback actions, so the two-stage fallback speaks the customer's language.

Rasa's defaults ask "Did you mean 'check_loyalty'?" in English with intent names. Here: "Şunu mu
demek istediniz: Puan durumumu öğrenmek?" with Yes/No buttons; "Yes" replays the intent (with the
entities of the original message), "No" (/out_of_scope) leads to "could you rephrase?", and the final
fallback offers a person.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import button, human_button, language_of, say
from actions.i18n import t

log = logging.getLogger("actions.fallback")

#: What each intent means, as the customer would say it. Only requests worth confirming are offered:
#: "did you mean: saying hello?" helps nobody, so small talk is left to "could you rephrase?".
INTENT_LABELS: dict[str, dict[str, str]] = {
    "bot_challenge": {"tr": "Bir asistanla mı konuştuğunuzu öğrenmek", "en": "Whether you're talking to a bot"},
    "check_loyalty": {"tr": "Puan durumunuzu öğrenmek", "en": "Checking your points"},
    "ask_rewards": {"tr": "Puanınızla alabileceğiniz ödülleri görmek", "en": "Seeing the rewards for your points"},
    "redeem_reward": {"tr": "Bir ödül kullanmak", "en": "Redeeming a reward"},
    "complain": {"tr": "Şikâyet kaydı açmak", "en": "Making a complaint"},
    "check_ticket_status": {"tr": "Talebinizin durumunu öğrenmek", "en": "Checking a ticket's status"},
    "give_feedback": {"tr": "Görüş veya öneri bildirmek", "en": "Giving feedback"},
    "track_order": {"tr": "Siparişinizi takip etmek", "en": "Tracking your order"},
    "refund_return": {"tr": "İade yapmak", "en": "Returning an item"},
    "store_info": {"tr": "Mağaza bilgisi almak", "en": "Store information"},
    "request_human": {"tr": "Bir temsilciyle görüşmek", "en": "Talking to a person"},
    "opt_out": {"tr": "Mesaj almayı durdurmak", "en": "Stopping our messages"},
    "opt_in": {"tr": "Mesajlara izin vermek", "en": "Allowing our messages"},
    "delete_my_data": {"tr": "Verilerinizi sildirmek", "en": "Deleting your data"},
    "export_my_data": {"tr": "Verilerinizin bir kopyasını almak", "en": "Getting a copy of your data"},
    "change_language": {"tr": "Dili değiştirmek", "en": "Changing the language"},
}

#: FAQ topics: a label, and a question the NLU recognises, sent as the "Yes" payload (a retrieval
#: intent cannot be replayed as "/faq": the response selector only runs on real text).
FAQ_TOPICS: dict[str, dict[str, tuple[str, str]]] = {
    "faq/opening_hours": {
        "tr": ("Çalışma saatlerini öğrenmek", "kaçta açılıyorsunuz"),
        "en": ("Our opening hours", "what are your opening hours"),
    },
    "faq/shipping": {
        "tr": ("Kargo ücreti ve süresi", "kargo ücreti ne kadar"),
        "en": ("Shipping costs and times", "how much is shipping"),
    },
    "faq/returns_policy": {
        "tr": ("İade koşulları", "iade süresi kaç gün"),
        "en": ("Our return policy", "what is your return policy"),
    },
    "faq/loyalty_rules": {
        "tr": ("Memnun Kart nasıl işler", "memnun kart nedir"),
        "en": ("How the Memnun Card works", "how does memnun card work"),
    },
    "faq/payment_options": {
        "tr": ("Ödeme seçenekleri", "hangi ödeme yöntemleri var"),
        "en": ("Payment options", "what payment methods do you accept"),
    },
    "faq/contact": {
        "tr": ("Bize nasıl ulaşabileceğiniz", "müşteri hizmetleri numaranız"),
        "en": ("How to contact us", "how can i contact you"),
    },
}

#: Entities worth carrying into the replayed intent.
REPLAYED_ENTITIES = ("order_number", "ticket_id", "complaint_category", "target_language", "reward_id")


def _candidate(tracker: Tracker) -> tuple[str, str] | None:
    """(label, payload) of the most likely meaning that we can offer, or None."""
    language = language_of(tracker)
    message = tracker.latest_message or {}
    ranking = message.get("intent_ranking") or []
    for item in ranking:
        name = item.get("name")
        if name == "faq":
            key = (((message.get("response_selector") or {}).get("faq") or {}).get("response") or {}).get(
                "intent_response_key"
            )
            if key in FAQ_TOPICS:
                label, question = FAQ_TOPICS[key][language]
                return label, question
            continue
        if name in INTENT_LABELS:
            entities: dict[str, Any] = {}
            for entity in message.get("entities") or []:
                if entity.get("entity") in REPLAYED_ENTITIES and entity.get("value") is not None:
                    entities.setdefault(entity["entity"], str(entity["value"]))
            payload = f"/{name}" + (json.dumps(entities, ensure_ascii=False) if entities else "")
            return INTENT_LABELS[name][language], payload
    return None


class ActionDefaultAskAffirmation(Action):
    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        candidate = _candidate(tracker)
        if candidate is None:
            say(dispatcher, tracker, "ask_rephrase")
            return []
        label, payload = candidate
        dispatcher.utter_message(
            text=t("ask_affirmation", language, label=label),
            buttons=[button(t("button_yes", language), payload), button(t("button_no", language), "/out_of_scope")],
        )
        return []


class ActionDefaultAskRephrase(Action):
    def name(self) -> str:
        return "action_default_ask_rephrase"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(dispatcher, tracker, "ask_rephrase")
        return []


class ActionDefaultFallback(Action):
    """The last resort (two failed attempts, or no confident next action): offer a person."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        log.info("default fallback")
        say(dispatcher, tracker, "default_fallback", buttons=[human_button(language_of(tracker))])
        # As Rasa's own default: forget the message we could not handle, so it does not steer what follows.
        return [UserUtteranceReverted()]
