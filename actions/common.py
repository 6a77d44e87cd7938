"""What every Memnun action needs: who is talking, in which language and channel, how to call the
services safely, and how to answer.

The services are synchronous (SQLAlchemy sessions), so actions call them through
``asyncio.to_thread`` (:func:`call`) and never block the action server's event loop. A database
outage (``ServiceUnavailable``) is answered with one apologetic message; nothing personal ever goes
into the logs (only action names, ids and error types).
"""

from __future__ import annotations

import asyncio
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.i18n import normalize_language, t
from bot.services.errors import InvalidInput, ServiceUnavailable
from bot.services.textnorm import fold, words

log = logging.getLogger("actions")

T = TypeVar("T")

KNOWN_CHANNELS = ("telegram", "web", "rest")

#: Intents (and short words) that mean "yes" / "no" when we asked a yes/no question.
_YES_WORDS = frozenset(
    {
        "evet",
        "evt",
        "olur",
        "tamam",
        "tamamdir",
        "onay",
        "onayla",
        "onayliyorum",
        "aynen",
        "kesinlikle",
        "tabii",
        "tabi",
        "elbette",
        "sil",
        "silin",
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "confirm",
        "correct",
        "please",
    }
)
_NO_WORDS = frozenset(
    {
        "hayir",
        "yok",
        "istemiyorum",
        "vazgec",
        "vazgectim",
        "iptal",
        "olmaz",
        "no",
        "nope",
        "nah",
        "cancel",
        "dont",
    }
)
#: "hmm", "ııı", "eee", "emin değilim", "bilmiyorum": neither yes nor no (matched on folded text).
_HESITATION = re.compile(r"^\s*(h+m+|h+i+m*|i+h*|e+m*|u+m+|a+h*|bilmi?(yorum|m)|emin degil|not sure|dunno)\b")
#: Short messages containing one of these end the current form ("never mind").
_CANCEL_WORDS = frozenset({"iptal", "vazgec", "vazgectim", "bosver", "bosveriyorum", "cancel", "nevermind"})
_CANCEL_PHRASES = ("never mind", "forget it", "bos ver")
_SKIP_WORDS = frozenset(
    {
        "gec",
        "gecelim",
        "gecmek",
        "atla",
        "pas",
        "skip",
        "pass",
        "yok",
        "no",
        "hayir",
        "none",
        "istemiyorum",
    }
)
_SKIP_FILLER = frozenset(
    {
        "lutfen",
        "please",
        "istiyorum",
        "simdilik",
        "bu",
        "soruyu",
        "ben",
        "i",
        "ll",
        "it",
        "thanks",
        "tesekkurler",
        "sagol",
        "comment",
        "yorum",
        "yorumum",
    }
)


# --- who, where, which language ----------------------------------------------------------------------------


def language_of(tracker: Tracker) -> str:
    """The conversation's language ("tr" unless the customer writes English or asked for it)."""
    return normalize_language(tracker.get_slot("language"))


def message_metadata(tracker: Tracker) -> dict[str, Any]:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return metadata if isinstance(metadata, dict) else {}


def channel_of(tracker: Tracker) -> str:
    """telegram / web / rest: from the channel's metadata, else from the sender id convention.

    External events (scheduler triggers) carry no channel metadata, so the sender id is the fallback.
    """
    channel = message_metadata(tracker).get("channel")
    if channel in KNOWN_CHANNELS:
        return str(channel)
    sender = tracker.sender_id or ""
    if sender.startswith("tg-"):
        return "telegram"
    if sender.startswith("web-"):
        return "web"
    return "rest"


def customer_id_of(tracker: Tracker) -> int | None:
    value = tracker.get_slot("customer_id")
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def first_name_of(tracker: Tracker) -> str | None:
    name = tracker.get_slot("customer_first_name")
    return str(name) if name else None


def latest_intent(tracker: Tracker) -> str | None:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name")


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def latest_user_event(tracker: Tracker) -> dict[str, Any] | None:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event
    return None


def idempotency_key(tracker: Tracker) -> str:
    """``<sender>:<timestamp of the user message being answered>``.

    Rasa may call an action again for the same message (a retried HTTP call, a restarted action
    server); the message's timestamp stays the same, so the service recognises the repeat and returns
    the first result instead of writing twice.
    """
    event = latest_user_event(tracker)
    stamp = event.get("timestamp") if event else None
    return f"{tracker.sender_id}:{stamp!r}"[:100]


def entity_values(tracker: Tracker, entity: str) -> list[str]:
    return [str(v) for v in tracker.get_latest_entity_values(entity) if v is not None]


def first_entity(tracker: Tracker, entity: str) -> str | None:
    values = entity_values(tracker, entity)
    return values[0] if values else None


def as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


# --- understanding short answers ----------------------------------------------------------------------------


def yes_or_no(tracker: Tracker, *, strict: bool = False) -> bool | None:
    """True / False for an answer to a yes/no question, None if it is neither.

    Explicit words and the Yes/No buttons decide first ("evet", "hayır", "yes please", "no thanks").
    Otherwise the NLU intent counts, except for hesitations ("hmm", "ıı", "emin değilim"), which the
    model tends to read as agreement. ``strict`` (for irreversible steps such as erasing data or
    spending points) accepts only explicit words and the buttons.
    """
    text = latest_text(tracker).strip()
    if text.startswith("/affirm"):
        return True
    if text.startswith("/deny"):
        return False
    if _HESITATION.match(fold(text)):
        return None
    tokens = words(text)
    if tokens and len(tokens) <= 6:
        has_yes = any(token in _YES_WORDS for token in tokens)
        has_no = any(token in _NO_WORDS for token in tokens)
        if has_yes != has_no:
            return has_yes
    if strict:
        return None
    intent = latest_intent(tracker)
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    return None


def is_cancel_request(tracker: Tracker) -> bool:
    """ "vazgeç", "iptal", "cancel", "never mind" as a short message of its own."""
    text = fold(latest_text(tracker))
    tokens = words(text)
    if not tokens or len(tokens) > 4:
        return False
    return any(token in _CANCEL_WORDS for token in tokens) or any(phrase in text for phrase in _CANCEL_PHRASES)


def is_skip(text: str, intent: str | None) -> bool:
    """ "geç", "skip", "yok", "hayır" (or a deny) as the whole answer to an optional question.

    Only the whole message counts: "çok geç geldi" is a comment, not "geç".
    """
    if intent == "deny":
        return True
    tokens = words(text)
    if not tokens or len(tokens) > 4:
        return False
    return all(token in _SKIP_WORDS or token in _SKIP_FILLER for token in tokens) and any(
        token in _SKIP_WORDS for token in tokens
    )


# --- answering ----------------------------------------------------------------------------------------------


def button(title: str, payload: str) -> dict[str, str]:
    return {"title": title, "payload": payload}


def yes_no_buttons(language: str, yes_key: str = "button_yes", no_key: str = "button_no") -> list[dict[str, str]]:
    return [button(t(yes_key, language), "/affirm"), button(t(no_key, language), "/deny")]


def human_button(language: str) -> dict[str, str]:
    return button(t("button_human", language), "/request_human")


def say(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    key: str,
    *,
    buttons: Iterable[dict[str, str]] | None = None,
    json_message: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Send the catalogue text ``key`` in the conversation's language."""
    text = t(key, language_of(tracker), **fields)
    dispatcher.utter_message(text=text, buttons=list(buttons or []), json_message=json_message)


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a synchronous service function in a worker thread."""
    return await asyncio.to_thread(function, *args, **kwargs)


# --- base class ---------------------------------------------------------------------------------------------


class MemnunAction(Action, ABC):
    """An action whose service failures become a polite answer instead of silence.

    Subclasses implement :meth:`handle`. ``ServiceUnavailable`` -> "please try again shortly";
    ``InvalidInput`` -> :meth:`on_invalid_input` (by default the same apology, since the actions
    validate input before calling services); any other error is logged with its type only and
    answered with a generic apology offering a person.
    """

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]: ...

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        """Events to return when a service failed (e.g. reset slots so the flow does not get stuck)."""
        return []

    def on_invalid_input(
        self, error: InvalidInput, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        log.warning("action %s: invalid input %s", self.name(), error.code)
        say(dispatcher, tracker, "unexpected_error", buttons=[human_button(language_of(tracker))])
        return self.events_after_failure(tracker)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            return await self.handle(dispatcher, tracker, domain)
        except ServiceUnavailable:
            log.warning("action %s: service unavailable", self.name())
            say(dispatcher, tracker, "service_unavailable")
            return self.events_after_failure(tracker)
        except InvalidInput as error:
            return self.on_invalid_input(error, dispatcher, tracker)
        except Exception as error:  # noqa: BLE001 - the customer must get an answer, the log gets the details
            log.error("action %s failed: %s", self.name(), type(error).__name__, exc_info=True)
            say(dispatcher, tracker, "unexpected_error", buttons=[human_button(language_of(tracker))])
            return self.events_after_failure(tracker)


class AfterIdentificationAction(MemnunAction, ABC):
    """An action that continues a request after identify_form (see data/rules/identification.yml).

    It always clears ``pending_request`` (the rules expect that) and the form bookkeeping. When
    identification did not succeed it stays silent: identify_form already said why (locked,
    cancelled, service unavailable). Subclasses that can work without identification (an order or
    ticket number was given) set ``needs_customer = False``.
    """

    needs_customer: bool = True

    @abstractmethod
    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]: ...

    def events_after_failure(self, tracker: Tracker) -> list[EventType]:
        return [SlotSet("pending_request", None), SlotSet("form_status", None), SlotSet("reask_count", 0)]

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        done = self.events_after_failure(tracker)
        if self.needs_customer and customer_id_of(tracker) is None:
            return done
        return await self.respond(dispatcher, tracker, domain) + done
