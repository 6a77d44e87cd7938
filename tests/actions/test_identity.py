"""identify_form and contact sharing, against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from actions.identity import ActionAskIdentityKey, ActionIdentifyByContact, ValidateIdentifyForm
from bot.services import identity
from tests.actions.support import Turn, make_tracker, run_action, run_form

FORM = "identify_form"


async def test_activation_asks_nothing_when_already_identified(demo_customer: dict[str, Any]) -> None:
    result = await run_form(
        ValidateIdentifyForm(),
        FORM,
        Turn("puanım ne kadar", "check_loyalty"),
        activation=True,
        slots={"customer_id": demo_customer["customer_id"], "pending_request": "check_loyalty"},
    )
    assert result.slot("requested_slot") is None
    assert result.messages == []


async def test_activation_sets_the_pending_request_from_the_intent(seeded_db: str) -> None:
    # After a two-stage fallback Rasa replays the clarified intent without running the slot mappings.
    result = await run_form(ValidateIdentifyForm(), FORM, Turn("/ask_rewards", "ask_rewards"), activation=True)
    assert result.slot("pending_request") == "ask_rewards"
    assert result.slot("requested_slot") == "identity_key"


async def test_phone_then_birth_date_identifies_turkish(seeded_db: str, demo_customer: dict[str, Any]) -> None:
    form = ValidateIdentifyForm()
    first = await run_form(
        form,
        FORM,
        Turn("0532 123 45 67"),
        requested="identity_key",
        candidates={"identity_key": "0532 123 45 67"},
        sender="tg-2002",
    )
    assert first.slot("identity_key") == "+905321234567"
    assert first.slot("requested_slot") == "birth_date"

    birth = demo_customer["birth_date"].strftime("%d.%m.%Y")
    second = await run_form(
        form,
        FORM,
        Turn(birth),
        requested="birth_date",
        candidates={"birth_date": birth},
        slots={"identity_key": "+905321234567"},
        sender="tg-2002",
    )
    assert second.slot("customer_id") == demo_customer["customer_id"]
    assert second.slot("customer_first_name") == "Ayşe"
    assert second.slot("identity_key") is None and second.slot("birth_date") is None  # no personal data kept
    assert second.slot("requested_slot") is None
    assert "Teşekkürler Ayşe, doğrulama tamam" in second.text


async def test_customer_number_and_birth_date_in_one_message_english(
    seeded_db: str, demo_customer: dict[str, Any]
) -> None:
    text = f"MN100001, born {demo_customer['birth_date'].strftime('%d/%m/%Y')}"
    result = await run_form(
        ValidateIdentifyForm(),
        FORM,
        Turn(text),
        requested="identity_key",
        candidates={"identity_key": text},
        slots={"language": "en"},
        sender="web-abc",
    )
    assert result.slot("customer_id") == demo_customer["customer_id"]
    assert "Thank you Ayşe, you're verified" in result.text


async def test_wrong_birth_date_counts_down_then_locks(seeded_db: str) -> None:
    form = ValidateIdentifyForm()
    sender = "tg-3003"
    texts = []
    for _ in range(3):
        result = await run_form(
            form,
            FORM,
            Turn("01.01.1970"),
            requested="birth_date",
            candidates={"birth_date": "01.01.1970"},
            slots={"identity_key": "+905321234567"},
            sender=sender,
        )
        texts.append(result.text)
    assert "Kalan deneme hakkınız: 2" in texts[0]
    assert "Kalan deneme hakkınız: 1" in texts[1]
    assert "kilitlendi" in texts[2]
    assert result.slot("form_status") == "locked"
    assert result.slot("requested_slot") is None
    assert result.slot("customer_id") == "<unset>"
    # Still locked with the right answer now.
    locked = identity.identify_by_facts("telegram", sender, "+905321234567", "15.01.1990")
    assert locked.status == "locked"


async def test_unknown_phone_gets_the_same_answer_as_a_wrong_date(seeded_db: str) -> None:
    result = await run_form(
        ValidateIdentifyForm(),
        FORM,
        Turn("14.03.1988"),
        requested="birth_date",
        candidates={"birth_date": "14.03.1988"},
        slots={"identity_key": "+905559998877"},
        sender="tg-4004",
    )
    assert "eşleşmedi" in result.text
    assert result.slot("identity_key") is None


async def test_unreadable_identifier_reasks_then_gives_up(seeded_db: str) -> None:
    form = ValidateIdentifyForm()
    result = await run_form(
        form, FORM, Turn("bilmiyorum"), requested="identity_key", candidates={"identity_key": "bilmiyorum"}
    )
    assert "okuyamadım" in result.text
    assert result.slot("reask_count") == 1
    final = await run_form(
        form,
        FORM,
        Turn("bilmiyorum"),
        requested="identity_key",
        candidates={"identity_key": "bilmiyorum"},
        slots={"reask_count": 3},
    )
    assert final.slot("form_status") == "aborted"
    assert final.slot("requested_slot") is None
    assert any(b["payload"] == "/request_human" for b in final.buttons)


async def test_order_number_is_enough_for_order_questions(seeded_db: str) -> None:
    result = await run_form(
        ValidateIdentifyForm(),
        FORM,
        Turn("SP1000001"),
        requested="identity_key",
        candidates={"identity_key": "SP1000001"},
        slots={"pending_request": "track_order"},
    )
    assert result.slot("order_number") == "SP1000001"
    assert result.slot("requested_slot") is None


async def test_ticket_number_is_enough_for_ticket_status(seeded_db: str) -> None:
    result = await run_form(
        ValidateIdentifyForm(),
        FORM,
        Turn("000001"),
        requested="identity_key",
        candidates={"identity_key": "000001"},
        slots={"pending_request": "check_ticket_status"},
    )
    assert str(result.slot("ticket_id")).endswith("-000001")
    assert result.slot("requested_slot") is None


async def test_no_cancels_identification(seeded_db: str) -> None:
    result = await run_form(
        ValidateIdentifyForm(),
        FORM,
        Turn("vazgeçtim", "deny"),
        requested="identity_key",
        candidates={"identity_key": "vazgeçtim"},
    )
    assert result.slot("form_status") == "cancelled"
    assert result.slot("requested_slot") is None
    assert "iptal ettim" in result.text


async def test_signed_contact_identifies_without_birth_date(seeded_db: str) -> None:
    sender = "tg-5005"
    signature = identity.sign_contact(sender, "+905321234567")
    turn = Turn(
        "/share_contact",
        "share_contact",
        metadata={"contact": {"phone": "+905321234567", "user_id": 5005, "signature": signature}},
    )
    result = await run_form(
        ValidateIdentifyForm(),
        FORM,
        turn,
        requested="identity_key",
        candidates={"identity_key": "/share_contact"},
        sender=sender,
    )
    assert isinstance(result.slot("customer_id"), int)
    assert result.slot("requested_slot") is None


async def test_forged_contact_is_refused(seeded_db: str) -> None:
    turn = Turn(
        "/share_contact",
        "share_contact",
        metadata={"contact": {"phone": "+905321234567", "user_id": 1, "signature": "00" * 32}},
    )
    result = await run_form(
        ValidateIdentifyForm(),
        FORM,
        turn,
        requested="identity_key",
        candidates={"identity_key": "/share_contact"},
        sender="tg-6006",
    )
    assert result.slot("customer_id") == "<unset>"
    assert "doğrulayamadım" in result.text


async def test_unprompted_contact_share_english(seeded_db: str) -> None:
    sender = "tg-7007"
    turn = Turn(
        "/share_contact",
        "share_contact",
        metadata={"contact": {"phone": "+905321234567", "signature": identity.sign_contact(sender, "+905321234567")}},
    )
    result = await run_action(ActionIdentifyByContact(), make_tracker(turn, sender=sender, slots={"language": "en"}))
    assert result.slot("customer_first_name") == "Ayşe"
    assert "you're verified" in result.text


async def test_ask_identity_key_offers_the_contact_button_on_telegram_only(seeded_db: str) -> None:
    telegram = await run_action(ActionAskIdentityKey(), make_tracker(sender="tg-1"))
    assert telegram.custom == [{"request_contact": {"button": "📱 Numaramı paylaş"}}]
    web = await run_action(ActionAskIdentityKey(), make_tracker(sender="web-1", slots={"language": "en"}))
    assert web.custom == []
    assert "registered phone number or your customer number" in web.text
    orders = await run_action(
        ActionAskIdentityKey(), make_tracker(sender="web-1", slots={"pending_request": "track_order"})
    )
    assert "Sipariş numaranızı" in orders.text


async def test_database_outage_ends_the_form_politely(unreachable_db: str) -> None:
    result = await run_form(
        ValidateIdentifyForm(),
        FORM,
        Turn("15.01.1990"),
        requested="birth_date",
        candidates={"birth_date": "15.01.1990"},
        slots={"identity_key": "+905321234567"},
    )
    assert result.text == "Şu an sistemimize ulaşamıyorum, birazdan tekrar dener misiniz?"
    assert result.slot("form_status") == "unavailable"
    assert result.slot("requested_slot") is None


async def test_after_a_mismatch_the_question_is_short() -> None:
    tracker = make_tracker(sender="web-1")
    tracker.events += [
        {"event": "slot", "name": "requested_slot", "value": "birth_date"},
        {"event": "action", "name": "identify_form"},
        {"event": "slot", "name": "requested_slot", "value": "identity_key"},
    ]
    result = await run_action(ActionAskIdentityKey(), tracker)
    assert result.text == "Telefon numaranızı ya da müşteri numaranızı yeniden yazar mısınız?"
