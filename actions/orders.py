"""Order tracking and return guidance, from the order's real status.

With an order number anyone may see the status (no personal data is shown: status, dates, carrier,
tracking code), as on the shop's tracking page. Without one, the identified customer sees their
recent orders.
"""

from __future__ import annotations

import json
from datetime import date

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import AfterIdentificationAction, button, call, customer_id_of, language_of, say
from actions.formatting import format_date, local_today, order_status_label
from actions.i18n import t
from bot.services import orders
from bot.services.orders import OrderInfo

#: Orders offered as buttons when the customer did not say which one.
RECENT_ORDERS = 3


def complain_button(language: str, order_number: str) -> dict[str, str]:
    """ "Open a complaint" about this order (the form picks the order number up from the payload)."""
    return button(t("button_complain", language), "/complain" + json.dumps({"order_number": order_number}))


def order_text(order: OrderInfo, language: str, today: date | None = None) -> tuple[str, bool]:
    """The order's status as text, and whether it is late (estimated delivery passed, not delivered)."""
    today = today or local_today()
    number = order.number
    date_for = {
        "placed": order.placed_at,
        "shipped": order.shipped_at or order.placed_at,
        "delivered": order.delivered_at or order.placed_at,
    }
    key = f"order_{order.status}"
    fields = {"order": number}
    if order.status in date_for:
        fields["date"] = format_date(date_for[order.status], language)
    lines = [t(key, language, **fields)]
    if order.status in ("shipped", "out_for_delivery") and order.carrier and order.tracking_code:
        lines.append(t("order_tracking", language, carrier=order.carrier, code=order.tracking_code))
    open_statuses = ("placed", "preparing", "shipped", "out_for_delivery")
    late = False
    if order.status in open_statuses and order.estimated_delivery is not None:
        if order.estimated_delivery < today:
            late = True
            lines.append(t("order_late", language))
        elif order.status != "out_for_delivery":
            lines.append(t("order_eta", language, date=format_date(order.estimated_delivery, language)))
    if order.status in ("cancelled", "returned") and order.refund_status in ("pending", "refunded"):
        lines.append(t(f"refund_{order.refund_status}", language))
    return "\n".join(lines), late


def order_buttons(recent: list[OrderInfo], language: str, intent: str) -> list[dict[str, str]]:
    return [
        button(
            f"{o.number} · {order_status_label(o.status, language)}",
            f"/{intent}" + json.dumps({"order_number": o.number}),
        )
        for o in recent
    ]


class ActionTrackOrder(AfterIdentificationAction):
    needs_customer = False

    def name(self) -> str:
        return "action_track_order"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return super().events_after_failure(tracker) + [SlotSet("order_number", None)]

    async def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        customer_id = customer_id_of(tracker)
        number_text = tracker.get_slot("order_number")
        if number_text:
            number = orders.normalize_order_number(str(number_text))
            order = await call(orders.find_order, number) if number else None
            if order is None:
                say(dispatcher, tracker, "order_not_found", order=number or number_text)
                return []
            text, late = order_text(order, language)
            dispatcher.utter_message(text=text, buttons=[complain_button(language, order.number)] if late else [])
            return []
        if customer_id is None:
            return []  # identification did not succeed; identify_form has said why
        recent = await call(orders.recent_orders, customer_id, RECENT_ORDERS)
        if not recent:
            say(dispatcher, tracker, "recent_orders_none")
            return []
        if len(recent) == 1:
            text, late = order_text(recent[0], language)
            dispatcher.utter_message(text=text, buttons=[complain_button(language, recent[0].number)] if late else [])
            return []
        lines = [t("recent_orders_header", language)]
        lines += [
            t(
                "recent_order_line",
                language,
                order=o.number,
                status=order_status_label(o.status, language),
                date=format_date(o.placed_at, language),
            )
            for o in recent
        ]
        lines.append(t("recent_orders_pick", language))
        dispatcher.utter_message(text="\n".join(lines), buttons=order_buttons(recent, language, "track_order"))
        return []


def guidance_text(order: OrderInfo, guidance: orders.ReturnGuidance, language: str) -> str:
    reason = guidance.reason_code
    if reason == "within_window":
        if guidance.days_left == 0:
            return t("return_last_day", language, order=order.number)
        return t("return_within_window", language, order=order.number, days=guidance.days_left)
    if reason == "window_closed":
        return t("return_window_closed", language, order=order.number, window=order.return_window_days)
    if reason == "not_delivered":
        return t("return_not_delivered", language, order=order.number)
    text = t("return_cancelled" if reason == "cancelled" else "return_already_returned", language, order=order.number)
    if guidance.refund_status in ("pending", "refunded"):
        text += " " + t(f"refund_{guidance.refund_status}", language)
    return text


class ActionReturnGuidance(AfterIdentificationAction):
    needs_customer = False

    def name(self) -> str:
        return "action_return_guidance"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return super().events_after_failure(tracker) + [SlotSet("order_number", None)]

    async def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        customer_id = customer_id_of(tracker)
        number_text = tracker.get_slot("order_number")
        if number_text:
            number = orders.normalize_order_number(str(number_text))
            order = await call(orders.find_order, number) if number else None
            if order is None:
                say(dispatcher, tracker, "order_not_found", order=number or number_text)
                return []
            await self._answer(dispatcher, order, language)
            return []
        if customer_id is None:
            return []
        recent = await call(orders.recent_orders, customer_id, RECENT_ORDERS)
        if not recent:
            say(dispatcher, tracker, "recent_orders_none")
            return []
        if len(recent) == 1:
            await self._answer(dispatcher, recent[0], language)
            return []
        say(dispatcher, tracker, "return_pick_order", buttons=order_buttons(recent, language, "refund_return"))
        return []

    async def _answer(self, dispatcher: CollectingDispatcher, order: OrderInfo, language: str) -> None:
        guidance = await call(orders.return_guidance, order)
        buttons = []
        if guidance.reason_code == "window_closed":
            buttons = [complain_button(language, order.number)]
        dispatcher.utter_message(text=guidance_text(order, guidance, language), buttons=buttons)
