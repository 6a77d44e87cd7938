"""Consent and privacy, language, people (handover), fallback and session start."""

from __future__ import annotations

from typing import Any

from actions.fallback import ActionDefaultAskAffirmation, ActionDefaultAskRephrase, ActionDefaultFallback
from actions.handover import ActionDeferExternal, ActionHandoverTimeout, ActionRelayAgentMessage, ActionRequestHuman
from actions.language import ActionChangeLanguage, ActionDetectLanguage
from actions.privacy import (
    ActionAskDeleteConfirmed,
    ActionDeleteMyData,
    ActionExportMyData,
    ActionOptIn,
    ActionOptOut,
    ValidateDeleteDataForm,
)
from actions.session import ActionSessionStart
from bot.services import consent, conversations, handover, identity
from tests.actions.support import Turn, make_tracker, run_action, run_form

# --- consent and privacy ------------------------------------------------------------------------------------


async def test_opt_out_works_for_an_unidentified_sender(seeded_db: str) -> None:
    result = await run_action(ActionOptOut(), make_tracker(Turn("DUR", "opt_out"), sender="tg-8008"))
    assert "artık anket ve bilgilendirme mesajı göndermeyeceğiz" in result.text
    assert consent.is_opted_out("telegram", "tg-8008")


async def test_opt_in_records_checkin_consent(demo_customer: dict[str, Any]) -> None:
    await run_action(ActionOptOut(), make_tracker(Turn("stop", "opt_out"), slots=demo_customer))
    assert consent.is_opted_out("telegram", "tg-1001")
    result = await run_action(
        ActionOptIn(), make_tracker(Turn("START", "opt_in"), slots={**demo_customer, "language": "en"})
    )
    assert "I've recorded your consent" in result.text
    assert not consent.is_opted_out("telegram", "tg-1001")
    assert consent.get_consent(demo_customer["customer_id"]).checkin_consent is True
    assert result.slot("pending_request") is None


async def test_delete_is_explained_and_only_a_clear_yes_erases(demo_customer: dict[str, Any]) -> None:
    ask = await run_action(ActionAskDeleteConfirmed(), make_tracker(slots=demo_customer))
    assert "geri alınamaz" in ask.text
    assert [b["payload"] for b in ask.buttons] == ["/affirm", "/deny"]
    unclear = await run_form(
        ValidateDeleteDataForm(),
        "delete_data_form",
        Turn("emin değilim"),
        requested="delete_confirmed",
        slots=demo_customer,
    )
    assert unclear.slot("delete_confirmed") is None
    declined = await run_action(
        ActionDeleteMyData(), make_tracker(Turn("hayır", "deny"), slots={**demo_customer, "delete_confirmed": False})
    )
    assert "verilerinizi silmedim" in declined.text
    assert identity.get_customer_summary(demo_customer["customer_id"]) is not None

    erased = await run_action(
        ActionDeleteMyData(), make_tracker(Turn("evet", "affirm"), slots={**demo_customer, "delete_confirmed": True})
    )
    assert "kişisel verileriniz silindi" in erased.text
    assert erased.slot("customer_id") is None and erased.slot("customer_first_name") is None
    assert identity.get_customer_summary(demo_customer["customer_id"]) is None


async def test_delete_form_asks_nothing_without_identification(seeded_db: str) -> None:
    result = await run_form(
        ValidateDeleteDataForm(),
        "delete_data_form",
        Turn("verilerimi silin", "delete_my_data"),
        activation=True,
        slots={"form_status": "cancelled"},
    )
    assert result.slot("requested_slot") is None


async def test_export_summarises_and_attaches_the_data(demo_customer: dict[str, Any]) -> None:
    result = await run_action(ActionExportMyData(), make_tracker(slots={**demo_customer, "language": "en"}))
    assert result.texts[0].startswith("I've prepared a copy of the data we hold about you.")
    assert "• Orders: " in result.text and "• Membership details: 1" in result.text
    export = result.custom[0]["data_export"]
    assert export["filename"] == "memnun-MN100001.json"
    assert export["data"]["customer"]["customer_number"] == "MN100001"


# --- language -------------------------------------------------------------------------------------------------


async def test_detected_language_fills_the_slot() -> None:
    english = make_tracker(Turn("where is my order", "track_order", extra={"memnun_language": "en"}))
    assert (await run_action(ActionDetectLanguage(), english)).slot("language") == "en"
    unsure = make_tracker(Turn("ok", "affirm"), slots={"language": "en"})
    assert (await run_action(ActionDetectLanguage(), unsure)).events == []


async def test_change_language_by_target_or_toggle(seeded_db: str) -> None:
    target = await run_action(
        ActionChangeLanguage(),
        make_tracker(Turn("ingilizce konuşalım", "change_language", entities={"target_language": "ingilizce"})),
    )
    assert target.slot("language") == "en"
    assert target.text == "Sure, let's continue in English 🇬🇧"
    toggled = await run_action(
        ActionChangeLanguage(), make_tracker(Turn("other language", "change_language"), slots={"language": "en"})
    )
    assert toggled.slot("language") == "tr" and toggled.text == "Tamam, Türkçe devam edelim 🇹🇷"
    assert conversations.get_conversation("tg-1001").language == "tr"  # type: ignore[union-attr]


# --- people ---------------------------------------------------------------------------------------------------


async def test_request_human_queues_one_handover(seeded_db: str) -> None:
    first = await run_action(ActionRequestHuman(), make_tracker(Turn("temsilci", "request_human"), sender="web-h1"))
    assert "temsilcimize aktarıyorum" in first.text
    second = await run_action(ActionRequestHuman(), make_tracker(Turn("temsilci", "request_human"), sender="web-h1"))
    assert "Talebinizi aldım" in second.text
    info = handover.open_handover("web-h1")
    assert info is not None and info.reason == "customer_request" and info.channel == "web"


async def test_request_human_after_a_low_score_records_the_reason(seeded_db: str) -> None:
    events = [{"event": "action", "name": "action_record_survey"}, {"event": "action", "name": "action_listen"}]
    tracker = make_tracker(
        Turn("/request_human", "request_human"), sender="tg-h2", events=events, slots={"language": "en"}
    )
    result = await run_action(ActionRequestHuman(), tracker)
    assert "passing you to a member of our team" in result.text
    assert handover.open_handover("tg-h2").reason == "low_score"  # type: ignore[union-attr]


async def test_request_human_with_the_database_down_gives_the_phone_line(unreachable_db: str) -> None:
    result = await run_action(ActionRequestHuman(), make_tracker(Turn("temsilci", "request_human")))
    assert "0850 000 00 00" in result.text
    assert result.buttons[0]["payload"] == "/complain"


async def test_agent_message_timeout_and_deferral() -> None:
    relayed = await run_action(ActionRelayAgentMessage(), make_tracker(slots={"message_tr": "Merhaba, ben Elif."}))
    assert relayed.text == "Merhaba, ben Elif."
    assert relayed.slot("message_tr") is None
    timeout = await run_action(ActionHandoverTimeout(), make_tracker(slots={"language": "en"}))
    assert "all our team members are busy" in timeout.text
    deferred = await run_action(ActionDeferExternal(), make_tracker(Turn("", "EXTERNAL_csat_checkin")))
    assert deferred.messages == [] and deferred.events == []


# --- fallback -------------------------------------------------------------------------------------------------


async def test_affirmation_offers_the_likely_intent_with_its_entities() -> None:
    turn = Turn(
        "sp1000001 napıyo",
        "nlu_fallback",
        entities={"order_number": "sp1000001"},
        extra={
            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "track_order", "confidence": 0.35}]
        },
    )
    result = await run_action(ActionDefaultAskAffirmation(), make_tracker(turn))
    assert result.text == "Şunu mu demek istediniz: Siparişinizi takip etmek?"
    assert result.buttons == [
        {"title": "Evet", "payload": '/track_order{"order_number": "sp1000001"}'},
        {"title": "Hayır", "payload": "/out_of_scope"},
    ]


async def test_affirmation_for_an_faq_sends_a_real_question() -> None:
    turn = Turn(
        "when r u open",
        "nlu_fallback",
        extra={
            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "faq", "confidence": 0.3}],
            "response_selector": {"faq": {"response": {"intent_response_key": "faq/opening_hours"}}},
        },
    )
    result = await run_action(ActionDefaultAskAffirmation(), make_tracker(turn, slots={"language": "en"}))
    assert result.text == "Did you mean: Our opening hours?"
    assert result.buttons[0]["payload"] == "what are your opening hours"


async def test_rephrase_and_final_fallback() -> None:
    rephrase = await run_action(ActionDefaultAskRephrase(), make_tracker(slots={"language": "en"}))
    assert rephrase.text == "Sorry, I didn't quite get that. Could you put it another way?"
    final = await run_action(ActionDefaultFallback(), make_tracker())
    assert "temsilcimize bağlayabilirim" in final.text
    assert final.buttons == [{"title": "👤 Temsilciye bağlan", "payload": "/request_human"}]
    assert final.events == [{"event": "rewind", "timestamp": None}]


# --- session --------------------------------------------------------------------------------------------------


async def test_session_start_keeps_identity_and_language_but_not_half_done_forms(demo_customer: dict[str, Any]) -> None:
    slots = {
        **demo_customer,
        "language": "en",
        "pending_request": "check_loyalty",
        "complaint_description": "x",
        "session_started_metadata": {"channel": "telegram"},
    }
    tracker = make_tracker(slots=slots)
    result = await run_action(ActionSessionStart(), tracker)
    assert result.events[0]["event"] == "session_started"
    assert (result.events[-1]["event"], result.events[-1]["name"]) == ("action", "action_listen")
    assert result.slot("customer_id") == demo_customer["customer_id"]
    assert result.slot("language") == "en"
    assert not result.sets("pending_request") and not result.sets("complaint_description")
    conversation = conversations.get_conversation("tg-1001")
    assert conversation is not None and conversation.customer_id == demo_customer["customer_id"]


async def test_first_session_uses_the_app_language(seeded_db: str) -> None:
    tracker = make_tracker(
        sender="web-new", slots={"session_started_metadata": {"channel": "web", "language_hint": "en"}}
    )
    tracker.events = []
    result = await run_action(ActionSessionStart(), tracker)
    assert result.slot("language") == "en"
    assert conversations.get_conversation("web-new").channel == "web"  # type: ignore[union-attr]


async def test_session_starts_even_when_the_database_is_down(unreachable_db: str) -> None:
    result = await run_action(ActionSessionStart(), make_tracker())
    assert [e["event"] for e in result.events][0] == "session_started"
    assert result.messages == []


async def test_hesitation_never_erases_data(demo_customer: dict[str, Any]) -> None:
    # The NLU model reads "hmm" as agreement; an irreversible step needs an explicit yes.
    for text in ("hmm", "ııı", "emin değilim", "not sure"):
        result = await run_form(
            ValidateDeleteDataForm(),
            "delete_data_form",
            Turn(text, "affirm"),
            requested="delete_confirmed",
            slots=demo_customer,
        )
        assert result.slot("delete_confirmed") is None, text
    explicit = await run_form(
        ValidateDeleteDataForm(),
        "delete_data_form",
        Turn("evet, silin", "affirm"),
        requested="delete_confirmed",
        slots=demo_customer,
    )
    assert explicit.slot("delete_confirmed") is True
    button = await run_form(
        ValidateDeleteDataForm(),
        "delete_data_form",
        Turn("/deny", "deny"),
        requested="delete_confirmed",
        slots=demo_customer,
    )
    assert button.slot("delete_confirmed") is False
