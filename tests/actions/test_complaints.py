"""complaint_form, opening tickets, ticket status and the resolved-ticket follow-up."""

from __future__ import annotations

import json
from typing import Any

from actions.complaints import (
    ActionAskComplaintCategory,
    ActionAskComplaintConfirmed,
    ActionAskFollowupResolved,
    ActionOpenTicket,
    ActionTicketFollowupResult,
    ActionTicketStatus,
    ValidateComplaintForm,
    ValidateTicketFollowupForm,
    category_from_text,
)
from bot.services import tickets
from tests.actions.support import Turn, make_tracker, run_action, run_form

FORM = "complaint_form"


def complaint_slots(**overrides: Any) -> dict[str, Any]:
    slots = {
        "complaint_category": "delivery",
        "complaint_order_number": "SP1000001",
        "complaint_description": "Kargom iki gündür aynı şubede bekliyor, kimse bilgi vermiyor.",
        "complaint_confirmed": True,
    }
    slots.update(overrides)
    return slots


def test_typed_categories() -> None:
    assert category_from_text("kargo") == "delivery"
    assert category_from_text("Ürün") == "product"
    assert category_from_text("the app keeps crashing at login") == "website"
    assert category_from_text("Diğer") == "other"
    assert category_from_text("merhaba") is None


async def test_first_message_prefills_topic_order_and_description(seeded_db: str) -> None:
    text = "SP1000001 numaralı siparişim hâlâ gelmedi ve kargo firması telefonlarıma cevap vermiyor"
    turn = Turn(text, "complain", entities={"complaint_category": "delivery", "order_number": "SP1000001"})
    result = await run_form(ValidateComplaintForm(), FORM, turn, activation=True)
    assert result.slot("complaint_category") == "delivery"
    assert result.slot("complaint_order_number") == "SP1000001"
    assert result.slot("complaint_description") == text
    assert result.slot("requested_slot") == "complaint_confirmed"


async def test_short_start_asks_for_the_topic_with_buttons(seeded_db: str) -> None:
    result = await run_form(ValidateComplaintForm(), FORM, Turn("şikayetim var", "complain"), activation=True)
    assert result.slot("requested_slot") == "complaint_category"
    ask = await run_action(ActionAskComplaintCategory(), make_tracker())
    assert ask.buttons[0] == {
        "title": "Teslimat / kargo",
        "payload": "/inform" + json.dumps({"complaint_category": "delivery"}),
    }
    english = await run_action(ActionAskComplaintCategory(), make_tracker(slots={"language": "en"}))
    assert english.buttons[0]["title"] == "Delivery / shipping"


async def test_stale_answers_from_an_abandoned_complaint_are_forgotten(seeded_db: str) -> None:
    stale = complaint_slots()
    result = await run_form(ValidateComplaintForm(), FORM, Turn("şikayet", "complain"), activation=True, slots=stale)
    for slot in ("complaint_category", "complaint_order_number", "complaint_description", "complaint_confirmed"):
        assert result.slot(slot) is None
    assert result.slot("requested_slot") == "complaint_category"


async def test_category_answers(seeded_db: str) -> None:
    form = ValidateComplaintForm()
    button = await run_form(
        form,
        FORM,
        Turn('/inform{"complaint_category":"staff"}', entities={"complaint_category": "staff"}),
        requested="complaint_category",
        candidates={},
    )
    assert button.slot("complaint_category") == "staff"
    # Staff complaints are not about an order: the next question is the description.
    assert button.slot("requested_slot") == "complaint_description"
    unclear = await run_form(form, FORM, Turn("hmm"), requested="complaint_category", candidates={})
    assert unclear.slot("complaint_category") is None
    assert "listede bulamadım" in unclear.text


async def test_order_number_answers(seeded_db: str) -> None:
    form = ValidateComplaintForm()
    slots = {"complaint_category": "delivery"}
    none = await run_form(form, FORM, Turn("yok", "deny"), requested="complaint_order_number", slots=slots)
    assert none.slot("complaint_order_number") == "skipped"
    assert none.slot("form_status") == "<unset>"  # "no" is an answer here, not a cancellation
    missing = await run_form(form, FORM, Turn("SP9999999"), requested="complaint_order_number", slots=slots)
    assert "SP9999999 numaralı bir sipariş bulamadım" in missing.text
    found = await run_form(form, FORM, Turn("sp 1000002"), requested="complaint_order_number", slots=slots)
    assert found.slot("complaint_order_number") == "SP1000002"


async def test_too_short_description_is_asked_again_in_english(seeded_db: str) -> None:
    result = await run_form(
        ValidateComplaintForm(),
        FORM,
        Turn("bad"),
        requested="complaint_description",
        candidates={"complaint_description": "bad"},
        slots={"language": "en", "complaint_category": "product", "complaint_order_number": "skipped"},
    )
    assert "a little more detail" in result.text
    assert result.slot("complaint_description") is None


async def test_confirmation_summary_masks_card_numbers(seeded_db: str) -> None:
    slots = complaint_slots(
        complaint_description="Kartımdan iki kez çekildi, kart no 4111 1111 1111 1111", complaint_confirmed=None
    )
    result = await run_action(ActionAskComplaintConfirmed(), make_tracker(slots=slots))
    assert "4111 1111 1111 1111" not in result.text
    assert "1111" in result.text and "Konu: Teslimat / kargo" in result.text and "Sipariş: SP1000001" in result.text


async def test_confirmed_complaint_opens_one_ticket(demo_customer: dict[str, Any]) -> None:
    tracker = make_tracker(
        Turn("evet", "affirm"), timestamp=1_700_000_200.0, slots={**demo_customer, **complaint_slots()}
    )
    first = await run_action(ActionOpenTicket(), tracker)
    again = await run_action(ActionOpenTicket(), tracker)
    assert "Talep numaranız: T-" in first.text and "24 saat" in first.text
    assert first.text == again.text
    ref = first.text.split("Talep numaranız: ")[1].split()[0]
    ticket = tickets.get_ticket(ref)
    assert ticket is not None and ticket.customer_id == demo_customer["customer_id"]
    assert ticket.order_number == "SP1000001" and ticket.channel == "telegram"
    assert first.slot("complaint_description") is None  # the form starts clean next time


async def test_legal_threat_is_urgent_in_english(seeded_db: str) -> None:
    slots = complaint_slots(
        language="en",
        complaint_order_number="skipped",
        complaint_description="Your product burned my hand, I will contact my lawyer",
    )
    result = await run_action(ActionOpenTicket(), make_tracker(Turn("yes", "affirm"), sender="web-x", slots=slots))
    assert "registered your complaint with high priority" in result.text
    assert "within 2 hours" in result.text


async def test_declined_complaint_is_not_opened(seeded_db: str) -> None:
    result = await run_action(
        ActionOpenTicket(), make_tracker(Turn("hayır", "deny"), slots=complaint_slots(complaint_confirmed=False))
    )
    assert "kaydı açmadım" in result.text


async def test_cancelled_form_stays_silent(seeded_db: str) -> None:
    result = await run_action(ActionOpenTicket(), make_tracker(slots={"form_status": "cancelled"}))
    assert result.messages == []
    assert result.slot("form_status") is None


async def test_ticket_status_by_number_and_latest(demo_customer: dict[str, Any]) -> None:
    latest = tickets.latest_ticket(demo_customer["customer_id"])
    assert latest is not None
    by_number = await run_action(ActionTicketStatus(), make_tracker(sender="web-anon", slots={"ticket_id": latest.ref}))
    assert f"{latest.ref} numaralı talebiniz" in by_number.text
    assert by_number.slot("ticket_id") is None
    mine = await run_action(ActionTicketStatus(), make_tracker(slots={**demo_customer, "language": "en"}))
    assert f"Ticket {latest.ref}:" in mine.text
    unknown = await run_action(ActionTicketStatus(), make_tracker(slots={"ticket_id": "T-2026-999999"}))
    assert "T-2026-999999 numaralı bir talep bulamadım" in unknown.text


async def test_followup_resolved_leads_to_csat(demo_customer: dict[str, Any]) -> None:
    ref = tickets.latest_ticket(demo_customer["customer_id"]).ref  # type: ignore[union-attr]
    ask = await run_action(ActionAskFollowupResolved(), make_tracker(slots={"ticket_id": ref}))
    assert f"{ref} numaralı talebinizle ilgili yazıyorum" in ask.text
    answer = await run_form(
        ValidateTicketFollowupForm(),
        "ticket_followup_form",
        Turn("evet çözüldü", "affirm"),
        requested="followup_resolved",
        slots={"ticket_id": ref},
    )
    assert answer.slot("followup_resolved") is True
    result = await run_action(
        ActionTicketFollowupResult(), make_tracker(slots={"ticket_id": ref, "followup_resolved": True})
    )
    assert result.slot("ticket_resolved") is True
    assert result.sets("ticket_id") is False  # kept for the CSAT answer
    assert "sevindik" in result.text


async def test_followup_not_resolved_reopens_the_ticket(demo_customer: dict[str, Any]) -> None:
    ticket = tickets.latest_ticket(demo_customer["customer_id"])
    assert ticket is not None and ticket.status == "resolved"
    result = await run_action(
        ActionTicketFollowupResult(),
        make_tracker(Turn("hayır", "deny"), slots={"ticket_id": ticket.ref, "followup_resolved": False}),
    )
    assert result.slot("ticket_resolved") is False
    assert f"{ticket.ref} numaralı talebinizi yeniden" in result.text
    assert tickets.get_ticket(ticket.ref).status == "in_progress"  # type: ignore[union-attr]


async def test_followup_on_a_closed_ticket_opens_a_new_one(demo_customer: dict[str, Any]) -> None:
    ticket = tickets.latest_ticket(demo_customer["customer_id"])
    assert ticket is not None
    tickets.change_status(ticket.ref, "closed", "staff")
    result = await run_action(
        ActionTicketFollowupResult(),
        make_tracker(Turn("no", "deny"), slots={"language": "en", "ticket_id": ticket.ref, "followup_resolved": False}),
    )
    assert "I've opened a new ticket" in result.text
    new_ref = result.text.split("again: ")[1].split(".")[0]
    new_ticket = tickets.get_ticket(new_ref)
    assert (
        new_ticket is not None
        and new_ticket.priority == "high"
        and new_ticket.customer_id == demo_customer["customer_id"]
    )


async def test_followup_without_answer_sets_nothing(seeded_db: str) -> None:
    result = await run_action(ActionTicketFollowupResult(), make_tracker(slots={"form_status": "cancelled"}))
    assert result.slot("ticket_resolved") is None
    assert result.messages == []


async def test_open_ticket_when_the_database_is_down(unreachable_db: str) -> None:
    result = await run_action(ActionOpenTicket(), make_tracker(Turn("evet", "affirm"), slots=complaint_slots()))
    assert result.text == "Şu an sistemimize ulaşamıyorum, birazdan tekrar dener misiniz?"


def test_only_a_real_description_is_taken_from_the_first_message() -> None:
    from actions.complaints import describes_problem

    assert not describes_problem("i want to make a complaint")
    assert not describes_problem("Şikayet etmek istiyorum")
    assert not describes_problem("i want to complain about the delivery of my order")
    assert describes_problem("the delivery was late and the box was damaged")
    assert describes_problem("siparişim 5 gündür gelmedi ve kimse cevap vermiyor")
