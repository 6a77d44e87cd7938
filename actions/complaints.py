"""Complaints and tickets: opening one (with a confirmation), checking its status, and the follow-up
question the scheduler sends after a ticket was resolved.

Priority is the service's decision (legal threats and safety words make a ticket urgent); the action
only tells the customer the promised response time it gets back.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    AfterIdentificationAction,
    MemnunAction,
    button,
    call,
    channel_of,
    customer_id_of,
    first_entity,
    idempotency_key,
    is_skip,
    language_of,
    latest_intent,
    latest_text,
    say,
    yes_no_buttons,
    yes_or_no,
)
from actions.formatting import category_label, format_date, shorten, ticket_status_label
from actions.forms import SKIPPED, MemnunFormValidation, answer_to, form_ended_early, reset_events
from actions.i18n import t
from bot.services import masking, orders, tickets
from bot.services.errors import InvalidInput
from bot.services.textnorm import fold, words

log = logging.getLogger("actions.complaints")

#: Typed words that point to a category when the customer does not use the buttons (folded forms).
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "delivery": ("kargo", "teslim", "kurye", "gecik", "gelmedi", "delivery", "shipping", "courier", "parcel", "late"),
    "product": (
        "urun",
        "bozuk",
        "kirik",
        "defo",
        "kalite",
        "arizali",
        "product",
        "broken",
        "damaged",
        "faulty",
        "quality",
    ),
    "refund": ("iade", "para", "odeme", "refund", "return", "money", "payment", "charged"),
    "staff": ("personel", "calisan", "kasiyer", "gorevli", "magaza", "staff", "employee", "cashier", "rude", "service"),
    "loyalty": ("puan", "kart", "kupon", "uyelik", "sadakat", "points", "card", "coupon", "loyalty", "membership"),
    "website": ("site", "uygulama", "web", "sifre", "giris", "app", "website", "login", "password"),
    "other": ("diger", "baska", "other", "else"),
}
#: Topics that are not about a particular order, so we do not ask for an order number.
NO_ORDER_CATEGORIES = frozenset({"staff", "loyalty", "website"})
#: Words of a bare "I want to complain" request (folded); what is left over describes the problem.
REQUEST_WORDS = frozenset(
    {
        "sikayet",
        "sikayetim",
        "sikayetimi",
        "sikayette",
        "bulunmak",
        "etmek",
        "istiyorum",
        "var",
        "bir",
        "hakkinda",
        "ile",
        "ilgili",
        "yapmak",
        "olusturmak",
        "acmak",
        "kaydi",
        "kayit",
        "lutfen",
        "merhaba",
        "benim",
        "bu",
        "konuda",
        "i",
        "want",
        "to",
        "would",
        "like",
        "make",
        "file",
        "open",
        "a",
        "an",
        "complaint",
        "complain",
        "about",
        "the",
        "my",
        "have",
        "me",
        "for",
        "please",
        "hello",
        "hi",
        "of",
        "with",
        "regarding",
        "need",
    }
)
#: Content words beyond the request itself before the first message counts as the description
#: ("kargom 5 gündür gelmedi, kimse cevap vermiyor" does; "şikayet etmek istiyorum" does not).
PREFILL_DESCRIPTION_MIN_WORDS = 4
MIN_DESCRIPTION_WORDS = 3


def category_from_text(text: str) -> str | None:
    """The single category a typed answer points to (label, code or keyword), None if unclear."""
    folded = fold(text).strip()
    for code, labels in tickets.COMPLAINT_CATEGORIES.items():
        if folded == code or folded in (fold(labels["tr"]), fold(labels["en"])):
            return code
    tokens = words(text)
    hits = {
        code
        for code, stems in CATEGORY_KEYWORDS.items()
        for token in tokens
        for stem in stems
        if token.startswith(stem)
    }
    return hits.pop() if len(hits) == 1 else None


def describes_problem(text: str) -> bool:
    """Does a complaint request already say what went wrong (not just "I want to complain")?"""
    content = [word for word in words(text) if word not in REQUEST_WORDS]
    return len(content) >= PREFILL_DESCRIPTION_MIN_WORDS


def category_buttons(language: str) -> list[dict[str, str]]:
    return [
        button(labels[language], "/inform" + json.dumps({"complaint_category": code}))
        for code, labels in tickets.COMPLAINT_CATEGORIES.items()
    ]


class ValidateComplaintForm(MemnunFormValidation):
    """complaint_form: topic, order number (if it is about an order), description, confirmation."""

    form_slots = ("complaint_category", "complaint_order_number", "complaint_description", "complaint_confirmed")
    no_is_answer = frozenset({"complaint_order_number", "complaint_confirmed"})
    cancel_message = "complaint_cancelled"

    def name(self) -> str:
        return "validate_complaint_form"

    async def on_activation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # What the customer already said when starting: "SP1234567 numaralı siparişim kırık geldi ...".
        events: list[EventType] = []
        if category := first_entity(tracker, "complaint_category"):
            events.append(SlotSet("complaint_category", category))
        if order := first_entity(tracker, "order_number"):
            events.append(SlotSet("complaint_order_number", order))
        text = latest_text(tracker)
        if latest_intent(tracker) == "complain" and describes_problem(text):
            events.append(SlotSet("complaint_description", text))
        return events

    async def form_required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("complaint_category") in NO_ORDER_CATEGORIES:
            return [slot for slot in domain_slots if slot != "complaint_order_number"]
        return domain_slots

    async def extract_complaint_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = answer_to(tracker, "complaint_category")
        if answer is None:
            return {}
        return {"complaint_category": first_entity(tracker, "complaint_category") or answer}

    async def validate_complaint_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        code = text if text in tickets.COMPLAINT_CATEGORIES else category_from_text(text)
        if code is None:
            return self.reask(dispatcher, tracker, "complaint_category", "complaint_category_invalid")
        return self.accept(complaint_category=code)

    async def extract_complaint_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = answer_to(tracker, "complaint_order_number")
        return {} if answer is None else {"complaint_order_number": answer}

    async def validate_complaint_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if text == SKIPPED:
            return {"complaint_order_number": SKIPPED}
        order_number = orders.normalize_order_number(text)
        if order_number is None:
            if is_skip(text, latest_intent(tracker)) or yes_or_no(tracker) is False:
                return self.accept(complaint_order_number=SKIPPED)
            return self.reask(dispatcher, tracker, "complaint_order_number", "complaint_order_invalid")
        order = await call(orders.find_order, order_number, customer_id_of(tracker))
        if order is None:
            return self.reask(
                dispatcher, tracker, "complaint_order_number", "complaint_order_not_found", order=order_number
            )
        return self.accept(complaint_order_number=order.number)

    async def validate_complaint_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(words(text)) < MIN_DESCRIPTION_WORDS:
            return self.reask(dispatcher, tracker, "complaint_description", "complaint_description_too_short")
        return self.accept(complaint_description=text)

    async def extract_complaint_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = answer_to(tracker, "complaint_confirmed")
        return {} if answer is None else {"complaint_confirmed": answer}

    async def validate_complaint_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = yes_or_no(tracker)
        if answer is None:
            return self.reask(dispatcher, tracker, "complaint_confirmed", "yes_no_reask")
        return self.accept(complaint_confirmed=answer)


class ActionAskComplaintCategory(MemnunAction):
    def name(self) -> str:
        return "action_ask_complaint_category"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(dispatcher, tracker, "ask_complaint_category", buttons=category_buttons(language_of(tracker)))
        return []


class ActionAskComplaintOrderNumber(MemnunAction):
    def name(self) -> str:
        return "action_ask_complaint_order_number"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(
            dispatcher,
            tracker,
            "ask_complaint_order_number",
            buttons=[button(t("button_no_order", language_of(tracker)), "/deny")],
        )
        return []


class ActionAskComplaintDescription(MemnunAction):
    def name(self) -> str:
        return "action_ask_complaint_description"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(dispatcher, tracker, "ask_complaint_description")
        return []


class ActionAskComplaintConfirmed(MemnunAction):
    """Read the complaint back (masked: no card or ID numbers echoed) and ask before opening it."""

    def name(self) -> str:
        return "action_ask_complaint_confirmed"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        order = tracker.get_slot("complaint_order_number")
        description = await call(masking.mask_sensitive, str(tracker.get_slot("complaint_description") or ""))
        say(
            dispatcher,
            tracker,
            "ask_complaint_confirmed",
            category=category_label(tracker.get_slot("complaint_category"), language),
            order=order if order and order != SKIPPED else t("no_order_label", language),
            description=f"“{shorten(description)}”",
            buttons=yes_no_buttons(language),
        )
        return []


class ActionOpenTicket(MemnunAction):
    """After complaint_form: open the ticket on "yes" (idempotent per confirming message)."""

    def name(self) -> str:
        return "action_open_ticket"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return reset_events(*ValidateComplaintForm.form_slots)

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        done = self.events_after_failure(tracker)
        if form_ended_early(tracker):
            return done
        if tracker.get_slot("complaint_confirmed") is not True:
            say(dispatcher, tracker, "complaint_cancelled")
            return done
        language = language_of(tracker)
        order = tracker.get_slot("complaint_order_number")
        ticket = await call(
            tickets.open_ticket,
            customer_id_of(tracker),
            str(tracker.get_slot("complaint_category") or "other"),
            str(tracker.get_slot("complaint_description") or ""),
            order if order and order != SKIPPED else None,
            channel_of(tracker),
            tracker.sender_id,
            language,
            idempotency_key(tracker),
        )
        log.info("ticket opened ref=%s priority=%s", ticket.ref, ticket.priority)
        key = "ticket_opened_urgent" if ticket.priority in ("urgent", "high") else "ticket_opened"
        say(dispatcher, tracker, key, ref=ticket.ref, hours=ticket.expected_response_hours)
        return done


def ticket_status_text(ticket: tickets.TicketInfo, language: str) -> str:
    lines = [
        t(
            "ticket_status",
            language,
            ref=ticket.ref,
            status=ticket_status_label(ticket.status, language),
            category=category_label(ticket.category, language),
            created=format_date(ticket.created_at, language),
        )
    ]
    if ticket.status in ("resolved", "closed") and ticket.resolved_at is not None:
        lines.append(t("ticket_status_resolved_on", language, date=format_date(ticket.resolved_at, language)))
    elif ticket.status == "open" and ticket.first_response_at is None:
        lines.append(t("ticket_status_waiting", language, hours=ticket.expected_response_hours))
    return "\n".join(lines)


class ActionTicketStatus(AfterIdentificationAction):
    """A ticket by its number (anyone who has the number sees its status, nothing personal), or the
    identified customer's latest ticket."""

    needs_customer = False

    def name(self) -> str:
        return "action_ticket_status"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return super().events_after_failure(tracker) + [SlotSet("ticket_id", None)]

    async def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        customer_id = customer_id_of(tracker)
        ref_text = tracker.get_slot("ticket_id")
        if ref_text:
            ticket = await call(tickets.get_ticket, str(ref_text))
            if ticket is not None and customer_id is not None and ticket.customer_id not in (None, customer_id):
                ticket = None  # someone else's ticket: same answer as an unknown number
            if ticket is None:
                ref = tickets.normalize_ticket_ref(str(ref_text)) or str(ref_text)
                say(dispatcher, tracker, "ticket_not_found", ref=ref)
                return []
        elif customer_id is not None:
            ticket = await call(tickets.latest_ticket, customer_id)
            if ticket is None:
                say(dispatcher, tracker, "ticket_none", buttons=[button(t("button_complain", language), "/complain")])
                return []
        else:
            return []  # identification did not succeed; identify_form has said why
        dispatcher.utter_message(text=ticket_status_text(ticket, language))
        return []


# --- follow-up after a resolved ticket (EXTERNAL_ticket_followup) -------------------------------------------

#: Internal note for staff (staff work in Turkish).
FOLLOWUP_NOTE = "Müşteri, takip mesajına sorununun çözülmediğini yanıtladı."


class ValidateTicketFollowupForm(MemnunFormValidation):
    form_slots = ("followup_resolved",)
    no_is_answer = frozenset({"followup_resolved"})

    def name(self) -> str:
        return "validate_ticket_followup_form"

    async def extract_followup_resolved(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = answer_to(tracker, "followup_resolved")
        return {} if answer is None else {"followup_resolved": answer}

    async def validate_followup_resolved(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = yes_or_no(tracker)
        if answer is None:
            return self.reask(dispatcher, tracker, "followup_resolved", "yes_no_reask")
        return self.accept(followup_resolved=answer)


class ActionAskFollowupResolved(MemnunAction):
    def name(self) -> str:
        return "action_ask_followup_resolved"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        ref = tracker.get_slot("ticket_id")
        ref = tickets.normalize_ticket_ref(str(ref)) if ref else None
        if ref:
            say(dispatcher, tracker, "ask_followup_resolved", ref=ref, buttons=yes_no_buttons(language))
        else:
            say(dispatcher, tracker, "ask_followup_resolved_noref", buttons=yes_no_buttons(language))
        return []


class ActionTicketFollowupResult(MemnunAction):
    """Resolved -> thanks (a CSAT question follows by rule); not resolved -> back to the team.

    Sets ``ticket_resolved`` (true / false / null when there was no clear answer) for the rules.
    """

    def name(self) -> str:
        return "action_ticket_followup_result"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return [SlotSet("ticket_resolved", None), *reset_events("followup_resolved", "ticket_id")]

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        answer = tracker.get_slot("followup_resolved")
        if form_ended_early(tracker) or answer not in (True, False):
            return self.events_after_failure(tracker)
        if answer is True:
            say(dispatcher, tracker, "followup_resolved_thanks")
            # ticket_id stays: the CSAT answer that follows is stored against this ticket.
            return [SlotSet("ticket_resolved", True), *reset_events("followup_resolved")]
        await self._hand_back(dispatcher, tracker)
        return [SlotSet("ticket_resolved", False), *reset_events("followup_resolved", "ticket_id")]

    async def _hand_back(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        ref_text = tracker.get_slot("ticket_id")
        ticket = await call(tickets.get_ticket, str(ref_text)) if ref_text else None
        if ticket is not None and ticket.status != "closed":
            try:
                if ticket.status == "resolved":
                    await call(tickets.change_status, ticket.ref, "in_progress", "customer")
                await call(tickets.add_note, ticket.ref, "customer", FOLLOWUP_NOTE, internal=True)
            except InvalidInput as error:
                log.warning("could not reopen ticket ref=%s: %s", ticket.ref, error.code)
            else:
                log.info("ticket reopened after follow-up ref=%s", ticket.ref)
                say(dispatcher, tracker, "followup_reopened", ref=ticket.ref)
                return
        # Closed for good (or unknown): a new ticket so a person looks at it again.
        language = language_of(tracker)
        description = FOLLOWUP_NOTE + (f" Önceki talep: {ticket.ref}." if ticket else "")
        customer_id = customer_id_of(tracker)
        if customer_id is None and ticket is not None:
            customer_id = ticket.customer_id
        new_ticket = await call(
            tickets.open_ticket,
            customer_id,
            ticket.category if ticket else "other",
            description,
            ticket.order_number if ticket else None,
            channel_of(tracker),
            tracker.sender_id,
            language,
            idempotency_key(tracker),
            priority="high",
        )
        log.info("follow-up ticket opened ref=%s", new_ticket.ref)
        say(dispatcher, tracker, "followup_new_ticket", ref=new_ticket.ref, hours=new_ticket.expected_response_hours)
