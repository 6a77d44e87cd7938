"""Identification: who is the customer, before we show or change anything personal.

Two ways in:
- Telegram "share my number": the connector sends ``/share_contact`` with metadata
  ``contact: {phone, user_id, signature}``; the signature (HMAC of sender id + phone, made by the
  connector only for the sender's own contact) must verify, then the phone identifies the customer.
- Facts: phone number or customer number, then date of birth (`identify_form`). Wrong answers count
  per channel identity; the service locks after 3 for 15 minutes. We never say whether a phone
  number belongs to a customer.

For order/ticket questions an order or ticket number is enough and replaces identification.
Personal data never stays in slots: identity_key and birth_date are cleared as soon as they are used.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    MemnunAction,
    call,
    channel_of,
    customer_id_of,
    first_name_of,
    language_of,
    latest_intent,
    latest_text,
    message_metadata,
    say,
)
from actions.formatting import format_time
from actions.forms import MemnunFormValidation
from actions.i18n import t
from bot.services import identity, orders, tickets
from bot.services.identity import IdentifyResult

log = logging.getLogger("actions.identity")

#: Requests an order number can answer without identification.
ORDER_REQUESTS = frozenset({"track_order", "refund_return"})
#: Intents that put the customer in identify_form; mirrors the pending_request slot's values.
PENDING_REQUESTS = frozenset(
    {
        "check_loyalty",
        "ask_rewards",
        "redeem_reward",
        "track_order",
        "refund_return",
        "check_ticket_status",
        "export_my_data",
        "delete_my_data",
        "opt_in",
    }
)
CONTACT_MARKER = "/share_contact"


def identified_events(result: IdentifyResult) -> list[EventType]:
    return [SlotSet("customer_id", result.customer_id), SlotSet("customer_first_name", result.first_name)]


def say_identified(dispatcher: CollectingDispatcher, tracker: Tracker, first_name: str | None) -> None:
    if first_name:
        say(dispatcher, tracker, "identity_ok", name=first_name)
    else:
        say(dispatcher, tracker, "identity_ok_anonymous")


def say_locked(dispatcher: CollectingDispatcher, tracker: Tracker, result: IdentifyResult) -> None:
    until = format_time(result.locked_until) if result.locked_until else "--:--"
    say(dispatcher, tracker, "identity_locked", until=until)


def shared_contact(tracker: Tracker) -> tuple[str, str] | None:
    """(phone, signature) when the latest message is a contact share with both present."""
    is_share = latest_intent(tracker) == "share_contact" or latest_text(tracker).strip().startswith(CONTACT_MARKER)
    contact = message_metadata(tracker).get("contact")
    if not is_share or not isinstance(contact, dict):
        return None
    phone, signature = contact.get("phone"), contact.get("signature")
    if not isinstance(phone, str) or not isinstance(signature, str):
        return None
    return phone, signature


async def identify_with_contact(
    dispatcher: CollectingDispatcher, tracker: Tracker, phone: str, signature: str
) -> tuple[str, IdentifyResult | None]:
    """Verify the signed contact and identify by it; says the outcome. Returns (outcome, result)."""
    if not await call(identity.verify_contact, tracker.sender_id, phone, signature):
        log.warning("contact share with an invalid signature (channel=%s)", channel_of(tracker))
        say(dispatcher, tracker, "contact_unverified")
        return "unverified", None
    result = await call(identity.identify_by_contact, channel_of(tracker), tracker.sender_id, phone)
    if result.status == "ok":
        say_identified(dispatcher, tracker, result.first_name)
    elif result.status == "locked":
        say_locked(dispatcher, tracker, result)
    else:
        say(dispatcher, tracker, "contact_unknown")
    return result.status, result


def asked_this_turn(tracker: Tracker, slot: str) -> bool:
    """Was ``slot`` the question the customer just answered? (Rasa records it before the form runs.)"""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "slot" and event.get("name") == "requested_slot" and event.get("value") == slot:
            return True
    return False


class ValidateIdentifyForm(MemnunFormValidation):
    """identify_form: phone or customer number (or the shared contact), then the date of birth."""

    form_slots = ("identity_key", "birth_date")

    def name(self) -> str:
        return "validate_identify_form"

    async def on_activation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # The slot mapping sets pending_request from the intent; after a two-stage fallback the
        # clarified message is replayed without slot extraction, so set it here as well.
        intent = latest_intent(tracker)
        if intent in PENDING_REQUESTS and tracker.get_slot("pending_request") != intent:
            return [SlotSet("pending_request", intent)]
        return []

    async def form_required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if customer_id_of(tracker) is not None:
            return []
        pending = tracker.get_slot("pending_request")
        if pending in ORDER_REQUESTS and tracker.get_slot("order_number"):
            return []
        if pending == "check_ticket_status" and tracker.get_slot("ticket_id"):
            return []
        return domain_slots

    async def validate_identity_key(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        contact = shared_contact(tracker)
        if contact is not None:
            outcome, result = await identify_with_contact(dispatcher, tracker, *contact)
            if outcome == "ok" and result is not None:
                return self.accept(
                    identity_key=None,
                    birth_date=None,
                    customer_id=result.customer_id,
                    customer_first_name=result.first_name,
                )
            if outcome == "locked":
                return self.end("locked", identity_key=None, birth_date=None)
            return {"identity_key": None}

        pending = tracker.get_slot("pending_request")
        phone = identity.normalize_phone(text)
        customer_number = None if phone else identity.normalize_customer_number(text)
        explicit_customer_number = customer_number is not None and "mn" in text.lower()
        if phone is None and not explicit_customer_number:
            # A number that answers the question itself makes identification unnecessary.
            if pending in ORDER_REQUESTS and (order := orders.normalize_order_number(text)):
                return self.accept(identity_key=None, order_number=order)
            if pending == "check_ticket_status" and (ref := tickets.normalize_ticket_ref(text)):
                return self.accept(identity_key=None, ticket_id=ref)
        key = phone or customer_number
        if key is None:
            return self.reask(dispatcher, tracker, "identity_key", "identity_key_invalid")
        # "0532 123 45 67, 14.03.1988" in one message: identify at once.
        birth_date = identity.parse_birth_date(text)
        if birth_date is not None:
            return await self._identify(dispatcher, tracker, key, birth_date)
        return self.accept(identity_key=key)

    async def validate_birth_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        key = tracker.get_slot("identity_key")
        if not key:
            return {"birth_date": None}
        birth_date = identity.parse_birth_date(str(value or ""))
        if birth_date is None:
            return self.reask(dispatcher, tracker, "birth_date", "birth_date_invalid")
        return await self._identify(dispatcher, tracker, str(key), birth_date)

    async def _identify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, key: str, birth_date: Any
    ) -> dict[str, Any]:
        result = await call(identity.identify_by_facts, channel_of(tracker), tracker.sender_id, key, birth_date)
        if result.status == "ok":
            say_identified(dispatcher, tracker, result.first_name)
            log.info("customer identified by facts (customer_id=%s)", result.customer_id)
            return self.accept(
                identity_key=None,
                birth_date=None,
                customer_id=result.customer_id,
                customer_first_name=result.first_name,
            )
        if result.status == "locked":
            say_locked(dispatcher, tracker, result)
            return self.end("locked", identity_key=None, birth_date=None)
        # mismatch (or unknown): the same answer either way, so nobody can probe our customer list.
        say(dispatcher, tracker, "identity_mismatch", attempts_left=result.attempts_left or 0)
        return {"identity_key": None, "birth_date": None}


class ActionAskIdentityKey(MemnunAction):
    """The first identification question; on Telegram it comes with the "share my number" keyboard."""

    def name(self) -> str:
        return "action_ask_identity_key"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        pending = tracker.get_slot("pending_request")
        if asked_this_turn(tracker, "birth_date"):
            say(dispatcher, tracker, "ask_identity_key_retry")  # the facts did not match: a short re-ask
        elif pending in ORDER_REQUESTS:
            say(dispatcher, tracker, "ask_identity_key_order")
        elif pending == "check_ticket_status":
            say(dispatcher, tracker, "ask_identity_key_ticket")
        elif channel_of(tracker) == "telegram":
            say(dispatcher, tracker, "ask_identity_key_telegram")
        else:
            say(dispatcher, tracker, "ask_identity_key")
        if channel_of(tracker) == "telegram":
            # Rendered by the Telegram connector as a one-time reply keyboard with request_contact=True.
            dispatcher.utter_message(json_message={"request_contact": {"button": t("contact_button", language)}})
        return []


class ActionAskBirthDate(MemnunAction):
    def name(self) -> str:
        return "action_ask_birth_date"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(dispatcher, tracker, "ask_birth_date")
        return []


class ActionIdentifyByContact(MemnunAction):
    """A contact shared outside identify_form (e.g. tapping the button again later)."""

    def name(self) -> str:
        return "action_identify_by_contact"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if customer_id_of(tracker) is not None:
            name = first_name_of(tracker)
            if name:
                say(dispatcher, tracker, "already_identified", name=name)
            else:
                say(dispatcher, tracker, "already_identified_anonymous")
            return []
        contact = shared_contact(tracker)
        if contact is None:
            say(dispatcher, tracker, "contact_unverified")
            return []
        outcome, result = await identify_with_contact(dispatcher, tracker, *contact)
        if outcome == "ok" and result is not None:
            return identified_events(result)
        return []
