"""Helpers to run Memnun's custom actions the way Rasa does, against a real migrated database.

Trackers are built as Rasa sends them to the action server: all domain slots, the latest message,
the event list. Form validation actions additionally get what Rasa's FormAction appends before
calling them (``SlotSet(requested_slot)``, ``ActionExecuted(form)`` and the candidate slots), so the
SDK's ``slots_to_validate`` sees exactly what it sees in production.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parents[2]
_clock = itertools.count(1)


def load_domain() -> dict[str, Any]:
    """The merged domain/ directory as the dict Rasa sends to actions (enough for forms)."""
    merged: dict[str, Any] = {"intents": [], "entities": [], "slots": {}, "forms": {}, "responses": {}, "actions": []}
    for path in sorted((ROOT / "domain").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in ("intents", "entities", "actions"):
            merged[key] += data.get(key, []) or []
        for key in ("slots", "forms", "responses"):
            merged[key].update(data.get(key, {}) or {})
        if "session_config" in data:
            merged["session_config"] = data["session_config"]
    return merged


DOMAIN = load_domain()


def initial_slots() -> dict[str, Any]:
    slots = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
    slots.update({"requested_slot": None, "session_started_metadata": None})
    return slots


def user_event(
    text: str, intent: str, entities: list[dict[str, Any]], metadata: dict[str, Any], timestamp: float
) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": timestamp,
        "text": text,
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities},
        "metadata": metadata,
    }


@dataclass
class Turn:
    """One user message in a conversation we build for an action."""

    text: str = ""
    intent: str = "inform"
    entities: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. memnun_language, response_selector


def make_tracker(
    turn: Turn | None = None,
    *,
    sender: str = "tg-1001",
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    latest_action_name: str | None = "action_listen",
    timestamp: float | None = None,
) -> Tracker:
    turn = turn or Turn()
    entities = [{"entity": name, "value": value} for name, value in turn.entities.items()]
    metadata = {"channel": _channel(sender), **turn.metadata}
    stamp = timestamp if timestamp is not None else time.time() + next(_clock) / 1000
    all_slots = initial_slots()
    all_slots.update(slots or {})
    history = list(events or [])
    history.append(user_event(turn.text, turn.intent, entities, metadata, stamp))
    latest_message = {
        "text": turn.text,
        "intent": {"name": turn.intent, "confidence": 1.0},
        "entities": entities,
        "metadata": metadata,
        **turn.extra,
    }
    return Tracker(
        sender_id=sender,
        slots=all_slots,
        latest_message=latest_message,
        events=history,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name=latest_action_name,
    )


def _channel(sender: str) -> str:
    return "telegram" if sender.startswith("tg-") else "web" if sender.startswith("web-") else "rest"


@dataclass
class Result:
    events: list[dict[str, Any]]
    messages: list[dict[str, Any]]

    @property
    def texts(self) -> list[str]:
        return [m.get("text") or "" for m in self.messages if m.get("text")]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def buttons(self) -> list[dict[str, str]]:
        return [b for m in self.messages for b in (m.get("buttons") or [])]

    @property
    def custom(self) -> list[dict[str, Any]]:
        return [m["custom"] for m in self.messages if m.get("custom")]

    def slot(self, name: str, default: Any = "<unset>") -> Any:
        """The last value this run set for ``name`` (``default`` if it did not set it)."""
        value = default
        for event in self.events:
            if event.get("event") == "slot" and event.get("name") == name:
                value = event.get("value")
        return value

    def sets(self, name: str) -> bool:
        return self.slot(name) != "<unset>"


async def run_action(action: Action, tracker: Tracker) -> Result:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return Result(events=list(events), messages=dispatcher.messages)


async def run_form(
    action: Action,
    form: str,
    turn: Turn | None = None,
    *,
    requested: str | None = None,
    candidates: dict[str, Any] | None = None,
    activation: bool = False,
    slots: dict[str, Any] | None = None,
    sender: str = "tg-1001",
    timestamp: float | None = None,
) -> Result:
    """Call a form validation action as Rasa's FormAction does.

    ``activation`` adds the ``ActiveLoop(form)`` event after the user message (the form is starting);
    otherwise the form is running and ``requested`` is the slot it asked for. ``candidates`` are the
    slot values Rasa extracted from the message (from_text/from_entity mappings).
    """
    slots = dict(slots or {})
    slots["requested_slot"] = requested
    tracker = make_tracker(turn, sender=sender, slots=slots, active_loop=form, timestamp=timestamp)
    if activation:
        tracker.events.append({"event": "active_loop", "name": form})
    tracker.events.append({"event": "slot", "name": "requested_slot", "value": requested})
    tracker.events.append({"event": "action", "name": form})
    for name, value in (candidates or {}).items():
        tracker.events.append({"event": "slot", "name": name, "value": value})
        tracker.slots[name] = value
    return await run_action(action, tracker)
