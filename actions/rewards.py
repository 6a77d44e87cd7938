"""Rewards: what the customer can afford, and redeeming one with an explicit confirmation.

Redemption is idempotent per confirming message (``<sender>:<message timestamp>``): if Rasa runs the
action twice for the same "yes", the service returns the first coupon instead of spending twice.
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
    as_int,
    button,
    call,
    customer_id_of,
    first_entity,
    idempotency_key,
    language_of,
    say,
    yes_no_buttons,
    yes_or_no,
)
from actions.formatting import format_points
from actions.forms import MemnunFormValidation, answer_to, form_ended_early, reset_events
from actions.i18n import t
from bot.services import loyalty
from bot.services.loyalty import RewardOption
from bot.services.textnorm import fold

log = logging.getLogger("actions.rewards")

MAX_REWARD_BUTTONS = 8


def reward_payload(reward_id: int) -> str:
    return "/redeem_reward" + json.dumps({"reward_id": str(reward_id)})


async def rewards_and_balance(customer_id: int, language: str) -> tuple[list[RewardOption], int]:
    options = await call(loyalty.list_rewards, customer_id, language)
    status = await call(loyalty.get_loyalty_status, customer_id)
    return options, status.balance


def offer_rewards(
    dispatcher: CollectingDispatcher, tracker: Tracker, options: list[RewardOption], balance: int
) -> bool:
    """Show affordable rewards as buttons (and the next goal). False if nothing is affordable."""
    language = language_of(tracker)
    affordable = [o for o in options if o.affordable]
    goal = next((o for o in options if not o.affordable), None)
    if not options:
        say(dispatcher, tracker, "rewards_none")
        return False
    if not affordable:
        assert goal is not None
        say(
            dispatcher,
            tracker,
            "rewards_none_affordable",
            points=format_points(balance, language),
            reward=goal.name,
            missing=format_points(goal.cost - balance, language),
        )
        return False
    text = t("rewards_header", language, points=format_points(balance, language))
    if goal is not None:
        text += "\n" + t(
            "rewards_next_goal", language, reward=goal.name, missing=format_points(goal.cost - balance, language)
        )
    buttons = [
        button(t("reward_button", language, reward=o.name, cost=format_points(o.cost, language)), reward_payload(o.id))
        for o in affordable[:MAX_REWARD_BUTTONS]
    ]
    dispatcher.utter_message(text=text, buttons=buttons)
    return True


class ActionListRewards(AfterIdentificationAction):
    def name(self) -> str:
        return "action_list_rewards"

    async def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        assert customer_id is not None
        options, balance = await rewards_and_balance(customer_id, language_of(tracker))
        offer_rewards(dispatcher, tracker, options, balance)
        return []


def match_reward(options: list[RewardOption], answer: str) -> RewardOption | None:
    """The reward an answer refers to: its id (button), its code, or its name typed by the customer."""
    reward_id = as_int(answer)
    if reward_id is not None:
        return next((o for o in options if o.id == reward_id), None)
    folded = fold(answer).strip()
    if not folded:
        return None
    for option in options:
        if folded in (fold(option.code), fold(option.name)):
            return option
    candidates = [o for o in options if folded in fold(o.name) or fold(o.name) in folded]
    return candidates[0] if len(candidates) == 1 else None


class ValidateRedeemForm(MemnunFormValidation):
    """redeem_form: which reward (usually tapped already), then "are you sure?"."""

    form_slots = ("redeem_confirmed",)
    no_is_answer = frozenset({"redeem_confirmed"})

    def name(self) -> str:
        return "validate_redeem_form"

    async def on_activation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        if customer_id is None or tracker.get_slot("reward_id"):
            return []
        options, balance = await rewards_and_balance(customer_id, language_of(tracker))
        if not any(o.affordable for o in options):
            offer_rewards(dispatcher, tracker, options, balance)  # says why nothing can be redeemed
            return [SlotSet("form_status", "nothing_affordable")]
        return []

    async def form_required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return domain_slots if customer_id_of(tracker) is not None else []

    async def extract_reward_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # A tapped button fills reward_id through its entity; a typed name is matched in validation.
        answer = answer_to(tracker, "reward_id")
        if answer is None or first_entity(tracker, "reward_id"):
            return {}
        return {"reward_id": answer}

    async def validate_reward_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        customer_id = customer_id_of(tracker)
        if customer_id is None:
            return {"reward_id": None}
        language = language_of(tracker)
        options, balance = await rewards_and_balance(customer_id, language)
        option = match_reward(options, str(value or ""))
        if option is None:
            return self.reask(dispatcher, tracker, "reward_id", "reward_unknown")
        if not option.affordable:
            say(
                dispatcher,
                tracker,
                "reward_not_affordable",
                reward=option.name,
                cost=format_points(option.cost, language),
                balance=format_points(balance, language),
                missing=format_points(option.cost - balance, language),
            )
            return self.end("not_affordable", reward_id=None)
        return self.accept(reward_id=str(option.id))

    async def extract_redeem_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = answer_to(tracker, "redeem_confirmed")
        return {} if answer is None else {"redeem_confirmed": answer}

    async def validate_redeem_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = yes_or_no(tracker, strict=True)
        if answer is None:
            return self.reask(dispatcher, tracker, "redeem_confirmed", "yes_no_reask")
        return self.accept(redeem_confirmed=answer)


class ActionAskRewardId(MemnunAction):
    def name(self) -> str:
        return "action_ask_reward_id"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        if customer_id is None:
            return []
        options, balance = await rewards_and_balance(customer_id, language_of(tracker))
        offer_rewards(dispatcher, tracker, options, balance)
        return []


class ActionAskRedeemConfirmed(MemnunAction):
    def name(self) -> str:
        return "action_ask_redeem_confirmed"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        reward_id = as_int(tracker.get_slot("reward_id"))
        if customer_id is None or reward_id is None:
            return []
        language = language_of(tracker)
        options, balance = await rewards_and_balance(customer_id, language)
        option = next((o for o in options if o.id == reward_id), None)
        if option is None:
            say(dispatcher, tracker, "reward_unknown")
            return []
        say(
            dispatcher,
            tracker,
            "ask_redeem_confirmed",
            reward=option.name,
            cost=format_points(option.cost, language),
            balance_after=format_points(balance - option.cost, language),
            buttons=yes_no_buttons(language),
        )
        return []


class ActionRedeemReward(AfterIdentificationAction):
    """After redeem_form: redeem on "yes", otherwise leave the points alone."""

    def name(self) -> str:
        return "action_redeem_reward"

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return super().events_after_failure(tracker) + reset_events("reward_id", "redeem_confirmed")

    async def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if form_ended_early(tracker):
            return []
        reward_id = as_int(tracker.get_slot("reward_id"))
        if tracker.get_slot("redeem_confirmed") is not True or reward_id is None:
            say(dispatcher, tracker, "redeem_cancelled")
            return []
        customer_id = customer_id_of(tracker)
        assert customer_id is not None
        language = language_of(tracker)
        result = await call(loyalty.redeem_reward, customer_id, reward_id, idempotency_key(tracker), language=language)
        log.info("redemption customer_id=%s reward_id=%s status=%s", customer_id, reward_id, result.status)
        balance = format_points(result.new_balance or 0, language)
        if result.status == "ok":
            say(
                dispatcher,
                tracker,
                "redeem_ok",
                reward=result.reward_name or "",
                coupon=result.coupon_code or "",
                balance=balance,
            )
        elif result.status == "insufficient_points":
            say(dispatcher, tracker, "redeem_insufficient", balance=balance)
        elif result.status == "out_of_stock":
            say(
                dispatcher,
                tracker,
                "redeem_out_of_stock",
                buttons=[button(t("button_rewards", language), "/ask_rewards")],
            )
        elif result.status == "expired":
            say(dispatcher, tracker, "redeem_expired", buttons=[button(t("button_rewards", language), "/ask_rewards")])
        else:
            say(dispatcher, tracker, "redeem_unknown")
        return []
