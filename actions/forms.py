"""Shared behaviour of Memnun's form validation actions.

Every form
- starts clean: slots it owns that were left over from an earlier, abandoned run are cleared when it
  starts, except those set by the very message that started it ("kargom gelmedi" prefills the topic);
- can be left: "vazgeç", "iptal", "cancel" or a goodbye ends it politely (``form_status=cancelled``);
- gives up after three unusable answers in a row and offers a person (``form_status=aborted``);
- survives outages: ``ServiceUnavailable`` ends it with an apology (``form_status=unavailable``).

The action that follows a form reads ``form_status`` and stays silent when it is set, because the
reason has already been said.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import human_button, is_cancel_request, language_of, latest_intent, latest_text, say
from bot.services.errors import InvalidInput, ServiceUnavailable

log = logging.getLogger("actions.forms")

FORM_STATUS = "form_status"
REASK_COUNT = "reask_count"

#: Messages that are not answers to a form question (mirrors the `not_intent` lists in domain/slots.yml);
#: forms let them through so the interruption rules in data/rules/interruptions.yml can answer them.
INTERRUPTIONS = frozenset(
    {
        "faq",
        "bot_challenge",
        "store_info",
        "change_language",
        "request_human",
        "opt_out",
        "EXTERNAL_csat_checkin",
        "EXTERNAL_nps_checkin",
        "EXTERNAL_ticket_followup",
        "EXTERNAL_campaign_message",
        "EXTERNAL_agent_message",
        "EXTERNAL_handover_timeout",
    }
)

#: Value stored in optional slots the customer chose to skip (a slot must be non-empty to count as filled).
SKIPPED = "skipped"


def is_form_activation(tracker: Tracker, form: str) -> bool:
    """True while the form is being started by the current turn (not answering one of its questions).

    Rasa adds ``ActiveLoop(form)`` to the tracker when it starts a form; if that happened after the
    latest user message, this run is the activation.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "active_loop" and event.get("name") == form:
            return True
    return False


def slots_set_this_turn(tracker: Tracker, form: str) -> set[str]:
    """Slots given a value since the latest user message, before this form's validation call.

    Rasa appends the candidate slots after an ``ActionExecuted(form)`` marker; those repeat earlier
    values and are excluded.
    """
    events = tracker.events
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    marker = max(
        (i for i, e in enumerate(events) if e.get("event") == "action" and e.get("name") == form),
        default=len(events),
    )
    if marker <= last_user:
        marker = len(events)
    return {
        e["name"] for e in events[last_user + 1 : marker] if e.get("event") == "slot" and e.get("value") is not None
    }


def _apply(tracker: Tracker, events: list[EventType]) -> None:
    """Make our own early SlotSets visible to the rest of this run (validation, required_slots).

    Cleared slots are also dropped from the trailing candidate events, so the SDK does not validate
    (and thereby restore) a stale value.
    """
    cleared = set()
    for event in events:
        if event.get("event") == "slot":
            tracker.slots[event["name"]] = event["value"]
            if event["value"] is None:
                cleared.add(event["name"])
    if not cleared:
        return
    trailing = 0
    for event in reversed(tracker.events):
        if event.get("event") != "slot":
            break
        trailing += 1
    head = tracker.events[: len(tracker.events) - trailing]
    tail = [e for e in tracker.events[len(tracker.events) - trailing :] if e.get("name") not in cleared]
    tracker.events = head + tail


class MemnunFormValidation(FormValidationAction, ABC):
    """Base class: see the module docstring. Subclasses validate with ``validate_<slot>`` as usual."""

    #: Slots this form owns (cleared at the start unless the starting message set them).
    form_slots: ClassVar[tuple[str, ...]] = ()
    #: Requested slots where "no" is a valid answer rather than "stop this".
    no_is_answer: ClassVar[frozenset[str]] = frozenset()
    #: Re-asks before giving up on a question.
    max_reasks: ClassVar[int] = 3
    cancel_message: ClassVar[str] = "form_cancelled"
    abort_message: ClassVar[str] = "form_aborted"

    @abstractmethod
    def name(self) -> str: ...

    # -- hooks -------------------------------------------------------------------------------------------

    async def on_activation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Extra events when the form starts (after the stale slots were cleared)."""
        return []

    async def form_required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """The slots still to ask in this situation (override for conditional questions)."""
        return domain_slots

    # -- helpers for validate_<slot> -----------------------------------------------------------------------

    def accept(self, **slots: Any) -> dict[str, Any]:
        """A usable answer: keep it and reset the re-ask counter."""
        return {**slots, REASK_COUNT: 0}

    def reask(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        slot: str,
        message: str | None,
        **fields: Any,
    ) -> dict[str, Any]:
        """An unusable answer: explain (``message``; None when the ask action gives the hint) and ask
        again, or give up after ``max_reasks`` re-asks."""
        count = int(tracker.get_slot(REASK_COUNT) or 0) + 1
        if count > self.max_reasks:
            log.info("form %s: giving up on %s after %d re-asks", self.form_name(), slot, self.max_reasks)
            self.say_abort(dispatcher, tracker)
            return {slot: None, REASK_COUNT: 0, FORM_STATUS: "aborted"}
        if message is not None:
            say(dispatcher, tracker, message, **fields)
        return {slot: None, REASK_COUNT: count}

    def say_abort(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        say(dispatcher, tracker, self.abort_message, buttons=[human_button(language_of(tracker))])

    def end(self, status: str, **slots: Any) -> dict[str, Any]:
        """End the form early with ``form_status=status`` (the caller has said why)."""
        return {**slots, FORM_STATUS: status, REASK_COUNT: 0}

    # -- plumbing ----------------------------------------------------------------------------------------

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot(FORM_STATUS):
            return []
        return await self.form_required_slots(domain_slots, dispatcher, tracker, domain)

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType | None:
        # Always name the next question (the SDK leaves it to Rasa when the list equals the domain's),
        # so the order of questions is decided in one place: required_slots().
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        return SlotSet(REQUESTED_SLOT, next((slot for slot in required if tracker.slots.get(slot) is None), None))

    def wants_cancel(self, tracker: Tracker) -> bool:
        intent = latest_intent(tracker)
        if intent == "goodbye":
            return True
        if tracker.get_slot(REQUESTED_SLOT) in self.no_is_answer:
            return False
        return intent == "deny" or is_cancel_request(tracker)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        form = self.form_name()
        try:
            early: list[EventType] = []
            if is_form_activation(tracker, form):
                fresh = slots_set_this_turn(tracker, form)
                early = [SlotSet(FORM_STATUS, None), SlotSet(REASK_COUNT, 0)]
                early += [SlotSet(slot, None) for slot in self.form_slots if slot not in fresh]
                _apply(tracker, early)
                extra = await self.on_activation(dispatcher, tracker, domain)
                # Appended as candidates, so prefilled answers go through validate_<slot> like typed ones.
                tracker.add_slots(extra)
                early += extra
            elif tracker.get_slot(REQUESTED_SLOT) and self.wants_cancel(tracker):
                say(dispatcher, tracker, self.cancel_message)
                log.info("form %s cancelled by the customer", form)
                return [SlotSet(FORM_STATUS, "cancelled"), SlotSet(REASK_COUNT, 0), SlotSet(REQUESTED_SLOT, None)]
            return early + await super().run(dispatcher, tracker, domain)
        except ServiceUnavailable:
            log.warning("form %s: service unavailable", form)
            say(dispatcher, tracker, "service_unavailable")
            return [SlotSet(FORM_STATUS, "unavailable"), SlotSet(REQUESTED_SLOT, None)]
        except InvalidInput as error:
            log.warning("form %s: invalid input %s", form, error.code)
            say(dispatcher, tracker, "unexpected_error", buttons=[human_button(language_of(tracker))])
            return [SlotSet(FORM_STATUS, "failed"), SlotSet(REQUESTED_SLOT, None)]
        except Exception as error:  # noqa: BLE001 - answer the customer, log the type only
            log.error("form %s failed: %s", form, type(error).__name__, exc_info=True)
            say(dispatcher, tracker, "unexpected_error", buttons=[human_button(language_of(tracker))])
            return [SlotSet(FORM_STATUS, "failed"), SlotSet(REQUESTED_SLOT, None)]


def answer_to(tracker: Tracker, slot: str) -> str | None:
    """The latest message as the answer to ``slot``, for custom ``extract_<slot>`` methods.

    None when ``slot`` was not the question or the message is an interruption (then nothing is
    extracted and Rasa hands the message to the interruption rules).
    """
    if tracker.get_slot(REQUESTED_SLOT) != slot or latest_intent(tracker) in INTERRUPTIONS:
        return None
    return latest_text(tracker)


def form_ended_early(tracker: Tracker) -> bool:
    """For the action after a form: True if validation ended it (and already told the customer why)."""
    return bool(tracker.get_slot(FORM_STATUS))


def reset_events(*slots: str) -> list[EventType]:
    """SlotSets clearing ``slots`` plus the form bookkeeping, for the action after a form."""
    return [SlotSet(slot, None) for slot in slots] + [SlotSet(FORM_STATUS, None), SlotSet(REASK_COUNT, 0)]
