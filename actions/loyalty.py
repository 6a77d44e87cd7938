"""Loyalty status: tier, balance, the way to the next tier, points about to expire, birthday coupon."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import AfterIdentificationAction, button, call, customer_id_of, first_name_of, language_of, say
from actions.formatting import format_date, format_points, tier_name
from actions.i18n import t
from bot.services import loyalty
from bot.services.errors import InvalidInput


def status_text(status: loyalty.LoyaltyStatus, language: str, first_name: str | None) -> str:
    """The status as one message, one fact per line (reads well on a phone)."""
    lines = [t("loyalty_header", language, name=first_name) if first_name else t("loyalty_header_anonymous", language)]
    lines.append(t("loyalty_tier", language, tier=tier_name(status.tier, language)))
    lines.append(t("loyalty_balance", language, points=format_points(status.balance, language)))
    if status.next_tier and status.points_to_next_tier:
        lines.append(
            t(
                "loyalty_next_tier",
                language,
                tier=tier_name(status.next_tier, language),
                points=format_points(status.points_to_next_tier, language),
            )
        )
    else:
        lines.append(t("loyalty_top_tier", language))
    if status.expiring_points > 0 and status.expiring_on is not None:
        lines.append(
            t(
                "loyalty_expiring",
                language,
                points=format_points(status.expiring_points, language),
                date=format_date(status.expiring_on, language),
            )
        )
    if status.birthday_coupon_code:
        lines.append(t("loyalty_birthday", language, code=status.birthday_coupon_code))
    return "\n".join(lines)


class ActionLoyaltyStatus(AfterIdentificationAction):
    def name(self) -> str:
        return "action_loyalty_status"

    async def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        customer_id = customer_id_of(tracker)
        assert customer_id is not None
        try:
            status = await call(loyalty.get_loyalty_status, customer_id)
        except InvalidInput as error:
            if error.code != "unknown_customer":
                raise
            # Erased or removed since identification.
            say(dispatcher, tracker, "loyalty_no_account")
            return []
        dispatcher.utter_message(
            text=status_text(status, language, first_name_of(tracker)),
            buttons=[button(t("button_rewards", language), "/ask_rewards")],
        )
        return []
