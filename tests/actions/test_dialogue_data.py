"""Consistency of the dialogue data (domain/, data/rules/) with the action server and the text catalogue.

`rasa data validate` checks the Rasa side; these checks cover what it cannot see: that every action
the domain names is served, that every form can ask every question in both languages, that every
form handles the same interruptions, and that every text exists in Turkish and English.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml
from rasa_sdk.executor import ActionExecutor

from actions.forms import INTERRUPTIONS
from actions.i18n import LANGUAGES, MESSAGES, t
from tests.actions.support import DOMAIN, ROOT

FORMS = sorted(DOMAIN["forms"])


@pytest.fixture(scope="module")
def served_actions() -> set[str]:
    executor = ActionExecutor()
    executor.register_package("actions")
    return set(executor.actions)


def rules() -> list[dict]:
    found = []
    for path in sorted((ROOT / "data" / "rules").glob("*.yml")):
        found += yaml.safe_load(path.read_text(encoding="utf-8")).get("rules", [])
    return found


def test_every_domain_action_is_served_and_vice_versa(served_actions: set[str]) -> None:
    assert set(DOMAIN["actions"]) == served_actions


def test_every_form_has_a_validation_action_and_a_question_per_slot(served_actions: set[str]) -> None:
    for form, spec in DOMAIN["forms"].items():
        assert f"validate_{form}" in served_actions
        for slot in spec["required_slots"]:
            assert f"action_ask_{slot}" in served_actions, f"{form}: nobody asks for {slot}"


def test_every_form_handles_every_interruption() -> None:
    handled = {
        (rule["condition"][0]["active_loop"], rule["steps"][0]["intent"])
        for rule in rules()
        if rule.get("condition") and "active_loop" in rule["condition"][0] and "intent" in rule["steps"][0]
    }
    missing = [(form, intent) for form in FORMS for intent in sorted(INTERRUPTIONS) if (form, intent) not in handled]
    assert missing == []


def test_interruptions_match_the_slot_mappings() -> None:
    slots = DOMAIN["slots"]
    assert set(slots["identity_key"]["mappings"][0]["not_intent"]) == INTERRUPTIONS
    free_text = set(slots["complaint_description"]["mappings"][0]["not_intent"])
    assert free_text < INTERRUPTIONS  # free text keeps FAQ-like wording as an answer


def test_every_response_has_turkish_default_and_both_languages() -> None:
    for name, variations in DOMAIN["responses"].items():
        default = [v for v in variations if "condition" not in v]
        by_language = {v["condition"][0]["value"]: v for v in variations if "condition" in v}
        assert len(default) == 1, name
        assert set(by_language) == set(LANGUAGES), name
        assert default[0]["text"] == by_language["tr"]["text"], name
        assert by_language["tr"]["text"] != by_language["en"]["text"], name
        assert len(by_language["tr"].get("buttons", [])) == len(by_language["en"].get("buttons", [])), name


def test_faq_has_an_answer_for_every_retrieval_intent_in_the_nlu_data() -> None:
    keys = set()
    for path in (ROOT / "data" / "nlu").rglob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if str(block.get("intent", "")).startswith("faq/"):
                keys.add(block["intent"])
    assert keys, "no faq/* intents found in data/nlu"
    assert {f"utter_{key}" for key in keys} <= set(DOMAIN["responses"])


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_text_exists_in_both_languages_with_the_same_fields() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), key
        assert _fields(texts["tr"]) == _fields(texts["en"]), key
        assert texts["tr"] != texts["en"] or key in {"reward_button", "recent_order_line", "export_line"}, key


def test_turkish_texts_use_turkish_letters() -> None:
    # A guard against ASCII-folded Turkish ("siparisiniz"): these words must appear correctly spelled.
    joined = " ".join(texts["tr"] for texts in MESSAGES.values())
    for word in ("sipariş", "şikâyet", "teşekkür", "doğrula", "üzgün", "görüş"):
        assert word in joined.lower()
    for wrong in ("siparis", "sikayet", "tesekkur", "dogrula", "uzgun"):
        assert wrong not in joined.lower(), wrong
    assert t("service_unavailable", "tr") == "Şu an sistemimize ulaşamıyorum, birazdan tekrar dener misiniz?"


def test_unknown_language_falls_back_to_turkish() -> None:
    assert t("button_yes", None) == "Evet"
    assert t("button_yes", "de") == "Evet"


def test_session_settings() -> None:
    assert DOMAIN["session_config"] == {"session_expiration_time": 60, "carry_over_slots_to_new_session": True}


def test_test_stories_cover_every_flow_in_both_languages() -> None:
    stories = yaml.safe_load(Path(ROOT / "tests" / "test_stories.yml").read_text(encoding="utf-8"))["stories"]
    covered: dict[str, set[str]] = {}
    for story in stories:
        language = "en" if story["story"].endswith("(en)") else "tr" if story["story"].endswith("(tr)") else None
        assert language, f"story name must end with (tr) or (en): {story['story']}"
        for step in story["steps"]:
            name = step.get("action") or step.get("intent")
            if name:
                covered.setdefault(name, set()).add(language)
    flows = [
        "utter_greet",
        "utter_goodbye",
        "utter_youre_welcome",
        "utter_iamabot",
        "utter_out_of_scope",
        "utter_faq",
        "utter_store_info",
        "action_loyalty_status",
        "action_list_rewards",
        "action_redeem_reward",
        "action_open_ticket",
        "action_ticket_status",
        "action_track_order",
        "action_return_guidance",
        "action_record_feedback",
        "action_record_survey",
        "action_ticket_followup_result",
        "action_send_campaign_message",
        "action_opt_out",
        "action_opt_in",
        "action_delete_my_data",
        "action_export_my_data",
        "action_request_human",
        "action_change_language",
        "action_two_stage_fallback",
        "action_relay_agent_message",
        "action_handover_timeout",
    ]
    missing = {flow: sorted(set(LANGUAGES) - covered.get(flow, set())) for flow in flows}
    assert {flow: langs for flow, langs in missing.items() if langs} == {}
