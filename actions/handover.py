"""People: asking for a colleague, relaying agents' messages, and a request nobody picked up in time.

The handover itself (queue, console, pausing the assistant) belongs to bot.services.handover and
the console; the action records the request and tells the customer what happens next.
"""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    MemnunAction,
    button,
    call,
    channel_of,
    customer_id_of,
    language_of,
    latest_intent,
    say,
)
from actions.i18n import t
from bot.services.errors import ServiceUnavailable

log = logging.getLogger("actions.handover")


def handover_reason(tracker: Tracker) -> str:
    """Why the customer wants a person, for the console's queue (from what the assistant did last)."""
    events = tracker.events
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    previous = [e.get("name") for e in events[:last_user] if e.get("event") == "action"]
    previous = [name for name in previous if name not in ("action_listen", None)]
    last = previous[-1] if previous else None
    if last == "action_record_survey":
        return "low_score"
    if last in ("action_default_fallback", "action_two_stage_fallback"):
        return "fallback"
    if tracker.active_loop.get("name") == "complaint_form" or last == "action_open_ticket":
        return "complaint"
    return "customer_request"


def complain_button(language: str) -> dict[str, str]:
    return button(t("button_complain", language), "/complain")


class ActionRequestHuman(MemnunAction):
    def name(self) -> str:
        return "action_request_human"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        try:
            from bot.services import handover
        except ImportError:
            log.error("bot.services.handover is missing: cannot queue a handover")
            say(dispatcher, tracker, "handover_unavailable", buttons=[complain_button(language)])
            return []
        reason = handover_reason(tracker)
        try:
            info = await call(
                handover.request_handover,
                tracker.sender_id,
                reason,
                channel=channel_of(tracker),
                language=language,
                customer_id=customer_id_of(tracker),
            )
        except ServiceUnavailable:
            # Nobody could see the request: give the phone line instead of a promise.
            log.warning("handover request failed: database unavailable")
            say(dispatcher, tracker, "handover_unavailable", buttons=[complain_button(language)])
            return []
        log.info("handover requested id=%s reason=%s created=%s", info.id, reason, info.created)
        say(dispatcher, tracker, "handover_requested" if info.created else "handover_already_requested")
        return []


class ActionRelayAgentMessage(MemnunAction):
    """EXTERNAL_agent_message: a colleague's message from the console, shown as written."""

    def name(self) -> str:
        return "action_relay_agent_message"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        other = "en" if language == "tr" else "tr"
        text = tracker.get_slot(f"message_{language}") or tracker.get_slot(f"message_{other}")
        if text:
            dispatcher.utter_message(text=str(text))
        else:
            log.warning("agent message trigger without text")
        return [SlotSet("message_tr", None), SlotSet("message_en", None)]


class ActionHandoverTimeout(MemnunAction):
    def name(self) -> str:
        return "action_handover_timeout"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(dispatcher, tracker, "handover_timeout", buttons=[complain_button(language_of(tracker))])
        return []


class ActionDeferExternal(MemnunAction):
    """A survey or follow-up trigger that arrived while the customer is in the middle of a form.

    We do not interrupt them; the form asks its question again (rules in interruptions.yml). The
    scheduler should not trigger into conversations with an open form in the first place.
    """

    def name(self) -> str:
        return "action_defer_external"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        log.info("deferred %s: a form is open (outbox_id=%s)", latest_intent(tracker), tracker.get_slot("outbox_id"))
        return []
